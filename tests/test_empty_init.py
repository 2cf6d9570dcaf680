"""empty_init, the materializing and error paths of init_module, patch_torch_init's
reach and its clean exit, inference tensors, and the deprecated torch.nn.init names."""
from __future__ import annotations

import functools
import math
import threading
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import fastinit
import fastinit.torch as finit

UINT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a, b):
    a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
    return a.shape == b.shape and a.dtype == b.dtype and torch.equal(
        a.contiguous().view(UINT[a.element_size()]), b.contiguous().view(UINT[b.element_size()]))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 6, padding_idx=0)
        self.conv = nn.Conv1d(6, 4, 3)
        self.bn = nn.BatchNorm1d(4)
        self.mha = nn.MultiheadAttention(4, 2)
        self.head = nn.Linear(4, 10, bias=False)
        self.register_buffer("scale", torch.full((4,), 0.5))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 5)
        self.b = nn.Linear(5, 5)
        self.b.weight = self.a.weight


def state(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


# ------------------------------------------------------------- empty_init ----
def test_empty_init_puts_parameters_on_meta_keeps_buffers_and_draws_nothing():
    rng = torch.get_rng_state()
    with finit.empty_init():
        net = Net()
        tied = Tied()
    assert torch.equal(torch.get_rng_state(), rng)  # no init work at all
    assert all(p.is_meta for p in net.parameters())
    assert not any(b.is_meta for b in net.buffers())
    assert torch.equal(net.scale, torch.full((4,), 0.5)) and torch.equal(net.bn.running_var, torch.ones(4))
    assert tied.b.weight is tied.a.weight and tied.a.weight.is_meta
    assert not nn.Linear(2, 2).weight.is_meta  # undone after the block
    assert nn.Module.register_parameter.__module__ == "torch.nn.modules.module"


class _Seen(TorchDispatchMode):
    """Records the aten ops that reach it (entered outside empty_init: what it passes on)."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


def test_empty_init_answers_value_ops_on_meta_at_once_and_nothing_else():
    """Under empty_init, element-wise in-place ops with scalar arguments on a meta tensor
    return it without reaching torch's kernels (its decompositions); shape-changing
    in-place ops, ops with tensor arguments, real tensors and autograd's checks are
    torch's own."""
    with _Seen() as seen, finit.empty_init():
        lin = nn.Linear(8, 4)  # reset_parameters: kaiming_uniform_ and uniform_ on meta
        w = lin.weight
        with torch.no_grad():
            assert w.normal_(0.0, 0.02) is w and w.uniform_(-1, 1) is w and w.mul_(3) is w
            assert w.clamp_(-1, 1) is w and w.zero_() is w and w.fill_(2.0) is w
            assert nn.init.trunc_normal_(w, std=0.02) is w
        assert w.is_meta and w.shape == (4, 8) and w.dtype == torch.float32
        value_ops = {"normal_", "uniform_", "mul_", "clamp_", "zero_", "fill_", "erfinv_", "add_"}
        assert not value_ops & set(seen.ops), seen.ops
        m = torch.empty(3, 5, device="meta")
        assert m.t_() is m and m.shape == (5, 3)  # shape changes still happen
        m.resize_(2, 2)
        assert m.shape == (2, 2) and {"t_", "resize_"} <= set(seen.ops)
        assert m.add_(torch.empty(2, 2, device="meta")).shape == (2, 2) and "add_" in seen.ops
        with pytest.raises(RuntimeError):
            m.add_(torch.empty(3, 3, device="meta"))  # torch's own op, and its errors
        with pytest.raises(RuntimeError, match="leaf Variable"):
            w.normal_()  # autograd's in-place check is kept
        real = torch.zeros(3)
        real.mul_(2.0).add_(1.5)
        assert torch.equal(real, torch.full((3,), 1.5))  # real tensors computed as usual
    with _Seen() as seen:
        after = torch.empty(2, device="meta")
        after.normal_()
    assert "normal_" in seen.ops  # the block left nothing behind


def test_empty_init_then_init_module_equals_in_memory_init_module():
    torch.manual_seed(0)
    ref = finit.init_module(Net(), seed=9)
    with finit.empty_init():
        net = Net()
    finit.init_module(net, seed=9)
    a, b = state(ref), state(net)
    assert a.keys() == b.keys()
    for k in a:
        assert same_bits(a[k], b[k]), k
    with finit.empty_init():
        tied = Tied()
    finit.init_module(tied, seed=1)
    assert tied.b.weight is tied.a.weight and not tied.a.weight.is_meta
    w = fastinit.kaiming_uniform((5, 5), a=math.sqrt(5), seed=1, stream="a.weight")
    assert same_bits(tied.a.weight, w)


def test_unreached_parameters_one_warning_and_materialized_ones_zeroed():
    class Bare(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)
            self.p = nn.Parameter(torch.randn(4))
            self.q = nn.Parameter(torch.randn(2))

    with finit.empty_init():
        m = Bare()
    with pytest.warns(UserWarning) as seen:
        finit.init_module(m, seed=0)
    msgs = [str(w.message) for w in seen if "init_module" in str(w.message)]
    assert len(msgs) == 1
    assert "2 parameter(s) were not filled" in msgs[0] and ": p, q" in msgs[0]
    assert "set to zero: p, q" in msgs[0]
    assert torch.equal(m.p, torch.zeros(4)) and not m.p.is_meta


# -------------------------------------------------------------- bad input ----
def test_init_module_rejects_bad_arguments_before_anything_changes():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        finit.init_module(torch.empty(3), seed=0)
    with pytest.raises(ValueError, match="unknown scheme 'timm'.*'auto'.*'torch'"):
        finit.init_module(nn.Linear(2, 2), 0, scheme="timm")
    with finit.empty_init():
        net = Net()
    with pytest.raises(ValueError, match="device='meta' cannot hold"):
        finit.init_module(net, 0, device="meta")
    with pytest.raises(TypeError, match="device must be"):
        finit.init_module(net, 0, device=3.5)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device cuda.* cannot hold Net"):
            finit.init_module(net, 0, device="cuda")
    assert all(p.is_meta for p in net.parameters())  # nothing was materialized


def test_a_model_too_big_for_the_device_is_rolled_back_to_meta():
    with finit.empty_init():
        net = nn.Sequential(nn.Linear(4, 4), nn.Linear(2, 2))
    net[1] = nn.Linear(2**22, 2**22, bias=False, device="meta")  # 64 TiB
    with pytest.raises(RuntimeError, match=r"cannot materialize 1\.weight \(4194304, 4194304\) "
                                           r"torch\.float32 on cpu for Sequential"):
        finit.init_module(net, seed=0)
    assert all(p.is_meta for p in net.parameters())


def test_init_code_that_raises_names_module_and_tensor_and_leaves_meta():
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(3, 4))
            self.v = nn.Parameter(torch.empty(3))

        def reset_parameters(self):
            nn.init.normal_(self.w)
            raise ZeroDivisionError("bad config")

    with finit.empty_init():
        net = nn.Sequential(nn.Linear(4, 4), Broken())
    with pytest.raises(RuntimeError, match=r"raised ZeroDivisionError in module '1', last tensor "
                                           r"written '1\.w'; the tensors it materialized are on "
                                           r"meta again: bad config"):
        finit.init_module(net, seed=0)
    assert all(p.is_meta for p in net.parameters())


