"""Speed harness: `python -m wsteer.bench [--model smollm2-135m] [--rows N] [--out data/results/bench.csv]`.

Every figure is measured in the same process, so ratios hold on machines of different speed.
FLOP accounting (stated, not measured): a forward token costs 2·N_lin FLOPs, N_lin = parameters of the
linear layers in the decoder stack (attention score/softmax FLOPs excluded); the answer position adds
2·d·V for the lm_head. A LoRA training token costs 4·N_lin (forward + activation gradients through the
frozen path; frozen weights get no weight gradient) + 6·N_lora.
Rows of bench.csv: metric, naive, fast, ratio (fast/naive, or naive/fast for times), limit, fraction, unit, note.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import dilemmas as dd
from .adapters import AdapterConfig, peft_config
from .diff import WeightDelta, delta_between
from .evaluate import dilemma_prompt_ids, evaluate_dilemmas
from .interventions import NoIntervention, WeightSteering
from .io import write_table
from .metrics import per_dilemma_shifts
from .models import load_model
from .paths import results_dir
from .scoring import score_prompts, score_prompts_naive, tokens_computed
from .steer import WeightPatcher


@contextmanager
def timed(out: dict, key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    out[key] = time.perf_counter() - t0


def linear_params(model) -> int:
    """N_lin: parameters of nn.Linear layers inside the decoder stack (lm_head excluded)."""
    return sum(m.weight.numel() for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and ".layers." in n)


def matmul_flops(dtype: torch.dtype, m: int = 512, k: int = 576, n: int = 1536, seconds: float = 2.0) -> float:
    """Sustained FLOP/s of (m×k)@(k×n) in `dtype`, the model's own MLP shape by default."""
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        a @ b
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
    return 2 * m * k * n * reps / (time.perf_counter() - t0)


