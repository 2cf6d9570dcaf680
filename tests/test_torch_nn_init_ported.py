"""The cases of PyTorch's own test/nn/test_init.py (TestNNInit and TestNNInitDeviceType on
CPU: 48 tests), rewritten for pytest and run on ``import fastinit.torch as init``: the
drop-ins must pass what torch.nn.init passes (same gains, errors, warnings, deprecated
names, distributions by Kolmogorov-Smirnov, orthogonality, bounds and value variety)."""
from __future__ import annotations

import math
import random
import string

import pytest
import torch
import torch.nn.functional as F
from scipy import stats

import fastinit.torch as init

P_MIN = 1e-4  # the p-value threshold PyTorch's tests use


@pytest.fixture(autouse=True)
def _seeded():
    random.seed(123)
    torch.manual_seed(123)


def rand_tensor(dims, lo, hi):
    return torch.zeros([random.randint(lo, hi) for _ in range(dims)])


def rand_float(a, b):
    return a + (b - a) * random.random()


def ks(samples, dist, args):
    return stats.kstest(samples.reshape(-1).tolist(), dist, args=args)[1] > P_MIN


def is_normal(t, mean, std):
    return ks(t, "norm", (mean, std))


def is_uniform(t, a, b):
    return ks(t, "uniform", (a, b - a))


def is_trunc_normal(t, mean, std, a, b):
    z = (t.reshape(-1).double() - mean) / std
    return ks(z, "truncnorm", ((a - mean) / std, (b - mean) / std))


def fans(t):
    receptive = t[0, 0].numel() if t.dim() > 2 else 1
    return t.size(1) * receptive, t.size(0) * receptive


# ------------------------------------------------------------------ gains ----
def test_calculate_gain_linear():
    for fn in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "conv_transpose3d"):
        assert init.calculate_gain(fn) == 1


def test_calculate_gain_nonlinear():
    expected = {"sigmoid": 1, "tanh": 5 / 3, "relu": math.sqrt(2), "leaky_relu": 1.4141428569978354,
                "selu": 0.75}
    for fn, gain in expected.items():
        assert init.calculate_gain(fn) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_leaky_relu():
    for param, gain in ((None, 1.4141428569978354), (0, math.sqrt(2)), (0.01, 1.4141428569978354),
                        (10, 0.14071950894605836)):
        assert init.calculate_gain("leaky_relu", param) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_leaky_relu_only_accepts_numbers():
    for param in (True, [1], {"a": "b"}):
        with pytest.raises(ValueError):
            init.calculate_gain("leaky_relu", param)


def test_calculate_gain_only_accepts_valid_nonlinearities():
    for n in (2, 5, 25):
        with pytest.raises(ValueError):
            init.calculate_gain("".join(random.choice(string.ascii_lowercase) for _ in range(n)))


# ---------------------------------------------------------- distributions ----
def test_uniform():
    for dims in (1, 2, 4):
        t = rand_tensor(dims, 30, 50)
        a = rand_float(-3, 3)
        b = a + rand_float(1, 5)
        init.uniform_(t, a=a, b=b)
        assert is_uniform(t, a, b)


def test_normal():
    for dims in (1, 2, 4):
        t = rand_tensor(dims, 30, 50)
        mean, std = rand_float(-3, 3), rand_float(1, 5)
        init.normal_(t, mean=mean, std=std)
        assert is_normal(t, mean, std)


def test_trunc_normal_generator():
    t = init.trunc_normal_(torch.empty(5), generator=torch.Generator().manual_seed(42))
    torch.manual_seed(42)
    ref = init.trunc_normal_(torch.empty(5))
    assert torch.equal(t, ref)  # the same generator state gives the same values
    assert is_trunc_normal(t, 0, 1, -2, 2)


def test_constant():
    for dims in (1, 2, 4):
        t = rand_tensor(dims, 1, 5)
        val = rand_float(1, 10)
        init.constant_(t, val)
        assert torch.equal(t, torch.full_like(t, val))


