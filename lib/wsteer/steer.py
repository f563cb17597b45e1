"""Apply θ0 + α·dW in place, and restore θ0 bit-exactly.

`WeightPatcher` keeps one copy of W0 for the parameters a sweep touches (held once, never per variant).
`set(delta, α)` writes W = W0 + α·dW from that copy, so the result does not depend on earlier variants;
`restore()` copies W0 back (bit-exact: no subtraction).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterable, Iterator

import torch

from .diff import WeightDelta


class SteeringError(ValueError):
    """A delta that does not fit the model, or an α that makes the weights non-finite."""


class WeightPatcher:
    """Owns W0 copies of `names`; patches `model` in place."""

    def __init__(self, model: torch.nn.Module, names: Iterable[str]):
        params = dict(model.named_parameters())
        names = list(names)
        missing = [n for n in names if n not in params]
        if missing:
            raise SteeringError(f"delta names not in the model: {missing[:5]} ({len(missing)} in all)")
        self.params = {n: params[n] for n in names}
        self.w0 = {n: p.detach().clone() for n, p in self.params.items()}
        self.dirty: set[str] = set()

    @torch.no_grad()
    def set(self, delta: WeightDelta, alpha: float) -> None:
        """W[n] = W0[n] + α·dW[n] for n in delta (from W0, after `restore`); every other patched parameter back to W0."""
        if not math.isfinite(alpha):
            raise SteeringError(f"α must be finite, got {alpha}")
        unknown = [n for n in delta.tensors if n not in self.params]
        if unknown:
            raise SteeringError(f"delta has parameters this patcher does not own: {unknown[:5]}")
        self.restore()
        for n, d in delta.tensors.items():
            p = self.params[n]
            if d.shape != p.shape:
                raise SteeringError(f"{n}: dW shape {tuple(d.shape)} != parameter shape {tuple(p.shape)}")
            p.add_(d.to(device=p.device, dtype=p.dtype), alpha=alpha)
            self.dirty.add(n)
            if not torch.isfinite(p).all():
                self.restore()
                raise SteeringError(f"θ0 + {alpha}·dW is not finite at {n}: α diverges")

    @torch.no_grad()
    def restore(self) -> None:
        for n in self.dirty:
            self.params[n].copy_(self.w0[n])
        self.dirty.clear()

    @contextmanager
    def applied(self, delta: WeightDelta, alpha: float) -> Iterator[None]:
        try:
            self.set(delta, alpha)
            yield
        finally:
            self.restore()


@contextmanager
def steer(model: torch.nn.Module, delta: WeightDelta, alpha: float) -> Iterator[None]:
    """`with steer(model, dW, α): ...` runs with θ0 + α·dW and leaves θ0 bit-exactly, also on exceptions."""
    patcher = WeightPatcher(model, delta.names)
    with patcher.applied(delta, alpha):
        yield
