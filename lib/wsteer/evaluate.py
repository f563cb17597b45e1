"""Score Daily Dilemmas rows and persona completions under a list of interventions, on identical rows.

`evaluate_dilemmas` -> one row per (intervention, α, action row): score = log P(Yes) − log P(No), pmass.
`completion_logprobs` -> mean per-token log p(y | q) of assistant completions (no system prompt), the
in-distribution measure: gap = ℓ(y_honest | q) − ℓ(y_dishonest | q) per (question, persona, sample).
"""
from __future__ import annotations

from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .dilemmas import ASSISTANT_PREFILL, prompt_messages
from .interventions import Intervention
from .scoring import chat_prompt_ids, score_prompts, score_prompts_naive
from .logprobs import mean_logprobs, mean_logprobs_naive
from .train import encode_example

ROW_KEYS = ["dilemma_idx", "action_type", "label", "group", "subset"]


def dilemma_prompt_ids(tok, rows: pd.DataFrame, intervention: Intervention) -> list[list[int]]:
    return [chat_prompt_ids(tok, intervention.messages(prompt_messages(r.situation, r.action)), ASSISTANT_PREFILL)
            for r in rows.itertuples()]


def evaluate_dilemmas(
    model, tok, rows: pd.DataFrame, interventions: Iterable[Intervention], batch_size: int = 32,
    scorer: Literal["fast", "naive"] = "fast", progress: bool = True,
) -> pd.DataFrame:
    """Long table: intervention, alpha, ROW_KEYS..., score, pmass, logp_yes, logp_no."""
    keys = [k for k in ROW_KEYS if k in rows.columns]
    out = []
    interventions = list(interventions)
    for iv in tqdm(interventions, desc="interventions", disable=not progress or len(interventions) < 2):
        prompts = dilemma_prompt_ids(tok, rows, iv)
        with iv.applied(model):
            if scorer == "fast":
                s = score_prompts(model, tok, prompts, groups=list(rows.dilemma_idx), batch_size=batch_size)
            elif scorer == "naive":
                s = score_prompts_naive(model, tok, prompts, batch_size=batch_size)
            else:
                raise ValueError(f"unknown scorer {scorer!r}")
        if not np.isfinite(s["score"]).all():
            raise FloatingPointError(f"non-finite scores under {iv.name} α={iv.alpha}: the intervention diverges")
        out.append(pd.concat([rows[keys].reset_index(drop=True), s], axis=1).assign(intervention=iv.name, alpha=iv.alpha))
    cols = ["intervention", "alpha", *keys, "score", "pmass", "logp_yes", "logp_no"]
    return pd.concat(out, ignore_index=True)[cols]


def completion_logprobs(model, tok, examples: Sequence[list[dict[str, str]]], batch_size: int = 32,
                        max_length: int = 192, method: Literal["fast", "naive"] = "fast",
                        allow_system: bool = False) -> np.ndarray:
    """Mean log-probability per assistant token, ℓ = Σ_t m_t log p(x_t | x_<t) / Σ_t m_t, one per example.

    Tokens as in training (`encode_example`: chat template, truncated to `max_length`); m marks the assistant turn.
    """
    encoded = [encode_example(tok, m, max_length, allow_system=allow_system) for m in examples]
    n_prompt = [next((j for j, lab in enumerate(labels) if lab != -100), len(labels)) for _, labels in encoded]
    prompts = [ids[:k] for (ids, _), k in zip(encoded, n_prompt)]
    answers = [ids[k:] for (ids, _), k in zip(encoded, n_prompt)]
    if method == "fast":
        return mean_logprobs(model, prompts, answers, tok.pad_token_id, batch_size)
    if method == "naive":
        return mean_logprobs_naive(model, prompts, answers, tok.pad_token_id, batch_size)
    raise ValueError(f"unknown method {method!r} (fast or naive)")


def indist_completions(completions: pd.DataFrame, n_train_questions: int) -> pd.DataFrame:
    """The in-distribution check's rows: every held-out question and the first `n_train_questions` training ones."""
    train_q = completions.loc[completions.split == "train", "qid"].drop_duplicates()
    keep = set(train_q.head(n_train_questions)) | set(completions.loc[completions.split == "heldout", "qid"])
    return completions[completions.qid.isin(keep)]


