"""fastinit.torch: the torch.nn.init drop-ins, init_module, patch_torch_init, fill_shard_
(single process; the multi-process sharded tests are in test_torch_dist.py) and lsuv_.

Equality tests compare bits with the NumPy API (fastinit.<initializer> with the same
seed, stream, shape and dtype).  Scaling tests derive the expected parameters from
PyTorch's own formulas (torch.nn.init._calculate_fan_in_and_fan_out, calculate_gain)
and check them against the core fill with those parameters, bit for bit.
"""
from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch
from torch import nn

import fastinit
import fastinit.torch as finit

TORCH_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}
UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The torch compute here is tiny (LSUV forward passes, a small training run):
    intra-op threads only cost, a lot on a busy machine.  fastinit's own threads are
    separate and unaffected."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def bits(x):
    """The raw bits of a tensor or an array, as unsigned integers (NaN-safe comparison)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().contiguous()
        if x.dtype == torch.bfloat16:
            x = x.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        else:
            x = x.numpy()
    x = np.ascontiguousarray(x)
    return x.view(UINT[x.dtype.itemsize])


def assert_same_bits(tensor, array):
    assert tuple(tensor.shape) == tuple(array.shape)
    np.testing.assert_array_equal(bits(tensor), bits(array))


# ------------------------------------------------------------- drop-in cases ----
# (name, torch-style args, kwargs, the NumPy-API call that must give the same bits)
def _np_trunc(shape, mean, std, a, b, **kw):
    return fastinit.trunc_normal(shape, mean, std, (a - mean) / std, (b - mean) / std, **kw)


RANDOM_CASES = [
    ("uniform_", (-0.3, 0.7), {}, lambda s, **kw: fastinit.uniform(s, -0.3, 0.7, **kw)),
    ("normal_", (0.5, 2.0), {}, lambda s, **kw: fastinit.normal(s, 0.5, 2.0, **kw)),
    ("trunc_normal_", (0.1, 0.02), {}, lambda s, **kw: _np_trunc(s, 0.1, 0.02, -2.0, 2.0, **kw)),
    ("trunc_normal_", (0.0, 1.0, -0.5, 1.5), {}, lambda s, **kw: _np_trunc(s, 0.0, 1.0, -0.5, 1.5, **kw)),
    ("xavier_uniform_", (1.5,), {}, lambda s, **kw: fastinit.xavier_uniform(s, 1.5, **kw)),
    ("xavier_normal_", (), {}, lambda s, **kw: fastinit.xavier_normal(s, **kw)),
    ("kaiming_uniform_", (math.sqrt(5),), {},
     lambda s, **kw: fastinit.kaiming_uniform(s, math.sqrt(5), **kw)),
    ("kaiming_uniform_", (), dict(mode="fan_out", nonlinearity="relu"),
     lambda s, **kw: fastinit.kaiming_uniform(s, 0, "fan_out", "relu", **kw)),
    ("kaiming_normal_", (0.2,), dict(mode="fan_in"),
     lambda s, **kw: fastinit.kaiming_normal(s, 0.2, "fan_in", "leaky_relu", **kw)),
    ("orthogonal_", (0.8,), {}, lambda s, **kw: fastinit.orthogonal(s, 0.8, **kw)),
]
SHAPES = [(37, 11), (6, 4, 3, 3)]


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
@pytest.mark.parametrize("case", RANDOM_CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_random_drop_ins_equal_numpy_api(case, dtype, shape):
    name, args, kwargs, reference = case
    t = torch.empty(shape, dtype=TORCH_DTYPES[dtype])
    out = getattr(finit, name)(t, *args, **kwargs, seed=11, stream="layer.weight")
    assert out is t
    assert_same_bits(t, reference(shape, seed=11, stream="layer.weight", dtype=dtype))


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_sparse_equals_numpy_api(dtype):
    t = torch.empty(40, 9, dtype=TORCH_DTYPES[dtype])
    finit.sparse_(t, 0.3, std=0.5, seed=4, stream=7)
    assert_same_bits(t, fastinit.sparse((40, 9), 0.3, std=0.5, seed=4, stream=7, dtype=dtype))
    # PyTorch's count of zeros per column: ceil(sparsity * rows)
    assert (t == 0).sum(0).tolist() == [math.ceil(0.3 * 40)] * 9


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_deterministic_drop_ins_equal_torch(dtype):
    td = TORCH_DTYPES[dtype]
    cases = [
        ("constant_", (0.3,), (5, 7)), ("ones_", (), (5, 7)), ("zeros_", (), (5, 7)),
        ("eye_", (), (5, 7)), ("eye_", (), (7, 5)),
        ("dirac_", (), (4, 3, 5)), ("dirac_", (2,), (6, 3, 3, 4)), ("dirac_", (3,), (6, 5, 3, 3, 3)),
    ]
    for name, args, shape in cases:
        ours = getattr(finit, name)(torch.full(shape, 7.0, dtype=td), *args)
        theirs = getattr(nn.init, name)(torch.full(shape, 7.0, dtype=td), *args)
        assert torch.equal(ours, theirs), (name, shape)


def test_calculate_gain_matches_torch():
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"]:
        assert finit.calculate_gain(nl) == nn.init.calculate_gain(nl)
    for p in [None, 0, 0.2, 3]:
        assert finit.calculate_gain("leaky_relu", p) == nn.init.calculate_gain("leaky_relu", p)
    for bad in [("leaky_relu", True), ("gelu", None)]:
        with pytest.raises(ValueError) as ours:
            finit.calculate_gain(*bad)
        with pytest.raises(ValueError) as theirs:
            nn.init.calculate_gain(*bad)
        assert str(ours.value) == str(theirs.value)


# ----------------------------------------- scaling derived from PyTorch itself ----
def _torch_fan(t, mode):
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3), (5, 12, 2, 3, 4)], ids=str)
def test_fan_based_scales_are_pytorch_formulas(shape):
    """The drop-ins' bound/std, computed by PyTorch's own code, fed to the core fill,
    gives the same bits (float64, so a 1-ulp difference in the scale would show)."""
    t = torch.empty(shape, dtype=torch.float64)
    kw = dict(seed=3, dtype="float64")
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(t)

    std = 1.7 * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    assert_same_bits(finit.xavier_uniform_(t, 1.7, seed=3), fastinit.uniform(shape, -a, a, **kw))
    assert_same_bits(finit.xavier_normal_(t, 1.7, seed=3), fastinit.normal(shape, 0.0, std, **kw))
    for slope, mode, nl in [(math.sqrt(5), "fan_in", "leaky_relu"), (0, "fan_out", "relu"),
                            (0, "FAN_IN", "tanh"), (0.1, "fan_out", "selu")]:
        std = nn.init.calculate_gain(nl, slope) / math.sqrt(_torch_fan(t, mode.lower()))
        bound = math.sqrt(3.0) * std
        assert_same_bits(finit.kaiming_uniform_(t, slope, mode, nl, seed=3),
                         fastinit.uniform(shape, -bound, bound, **kw))
        assert_same_bits(finit.kaiming_normal_(t, slope, mode, nl, seed=3),
                         fastinit.normal(shape, 0.0, std, **kw))


def test_orthogonal_is_orthogonal_like_torch():
    for shape in [(20, 50), (50, 20), (8, 4, 3, 3)]:
        q = finit.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=2.0, seed=1)
        m = q.reshape(shape[0], -1)
        small = min(m.shape)
        gram = m @ m.T if m.shape[0] == small else m.T @ m
        torch.testing.assert_close(gram, 4.0 * torch.eye(small, dtype=torch.float64))


def test_trunc_normal_uses_absolute_bounds():
    t = torch.empty(200_000, dtype=torch.float64)
    finit.trunc_normal_(t, mean=1.0, std=2.0, a=0.5, b=2.0, seed=5)
    assert float(t.min()) >= 0.5 and float(t.max()) <= 2.0
    # Mean of N(1, 2^2) truncated to [0.5, 2] (closed form), to sampling accuracy.
    alpha, beta = (0.5 - 1.0) / 2.0, (2.0 - 1.0) / 2.0
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    expected_mean = 1.0 + 2.0 * (pdf(alpha) - pdf(beta)) / z
    assert abs(float(t.mean()) - expected_mean) < 0.005
    # The default a=-2, b=2 is absolute: with std=0.02 nothing is anywhere near truncated.
    w = finit.trunc_normal_(torch.empty(100_000), std=0.02, seed=1)
    assert abs(float(w.std()) - 0.02) < 0.0005


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_trunc_normal_stays_inside_narrow_tail_bounds(dtype):
    t = torch.empty(100_000, dtype=TORCH_DTYPES[dtype])
    finit.trunc_normal_(t, 0.0, 1.0, a=3.0, b=3.5, seed=2)
    lo = torch.tensor(3.0, dtype=t.dtype)
    hi = torch.tensor(3.5, dtype=t.dtype)
    assert bool((t >= lo).all()) and bool((t <= hi).all())
    assert float(t.float().mean()) < 3.25  # mass piles up near the lower bound


def test_trunc_normal_std_zero_is_the_clamped_mean():
    assert finit.trunc_normal_(torch.empty(4), 0.3, 0.0, -1.0, 1.0).tolist() == pytest.approx([0.3] * 4)
    assert finit.trunc_normal_(torch.empty(3), 5.0, 0.0, -1.0, 1.0).tolist() == [1.0] * 3
    with pytest.raises(ValueError, match="a must be < b"):
        finit.trunc_normal_(torch.empty(3), 0.0, 1.0, 1.0, 1.0, seed=0)


# ---------------------------------------------------------------- seeding ----
def test_seed_comes_from_the_default_generator():
    torch.manual_seed(123)
    expected_seed = int(torch.randint(0, 2**63 - 1, ()))
    torch.manual_seed(123)
    t = finit.normal_(torch.empty(50))
    assert_same_bits(t, fastinit.normal(50, seed=expected_seed))
    torch.manual_seed(123)
    again = finit.normal_(torch.empty(50))
    next_one = finit.normal_(torch.empty(50))
    assert torch.equal(t, again) and not torch.equal(again, next_one)


def test_seed_comes_from_an_explicit_generator():
    g = torch.Generator().manual_seed(9)
    expected_seed = int(torch.randint(0, 2**63 - 1, (), generator=torch.Generator().manual_seed(9)))
    default_state = torch.get_rng_state()
    t = finit.kaiming_uniform_(torch.empty(8, 4), generator=g, stream="w")
    assert torch.equal(torch.get_rng_state(), default_state)  # default generator untouched
    assert_same_bits(t, fastinit.kaiming_uniform((8, 4), seed=expected_seed, stream="w"))


def test_explicit_seed_ignores_and_keeps_the_generator():
    g = torch.Generator().manual_seed(1)
    state = g.get_state()
    t = finit.uniform_(torch.empty(10), generator=g, seed=5)
    assert torch.equal(g.get_state(), state)
    assert_same_bits(t, fastinit.uniform(10, seed=5))


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, True])
def test_bad_seed_is_rejected_before_writing(bad):
    t = torch.full((3,), 7.0)
    with pytest.raises((TypeError, ValueError)):
        finit.normal_(t, seed=bad)
    assert t.tolist() == [7.0] * 3


def test_streams_separate_tensors():
    a = finit.normal_(torch.empty(100), seed=0, stream="a")
    b = finit.normal_(torch.empty(100), seed=0, stream="b")
    assert not torch.equal(a, b)


def test_threads_never_change_values():
    big = (300, 301)
    one = finit.normal_(torch.empty(big), seed=2, threads=1)
    two = finit.normal_(torch.empty(big), seed=2, threads=2)
    assert torch.equal(one, two)


# ---------------------------------------------------------- which tensors ----
def test_parameters_keep_requires_grad_and_identity():
    p = nn.Parameter(torch.empty(6, 4))
    out = finit.xavier_uniform_(p, seed=0)
    assert out is p and p.requires_grad and p.is_leaf and p.grad_fn is None
    assert_same_bits(p, fastinit.xavier_uniform((6, 4), seed=0))
    (p * 2).sum().backward()
    assert torch.equal(p.grad, torch.full((6, 4), 2.0))


def test_autograd_sees_the_in_place_write():
    """Like an in-place torch op, the fill bumps the version counter, so a tensor saved
    for backward and overwritten afterwards is detected."""
    p = nn.Parameter(torch.ones(3))
    y = (p * p).sum()
    version = p._version
    finit.normal_(p, seed=0)
    assert p._version > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_non_contiguous_views_fill_the_logical_tensor(dtype):
    td = TORCH_DTYPES[dtype]
    base = torch.full((12, 10), 7.0, dtype=td)
    views = {
        "transposed": lambda: base.t(),
        "stepped": lambda: base[1:11, ::3],
        "column_block": lambda: base[2:9, 4:7],
    }
    for label, make in views.items():
        base.fill_(7.0)
        v = make()
        finit.normal_(v, seed=1, stream=label)
        assert_same_bits(v, fastinit.normal(tuple(v.shape), seed=1, stream=label, dtype=dtype))
        untouched = torch.ones_like(base, dtype=torch.bool)
        make().fill_(0)  # mark where the view is: everything else must still be 7
        untouched &= base != 0
        assert bool((base[untouched] == 7.0).all()), label


def test_channels_last_conv_weight_equals_contiguous():
    w = torch.empty(8, 3, 5, 5).to(memory_format=torch.channels_last)
    assert not w.is_contiguous()
    finit.kaiming_uniform_(w, a=math.sqrt(5), seed=0)
    assert_same_bits(w, fastinit.kaiming_uniform((8, 3, 5, 5), a=math.sqrt(5), seed=0))


def test_interleaved_layout_goes_through_staging():
    """Offsets 0,3,2,5,4,7 do not overlap but interleave: filled through a staging
    buffer and copy_, leaving the other elements of the storage alone."""
    base = torch.full((8,), 7.0)
    v = base.as_strided((3, 2), (2, 3))
    finit.uniform_(v, seed=3)
    assert_same_bits(v, fastinit.uniform((3, 2), seed=3))
    assert base[1].item() == 7.0 and base[6].item() == 7.0


def test_overlapping_tensor_is_refused_like_torch():
    e = torch.zeros(3, 1).expand(3, 4)
    with pytest.raises(RuntimeError, match="single memory location"):
        finit.normal_(e, seed=0)
    with pytest.raises(RuntimeError, match="single memory location"):
        nn.init.normal_(e)


def test_meta_tensors_are_a_no_op_without_drawing_a_seed():
    state = torch.get_rng_state()
    for name, args in [("uniform_", ()), ("normal_", ()), ("trunc_normal_", ()), ("xavier_uniform_", ()),
                       ("kaiming_normal_", ()), ("orthogonal_", ()), ("sparse_", (0.5,)), ("eye_", ()),
                       ("constant_", (1.0,)), ("zeros_", ())]:
        m = torch.empty(4, 6, device="meta")
        assert getattr(finit, name)(m, *args) is m
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError, match="3, 4, or 5"):
        finit.dirac_(torch.empty(4, 6, device="meta"))


@pytest.mark.parametrize("dtype", [torch.int64, torch.complex64, torch.bool])
def test_unsupported_dtypes_are_refused_before_drawing(dtype):
    state = torch.get_rng_state()
    with pytest.raises(TypeError, match="float32, float64, float16 and bfloat16"):
        finit.normal_(torch.zeros(3, dtype=dtype))
    assert torch.equal(torch.get_rng_state(), state)


def test_errors_match_torch():
    cases = [
        ("eye_", torch.empty(2, 3, 4), ()),
        ("dirac_", torch.empty(2, 3), ()),
        ("dirac_", torch.empty(5, 3, 3), (2,)),
        ("orthogonal_", torch.empty(5), ()),
        ("sparse_", torch.empty(2, 3, 4), (0.1,)),
        ("xavier_uniform_", torch.empty(5), ()),
        ("kaiming_normal_", torch.empty(5), ()),
        ("kaiming_uniform_", torch.empty(5, 3), (0, "fan_avg")),
        ("kaiming_uniform_", torch.empty(5, 3), (0, "fan_in", "gelu")),
        ("kaiming_uniform_", torch.empty(5, 3), (True, "fan_in", "leaky_relu")),
    ]
    for name, t, args in cases:
        with pytest.raises(ValueError) as theirs:
            getattr(nn.init, name)(t.clone(), *args)
        with pytest.raises(ValueError) as ours:
            getattr(finit, name)(t.clone(), *args, **({} if name in ("eye_", "dirac_") else {"seed": 0}))
        assert str(ours.value) == str(theirs.value), name


def test_zero_element_tensors_behave_like_torch():
    for name in ("kaiming_uniform_", "kaiming_normal_"):
        with pytest.warns(UserWarning, match="zero-element"):
            getattr(finit, name)(torch.empty(0, 3), seed=0)
    assert finit.orthogonal_(torch.empty(0, 3), seed=0).shape == (0, 3)
    assert finit.normal_(torch.empty(0), seed=0).shape == (0,)


def test_cuda_like_devices_use_the_staging_copy(monkeypatch):
    """Tensors off the CPU are computed on the CPU and copied (no GPU here: force the
    staging path on a CPU tensor and check the values are unchanged)."""
    monkeypatch.setattr(finit._tensor, "_elements_disjoint", lambda t: False)
    t = finit.normal_(torch.empty(5, 7, dtype=torch.bfloat16), seed=8)
    assert_same_bits(t, fastinit.normal((5, 7), seed=8, dtype="bfloat16"))


# ------------------------------------------------------------- init_module ----
def _explicit_linear(shape, seed, prefix, bias_len=None):
    fan_in = shape[1] * math.prod(shape[2:])
    w = fastinit.kaiming_uniform(shape, a=math.sqrt(5), seed=seed, stream=prefix + ".weight")
    bound = 1 / math.sqrt(fan_in)
    b = fastinit.uniform(bias_len or shape[0], -bound, bound, seed=seed, stream=prefix + ".bias")
    return w, b


class _Net(nn.Module):
    def __init__(self, reverse=False, extra=False):
        super().__init__()
        makers = [
            ("embed", lambda: nn.Embedding(20, 8, padding_idx=3)),
            ("conv", lambda: nn.Conv1d(8, 6, 3)),
            ("deconv", lambda: nn.ConvTranspose2d(6, 4, (2, 3), groups=2)),
            ("norm", lambda: nn.LayerNorm(6)),
            ("bn", lambda: nn.BatchNorm1d(6)),
            ("gn", lambda: nn.GroupNorm(2, 6)),
            ("rnn", lambda: nn.LSTM(6, 5, num_layers=2)),
            ("cell", lambda: nn.GRUCell(5, 7)),
            ("attn", lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True)),
            ("attn2", lambda: nn.MultiheadAttention(8, 2, kdim=5, vdim=3)),
            ("bil", lambda: nn.Bilinear(3, 4, 5)),
            ("prelu", lambda: nn.PReLU(6, init=0.1)),
            ("head", lambda: nn.Linear(6, 3)),
        ]
        if extra:
            makers.insert(2, ("extra", lambda: nn.Linear(7, 7)))
        for name, make in (reversed(makers) if reverse else makers):
            setattr(self, name, make())


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_init_module_explicit_values():
    net = finit.init_module(_Net(), seed=42)
    w, b = _explicit_linear((3, 6), 42, "head")
    assert_same_bits(net.head.weight, w)
    assert_same_bits(net.head.bias, b)
    w, b = _explicit_linear((6, 8, 3), 42, "conv")
    assert_same_bits(net.conv.weight, w)
    assert_same_bits(net.conv.bias, b)
    # ConvTranspose weight is (in, out / groups, *k): fan_in = 2 * 2 * 3 from that layout.
    w, b = _explicit_linear((6, 2, 2, 3), 42, "deconv", bias_len=4)
    assert_same_bits(net.deconv.weight, w)
    assert_same_bits(net.deconv.bias, b)
    emb = fastinit.normal((20, 8), seed=42, stream="embed.weight")
    emb[3] = 0
    assert_same_bits(net.embed.weight, emb)
    for name in ["weight_ih_l0", "weight_hh_l1", "bias_ih_l1"]:
        p = getattr(net.rnn, name)
        ref = fastinit.uniform(tuple(p.shape), -1 / math.sqrt(5), 1 / math.sqrt(5), seed=42,
                               stream="rnn." + name)
        assert_same_bits(p, ref)
    p = net.cell.weight_hh
    assert_same_bits(p, fastinit.uniform(tuple(p.shape), -1 / math.sqrt(7), 1 / math.sqrt(7), seed=42,
                                         stream="cell.weight_hh"))
    assert_same_bits(net.attn.in_proj_weight, fastinit.xavier_uniform((24, 8), seed=42,
                                                                      stream="attn.in_proj_weight"))
    assert_same_bits(net.attn.bias_k, fastinit.xavier_normal((1, 1, 8), seed=42, stream="attn.bias_k"))
    assert_same_bits(net.attn2.k_proj_weight, fastinit.xavier_uniform((8, 5), seed=42,
                                                                      stream="attn2.k_proj_weight"))
    w, _ = _explicit_linear((8, 8), 42, "attn.out_proj")
    assert_same_bits(net.attn.out_proj.weight, w)
    assert float(net.attn.out_proj.bias.detach().abs().sum()) == 0.0  # MHA zeroes it after the child's init
    assert float(net.attn.in_proj_bias.detach().abs().sum()) == 0.0
    bound = 1 / math.sqrt(3)
    assert_same_bits(net.bil.weight, fastinit.uniform((5, 3, 4), -bound, bound, seed=42, stream="bil.weight"))
    for norm in (net.norm, net.bn, net.gn):
        assert torch.equal(norm.weight, torch.ones(6)) and torch.equal(norm.bias, torch.zeros(6))
    assert torch.equal(net.prelu.weight, torch.full((6,), 0.1))


def test_init_module_matches_torch_defaults_structurally():
    """Same zeros, ones and buffers as PyTorch's own init; random tensors have PyTorch's
    scale (the maximum of a uniform tensor is just under PyTorch's bound)."""
    torch.manual_seed(0)
    theirs = _Net()
    ours = _Net()
    for m in ours.modules():  # dirty buffers to see init_module reset them
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.fill_(3.0)
            m.num_batches_tracked.fill_(5)
    finit.init_module(ours, seed=1)
    assert float(ours.embed.weight.detach()[3].abs().sum()) == 0.0  # padding row
    t_state, o_state = _state(theirs), _state(ours)
    assert t_state.keys() == o_state.keys()
    for k, t in t_state.items():
        o = o_state[k]
        assert o.shape == t.shape and o.dtype == t.dtype
        if bool((t == t.flatten()[0]).all()):  # constants: ones, zeros, PReLU, buffers
            assert torch.equal(o, t), k
        if t.numel() >= 24 and not bool((t == t.flatten()[0]).all()):
            ratio = float(o.abs().max() / t.abs().max())
            assert 0.7 < ratio < 1.3, (k, ratio)


def test_init_module_does_not_depend_on_construction_order_or_other_layers():
    a = finit.init_module(_Net(), seed=7)
    b = finit.init_module(_Net(reverse=True), seed=7)
    c = finit.init_module(_Net(extra=True), seed=7, threads=1)
    sa, sb, sc = _state(a), _state(b), _state(c)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
        assert torch.equal(sa[k], sc[k]), k
    d = _state(finit.init_module(_Net(), seed=8))
    assert not torch.equal(sa["head.weight"], d["head.weight"])


def test_init_module_leaves_torch_rng_alone():
    net = _Net()
    state = torch.get_rng_state()
    finit.init_module(net, seed=0)
    assert torch.equal(torch.get_rng_state(), state)


def test_init_module_after_meta_construction():
    with torch.device("meta"):
        lazy = _Net()
    lazy = lazy.to_empty(device="cpu")
    finit.init_module(lazy, seed=3)
    eager = finit.init_module(_Net(), seed=3)
    sl, se = _state(lazy), _state(eager)
    for k in se:
        assert torch.equal(sl[k], se[k]), k


def test_init_module_bfloat16_and_prefix():
    net = nn.Sequential(nn.Linear(16, 8)).to(torch.bfloat16)
    finit.init_module(net, seed=1, prefix="decoder.layers.2")
    w = fastinit.kaiming_uniform((8, 16), a=math.sqrt(5), seed=1, stream="decoder.layers.2.0.weight",
                                 dtype="bfloat16")
    assert_same_bits(net[0].weight, w)


class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(4, 6))
        self.u = nn.Parameter(torch.empty(6))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.xavier_normal_(self.w.data)  # another tensor object on the same memory
        tmp = torch.empty(6)
        nn.init.uniform_(tmp, -1, 1)  # a temporary: named by its module and call order
        with torch.no_grad():
            self.u.copy_(tmp)


