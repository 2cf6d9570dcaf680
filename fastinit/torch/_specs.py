"""Fill specs of the torch.nn.init names: each checks its arguments and returns
(fill, random), where fill(**kw) calls the fastinit function for the logical (global)
shape.  Building a spec validates every parameter, so errors come before any write.
"""
from __future__ import annotations

import math

import numpy as np
import torch

import fastinit as _fi
from fastinit import _validate


def _initializers():
    # fastinit.initializers holds the fan-based and structured fills; imported
    # when first needed so that this module stays cheap to import.
    from fastinit import initializers

    return initializers


def _spec_uniform(shape, a=0.0, b=1.0):
    a = _validate.as_float("a", a)
    b = _validate.as_float("b", b)
    if a > b:
        raise ValueError(f"uniform_ expects a <= b, got a={a}, b={b}")
    return (lambda **kw: _fi.uniform(shape, a, b, **kw)), True


def _spec_normal(shape, mean=0.0, std=1.0):
    mean = _validate.as_float("mean", mean)
    std = _validate.as_float("std", std)
    if std < 0:
        raise ValueError(f"normal_ expects std >= 0.0, got std={std}")
    return (lambda **kw: _fi.normal(shape, mean, std, **kw)), True


def _spec_trunc_normal(shape, mean=0.0, std=1.0, a=-2.0, b=2.0):
    mean = _validate.as_float("mean", mean)
    std = _validate.as_float("std", std)
    a = _validate.as_float("a", a, allow_inf=True)
    b = _validate.as_float("b", b, allow_inf=True)
    if std < 0:
        raise ValueError(f"trunc_normal_ expects std >= 0.0, got std={std}")
    if not a < b:
        raise ValueError(f"trunc_normal_ expects a < b, got a={a}, b={b}")
    if std == 0.0:
        # The limit of N(mean, std) truncated to [a, b] as std -> 0: a point mass at
        # mean clamped into [a, b].  (PyTorch divides by zero here.)
        value = min(max(mean, a), b)
        return (lambda **kw: _fi.full(shape, value, **kw)), False
    # PyTorch's a, b are absolute; fastinit's bounds are in units of std.
    lower = (a - mean) / std
    upper = (b - mean) / std
    if not lower < upper:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is too narrow to resolve with "
                         f"mean={mean}, std={std}; widen it")
    return (lambda **kw: _fi.trunc_normal(shape, mean, std, lower, upper, **kw)), True


def _spec_constant(shape, val):
    if isinstance(val, torch.Tensor):
        val = val.item()
    if isinstance(val, (bool, np.bool_)) or val is None or isinstance(val, (str, bytes)):
        raise TypeError(f"constant_ expects a real number, got {val!r}")
    val = float(val)
    return (lambda **kw: _fi.full(shape, val, **kw)), False


def _spec_ones(shape):
    return (lambda **kw: _fi.full(shape, 1.0, **kw)), False


def _spec_zeros(shape):
    return (lambda **kw: _fi.full(shape, 0.0, **kw)), False


def _spec_eye(shape):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    ini = _initializers()
    return (lambda **kw: ini.eye(shape, **kw)), False


def _spec_dirac(shape, groups=1):
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    groups = _validate.as_int("groups", groups, 1)
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    ini = _initializers()
    return (lambda **kw: ini.dirac(shape, groups=groups, **kw)), False


def _torch_fans(shape):
    # torch.nn.init._calculate_fan_in_and_fan_out on a shape.
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _spec_xavier_uniform(shape, gain=1.0):
    _torch_fans(shape)
    gain = _validate.as_float("gain", gain)
    ini = _initializers()
    return (lambda **kw: ini.xavier_uniform(shape, gain=gain, **kw)), True


def _spec_xavier_normal(shape, gain=1.0):
    _torch_fans(shape)
    gain = _validate.as_float("gain", gain)
    ini = _initializers()
    return (lambda **kw: ini.xavier_normal(shape, gain=gain, **kw)), True


def _kaiming_args(shape, a, mode, nonlinearity):
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str ('fan_in' or 'fan_out'), got {mode!r}")
    mode = mode.lower()  # PyTorch accepts any case
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    _torch_fans(shape)
    _initializers().calculate_gain(nonlinearity, a)  # PyTorch's errors for the nonlinearity and its param
    return dict(a=a, mode=mode, nonlinearity=nonlinearity)


def _spec_kaiming_uniform(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    args = _kaiming_args(shape, a, mode, nonlinearity)
    ini = _initializers()
    return (lambda **kw: ini.kaiming_uniform(shape, **args, **kw)), True


def _spec_kaiming_normal(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    args = _kaiming_args(shape, a, mode, nonlinearity)
    ini = _initializers()
    return (lambda **kw: ini.kaiming_normal(shape, **args, **kw)), True


def _spec_orthogonal(shape, gain=1.0):
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    gain = _validate.as_float("gain", gain)
    ini = _initializers()
    return (lambda **kw: ini.orthogonal(shape, gain=gain, **kw)), True


def _spec_sparse(shape, sparsity, std=0.01):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    sparsity = _validate.as_float("sparsity", sparsity)
    std = _validate.as_float("std", std)
    ini = _initializers()
    return (lambda **kw: ini.sparse(shape, sparsity, std=std, **kw)), True


_SPECS = {
    "uniform": _spec_uniform,
    "normal": _spec_normal,
    "trunc_normal": _spec_trunc_normal,
    "constant": _spec_constant,
    "ones": _spec_ones,
    "zeros": _spec_zeros,
    "eye": _spec_eye,
    "dirac": _spec_dirac,
    "xavier_uniform": _spec_xavier_uniform,
    "xavier_normal": _spec_xavier_normal,
    "kaiming_uniform": _spec_kaiming_uniform,
    "kaiming_normal": _spec_kaiming_normal,
    "orthogonal": _spec_orthogonal,
    "sparse": _spec_sparse,
}
