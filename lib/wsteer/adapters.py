"""Adapter parameterisations by name: each entry builds a peft config (adding one is one entry).

All are trained the same way and reduced to dW from merged weights, so they compare on equal terms.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import peft


@dataclass(frozen=True)
class AdapterConfig:
    """Hyper-parameters shared by the registry entries; `extra` goes to the peft config as is."""

    kind: str = "lora"
    rank: int = 8
    alpha: float = 16.0
    target_modules: str | list[str] = "all-linear"
    extra: dict[str, Any] = field(default_factory=dict)


ADAPTERS: dict[str, Callable[[AdapterConfig], peft.PeftConfig]] = {
    "lora": lambda c: peft.LoraConfig(r=c.rank, lora_alpha=c.alpha, target_modules=c.target_modules, lora_dropout=0.0, **c.extra),
    "dora": lambda c: peft.LoraConfig(r=c.rank, lora_alpha=c.alpha, target_modules=c.target_modules, lora_dropout=0.0, use_dora=True, **c.extra),
    "pissa": lambda c: peft.LoraConfig(r=c.rank, lora_alpha=c.alpha, target_modules=c.target_modules, lora_dropout=0.0, init_lora_weights="pissa", **c.extra),
    "delora": lambda c: peft.DeloraConfig(r=c.rank, target_modules=c.target_modules, **c.extra),
    "oft": lambda c: peft.OFTConfig(r=0, oft_block_size=32, target_modules=c.target_modules, **c.extra),
    "ia3": lambda c: peft.IA3Config(target_modules=c.target_modules, feedforward_modules=[], **c.extra),
    "vera": lambda c: peft.VeraConfig(r=max(c.rank, 64), target_modules=c.target_modules, **c.extra),
    "loha": lambda c: peft.LoHaConfig(r=c.rank, alpha=c.alpha, target_modules=c.target_modules, **c.extra),
    "lokr": lambda c: peft.LoKrConfig(r=c.rank, alpha=c.alpha, target_modules=c.target_modules, **c.extra),
}


def peft_config(cfg: AdapterConfig) -> peft.PeftConfig:
    if cfg.kind not in ADAPTERS:
        raise ValueError(f"unknown adapter type {cfg.kind!r}; known: {', '.join(sorted(ADAPTERS))}")
    conf = ADAPTERS[cfg.kind](cfg)
    conf.task_type = "CAUSAL_LM"
    return conf