# ---------------------------------------------------------- inference mode ----
def _inference_zeros():
    with torch.inference_mode():
        return torch.zeros(5)


def test_inference_tensors_are_refused_outside_inference_mode_like_torch():
    t = _inference_zeros()
    message = "Inplace update to inference tensor outside InferenceMode is not allowed"
    with pytest.raises(RuntimeError, match=message):
        _inference_zeros().normal_()  # torch's own (it writes, then raises)
    with pytest.raises(RuntimeError, match=message):
        finit.normal_(t, seed=0)  # fastinit raises before writing
    with pytest.raises(RuntimeError, match=message):
        finit.fill_shard_(t, (10,), (0,), "uniform", seed=0)
    with finit.patch_torch_init(seed=0), pytest.raises(RuntimeError, match=message):
        t.normal_()
    assert torch.equal(t, torch.zeros(5))
    with torch.inference_mode():
        finit.normal_(t, seed=0)
    assert same_bits(t, fastinit.normal(5, seed=0))


# -------------------------------------------------------- patch_torch_init ----
def test_patch_reaches_stored_references_and_tensor_methods_with_a_seed():
    stored = {"normal_": nn.init.normal_, "trunc": functools.partial(nn.init.trunc_normal_, std=0.02)}
    method = torch.Tensor.uniform_
    torch.manual_seed(0)
    rng = torch.get_rng_state()
    with finit.patch_torch_init(seed=4):
        a = stored["normal_"](torch.empty(6), std=3.0)
        b = stored["trunc"](torch.empty(7))
        c = method(torch.empty(8), -1, 1)
        d = torch.empty(9).normal_(std=0.5)
    assert torch.equal(torch.get_rng_state(), rng)  # torch's generator untouched
    assert same_bits(a, fastinit.normal(6, 0.0, 3.0, seed=4, stream=0))
    assert same_bits(b, fastinit.trunc_normal(7, 0.0, 0.02, -2 / 0.02, 2 / 0.02, seed=4, stream=1))
    assert same_bits(c, fastinit.uniform(8, -1, 1, seed=4, stream=2))
    assert same_bits(d, fastinit.normal(9, 0.0, 0.5, seed=4, stream=3))