class _NoReset(nn.Module):
    def __init__(self):
        super().__init__()
        self.p = nn.Parameter(torch.randn(3))


class _MyLinear(nn.Linear):
    def reset_parameters(self):
        nn.init.zeros_(self.weight)
        nn.init.normal_(self.bias, 0.0, 3.0)


def test_init_module_runs_other_reset_code_with_parameter_names():
    net = nn.Sequential(_Custom(), _NoReset(), _MyLinear(3, 2))
    # u is copied from a temporary (filled on stream "0#1"): written; p is left as it was.
    with pytest.warns(UserWarning, match=r"1 parameter\(s\) were not filled by fastinit.*: 1\.p$"):
        finit.init_module(net, seed=5)
    assert_same_bits(net[0].w, fastinit.xavier_normal((4, 6), seed=5, stream="0.w"))
    assert_same_bits(net[0].u, fastinit.uniform(6, -1, 1, seed=5, stream="0#1"))
    assert torch.equal(net[2].weight, torch.zeros(2, 3))
    assert_same_bits(net[2].bias, fastinit.normal(2, 0.0, 3.0, seed=5, stream="2.bias"))
    assert nn.init.xavier_normal_ is torch.nn.init.__dict__["xavier_normal_"]
    assert nn.init.xavier_normal_.__module__ == "torch.nn.init"  # patch undone


