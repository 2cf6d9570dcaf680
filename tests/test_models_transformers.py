"""init_module and empty_init on real Hugging Face transformers models (Llama, GPT-2,
BERT) built from small config objects: the model's own ``_init_weights`` scheme, every
random value from fastinit's stream under the parameter's name, reproducible across
torch seeds, thread counts and construction paths (in memory, empty_init, meta)."""
from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import textwrap
import warnings

import _torchvision_shim  # noqa: F401  (transformers imports torchvision)
import numpy as np
import pytest
import torch
import transformers
from transformers import (
    AutoModelForCausalLM,
    BertConfig,
    BertForMaskedLM,
    GPT2Config,
    LlamaConfig,
)

import fastinit
import fastinit.torch as finit

transformers.logging.set_verbosity_error()

UINT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a, b):
    a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.contiguous().view(UINT[a.element_size()]), b.contiguous().view(UINT[b.element_size()]))


def llama_config(**kw):
    base = dict(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                tie_word_embeddings=False)
    base.update(kw)
    return LlamaConfig(**base)


def gpt2_config(**kw):
    base = dict(vocab_size=96, n_positions=32, n_embd=64, n_layer=3, n_head=4,
                bos_token_id=0, eos_token_id=0)
    base.update(kw)
    return GPT2Config(**base)


def bert_config(**kw):
    base = dict(vocab_size=96, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=96, max_position_embeddings=32, pad_token_id=1)
    base.update(kw)
    return BertConfig(**base)


BUILDERS = {
    "llama": lambda: AutoModelForCausalLM.from_config(llama_config()),
    "gpt2": lambda: AutoModelForCausalLM.from_config(gpt2_config()),
    "bert": lambda: BertForMaskedLM(bert_config()),
}
TOKENS = torch.tensor([[2, 7, 1, 30, 64, 5, 9, 11]])


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def logits(model):
    model.eval()
    with torch.no_grad():
        return model(TOKENS).logits


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert same_bits(a[k], b[k]), k


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="init_module")
        yield


# ------------------------------------------------------------------ Llama ----
def test_llama_gets_its_own_scheme_from_the_fastinit_stream():
    model = BUILDERS["llama"]()
    with no_warnings():
        finit.init_module(model, seed=7)
    std = model.config.initializer_range
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        if name.endswith("norm.weight"):
            assert torch.equal(p, torch.ones(shape)), name
        else:  # every Linear and the embedding: N(0, 0.02) under the parameter's name
            assert same_bits(p, fastinit.normal(shape, 0.0, std, seed=7, stream=name)), name
    rope = model.model.rotary_emb
    expected, _ = rope.compute_default_rope_parameters(model.config)
    assert torch.equal(rope.inv_freq, expected) and torch.equal(rope.original_inv_freq, expected)


def test_llama_statistics_are_the_models_not_pytorchs_defaults():
    model = AutoModelForCausalLM.from_config(llama_config(hidden_size=128, intermediate_size=256))
    finit.init_module(model, seed=0)
    for name, p in model.named_parameters():
        if p.dim() == 2:  # kaiming_uniform(a=sqrt(5)) would give std 1/sqrt(3 fan_in) = 0.051
            assert abs(float(p.detach().std()) - 0.02) < 0.0015, name
            assert abs(float(p.detach().mean())) < 0.001, name


def test_llama_values_ignore_torch_seed_threads_and_construction_path():
    torch.manual_seed(1)
    a = finit.init_module(BUILDERS["llama"](), seed=3, threads=1)
    torch.manual_seed(2)
    b = finit.init_module(BUILDERS["llama"](), seed=3, threads=2)
    with finit.empty_init():
        c = BUILDERS["llama"]()
    assert all(p.is_meta for p in c.parameters())
    assert not any(b_.is_meta for b_ in c.buffers())
    finit.init_module(c, seed=3)
    with torch.device("meta"):
        d = BUILDERS["llama"]()
    finit.init_module(d, seed=3)  # buffers too were meta: the rotary inv_freq is recomputed
    ref = state(a)
    for other in (b, c, d):
        assert not any(t.is_meta for t in other.state_dict().values())
        assert_same_state(ref, state(other))
    out = logits(a)
    assert torch.isfinite(out).all()
    for other in (b, c, d):
        assert torch.equal(out, logits(other))
    assert not same_bits(a.model.embed_tokens.weight,
                         finit.init_module(BUILDERS["llama"](), seed=4).model.embed_tokens.weight)


