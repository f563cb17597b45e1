"""The behaviour direction dW = W+ − W−, per weight matrix, from merged weights of any peft tuner.

`WeightDelta.tensors[name]` has the shape of the model parameter `name` (state-dict key), e.g.
`model.layers.3.mlp.up_proj.weight` of shape (d_out, d_in). Computing dW from merged weights (not from
LoRA's A/B factors) makes it the same operation for LoRA, DoRA, OFT, IA3, ...
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from .io import atomic_path

_LAYER_RE = re.compile(r"\.layers\.(\d+)\.")


def module_family(name: str) -> str:
    """'model.layers.3.self_attn.q_proj.weight' -> 'q_proj'."""
    parts = name.split(".")
    return parts[-2] if parts[-1] in ("weight", "bias") and len(parts) > 1 else parts[-1]


def layer_index(name: str) -> int:
    """Decoder layer of a parameter name, or -1 outside the layer stack."""
    m = _LAYER_RE.search(name)
    return int(m.group(1)) if m else -1


@dataclass
class WeightDelta:
    """A set of per-parameter weight differences; steering adds α·tensors[name] to parameter `name`."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.tensors)

    def flat(self) -> torch.Tensor:
        """All tensors concatenated in name order, shape (Σ numel,), float32."""
        return torch.cat([self.tensors[n].reshape(-1).float() for n in sorted(self.tensors)])

    def content_id(self) -> str:
        """sha256 over (name, shape, float32 bytes) of every tensor, 12 hex digits: equal iff the deltas are identical."""
        h = hashlib.sha256()
        for n in sorted(self.tensors):
            t = self.tensors[n].detach().to(torch.float32).contiguous().cpu()
            h.update(n.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(t.numpy().tobytes())
        return h.hexdigest()[:12]

    def norm(self) -> float:
        return float(torch.sqrt(sum((t.float() ** 2).sum() for t in self.tensors.values())))

    def select(self, keep: Callable[[str], bool]) -> "WeightDelta":
        """Partial dW: only the parameters whose name satisfies `keep` (layers, module families, ...)."""
        return WeightDelta({n: t for n, t in self.tensors.items() if keep(n)}, dict(self.meta, select="partial"))

    def map(self, fn: Callable[[str, torch.Tensor], torch.Tensor], tag: str) -> "WeightDelta":
        """Transform each tensor (e.g. a projection onto singular directions): {n: fn(n, dW[n])}."""
        return WeightDelta({n: fn(n, t) for n, t in self.tensors.items()}, dict(self.meta, transform=tag))

    def random_like(self, seed: int) -> "WeightDelta":
        """Norm-matched random control: R[n] = ‖dW[n]‖_F · G / ‖G‖_F, G ~ N(0, 1) of the same shape, per tensor."""
        gen = torch.Generator().manual_seed(seed)
        out = {}
        for n in sorted(self.tensors):
            t = self.tensors[n]
            g = torch.randn(t.shape, generator=gen, dtype=torch.float32)
            out[n] = (g * (t.float().norm() / g.norm())).to(t.dtype)
        return WeightDelta(out, dict(self.meta, control="random_norm_matched", control_seed=str(seed)))

    def norm_table(self, base: dict[str, torch.Tensor] | None = None) -> pd.DataFrame:
        """One row per parameter: name, layer, family, shape, ‖dW‖_F, and ‖W0‖_F and their ratio if `base` is given."""
        rows = []
        for n, t in self.tensors.items():
            row = {"name": n, "layer": layer_index(n), "family": module_family(n), "shape": "x".join(map(str, t.shape)),
                   "numel": t.numel(), "dw_norm": float(t.float().norm())}
            if base is not None:
                row["w0_norm"] = float(base[n].float().norm())
                row["rel_norm"] = row["dw_norm"] / row["w0_norm"] if row["w0_norm"] > 0 else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp:
            save_file({n: t.contiguous() for n, t in self.tensors.items()}, str(tmp),
                      metadata={"wsteer": json.dumps(self.meta)})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "WeightDelta":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("wsteer", "{}"))
        return cls(load_file(str(path)), meta)


def delta_between(plus: dict[str, torch.Tensor], minus: dict[str, torch.Tensor], meta: dict[str, str] | None = None) -> WeightDelta:
    """dW[n] = plus[n] − minus[n] for every name in both (the adapted parameters); a bias equal on both sides is dropped."""
    if set(plus) != set(minus):
        raise ValueError(f"θ+ and θ− adapted different parameters: {sorted(set(plus) ^ set(minus))[:5]}")
    out = {n: (plus[n].float() - minus[n].float()) for n in plus}
    unchanged_bias = [n for n, d in out.items() if n.endswith(".bias") and not d.any()]
    return WeightDelta({n: d for n, d in out.items() if n not in unchanged_bias}, dict(meta or {}))


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a.reshape(-1).double(), b.reshape(-1).double()) / (a.double().norm() * b.double().norm()))


