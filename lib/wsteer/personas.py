"""Persona prompts, the question pool, persona-conditioned generation, and training sets without the persona.

Generation: for every (question q, persona index i, sample j) and side s ∈ {pos, neg},
    y ~ p_θ0(· | system = persona_s[i], user = q)
with the same random draws for both sides (`torch.manual_seed(seed, batch)` before each batch of the same
composition), so noise common to the two sides cancels in θ+ − θ−.
Training example: (user = q → assistant = y), the persona system prompt removed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from tqdm.auto import tqdm

from .paths import data_dir

SIDES = ("pos", "neg")


@dataclass(frozen=True)
class Personas:
    trait: str
    positive: list[str]
    negative: list[str]

    def prompts(self, side: str) -> list[str]:
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, got {side!r}")
        return self.positive if side == "pos" else self.negative


def load_personas(path: Path | None = None) -> Personas:
    path = path or data_dir() / "personas" / "honesty.yaml"
    raw = yaml.safe_load(Path(path).read_text())
    pos, neg = raw.get("positive") or [], raw.get("negative") or []
    if len(pos) != len(neg) or not pos:
        raise ValueError(f"{path}: needs the same non-zero number of positive and negative personas, got {len(pos)} and {len(neg)}")
    return Personas(raw.get("trait", path.stem), list(pos), list(neg))


def load_questions(path: Path | None = None) -> pd.DataFrame:
    """Question pool: columns qid, question, category, origin."""
    path = path or data_dir() / "questions" / "everyday_questions.csv"
    df = pd.read_csv(path)
    missing = {"qid", "question"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    if df["qid"].duplicated().any() or df["question"].isna().any():
        raise ValueError(f"{path}: duplicated qid or empty question")
    return df


def split_questions(questions: pd.DataFrame, n_train: int, n_heldout: int, seed: int) -> pd.DataFrame:
    """Seeded disjoint draw: returns `questions` rows with a column split ∈ {train, heldout}."""
    if n_train + n_heldout > len(questions):
        raise ValueError(f"asked for {n_train}+{n_heldout} questions, the pool has {len(questions)}")
    order = np.random.default_rng(seed).permutation(len(questions))
    train = questions.iloc[order[:n_train]].assign(split="train")
    held = questions.iloc[order[n_train:n_train + n_heldout]].assign(split="heldout")
    return pd.concat([train, held], ignore_index=True)


def generation_plan(questions: pd.DataFrame, personas: Personas, n_samples: int) -> pd.DataFrame:
    """One row per (question, persona index, sample): qid, question, split, persona_idx, sample."""
    rows = [
        {"qid": q.qid, "question": q.question, "split": q.split, "persona_idx": i, "sample": j}
        for q in questions.itertuples() for i in range(len(personas.positive)) for j in range(n_samples)
    ]
    return pd.DataFrame(rows)


@torch.inference_mode()
def generate_completions(
    model, tok, plan: pd.DataFrame, personas: Personas, seed: int, max_new_tokens: int = 48,
    temperature: float = 0.7, top_p: float = 1.0, batch_size: int = 32, shared_draws: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """plan × {pos, neg} → columns of plan + side, system, completion, n_tokens.

    shared_draws: both sides of a batch start from the same RNG state (common random numbers); otherwise
    the neg side uses an independent stream.
    """
    out = []
    batches = [plan.iloc[i:i + batch_size] for i in range(0, len(plan), batch_size)]
    for b, batch in enumerate(tqdm(batches, desc="generate", disable=not progress)):
        for side in SIDES:
            systems = [personas.prompts(side)[i] for i in batch.persona_idx]
            texts = [
                tok.apply_chat_template([{"role": "system", "content": s}, {"role": "user", "content": q}],
                                        tokenize=False, add_generation_prompt=True)
                for s, q in zip(systems, batch.question)
            ]
            enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            torch.manual_seed(seed * 100_003 + b + (0 if shared_draws or side == "pos" else 50_021))
            gen = model.generate(**enc, do_sample=temperature > 0, temperature=temperature if temperature > 0 else None,
                                 top_p=top_p, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id)
            new = gen[:, enc["input_ids"].shape[1]:]
            for k, (row, ids) in enumerate(zip(batch.itertuples(index=False), new)):
                ids = ids.tolist()
                if tok.eos_token_id in ids:
                    ids = ids[:ids.index(tok.eos_token_id)]
                out.append({**row._asdict(), "side": side, "system": systems[k],
                            "completion": tok.decode(ids, skip_special_tokens=True).strip(), "n_tokens": len(ids)})
    return pd.DataFrame(out)


def training_messages(completions: pd.DataFrame, side: str, split: str = "train",
                      max_new_tokens: int | None = None, end_truncated_turns: bool = True) -> list[list[dict]]:
    """Chat examples (user = question, assistant = completion) for one side; the persona system prompt is dropped.

    A completion cut by the token limit (n_tokens == max_new_tokens) ends mid-sentence; with
    `end_truncated_turns=False` its assistant message carries `end_turn: False`, so `train.encode_example`
    leaves out the template's end-of-turn tokens and the adapter is not taught to stop there.
    """
    rows = completions[(completions.side == side) & (completions.split == split)]
    cut = (rows.n_tokens >= max_new_tokens) if (max_new_tokens and not end_truncated_turns) else pd.Series(False, rows.index)
    return [[{"role": "user", "content": r.question},
             {"role": "assistant", "content": r.completion, **({"end_turn": False} if c else {})}]
            for r, c in zip(rows.itertuples(), cut)]


def placebo_sides(completions: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Swap pos/neg within a random half of the (qid, persona_idx, sample) pairs (exactly ⌊n/2⌋, seeded).

    θ+ and θ− then see the same mixture of honest and dishonest completions, so their difference is a null dW
    with the data, training and pairing of the real one.
    """
    keys = ["qid", "persona_idx", "sample"]
    pairs = completions[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    rng = np.random.default_rng([seed, 0x9A1ACEB0])
    flip = pairs.iloc[rng.permutation(len(pairs))[: len(pairs) // 2]].assign(_flip=True)
    out = completions.merge(flip, on=keys, how="left")
    swap = out["_flip"].eq(True)
    out.loc[swap, "side"] = out.loc[swap, "side"].map({"pos": "neg", "neg": "pos"})
    return out.drop(columns="_flip")
