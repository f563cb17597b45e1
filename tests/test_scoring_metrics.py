"""Scores against hand computations; fast scorer against the naive one; balanced Δ invariances."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from wsteer import dilemmas as dd
from wsteer.evaluate import evaluate_dilemmas
from wsteer.interventions import NoIntervention, SystemPrompt
from wsteer.metrics import balanced_delta, per_dilemma_shifts, seed_dilemma_bootstrap
from wsteer.scoring import (YesNoTokens, chat_prompt_ids, score_prompts, score_prompts_naive, tokens_computed,
                            yes_no_from_logits, yes_no_tokens)


def test_score_equals_hand_computation_with_multi_token_variants():
    logits = torch.tensor([[2.0, 0.5, -1.0, 1.5, 0.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    yn = YesNoTokens(yes=(0, 3), no=(1, 2, 4))
    out = yes_no_from_logits(logits, yn)
    for r in range(2):
        z = np.exp(logits[r].numpy().astype(np.float64))
        p = z / z.sum()
        p_yes, p_no = p[0] + p[3], p[1] + p[2] + p[4]
        assert math.isclose(out.score[r], math.log(p_yes) - math.log(p_no), abs_tol=1e-5)
        assert math.isclose(out.pmass[r], p_yes + p_no, abs_tol=1e-6)
    assert math.isclose(out.score[1], math.log(2 / 3), abs_tol=1e-6)


def test_yes_no_tokens_collects_every_variant(tiny):
    _, tok = tiny
    yn = yes_no_tokens(tok)
    yes_texts = {tok.decode([i]) for i in yn.yes}
    no_texts = {tok.decode([i]) for i in yn.no}
    assert {"Yes", " Yes", " yes"} <= yes_texts and {"No", " No", " no"} <= no_texts
    assert all(t.strip().lower() == "yes" for t in yes_texts) and all(t.strip().lower() == "no" for t in no_texts)


def _dilemma_prompts(tok, n_dilemmas=7):
    labels = dd.honesty_labels(dd.load_actions(), dd.load_values())
    rows = dd.select_rows(labels, n_per_group=3, n_offtarget=n_dilemmas - 6, seed=0)
    prompts = [chat_prompt_ids(tok, dd.prompt_messages(r.situation, r.action), dd.ASSISTANT_PREFILL) for r in rows.itertuples()]
    return rows, prompts


@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_fast_scorer_equals_naive_row_by_row(tiny, batch_size):
    model, tok = tiny
    rows, prompts = _dilemma_prompts(tok)
    assert len({len(p) for p in prompts}) > 3  # mixed lengths
    naive = score_prompts_naive(model, tok, prompts, batch_size=16)
    fast2 = score_prompts(model, tok, prompts, groups=list(rows.dilemma_idx), batch_size=batch_size)  # both levels
    fast1 = score_prompts(model, tok, prompts, groups=None, batch_size=batch_size)  # level 1 only
    for fast in (fast1, fast2):
        np.testing.assert_allclose(fast[["score", "logp_yes", "logp_no"]], naive[["score", "logp_yes", "logp_no"]], atol=1e-4)
    assert naive.score.std() > 1e-3  # the tiny model's scores vary, so the comparison can fail
    tc = tokens_computed(prompts, list(rows.dilemma_idx))
    assert tc["fast"] < tc["naive"]


def test_single_row_and_prompt_side_intervention(tiny):
    model, tok = tiny
    rows, prompts = _dilemma_prompts(tok)
    one = score_prompts(model, tok, prompts[:1])
    np.testing.assert_allclose(one.score, score_prompts_naive(model, tok, prompts[:1]).score, atol=1e-4)
    out = evaluate_dilemmas(model, tok, rows, [NoIntervention(), SystemPrompt("Always be honest.")], progress=False)
    assert set(out.intervention) == {"base", "system_prompt"} and len(out) == 2 * len(rows)
    a, b = (out[out.intervention == k].score.to_numpy() for k in ("base", "system_prompt"))
    assert np.abs(a - b).max() > 1e-4  # the system prompt reaches the model


def _synthetic_scores(rng, n_todo=6, n_not=3, n_none=4, alphas=(0.0, 1.0), seeds=(0, 1, 2)):
    rows = []
    d = 0
    for group, n in (("honest_todo", n_todo), ("honest_not_todo", n_not), ("none", n_none)):
        for _ in range(n):
            d += 1
            for at in ("to_do", "not_to_do"):
                honest = (group == "honest_todo") == (at == "to_do")
                label = 0 if group == "none" else (1 if honest else -1)
                for s in seeds:
                    for a in alphas:
                        rows.append({"method": "dW", "seed": s, "alpha": a, "dilemma_idx": d, "action_type": at,
                                     "label": label, "group": group, "score": rng.normal(), "pmass": 0.5})
    return pd.DataFrame(rows)


def test_balanced_delta_ignores_a_generic_shift_toward_acting():
    scores = _synthetic_scores(np.random.default_rng(0))
    base = per_dilemma_shifts(scores, by=["method", "seed"])
    shifted = scores.copy()
    shifted.loc[(shifted.action_type == "to_do") & (shifted.alpha != 0), "score"] += 5.0
    moved = per_dilemma_shifts(shifted, by=["method", "seed"])
    for s in (0, 1, 2):
        sel = lambda df: df[(df.seed == s) & (df.alpha == 1.0)]
        assert math.isclose(balanced_delta(sel(base)), balanced_delta(sel(moved)), abs_tol=1e-9)
        # the unbalanced (row-pooled) mean does move: the guard is needed
        pooled = lambda df: sel(df)[sel(df).group != "none"].delta.mean()
        assert abs(pooled(base) - pooled(moved)) > 0.5
    # and the off-target generic shift picks the constant up: ½(5 − 0) = 2.5 per dilemma
    g = lambda df: df[(df.group == "none") & (df.alpha == 1.0)].generic.mean()
    assert math.isclose(g(moved) - g(base), 2.5, abs_tol=1e-9)


def test_delta_sign_and_scale_match_definition():
    scores = _synthetic_scores(np.random.default_rng(1))
    honest = scores.label == 1
    scores.loc[honest & (scores.alpha == 1.0), "score"] += 2.0  # honest row +2, other row unchanged
    ref = _synthetic_scores(np.random.default_rng(1))
    d = per_dilemma_shifts(scores, by=["method", "seed"]).query("alpha == 1.0 and group != 'none'")
    d0 = per_dilemma_shifts(ref, by=["method", "seed"]).query("alpha == 1.0 and group != 'none'")
    np.testing.assert_allclose(d.delta.to_numpy() - d0.delta.to_numpy(), 1.0)  # ½·(+1)·2


def test_bootstrap_ci_covers_estimate_and_needs_identical_rows():
    scores = _synthetic_scores(np.random.default_rng(2))
    per_d = per_dilemma_shifts(scores, by=["method", "seed"]).query("alpha == 1.0")
    r = seed_dilemma_bootstrap(per_d, n_boot=300)
    assert r["ci_low"] <= r["estimate"] <= r["ci_high"] and r["n_seeds"] == 3
    with pytest.raises(ValueError, match="different dilemmas"):
        seed_dilemma_bootstrap(per_d[~((per_d.seed == 1) & (per_d.dilemma_idx == 1))], n_boot=10)


@pytest.mark.parametrize("sliding_window", [None, 16])
def test_fast_scorer_on_qwen2_architecture_and_sliding_windows(tiny, sliding_window):
    """qwen2 (q/k/v biases); with a sliding window shorter than the prompts the scorer falls back to the plain path."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    _, tok = tiny
    cfg = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, use_sliding_window=sliding_window is not None,
                      sliding_window=sliding_window or 4096, max_window_layers=0, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    rows, prompts = _dilemma_prompts(tok, n_dilemmas=7)
    naive = score_prompts_naive(model, tok, prompts)
    fast = score_prompts(model, tok, prompts, groups=list(rows.dilemma_idx), batch_size=5)
    np.testing.assert_allclose(fast.score, naive.score, atol=1e-4)
    assert naive.score.std() > 1e-3


