"""The stages of one weight-steering run (config, model, adapter, seed), each cached and resumable.

generate   persona completions under θ0                  -> results/.../completions.csv
train      θ+ and θ− adapters from θ0 (shared init/order) -> cache/.../adapter_{pos,neg}/, train_log.csv
diff       dW = W+ − W− from merged weights                -> cache/.../dw.safetensors, dw_norms.csv
evaluate   Daily Dilemmas under θ0 + α·dW and α·R          -> dilemma_scores.csv   (R: norm-matched random)
indist     held-out / train persona log-prob gap           -> persona_gap.csv
Results (small tables) go to data/results/<config>/<model>/<adapter>/seed<k>/; heavy artefacts to
$WSTEER_CACHE/runs/<model>/<adapter>/<run_key>/seed<k>/ (git-ignored).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import torch

from . import dilemmas as dd
from .adapters import AdapterConfig
from .config import ExperimentConfig
from .diff import WeightDelta, delta_between
from .evaluate import CONTRAST_COLUMNS, evaluate_dilemmas, indist_completions, persona_contrast, persona_gap
from .interventions import NoIntervention, WeightSteering
from .io import read_table, write_table
from .models import load_model, resolve_spec
from .paths import REPO_ROOT, cache_dir, results_dir
from .personas import (Personas, generation_plan, generate_completions, load_personas, load_questions, placebo_sides,
                       split_questions, training_messages)
from .steer import WeightPatcher
from .train import merged_weights, train_adapter


@dataclass
class SeedRun:
    cfg: ExperimentConfig
    model_name: str
    adapter: str
    seed: int
    _random: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> str:
        return self.cfg.run_key(self.model_name, self.adapter)

    @property
    def model_label(self) -> str:
        """Path-safe model name: the registry name, or the last component of a local path / hub id."""
        return resolve_spec(self.model_name).name

    @property
    def results(self) -> Path:
        return results_dir() / self.cfg.name / self.model_label / self.adapter / f"seed{self.seed}"

    @property
    def cache(self) -> Path:
        return cache_dir() / "runs" / self.model_label / self.adapter / self.key / f"seed{self.seed}"

    def random_control(self, dw: WeightDelta) -> WeightDelta:
        """R: random dW with dW's per-tensor norms, seeded by (random_control_seed + seed); built once per dW."""
        key = dw.meta.get("dw_id") or id(dw)
        if key not in self._random:
            self._random.clear()
            self._random[key] = dw.random_like(seed=self.cfg.eval.random_control_seed + self.seed)
        return self._random[key]

    @property
    def eval_key(self) -> str:
        return self.cfg.eval_key(self.model_name, self.adapter)

    def cached_table(self, path: Path, **required: str) -> pd.DataFrame | None:
        """The table at `path` if it exists and every column in `required` (default: run_key) equals its value."""
        required = required or {"run_key": self.key}
        if not path.exists():
            return None
        old = read_table(path, dtype={k: str for k in required})
        ok = all(k in old and old[k].eq(v).all() for k, v in required.items())
        return old if ok else None

    @contextmanager
    def stage(self, name: str) -> Iterator[dict]:
        """Time a stage and record (stage, seconds, cached) in results/timings.csv atomically.

        A stage read back from disk keeps the time it took when it was computed (if recorded for this run key).
        """
        info = {"stage": name, "cached": False}
        t0 = time.perf_counter()
        yield info
        info["seconds"] = time.perf_counter() - t0
        path = self.results / "timings.csv"
        rows = self.cached_table(path)
        rows = [] if rows is None else rows[["stage", "cached", "seconds"]].to_dict("records")
        computed = [r for r in rows if r["stage"] == name and not r["cached"]]
        if info["cached"] and computed:
            return
        rows = [r for r in rows if r["stage"] != name] + [{k: info[k] for k in ("stage", "cached", "seconds")}]
        write_table(pd.DataFrame(rows).assign(seed=self.seed, model=self.model_label, adapter=self.adapter,
                                              run_key=self.key), path)


def personas_of(cfg: ExperimentConfig) -> Personas:
    p = load_personas(REPO_ROOT / cfg.personas.file)
    n = cfg.personas.n_personas
    if n > len(p.positive):
        raise ValueError(f"config asks for {n} personas per side, {cfg.personas.file} has {len(p.positive)}")
    return Personas(p.trait, p.positive[:n], p.negative[:n])


def shared_completions(run: SeedRun, gen_key: str) -> pd.DataFrame | None:
    """Completions of this model and seed made under another configuration (or adapter) with the same gen_key.

    Looks in results/*/<model>/*/seed<k>/completions.csv; generation depends on the persona settings only.
    """
    own = run.results / "completions.csv"
    for path in sorted(results_dir().glob(f"*/{run.model_label}/*/seed{run.seed}/completions.csv")):
        if path == own:
            continue
        df = read_table(path, dtype={"gen_key": str, "run_key": str})
        if "gen_key" in df and df.gen_key.eq(gen_key).all():
            return df
    return None