def test_init_module_skips_uninitialized_lazy_modules():
    net = nn.Sequential(nn.LazyLinear(4), nn.Linear(4, 2))
    finit.init_module(net, seed=0)
    w, _ = _explicit_linear((2, 4), 0, "1")
    assert_same_bits(net[1].weight, w)
    net(torch.ones(1, 3))  # materialize, then init again
    finit.init_module(net, seed=0)
    w, _ = _explicit_linear((4, 3), 0, "0")
    assert_same_bits(net[0].weight, w)


def test_init_module_transformer_xavier_pass():
    tr = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                        dim_feedforward=16, batch_first=True)
    finit.init_module(tr, seed=2)
    for name, p in tr.named_parameters():
        if p.dim() > 1:
            assert_same_bits(p, fastinit.xavier_uniform(tuple(p.shape), seed=2, stream=name))
    b = tr.encoder.layers[0].linear1.bias
    bound = 1 / math.sqrt(8)
    assert_same_bits(b, fastinit.uniform(16, -bound, bound, seed=2, stream="encoder.layers.0.linear1.bias"))


def test_init_module_rejects_bad_arguments():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        finit.init_module(torch.empty(3), seed=0)
    with pytest.raises(TypeError, match="seed is required"):
        finit.init_module(nn.Linear(2, 2), None)


