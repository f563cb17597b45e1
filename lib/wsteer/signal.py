"""Signal screen: does dW reproduce across seeds, per configuration, before any Daily Dilemmas evaluation?

For a configuration with seeds s = 1..n and their dW_s:
    reproducibility   cos(dW_s, dW_t) flattened / per module family / per layer band, s < t,
                      next to the same for norm-matched random controls R_s (cos ≈ 0 ± D^−½ by construction)
                      and for a placebo configuration (`train.placebo`: sides swapped within a random half of
                      the pairs), whose dW carries the data and training noise but no persona direction
    averaging         cos(mean of k seeds, mean of k other seeds), k = 1 .. n//2 (grows iff a shared direction exists)
    generalisation    persona gap shift at α = ±1 on training vs held-out questions
    cost              wall seconds per stage per seed
    sides             the two updates Δ±_s = W±_s − W0 (so dW_s = Δ+_s − Δ−_s) and their mean M_s = ½(Δ+_s + Δ−_s):
                      cos(Δ+_s, Δ+_t), cos(Δ−_s, Δ−_t), cos(M_s, M_t) across seeds, cos(Δ+_s, Δ−_s) within a seed,
                      and the persona share ‖dW_s‖ / ‖M_s‖ (how much of the fine-tuning differs between the personas)
    null pairs        cos(dW_s, P_t), s ≠ t, P the placebo dW of the same recipe: by the sign symmetry of the placebo
                      E = 0, so these pairs widen the placebo null (3 pairs) with 6 more of the same structure
    separation        z = (mean_st cos(dW_s, dW_t) − mean of the null) / sd of the null; its trend over examples per
                      side n, z ∝ n^b, estimates the n at which the seed pairs clear the null (`scale_estimate`)
    permutation p     share of the C(r + m, r) relabellings of the r real and m null cosines whose "real" mean is at
                      least the observed one (exact; 1 / C(12, 3) = 1/220 when all 3 real pairs top 9 null pairs)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from .config import ExperimentConfig, load_config
from .diff import (WeightDelta, cosine_table, gram_by_group, gram_by_tensor, gram_cosine, level_groupings,
                   module_family, split_average_cosines)
from .io import read_table
from .models import load_model
from .paths import results_dir
from .pipeline import SeedRun, cached_contrast
from .summary import indist_summary, load_seed_dw, seed_deltas, seed_tables, with_control
from .train import merged_weights


def data_scale(cfg: ExperimentConfig) -> dict[str, int | str]:
    """Training data of one side (questions; examples = questions × personas × samples per question) and
    `knob`: what the recipe changes from the default, e.g. 'personas.n_train=80' ('' for the default itself)."""
    p = cfg.personas
    return {"n_questions": p.n_train, "examples_per_side": p.n_train * p.n_personas * p.n_samples,
            "knob": knob(cfg)}


def knob(cfg: ExperimentConfig, base: str = "default") -> str:
    """Recipe fields (`recipe`) that differ from config `base`, as 'section.field=value' joined by ', '."""
    a, b = recipe(cfg), recipe(load_config(base))
    return ", ".join(f"{sec}.{k}={v}" for sec in a for k, v in a[sec].items() if b[sec].get(k) != v)


def is_data_knob(knob_text: str) -> bool:
    """True for the data-scale series: the default and configs that change only the number of training questions
    (`personas.n_train`). More personas or samples per question also add examples per side, but repeat questions;
    they are knobs of their own, plotted at their examples per side and kept out of the scale fit."""
    keys = {part.split("=")[0] for part in knob_text.split(", ") if part}
    return keys <= {"personas.n_train"}


def screen_tables(cfg: ExperimentConfig, model: str, adapter: str) -> dict[str, pd.DataFrame]:
    """Tidy tables for one (config, model, adapter): cosines, split averages, persona gap shifts, timings."""
    deltas, rands = seed_deltas(cfg, model, adapter)
    tag = {"config": cfg.name, "model": model, "adapter": adapter, "placebo": cfg.train.placebo, **data_scale(cfg)}
    return {"cosines": with_control(cosine_table, deltas, rands).assign(**tag),
            "split_average": with_control(split_average_cosines, deltas, rands).assign(**tag),
            "persona_gap": indist_summary(cfg, model, adapter).assign(**tag),
            "timings": seed_tables(cfg, model, adapter, "timings.csv").assign(**tag)}


def side_update(run: SeedRun, side: str) -> WeightDelta:
    """Δ_side = W_side − W0 for every adapted parameter, from the cached adapter merged onto a fresh θ0."""
    from peft import PeftModel

    adir = run.cache / f"adapter_{side}"
    if not (adir / "adapter_config.json").exists():
        raise FileNotFoundError(f"{adir} missing: run seed {run.seed} of config {run.cfg.name} first")
    base, _ = load_model(run.model_name)
    w0 = {n: p.detach().clone() for n, p in base.named_parameters()}
    _, merged = merged_weights(PeftModel.from_pretrained(base, adir))
    return WeightDelta({n: w - w0[n] for n, w in merged.items() if n in w0}, {"side": side, "seed": str(run.seed)})


def side_decomposition(pos: dict[str, WeightDelta], dws: dict[str, WeightDelta]) -> pd.DataFrame:
    """Where dW sits inside the two updates, from Δ+_s and dW_s per seed s (Δ−_s = Δ+_s − dW_s, M_s = Δ+_s − ½dW_s).

    Rows (level ∈ {flat, family}, key, measure, a, b, value):
      pos_across / neg_across / mean_across / dw_across   cos(X_s, X_t), s < t, X ∈ {Δ+, Δ−, M, dW}
      pos_vs_neg                                         cos(Δ+_s, Δ−_s)  (a = b = s)
      persona_share                                      ‖dW_s‖ / ‖M_s‖   (a = b = s)
    All from one Gram matrix of {Δ+_s, dW_s} per group (`diff.gram_by_group`)."""
    seeds = sorted(pos)
    if sorted(dws) != seeds:
        raise ValueError(f"seeds of Δ+ {seeds} and of dW {sorted(dws)} differ")
    vectors = {**{f"P{s}": pos[s] for s in seeds}, **{f"D{s}": dws[s] for s in seeds}}
    k = len(seeds)

    def coef(kind: str, i: int) -> np.ndarray:  # X_s as a combination of (Δ+_1..k, dW_1..k)
        c = np.zeros(2 * k)
        c[i], c[k + i] = {"pos": (1, 0), "neg": (1, -1), "mean": (1, -0.5), "dw": (0, 1)}[kind]
        return c

    per_tensor = gram_by_tensor(vectors)
    rows = []
    for level, key in (("flat", lambda n: "all"), ("family", module_family)):
        for g, G in gram_by_group({}, key, per_tensor).items():
            tag = {"level": level, "key": g}
            for i, s in enumerate(seeds):
                dw, mean = coef("dw", i), coef("mean", i)
                rows.append({**tag, "measure": "pos_vs_neg", "a": s, "b": s,
                             "value": gram_cosine(G, coef("pos", i), coef("neg", i))})
                rows.append({**tag, "measure": "persona_share", "a": s, "b": s,
                             "value": float(np.sqrt((dw @ G @ dw) / (mean @ G @ mean)))})
                for j in range(i + 1, k):
                    for kind in ("pos", "neg", "mean", "dw"):
                        rows.append({**tag, "measure": f"{kind}_across", "a": s, "b": seeds[j],
                                     "value": gram_cosine(G, coef(kind, i), coef(kind, j))})
    return pd.DataFrame(rows)


def side_tables(cfg: ExperimentConfig, model: str, adapter: str) -> pd.DataFrame:
    """`side_decomposition` of one (config, model, adapter) from its cached adapters (θ+) and dW."""
    pos, dws = {}, {}
    for s in cfg.seeds:
        run = SeedRun(cfg, model, adapter, s)
        pos[f"seed{s}"], dws[f"seed{s}"] = side_update(run, "pos"), load_seed_dw(run)
    return side_decomposition(pos, dws).assign(config=cfg.name, model=model, adapter=adapter, placebo=cfg.train.placebo)


def recipe(cfg: ExperimentConfig, with_placebo: bool = False) -> dict:
    """What determines dW apart from seeds and evaluation (and the placebo switch unless `with_placebo`):
    equal recipes are placebo twins."""
    train = {k: v for k, v in asdict(cfg.train).items() if with_placebo or k != "placebo"}
    return {"personas": asdict(cfg.personas), "adapter": asdict(cfg.adapter), "train": train}


def placebo_twins(cfgs: list[ExperimentConfig]) -> list[tuple[ExperimentConfig, ExperimentConfig]]:
    """(real, placebo) pairs among `cfgs` with the same recipe."""
    return [(r, p) for r in cfgs if not r.train.placebo for p in cfgs if p.train.placebo and recipe(p) == recipe(r)]


def null_pairs(real: dict[str, WeightDelta], placebo: dict[str, WeightDelta],
               levels: tuple[str, ...] = ("flat", "family", "band")) -> pd.DataFrame:
    """cos(dW_s, P_t) for s ≠ t (different questions and draws): null cosines with the structure of a real dW,
    per level and group as in `diff.cosine_table`. Rows: a (real seed), b (placebo seed), level, key, cosine."""
    items = {**{("real", k): v for k, v in real.items()}, **{("placebo", k): v for k, v in placebo.items()}}
    keys = list(items)
    per_tensor = gram_by_tensor(dict(zip(map(str, keys), items.values())))
    groupings = level_groupings(per_tensor)
    unit = np.eye(len(keys))
    rows = []
    for level in levels:
        for group, gram in gram_by_group({}, groupings[level], per_tensor).items():
            rows += [{"a": a, "b": b, "level": level, "key": group,
                      "cosine": gram_cosine(gram, unit[keys.index(("real", a))], unit[keys.index(("placebo", b))])}
                     for a in sorted(real) for b in sorted(placebo) if a != b]
    return pd.DataFrame(rows)


def null_tables(real_cfg: ExperimentConfig, placebo_cfg: ExperimentConfig, model: str, adapter: str) -> pd.DataFrame:
    load = lambda c: {f"seed{s}": load_seed_dw(SeedRun(c, model, adapter, s)) for s in c.seeds}  # noqa: E731
    return null_pairs(load(real_cfg), load(placebo_cfg)).assign(config=real_cfg.name, placebo_config=placebo_cfg.name,
                                                               model=model, adapter=adapter)


# Display order of screened configurations: the default, its placebo, one knob at a time, then combinations.
SCREEN_ORDER = ["default", "signal-placebo", "signal-indep", "signal-indep-placebo", "signal-ep4",
                "signal-ep4-placebo", "signal-lr3x", "signal-lr3x-placebo", "signal-r32", "signal-r32-placebo",
                "signal-attn", "signal-attn-placebo", "signal-p8", "signal-p8-placebo", "signal-s4",
                "signal-s4-placebo", "signal-q80", "signal-q80-placebo", "signal-q160", "signal-q160-placebo",
                "signal-indep-q80", "signal-indep-q80-placebo"]


SCREEN_TABLES = ("cosines", "split_average", "persona_gap", "timings", "sides", "null_pairs")


def load_screen(model: str, root=None) -> dict[str, pd.DataFrame]:
    """The committed screen tables of one model: results/signal/<model>/<table>.csv for each of SCREEN_TABLES."""
    d = (root or results_dir()) / "signal" / model
    missing = [k for k in SCREEN_TABLES if not (d / f"{k}.csv").exists()]
    if missing:
        raise FileNotFoundError(f"screen tables {missing} missing under {d}: rerun `make signal` for {model}")
    return {k: read_table(d / f"{k}.csv") for k in SCREEN_TABLES}


def null_cosines(tables: dict[str, pd.DataFrame], config: str, level: str = "flat",
                 key: str = "all") -> tuple[str | None, bool, np.ndarray]:
    """(placebo config, is it the twin of `config`, its null cosines at `level`/`key`): the placebo's own seed pairs
    plus the real × placebo pairs of `null_pairs`. Without a twin, the first placebo screened stands in (flagged
    False)."""
    cos = tables["cosines"].query("level == @level and key == @key and kind == 'dW'")
    placebos = list(dict.fromkeys(cos[cos.placebo.astype(bool)].config))
    nulls = tables.get("null_pairs", pd.DataFrame())
    if not nulls.empty:
        nulls = nulls.query("level == @level and key == @key")
    twin = nulls[nulls.config == config].placebo_config.unique().tolist() if not nulls.empty else []
    if not twin and "knob" in cos:  # same changes from the default = same recipe
        knobs = cos.drop_duplicates("config").set_index("config").knob.fillna("")
        twin = [p for p in placebos if knobs[p] == knobs[config]]
    name = twin[0] if twin else (placebos[0] if placebos else None)
    if name is None:
        return None, False, np.array([])
    values = cos[cos.config == name].cosine.to_numpy()
    if twin and not nulls.empty:
        values = np.concatenate([values, nulls[(nulls.config == config) & (nulls.placebo_config == name)].cosine.to_numpy()])
    return name, bool(twin), values


def null_stats(null: np.ndarray) -> dict[str, float]:
    """n, max, mean and sd (ddof = 1) of a null's cosines, NaN where undefined: what a real config is judged by."""
    n = len(null)
    return {"n_null": n, "cos_null_max": null.max() if n else np.nan, "cos_null_mean": null.mean() if n else np.nan,
            "cos_null_sd": null.std(ddof=1) if n > 1 else np.nan}


