"""Numbers and sentences for the paper, computed from the summary tables at render time."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import pandas as pd

from .io import read_table
from .paths import results_dir

T = TypeVar("T")


@dataclass(frozen=True)
class RunSummary:
    config: str
    model: str
    adapter: str
    shifts: pd.DataFrame
    per_seed: pd.DataFrame
    cosines: pd.DataFrame
    indist: pd.DataFrame
    timings: pd.DataFrame

    @classmethod
    def load(cls, config: str, model: str, adapter: str = "lora", root: Path | None = None) -> "RunSummary":
        d = (root or results_dir()) / config / model / adapter / "summary"
        t = {n: read_table(d / f"{n}.csv") for n in ("shifts", "per_seed", "dw_cosines", "indist", "timings")}
        return cls(config, model, adapter, t["shifts"], t["per_seed"], t["dw_cosines"], t["indist"], t["timings"])

    def measure(self, method: str, alpha: float, measure: str = "balanced") -> pd.Series:
        s = self.shifts
        sel = s[(s.method == method) & np.isclose(s.alpha, alpha) & (s.measure == measure)]
        if len(sel) != 1:
            raise KeyError(f"{self.model}: no single row for {method} α={alpha} {measure}")
        return sel.iloc[0]

    def flat_cosine(self, kind: str = "dW") -> float:
        c = self.cosines
        return float(c[(c.kind == kind) & (c.level == "flat")].cosine.mean())

    @property
    def n_seeds(self) -> int:
        return int(self.per_seed.seed.nunique())

    @property
    def n_dilemmas(self) -> int:
        return int(self.measure("dW", self.shifts.alpha.max()).n_dilemmas)


def available(load: Callable[[str], T], models: dict[str, str]) -> dict[str, T]:
    """{label: load(key)} for the models (key -> label) whose tables exist; the others are skipped."""
    out = {}
    for key, label in models.items():
        try:
            out[label] = load(key)
        except FileNotFoundError:
            pass
    return out


def fmt_ci(row: pd.Series, digits: int = 3) -> str:
    return f"{row.estimate:+.{digits}f} [{row.ci_low:+.{digits}f}, {row.ci_high:+.{digits}f}]"


def verdict(run: RunSummary, alpha: float = 1.0) -> str:
    """Plain reading at α: does the trained dW's balanced Δ exclude 0 and separate from the random control?"""
    dw, rnd = run.measure("dW", alpha), run.measure("random", alpha)
    excludes_zero = dw.ci_low > 0 or dw.ci_high < 0
    separated = dw.ci_low > rnd.ci_high or dw.ci_high < rnd.ci_low
    cos_dw, cos_rand = run.flat_cosine("dW"), run.flat_cosine("random")
    if excludes_zero and separated and dw.estimate > 0:
        head = "the trained dW steers toward honesty beyond seed spread and the random control"
    elif excludes_zero and separated:
        head = "the trained dW moves the honesty score, but against the intended direction"
    else:
        head = ("no reproducible steering effect: the seed×dilemma CI of the trained dW "
                + ("includes zero" if not excludes_zero else "overlaps the random control's"))
    return (f"{head} (Δ(α={alpha:g}) = {fmt_ci(dw)} vs random {fmt_ci(rnd)}; "
            f"seed-to-seed cosine of dW {cos_dw:.1e}, of the random controls {cos_rand:.1e})")


def offtarget_sentence(runs: dict[str, RunSummary]) -> str:
    """Where the generic to-do shift on dilemmas without a Truthfulness value has a CI excluding zero: the
    reason the headline balances the two honesty groups. Empty when nowhere."""
    hits = []
    for label, r in runs.items():
        for a in sorted(set(r.shifts.alpha) - {0.0}):
            g = r.measure("dW", a, "offtarget_generic")
            if g.ci_low > 0 or g.ci_high < 0:
                hits.append(f"{label} at α = {a:+g}: {fmt_ci(g)}")
    if not hits:
        return ""
    return ("The trained dW does move the generic tendency to answer Yes (to act) on dilemmas without a "
            "Truthfulness value (" + "; ".join(hits) + "); the balanced measure cancels this shift, which an "
            "unbalanced label average would have read as honesty.")


def timing_table(run: RunSummary) -> pd.DataFrame:
    """Wall seconds per stage: mean over seeds and total over seeds."""
    t = run.timings[~run.timings.cached.astype(bool)]
    return t.groupby("stage").seconds.agg(["mean", "sum"]).rename(columns={"mean": "per seed (s)", "sum": "all seeds (s)"})
