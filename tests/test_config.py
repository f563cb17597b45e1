"""Experiment configs: `extends:` resolution, placebo twins, and run keys of the committed results."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from wsteer.config import config_files, load_config, parent_name
from wsteer.paths import REPO_ROOT, configs_dir

COMMITTED = sorted(p.stem for p in (configs_dir() / "experiments").glob("*.yaml"))


def _write(folder: Path, name: str, body: dict) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_extends_overrides_section_keys_and_replaces_lists(tmp_path):
    _write(tmp_path, "base", {"name": "base", "seeds": [0, 1, 2],
                              "personas": {"n_train": 20, "shared_draws": True},
                              "adapter": {"rank": 8, "target_modules": ["q_proj", "v_proj"]},
                              "eval": {"alphas": [-1, 0, 1]}})
    _write(tmp_path, "knob", {"extends": "base", "name": "knob", "personas": {"n_train": 80},
                              "adapter": {"target_modules": ["o_proj"]}})
    twin = _write(tmp_path, "knob-placebo", {"extends": "knob", "name": "knob-placebo", "train": {"placebo": True}})
    cfg = load_config(twin)
    assert cfg.name == "knob-placebo" and cfg.seeds == (0, 1, 2) and cfg.train.placebo
    assert (cfg.personas.n_train, cfg.personas.shared_draws) == (80, True)  # one key replaced, its sibling kept
    assert (cfg.adapter.rank, cfg.adapter.target_modules) == (8, ["o_proj"])  # lists replace, not append
    assert cfg.eval.alphas == (-1.0, 0.0, 1.0)
    assert [p.name for p in config_files(twin)] == ["knob-placebo.yaml", "knob.yaml", "base.yaml"]


@pytest.mark.parametrize("files, message", [
    ({"a": {"extends": "b", "name": "a"}, "b": {"extends": "a", "name": "b"}}, "extends itself"),
    ({"a": {"extends": "nowhere", "name": "a"}}, "extends 'nowhere', which does not exist"),
    ({"a": {"extends": "b"}, "b": {"name": "b"}}, "needs its own `name`"),
    ({"a": {"extends": "b", "name": "a", "train": {"epoch": 4}}, "b": {"name": "b"}}, r"unknown keys \['epoch'\]"),
    ({"a": {"extends": "b", "name": "a"}, "b": ["name", "b"]}, "a config is a mapping of keys, got list"),
])
def test_bad_extends_chains_fail_with_the_reason(tmp_path, files, message):
    for name, body in files.items():
        _write(tmp_path, name, body)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_config(tmp_path / "a.yaml")


@pytest.mark.parametrize("name", [n for n in COMMITTED if n.endswith("-placebo")])
def test_every_committed_placebo_config_is_the_twin_of_the_config_it_extends(name):
    """A twin states only `train.placebo`: its recipe can not drift from its real config's."""
    from wsteer.signal import recipe

    twin = load_config(name)
    real = load_config(parent_name(name))
    assert twin.train.placebo and not real.train.placebo
    assert recipe(twin) == recipe(real) and (twin.seeds, twin.eval) == (real.seeds, real.eval)


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_results_keep_the_run_keys_of_their_config(name):
    """Config files may be restructured (e.g. into `extends:` chains) but must resolve to the committed runs' keys."""
    cfg = load_config(name)
    checked = 0
    for model in dict.fromkeys((*cfg.models, "qwen2.5-coder-0.5b")):
        for path in sorted((REPO_ROOT / "data" / "results" / name / model / "lora").glob("seed*/completions.csv")):
            comp = pd.read_csv(path, dtype=str, usecols=["run_key", "gen_key"])
            assert comp.run_key.eq(cfg.run_key(model, "lora")).all(), path
            assert comp.gen_key.eq(cfg.gen_key(model)).all(), path
            checked += 1
    if name in ("default", "signal-placebo", "signal-q80"):
        assert checked >= 3, f"no committed seeds found for {name}"


def test_study_sentence_names_the_adopted_recipe_with_its_rank_and_cost(tmp_path):
    from wsteer.signal_report import study_sentence

    study = _write(tmp_path, "study", {"extends": "b", "name": "study"})
    summary = pd.DataFrame([
        {"config": "a", "placebo": False, "null_is_twin": True, "separation": 1.0, "computed_minutes_per_seed": 5.0},
        {"config": "b", "placebo": False, "null_is_twin": True, "separation": 1.5, "computed_minutes_per_seed": 9.2},
        {"config": "c", "placebo": False, "null_is_twin": False, "separation": 2.5, "computed_minutes_per_seed": 3.0},
        {"config": "b-placebo", "placebo": True, "null_is_twin": False, "separation": float("nan"),
         "computed_minutes_per_seed": 6.0}])
    text = study_sentence("no-such-model", summary, study=study)
    assert "`study`" in text and "recipe of b: z = 1.50, rank 1 of 2 recipes" in text and "9 min per seed" in text
    assert "Daily Dilemmas" not in text  # no evaluation timed for this model
    assert "has not been screened" in study_sentence("m", summary[summary.config != "b"], study=study)
    with pytest.raises(ValueError, match="must extend"):
        study_sentence("m", summary, study=_write(tmp_path, "loose", {"name": "loose"}))


def test_the_study_default_adopts_a_screened_real_recipe():
    from wsteer.signal import SCREEN_ORDER

    recipe = parent_name("study")
    assert recipe in SCREEN_ORDER and not load_config(recipe).train.placebo
    assert load_config("study").run_key("smollm2-135m", "lora") == load_config(recipe).run_key("smollm2-135m", "lora")
