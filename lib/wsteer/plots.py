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


def signal_figure(screens: dict[str, dict[str, pd.DataFrame]], order: list[str] | None = None):
    """Per model (rows): (a) flat seed-to-seed cosine of dW per configuration, one dot per seed pair, against
    the norm-matched random controls (grey) — placebo configurations (sides swapped) in red; (b) held-out and
    training persona-gap shift at α = +1, one dot per seed (trained dW) and the random control."""
    fig, axes = plt.subplots(len(screens), 2, figsize=(9, 3.2 * len(screens)), squeeze=False)
    for (model, t), (ax_c, ax_g) in zip(screens.items(), axes):
        cos = t["cosines"].query("level == 'flat'")
        configs = [c for c in (order or []) if c in set(cos.config)] + sorted(set(cos.config) - set(order or []))
        x = {c: i for i, c in enumerate(configs)}
        placebo = cos.groupby("config").placebo.first().astype(bool)
        for kind, dx in (("dW", -0.1), ("random", 0.1)):
            d = cos[cos.kind == kind]
            colors = ["0.5" if kind == "random" else ("C3" if placebo[c] else "C0") for c in d.config]
            ax_c.scatter(d.config.map(x) + dx, d.cosine, c=colors, s=18, zorder=3)
        ax_c.axhline(0, color="k", lw=0.6)
        ax_c.set_xticks(range(len(configs)), configs, rotation=20, fontsize=8)
        ax_c.set_xlim(-0.6, len(configs) - 0.4)
        ax_c.set_ylabel("cos(dW_s, dW_t), flattened")
        ax_c.set_title(f"{model}: seed-to-seed cosine (grey: random; red: placebo)", fontsize=9)
        gap = t["persona_gap"].query("alpha == 1")
        for (method, split), dx, color in ((("dW", "heldout"), -0.15, "C0"), (("dW", "train"), 0.0, "C1"),
                                           (("random", "heldout"), 0.15, "0.5")):
            g = gap[(gap.method == method) & (gap.split == split)]
            ax_g.scatter(g.config.map(x) + dx, g.gap_shift, color=color, s=18, label=f"{method}, {split}", zorder=3)
        ax_g.axhline(0, color="k", lw=0.6)
        ax_g.set_xticks(range(len(configs)), configs, rotation=20, fontsize=8)
        ax_g.set_xlim(-0.6, len(configs) - 0.4)
        ax_g.set_ylabel("persona-gap shift at α = +1")
        ax_g.set_yscale("symlog", linthresh=0.05)
        ax_g.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
