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
from .diff import WeightDelta, cosine_table, split_average_cosines
from .io import read_table
from .pipeline import SeedRun


def _deltas(cfg: ExperimentConfig, model: str, adapter: str) -> dict[str, WeightDelta]:
    out = {}
    for s in cfg.seeds:
        path = SeedRun(cfg, model, adapter, s).cache / "dw.safetensors"
        if not path.exists():
            raise FileNotFoundError(f"{path} missing: run the screen stage of seed {s} of config {cfg.name} first")
        out[f"seed{s}"] = WeightDelta.load(path)
    return out


def screen_tables(cfg: ExperimentConfig, model: str, adapter: str) -> dict[str, pd.DataFrame]:
    """Tidy tables for one (config, model, adapter): cosines, split averages, persona gap shifts, timings."""
    deltas = _deltas(cfg, model, adapter)
    rand = {k: d.random_like(seed=cfg.eval.random_control_seed + int(k[4:])) for k, d in deltas.items()}
    tag = {"config": cfg.name, "model": model, "adapter": adapter}
    cos = pd.concat([cosine_table(deltas).assign(kind="dW"), cosine_table(rand).assign(kind="random")], ignore_index=True)
    avg = pd.concat([split_average_cosines(deltas).assign(kind="dW"), split_average_cosines(rand).assign(kind="random")],
                    ignore_index=True)
    gaps, times = [], []
    for s in cfg.seeds:
        run = SeedRun(cfg, model, adapter, s)
        g = read_table(run.results / "persona_gap.csv")
        g = g.groupby(["method", "alpha", "split"], as_index=False).gap.mean().assign(seed=s)
        ref = g[g.alpha == 0].set_index(["method", "split"]).gap
        g["gap_shift"] = g.gap.to_numpy() - ref.reindex(pd.MultiIndex.from_frame(g[["method", "split"]])).to_numpy()
        gaps.append(g)
        times.append(read_table(run.results / "timings.csv").assign(seed=s))
    return {"cosines": cos.assign(**tag), "split_average": avg.assign(**tag),
            "persona_gap": pd.concat(gaps, ignore_index=True).assign(**tag),
            "timings": pd.concat(times, ignore_index=True).assign(**tag)}
