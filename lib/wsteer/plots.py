"""Figures drawn from the summary tables (the paper calls these at render time)."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
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


KNOB_MARKERS = ["s", "^", "D", "v", "P", "X", "<", ">"]


def _scale_positions(summary: pd.DataFrame, order: list[str]) -> dict[str, float]:
    """x per config: its training examples per side, spread ×1.05 apart among configs of the same scale."""
    pos, seen = {}, {}
    scale = summary.set_index("config").examples_per_side
    for c in sorted(summary.config, key=lambda c: order.index(c) if c in order else len(order)):
        x = float(scale[c])
        pos[c] = x * 1.05 ** seen.get(x, 0)
        seen[x] = seen.get(x, 0) + 1
    return pos


def _scale_axis(ax, scales: list[float]) -> None:
    """Log x over the data scales, ticks at the scales themselves (examples per side)."""
    ax.set_xscale("log")
    ax.set_xlim(min(scales) / 1.5, max(scales) * 1.6)
    ax.set_xticks(sorted(set(scales)), [f"{s:.0f}" for s in sorted(set(scales))])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("training examples per side")


def _config_style(summary: pd.DataFrame, is_data_knob) -> dict[str, dict]:
    """Marker, colour, fill and legend label per config.

    Configs that change only the data share blue circles; every other knob gets its own marker and colour; a
    placebo is hollow red, with its real twin's marker when its name is `<twin>-placebo`.
    """
    from .signal_report import short_knob

    styles, k = {}, 0
    for r in summary[~summary.placebo.astype(bool)].itertuples():
        if is_data_knob(r.knob):
            styles[r.config] = {"color": "C0", "marker": "o", "fill": True, "label": "data scale (default, more questions)"}
        else:
            styles[r.config] = {"color": f"C{[2, 4, 5, 6, 8, 9][k % 6]}", "marker": KNOB_MARKERS[k % len(KNOB_MARKERS)],
                                "fill": True, "label": f"{r.config.removeprefix('signal-')}: {short_knob(r.knob)}"}
            k += 1
    for r in summary[summary.placebo.astype(bool)].itertuples():
        twin = styles.get(r.config.removesuffix("-placebo"), {"marker": "o"})
        styles[r.config] = {"color": "C3", "marker": twin["marker"], "fill": False, "label": "placebo twin (hollow, twin's marker)"}
    return styles


def _dots(ax, x, y, st: dict, size: float = 22) -> None:
    """Scatter in a config's style: filled, or hollow for a placebo."""
    face = st["color"] if st["fill"] else "none"
    ax.scatter(x, y, marker=st["marker"], s=size, facecolors=face, edgecolors=st["color"], linewidths=1.0, zorder=3)


