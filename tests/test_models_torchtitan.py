"""init_module on torchtitan's Llama 3 debug model built on the meta device: its own
``init_states`` (param_init built at import as ``functools.partial(nn.init.trunc_normal_,
...)``), every value fastinit's, truncated normals exact, RoPE caches recomputed."""
from __future__ import annotations

import pytest
import torch
from torch.nn.attention.flex_attention import create_block_mask
from torchtitan.models.llama3 import _debugmodel

import fastinit
import fastinit.torch as finit

UINT = {2: torch.int16, 4: torch.int32, 8: torch.int64}
DIM, VOCAB = 256, 2048


def same_bits(a, b):
    a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.contiguous().view(UINT[a.element_size()]), b.contiguous().view(UINT[b.element_size()]))


def trunc(shape, std, name, a=-2.0, b=2.0, seed=0):
    # torch.nn.init.trunc_normal_'s bounds are absolute
    return fastinit.trunc_normal(shape, 0.0, std, a / std, b / std, seed=seed, stream=name)


@pytest.fixture(scope="module")
def models():
    config = _debugmodel("flex")
    with torch.device("meta"):
        meta = config.build()
    assert all(t.is_meta for t in meta.state_dict().values())
    finit.init_module(meta, seed=0)
    torch.manual_seed(5)
    eager = finit.init_module(config.build(), seed=0, threads=1)
    reference = config.build()
    reference.init_states()  # torchtitan's own init, on torch's generator
    return meta, eager, reference


def test_titan_scheme_values(models):
    model, _, _ = models
    assert not any(t.is_meta for t in model.state_dict().values())
    params = dict(model.named_parameters())
    assert same_bits(params["tok_embeddings.weight"],
                     fastinit.normal((VOCAB, DIM), 0.0, 1.0, seed=0, stream="tok_embeddings.weight"))
    s = DIM ** -0.5
    assert same_bits(params["lm_head.weight"], trunc((VOCAB, DIM), s, "lm_head.weight", -3 * s, 3 * s))
    saved = model.state_dict()  # torchtitan splits the fused wqkv into wq, wk, wv here
    for i in range(6):
        # The fused qkv init fills three temporaries made by wqkv.new_empty(...), q, k, v
        # in that order: streams "<wqkv name>~1", "~2", "~3".
        fused = f"layers.{i}.attention.qkv_linear.wqkv.weight"
        for k, part in enumerate(("wq", "wk", "wv"), start=1):
            name = f"layers.{i}.attention.qkv_linear.{part}.weight"
            assert same_bits(saved[name], trunc((DIM, DIM), 0.02, f"{fused}~{k}")), name
        depth = 0.02 / (2 * (i + 1)) ** 0.5
        for part in ("attention.wo", "feed_forward.w2", "feed_forward.w3"):
            name = f"layers.{i}.{part}.weight"
            assert same_bits(params[name], trunc(tuple(params[name].shape), depth, name)), name
        assert torch.equal(params[f"layers.{i}.attention_norm.weight"], torch.ones(DIM))


def test_titan_meta_equals_in_memory_and_buffers_are_computed(models):
    meta, eager, reference = models
    a, b = meta.state_dict(), eager.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert same_bits(a[k], b[k]), k
    for k, buf in reference.named_buffers():  # the RoPE caches: not random, torchtitan's values
        assert torch.equal(dict(meta.named_buffers())[k], buf), k
    # statistics of torchtitan's own scheme: the same distributions as its torch init
    ref = dict(reference.named_parameters())
    for name, p in meta.named_parameters():
        if p.dim() == 2:
            assert abs(float(p.detach().std()) / float(ref[name].detach().std()) - 1) < 0.03, name


def test_titan_forward_is_finite_and_equal(models):
    meta, eager, _ = models
    tokens = torch.arange(16).reshape(1, 16) * 37 % VOCAB
    mask = create_block_mask(lambda b, h, q, kv: q >= kv, None, None, 16, 16, device="cpu")
    with torch.no_grad():
        out = meta(tokens, attention_masks=mask)
        assert torch.isfinite(out).all()
        assert torch.equal(out, eager(tokens, attention_masks=mask))