# --------------------------------------------------------- patch_torch_init ----
def _drawn_seeds(seed, n):
    torch.manual_seed(seed)
    return [int(torch.randint(0, 2**63 - 1, ())) for _ in range(n)]


def test_patch_runs_unmodified_layers_on_fastinit():
    s_weight, s_bias = _drawn_seeds(10, 2)
    torch.manual_seed(10)
    with finit.patch_torch_init():
        lin = nn.Linear(30, 20)
    assert_same_bits(lin.weight, fastinit.kaiming_uniform((20, 30), a=math.sqrt(5), seed=s_weight))
    bound = 1 / math.sqrt(30)
    assert_same_bits(lin.bias, fastinit.uniform(20, -bound, bound, seed=s_bias))


def test_patch_reaches_functions_imported_by_name():
    # MultiheadAttention calls xavier_uniform_ imported into torch.nn.modules.activation.
    (s_out_w, s_out_b, s_in) = _drawn_seeds(3, 3)
    torch.manual_seed(3)
    with finit.patch_torch_init():
        mha = nn.MultiheadAttention(8, 2)
    assert_same_bits(mha.out_proj.weight, fastinit.kaiming_uniform((8, 8), a=math.sqrt(5), seed=s_out_w))
    assert_same_bits(mha.in_proj_weight, fastinit.xavier_uniform((24, 8), seed=s_in))


