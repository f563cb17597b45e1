"""Signal screen: does dW reproduce across seeds, per configuration, before any Daily Dilemmas evaluation?

For a configuration with seeds s = 1..n and their dW_s:
    reproducibility   cos(dW_s, dW_t) flattened / per module family / per layer band, s < t,
                      next to the same for norm-matched random controls R_s (the noise floor)
    averaging         cos(mean of k seeds, mean of k other seeds), k = 1 .. n//2 (grows iff a shared direction exists)
    generalisation    persona gap shift at α = ±1 on training vs held-out questions
    cost              wall seconds per stage per seed
"""
from __future__ import annotations

import pandas as pd

from .config import ExperimentConfig
from .diff import cosine_table, split_average_cosines
from .summary import indist_summary, seed_deltas, seed_tables, with_control


def screen_tables(cfg: ExperimentConfig, model: str, adapter: str) -> dict[str, pd.DataFrame]:
    """Tidy tables for one (config, model, adapter): cosines, split averages, persona gap shifts, timings."""
    deltas, rands = seed_deltas(cfg, model, adapter)
    tag = {"config": cfg.name, "model": model, "adapter": adapter}
    return {"cosines": with_control(cosine_table, deltas, rands).assign(**tag),
            "split_average": with_control(split_average_cosines, deltas, rands).assign(**tag),
            "persona_gap": indist_summary(cfg, model, adapter).assign(**tag),
            "timings": seed_tables(cfg, model, adapter, "timings.csv").assign(**tag)}