def labelled_rows(n_rows: int | None) -> pd.DataFrame:
    labels = dd.honesty_labels(dd.load_actions(), dd.load_values())
    rows = labels[labels.group.isin(["honest_todo", "honest_not_todo"])].copy()
    rows["subset"] = "honesty"
    if n_rows is not None:
        keep = rows.dilemma_idx.drop_duplicates().iloc[: max(1, n_rows // 2)]
        rows = rows[rows.dilemma_idx.isin(keep)]
    return rows.reset_index(drop=True)


def bench_scoring(model, tok, rows: pd.DataFrame, n_lin: int, limit: float) -> tuple[list[dict], pd.DataFrame]:
    prompts = dilemma_prompt_ids(tok, rows, NoIntervention())
    groups = list(rows.dilemma_idx)
    t: dict[str, float] = {}
    with timed(t, "naive"):
        naive = score_prompts_naive(model, tok, prompts, batch_size=16)
    with timed(t, "fast"):
        fast = score_prompts(model, tok, prompts, groups=groups, batch_size=32)
    toks = tokens_computed(prompts, groups)
    d, v = model.config.hidden_size, model.config.vocab_size
    flop_fast = (toks["fast"] * 2 * n_lin + 2 * d * v) * len(rows)
    flop_naive = (toks["naive"] * 2 * n_lin + toks["naive"] * 2 * d * v) * len(rows)
    n = len(rows)
    diff = (fast.score - naive.score).abs()
    out = [
        {"metric": "scoring rows/s", "naive": n / t["naive"], "fast": n / t["fast"], "ratio": t["naive"] / t["fast"], "unit": "rows/s",
         "note": f"{n} labelled rows; naive: batch 16, file order, whole prompt, full logits; fast: two-level shared prefix, batch 32"},
        {"metric": "tokens computed per row", "naive": toks["naive"], "fast": toks["fast"], "ratio": toks["naive"] / toks["fast"], "unit": "tokens"},
        {"metric": "scoring FLOP/s on computed tokens", "naive": flop_naive / t["naive"], "fast": flop_fast / t["fast"],
         "ratio": (flop_fast / t["fast"]) / (flop_naive / t["naive"]), "limit": limit, "fraction": flop_fast / t["fast"] / limit, "unit": "FLOP/s",
         "note": "2·N_lin per computed token + lm_head at scored positions; limit = float32 matmul FLOP/s of the model's MLP shape, same run"},
        {"metric": "max |score fast − naive|", "naive": 0.0, "fast": float(diff.max()), "unit": "nats", "note": "target ≤ 1e-4 (float32)"},
    ]
    return out, naive


def bench_bf16(model_name: str, rows: pd.DataFrame, dw: WeightDelta, alpha: float) -> dict:
    """bfloat16 against float32 on the same rows: score error, preference and steering-shift sign agreement, speed."""
    res = {}
    for dtype in (torch.float32, torch.bfloat16):
        model, tok = load_model(model_name, dtype=dtype, device="cpu")
        ivs = [NoIntervention(), WeightSteering(WeightDelta({n: t.to(dtype) for n, t in dw.tensors.items()}), alpha)]
        t: dict[str, float] = {}
        with timed(t, "s"):
            s = evaluate_dilemmas(model, tok, rows, ivs, progress=False)
        res[dtype] = (s, t["s"])
        del model
    (s32, t32), (s16, t16) = res[torch.float32], res[torch.bfloat16]
    err = (s16.score - s32.score).abs()
    shift = lambda s: per_dilemma_shifts(s.assign(method="m", seed=0, alpha=np.where(s.intervention == "base", 0.0, alpha)),
                                         by=["method", "seed"]).query("alpha != 0").delta.to_numpy()
    d32, d16 = shift(s32), shift(s16)
    return {"max_err": float(err.max()), "mean_err": float(err.mean()),
            "pref_agree": float(np.mean(np.sign(s16.score) == np.sign(s32.score))),
            "shift_agree": float(np.mean(np.sign(d16) == np.sign(d32))), "speedup": t32 / t16, "t32": t32, "t16": t16}


def _random_lora(model_name: str, seed: int, out: Path) -> Path:
    """A LoRA adapter with random A and B (stands in for a trained one: the loop's cost does not depend on values)."""
    from peft import get_peft_model

    model, _ = load_model(model_name, device="cpu")
    torch.manual_seed(seed)
    cfg = peft_config(AdapterConfig(kind="lora", rank=8, alpha=16, extra={"init_lora_weights": False}))
    pm = get_peft_model(model, cfg)
    pm.save_pretrained(out)
    return out


def bench_sweep(model_name: str, rows: pd.DataFrame, alphas: list[float], workdir: Path) -> tuple[dict, WeightDelta]:
    """N α variants: patch in place (one W0 copy) vs the naive loop (load θ0, load and merge both adapters, evaluate)."""
    from peft import PeftModel

    from .train import merged_weights

    pos, neg = _random_lora(model_name, 1, workdir / "pos"), _random_lora(model_name, 2, workdir / "neg")

    def merged(adir: Path) -> dict[str, torch.Tensor]:
        base, _ = load_model(model_name, device="cpu")
        return merged_weights(PeftModel.from_pretrained(base, adir))[1]

    t: dict[str, float] = {}
    with timed(t, "naive"):
        for a in tqdm(alphas, desc="sweep (naive loop)"):
            w_pos, w_neg = merged(pos), merged(neg)
            model, tok = load_model(model_name, device="cpu")
            params = dict(model.named_parameters())
            with torch.no_grad():
                for n in w_pos:
                    params[n].add_(w_pos[n] - w_neg[n], alpha=a)
            evaluate_dilemmas(model, tok, rows, [NoIntervention(name="v", alpha=a)], progress=False)
            del model, w_pos, w_neg
    dw = delta_between(merged(pos), merged(neg))
    model, tok = load_model(model_name, device="cpu")
    patcher = WeightPatcher(model, dw.names)
    with timed(t, "fast"):
        evaluate_dilemmas(model, tok, rows, [WeightSteering(dw, a, patcher=patcher) for a in alphas], progress=False)
    with timed(t, "one"):
        evaluate_dilemmas(model, tok, rows, [NoIntervention()], progress=False)
    return {"naive": t["naive"], "fast": t["fast"], "one": t["one"], "n": len(alphas)}, dw


def bench_generation(model, tok, batch_sizes: list[int], new_tokens: int = 32) -> dict[int, float]:
    """New tokens/s of greedy generation with the KV cache, per batch size (prompts: chat-templated questions)."""
    q = "Is it safe to drink water from a mountain stream without boiling it?"
    text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
    out = {}
    for b in batch_sizes:
        enc = tok([text] * b, return_tensors="pt", padding=True, add_special_tokens=False)
        t0 = time.perf_counter()
        with torch.inference_mode():
            gen = model.generate(**enc, do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                 pad_token_id=tok.pad_token_id)
        out[b] = (gen.shape[1] - enc["input_ids"].shape[1]) * b / (time.perf_counter() - t0)
    return out


def bench_train_step(model_name: str, n_lin: int, limit: float, batch: int = 8, seq: int = 96, steps: int = 3) -> dict:
    from peft import get_peft_model

    model, _ = load_model(model_name, device="cpu")
    pm = get_peft_model(model, peft_config(AdapterConfig(kind="lora", rank=8, alpha=16)))
    n_lora = sum(p.numel() for p in pm.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in pm.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    pm(input_ids=ids, labels=ids).loss.backward()  # warm-up
    opt.zero_grad()
    t0 = time.perf_counter()
    for _ in range(steps):
        pm(input_ids=ids, labels=ids).loss.backward()
        opt.step()
        opt.zero_grad()
    dt = (time.perf_counter() - t0) / steps
    flops = (4 * n_lin + 6 * n_lora) * batch * seq / dt
    return {"tok_s": batch * seq / dt, "flops": flops, "fraction": flops / limit, "step_s": dt}


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear", "aten::baddbmm")


def persona_gap_examples(model_name: str, config: str = "default", n_train_questions: int = 6) -> list:
    """The in-distribution check's examples of seed 0 (`evaluate.indist_completions`, both sides), from the
    committed completions; a fixed synthetic set when the run has not happened here."""
    from .evaluate import indist_completions
    from .models import resolve_spec

    path = results_dir() / config / resolve_spec(model_name).name / "lora" / "seed0" / "completions.csv"
    if path.exists():
        comp = indist_completions(pd.read_csv(path), n_train_questions)
        pairs = zip(comp.question, comp.completion.fillna(""))
    else:
        pairs = [(f"Question {q}: what would you do about the {q}th problem?", f"Answer {p} " * (3 + p))
                 for q in range(12) for p in range(10)]
    return [[{"role": "user", "content": q}, {"role": "assistant", "content": c}] for q, c in pairs]


def persona_gap_logprobs(model, tok, examples: list, method: str) -> np.ndarray:
    """One in-distribution variant's completion log-probs by `method` (batch 16 naive, 32 prefix-shared)."""
    from .evaluate import completion_logprobs

    return completion_logprobs(model, tok, examples, batch_size=32 if method == "fast" else 16, method=method)


def bench_persona_gap(model, tok, model_name: str) -> dict:
    """Completion log-probs of one in-distribution variant: naive (whole x ⧺ y) vs prefix-shared."""
    ex = persona_gap_examples(model_name)
    t: dict[str, float] = {}
    with timed(t, "naive"):
        naive = persona_gap_logprobs(model, tok, ex, "naive")
    with timed(t, "fast"):
        fast = persona_gap_logprobs(model, tok, ex, "fast")
    return {"n": len(ex), "naive": len(ex) / t["naive"], "fast": len(ex) / t["fast"],
            "max_err": float(np.abs(fast - naive).max())}


def profile_scoring(model, tok, rows: pd.DataFrame, top: int = 15) -> pd.DataFrame:
    """torch.profiler over one fast-scorer pass: self CPU time per op, its share, and whether it is a matmul."""
    from torch.profiler import ProfilerActivity, profile

    prompts = dilemma_prompt_ids(tok, rows, NoIntervention())
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        score_prompts(model, tok, prompts, groups=list(rows.dilemma_idx), batch_size=32)
    ev = pd.DataFrame([{"op": e.key, "self_cpu_s": e.self_cpu_time_total / 1e6, "calls": e.count} for e in prof.key_averages()])
    ev["share"] = ev.self_cpu_s / ev.self_cpu_s.sum()
    ev["matmul"] = ev.op.isin(MATMUL_OPS)
    ev = ev.sort_values("self_cpu_s", ascending=False)
    summary = pd.DataFrame([{"op": "ALL matmul ops", "self_cpu_s": ev[ev.matmul].self_cpu_s.sum(), "calls": int(ev[ev.matmul].calls.sum()),
                             "share": ev[ev.matmul].share.sum(), "matmul": True}])
    return pd.concat([summary, ev.head(top)], ignore_index=True)


def main_job_rows(config: str = "default", model: str = "smollm2-135m") -> list[dict]:
    """Target 5 from the workflow's own records: wall seconds per stage of the last full run (median over seeds)."""
    from .timing import stage_times

    t = stage_times(config)
    t = t[(t.model == model) & ~t.cached.astype(bool) & ~t.stage.str.contains("snakemake")]
    per_stage = t.groupby("stage").seconds.median()
    total = float(per_stage.sum()) * t.seed.nunique()
    rows = [{"metric": f"main job stage '{st}' (median over seeds)", "fast": sec, "unit": "s",
             "note": f"data/results/{config}/stage_times.csv"} for st, sec in per_stage.items()]
    rows.append({"metric": f"main job, {t.seed.nunique()} seeds (sum of median stage times)", "fast": total, "limit": 1800.0,
                 "fraction": total / 1800.0, "unit": "s", "note": "target ≤ 30 min on 2 cores"})
    return rows


def persona_gap_rows(model, tok, model_name: str) -> list[dict]:
    g = bench_persona_gap(model, tok, model_name)
    return [{"metric": f"in-distribution log-probs, {g['n']} completions", "naive": g["naive"], "fast": g["fast"],
             "ratio": g["fast"] / g["naive"], "unit": "completions/s",
             "note": "naive: whole prompt + completion per row; fast: shared prompt prefix once"},
            {"metric": "max |ℓ fast − naive| (in-distribution)", "fast": g["max_err"], "limit": 1e-4, "unit": "nats/token"}]


def run_bench(model_name: str = "smollm2-135m", n_rows: int | None = None, sweep_rows: int = 64,
              alphas: tuple[float, ...] = (-2.0, -1.0, 1.0, 2.0, 4.0), gen_batches: tuple[int, ...] = (8, 32, 64),
              out: Path | None = None, bf16: bool = True) -> pd.DataFrame:
    torch.manual_seed(0)
    limit32 = matmul_flops(torch.float32)
    limit16 = matmul_flops(torch.bfloat16)
    model, tok = load_model(model_name, device="cpu")
    n_lin = linear_params(model)
    rows = labelled_rows(n_rows)
    table, _ = bench_scoring(model, tok, rows, n_lin, limit32)
    out = out or results_dir() / "bench.csv"
    write_table(profile_scoring(model, tok, rows.head(64)).assign(model=model_name), out.with_name(out.stem + "_profile.csv"))
    table += persona_gap_rows(model, tok, model_name)
    table.append({"metric": "matmul FLOP/s (model MLP shape)", "naive": limit32, "fast": limit16, "ratio": limit16 / limit32,
                  "unit": "FLOP/s", "note": "naive column: float32; fast column: bfloat16"})
    with tempfile.TemporaryDirectory() as tmp:
        sweep_rows_df = labelled_rows(sweep_rows)
        sw, dw = bench_sweep(model_name, sweep_rows_df, list(alphas), Path(tmp))
    table.append({"metric": f"sweep of {sw['n']} α variants", "naive": sw["naive"], "fast": sw["fast"], "ratio": sw["naive"] / sw["fast"],
                  "limit": sw["n"] * sw["one"], "fraction": sw["fast"] / (sw["n"] * sw["one"]), "unit": "s",
                  "note": f"{len(sweep_rows_df)} rows; naive: load θ0 + both adapters + merge per variant; limit = N × one θ0 evaluation; target fraction ≤ 1.02"})
    if bf16:
        b = bench_bf16(model_name, rows, dw, alpha=1.0)
        table.append({"metric": "bfloat16 vs float32 scoring", "naive": b["t32"], "fast": b["t16"], "ratio": b["speedup"], "unit": "s",
                      "note": f"max|Δscore| {b['max_err']:.3f}, mean {b['mean_err']:.4f}; Yes/No preference sign kept {b['pref_agree']:.3f}; "
                              f"Δ_d(α=1) sign kept {b['shift_agree']:.3f} (random LoRA dW)"})
    gen = bench_generation(model, tok, list(gen_batches))
    lo, hi = min(gen_batches), max(gen_batches)
    table.append({"metric": f"generation new tokens/s (batch {lo} vs {hi})", "naive": gen[lo], "fast": gen[hi], "ratio": gen[hi] / gen[lo],
                  "unit": "tok/s", "note": "; ".join(f"batch {k}: {v:.1f}" for k, v in gen.items())})
    del model
    tr = bench_train_step(model_name, n_lin, limit32)
    table.append({"metric": "LoRA step (r=8, all linear, 8×96 tokens)", "fast": tr["tok_s"], "limit": limit32, "fraction": tr["fraction"],
                  "unit": "tok/s", "note": f"{tr['step_s']:.2f} s/step; FLOPs = (4·N_lin + 6·N_lora)·tokens"})
    table.append({"metric": "peak RSS of the bench process", "fast": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "unit": "MiB", "note": f"dW all linear layers: {sum(t.numel() for t in dw.tensors.values()) * 4 / 2**20:.0f} MiB float32, held once"})
    try:
        table += main_job_rows()
    except FileNotFoundError:
        pass  # no workflow run on this machine yet
    df = pd.DataFrame(table, columns=["metric", "naive", "fast", "ratio", "limit", "fraction", "unit", "note"]).assign(model=model_name)
    write_table(df, out)
    return df


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--rows", type=int, default=None, help="labelled rows to score (default: all)")
    p.add_argument("--sweep-rows", type=int, default=64)
    p.add_argument("--no-bf16", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--only", choices=["persona_gap", "persona_gap_fast", "persona_gap_naive"], default=None,
                   help="one part only, printed and not written (the full run writes bench.csv); the _fast/_naive "
                        "variants run one method, for timing whole processes against each other")
    a = p.parse_args(argv)
    if a.only:
        model, tok = load_model(a.model, device="cpu")
        if a.only == "persona_gap":
            print(pd.DataFrame(persona_gap_rows(model, tok, a.model)).to_string(index=False))
        else:
            method = a.only.removeprefix("persona_gap_")
            lp = persona_gap_logprobs(model, tok, persona_gap_examples(a.model), method)
            print(f"{method}: {len(lp)} completions, mean ℓ {lp.mean():.6f}")
        return
    df = run_bench(a.model, a.rows, a.sweep_rows, out=a.out, bf16=not a.no_bf16)
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(df.drop(columns="model").to_string(index=False, float_format=lambda x: f"{x:.4g}"))


if __name__ == "__main__":
    main()
