"""Next-token Yes/No scoring of chat prompts, naive and with a two-level shared-prefix KV cache.

For a prompt x (chat template, assistant turn pre-filled), with next-token log-probabilities ℓ = log_softmax(logits):
    log P(Yes) = logsumexp_{v ∈ Y} ℓ_v,   Y = {v : decode(v).strip().lower() == "yes"}
    log P(No)  = logsumexp_{v ∈ N} ℓ_v
    score = log P(Yes) − log P(No),       pmass = P(Yes) + P(No)

`score_prompts_naive`: one forward per batch of rows in the given order, whole prompt, full logits.
`score_prompts`: the same numbers with fewer tokens computed. Level 1: the token prefix P common to every
prompt is run once (batch 1). Level 2: rows that share a `group` (the two actions of a dilemma) share the
segment S_g after P, run once per group on top of P's cache. Each row then runs only its own suffix R_r.
Pads sit between segments (masked, positions continue from the real length), so the last position of
every row is a real token and `logits_to_keep=1` suffices.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .kv_prefix import (batch_groups, broadcast, common_prefix_len, extend, left_pad, prefix_cache, select_rows,
                        smallest_sliding_window)

SCORE_COLUMNS = ["score", "pmass", "logp_yes", "logp_no"]


@dataclass(frozen=True)
class YesNoTokens:
    yes: tuple[int, ...]
    no: tuple[int, ...]


@lru_cache(maxsize=8)
def _yes_no_cached(tok_id: int, tok) -> YesNoTokens:  # noqa: ARG001 - tok_id keys the cache
    yes, no = [], []
    for i in range(len(tok)):
        text = tok.decode([i]).strip().lower()
        if text == "yes":
            yes.append(i)
        elif text == "no":
            no.append(i)
    if not yes or not no:
        raise ValueError(f"tokenizer {tok.name_or_path!r} has no token decoding to yes ({len(yes)}) or no ({len(no)})")
    return YesNoTokens(tuple(yes), tuple(no))


def yes_no_tokens(tok) -> YesNoTokens:
    """Every vocabulary id whose decoded text, stripped and lower-cased, is 'yes' or 'no'."""
    return _yes_no_cached(id(tok), tok)


def yes_no_from_logits(logits: torch.Tensor, yn: YesNoTokens) -> pd.DataFrame:
    """logits (rows, vocab) at the answer position -> DataFrame with SCORE_COLUMNS."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    lp_yes = torch.logsumexp(logp[:, list(yn.yes)], dim=-1)
    lp_no = torch.logsumexp(logp[:, list(yn.no)], dim=-1)
    return pd.DataFrame(
        {
            "score": (lp_yes - lp_no).numpy(),
            "pmass": (lp_yes.exp() + lp_no.exp()).numpy(),
            "logp_yes": lp_yes.numpy(),
            "logp_no": lp_no.numpy(),
        }
    )


def chat_prompt_ids(tok, messages: list[dict[str, str]], prefill: str) -> list[int]:
    """Token ids of the chat-templated conversation with the assistant turn opened and pre-filled."""
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) + prefill
    return tok(text, add_special_tokens=False)["input_ids"]


@torch.inference_mode()
def score_prompts_naive(model, tok, prompts: Sequence[Sequence[int]], batch_size: int = 16, progress: bool = False) -> pd.DataFrame:
    """Reference scorer: file order, left-padded batches, whole prompt, full logits."""
    yn = yes_no_tokens(tok)
    out = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="score (naive)", disable=not progress):
        ids, mask = left_pad(prompts[start:start + batch_size], tok.pad_token_id)
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits[:, -1]
        out.append(yes_no_from_logits(logits.cpu(), yn))
    return pd.concat(out, ignore_index=True)


@torch.inference_mode()
def score_prompts(
    model,
    tok,
    prompts: Sequence[Sequence[int]],
    groups: Sequence[object] | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> pd.DataFrame:
    """Scores equal to `score_prompts_naive` (float32: within ~1e-5), computing only unshared tokens.

    prompts: token ids per row; groups: a key per row, rows with equal keys share their segment after the
    global prefix (e.g. the dilemma id). Rows are returned in input order.
    """
    n = len(prompts)
    if n == 0:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    yn = yes_no_tokens(tok)
    pad = tok.pad_token_id
    groups = list(range(n)) if groups is None else list(groups)
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} keys for {n} prompts")

    # Level 1: the prefix shared by every prompt, leaving every row at least one token of its own.
    p_len = min(common_prefix_len(prompts), min(len(p) for p in prompts) - 1)
    if p_len < 1:
        return score_prompts_naive(model, tok, prompts, batch_size=batch_size, progress=progress)
    prefix = prefix_cache(model, prompts[0][:p_len])

    # Level 2: per group, the segment shared by its rows after P (each row keeps >= 1 token).
    members: dict[object, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    seg_len = {}
    for g, rows in members.items():
        rows_tokens = [prompts[i][p_len:] for i in rows]
        shared = common_prefix_len(rows_tokens) if len(rows) > 1 else 0
        seg_len[g] = min(shared, min(len(t) for t in rows_tokens) - 1)
    order = sorted(members, key=lambda g: (seg_len[g], max(len(prompts[i]) for i in members[g])))
    window = smallest_sliding_window(model.config)
    if window is not None and max(len(p) for p in prompts) + max(seg_len.values()) >= window:
        # pads between segments would count against a sliding window in cache slots: use the plain scorer
        return score_prompts_naive(model, tok, prompts, batch_size=batch_size, progress=progress)

    results: dict[int, pd.DataFrame] = {}
    for batch in tqdm(batch_groups(members, order, batch_size), desc="score", disable=not progress):
        n_g = len(batch)
        past = broadcast(prefix, n_g)
        past_mask = torch.ones((n_g, p_len), dtype=torch.long)
        past_len = torch.full((n_g,), p_len, dtype=torch.long)
        segments = [prompts[members[g][0]][p_len:p_len + seg_len[g]] for g in batch]
        if max(len(s) for s in segments) > 0:
            past, past_mask, past_len, _ = extend(model, past, past_mask, past_len, segments, pad)
        row_ids = [i for g in batch for i in members[g]]
        row_group = torch.tensor([j for j, g in enumerate(batch) for _ in members[g]])
        suffixes = [prompts[i][p_len + seg_len[groups[i]]:] for i in row_ids]
        _, _, _, logits = extend(
            model, select_rows(past, row_group), past_mask[row_group], past_len[row_group], suffixes, pad, logits_to_keep=1
        )
        logits = logits[:, -1]
        scored = yes_no_from_logits(logits.cpu(), yn)
        for j, i in enumerate(row_ids):
            results[i] = scored.iloc[j]
    return pd.DataFrame([results[i] for i in range(n)]).reset_index(drop=True)


def tokens_computed(prompts: Sequence[Sequence[int]], groups: Sequence[object] | None = None) -> dict[str, float]:
    """Tokens per row computed by the naive scorer (whole prompt) and by `score_prompts` (unshared tokens)."""
    n = len(prompts)
    groups = list(range(n)) if groups is None else list(groups)
    p_len = max(0, min(common_prefix_len(prompts), min(len(p) for p in prompts) - 1))
    members: dict[object, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    fast = p_len
    for rows in members.values():
        tails = [prompts[i][p_len:] for i in rows]
        shared = min(common_prefix_len(tails) if len(rows) > 1 else 0, min(len(t) for t in tails) - 1)
        fast += shared + sum(len(t) - shared for t in tails)
    return {"naive": float(np.mean([len(p) for p in prompts])), "fast": fast / n}
