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

from .kv_prefix import cache_tensors, common_prefix_len, extend, select_rows, smallest_sliding_window


def _right_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(list(s), dtype=torch.long)
        mask[i, :len(s)] = 1
    return ids, mask


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
        ids, mask = _right_pad([list(x) + list(y) for x, y in zip(xs, ys)], pad_id)
        target = torch.zeros_like(mask)
        for r, (x, y) in enumerate(zip(xs, ys)):
            target[r, len(x):len(x) + len(y)] = 1
        logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits[:, :-1]
        lp = _token_logprobs(logits, ids[:, 1:].to(logits.device)).cpu()
        m = target[:, 1:].float()
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
    prefix = model(input_ids=torch.tensor([list(prompts[0][:p_len])], device=model.device), use_cache=True, logits_to_keep=1)
    prefix_cache = cache_tensors(prefix.past_key_values)

    members: dict[tuple[int, ...], list[int]] = {}
    for i, p in enumerate(prompts):
        if len(completions[i]):
            members.setdefault(tuple(p[p_len:]), []).append(i)
    batches: list[list[tuple[int, ...]]] = [[]]
    for g in members:
        if batches[-1] and sum(len(members[h]) for h in batches[-1]) + len(members[g]) > batch_size:
            batches.append([])
        batches[-1].append(g)

    for batch in (b for b in batches if b):
        n_g = len(batch)
        past = [(k.expand(n_g, -1, -1, -1), v.expand(n_g, -1, -1, -1)) for k, v in prefix_cache]
        past, past_mask, past_len, last = extend(model, past, torch.ones((n_g, p_len), dtype=torch.long),
                                                 torch.full((n_g,), p_len, dtype=torch.long), list(batch), pad_id,
                                                 logits_to_keep=1)
        rows = [(j, i) for j, g in enumerate(batch) for i in members[g]]
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            group = torch.tensor([j for j, _ in chunk])
            ys = [list(completions[i]) for _, i in chunk]
            _, _, _, logits = extend(model, select_rows(past, group), past_mask[group], past_len[group], ys, pad_id,
                                     logits_to_keep=max(len(y) for y in ys))
            width = logits.shape[1]
            ids = torch.full((len(ys), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(ys), width), dtype=torch.long)
            for r, y in enumerate(ys):  # left-padded, as `extend` laid them out
                ids[r, width - len(y):] = torch.tensor(y)
                mask[r, width - len(y):] = 1
            first = _token_logprobs(last[group.to(last.device), -1], ids[:, -1].new_tensor([y[0] for y in ys]).to(last.device))
            rest = _token_logprobs(logits[:, :-1], ids[:, 1:].to(logits.device)).cpu()
            both = mask[:, 1:] * mask[:, :-1]  # predictor and target real: tokens 2..|y| (token 1 is `first`)
            total = first.cpu() + (rest * both).sum(1)
            lengths = mask.sum(1)
            for (_, i), v in zip(chunk, (total / lengths).numpy()):
                out[i] = v
    return out