def layer_band(name: str, n_layers: int, n_bands: int = 3) -> str:
    """'early' / 'middle' / 'late' third of the decoder stack (n_bands = 3), or 'other' outside it."""
    i = layer_index(name)
    if i < 0:
        return "other"
    names = ["early", "middle", "late"] if n_bands == 3 else [f"band{b}" for b in range(n_bands)]
    return names[min(n_bands - 1, i * n_bands // max(1, n_layers))]


def gram_by_tensor(vectors: dict[str, WeightDelta]) -> dict[str, np.ndarray]:
    """Per parameter n shared by all vectors: G_n[i, j] = ⟨v_i[n], v_j[n]⟩ (float64, k × k, in the order of `vectors`).

    One pass over the tensors, each stacked once: the cosines of any grouping (and of averages of vectors) are
    sums of these matrices, so nothing of size Σ numel is ever concatenated or converted to float64 at once."""
    items = list(vectors.values())
    names = sorted(set.intersection(*(set(v.tensors) for v in items))) if items else []
    out = {}
    for n in names:
        m = torch.stack([v.tensors[n].reshape(-1) for v in items]).double()
        out[n] = (m @ m.T).numpy()
    return out


def gram_by_group(vectors: dict[str, WeightDelta], key: Callable[[str], str] = lambda n: "all",
                  per_tensor: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Per group g (parameters grouped by `key`): G_g = Σ_{n ∈ g} G_n. Any linear combination's norms and cosines
    follow from it: ⟨Σ a_i v_i, Σ b_j v_j⟩ = aᵀ G b, so no combination is ever materialised."""
    out: dict[str, np.ndarray] = {}
    for n, g in (per_tensor if per_tensor is not None else gram_by_tensor(vectors)).items():
        out[key(n)] = out.get(key(n), 0) + g
    return dict(sorted(out.items()))


def gram_cosine(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """cos(Σ a_i v_i, Σ b_j v_j) from the Gram matrix g of the v_i."""
    return float(a @ g @ b / np.sqrt((a @ g @ a) * (b @ g @ b)))


def level_groupings(names: Iterable[str]) -> dict[str, Callable[[str], str]]:
    """Parameter name → group, per level: 'flat' (one group, "all"), 'family' (module family: q_proj, ...),
    'band' (third of the layer stack, counted over `names`)."""
    n_layers = 1 + max((layer_index(n) for n in names), default=0)
    return {"flat": lambda n: "all", "family": module_family, "band": lambda n: layer_band(n, n_layers)}


def cosine_table(deltas: dict[str, WeightDelta], levels: Iterable[str] = ("flat", "family", "band", "tensor_mean")) -> pd.DataFrame:
    """Cosine between every pair of deltas, of the concatenated tensors per group.

    level 'flat': all tensors; 'family': per module family (q_proj, ...); 'band': per third of the layer stack;
    'tensor_mean': mean over tensors of the per-tensor cosine. Rows: a, b, level, key, cosine.
    """
    keys = sorted(deltas)
    if not keys:
        return pd.DataFrame(columns=["a", "b", "level", "key", "cosine"])
    per_tensor = gram_by_tensor({k: deltas[k] for k in keys})
    groupings = level_groupings(n for d in deltas.values() for n in d.tensors)
    grams = {lv: gram_by_group({}, groupings[lv], per_tensor) for lv in levels if lv != "tensor_mean"}
    unit = np.eye(len(keys))
    rows = []
    for i, ka in enumerate(keys):
        for j in range(i + 1, len(keys)):
            for level in levels:
                if level == "tensor_mean":
                    cs = [gram_cosine(g, unit[i], unit[j]) for g in per_tensor.values()]
                    rows.append({"a": ka, "b": keys[j], "level": level, "key": "all", "cosine": float(np.mean(cs))})
                    continue
                for g, gram in grams[level].items():
                    rows.append({"a": ka, "b": keys[j], "level": level, "key": g,
                                 "cosine": gram_cosine(gram, unit[i], unit[j])})
    return pd.DataFrame(rows)


def split_average_cosines(deltas: dict[str, WeightDelta], max_splits: int = 10, seed: int = 0) -> pd.DataFrame:
    """cos(mean of k deltas, mean of k other deltas) for k = 1 .. n//2 over random disjoint splits.

    A direction shared across seeds makes this grow with k (the noise averages out); pure noise keeps it ≈ 0.
    Computed from the flat Gram matrix (`gram_by_group`). Rows: k, split, cosine.
    """
    keys = sorted(deltas)
    gram = gram_by_group({k: deltas[k] for k in keys}).get("all") if keys else None
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(1, len(keys) // 2 + 1):
        seen = set()
        for split in range(max_splits):
            perm = rng.permutation(len(keys))
            a, b = tuple(sorted(perm[:k])), tuple(sorted(perm[k:2 * k]))
            if (a, b) in seen or (b, a) in seen:
                continue
            seen.add((a, b))
            wa, wb = np.zeros(len(keys)), np.zeros(len(keys))
            wa[list(a)], wb[list(b)] = 1 / k, 1 / k
            rows.append({"k": k, "split": split, "cosine": gram_cosine(gram, wa, wb)})
    return pd.DataFrame(rows)
