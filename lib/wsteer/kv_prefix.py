"""Shared-prefix KV-cache primitives: run token segments on top of a cache, batch rows over a common past.

Layout: a batch row holds [past (T_past slots, `past_mask` marks real tokens) | new segment, left-padded to W].
Positions continue from each row's real length, so pads between segments change nothing but the slots they use
(a sliding-window attention counts slots: `smallest_sliding_window` lets callers fall back).
"""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import DynamicCache


def left_pad(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask), each (len(seqs), max_len), pads on the left."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        if len(s):
            ids[i, width - len(s):] = torch.tensor(s)
            mask[i, width - len(s):] = 1
    return ids, mask


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for s in seqs[1:]:
        k = 0
        while k < n and s[k] == first[k]:
            k += 1
        n = k
    return n


def smallest_sliding_window(config) -> int | None:
    """The sliding-window length if any layer of the model uses one (gemma3, mistral, ...), else None."""
    cfg = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    window = getattr(cfg, "sliding_window", None)
    types = getattr(cfg, "layer_types", None)
    if window is None or (types is not None and "sliding_attention" not in types):
        return None
    return int(window)


def cache_from(layers: list[tuple[torch.Tensor, torch.Tensor]], config) -> DynamicCache:
    return DynamicCache(ddp_cache_data=layers, config=config)


def cache_tensors(cache: DynamicCache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


def extend(model, past: list[tuple[torch.Tensor, torch.Tensor]], past_mask: torch.Tensor, past_len: torch.Tensor,
           seqs: Sequence[Sequence[int]], pad_id: int, logits_to_keep: int = 0):
    """Run `seqs` (one per batch row) on top of a cache whose rows have `past_len` real tokens.

    past: per layer (keys, values), each (B, heads, T_past, head_dim); past_mask (B, T_past); past_len (B,).
    New tokens are left-padded after the past, with positions past_len + 0..len-1.
    Returns (cache tensors, mask (B, T_past + W), new real lengths (B,), logits of the last `logits_to_keep`
    positions (B, logits_to_keep, V), or None when logits_to_keep = 0).
    """
    ids, mask = left_pad(seqs, pad_id)
    lengths = mask.sum(1)
    width = ids.shape[1]
    offsets = torch.arange(width).unsqueeze(0) - (width - lengths).unsqueeze(1)  # 0.. for real tokens
    position_ids = (past_len.unsqueeze(1) + offsets.clamp(min=0)).to(model.device)
    full_mask = torch.cat([past_mask, mask], dim=1)
    cache = cache_from(past, model.config)
    out = model(
        input_ids=ids.to(model.device),
        attention_mask=full_mask.to(model.device),
        position_ids=position_ids,
        past_key_values=cache,
        use_cache=True,
        logits_to_keep=max(logits_to_keep, 1),
    )
    logits = out.logits[:, -logits_to_keep:] if logits_to_keep else None
    return cache_tensors(out.past_key_values), full_mask, past_len + lengths, logits


def select_rows(past: list[tuple[torch.Tensor, torch.Tensor]], index: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    index = index.to(past[0][0].device)
    return [(k.index_select(0, index), v.index_select(0, index)) for k, v in past]


def prefix_cache(model, ids: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer (keys, values) of one token sequence, batch 1: the past that every row of a batch shares."""
    out = model(input_ids=torch.tensor([list(ids)], device=model.device), use_cache=True, logits_to_keep=1)
    return cache_tensors(out.past_key_values)


def broadcast(past: list[tuple[torch.Tensor, torch.Tensor]], n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A batch-1 past viewed as n rows (no copy)."""
    return [(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in past]


def batch_groups(members: dict, order: Sequence, batch_size: int) -> list[list]:
    """Consecutive groups of `order` whose rows (len(members[g])) fill a batch up to `batch_size`; a group larger
    than a batch gets a batch of its own."""
    batches: list[list] = [[]]
    for g in order:
        if batches[-1] and sum(len(members[h]) for h in batches[-1]) + len(members[g]) > batch_size:
            batches.append([])
        batches[-1].append(g)
    return [b for b in batches if b]
