"""Across-seed summary tables of one (config, model, adapter): the numbers the paper reads.

shifts.csv        method, alpha, measure, estimate, ci_low, ci_high   (balanced Δ, groups, off-target, pmass)
per_seed.csv      method, seed, alpha, balanced_delta                 (the per-seed curves)
dw_cosines.csv    a, b, level, key, cosine, kind ∈ {dW, random}       (seed-to-seed agreement of dW vs control)
indist.csv        method, seed, alpha, split, gap, gap_shift          (persona log-prob gap, shift from α = 0)
timings.csv       seed, stage, seconds, cached
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from .config import ExperimentConfig
from .diff import WeightDelta, cosine_table
from .io import write_table
from .metrics import per_dilemma_shifts, per_seed_balanced, summarise_shifts
from .pipeline import SeedRun


EVAL_TABLES = ("dilemma_scores.csv", "persona_gap.csv")


def seed_tables(cfg: ExperimentConfig, model: str, adapter: str, name: str) -> pd.DataFrame:
    """One table per seed, concatenated, with a `seed` column; a table left by another configuration is an error."""
    parts = []
    for s in cfg.seeds:
        run = SeedRun(cfg, model, adapter, s)
        path = run.results / name
        t = run.cached_table(path, **({"eval_key": run.eval_key} if name in EVAL_TABLES else {"run_key": run.key}))
        if t is None:
            raise FileNotFoundError(f"{path} is missing or was written by another configuration: re-run seed {s}")
        parts.append(t.assign(seed=s))
    return pd.concat(parts, ignore_index=True)


def dilemma_summary(cfg: ExperimentConfig, model: str, adapter: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(per-dilemma shifts, across-seed summary with CIs, per-seed balanced curves)."""
    scores = seed_tables(cfg, model, adapter, "dilemma_scores.csv")
    per_d = per_dilemma_shifts(scores, by=["method", "seed"])
    return per_d, summarise_shifts(per_d, n_boot=cfg.eval.n_boot), per_seed_balanced(per_d)


def seed_deltas(cfg: ExperimentConfig, model: str, adapter: str) -> tuple[dict[str, WeightDelta], dict[str, WeightDelta]]:
    """({'seed<k>': dW}, {'seed<k>': R}) from the cache, R each seed's norm-matched random control.

    A dW re-trained after its seed was evaluated is an error (its dw_id no longer matches the scores)."""
    deltas, rands = {}, {}
    for s in cfg.seeds:
        run = SeedRun(cfg, model, adapter, s)
        dw = load_seed_dw(run)
        deltas[f"seed{s}"], rands[f"seed{s}"] = dw, run.random_control(dw)
    return deltas, rands


def load_seed_dw(run: SeedRun) -> WeightDelta:
    """The cached dW of a seed; an error if missing or re-trained after its Daily Dilemmas scores were written."""
    path = run.cache / "dw.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: run seed {run.seed} of config {run.cfg.name} first")
    dw = WeightDelta.load(path)
    scores = run.cached_table(run.results / "dilemma_scores.csv", eval_key=run.eval_key)
    if scores is not None and "dw_id" in scores and not scores.dw_id.astype(str).eq(dw.meta.get("dw_id", "")).all():
        raise RuntimeError(f"seed {run.seed}: dW was re-trained after its evaluation; re-run the seed")
    return dw


def with_control(table_fn, deltas: dict[str, WeightDelta], rands: dict[str, WeightDelta]) -> pd.DataFrame:
    """`table_fn` over the seeds' dW and over their random controls, stacked with kind ∈ {dW, random}."""
    return pd.concat([table_fn(deltas).assign(kind="dW"), table_fn(rands).assign(kind="random")], ignore_index=True)


def dw_cosines(cfg: ExperimentConfig, model: str, adapter: str) -> pd.DataFrame:
    """Seed-to-seed cosines of dW, next to the same cosines between seeds' norm-matched random controls."""
    return with_control(cosine_table, *seed_deltas(cfg, model, adapter))


def indist_summary(cfg: ExperimentConfig, model: str, adapter: str) -> pd.DataFrame:
    """Mean persona gap per (method, seed, α, split) and its shift from α = 0 (same seed, same pairs)."""
    gap = seed_tables(cfg, model, adapter, "persona_gap.csv")
    g = gap.groupby(["method", "seed", "alpha", "split"], as_index=False)["gap"].mean()
    ref = g[g.alpha == 0].set_index(["method", "seed", "split"])["gap"]
    g["gap_shift"] = g["gap"].to_numpy() - ref.reindex(pd.MultiIndex.from_frame(g[["method", "seed", "split"]])).to_numpy()
    return g


def write_summary(cfg: ExperimentConfig, model: str, adapter: str) -> dict[str, pd.DataFrame]:
    out_dir = SeedRun(cfg, model, adapter, 0).results.parent / "summary"
    per_d, shifts, per_seed = dilemma_summary(cfg, model, adapter)
    tables = {
        "shifts": shifts.assign(model=model, adapter=adapter, config=cfg.name),
        "per_seed": per_seed.assign(model=model, adapter=adapter),
        "per_dilemma": per_d,
        "dw_cosines": dw_cosines(cfg, model, adapter),
        "indist": indist_summary(cfg, model, adapter),
        "timings": seed_tables(cfg, model, adapter, "timings.csv"),
        "dw_norms": seed_tables(cfg, model, adapter, "dw_norms.csv"),
    }
    for name, df in tables.items():
        write_table(df, out_dir / f"{name}.csv")
    return tables



def headline(shifts: pd.DataFrame, alpha: float = 1.0) -> dict[str, float]:
    """Balanced Δ at α for dW and the random control, with their seed×dilemma CIs."""
    sel = shifts[(shifts.measure == "balanced") & np.isclose(shifts.alpha, alpha)].set_index("method")
    return {f"{m}_{k}": float(sel.loc[m, k]) for m in sel.index for k in ("estimate", "ci_low", "ci_high")}
