"""Fan-based initializers: PyTorch's xavier/kaiming family (untruncated normal, torch
layout) and JAX/Keras's variance_scaling family (glorot/he/lecun: truncated normal
corrected by TRUNC_STD_2, jax layout).
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

from .. import fills
from .._validate import (
    CONS_FINITE,
    CONS_POSITIVE,
    DTypeLike,
    RegionLike,
    ShapeLike,
    StreamLike,
    check_choice,
    check_constraint,
    check_params,
    check_shape,
    target,
)
from .fans import _fan_for_mode, calculate_gain, fans
from .registry import register

# std of a standard normal truncated to [-2, 2] (JAX and Keras use this constant)
TRUNC_STD_2 = 0.87962566103423978


_VS_MODES = ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"]


_VS_DISTRIBUTIONS = ["truncated_normal", "normal", "uniform"]


Axes = Union[int, Sequence[int]]


def _finite(value, what):
    """A derived scale, refused (not passed on as inf) when it overflows float64."""
    if not math.isfinite(value):
        raise ValueError(f"{what} overflows float64: use a smaller value")
    return value


def _xavier_moments(shape, p):
    fan_in, fan_out = fans(shape, layout=p["layout"])
    return 0.0, p["gain"] * math.sqrt(2.0 / (fan_in + fan_out))


def _kaiming_moments(shape, p):
    return 0.0, _kaiming_std(shape, p["a"], p["mode"], p["nonlinearity"], p["layout"])


def _vs_moments(shape, p):
    fan_in, fan_out = fans(shape, "jax", p["in_axis"], p["out_axis"], p["batch_axis"])
    n = _fan_for_mode(fan_in, fan_out, p["mode"], _VS_MODES)
    # truncated_normal carries the 0.8796 correction, so every distribution has this std
    return 0.0, math.sqrt(p["scale"] / max(1.0, n))


# --------------------------------------------------------- PyTorch family ----
@register("fan", layout="torch", moments=_xavier_moments)
def xavier_uniform(shape: ShapeLike, gain: float = 1.0, *, layout: str = "torch", seed: int,
                   stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
                   region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """Xavier/Glorot uniform, as ``torch.nn.init.xavier_uniform_``: U(-a, a) with
    ``a = gain * sqrt(6 / (fan_in + fan_out))``; fans in the torch layout by default.

    >>> import fastinit
    >>> w = fastinit.xavier_uniform((256, 128), seed=0)
    >>> bound = (6 / (128 + 256)) ** 0.5
    >>> bool(abs(w).max() < bound) and abs(float(w.std()) - bound / 3 ** 0.5) < 1e-3
    True
    """
    gain = check_constraint("gain", gain, CONS_FINITE)
    dims = check_shape(shape)
    fan_in, fan_out = fans(dims, layout)
    t = target(dims, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if t.size == 0 or math.prod(dims) == 0:
        return t.result()
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = _finite(math.sqrt(3.0) * std, f"the bound of gain={gain}")
    return fills.fill_target("uniform", check_params("uniform", -bound, bound), t)


@register("fan", layout="torch", moments=_xavier_moments)
def xavier_normal(shape: ShapeLike, gain: float = 1.0, *, layout: str = "torch", seed: int,
                  stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
                  region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """Xavier/Glorot normal, as ``torch.nn.init.xavier_normal_``: untruncated N(0, std^2)
    with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import fastinit
    >>> w = fastinit.xavier_normal((512, 512), seed=0)
    >>> abs(float(w.std()) - (2 / 1024) ** 0.5) < 1e-3
    True
    """
    gain = check_constraint("gain", gain, CONS_FINITE)
    dims = check_shape(shape)
    fan_in, fan_out = fans(dims, layout)
    t = target(dims, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if t.size == 0 or math.prod(dims) == 0:
        return t.result()
    std = _finite(gain * math.sqrt(2.0 / float(fan_in + fan_out)), f"the std of gain={gain}")
    return fills.fill_target("normal", check_params("normal", 0.0, std), t)


def _kaiming_std(dims, a, mode, nonlinearity, layout):
    mode = check_choice("mode", mode.lower() if isinstance(mode, str) else mode, ("fan_in", "fan_out"),
                        f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    try:
        gain = calculate_gain(nonlinearity, a)
    except OverflowError:
        raise ValueError(f"a={a!r} is too large: the leaky_relu gain sqrt(2 / (1 + a**2)) overflows "
                         "float64; use a negative slope below 1e150 in magnitude") from None
    if layout not in ("torch", "jax"):
        fans((1, 1), layout)  # raises the layout error
    if math.prod(dims) == 0:
        return None  # PyTorch returns before computing fans for zero-element tensors
    fan_in, fan_out = fans(dims, layout)
    fan = fan_in if mode == "fan_in" else fan_out
    return gain / math.sqrt(fan)


@register("fan", layout="torch", moments=_kaiming_moments)
def kaiming_uniform(shape: ShapeLike, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                    layout: str = "torch", seed: int, stream: StreamLike = 0, dtype: DTypeLike = None,
                    out: Optional[np.ndarray] = None, region: RegionLike = None,
                    threads: Optional[int] = None) -> np.ndarray:
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
    t = target(dims, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if std is None or t.size == 0:
        return t.result()
    bound = math.sqrt(3.0) * std
    return fills.fill_target("uniform", check_params("uniform", -bound, bound), t)


@register("fan", layout="torch", moments=_kaiming_moments)
def kaiming_normal(shape: ShapeLike, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", *,
                   layout: str = "torch", seed: int, stream: StreamLike = 0, dtype: DTypeLike = None,
                   out: Optional[np.ndarray] = None, region: RegionLike = None,
                   threads: Optional[int] = None) -> np.ndarray:
    """Kaiming/He normal, as ``torch.nn.init.kaiming_normal_``: untruncated N(0, std^2) with
    ``std = gain / sqrt(fan)``.

    >>> import fastinit
    >>> w = fastinit.kaiming_normal((256, 64, 3, 3), mode="fan_out", nonlinearity="relu", seed=0)
    >>> abs(float(w.std()) - (2 / (256 * 9)) ** 0.5) < 1e-3
    True
    """
    dims = check_shape(shape)
    std = _kaiming_std(dims, a, mode, nonlinearity, layout)
    t = target(dims, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if std is None or t.size == 0:
        return t.result()
    return fills.fill_target("normal", check_params("normal", 0.0, std), t)


# ------------------------------------------------------------ JAX family ----
@register("fan", layout="jax", moments=_vs_moments)
def variance_scaling(shape: ShapeLike, scale: float = 1.0, mode: str = "fan_in",
                     distribution: str = "truncated_normal", *, in_axis: Axes = -2,
                     out_axis: Axes = -1, batch_axis: Axes = (), seed: int, stream: StreamLike = 0,
                     dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
                     region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
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
    scale = check_constraint("scale", scale, CONS_POSITIVE)
    check_choice("mode", mode, _VS_MODES, f"Mode {mode} not supported, please use one of {_VS_MODES}")
    if distribution == "untruncated_normal":
        distribution = "normal"
    check_choice("distribution", distribution, _VS_DISTRIBUTIONS,
                 f"Distribution {distribution} not supported, please use one of "
                 f"{_VS_DISTRIBUTIONS} (or 'untruncated_normal')")
    dims = check_shape(shape)
    fan_in, fan_out = fans(dims, "jax", in_axis, out_axis, batch_axis)
    t = target(dims, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if t.size == 0 or math.prod(dims) == 0:
        return t.result()
    variance = _finite(scale / _fan_for_mode(fan_in, fan_out, mode, _VS_MODES), f"scale={scale} / fan")
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / TRUNC_STD_2
        return fills.fill_target("trunc_normal", check_params("trunc_normal", 0.0, std, -2.0, 2.0), t)
    if distribution == "normal":
        return fills.fill_target("normal", check_params("normal", 0.0, math.sqrt(variance)), t)
    bound = math.sqrt(3.0 * variance)
    return fills.fill_target("uniform", check_params("uniform", -bound, bound), t)


class VarianceScalingAlias(Protocol):
    """glorot_*, he_*, lecun_*: variance_scaling with fixed scale, mode and distribution."""

    __name__: str

    def __call__(self, shape: ShapeLike, *, in_axis: Axes = -2, out_axis: Axes = -1,
                 batch_axis: Axes = (), seed: int, stream: StreamLike = 0, dtype: DTypeLike = None,
                 out: Optional[np.ndarray] = None, region: RegionLike = None,
                 threads: Optional[int] = None) -> np.ndarray: ...

    def with_(self, **params: Any) -> Any: ...


def _vs_alias(name: str, scale: float, mode: str, distribution: str,
              matches: str) -> VarianceScalingAlias:
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

    def moments(shape: Tuple[int, ...], p: Dict[str, Any]) -> Optional[Tuple[float, float]]:
        return _vs_moments(shape, dict(p, scale=scale, mode=mode))

    return register("fan", layout="jax", moments=moments)(init)  # type: ignore[return-value]


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
