"""The NumPy-buffer fills: uniform, normal, trunc_normal, full/constant, zeros, ones and
raw words.  Every argument is checked (fastinit._validate) before the core is called.
"""
from __future__ import annotations

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
    as_float,
    as_int,
    check_seed,
    check_threads,
    dtype_code,
    empty_array,
    resolve_target,
    stream_id,
)

__all__ = [
    "uniform", "normal", "trunc_normal", "zeros", "ones", "full", "constant",
    "random_raw", "show_config",
]


def _fill(dist, params, shape, *, seed, stream, dtype, out, region, threads):
    seed_v = 0 if dist == "constant" else check_seed(seed)
    stream_v = stream_id(stream)
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    nthreads = check_threads(threads)
    dcode = _core.DIST_CODES[dist]
    if out is None:
        # parameter errors before any allocation (small fills: fill() checks first anyway)
        if len(lens) != 1 or lens[0] > 4096:
            _core.check(dcode, dtype_code(dt), params)
        out = empty_array(lens, dt)
    return _core.fill(dcode, dtype_code(dt), params, seed_v, stream_v, dims, starts, out, nthreads)


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


def uniform(shape: ShapeLike, low: Real = 0.0, high: Real = 1.0, *, seed: int,
            stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
            region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """Uniform values in [low, high).

    >>> import fastinit
    >>> w = fastinit.uniform((2, 3), -0.1, 0.1, seed=0)
    >>> w.shape, w.dtype.name, bool(((w >= -0.1) & (w < 0.1)).all())
    ((2, 3), 'float32', True)
    """
    low = as_float("low", low)
    high = as_float("high", high)
    if low > high:
        raise ValueError(f"low must be <= high, got low={low}, high={high}")
    return _fill("uniform", (low, high), shape, seed=seed, stream=stream, dtype=dtype, out=out,
                 region=region, threads=threads)


def normal(shape: ShapeLike, mean: Real = 0.0, std: Real = 1.0, *, seed: int,
           stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
           region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """Normal values N(mean, std**2) by Box-Muller on pairs of stream words.

    >>> import fastinit
    >>> x = fastinit.normal(1_000_000, seed=1)
    >>> abs(float(x.mean())) < 0.01 and abs(float(x.std()) - 1) < 0.01
    True
    """
    mean = as_float("mean", mean)
    std = as_float("std", std)
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return _fill("normal", (mean, std), shape, seed=seed, stream=stream, dtype=dtype, out=out,
                 region=region, threads=threads)


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
    mean = as_float("mean", mean)
    std = as_float("std", std)
    lower = as_float("lower", lower, allow_inf=True)
    upper = as_float("upper", upper, allow_inf=True)
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    if not lower < upper:
        raise ValueError(f"lower must be < upper, got lower={lower}, upper={upper}")
    return _fill("trunc_normal", (mean, std, lower, upper), shape, seed=seed, stream=stream,
                 dtype=dtype, out=out, region=region, threads=threads)


def full(shape: ShapeLike, value: Real, *, dtype: DTypeLike = None,
         out: Optional[np.ndarray] = None, region: RegionLike = None,
         threads: Optional[int] = None) -> np.ndarray:
    """Every element equal to `value` (rounded to the dtype).  NaN and inf are allowed.

    >>> import fastinit
    >>> fastinit.full((2,), 0.5).tolist()
    [0.5, 0.5]
    """
    v = as_float("value", value, allow_inf=True, allow_nan=True)
    return _fill("constant", (v,), shape, seed=0, stream=0, dtype=dtype, out=out, region=region,
                 threads=threads)


def constant(shape: ShapeLike, value: Real, *, dtype: DTypeLike = None,
             out: Optional[np.ndarray] = None, region: RegionLike = None,
             threads: Optional[int] = None) -> np.ndarray:
    """Alias of full() under the Keras/JAX name."""
    return full(shape, value, dtype=dtype, out=out, region=region, threads=threads)


def zeros(shape: ShapeLike, *, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
          region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """All zeros (consumes no stream words)."""
    return full(shape, 0.0, dtype=dtype, out=out, region=region, threads=threads)


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
    from ._version import STREAM_VERSION, __version__

    info = {"version": __version__, "stream_version": STREAM_VERSION}
    info.update(_core.build_info())
    if file is not False:
        import sys

        out = sys.stdout if file is None else file
        for k, v in info.items():
            print(f"{k:>16}: {', '.join(v) if isinstance(v, list) else v}", file=out)
    return info