def test_llama_tied_embedding_is_filled_once_by_its_source():
    model = AutoModelForCausalLM.from_config(llama_config(tie_word_embeddings=True))
    finit.init_module(model, seed=5)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    name = "model.embed_tokens.weight"
    assert same_bits(model.lm_head.weight, fastinit.normal((96, 64), 0.0, 0.02, seed=5, stream=name))
    with finit.empty_init():
        empty = AutoModelForCausalLM.from_config(llama_config(tie_word_embeddings=True))
    finit.init_module(empty, seed=5)
    assert empty.lm_head.weight is empty.model.embed_tokens.weight
    assert torch.equal(logits(model), logits(empty))


def test_llama_bfloat16_and_the_prefix():
    model = AutoModelForCausalLM.from_config(llama_config(), dtype=torch.bfloat16)
    finit.init_module(model, seed=2, prefix="llm")
    w = model.model.layers[1].mlp.down_proj.weight
    assert w.dtype == torch.bfloat16
    ref = fastinit.normal((64, 96), 0.0, 0.02, seed=2, stream="llm.model.layers.1.mlp.down_proj.weight",
                          dtype="bfloat16")
    assert same_bits(w.view(torch.int16), torch.from_numpy(ref.view(np.int16)))


# ------------------------------------------------------------------ GPT-2 ----
def test_gpt2_depth_scaled_projections_conv1d_and_tied_head():
    model = BUILDERS["gpt2"]()
    finit.init_module(model, seed=11)
    n_layer, std = model.config.n_layer, model.config.initializer_range
    for i, block in enumerate(model.transformer.h):
        for part in ("attn", "mlp"):
            name = f"transformer.h.{i}.{part}.c_proj.weight"
            w = getattr(block, part).c_proj.weight
            # Conv1D's fill, then the block's depth-scaled re-fill (the block's code: plain name)
            scaled = fastinit.normal(tuple(w.shape), 0.0, std / math.sqrt(2 * n_layer), seed=11,
                                     stream=name)
            assert same_bits(w, scaled), name
            assert abs(float(w.detach().std()) - std / math.sqrt(2 * n_layer)) < 0.001
        c_attn = block.attn.c_attn.weight  # Conv1D (transposed Linear): skipped by PyTorch's rules
        assert same_bits(c_attn, fastinit.normal(tuple(c_attn.shape), 0.0, std, seed=11,
                                                 stream=f"transformer.h.{i}.attn.c_attn.weight"))
        assert torch.equal(block.attn.c_attn.bias, torch.zeros_like(block.attn.c_attn.bias))
        assert torch.equal(block.ln_1.weight, torch.ones(64)) and torch.equal(block.ln_1.bias, torch.zeros(64))
    assert model.lm_head.weight is model.transformer.wte.weight
    assert same_bits(model.lm_head.weight, fastinit.normal((96, 64), 0.0, std, seed=11,
                                                           stream="transformer.wte.weight"))
    with finit.empty_init():
        empty = BUILDERS["gpt2"]()
    finit.init_module(empty, seed=11)
    assert_same_state(state(model), state(empty))
    out = logits(model)
    assert torch.isfinite(out).all() and torch.equal(out, logits(empty))


def test_gpt2_from_meta_device_forward_is_finite():
    with torch.device("meta"):
        model = BUILDERS["gpt2"]()
    finit.init_module(model, seed=11)
    ref = finit.init_module(BUILDERS["gpt2"](), seed=11)
    assert_same_state(state(ref), state(model))
    assert torch.equal(logits(ref), logits(model))


