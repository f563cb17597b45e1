"""Tiny randomly initialised models built in the test session (no downloads): llama-style, 2 layers, d = 64.

The tokenizer is a byte-level BPE trained here on a small corpus, with a ChatML template that (like
SmolLM2's) inserts a default system prompt when the messages have none, and whole-word Yes/No tokens.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a tiny test assistant<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    from wsteer import dilemmas as dd

    actions = dd.load_actions()
    texts = list(actions.situation.head(200)) + list(actions.action.head(400))
    texts += ["My choice: Yes", "My choice: No", "Answer directly with only", "Should you take this action?",
              "Situation: Action:", "honest dishonest truth lie assistant user system"] * 5
    return texts


def build_tokenizer(out: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tk.train_from_iterator(_corpus(), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|im_end|>",
                                  bos_token="<|im_start|>")
    tok.add_tokens(["Yes", " Yes", "No", " No", " yes", " no"])
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out)
    return tok


def build_tiny_llama(out: Path, seed: int = 0) -> Path:
    """Save a random 2-layer llama (d=64, 4 heads, 2 kv heads) and its tokenizer to `out`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tokenizer(out)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=True, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                      bos_token_id=tok.bos_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():  # larger than default init so logits vary across prompts
        for p in model.parameters():
            p.mul_(3.0)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture()
def tiny(tiny_model_dir):
    """(model, tokenizer) loaded through the project's own loader from a local directory."""
    from wsteer.models import load_model

    return load_model(str(tiny_model_dir), device="cpu")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Results and cache of a test go to its tmp_path, never to the repository."""
    monkeypatch.setenv("WSTEER_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("WSTEER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WSTEER_DEVICE", "cpu")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
