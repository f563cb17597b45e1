"""The behaviour direction dW = W+ − W−, per weight matrix, from merged weights of any peft tuner.

`WeightDelta.tensors[name]` has the shape of the model parameter `name` (state-dict key), e.g.
`model.layers.3.mlp.up_proj.weight` of shape (d_out, d_in). Computing dW from merged weights (not from
LoRA's A/B factors) makes it the same operation for LoRA, DoRA, OFT, IA3, ...
"""
from __future__ import annotations

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
    """dW[n] = plus[n] − minus[n] for every name in both (the adapted parameters)."""
    if set(plus) != set(minus):
        raise ValueError(f"θ+ and θ− adapted different parameters: {sorted(set(plus) ^ set(minus))[:5]}")
    return WeightDelta({n: (plus[n].float() - minus[n].float()) for n in plus}, dict(meta or {}))


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a.reshape(-1).double(), b.reshape(-1).double()) / (a.double().norm() * b.double().norm()))


def cosine_table(deltas: dict[str, WeightDelta], by: Iterable[str] = ("flat", "family", "tensor")) -> pd.DataFrame:
    """Cosine between every pair of deltas: flattened, per module family (concatenated), and per tensor (mean).

    Rows: a, b, level ('flat' | 'family' | 'tensor_mean'), key (family or 'all'), cosine.
    """
    keys = sorted(deltas)
    rows = []
    for i, ka in enumerate(keys):
        for kb in keys[i + 1:]:
            da, db = deltas[ka], deltas[kb]
            names = sorted(set(da.tensors) & set(db.tensors))
            if "flat" in by:
                rows.append({"a": ka, "b": kb, "level": "flat", "key": "all", "cosine": cosine(da.flat(), db.flat())})
            if "family" in by:
                fams: dict[str, list[str]] = {}
                for n in names:
                    fams.setdefault(module_family(n), []).append(n)
                for fam, ns in sorted(fams.items()):
                    va = torch.cat([da.tensors[n].reshape(-1) for n in ns])
                    vb = torch.cat([db.tensors[n].reshape(-1) for n in ns])
                    rows.append({"a": ka, "b": kb, "level": "family", "key": fam, "cosine": cosine(va, vb)})
            if "tensor" in by:
                cs = [cosine(da.tensors[n], db.tensors[n]) for n in names]
                rows.append({"a": ka, "b": kb, "level": "tensor_mean", "key": "all", "cosine": float(np.mean(cs))})
    return pd.DataFrame(rows)