def separation_z(real_mean: float, stats: dict[str, float]) -> float:
    """z = (mean real cosine − mean null cosine) / sd of the null (`null_stats`)."""
    return (real_mean - stats["cos_null_mean"]) / stats["cos_null_sd"]


def permutation_p(real: np.ndarray, null: np.ndarray, max_exact: int = 20_000) -> float:
    """One-sided exact permutation p of mean(real) > mean(null): the share of all C(r + m, r) ways to call r of the
    pooled r + m cosines "real" whose mean is ≥ the observed real mean (ties count, so p ≥ 1 / C(r + m, r)).

    Assumes the cosines exchangeable under "no direction". Seed pairs that share a seed are correlated, so p is a
    descriptive of rank separation, not a calibrated test; NaN without both samples. Above `max_exact` labellings
    (6 seeds give C(60, 15)) it is estimated from `max_exact` random relabellings (seed 0), counting the observed
    one: p = (1 + #{≥}) / (1 + draws)."""
    real, null = np.asarray(real, float), np.asarray(null, float)
    if not len(real) or not len(null):
        return float("nan")
    pooled, r = np.concatenate([real, null]), len(real)
    threshold = real.mean() - 1e-12 * max(1.0, abs(real.mean()))
    if comb(len(pooled), r) <= max_exact:
        means = np.array([pooled[list(idx)].mean() for idx in combinations(range(len(pooled)), r)])
        return float(np.mean(means >= threshold))
    rng = np.random.default_rng(0)
    means = np.array([pooled[rng.permutation(len(pooled))[:r]].mean() for _ in range(max_exact)])
    return float((1 + np.sum(means >= threshold)) / (1 + max_exact))