def test_patch_is_reproducible_and_restored_even_on_error():
    originals = {n: getattr(nn.init, n) for n in ("normal_", "xavier_uniform_", "normal")}
    activation_fn = torch.nn.modules.activation.xavier_uniform_

    def build():
        torch.manual_seed(0)
        with finit.patch_torch_init(threads=1):
            return nn.Sequential(nn.Linear(5, 5), nn.Embedding(4, 3), nn.MultiheadAttention(4, 2))

    a, b = _state(build()), _state(build())
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(KeyError):
        (drawn,) = _drawn_seeds(1, 1)
        torch.manual_seed(1)
        with finit.patch_torch_init():
            assert_same_bits(originals["normal_"](torch.empty(4)), fastinit.normal(4, seed=drawn))
            raise KeyError("boom")
    for n, f in originals.items():
        assert getattr(nn.init, n) is f
    assert torch.nn.modules.activation.xavier_uniform_ is activation_fn


def test_patch_passes_generator_and_unsupported_dtypes():
    g = torch.Generator().manual_seed(4)
    (expected,) = [int(torch.randint(0, 2**63 - 1, (), generator=torch.Generator().manual_seed(4)))]
    with finit.patch_torch_init():
        t = nn.init.normal_(torch.empty(9), 1.0, 2.0, generator=g)
        c = nn.init.normal_(torch.zeros(4, dtype=torch.complex64))  # PyTorch's own fill
        with pytest.warns(FutureWarning, match="deprecated"):
            d = nn.init.uniform(torch.empty(3), generator=torch.Generator().manual_seed(4))
    assert_same_bits(t, fastinit.normal(9, 1.0, 2.0, seed=expected))
    assert bool((c != 0).all())
    assert_same_bits(d, fastinit.uniform(3, seed=expected))


