"""Mean per-token log-probability of completions y given prompts x, naive and with a shared-prefix KV cache.

    ℓ(y | x) = (1/|y|) Σ_{t=1..|y|} log p_θ(y_t | x, y_<t)          (ℓ = 0 when y is empty)

`mean_logprobs_naive`: every (x, y) run whole in right-padded batches. `mean_logprobs`: the same numbers
(float32, ~1e-5) with fewer tokens: the prefix P common to every prompt runs once, each distinct prompt
remainder once (the persona completions of one question share it), then each completion on top of that cache.
The first completion token is read from the prompt's last position, the rest from the completion pass.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .kv_prefix import (batch_groups, broadcast, common_prefix_len, extend, left_pad, prefix_cache, select_rows,
                        smallest_sliding_window)
from .train import collate_examples


def _token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target] without materialising the full log-softmax: logits (..., V), targets (...)."""
    logits = logits.float()
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)


def _check(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]]) -> None:
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token (the first completion token is predicted from it)")


@torch.inference_mode()
def mean_logprobs_naive(model, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int,
                        batch_size: int = 16) -> np.ndarray:
    """Reference: ℓ per (prompt, completion) from one forward of x ⧺ y per row (right-padded batches)."""
    _check(prompts, completions)
    out = np.zeros(len(prompts))
    for start in range(0, len(prompts), batch_size):
        xs, ys = prompts[start:start + batch_size], completions[start:start + batch_size]
        batch = collate_examples([(list(x) + list(y), [-100] * len(x) + list(y)) for x, y in zip(xs, ys)], pad_id)
        ids = batch["input_ids"]
        logits = model(input_ids=ids.to(model.device), attention_mask=batch["attention_mask"].to(model.device)).logits[:, :-1]
        lp = _token_logprobs(logits, ids[:, 1:].to(logits.device)).cpu()
        m = (batch["labels"][:, 1:] != -100).float()
        out[start:start + len(xs)] = ((lp * m).sum(1) / m.sum(1).clamp(min=1)).numpy()
    return out


@torch.inference_mode()
def mean_logprobs(model, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int,
                  batch_size: int = 32) -> np.ndarray:
    """ℓ per (prompt, completion), equal to `mean_logprobs_naive`, computing each shared prompt token once.

    Rows are grouped by prompt; a batch holds whole groups up to `batch_size` rows (a larger group is split
    into chunks after its prompt has run). Falls back to the naive pass when a sliding-window layer would see
    the pads between segments, or when the prompts share no prefix.
    """
    _check(prompts, completions)
    n = len(prompts)
    out = np.zeros(n)
    if n == 0:
        return out
    p_len = min(common_prefix_len(prompts), min(len(p) for p in prompts) - 1)
    window = smallest_sliding_window(model.config)
    longest = max(len(p) for p in prompts) + max(len(c) for c in completions)
    if p_len < 1 or (window is not None and 2 * longest >= window):
        return mean_logprobs_naive(model, prompts, completions, pad_id, batch_size)
    prefix = prefix_cache(model, prompts[0][:p_len])

    members: dict[tuple[int, ...], list[int]] = {}
    for i, p in enumerate(prompts):
        if len(completions[i]):
            members.setdefault(tuple(p[p_len:]), []).append(i)
    for batch in batch_groups(members, list(members), batch_size):
        n_g = len(batch)
        past, past_mask, past_len, last = extend(model, broadcast(prefix, n_g), torch.ones((n_g, p_len), dtype=torch.long),
                                                 torch.full((n_g,), p_len, dtype=torch.long), list(batch), pad_id,
                                                 logits_to_keep=1)
        rows = [(j, i) for j, g in enumerate(batch) for i in members[g]]
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            group = torch.tensor([j for j, _ in chunk])
            ys = [list(completions[i]) for _, i in chunk]
            _, _, _, logits = extend(model, select_rows(past, group), past_mask[group], past_len[group], ys, pad_id,
                                     logits_to_keep=max(len(y) for y in ys))
            ids, mask = left_pad(ys, pad_id)  # the layout `extend` ran them in
            first = _token_logprobs(last[group.to(last.device), -1], torch.tensor([y[0] for y in ys], device=last.device))
            rest = _token_logprobs(logits[:, :-1], ids[:, 1:].to(logits.device)).cpu()
            both = mask[:, 1:] * mask[:, :-1]  # predictor and target real: tokens 2..|y| (token 1 is `first`)
            total = first.cpu() + (rest * both).sum(1)
            lengths = mask.sum(1)
            for (_, i), v in zip(chunk, (total / lengths).numpy()):
                out[i] = v
    return out