def persona_gap(model, tok, completions: pd.DataFrame, interventions: Iterable[Intervention], batch_size: int = 32) -> pd.DataFrame:
    """Per (intervention, α, qid, persona_idx, sample, split): lp_pos, lp_neg, gap = lp_pos − lp_neg (no system prompt)."""
    keys = ["qid", "persona_idx", "sample", "split"]
    pos = completions[completions.side == "pos"].set_index(keys).sort_index()
    neg = completions[completions.side == "neg"].set_index(keys).sort_index()
    if not pos.index.equals(neg.index):
        raise ValueError("persona completions: pos and neg sides are not paired")
    msgs = lambda df: [[{"role": "user", "content": q}, {"role": "assistant", "content": c}]
                       for q, c in zip(df.question, df.completion)]
    out = []
    for iv in interventions:
        with iv.applied(model):
            lp = completion_logprobs(model, tok, msgs(pos) + msgs(neg), batch_size)  # one pass: sides share prompts
        lp_pos, lp_neg = lp[:len(pos)], lp[len(pos):]
        out.append(pos.index.to_frame(index=False).assign(intervention=iv.name, alpha=iv.alpha, lp_pos=lp_pos,
                                                          lp_neg=lp_neg, gap=lp_pos - lp_neg))
    return pd.concat(out, ignore_index=True)


def persona_contrast(model, tok, completions: pd.DataFrame, personas, batch_size: int = 32) -> pd.DataFrame:
    """How much of its trait a completion carries under θ0, in nats per token. For y generated under
    (side s, persona index i) to question q, s̄ the other side, j = (i + 1) mod n another persona pair:
        lp_own   = ℓ(y | persona_s[i], q)     lp_cross       = ℓ(y | persona_s̄[i], q)
        lp_other = ℓ(y | persona_s[j], q)     lp_other_cross = ℓ(y | persona_s̄[j], q)
    contrast = lp_own − lp_cross: what the generating prompt's pair tells apart (trait and the generating prompt's
    own wording); transfer = lp_other − lp_other_cross: the same through a pair that did not generate y, so only
    what y shares with its side's framing in general (the trait). Averaged over both sides, a prompt that makes
    all text likelier cancels. Rows: qid, persona_idx, sample, split, side, lp_own, lp_cross, lp_other, lp_other_cross."""
    n = len(personas.positive)
    if n < 2:
        raise ValueError("persona_contrast needs at least two persona pairs (the transfer pair)")
    other = {"pos": "neg", "neg": "pos"}
    rows = completions.reset_index(drop=True)
    systems = {
        "own": [personas.prompts(r.side)[r.persona_idx] for r in rows.itertuples()],
        "cross": [personas.prompts(other[r.side])[r.persona_idx] for r in rows.itertuples()],
        "other": [personas.prompts(r.side)[(r.persona_idx + 1) % n] for r in rows.itertuples()],
        "other_cross": [personas.prompts(other[r.side])[(r.persona_idx + 1) % n] for r in rows.itertuples()],
    }
    if any(a != b for a, b in zip(systems["own"], rows.system)):
        raise ValueError("persona_contrast: the completions were generated under other persona prompts")
    msgs = [[{"role": "system", "content": s}, {"role": "user", "content": q}, {"role": "assistant", "content": c}]
            for kind in systems for s, q, c in zip(systems[kind], rows.question, rows.completion)]
    # no truncation: prompts of different length must not cut different amounts of the same completion
    lp = completion_logprobs(model, tok, msgs, batch_size, max_length=100_000, allow_system=True).reshape(len(systems), len(rows))
    keys = ["qid", "persona_idx", "sample", "split", "side"]
    return rows[keys].assign(**{f"lp_{k}": lp[m] for m, k in enumerate(systems)})


CONTRAST_COLUMNS = ("lp_own", "lp_cross", "lp_other", "lp_other_cross")


def contrast_summary(table: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per split: mean contrast (lp_own − lp_cross) and transfer (lp_other − lp_other_cross), nats per token,
    each averaged within a question over both sides, with 95 % bootstrap CIs over questions (× seeds if a `seed`
    column exists). Rows: split, measure, estimate, ci_low, ci_high, n_questions."""
    missing = set(CONTRAST_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"persona contrast table lacks {sorted(missing)}: recompute it (make contrast)")
    t = table.assign(contrast=table.lp_own - table.lp_cross, transfer=table.lp_other - table.lp_other_cross)
    unit = ["seed", "qid"] if "seed" in t else ["qid"]
    rng = np.random.default_rng(seed)
    out = []
    for split, g in t.groupby("split"):
        per_q = g.groupby(unit + ["side"])[["contrast", "transfer"]].mean().groupby(unit).mean()  # sides weigh equally
        idx = rng.integers(0, len(per_q), size=(n_boot, len(per_q)))
        for m in per_q:
            v = per_q[m].to_numpy()
            boot = v[idx].mean(1)
            out.append({"split": split, "measure": m, "estimate": v.mean(), "ci_low": np.quantile(boot, 0.025),
                        "ci_high": np.quantile(boot, 0.975), "n_questions": len(per_q)})
    return pd.DataFrame(out)