def test_patch_leaves_nothing_behind():
    codes = {n: getattr(nn.init, n).__code__ for n in ("normal_", "trunc_normal_", "orthogonal_")}
    with finit.patch_torch_init(seed=1):
        captured_fn = nn.init.normal_  # e.g. a library first imported inside the block
        captured_method = torch.Tensor.normal_
        inside = captured_fn(torch.empty(4))
    assert {n: getattr(nn.init, n).__code__ for n in codes} == codes
    assert "normal_" not in torch.Tensor.__dict__
    torch.manual_seed(3)
    expected = torch.empty(50).normal_()
    torch.manual_seed(3)
    assert torch.equal(captured_fn(torch.empty(50)), expected)  # torch's own values again
    torch.manual_seed(3)
    assert torch.equal(captured_method(torch.empty(50)), expected)
    assert same_bits(inside, fastinit.normal(4, seed=1, stream=0))


def test_patch_is_per_thread():
    g_seed = 11
    expected = torch.empty(20).normal_(generator=torch.Generator().manual_seed(g_seed))
    out = {}

    def other():
        out["t"] = nn.init.normal_(torch.empty(20), generator=torch.Generator().manual_seed(g_seed))

    with finit.patch_torch_init(seed=0):
        th = threading.Thread(target=other)
        th.start()
        th.join()
    assert torch.equal(out["t"], expected)  # the other thread's fill stayed torch's


def test_patch_and_init_module_leave_unsupported_dtypes_to_torch():
    with finit.patch_torch_init(seed=0):
        z = torch.zeros(6, dtype=torch.complex64).normal_()
        i = nn.init.uniform_(torch.zeros(6, dtype=torch.float64), -1, 1)
    assert bool((z != 0).all())
    # the complex fill went to torch and took no stream number
    assert same_bits(i, fastinit.uniform(6, -1, 1, seed=0, stream=0, dtype="float64"))


# --------------------------------------------------- deprecated nn.init names ----
@pytest.mark.parametrize("alias,args", [
    ("uniform", (-1.0, 1.0)), ("normal", (0.0, 2.0)), ("constant", (0.25,)), ("eye", ()),
    ("dirac", ()), ("xavier_uniform", ()), ("xavier_normal", ()), ("kaiming_uniform", ()),
    ("kaiming_normal", ()), ("orthogonal", ()), ("sparse", (0.5,)),
])
def test_deprecated_aliases_warn_and_fill_like_the_drop_in(alias, args):
    shape = (4, 4, 3) if alias == "dirac" else (6, 4)
    new = getattr(finit, alias + "_")
    kw = {} if alias in ("constant", "eye", "dirac") else {"seed": 2}
    ref = new(torch.empty(shape), *args, **kw)
    with pytest.warns(FutureWarning, match=rf"`nn.init.{alias}` is now deprecated in favor of "
                                           rf"`nn.init.{alias}_`"):
        got = getattr(finit, alias)(torch.empty(shape), *args, **kw)
    assert same_bits(got, ref)
    assert getattr(finit, alias).__name__ == alias
    np.testing.assert_equal(got.numpy(), ref.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new(torch.empty(shape), *args, **kw)  # the underscore names do not warn