def test_ones_and_zeros():
    for fn, val in ((init.ones_, 1.0), (init.zeros_, 0.0)):
        for dims in (1, 2, 4):
            t = rand_tensor(dims, 1, 5)
            fn(t)
            assert torch.equal(t, torch.full_like(t, val))


def test_eye():
    t = init.eye_(rand_tensor(2, 1, 5))
    assert torch.equal(t, torch.eye(*t.shape))


def test_eye_only_works_on_2d_inputs():
    for dims in (1, 3):
        with pytest.raises(ValueError):
            init.eye_(rand_tensor(dims, 1, 3))


def test_dirac_properties():
    for dims in (3, 4, 5):
        for groups in (1, 2, 3):
            a, c, d, e = (random.randint(1, 5) for _ in range(4))
            b = random.randint(1, 5 * groups)
            t = init.dirac_(torch.randn((a * groups, b, c, d, e)[:dims]), groups)
            per_group = min(t.size(0) // groups, t.size(1))
            assert torch.nonzero(t).size(0) == per_group * groups
            assert float(t.sum()) == per_group * groups


def test_dirac_identity():
    batch, in_c, out_c, size, k = 8, 3, 9, 5, 3
    for groups in (1, 3):
        per = out_c // groups
        for conv, spatial in ((F.conv1d, 1), (F.conv2d, 2), (F.conv3d, 3)):
            x = torch.randn(batch, in_c, *([size] * spatial))
            w = torch.cat([torch.zeros(per, in_c, *([k] * spatial))] * groups)
            init.dirac_(w, groups)
            y = conv(x, w)
            inner = (slice(None), slice(None)) + (slice(1, -1),) * spatial
            for g in range(groups):
                assert torch.equal(x[inner], y[:, per * g:per * g + in_c])
                assert torch.count_nonzero(y[:, per * g + in_c:per * (g + 1)]) == 0


def test_dirac_only_works_on_3_4_5d_inputs():
    for dims in (1, 2, 6):
        with pytest.raises(ValueError):
            init.dirac_(rand_tensor(dims, 1, 3))


@pytest.mark.parametrize("fn", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
def test_fan_based_errors_on_inputs_smaller_than_2d(fn):
    for dims in (0, 1):
        with pytest.raises(ValueError):
            getattr(init, fn)(rand_tensor(dims, 1, 1))


def test_xavier_uniform():
    for use_gain in (True, False):
        for dims in (2, 4):
            t = rand_tensor(dims, 20, 25)
            gain = rand_float(0.1, 2) if use_gain else 1
            init.xavier_uniform_(t, gain=gain) if use_gain else init.xavier_uniform_(t)
            fan_in, fan_out = fans(t)
            bound = gain * math.sqrt(2.0 / (fan_in + fan_out)) * math.sqrt(3)
            assert is_uniform(t, -bound, bound)


def test_xavier_normal():
    for use_gain in (True, False):
        for dims in (2, 4):
            t = rand_tensor(dims, 20, 25)
            gain = rand_float(0.1, 2) if use_gain else 1
            init.xavier_normal_(t, gain=gain) if use_gain else init.xavier_normal_(t)
            fan_in, fan_out = fans(t)
            assert is_normal(t, 0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


@pytest.mark.parametrize("fn", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_warning_on_0element_tensor(fn):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        getattr(init, fn)(torch.empty(0, 1))


@pytest.mark.parametrize("kind", ["uniform", "normal"])
def test_kaiming(kind):
    for use_a in (True, False):
        for dims in (2, 4):
            for mode in ("fan_in", "fan_out"):
                t = rand_tensor(dims, 20, 25)
                a = rand_float(0.1, 2) if use_a else 0
                fn = getattr(init, f"kaiming_{kind}_")
                fn(t, a=a, mode=mode) if use_a else fn(t, mode=mode)
                fan_in, fan_out = fans(t)
                std = math.sqrt(2.0 / ((1 + a ** 2) * (fan_in if mode == "fan_in" else fan_out)))
                if kind == "uniform":
                    assert is_uniform(t, -std * math.sqrt(3), std * math.sqrt(3))
                else:
                    assert is_normal(t, 0, std)


def test_sparse_only_works_on_2d_inputs():
    for dims in (1, 3):
        with pytest.raises(ValueError):
            init.sparse_(rand_tensor(dims, 1, 3), rand_float(0.1, 0.9))


def test_sparse_default_std():
    for use_random_std in (True, False):
        t = rand_tensor(2, 30, 35)
        sparsity = rand_float(0.1, 0.2)
        std = rand_float(0.01, 0.2) if use_random_std else 0.01
        init.sparse_(t, sparsity=sparsity, std=std) if use_random_std else init.sparse_(t, sparsity=sparsity)
        for col in range(t.size(1)):
            assert int((t[:, col] == 0).sum()) >= math.ceil(sparsity * t.size(0))
        assert is_normal(t[t != 0], 0, std)


def test_orthogonal():
    for use_gain in (True, False):
        for size in ([3, 4], [4, 3], [20, 2, 3, 4], [2, 3, 4, 5]):
            t = torch.zeros(size)
            gain = rand_float(0.1, 2) if use_gain else 1.0
            init.orthogonal_(t, gain=gain) if use_gain else init.orthogonal_(t)
            rows, cols = size[0], math.prod(size[1:])
            flat = t.view(rows, cols)
            gram = flat.t() @ flat if rows > cols else flat @ flat.t()
            torch.testing.assert_close(gram, torch.eye(min(rows, cols)) * gain ** 2, atol=1e-6, rtol=0)


def test_deprecation():
    with pytest.warns(FutureWarning, match="deprecated"):
        init.normal(torch.randn(3, 3))


# ------------------------------------------------ truncated normal, by dtype ----
@pytest.mark.parametrize("dims", [1, 2, 4])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_trunc_normal_all_dtypes(dims, dtype):
    t = torch.zeros([random.randint(30, 50) for _ in range(dims)], dtype=dtype)
    mean, std = random.uniform(-3, 3), random.uniform(0.01, 1)
    a, b = random.uniform(mean - 2 * std, mean), random.uniform(mean, mean + 2 * std)
    init.trunc_normal_(t, mean=mean, std=std, a=a, b=b)
    lo, hi = torch.tensor(a, dtype=dtype).item(), torch.tensor(b, dtype=dtype).item()
    assert t.min().item() >= lo and t.max().item() <= hi
    assert is_trunc_normal(t.float(), mean, std, a, b)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_trunc_normal_low_precision(dtype):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert t.min().item() >= -2.0 and t.max().item() <= 2.0
    assert is_trunc_normal(t.float(), 0.0, 1.0, -2.0, 2.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_trunc_normal_narrow_interval(dtype):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=2.0, b=3.0)
    assert t.min().item() >= 2.0 and t.max().item() <= 3.0
    assert is_trunc_normal(t.float(), 0.0, 1.0, 2.0, 3.0)


@pytest.mark.parametrize("dtype,min_unique", [(torch.float32, 5000), (torch.float64, 5000),
                                              (torch.float16, 3000), (torch.bfloat16, 1000)])
def test_trunc_normal_unique_values(dtype, min_unique):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert t.min().item() >= -2.0 and t.max().item() <= 2.0
    assert t.unique().numel() > min_unique
    assert not t.isinf().any() and not t.isnan().any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_trunc_normal_no_boundary_values_small_std(dtype):
    t = init.trunc_normal_(torch.empty(10000, dtype=dtype), mean=0.0, std=0.1, a=-2.0, b=2.0)
    assert int((t == -2.0).sum()) == 0 and int((t == 2.0).sum()) == 0
