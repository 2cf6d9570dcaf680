"""Fill specs of the torch.nn.init names: PyTorch's arguments translated into a call of
the fastinit initializer for the logical (global) shape.  Parameters are checked here by
the shared checks of fastinit._validate (the same messages as every other entry point),
before any seed is drawn or anything is written; whether a spec draws stream words
comes from the registry.
"""
from __future__ import annotations

import torch

import fastinit as _fi
from fastinit import _validate
from fastinit.initializers import registry


def _initializers():
    # fastinit.initializers holds the fan-based and structured fills
    from fastinit import initializers

    return initializers


def spec(init, shape, params):
    """(fill(**kw), draws stream words) for `init`: a torch.nn.init name without the
    trailing underscore, or a configured fastinit.Initializer (fastinit's own parameters)."""
    if isinstance(init, _fi.Initializer):
        entry, merged = registry.resolve(init, params)
        registry.check_params(entry, {k: v for k, v in merged.items()
                                      if k not in registry.COMMON_KEYWORDS})
        return (lambda **kw: entry.func(shape, **{**merged, **kw})), entry.random
    fill = _SPECS[init](shape, **params)
    if isinstance(fill, tuple):  # a spec that decided for itself (trunc_normal_ with std=0)
        return fill
    return fill, registry.entry_of(init).random


def _spec_uniform(shape, a=0.0, b=1.0):
    a, b = _validate.check_params("uniform", a, b, names=("a", "b"))
    return lambda **kw: _fi.uniform(shape, a, b, **kw)


def _spec_normal(shape, mean=0.0, std=1.0):
    mean, std = _validate.check_params("normal", mean, std)
    return lambda **kw: _fi.normal(shape, mean, std, **kw)


def _spec_trunc_normal(shape, mean=0.0, std=1.0, a=-2.0, b=2.0):
    # PyTorch's bounds a, b are absolute: the same constraints as fastinit's lower, upper
    mean, std, a, b = _validate.check_params("trunc_normal", mean, std, a, b,
                                             names=("mean", "std", "a", "b"))
    if std == 0.0:
        # The limit of N(mean, std) truncated to [a, b] as std -> 0: a point mass at
        # mean clamped into [a, b].  (PyTorch divides by zero here.)
        value = min(max(mean, a), b)
        return (lambda **kw: _fi.full(shape, value, **kw)), False
    # fastinit's bounds are in units of std
    lower = (a - mean) / std
    upper = (b - mean) / std
    if not lower < upper:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is too narrow to resolve with "
                         f"mean={mean}, std={std}; widen it")
    return lambda **kw: _fi.trunc_normal(shape, mean, std, lower, upper, **kw)


def _spec_constant(shape, val):
    if isinstance(val, torch.Tensor):
        val = val.item()
    (val,) = _validate.check_params("constant", val, names=("val",))
    return lambda **kw: _fi.full(shape, val, **kw)


def _spec_ones(shape):
    return lambda **kw: _fi.full(shape, 1.0, **kw)


def _spec_zeros(shape):
    return lambda **kw: _fi.full(shape, 0.0, **kw)


def _spec_eye(shape):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    ini = _initializers()
    return lambda **kw: ini.eye(shape, **kw)


def _spec_dirac(shape, groups=1):
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    groups = _validate.as_int("groups", groups, 1)
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    ini = _initializers()
    return lambda **kw: ini.dirac(shape, groups=groups, **kw)


def _torch_fans(shape):
    # torch.nn.init._calculate_fan_in_and_fan_out on a shape (same checks and message)
    return _initializers().fans(shape, layout="torch")


def _spec_xavier_uniform(shape, gain=1.0):
    _torch_fans(shape)
    gain = _validate.check_constraint("gain", gain, _validate.CONS_FINITE)
    ini = _initializers()
    return lambda **kw: ini.xavier_uniform(shape, gain=gain, **kw)


def _spec_xavier_normal(shape, gain=1.0):
    _torch_fans(shape)
    gain = _validate.check_constraint("gain", gain, _validate.CONS_FINITE)
    ini = _initializers()
    return lambda **kw: ini.xavier_normal(shape, gain=gain, **kw)


def _kaiming_args(shape, a, mode, nonlinearity):
    from fastinit.initializers.scaling import _kaiming_std

    _kaiming_std(tuple(shape), a, mode, nonlinearity, "torch")  # mode, gain and fans, as fastinit checks them
    return dict(a=a, mode=mode.lower(), nonlinearity=nonlinearity)


def _spec_kaiming_uniform(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    args = _kaiming_args(shape, a, mode, nonlinearity)
    ini = _initializers()
    return lambda **kw: ini.kaiming_uniform(shape, **args, **kw)


def _spec_kaiming_normal(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    args = _kaiming_args(shape, a, mode, nonlinearity)
    ini = _initializers()
    return lambda **kw: ini.kaiming_normal(shape, **args, **kw)


def _spec_orthogonal(shape, gain=1.0):
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    gain = _validate.check_constraint("gain", gain, _validate.CONS_FINITE)
    ini = _initializers()
    return lambda **kw: ini.orthogonal(shape, gain=gain, **kw)


def _spec_sparse(shape, sparsity, std=0.01):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    sparsity = _validate.check_constraint("sparsity", sparsity, _validate.CONS_UNIT)
    std = _validate.check_constraint("std", std, _validate.CONS_NON_NEGATIVE)
    ini = _initializers()
    return lambda **kw: ini.sparse(shape, sparsity, std=std, **kw)


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