# ------------------------------------------------------------------- BERT ----
def test_bert_padding_row_norms_biases_and_buffers():
    model = BUILDERS["bert"]()
    finit.init_module(model, seed=4)
    emb = model.bert.embeddings
    pad = model.config.pad_token_id
    assert torch.equal(emb.word_embeddings.weight[pad], torch.zeros(64))
    full = fastinit.normal((96, 64), 0.0, 0.02, seed=4, stream="bert.embeddings.word_embeddings.weight")
    full[pad] = 0
    assert same_bits(emb.word_embeddings.weight, full)
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            assert torch.equal(p, torch.zeros_like(p)), name
        elif "LayerNorm" in name:
            assert torch.equal(p, torch.ones_like(p)), name
        else:
            assert abs(float(p.detach().std()) - 0.02) < 0.004, name
    assert model.cls.predictions.decoder.weight is emb.word_embeddings.weight
    with torch.device("meta"):
        meta = BUILDERS["bert"]()
    finit.init_module(meta, seed=4)  # position_ids and token_type_ids come back from _init_weights
    assert torch.equal(meta.bert.embeddings.position_ids, torch.arange(32).expand((1, -1)))
    assert torch.equal(meta.bert.embeddings.token_type_ids, torch.zeros(1, 32, dtype=torch.long))
    with finit.empty_init():
        empty = BUILDERS["bert"]()
    finit.init_module(empty, seed=4)
    for other in (meta, empty):
        assert_same_state(state(model), state(other))
        assert torch.equal(logits(model), logits(other))


def test_scheme_torch_gives_pytorchs_layer_defaults():
    model = BUILDERS["llama"]()
    # LlamaRMSNorm has no reset_parameters: PyTorch has no default for it, one warning says so
    with pytest.warns(UserWarning, match=r"5 parameter\(s\) were not filled.*model\.norm\.weight$"):
        finit.init_module(model, seed=1, scheme="torch")
    q = model.model.layers[0].self_attn.q_proj.weight
    ref = fastinit.kaiming_uniform((64, 64), a=math.sqrt(5), seed=1,
                                   stream="model.layers.0.self_attn.q_proj.weight")
    assert same_bits(q, ref)
    emb = model.model.embed_tokens.weight
    assert same_bits(emb, fastinit.normal((96, 64), seed=1, stream="model.embed_tokens.weight"))


# ------------------------------------------------------- patch_torch_init ----
def test_patch_with_seed_reaches_every_random_tensor_of_from_config():
    def build(torch_seed):
        torch.manual_seed(torch_seed)
        with finit.patch_torch_init(seed=9):
            return BUILDERS["llama"]()

    a, b = build(0), build(1)
    assert_same_state(state(a), state(b))  # no value came from torch's generator
    torch.manual_seed(0)
    plain = BUILDERS["llama"]()
    for name, p in a.named_parameters():
        if p.dim() == 2:
            assert not torch.equal(p, dict(plain.named_parameters())[name]), name
            assert abs(float(p.detach().std()) - 0.02) < 0.003, name


def test_patch_default_reaches_the_models_fills_through_torchs_generator():
    def build(torch_seed):
        torch.manual_seed(torch_seed)
        with finit.patch_torch_init():
            return BUILDERS["llama"]()

    a, b = build(0), build(0)
    assert_same_state(state(a), state(b))  # torch.manual_seed still controls the model
    torch.manual_seed(0)
    plain = BUILDERS["llama"]()
    matrices = [n for n, p in a.named_parameters() if p.dim() == 2]
    assert len(matrices) == 16
    for name in matrices:  # every random tensor came from fastinit, none from torch's fill
        assert not torch.equal(dict(a.named_parameters())[name], dict(plain.named_parameters())[name])


def test_transformers_first_imported_inside_the_block_keeps_nothing_of_fastinit():
    code = textwrap.dedent("""
        import sys
        sys.path.insert(0, {tests!r})
        import _torchvision_shim
        import torch
        import fastinit.torch as finit
        with finit.patch_torch_init(seed=0):
            import transformers.initialization as hf_init
        stored = hf_init.TORCH_INIT_FUNCTIONS["normal_"]
        assert stored is torch.nn.init.normal_
        torch.manual_seed(1)
        a = stored(torch.empty(100))
        torch.manual_seed(1)
        b = torch.empty(100).normal_()
        assert torch.equal(a, b), "the stored function is torch's own again"
        print("ok")
    """).format(tests=os.path.dirname(os.path.abspath(__file__)))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_a_model_inside_a_plain_wrapper_keeps_its_own_scheme():
    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.llm = BUILDERS["llama"]()
            self.probe = torch.nn.Linear(64, 3)

    net = finit.init_module(Wrapper(), seed=6)
    name = "llm.model.layers.0.self_attn.q_proj.weight"
    assert same_bits(net.llm.model.layers[0].self_attn.q_proj.weight,
                     fastinit.normal((64, 64), 0.0, 0.02, seed=6, stream=name))
    assert same_bits(net.probe.weight, fastinit.kaiming_uniform((3, 64), a=math.sqrt(5), seed=6,
                                                                stream="probe.weight"))
