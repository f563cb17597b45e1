"""Signal screen: does dW reproduce across seeds, per configuration, before any Daily Dilemmas evaluation?

For a configuration with seeds s = 1..n and their dW_s:
    reproducibility   cos(dW_s, dW_t) flattened / per module family / per layer band, s < t,
                      next to the same for norm-matched random controls R_s (cos ≈ 0 ± D^−½ by construction)
                      and for a placebo configuration (`train.placebo`: sides swapped within a random half of
                      the pairs), whose dW carries the data and training noise but no persona direction
    averaging         cos(mean of k seeds, mean of k other seeds), k = 1 .. n//2 (grows iff a shared direction exists)
    generalisation    persona gap shift at α = ±1 on training vs held-out questions
    cost              wall seconds per stage per seed
"""
from __future__ import annotations

import pandas as pd

from .config import ExperimentConfig
from .io import read_table
from .paths import results_dir
from .diff import cosine_table, split_average_cosines
from .summary import indist_summary, seed_deltas, seed_tables, with_control


def screen_tables(cfg: ExperimentConfig, model: str, adapter: str) -> dict[str, pd.DataFrame]:
    """Tidy tables for one (config, model, adapter): cosines, split averages, persona gap shifts, timings."""
    deltas, rands = seed_deltas(cfg, model, adapter)
    tag = {"config": cfg.name, "model": model, "adapter": adapter, "placebo": cfg.train.placebo}
    return {"cosines": with_control(cosine_table, deltas, rands).assign(**tag),
            "split_average": with_control(split_average_cosines, deltas, rands).assign(**tag),
            "persona_gap": indist_summary(cfg, model, adapter).assign(**tag),
            "timings": seed_tables(cfg, model, adapter, "timings.csv").assign(**tag)}


# Display order of screened configurations: the default, its placebo, then one knob at a time.
SCREEN_ORDER = ["default", "signal-placebo", "signal-indep", "signal-ep4", "signal-lr3x", "signal-r32", "signal-attn",
                "signal-p8", "signal-s4", "signal-q80", "signal-q160"]


def load_screen(model: str, root=None) -> dict[str, pd.DataFrame]:
    """The committed screen tables of one model (results/signal/<model>/*.csv)."""
    d = (root or results_dir()) / "signal" / model
    return {k: read_table(d / f"{k}.csv") for k in ("cosines", "split_average", "persona_gap", "timings")}


def screen_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per configuration: flat seed-to-seed cosine of dW (mean, min, max over pairs), of its random
    controls, the held-out and training persona-gap shift at α = +1 (mean over seeds), and the median minutes per seed of the stages this config computed (reused completions cost 0 here)."""
    cos = tables["cosines"].query("level == 'flat'")
    flat = cos.pivot_table(index=["config", "placebo"], columns="kind", values="cosine", aggfunc=["mean", "min", "max"])
    flat.columns = [f"cos_{k}_{stat}" for stat, k in flat.columns]
    gap = tables["persona_gap"].query("alpha == 1 and method == 'dW'").pivot_table(
        index="config", columns="split", values="gap_shift", aggfunc="mean")
    gap.columns = [f"gap_shift_{c}" for c in gap.columns]
    t = tables["timings"]
    t = t[~t.cached.astype(bool)]
    minutes = (t.groupby(["config", "seed"]).seconds.sum().groupby("config").median() / 60).rename("computed_minutes_per_seed")
    out = flat.reset_index().merge(gap.reset_index(), on="config", how="left").merge(minutes.reset_index(), on="config", how="left")
    return out


def signal_verdict(model_label: str, summary: pd.DataFrame) -> str:
    """One plain sentence per model: is the seed-to-seed cosine of each real configuration above every placebo
    pair and every random pair? (Min over real pairs against max over control pairs; no claim without a placebo.)"""
    real, placebo = summary[~summary.placebo.astype(bool)], summary[summary.placebo.astype(bool)]
    parts = []
    for r in real.itertuples():
        floor = max([r.cos_random_max] + list(placebo.cos_dW_max))
        if placebo.empty:
            parts.append(f"{r.config}: cosine {r.cos_dW_mean:.4f} against {r.cos_random_mean:.5f} for random "
                         f"directions; no placebo screen yet, so the training-noise floor is unknown")
        elif r.cos_dW_min > floor:
            parts.append(f"{r.config}: every seed pair ({r.cos_dW_min:.4f} to {r.cos_dW_max:.4f}) lies above every "
                         f"placebo and random pair (up to {floor:.4f})")
        else:
            parts.append(f"{r.config}: seed pairs ({r.cos_dW_min:.4f} to {r.cos_dW_max:.4f}) overlap the placebo "
                         f"range (up to {placebo.cos_dW_max.max():.4f}): no direction beyond training noise")
    return f"On {model_label}, " + "; ".join(parts) + "." if parts else ""
