"""Experiment configuration: one YAML file per named configuration under configs/experiments/.

Sizes (questions, samples, rows, α grid, steps) live here, so a larger run is a config change.
`run_key` hashes everything that determines the trained dW, so cached adapters are reused only when valid.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .paths import REPO_ROOT, configs_dir


@dataclass(frozen=True)
class PersonaCfg:
    file: str = "data/personas/honesty.yaml"
    n_personas: int = 5
    questions_file: str = "data/questions/everyday_questions.csv"
    n_train: int = 32
    n_heldout: int = 8
    n_samples: int = 1
    max_new_tokens: int = 48
    temperature: float = 0.7
    batch_size: int = 32
    shared_draws: bool = True


@dataclass(frozen=True)
class AdapterCfg:
    rank: int = 8
    alpha: float = 16.0
    target_modules: str | list[str] = "all-linear"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainCfg:
    epochs: int = 3
    batch_size: int = 8
    lr: float = 5e-4
    warmup_steps: int = 2
    max_length: int = 192
    placebo: bool = False   # swap the sides of a random half of the (question, persona, sample) pairs: a null dW
    end_truncated_turns: bool = True  # keep end-of-turn after completions cut by max_new_tokens (teaches stopping there)


@dataclass(frozen=True)
class EvalCfg:
    n_per_group: int | None = 64
    n_offtarget: int | None = 32
    row_seed: int = 0
    alphas: tuple[float, ...] = (-2.0, -1.0, 0.0, 1.0, 2.0)
    batch_size: int = 32
    random_control_seed: int = 10_000
    indist_alphas: tuple[float, ...] = (-1.0, 0.0, 1.0)
    indist_train_questions: int = 6   # training questions re-scored in the in-distribution check (all held-out ones are)
    n_boot: int = 2000


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "default"
    models: tuple[str, ...] = ("smollm2-135m",)
    adapters: tuple[str, ...] = ("lora",)
    seeds: tuple[int, ...] = (0, 1, 2)
    personas: PersonaCfg = PersonaCfg()
    adapter: AdapterCfg = AdapterCfg()
    train: TrainCfg = TrainCfg()
    eval: EvalCfg = EvalCfg()

    def run_key(self, model: str, adapter: str) -> str:
        """Hash of what determines a seed's dW: model, adapter, persona settings and the *contents* of the
        persona and question files, training settings. 10 hex digits."""
        blob = json.dumps({"model": model, "adapter": adapter, "personas": asdict(self.personas),
                           "persona_data": self._persona_digests(),
                           "adapter_cfg": asdict(self.adapter), "train": _keyed(self.train)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def gen_key(self, model: str) -> str:
        """Hash of what determines a seed's persona completions: model, persona settings, persona/question files.

        Configurations that differ only in training or evaluation share their completions (see pipeline.generate).
        """
        blob = json.dumps({"model": model, "personas": asdict(self.personas), "persona_data": self._persona_digests()},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def _persona_digests(self) -> list[str]:
        return [_file_digest(self.personas.file), _file_digest(self.personas.questions_file)]

    def eval_key(self, model: str, adapter: str) -> str:
        """run_key plus the evaluation settings (rows, α grid, controls): keys the evaluation tables."""
        blob = json.dumps({"run": self.run_key(model, adapter), "eval": asdict(self.eval)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


# Fields added after results were cached: left out of the hash while at their default, so old keys stay valid.
_LATE_FIELDS = {TrainCfg: {"placebo": False, "end_truncated_turns": True}}


def _keyed(section) -> dict[str, Any]:
    late = _LATE_FIELDS.get(type(section), {})
    return {k: v for k, v in asdict(section).items() if not (k in late and v == late[k])}


def _file_digest(path: str) -> str:
    p = Path(path) if Path(path).is_absolute() else REPO_ROOT / path
    return hashlib.sha256(p.read_bytes()).hexdigest()


_SECTIONS = {"personas": PersonaCfg, "adapter": AdapterCfg, "train": TrainCfg, "eval": EvalCfg}


def _build(cls, raw: dict[str, Any], where: str):
    known = set(cls.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    return cls(**{k: tuple(v) if isinstance(v, list) and k in ("alphas", "indist_alphas", "models", "adapters", "seeds") else v
                  for k, v in raw.items()})


def load_config(name_or_path: str | Path = "default", **overrides: Any) -> ExperimentConfig:
    """Read configs/experiments/<name>.yaml (or a path); `overrides` replace top-level keys (e.g. models=[...]).

    A file with `extends: <name>` starts from that config's resolved keys and overrides them section by section
    (a knob's config states only its knob; a placebo twin only `train.placebo`); lists replace. Keys the whole
    chain leaves unset take the dataclass defaults.
    """
    chain = _config_chain(name_or_path)
    raw: dict[str, Any] = {}
    for _, body in reversed(chain):  # root first
        for key, value in body.items():
            merge = key in _SECTIONS and isinstance(raw.get(key), dict) and isinstance(value, dict)
            raw[key] = {**raw[key], **value} if merge else value
    raw.pop("extends", None)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    path = chain[0][0]
    sections = {k: _build(cls, raw.pop(k, {}) or {}, f"{path}:{k}") for k, cls in _SECTIONS.items()}
    top = _build(ExperimentConfig, raw, str(path))
    return ExperimentConfig(**{**{k: getattr(top, k) for k in ("name", "models", "adapters", "seeds")}, **sections})


def config_files(name_or_path: str | Path) -> list[Path]:
    """The config's file and every file it `extends`, child first: what a run of it depends on. A parent is
    looked up beside its child first, then by name in configs/experiments/."""
    return [path for path, _ in _config_chain(name_or_path)]


def _config_chain(name_or_path: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """(file, its keys) for the config and every config it `extends`, child first; each file read once."""
    path = _config_path(name_or_path)
    chain = [(path, _read_yaml(path))]
    while (parent := chain[-1][1].get("extends")) is not None:
        child = chain[-1][0]
        if "name" not in chain[-1][1]:
            raise ValueError(f"{child}: a config that extends {parent!r} needs its own `name` "
                             "(results are filed under it)")
        sibling = child.parent / f"{parent}.yaml"
        try:
            path = sibling if sibling.exists() else _config_path(parent)
        except FileNotFoundError as err:
            raise FileNotFoundError(f"{child}: extends {parent!r}, which does not exist ({err})") from None
        if path.resolve() in {p.resolve() for p, _ in chain}:
            raise ValueError(f"config extends itself: {' -> '.join(p.name for p, _ in chain)} -> {path.name}")
        chain.append((path, _read_yaml(path)))
    return chain


def parent_name(name_or_path: str | Path) -> str | None:
    """The name the config `extends`, or None."""
    return _read_yaml(_config_path(name_or_path)).get("extends")


def _config_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if not path.suffix:
        path = configs_dir() / "experiments" / f"{name_or_path}.yaml"
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path
    if not path.exists():
        raise FileNotFoundError(f"no experiment config {path}")
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a config is a mapping of keys, got {type(raw).__name__}")
    return raw