class _HFStyle(nn.Module):
    """Initializes through Tensor methods, as many Hugging Face models do."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 6)
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.uniform_(-0.5, to=0.5)


def test_patch_tensor_methods_by_default():
    s_weight, s_bias, s_normal, s_uniform = _drawn_seeds(6, 4)
    torch.manual_seed(6)
    with finit.patch_torch_init():
        m = _HFStyle()
        p = nn.Parameter(torch.empty(3))
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            p.normal_()  # autograd-recorded in-place ops stay PyTorch's (and its errors)
        cplx = torch.zeros(5, dtype=torch.complex64).normal_()  # PyTorch's own fill
    assert_same_bits(m.proj.weight, fastinit.normal((6, 8), 0.0, 0.02, seed=s_normal))
    assert_same_bits(m.proj.bias, fastinit.uniform(6, -0.5, 0.5, seed=s_uniform))
    assert bool((cplx != 0).all())
    assert "normal_" not in torch.Tensor.__dict__ and "uniform_" not in torch.Tensor.__dict__
    torch.manual_seed(6)
    with finit.patch_torch_init(tensor_methods=False):  # the Tensor methods stay PyTorch's
        plain = _HFStyle()
    assert not torch.equal(plain.proj.weight, m.proj.weight)


class _DataInit(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.empty(5, 4))
        self.reset_parameters()

    def reset_parameters(self):
        self.w.data.normal_(0.0, 0.5)


def test_init_module_follows_tensor_method_fills_by_name():
    net = nn.Sequential(_DataInit())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left out
        finit.init_module(net, seed=2)
    assert_same_bits(net[0].w, fastinit.normal((5, 4), 0.0, 0.5, seed=2, stream="0.w"))
    assert "normal_" not in torch.Tensor.__dict__


# -------------------------------------------------------------- fill_shard_ ----
@pytest.mark.parametrize("init,params", [
    ("normal", dict(std=0.02)), ("uniform_", dict(a=-1, b=2)), ("trunc_normal", dict(std=1.0, a=-1, b=0.5)),
    ("kaiming_uniform", dict(a=math.sqrt(5))), ("xavier_normal", {}), ("orthogonal", dict(gain=2.0)),
    ("sparse", dict(sparsity=0.25)), ("eye", {}), ("constant", dict(val=0.5)),
])
def test_fill_shard_equals_the_slice_of_the_whole(init, params):
    rng = np.random.default_rng(0)
    shape = (23, 17)
    whole = finit.fill_shard_(torch.empty(shape, dtype=torch.float64), shape, (0, 0), init, seed=4,
                              stream="w", **params)
    dropin = getattr(finit, init.rstrip("_") + "_")
    kw = {} if init in ("eye", "constant") else dict(seed=4, stream="w")
    assert torch.equal(whole, dropin(torch.empty(shape, dtype=torch.float64), **params, **kw))
    for _ in range(6):
        r0, c0 = int(rng.integers(0, 23)), int(rng.integers(0, 17))
        r1, c1 = int(rng.integers(r0, 24)), int(rng.integers(c0, 18))
        local = torch.empty(r1 - r0, c1 - c0, dtype=torch.float64)
        offsets = (r0, c0) if rng.random() < 0.5 else (slice(r0, r1), slice(c0, c1))
        finit.fill_shard_(local, shape, offsets, init, seed=4, stream="w", **params)
        assert torch.equal(local, whole[r0:r1, c0:c1])


def test_fill_shard_accepts_drop_in_functions_and_checks_its_arguments():
    local = torch.empty(2, 3)
    finit.fill_shard_(local, (4, 3), (2, 0), finit.kaiming_normal_, seed=1, mode="fan_out")
    assert_same_bits(local, fastinit.kaiming_normal((4, 3), mode="fan_out", seed=1)[2:4])
    with pytest.raises(ValueError, match="does not fit"):
        finit.fill_shard_(local, (4, 3), (3, 0), "normal", seed=1)
    with pytest.raises(ValueError, match="has length"):
        finit.fill_shard_(local, (4, 3), (slice(0, 3), slice(0, 3)), "normal", seed=1)
    with pytest.raises(ValueError, match="one start index or slice per dimension"):
        finit.fill_shard_(local, (4, 3), (0,), "normal", seed=1)
    with pytest.raises(ValueError, match="unknown initializer"):
        finit.fill_shard_(local, (4, 3), (0, 0), "glorot", seed=1)


# ------------------------------------------------------------------- LSUV ----
def _digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def _layer_output_variances(net, x, types=(nn.Linear, nn.Conv2d)):
    """Independent measurement: each layer's output variance on x, by forward hooks."""
    seen = {}

    def hook(name):
        def record(module, inputs, output):
            seen.setdefault(name, float(output.double().var()))
        return record

    hooks = [m.register_forward_hook(hook(name)) for name, m in net.named_modules() if isinstance(m, types)]
    training = net.training
    net.eval()  # LSUV fits the network as it runs at inference (no dropout)
    with torch.no_grad():
        net(x)
    net.train(training)
    for h in hooks:
        h.remove()
    return seen