def generate(run: SeedRun, model, tok) -> pd.DataFrame:
    """Persona completions -> results/completions.csv (tagged with run_key and gen_key)."""
    path = run.results / "completions.csv"
    with run.stage("generate") as info:
        if (old := run.cached_table(path)) is not None:
            info["cached"] = True
            return old
        gen_key = run.cfg.gen_key(run.model_name)
        if (comp := shared_completions(run, gen_key)) is None:
            pc = run.cfg.personas
            questions = split_questions(load_questions(REPO_ROOT / pc.questions_file), pc.n_train, pc.n_heldout, seed=run.seed)
            personas = personas_of(run.cfg)
            plan = generation_plan(questions, personas, pc.n_samples)
            comp = generate_completions(model, tok, plan, personas, seed=run.seed, max_new_tokens=pc.max_new_tokens,
                                        temperature=pc.temperature, batch_size=pc.batch_size, shared_draws=pc.shared_draws)
        else:
            info["cached"] = True
        comp = comp.assign(run_key=run.key, gen_key=gen_key)
        write_table(comp, path)
        return comp


def _adapter_cfg(run: SeedRun) -> AdapterConfig:
    a = run.cfg.adapter
    return AdapterConfig(kind=run.adapter, rank=a.rank, alpha=a.alpha, target_modules=a.target_modules, extra=dict(a.extra))


def train_side(run: SeedRun, side: str, completions: pd.DataFrame) -> dict[str, torch.Tensor]:
    """Merged adapted weights W_side (trains, or reloads the cached adapter onto a fresh θ0)."""
    from peft import PeftModel

    adir = run.cache / f"adapter_{side}"
    base, tok = load_model(run.model_name)
    with run.stage(f"train_{side}") as info:
        if (adir / "adapter_config.json").exists():
            info["cached"] = True
            pm = PeftModel.from_pretrained(base, adir)
        else:
            data = placebo_sides(completions, run.seed) if run.cfg.train.placebo else completions
            examples = training_messages(data, side, split="train", max_new_tokens=run.cfg.personas.max_new_tokens,
                                         end_truncated_turns=run.cfg.train.end_truncated_turns)
            pm, log = train_adapter(base, tok, examples, _adapter_cfg(run), run.cfg.train,
                                    seed=run.seed, desc=f"train {side} seed{run.seed}")
            write_table(log.assign(side=side), run.results / f"train_log_{side}.csv")
            tmp = adir.with_name(adir.name + ".partial")
            pm.save_pretrained(tmp)
            tmp.rename(adir)
        _, weights = merged_weights(pm)
    return weights


def write_norms(run: SeedRun, dw: WeightDelta) -> None:
    """results/dw_norms.csv: per-tensor ‖dW‖_F, ‖W0‖_F and their ratio, tagged with the run key."""
    base, _ = load_model(run.model_name)
    params = dict(base.named_parameters())
    write_table(dw.norm_table({n: params[n].detach() for n in dw.names}).assign(run_key=run.key),
                run.results / "dw_norms.csv")


def compute_dw(run: SeedRun, completions: pd.DataFrame) -> WeightDelta:
    path = run.cache / "dw.safetensors"
    if path.exists():
        with run.stage("diff") as info:
            info["cached"] = True
            dw = WeightDelta.load(path)
        if run.cached_table(run.results / "dw_norms.csv") is None:
            write_norms(run, dw)
        return dw
    w_pos = train_side(run, "pos", completions)
    w_neg = train_side(run, "neg", completions)
    with run.stage("diff"):
        dw = delta_between(w_pos, w_neg, meta={"model": run.model_name, "adapter": run.adapter, "seed": str(run.seed),
                                               "run_key": run.key, "config": run.cfg.name})
        dw.meta["dw_id"] = dw.content_id()  # a bit-identical re-training keeps the evaluations valid
        del w_pos, w_neg
        write_norms(run, dw)
        dw.save(path)
    return dw


def eval_keys(run: SeedRun, dw: WeightDelta) -> dict[str, str]:
    """Evaluation tables are valid for one evaluation config *and* one dW (re-trained adapters invalidate them)."""
    return {"eval_key": run.eval_key, "dw_id": dw.meta.get("dw_id", "")}


def evaluation_rows(cfg: ExperimentConfig) -> pd.DataFrame:
    """The fixed Daily Dilemmas rows of a config (same rows for every seed, method and α)."""
    labels = dd.honesty_labels(dd.load_actions(), dd.load_values())
    return dd.select_rows(labels, cfg.eval.n_per_group, cfg.eval.n_offtarget, seed=cfg.eval.row_seed)