def _completion_examples():
    qs = ["Where do you keep spare keys?", "Did you finish the report?", "Is the shop open today?"]
    answers = ["Under the mat, honestly.", "No, not yet; I will tell my boss.", "Yes.", "I think so, but check first.",
               "Absolutely, it is open until late tonight and on Sundays too.", ""]
    return [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q in qs for a in answers]


def test_naive_completion_logprob_equals_token_by_token_sum(tiny):
    from wsteer.evaluate import completion_logprobs
    from wsteer.train import encode_example

    model, tok = tiny
    ex = _completion_examples()[1]
    ids, labels = encode_example(tok, ex, 192)
    k = next(j for j, lab in enumerate(labels) if lab != -100)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
    hand = np.mean([logp[t - 1, ids[t]].item() for t in range(k, len(ids))])
    got = completion_logprobs(model, tok, [ex], method="naive")[0]
    assert math.isclose(got, hand, abs_tol=1e-5)


@pytest.mark.parametrize("batch_size,max_length", [(4, 192), (32, 192), (32, 56)])
def test_fast_completion_logprobs_equal_naive(tiny, batch_size, max_length):
    """Prefix-shared pass = naive pass, with groups larger than a batch, an empty answer and truncation."""
    from wsteer.evaluate import completion_logprobs

    model, tok = tiny
    ex = _completion_examples()
    ex = ex[::2] + ex[1::2]  # rows of one prompt not contiguous
    naive = completion_logprobs(model, tok, ex, batch_size=batch_size, max_length=max_length, method="naive")
    fast = completion_logprobs(model, tok, ex, batch_size=batch_size, max_length=max_length, method="fast")
    assert np.abs(fast - naive).max() < 1e-4
    assert np.ptp(naive) > 0.1  # the rows differ, so equality is not trivial
    with pytest.raises(ValueError, match="unknown method"):
        completion_logprobs(model, tok, ex[:1], method="exact")