def test_lsuv_mlp_on_digits_reaches_unit_variance_and_trains():
    x, y = _digits()  # raw pixels 0..16: far from unit variance on purpose
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 64), nn.Tanh(),
                        nn.Linear(64, 10))
    before = _layer_output_variances(net, x[:500])
    assert max(abs(v - 1) for v in before.values()) > 1.0
    finit.lsuv_(net, x[:500], tol=0.05, seed=0)
    after = _layer_output_variances(net, x[:500])
    assert set(after) == {"0", "3", "5"}
    for name, v in after.items():
        assert abs(v - 1) < 0.05, (name, v)
    assert net.training and net[2].training  # training flags restored
    for name in ("0", "3", "5"):
        assert float(net.get_submodule(name).bias.detach().abs().sum()) == 0.0
    # Rows of the first weight stay orthogonal (only rescaled).
    w = net[0].weight.detach().double()
    gram = w.T @ w  # 64 x 64: columns orthonormal up to one scale
    torch.testing.assert_close(gram / gram.diagonal().mean(), torch.eye(64, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    # And the network trains well from there.
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xtr, ytr, xte, yte = x[:1400], y[:1400], x[1400:], y[1400:]
    for _ in range(15):
        for i in range(0, 1400, 100):
            opt.zero_grad()
            nn.functional.cross_entropy(net(xtr[i:i + 100]), ytr[i:i + 100]).backward()
            opt.step()
    net.eval()
    accuracy = float((net(xte).argmax(1) == yte).float().mean())
    assert accuracy > 0.9


def test_lsuv_convnet_on_digits_and_reproducibility():
    x, _ = _digits()
    images = x[:300].reshape(-1, 1, 8, 8)

    def make():
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3), nn.ReLU(),
                             nn.Flatten(), nn.Linear(16 * 36, 10))

    a, b = make(), make()
    finit.lsuv_(a, images, seed=3)
    finit.lsuv_(b, images, seed=3)
    for name, v in _layer_output_variances(a, images).items():
        assert abs(v - 1) < 0.1, (name, v)
    sa, sb = _state(a), _state(b)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_lsuv_reports_problems():
    with pytest.raises(ValueError, match="no layer"):
        finit.lsuv_(nn.Sequential(nn.ReLU()), torch.ones(2, 2), seed=0)
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    net.forward = lambda x: net[0](x)  # the second layer is never called
    with pytest.warns(UserWarning, match="never reached 1"):
        finit.lsuv_(net, torch.randn(16, 4), seed=0)
    dead = nn.Sequential(nn.Linear(4, 4))
    with pytest.warns(UserWarning, match="ends with output variance 0"):
        finit.lsuv_(dead, torch.zeros(8, 4), seed=0, max_iter=3)


