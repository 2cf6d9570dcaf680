"""The NumPy-buffer fills: uniform, normal, trunc_normal, full/constant, zeros, ones and
raw words.  Every argument is checked (fastinit._validate) before the core is called.
"""
from __future__ import annotations

import math
import sys
from typing import Optional, TextIO, Union

import numpy as np

from . import _core
from ._validate import (
    U64,
    DTypeLike,
    Real,
    RegionLike,
    ShapeLike,
    StreamLike,
    Target,
    as_int,
    check_params,
    check_seed,
    dtype_code,
    empty_array,
    stream_id,
    target,
)
from .initializers.registry import register

__all__ = [
    "uniform", "normal", "trunc_normal", "zeros", "ones", "full", "constant",
    "random_raw", "show_config",
]


def fill_target(dist: str, params: tuple, t: Target) -> np.ndarray:
    """Fill the resolved target `t` with `dist` (parameters already checked)."""
    dcode = DIST_CODES[dist]
    out = t.out
    if out is None:
        # the dtype-dependent checks before a large allocation (fill() runs them anyway)
        if len(t.lens) != 1 or t.lens[0] > 4096:
            _core.check(dcode, dtype_code(t.dtype), params)
        out = np.empty(t.lens, t.dtype) if t.size <= SMALL else empty_array(t.lens, t.dtype)
    return _core.fill(dcode, dtype_code(t.dtype), params, t.seed, t.stream, t.dims, t.starts, out,
                      t.threads)


DIST_CODES = _core.DIST_CODES


SMALL = 1 << 20  # elements: np.empty needs no address-space check


