"""Fan-based initializers: PyTorch's xavier/kaiming family (untruncated normal, torch
layout) and JAX/Keras's variance_scaling family (glorot/he/lecun: truncated normal
corrected by TRUNC_STD_2, jax layout).
"""
from __future__ import annotations

import math

from .. import fills
from .._validate import as_float, check_shape
from .fans import _check_core_kw, _empty_result, _fan_for_mode, _numel, calculate_gain, fans

# std of a standard normal truncated to [-2, 2] (JAX and Keras use this constant)
TRUNC_STD_2 = 0.87962566103423978


_VS_MODES = ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]


_VS_DISTRIBUTIONS = ["truncated_normal", "normal", "uniform"]


# --------------------------------------------------------- PyTorch family ----
def xavier_uniform(shape, gain=1.0, *, layout="torch", seed, stream=0, dtype=None, out=None,
                   region=None, threads=None):
    """Xavier/Glorot uniform, as ``torch.nn.init.xavier_uniform_``: U(-a, a) with
    ``a = gain * sqrt(6 / (fan_in + fan_out))``; fans in the torch layout by default.

    >>> import fastinit
    >>> w = fastinit.xavier_uniform((256, 128), seed=0)
    >>> bound = (6 / (128 + 256)) ** 0.5
    >>> bool(abs(w).max() < bound) and abs(float(w.std()) - bound / 3 ** 0.5) < 1e-3
    True
    """
    gain = as_float("gain", gain)
    dims = check_shape(shape)
    fan_in, fan_out = fans(dims, layout)
    if _numel(dims) == 0:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return fills.uniform(dims, -bound, bound, seed=seed, stream=stream, dtype=dtype, out=out,
                        region=region, threads=threads)


def xavier_normal(shape, gain=1.0, *, layout="torch", seed, stream=0, dtype=None, out=None,
                  region=None, threads=None):
    """Xavier/Glorot normal, as ``torch.nn.init.xavier_normal_``: untruncated N(0, std^2)
    with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import fastinit
    >>> w = fastinit.xavier_normal((512, 512), seed=0)
    >>> abs(float(w.std()) - (2 / 1024) ** 0.5) < 1e-3
    True
    """
    gain = as_float("gain", gain)
    dims = check_shape(shape)
    fan_in, fan_out = fans(dims, layout)
    if _numel(dims) == 0:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return fills.normal(dims, 0.0, std, seed=seed, stream=stream, dtype=dtype, out=out,
                       region=region, threads=threads)


def _kaiming_std(dims, a, mode, nonlinearity, layout):
    if not isinstance(mode, str):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    gain = calculate_gain(nonlinearity, a)
    if layout not in ("torch", "jax"):
        fans((1, 1), layout)  # raises the layout error
    if _numel(dims) == 0:
        return None  # PyTorch returns before computing fans for zero-element tensors
    fan_in, fan_out = fans(dims, layout)
    fan = fan_in if mode == "fan_in" else fan_out
    return gain / math.sqrt(fan)


def kaiming_uniform(shape, a=0, mode="fan_in", nonlinearity="leaky_relu", *, layout="torch",
                    seed, stream=0, dtype=None, out=None, region=None, threads=None):
    """Kaiming/He uniform, as ``torch.nn.init.kaiming_uniform_``: U(-b, b) with
    ``b = gain * sqrt(3 / fan)``, gain = calculate_gain(nonlinearity, a), fan from `mode`
    ("fan_in" or "fan_out").  ``a=math.sqrt(5)`` gives nn.Linear's default weight
    (bound 1 / sqrt(fan_in)).

    >>> import fastinit, math
    >>> w = fastinit.kaiming_uniform((64, 100), a=math.sqrt(5), seed=0)  # nn.Linear(100, 64)
    >>> bool(abs(w).max() < 1 / math.sqrt(100))
    True
    """
    dims = check_shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, layout)
    if std is None:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    bound = math.sqrt(3.0) * std
    return fills.uniform(dims, -bound, bound, seed=seed, stream=stream, dtype=dtype, out=out,
                        region=region, threads=threads)


def kaiming_normal(shape, a=0, mode="fan_in", nonlinearity="leaky_relu", *, layout="torch",
                   seed, stream=0, dtype=None, out=None, region=None, threads=None):
    """Kaiming/He normal, as ``torch.nn.init.kaiming_normal_``: untruncated N(0, std^2) with
    ``std = gain / sqrt(fan)``.

    >>> import fastinit
    >>> w = fastinit.kaiming_normal((256, 64, 3, 3), mode="fan_out", nonlinearity="relu", seed=0)
    >>> abs(float(w.std()) - (2 / (256 * 9)) ** 0.5) < 1e-3
    True
    """
    dims = check_shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, layout)
    if std is None:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    return fills.normal(dims, 0.0, std, seed=seed, stream=stream, dtype=dtype, out=out,
                       region=region, threads=threads)