def test_lsuv_scales_the_named_orthogonal_init_of_the_chosen_layers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Linear(20, 6))
    x = torch.randn(300, 12) * 3
    untouched = net[2].weight.detach().clone()
    finit.lsuv_(net, x, seed=9, layers=[net[0]], zero_bias=False)
    assert torch.equal(net[2].weight, untouched)
    q = torch.from_numpy(fastinit.orthogonal((20, 12), seed=9, stream="0.weight"))
    w = net[0].weight.detach()
    scale = float((w * q).sum() / (q * q).sum())
    assert scale > 0
    torch.testing.assert_close(w, scale * q, rtol=1e-5, atol=1e-6)
    assert abs(_layer_output_variances(net, x)["0"] - 1) < 0.1


def test_init_module_reports_parametrized_weights_it_cannot_reach():
    from torch.nn.utils.parametrizations import weight_norm

    net = nn.Sequential(weight_norm(nn.Linear(4, 3)))
    with pytest.warns(UserWarning, match=r"2 parameter\(s\).*0\.parametrizations\.weight\.original0"):
        finit.init_module(net, seed=0)
    bound = 1 / math.sqrt(4)
    assert_same_bits(net[0].bias, fastinit.uniform(3, -bound, bound, seed=0, stream="0.bias"))
