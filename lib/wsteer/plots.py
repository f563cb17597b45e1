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


KNOB_MARKERS = ["s", "^", "D", "v", "P", "X", "<", ">"]


def _scale_positions(summary: pd.DataFrame, order: list[str]) -> dict[str, float]:
    """x per config: its training examples per side, spread ×1.08 apart among configs of the same scale."""
    pos, seen = {}, {}
    for c in sorted(summary.config, key=lambda c: order.index(c) if c in order else len(order)):
        x = float(summary.set_index("config").examples_per_side[c])
        pos[c] = x * 1.08 ** seen.get(x, 0)
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
    styles, k = {}, 0
    for r in summary.itertuples():
        if r.placebo:
            styles[r.config] = {"color": "C3", "marker": "o", "label": f"{r.config} (placebo)"}
        elif is_data_knob(r.knob):
            styles[r.config] = {"color": "C0", "marker": "o", "label": "data size (default, questions, samples)"}
        else:
            styles[r.config] = {"color": f"C{[2, 4, 5, 6, 8, 9][k % 6]}", "marker": KNOB_MARKERS[k % len(KNOB_MARKERS)],
                                "label": f"{r.config}: {r.knob}"}
            k += 1
    return styles


def signal_figure(screens: dict[str, dict[str, pd.DataFrame]], summaries: dict[str, pd.DataFrame],
                  dilemmas: dict[str, pd.DataFrame] | None = None, order: list[str] | None = None):
    """Per model (rows), against training examples per side (log x; configs at one scale spread slightly):
    (a) seed-to-seed cosine of the flattened dW, one dot per seed pair: configs that change only the data (blue,
        means joined), other knobs (one marker each), the placebo (red); grey band: random pairs; red band: the
        placebo null (its seed pairs and the real × placebo pairs);
    (b) held-out persona-gap shift at α = +1, one dot per seed;
    (c) balanced Daily Dilemmas Δ(+1) with its 95 % CI over seeds and dilemmas (configs with a full run), and the
        norm-matched random control (grey)."""
    from .signal import is_data_knob

    order = order or []
    fig, axes = plt.subplots(len(screens), 3, figsize=(12, 3.4 * len(screens)), squeeze=False)
    for (model, t), (ax_c, ax_g, ax_d) in zip(screens.items(), axes):
        summ = summaries[model]
        x = _scale_positions(summ, order)
        style = _config_style(summ, is_data_knob)
        cos = t["cosines"].query("level == 'flat'")
        rand = cos[cos.kind == "random"].cosine
        xs = sorted(x.values())
        ax_c.fill_between([xs[0] / 1.5, xs[-1] * 1.6], rand.min(), rand.max(), color="0.5", alpha=0.3, lw=0)
        nulls = summ[summ.placebo.astype(bool)]
        null_pairs = t.get("null_pairs", pd.DataFrame())
        for r in nulls.itertuples():
            v = cos[(cos.config == r.config) & (cos.kind == "dW")].cosine
            if not null_pairs.empty:
                v = pd.concat([v, null_pairs[null_pairs.placebo_config == r.config].cosine])
            ax_c.fill_between([x[r.config] / 1.15, x[r.config] * 1.15], v.min(), v.max(), color="C3", alpha=0.12, lw=0)
        seen_labels = set()
        for c, st in style.items():
            d = cos[(cos.config == c) & (cos.kind == "dW")]
            label = None if st["label"] in seen_labels else st["label"]
            seen_labels.add(st["label"])
            ax_c.scatter([x[c]] * len(d), d.cosine, color=st["color"], marker=st["marker"], s=20, zorder=3, label=label)
        data = summ[~summ.placebo.astype(bool) & summ.knob.map(is_data_knob)].sort_values("examples_per_side")
        ax_c.plot([x[c] for c in data.config], data.cos_dW_mean, "-", color="C0", lw=1)
        ax_c.axhline(0, color="k", lw=0.6)
        ax_c.set_ylabel("cos(dW_s, dW_t), flattened")
        ax_c.set_title(f"{model}: seed-to-seed cosine", fontsize=9)
        ax_c.legend(fontsize=6, frameon=False, loc="upper left")

        gap = t["persona_gap"].query("alpha == 1 and split == 'heldout'")
        for c, st in style.items():
            g = gap[(gap.config == c) & (gap.method == "dW")]
            ax_g.scatter([x[c]] * len(g), g.gap_shift, color=st["color"], marker=st["marker"], s=20, zorder=3)
        g = gap[gap.method == "random"]
        ax_g.scatter(g.config.map(x) * 1.03, g.gap_shift, color="0.5", s=10, zorder=2, label="random control")
        ax_g.axhline(0, color="k", lw=0.6)
        ax_g.set_ylabel("held-out persona-gap shift, α = +1")
        ax_g.legend(fontsize=7, frameon=False)

        dd = (dilemmas or {}).get(model, pd.DataFrame())
        for r in dd.itertuples():
            st = style.get(r.config, {"color": "C0", "marker": "o"})
            color = "0.5" if r.method == "random" else st["color"]
            xr = x.get(r.config, r.examples_per_side) * (1.03 if r.method == "random" else 1.0)
            ax_d.errorbar([xr], [r.estimate], yerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]], fmt=st["marker"],
                          color=color, ms=5, capsize=2)
        ax_d.axhline(0, color="k", lw=0.6)
        for ax in (ax_c, ax_g, ax_d):
            _scale_axis(ax, list(summ.examples_per_side.astype(float)))
        ax_d.set_ylabel("balanced Daily Dilemmas Δ(+1)")
        if dd.empty:
            ax_d.text(0.5, 0.5, "no full run yet", transform=ax_d.transAxes, ha="center", fontsize=8)
    fig.tight_layout()
    return fig
