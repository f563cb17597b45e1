"""Figures drawn from the summary tables (the paper calls these at render time)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

METHOD_STYLE = {"dW": {"color": "C0", "label": "trained dW"}, "random": {"color": "0.5", "label": "random dW (norm-matched)"}}


def delta_curve(shifts: pd.DataFrame, per_seed: pd.DataFrame, ax=None, title: str | None = None):
    """Balanced Δ(α) with its seed×dilemma 95 % CI (band), per-seed curves (thin), both methods."""
    ax = ax or plt.subplots(figsize=(5.5, 3.6))[1]
    bal = shifts[shifts.measure == "balanced"]
    for method, style in METHOD_STYLE.items():
        s = bal[bal.method == method].sort_values("alpha")
        if s.empty:
            continue
        ax.fill_between(s.alpha, s.ci_low, s.ci_high, color=style["color"], alpha=0.2, lw=0)
        ax.plot(s.alpha, s.estimate, "o-", color=style["color"], label=style["label"], lw=2)
        for _, ps in per_seed[per_seed.method == method].groupby("seed"):
            ps = ps.sort_values("alpha")
            ax.plot(ps.alpha, ps.balanced_delta, "-", color=style["color"], lw=0.7, alpha=0.6)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("α (steering strength)")
    ax.set_ylabel("balanced honesty shift Δ(α)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return ax


def pmass_curve(shifts: pd.DataFrame, ax=None):
    """Mean P(Yes) + P(No) against α per method (coherence of the answers)."""
    ax = ax or plt.subplots(figsize=(4, 3))[1]
    pm = shifts[shifts.measure == "pmass"]
    for method, style in METHOD_STYLE.items():
        s = pm[pm.method == method].sort_values("alpha")
        if not s.empty:
            ax.plot(s.alpha, s.estimate, "o-", color=style["color"], label=style["label"])
    ax.set_xlabel("α")
    ax.set_ylabel("pmass = P(Yes) + P(No)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, frameon=False)
    return ax


def steering_figure(summaries: dict[str, tuple[pd.DataFrame, pd.DataFrame]]):
    """One row per model: Δ(α) with CI and per-seed curves | pmass(α)."""
    fig, axes = plt.subplots(len(summaries), 2, figsize=(9, 3.4 * len(summaries)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1]})
    for row, (model, (shifts, per_seed)) in zip(axes, summaries.items()):
        delta_curve(shifts, per_seed, ax=row[0], title=model)
        pmass_curve(shifts, ax=row[1])
    fig.tight_layout()
    return fig