def _trunc_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [mean + a std, mean + b std]."""
    def pdf(x):
        return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)

    def cdf(x):
        return 0.5 * math.erfc(-x / math.sqrt(2))

    z = cdf(b) - cdf(a) if a < 0 else cdf(-a) - cdf(-b)  # complement side keeps tails exact
    if z <= 0:
        return None
    xa = 0.0 if math.isinf(a) else a * pdf(a)
    xb = 0.0 if math.isinf(b) else b * pdf(b)
    m = (pdf(a) - pdf(b)) / z
    var = 1 + (xa - xb) / z - m * m
    return mean + std * m, std * math.sqrt(max(var, 0.0))


_COMMON_DOC = """
    Keyword arguments shared by every fill:

    seed : int in [0, 2**64)
        The key of the Philox stream.
    stream : int in [0, 2**64) or str, default 0
        Sub-stream; a str (for instance a parameter name) is hashed with BLAKE2b.
    dtype : "float32", "float64", "float16", "bfloat16" or a NumPy dtype, optional
        Output dtype (default: float32, or out's dtype when `out` is given).
    out : ndarray, optional
        Writable array of the region's shape (any strides) to fill in place.
    region : tuple of step-1 slices, optional
        Compute only ``full[region]`` of the logical tensor `shape`; element values
        are those of the whole tensor.
    threads : int, optional
        OpenMP threads (default: omp_get_max_threads() at each call).  Never changes
        a value.
"""


@register("elementwise", moments=lambda shape, p: ((p["low"] + p["high"]) / 2,
                                                (p["high"] - p["low"]) / math.sqrt(12)))
def uniform(shape: ShapeLike, low: Real = 0.0, high: Real = 1.0, *, seed: int,
            stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
            region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """Uniform values in [low, high).

    >>> import fastinit
    >>> w = fastinit.uniform((2, 3), -0.1, 0.1, seed=0)
    >>> w.shape, w.dtype.name, bool(((w >= -0.1) & (w < 0.1)).all())
    ((2, 3), 'float32', True)
    """
    params = check_params("uniform", low, high)
    return fill_target("uniform", params, target(shape, seed=seed, stream=stream, dtype=dtype,
                                                 out=out, region=region, threads=threads))


@register("elementwise", moments=lambda shape, p: (float(p["mean"]), float(p["std"])))
def normal(shape: ShapeLike, mean: Real = 0.0, std: Real = 1.0, *, seed: int,
           stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
           region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """Normal values N(mean, std**2) by Box-Muller on pairs of stream words.

    >>> import fastinit
    >>> x = fastinit.normal(1_000_000, seed=1)
    >>> abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1) < 0.01
    True
    """
    params = check_params("normal", mean, std)
    return fill_target("normal", params, target(shape, seed=seed, stream=stream, dtype=dtype,
                                                out=out, region=region, threads=threads))


@register("elementwise", moments=lambda shape, p: _trunc_moments(
    p["mean"], p["std"], p["lower"], p["upper"]))
def trunc_normal(shape: ShapeLike, mean: Real = 0.0, std: Real = 1.0, lower: Real = -2.0,
                 upper: Real = 2.0, *, seed: int, stream: StreamLike = 0, dtype: DTypeLike = None,
                 out: Optional[np.ndarray] = None, region: RegionLike = None,
                 threads: Optional[int] = None) -> np.ndarray:
    """Normal values truncated to [mean + lower*std, mean + upper*std].

    `lower` and `upper` are in units of std (the JAX/Keras convention; for PyTorch's
    absolute bounds use fastinit.torch.trunc_normal_).  Either may be infinite.
    Inverse-CDF sampling in double precision: one draw per element, no rejection.

    >>> import fastinit
    >>> x = fastinit.trunc_normal(10_000, 0.0, 0.02, seed=0)
    >>> bool((abs(x) <= 0.04).all())
    True
    """
    params = check_params("trunc_normal", mean, std, lower, upper)
    return fill_target("trunc_normal", params, target(shape, seed=seed, stream=stream, dtype=dtype,
                                                      out=out, region=region, threads=threads))


@register("elementwise", moments=lambda shape, p: (float(p["value"]), 0.0))
def full(shape: ShapeLike, value: Real, *, dtype: DTypeLike = None,
         out: Optional[np.ndarray] = None, region: RegionLike = None,
         threads: Optional[int] = None) -> np.ndarray:
    """Every element equal to `value` (rounded to the dtype).  NaN and inf are allowed.

    >>> import fastinit
    >>> fastinit.full((2,), 0.5).tolist()
    [0.5, 0.5]
    """
    params = check_params("constant", value)
    return fill_target("constant", params, target(shape, stream=0, dtype=dtype, out=out,
                                                  region=region, threads=threads, random=False))


@register("elementwise", moments=lambda shape, p: (float(p["value"]), 0.0))
def constant(shape: ShapeLike, value: Real, *, dtype: DTypeLike = None,
             out: Optional[np.ndarray] = None, region: RegionLike = None,
             threads: Optional[int] = None) -> np.ndarray:
    """Alias of full() under the Keras/JAX name."""
    return full(shape, value, dtype=dtype, out=out, region=region, threads=threads)


@register("elementwise", moments=lambda shape, p: (0.0, 0.0))
def zeros(shape: ShapeLike, *, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
          region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """All zeros (consumes no stream words)."""
    return full(shape, 0.0, dtype=dtype, out=out, region=region, threads=threads)


@register("elementwise", moments=lambda shape, p: (1.0, 0.0))
def ones(shape: ShapeLike, *, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
         region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """All ones (consumes no stream words)."""
    return full(shape, 1.0, dtype=dtype, out=out, region=region, threads=threads)


for _f in (uniform, normal, trunc_normal):
    _f.__doc__ += _COMMON_DOC


def random_raw(n: int, *, seed: int, stream: StreamLike = 0, start: int = 0) -> np.ndarray:
    """Raw uint32 words ``start .. start + n - 1`` of the Philox4x32-10 stream.

    >>> import fastinit
    >>> fastinit.random_raw(4, seed=0).dtype
    dtype('uint32')
    """
    n = as_int("n", n, 0)
    start = as_int("start", start, 0, U64)
    if start + n > U64:
        raise ValueError("start + n must be <= 2**64 (the stream has 2**64 words)")
    if 4 * n > sys.maxsize:
        raise MemoryError(f"random_raw(n={n}) needs {4 * n} bytes, more than any address space: "
                          "ask for fewer words per call")
    return _core.random_raw(n, check_seed(seed), stream_id(stream), start)


def show_config(file: Union[TextIO, None, bool] = None) -> dict:
    """Print (and return as a dict) the version and build configuration."""
    from ._version import __version__

    info = {"version": __version__, "stream_version": _core.STREAM_VERSION}
    info.update(_core.build_info())
    if file is not False:
        out = sys.stdout if file is None else file
        for k, v in info.items():
            print(f"{k:>16}: {', '.join(v) if isinstance(v, list) else v}", file=out)
    return info
