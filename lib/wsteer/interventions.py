"""Interventions, all evaluated through one scorer on identical rows.

An intervention has two sides, either of which may be the identity:
    messages(msgs) -> msgs        prompt side (persona prompt, engineered prompt prefix)
    applied(model)  -> context    model side (θ0 + α·dW in place, an activation hook), undone on exit
Weight steering, a partial dW (a `WeightDelta.select` / `.map`), a random control and a prompt baseline
are all `Intervention`s; baselines added later (repeng vectors, SVD steering) implement the same two methods.
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import ContextManager, Iterator, Protocol

import torch

from .diff import WeightDelta
from .steer import WeightPatcher


class Intervention(Protocol):
    name: str
    alpha: float

    def messages(self, msgs: list[dict[str, str]]) -> list[dict[str, str]]: ...

    def applied(self, model: torch.nn.Module) -> ContextManager[None]: ...


@dataclass
class NoIntervention:
    """θ0 with the plain prompt."""

    name: str = "base"
    alpha: float = 0.0

    def messages(self, msgs):
        return msgs

    def applied(self, model):
        return nullcontext()


@dataclass
class WeightSteering:
    """θ0 + α·dW. Pass a shared `patcher` in sweeps so W0 is copied once for all variants."""

    delta: WeightDelta
    alpha: float
    name: str = "dW"
    patcher: WeightPatcher | None = field(default=None, repr=False)

    def messages(self, msgs):
        return msgs

    @contextmanager
    def applied(self, model) -> Iterator[None]:
        patcher = self.patcher or WeightPatcher(model, self.delta.names)
        with patcher.applied(self.delta, self.alpha):
            yield


@dataclass
class SystemPrompt:
    """Prompt baseline: a persona / engineered system prompt (α ∈ {0, 1}: off or on)."""

    text: str
    alpha: float = 1.0
    name: str = "system_prompt"

    def messages(self, msgs):
        if self.alpha == 0:
            return msgs
        rest = [m for m in msgs if m["role"] != "system"]
        return [{"role": "system", "content": self.text}, *rest]

    def applied(self, model):
        return nullcontext()