def steering_variants(run: SeedRun, dw: WeightDelta, patcher: WeightPatcher, alphas) -> list:
    """θ0, θ0 + α·dW and θ0 + α·R for α ≠ 0, sharing one W0 copy (R: norm-matched random, seeded per seed)."""
    rand = run.random_control(dw)
    out = [NoIntervention(name="base")]
    for a in alphas:
        if a != 0:
            out += [WeightSteering(dw, a, name="dW", patcher=patcher), WeightSteering(rand, a, name="random", patcher=patcher)]
    return out


def _with_base_for_each_method(df: pd.DataFrame) -> pd.DataFrame:
    """Tidy: the θ0 rows appear once per method with α = 0, so each method's curve has its own reference."""
    base = df[df.intervention == "base"]
    rest = df[df.intervention != "base"]
    parts = [rest] + [base.assign(intervention=m) for m in rest.intervention.unique()]
    return pd.concat(parts, ignore_index=True).rename(columns={"intervention": "method"})


def _steered_table(run: SeedRun, stage: str, name: str, model, dw: WeightDelta, alphas,
                   score: Callable[[list], pd.DataFrame]) -> pd.DataFrame:
    """results/<name>: `score(variants)` over θ0, θ0 ± α·dW and the random control, cached by eval key and dW id."""
    path = run.results / name
    with run.stage(stage) as info:
        if (old := run.cached_table(path, **eval_keys(run, dw))) is not None:
            info["cached"] = True
            return old
        variants = steering_variants(run, dw, WeightPatcher(model, dw.names), alphas)
        out = _with_base_for_each_method(score(variants)).assign(seed=run.seed, run_key=run.key, **eval_keys(run, dw))
        write_table(out, path)
        return out


def evaluate(run: SeedRun, model, tok, dw: WeightDelta) -> pd.DataFrame:
    """Daily Dilemmas scores of the config's fixed rows -> dilemma_scores.csv."""
    rows = evaluation_rows(run.cfg)
    return _steered_table(run, "evaluate", "dilemma_scores.csv", model, dw, run.cfg.eval.alphas,
                          lambda v: evaluate_dilemmas(model, tok, rows, v, batch_size=run.cfg.eval.batch_size))


def indist(run: SeedRun, model, tok, dw: WeightDelta, completions: pd.DataFrame) -> pd.DataFrame:
    """Persona log-prob gap on all held-out questions and the first `indist_train_questions` training ones."""
    rows = indist_completions(completions, run.cfg.eval.indist_train_questions)
    return _steered_table(run, "indist", "persona_gap.csv", model, dw, run.cfg.eval.indist_alphas,
                          lambda v: persona_gap(model, tok, rows, v))


def cached_contrast(run: SeedRun) -> pd.DataFrame | None:
    """results/persona_contrast.csv if it scored this run's completions (same gen_key) with the current columns."""
    old = run.cached_table(run.results / "persona_contrast.csv", gen_key=run.cfg.gen_key(run.model_name))
    return old if old is not None and set(CONTRAST_COLUMNS) <= set(old.columns) else None


def contrast(run: SeedRun, model, tok, completions: pd.DataFrame) -> pd.DataFrame:
    """Persona contrast of the in-distribution rows under θ0 (`evaluate.persona_contrast`) -> persona_contrast.csv.

    Depends only on the completions, so it is keyed (and reused) by their generation key."""
    with run.stage("contrast") as info:
        if (old := cached_contrast(run)) is not None:
            info["cached"] = True
            return old
        rows = indist_completions(completions, run.cfg.eval.indist_train_questions)
        out = persona_contrast(model, tok, rows, personas_of(run.cfg), batch_size=run.cfg.eval.batch_size)
        out = out.assign(seed=run.seed, gen_key=run.cfg.gen_key(run.model_name))
        write_table(out, run.results / "persona_contrast.csv")
        return out


STAGE_SETS = {"all": ("generate", "dw", "evaluate", "indist"), "screen": ("generate", "dw", "indist")}


def run_seed(cfg: ExperimentConfig, model_name: str, adapter: str, seed: int, stages: str = "all") -> SeedRun:
    """The stages of one seed ('all', or 'screen': no Daily Dilemmas evaluation); finished stages are read back."""
    if stages not in STAGE_SETS:
        raise ValueError(f"stages must be one of {sorted(STAGE_SETS)}, got {stages!r}")
    run = SeedRun(cfg, model_name, adapter, seed)
    model, tok = load_model(model_name)
    comp = generate(run, model, tok)
    dw = compute_dw(run, comp)
    if "evaluate" in STAGE_SETS[stages]:
        evaluate(run, model, tok, dw)
    indist(run, model, tok, dw, comp)
    return run
