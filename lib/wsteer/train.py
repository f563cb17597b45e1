"""Fine-tune one adapter on chat examples (loss on assistant tokens only) and read back its merged weights.

Loss: L = − Σ_t m_t log p_θ(x_t | x_<t) / Σ_t m_t, m_t = 1 on assistant tokens (completion + end-of-turn).
θ+ and θ− of one seed share the adapter init (`torch.manual_seed(seed)` before `get_peft_model`) and the
data order (`default_rng(seed)`), so only the data differ.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from peft import get_peft_model
from peft.tuners.tuners_utils import BaseTunerLayer
from tqdm.auto import tqdm

from .adapters import AdapterConfig, peft_config
from .config import TrainCfg as TrainConfig


def encode_example(tok, messages: list[dict], max_length: int, allow_system: bool = False) -> tuple[list[int], list[int]]:
    """(input_ids, labels) with labels = −100 on the prompt (everything before the last assistant turn).

    A system message is an error unless `allow_system` (training data has its persona stripped; scoring a
    completion under a persona, as `evaluate.persona_contrast` does, needs one).

    An assistant message with `end_turn: False` (a completion cut by the token limit) ends at its last content
    token: the template's end-of-turn tokens after it are left out of both ids and labels.
    """
    if messages[-1]["role"] != "assistant":
        raise ValueError("the last message of a training example must be the assistant's")
    if not allow_system and any(m["role"] == "system" for m in messages):
        raise ValueError("training examples must not carry a system prompt (the persona is stripped)")
    prompt = tok.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("chat template: the conversation does not extend its prompt; cannot mask the prompt")
    answer = full[len(prompt):]
    if messages[-1].get("end_turn", True) is False:
        content = messages[-1]["content"].strip()
        at = answer.find(content)
        if at < 0:
            raise ValueError("chat template: cannot find the assistant content in the rendered turn to cut its end")
        answer = answer[:at + len(content)]
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tok(answer, add_special_tokens=False)["input_ids"]
    ids = (p_ids + a_ids)[:max_length]
    labels = ([-100] * len(p_ids) + a_ids)[:max_length]
    return ids, labels


def collate_examples(batch: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(i) for i, _ in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, (i, l) in enumerate(batch):
        ids[r, :len(i)] = torch.tensor(i)
        labels[r, :len(l)] = torch.tensor(l)
        mask[r, :len(i)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def train_adapter(model, tok, examples: list[list[dict[str, str]]], adapter: AdapterConfig, cfg: TrainConfig,
                  seed: int, progress: bool = True, desc: str = "train"):
    """Wrap `model` (modified in place) with a fresh adapter, train it; returns (peft_model, loss log DataFrame)."""
    if not examples:
        raise ValueError("no training examples")
    encoded = [encode_example(tok, m, cfg.max_length) for m in examples]
    torch.manual_seed(seed)
    pm = get_peft_model(model, peft_config(adapter))
    pm.train()
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    n_steps = cfg.epochs * int(np.ceil(len(encoded) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
    rng = np.random.default_rng(seed)
    log, step = [], 0
    bar = tqdm(total=n_steps, desc=desc, disable=not progress)
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(encoded))
        for start in range(0, len(order), cfg.batch_size):
            batch = collate_examples([encoded[i] for i in order[start:start + cfg.batch_size]], tok.pad_token_id)
            batch = {k: v.to(pm.device) for k, v in batch.items()}
            loss = pm(**batch).loss
            if not torch.isfinite(loss):
                raise FloatingPointError(f"training loss is {loss.item()} at step {step}: lower the learning rate")
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            log.append({"step": step, "epoch": epoch, "loss": loss.item(), "tokens": int(batch["attention_mask"].sum())})
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    pm.eval()
    return pm, pd.DataFrame(log)


def adapted_parameter_names(peft_model) -> list[str]:
    """State-dict names (in the unwrapped model) of the weight, and bias if any, of every module the tuner wrapped.

    Biases are included because some tuners change them on merge (IA3 scales them, LoRA with `lora_bias`);
    `diff.delta_between` drops a bias that neither side changed.
    """
    names = []
    for name, module in peft_model.named_modules():
        if isinstance(module, BaseTunerLayer):
            base_name = name.removeprefix("base_model.model.")
            names.append(f"{base_name}.weight")
            base_layer = module.get_base_layer()
            if getattr(base_layer, "bias", None) is not None:
                names.append(f"{base_name}.bias")
    return sorted(set(names))


@torch.no_grad()
def merged_weights(peft_model) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """Merge the adapter into its base (peft `merge_and_unload`); returns (plain model, {name: W_merged}) for adapted weights."""
    names = adapted_parameter_names(peft_model)
    model = peft_model.merge_and_unload()
    params = dict(model.named_parameters())
    missing = [n for n in names if n not in params]
    if missing:
        raise RuntimeError(f"merged model lacks adapted parameters {missing[:3]}")
    return model, {n: params[n].detach().clone() for n in names}