ANALYSIS_STAGES = ("contrast",)  # timed, but measure the data rather than cost the recipe


def screen_summary(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per configuration: flat seed-to-seed cosine of dW (mean, min, max over pairs), of its random
    controls, the held-out and training persona-gap shift at α = +1 (mean over seeds), the median minutes per
    seed of the recipe stages this config computed (reused completions cost 0 here; ANALYSIS_STAGES are not
    recipe cost), its data scale and knob, the null it is judged against (`null_cosines`) with its max, mean and
    sd, the separation z = (mean real cosine − mean null cosine) / sd of the null and its `permutation_p` (NaN for a
    placebo, which is its own null), and the flat side measures (`side_decomposition`) if screened. Rows in
    SCREEN_ORDER, unknown configs last by name."""
    cos = tables["cosines"].query("level == 'flat'")
    flat = cos.pivot_table(index=["config", "placebo"], columns="kind", values="cosine", aggfunc=["mean", "min", "max"])
    flat.columns = [f"cos_{k}_{stat}" for stat, k in flat.columns]
    gap = tables["persona_gap"].query("alpha == 1 and method == 'dW'").pivot_table(
        index="config", columns="split", values="gap_shift", aggfunc="mean")
    gap.columns = [f"gap_shift_{c}" for c in gap.columns]
    t = tables["timings"]
    t = t[~t.cached.astype(bool) & ~t.stage.isin(ANALYSIS_STAGES)]
    minutes = (t.groupby(["config", "seed"]).seconds.sum().groupby("config").median() / 60).rename("computed_minutes_per_seed")
    out = flat.reset_index().merge(gap.reset_index(), on="config", how="left").merge(minutes.reset_index(), on="config", how="left")
    scale_cols = [c for c in ("n_questions", "examples_per_side", "knob") if c in cos]
    if scale_cols:
        meta = cos.drop_duplicates("config")[["config", *scale_cols]]
        out = out.merge(meta.assign(**({"knob": meta.knob.fillna("")} if "knob" in meta else {})), on="config", how="left")
    null = []
    for r in out.itertuples():
        name, twin, values = null_cosines(tables, r.config)
        stats = null_stats(values)
        real = cos.query("config == @r.config and kind == 'dW'").cosine.to_numpy()
        null.append({"config": r.config, "null_config": name, "null_is_twin": twin, **stats,
                     "separation": np.nan if bool(r.placebo) else separation_z(r.cos_dW_mean, stats),
                     "p_perm": np.nan if bool(r.placebo) else permutation_p(real, values)})
    out = out.merge(pd.DataFrame(null), on="config")
    sides = tables.get("sides", pd.DataFrame())
    if not sides.empty:
        flat_sides = sides.query("level == 'flat'").pivot_table(index="config", columns="measure", values="value", aggfunc="mean")
        flat_sides = flat_sides.reindex(columns=["pos_across", "mean_across", "pos_vs_neg", "persona_share"])
        out = out.merge(flat_sides.add_prefix("side_").reset_index(), on="config", how="left")
    rank = {c: i for i, c in enumerate(SCREEN_ORDER)}
    return out.sort_values("config", key=lambda c: c.map(lambda x: (rank.get(x, len(rank)), x))).reset_index(drop=True)


def group_separation(tables: dict[str, pd.DataFrame], level: str = "family") -> pd.DataFrame:
    """Per real config with a screened placebo twin and per group of `level` (module family or layer band): mean
    seed-pair cosine of dW in that group, its twin's null there (`null_cosines`: placebo pairs and real × placebo
    pairs) and the separation z = (mean real − mean null) / sd null; `clears` = every real pair above every null
    pair. Only configs whose real × placebo pairs were computed at `level` (`null_pairs`). Where in the weights a
    reproducible direction would show first. Exploratory: a config has 7 families and 3 bands, so one large z among
    them is expected by chance more often than a single flat z."""
    cos = tables["cosines"].query("level == @level and kind == 'dW'")
    cos = cos[~cos.placebo.astype(bool)]
    cross = tables.get("null_pairs", pd.DataFrame())
    screened = set() if cross.empty else set(cross.query("level == @level").config)
    rows = []
    for (config, key), real in cos.groupby(["config", "key"], sort=False):
        if config not in screened:  # a placebo's 3 own pairs alone are too few for a null SD
            continue
        name, twin, null = null_cosines(tables, config, level, key)
        stats = null_stats(null)
        rows.append({"config": config, "level": level, "key": key, "cos_mean": real.cosine.mean(), "null_config": name,
                     **stats, "separation": separation_z(real.cosine.mean(), stats),
                     "p_perm": permutation_p(real.cosine.to_numpy(), null),
                     "clears": bool(real.cosine.min() > stats["cos_null_max"])})
    return pd.DataFrame(rows)


def dilemma_points(model: str, summary: pd.DataFrame, alpha: float = 1.0, root=None) -> pd.DataFrame:
    """Balanced Daily Dilemmas Δ(α) with its CI, dW and random control, for each screened config that also has
    a full run (results/<config>/<model>/lora/summary/shifts.csv); others are left out."""
    from .report import RunSummary

    rows = []
    for r in summary.itertuples():
        try:
            run = RunSummary.load(r.config, model, root=root)
        except FileNotFoundError:
            continue
        for method in ("dW", "random"):
            m = run.measure(method, alpha)
            rows.append({"config": r.config, "placebo": r.placebo, "examples_per_side": r.examples_per_side,
                         "method": method, "estimate": m.estimate, "ci_low": m.ci_low, "ci_high": m.ci_high})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ScaleEstimate:
    """Power-law fit z(n) = z0 · (n / n0)^power of the separation over examples per side n, and the n at z_target."""

    examples: tuple[int, ...]
    separations: tuple[float, ...]
    power: float
    z_target: float
    examples_needed: float


def scale_estimate(summary: pd.DataFrame, z_target: float = 3.0) -> ScaleEstimate | None:
    """Least-squares fit of log z on log n over the real data-scale configs judged against their own placebo twin
    (z = `separation`, n = examples per side); None unless ≥ 2 such configs exist with z > 0 (a log needs it).

    n_needed = exp((log z_target − a) / b) for log z = a + b log n; only meaningful for b > 0."""
    real = summary[~summary.placebo.astype(bool) & summary.null_is_twin.astype(bool)
                   & summary.knob.fillna("").map(is_data_knob) & (summary.separation > 0)]
    real = real.sort_values("examples_per_side")
    if real.examples_per_side.nunique() < 2:
        return None
    log_n, log_z = np.log(real.examples_per_side.to_numpy(float)), np.log(real.separation.to_numpy(float))
    power, intercept = np.polyfit(log_n, log_z, 1)
    needed = float(np.exp((np.log(z_target) - intercept) / power)) if power > 0 else float("nan")
    return ScaleEstimate(tuple(int(n) for n in real.examples_per_side), tuple(float(z) for z in real.separation),
                         float(power), z_target, needed)


def load_contrast(config: str, model: str, adapter: str = "lora") -> pd.DataFrame:
    """The persona-contrast tables of a config's seeds (`make contrast`), each checked against the generation key
    of the completions it scored; FileNotFoundError if none was computed."""
    cfg = load_config(config)
    parts = [t for s in cfg.seeds if (t := cached_contrast(SeedRun(cfg, model, adapter, s))) is not None]
    if not parts:
        raise FileNotFoundError(f"no persona contrast for {config} on {model}: make contrast EXPERIMENT={config}")
    return pd.concat(parts, ignore_index=True)


def example_completions(config: str, model: str, adapter: str = "lora", seed: int = 0, split: str = "heldout",
                        n: int = 3, persona_idx: int = 0, width: int = 160) -> pd.DataFrame:
    """The honest and dishonest completion of persona pair `persona_idx` for the first `n` questions (by qid) of
    `split` in one seed's completions, cut to `width` characters: what the adapters are trained on, shown as is
    (no selection by content). Columns: question, honest, dishonest."""
    cfg = load_config(config)
    run = SeedRun(cfg, model, adapter, seed)
    comp = run.cached_table(run.results / "completions.csv", gen_key=cfg.gen_key(model))
    if comp is None:
        raise FileNotFoundError(f"no completions of {config} seed {seed} on {model}: run its generate stage")
    comp = comp.assign(completion=comp.completion.fillna(""))  # an empty completion reads back as NaN
    rows = comp[(comp.split == split) & (comp.persona_idx == persona_idx) & (comp["sample"] == 0)]
    if rows.empty:
        raise ValueError(f"no {split} completions of persona pair {persona_idx} in {config} seed {seed}")

    def cut(text: str) -> str:
        flat = " ".join(str(text).split())
        return flat if len(flat) <= width else flat[:width] + "…"

    wide = rows.pivot_table(index=["qid", "question"], columns="side", values="completion", aggfunc="first")
    wide = wide.reset_index().sort_values("qid").head(n)
    return pd.DataFrame({"question": wide.question, "honest": wide["pos"].map(cut), "dishonest": wide["neg"].map(cut)})