def signal_figure(screens: dict[str, dict[str, pd.DataFrame]], summaries: dict[str, pd.DataFrame],
                  dilemmas: dict[str, pd.DataFrame] | None = None, order: list[str] | None = None):
    """Per model (rows), against training examples per side (log x; configs at one scale spread slightly):
    (a) seed-to-seed cosine of the flattened dW, one dot per seed pair: the data-scale series (more questions;
        blue, means joined), other knobs (one marker each), placebo twins (hollow red); grey band: random pairs; red band:
        each placebo's null (its seed pairs and the real × placebo pairs);
    (b) held-out persona-gap shift at α = +1, one dot per seed; grey: the norm-matched random control;
    (c) balanced Daily Dilemmas Δ(+1) with its 95 % CI over seeds and dilemmas (configs with a full run), and the
        norm-matched random control (grey).
    One legend for the figure, below the panels."""
    from .signal import is_data_knob

    order = order or []
    panels_h = 3.3 * len(screens)
    fig, axes = plt.subplots(len(screens), 3, figsize=(12, panels_h), squeeze=False)
    legend: dict[str, object] = {}
    for (model, t), (ax_c, ax_g, ax_d) in zip(screens.items(), axes):
        summ = summaries[model]
        x = _scale_positions(summ, order)
        style = _config_style(summ, is_data_knob)
        cos = t["cosines"].query("level == 'flat'")
        rand = cos[cos.kind == "random"].cosine
        xs = sorted(x.values())
        ax_c.fill_between([xs[0] / 1.5, xs[-1] * 1.6], rand.min(), rand.max(), color="0.5", alpha=0.3, lw=0)
        null_pairs = t["null_pairs"].query("level == 'flat'")
        for r in summ[summ.placebo.astype(bool)].itertuples():
            v = cos[(cos.config == r.config) & (cos.kind == "dW")].cosine
            v = pd.concat([v, null_pairs[null_pairs.placebo_config == r.config].cosine])
            ax_c.fill_between([x[r.config] / 1.02, x[r.config] * 1.02], v.min(), v.max(), color="C3", alpha=0.15, lw=0)
        for c, st in style.items():
            d = cos[(cos.config == c) & (cos.kind == "dW")]
            _dots(ax_c, [x[c]] * len(d), d.cosine, st)
            legend.setdefault(st["label"], Line2D([], [], ls="", marker=st["marker"] if st["fill"] else "o",
                                                  color=st["color"], markerfacecolor=st["color"] if st["fill"] else "none"))
        data = summ[~summ.placebo.astype(bool) & summ.knob.map(is_data_knob)].sort_values("examples_per_side")
        ax_c.plot([x[c] for c in data.config], data.cos_dW_mean, "-", color="C0", lw=1)
        ax_c.axhline(0, color="k", lw=0.6)
        ax_c.set_ylabel("seed-to-seed cos(dW_s, dW_t)")
        ax_c.set_title(model, fontsize=9, loc="left")

        gap = t["persona_gap"].query("alpha == 1 and split == 'heldout'")
        for c, st in style.items():
            g = gap[(gap.config == c) & (gap.method == "dW")]
            _dots(ax_g, [x[c]] * len(g), g.gap_shift, st)
        g = gap[gap.method == "random"]
        ax_g.scatter(g.config.map(x) * 1.02, g.gap_shift, color="0.5", s=8, zorder=2)
        ax_g.axhline(0, color="k", lw=0.6)
        ax_g.set_ylabel("held-out persona-gap shift, α = +1")
        ax_g.set_title("does dW move the trait on new questions?", fontsize=9)

        dd = (dilemmas or {}).get(model, pd.DataFrame())
        for r in dd.itertuples():
            st = style.get(r.config, {"color": "C0", "marker": "o", "fill": True})
            color = "0.5" if r.method == "random" else st["color"]
            xr = x.get(r.config, r.examples_per_side) * (1.02 if r.method == "random" else 1.0)
            ax_d.errorbar([xr], [r.estimate], yerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]], fmt=st["marker"],
                          color=color, mfc=color if st["fill"] else "none", ms=5, capsize=2)
        ax_d.axhline(0, color="k", lw=0.6)
        for ax in (ax_c, ax_g, ax_d):
            _scale_axis(ax, list(summ.examples_per_side.astype(float)))
        ax_d.set_ylabel("balanced Daily Dilemmas Δ(+1)")
        ax_d.set_title("Daily Dilemmas (full runs only)", fontsize=9)
        if dd.empty:
            ax_d.text(0.5, 0.5, "no full run yet", transform=ax_d.transAxes, ha="center", fontsize=8)
    legend["random pairs / random control"] = Patch(color="0.5", alpha=0.5)
    legend["placebo null (its pairs and real × placebo pairs)"] = Patch(color="C3", alpha=0.25)
    legend_h = 0.2 + 0.17 * -(-len(legend) // 3)  # inches below the panels: 3 legend entries per row
    fig.set_size_inches(12, panels_h + legend_h)
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=3, fontsize=7.5, frameon=False)
    fig.tight_layout(rect=(0, legend_h / (panels_h + legend_h), 1, 1))
    return fig