# ------------------------------------------------------------ JAX family ----
def variance_scaling(shape, scale=1.0, mode="fan_in", distribution="truncated_normal", *,
                     in_axis=-2, out_axis=-1, batch_axis=(), seed, stream=0, dtype=None,
                     out=None, region=None, threads=None):
    """Variance scaling, as ``jax.nn.initializers.variance_scaling``: variance = scale / n.

    n is fan_in, fan_out, fan_avg = (fan_in + fan_out) / 2 or fan_geo_avg = sqrt(fan_in *
    fan_out), with fans in the JAX layout ``(*kernel, in, out)`` (see :func:`fans`).

    distribution:
      * "truncated_normal": TN(-2, 2) * sqrt(variance) / 0.87962566103423978 (values lie
        within 2 of those stds, the std is sqrt(variance));
      * "normal" (alias "untruncated_normal", Keras's name): N(0, variance);
      * "uniform": U(-1, 1) * sqrt(3 * variance).

    Keras's VarianceScaling gives the same numbers; its distribution="normal" means our
    "truncated_normal".

    >>> import fastinit
    >>> w = fastinit.variance_scaling((3, 3, 64, 128), 2.0, "fan_in", "truncated_normal", seed=0)
    >>> abs(float(w.std()) - (2 / (9 * 64)) ** 0.5) < 1e-3
    True
    """
    scale = as_float("scale", scale)
    if not scale > 0:
        raise ValueError(f"scale must be a positive number, got {scale}")
    if not isinstance(mode, str) or mode not in _VS_MODES:
        raise ValueError(f"Mode {mode} not supported, please use one of {_VS_MODES}")
    if distribution == "untruncated_normal":
        distribution = "normal"
    if not isinstance(distribution, str) or distribution not in _VS_DISTRIBUTIONS:
        raise ValueError(f"Distribution {distribution} not supported, please use one of "
                         f"{_VS_DISTRIBUTIONS} (or 'untruncated_normal')")
    dims = check_shape(shape)
    fan_in, fan_out = fans(dims, "jax", in_axis, out_axis, batch_axis)
    if _numel(dims) == 0:
        _check_core_kw(seed, stream, threads)
        return _empty_result(dims, dtype, out, region)
    variance = scale / _fan_for_mode(fan_in, fan_out, mode, _VS_MODES)
    kw = dict(seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if distribution == "truncated_normal":
        return fills.trunc_normal(dims, 0.0, math.sqrt(variance) / TRUNC_STD_2, -2.0, 2.0, **kw)
    if distribution == "normal":
        return fills.normal(dims, 0.0, math.sqrt(variance), **kw)
    bound = math.sqrt(3.0 * variance)
    return fills.uniform(dims, -bound, bound, **kw)


def _vs_alias(name, scale, mode, distribution, matches):
    def init(shape, *, in_axis=-2, out_axis=-1, batch_axis=(), seed, stream=0, dtype=None,
             out=None, region=None, threads=None):
        return variance_scaling(shape, scale, mode, distribution, in_axis=in_axis,
                                out_axis=out_axis, batch_axis=batch_axis, seed=seed,
                                stream=stream, dtype=dtype, out=out, region=region,
                                threads=threads)

    dist_text = {"truncated_normal": "truncated normal (on [-2, 2] stds, corrected by "
                                     "0.87962566103423978)",
                 "uniform": "uniform"}[distribution]
    std_text = {"fan_avg": "sqrt(2 / (fan_in + fan_out))", "fan_in": f"sqrt({scale:g} / fan_in)"}[mode]
    init.__name__ = init.__qualname__ = name
    init.__doc__ = (
        f"{matches}: variance_scaling(scale={scale:g}, mode={mode!r}, "
        f"distribution={distribution!r}).\n\n"
        f"    A {dist_text} with std {std_text}; fans in the JAX layout (*kernel, in, out).\n\n"
        f"    >>> import fastinit\n"
        f"    >>> w = fastinit.{name}((3, 3, 64, 128), seed=0)\n"
        f"    >>> w.shape\n"
        f"    (3, 3, 64, 128)\n")
    return init


glorot_uniform = _vs_alias("glorot_uniform", 1.0, "fan_avg", "uniform",
                           "jax.nn.initializers.glorot_uniform, Keras GlorotUniform")


glorot_normal = _vs_alias("glorot_normal", 1.0, "fan_avg", "truncated_normal",
                          "jax.nn.initializers.glorot_normal, Keras GlorotNormal")


he_uniform = _vs_alias("he_uniform", 2.0, "fan_in", "uniform",
                       "jax.nn.initializers.he_uniform, Keras HeUniform")


he_normal = _vs_alias("he_normal", 2.0, "fan_in", "truncated_normal",
                      "jax.nn.initializers.he_normal, Keras HeNormal")


lecun_uniform = _vs_alias("lecun_uniform", 1.0, "fan_in", "uniform",
                          "jax.nn.initializers.lecun_uniform, Keras LecunUniform")


lecun_normal = _vs_alias("lecun_normal", 1.0, "fan_in", "truncated_normal",
                         "jax.nn.initializers.lecun_normal, Keras LecunNormal")