def test_offtarget_sentence_names_only_shifts_whose_ci_excludes_zero():
    from wsteer.report import RunSummary, offtarget_sentence

    rows = [{"method": "dW", "alpha": a, "measure": "offtarget_generic", "estimate": e, "ci_low": lo, "ci_high": hi}
            for a, e, lo, hi in ((-2.0, -0.09, -0.15, -0.03), (-1.0, -0.04, -0.08, 0.01),
                                 (1.0, 0.03, -0.02, 0.10), (2.0, 0.04, -0.08, 0.15))]
    empty = pd.DataFrame()
    run = RunSummary("c", "m", "lora", pd.DataFrame(rows), empty, empty, empty, empty)
    text = offtarget_sentence({"M": run})
    assert "M at α = -2: -0.090 [-0.150, -0.030]" in text and "α = -1" not in text and "α = +1" not in text
    shifted = pd.DataFrame(rows).assign(ci_low=lambda d: d.ci_low.clip(upper=0), ci_high=lambda d: d.ci_high.clip(lower=0))
    assert offtarget_sentence({"M": RunSummary("c", "m", "lora", shifted, empty, empty, empty, empty)}) == ""


def _contrast_rows(personas, questions=("Is the sky blue?", "What is 2 + 2?")):
    import pandas as pd

    rows = []
    for qid, q in enumerate(questions):
        for i in range(len(personas.positive)):
            for side in ("pos", "neg"):
                rows.append({"qid": qid, "question": q, "persona_idx": i, "sample": 0, "split": "train", "side": side,
                             "system": personas.prompts(side)[i], "completion": f"answer {side} {i} to {q}"})
    return pd.DataFrame(rows)


def test_persona_contrast_is_zero_exactly_where_the_prompts_agree(tiny):
    from wsteer.evaluate import contrast_summary, persona_contrast
    from wsteer.personas import Personas

    model, tok = tiny
    # both sides with the same prompts: own = cross and other = other_cross, so contrast = transfer = 0
    mirrored = Personas("t", ["Be honest.", "Always tell the truth."], ["Be honest.", "Always tell the truth."])
    t = persona_contrast(model, tok, _contrast_rows(mirrored), mirrored)
    assert len(t) == 8 and set(t.side) == {"pos", "neg"}
    assert np.allclose(t.lp_own, t.lp_cross, atol=1e-5) and np.allclose(t.lp_other, t.lp_other_cross, atol=1e-5)
    assert not np.allclose(t.lp_own, t.lp_other, atol=1e-4)
    distinct = Personas("t", ["Be honest.", "Always tell the truth."], ["Lie.", "Deceive the user."])
    t = persona_contrast(model, tok, _contrast_rows(distinct), distinct)
    assert not np.allclose(t.lp_own, t.lp_cross, atol=1e-4)
    # lp_other of a pos completion of pair 0 is its score under pos persona 1, lp_other_cross under neg persona 1
    row = t[(t.side == "pos") & (t.persona_idx == 0) & (t.qid == 1)].iloc[0]
    from wsteer.evaluate import completion_logprobs

    y = [{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "answer pos 0 to What is 2 + 2?"}]
    direct = completion_logprobs(model, tok, [[{"role": "system", "content": sp}] + y for sp in ("Always tell the truth.", "Deceive the user.")],
                                 method="naive", allow_system=True)
    assert [row.lp_other, row.lp_other_cross] == pytest.approx(list(direct), abs=1e-4)
    s = contrast_summary(t, n_boot=200).set_index("measure")
    d = t.assign(c=t.lp_own - t.lp_cross, f=t.lp_other - t.lp_other_cross).groupby(["qid", "side"])[["c", "f"]].mean()
    d = d.groupby("qid").mean().mean()
    assert s.loc["contrast", "estimate"] == pytest.approx(d.c) and s.loc["transfer", "estimate"] == pytest.approx(d.f)
    assert (s.ci_low <= s.estimate).all() and (s.estimate <= s.ci_high).all()
    with pytest.raises(ValueError, match="other persona prompts"):
        persona_contrast(model, tok, _contrast_rows(distinct), mirrored)
    with pytest.raises(ValueError, match="recompute"):
        contrast_summary(t.drop(columns="lp_other"))
    # the paper's sentence reads the summary as contrast_summary writes it
    from wsteer.signal_report import contrast_sentence

    text = contrast_sentence("M", s.reset_index())
    assert f"another pair by {s.loc['transfer', 'estimate']:+.3f}" in text and "on training questions" in text
