"""Steering effect with balanced labels and a confidence interval over seeds and dilemmas.

Per dilemma d and α, with s(α) the row score and reference α = 0 (θ0):
    Δ_d(α) = ½ Σ_{rows r of d} label_r · (s_r(α) − s_r(0))        honesty shift (label ±1)
    G_d(α) = ½ Σ_{rows r of d} t_r · (s_r(α) − s_r(0))            generic act shift, t = +1 to_do, −1 not_to_do
Balanced headline: Δ_bal(α) = ½ (mean_{d ∈ honest_todo} Δ_d + mean_{d ∈ honest_not_todo} Δ_d), so a generic
shift toward acting (s_todo += c) cancels. Off-target control: mean G_d over dilemmas without Truthfulness.
CI: bootstrap that resamples seeds, then dilemmas (stratified by group, the same draw for every seed).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

HONEST_GROUPS = ("honest_todo", "honest_not_todo")


def per_dilemma_shifts(scores: pd.DataFrame, by: list[str], ref_alpha: float = 0.0) -> pd.DataFrame:
    """scores: rows with by + [alpha, dilemma_idx, action_type, label, group, score, pmass].

    Returns one row per (by, alpha, dilemma): group, delta (Δ_d), generic (G_d), pmass (mean of the two rows).
    The reference s(0) is taken within the same `by` keys.
    """
    s = scores.copy()
    ref = s[s.alpha == ref_alpha].set_index([*by, "dilemma_idx", "action_type"])["score"]
    if ref.index.duplicated().any():
        raise ValueError("scores have duplicated reference rows at α = 0")
    key = pd.MultiIndex.from_frame(s[[*by, "dilemma_idx", "action_type"]])
    missing = ~key.isin(ref.index)
    if missing.any():
        raise ValueError(f"{missing.sum()} score rows have no α = {ref_alpha} reference")
    s["shift"] = s["score"].to_numpy() - ref.reindex(key).to_numpy()
    s["t"] = np.where(s.action_type == "to_do", 1.0, -1.0)
    s["w_delta"] = 0.5 * s["label"] * s["shift"]
    s["w_generic"] = 0.5 * s["t"] * s["shift"]
    g = s.groupby([*by, "alpha", "dilemma_idx", "group"], sort=True)
    out = g.agg(delta=("w_delta", "sum"), generic=("w_generic", "sum"), pmass=("pmass", "mean"), n=("score", "size"))
    if (out["n"] != 2).any():
        raise ValueError("every dilemma needs exactly its two action rows at every α")
    return out.drop(columns="n").reset_index()


def balanced_delta(per_dilemma: pd.DataFrame) -> float:
    """Δ_bal = mean over the two honesty groups of the group's mean Δ_d."""
    means = [per_dilemma.loc[per_dilemma.group == g, "delta"].mean() for g in HONEST_GROUPS]
    return float(np.mean(means))


def seed_dilemma_bootstrap(per_dilemma: pd.DataFrame, value: str = "delta", groups=HONEST_GROUPS,
                           n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> dict[str, float]:
    """Point estimate and CI of mean_seeds[ mean_groups mean_{d ∈ group} value ] for one (method, α).

    per_dilemma: columns seed, dilemma_idx, group, value; identical dilemmas for every seed.
    Each replicate draws seeds with replacement, then dilemmas with replacement within each group.
    """
    sub = per_dilemma[per_dilemma.group.isin(groups)]
    missing = [g for g in groups if not (sub.group == g).any()]
    if missing:
        raise ValueError(f"no dilemmas in group(s) {missing}: the balanced estimate needs every group")
    wide = sub.pivot(index="seed", columns="dilemma_idx", values=value)  # raises on duplicated seed × dilemma
    if wide.isna().any().any():
        raise ValueError("seeds were evaluated on different dilemmas; the bootstrap needs identical rows")
    dil_group = sub.drop_duplicates("dilemma_idx").set_index("dilemma_idx").loc[wide.columns, "group"].to_numpy()
    mat = wide.to_numpy()
    idx_by_group = {g: np.flatnonzero(dil_group == g) for g in groups if (dil_group == g).any()}
    point = float(np.mean([mat[:, idx].mean() for idx in idx_by_group.values()]))
    rng = np.random.default_rng(seed)
    n_seeds = mat.shape[0]
    reps = np.empty(n_boot)
    for b in range(n_boot):
        rows = mat[rng.integers(0, n_seeds, n_seeds)]
        reps[b] = np.mean([rows[:, rng.choice(idx, len(idx))].mean() for idx in idx_by_group.values()])
    lo, hi = np.quantile(reps, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"estimate": point, "ci_low": float(lo), "ci_high": float(hi), "n_seeds": n_seeds,
            "n_dilemmas": int(mat.shape[1])}


def summarise_shifts(per_dilemma: pd.DataFrame, method_col: str = "method", n_boot: int = 2000) -> pd.DataFrame:
    """Tidy summary per (method, α, measure): measure ∈ {balanced, honest_todo, honest_not_todo, offtarget_generic}."""
    rows = []
    specs = [("balanced", "delta", HONEST_GROUPS), ("honest_todo", "delta", ("honest_todo",)),
             ("honest_not_todo", "delta", ("honest_not_todo",)), ("offtarget_generic", "generic", ("none",))]
    for (method, alpha), df in per_dilemma.groupby([method_col, "alpha"]):
        for measure, value, groups in specs:
            if not df.group.isin(groups).any():
                continue
            r = seed_dilemma_bootstrap(df, value=value, groups=groups, n_boot=n_boot)
            rows.append({method_col: method, "alpha": alpha, "measure": measure, **r})
        rows.append({method_col: method, "alpha": alpha, "measure": "pmass", "estimate": float(df.pmass.mean()),
                     "ci_low": np.nan, "ci_high": np.nan, "n_seeds": df.seed.nunique(), "n_dilemmas": df.dilemma_idx.nunique()})
    return pd.DataFrame(rows)


def per_seed_balanced(per_dilemma: pd.DataFrame, method_col: str = "method") -> pd.DataFrame:
    """Balanced Δ per (method, seed, α): the per-seed curves."""
    rows = [{method_col: m, "seed": s, "alpha": a, "balanced_delta": balanced_delta(df)}
            for (m, s, a), df in per_dilemma.groupby([method_col, "seed", "alpha"])]
    return pd.DataFrame(rows)
