"""Argument checks shared by every entry point: scalars, seed, stream, threads, dtype,
shape, region and out= (the fill target), resolved once and passed down.

Nothing here allocates or writes; a bad argument raises TypeError or ValueError with a
message that says what to change.
"""
from __future__ import annotations

import hashlib
import math
import numbers
import operator
import sys
from typing import Sequence, Tuple, Union

import numpy as np

from . import _core

ShapeLike = Union[int, Sequence[int]]


StreamLike = Union[int, str]


DTypeLike = Union[str, np.dtype, type, None]


RegionLike = Union[slice, Tuple[slice, ...], None]


Real = Union[float, int, np.floating, np.integer]


U64 = 1 << 64


FLOAT_NAMES = ("float32", "float64", "float16", "bfloat16")


MAX_THREADS = 4096


# ------------------------------------------------------------------ scalars ----
def as_int(name, value, lo=None, hi=None):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, not a bool")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if lo is not None and v < lo:
        raise ValueError(f"{name} must be >= {lo}, got {v}")
    if hi is not None and v >= hi:
        raise ValueError(f"{name} must be < {hi}, got {v}")
    return v


def as_float(name, value, allow_inf=False, allow_nan=False):
    if type(value) is float and value - value == 0.0:  # fast path: a finite Python float
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a real number, not a bool")
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if isinstance(value, np.ndarray) and value.ndim != 0:
        raise TypeError(f"{name} must be a scalar, got an array of shape {value.shape}")
    if isinstance(value, (complex, np.complexfloating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large for a float64 (|{name}| must be below 1.8e308)") from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}") from None
    if math.isnan(v) and not allow_nan:
        raise ValueError(f"{name} must not be NaN")
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_seed(seed):
    if type(seed) is int and 0 <= seed < U64:  # fast path
        return seed
    if seed is None:
        raise TypeError("seed is required: pass an integer in [0, 2**64), e.g. seed=0")
    return as_int("seed", seed, 0, U64)


def stream_id(stream: StreamLike) -> int:
    """The 64-bit stream number of `stream`: an int in [0, 2**64) as is, a str
    through BLAKE2b (8-byte digest, little endian), as docs/stream.md fixes.

    >>> stream_id("encoder.layers.0.weight") == stream_id("encoder.layers.0.weight")
    True
    """
    if type(stream) is int and 0 <= stream < U64:  # fast path
        return stream
    if isinstance(stream, str):
        digest = hashlib.blake2b(stream.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "little")
    if isinstance(stream, bytes):
        raise TypeError("stream must be an int or a str, not bytes: decode it first")
    return as_int("stream", stream, 0, U64)


def check_threads(threads):
    if threads is None:
        return _core.effective_threads(None)
    t = as_int("threads", threads, 1)
    if t > MAX_THREADS:
        raise ValueError(f"threads must be <= {MAX_THREADS}, got {t}")
    return _core.effective_threads(t)


# ------------------------------------------------------------------- dtypes ----
DTYPE_FAST = {"float32": np.dtype("float32"), "float64": np.dtype("float64"),
               "float16": np.dtype("float16")}


def resolve_dtype(dtype: DTypeLike) -> np.dtype:
    """np.dtype for one of float32, float64, float16, bfloat16 (names or dtypes)."""
    fast = DTYPE_FAST.get(dtype) if isinstance(dtype, str) else None
    if fast is not None:
        return fast
    if isinstance(dtype, str):
        name = dtype.strip().lower()
        if name not in FLOAT_NAMES:
            raise ValueError(f"unknown dtype {dtype!r}: use one of {', '.join(FLOAT_NAMES)}")
        if name == "bfloat16":
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(name)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a dtype or one of {', '.join(FLOAT_NAMES)}, got {dtype!r}") from None
    if dt.name not in FLOAT_NAMES:
        raise ValueError(f"unsupported dtype {dt}: use one of {', '.join(FLOAT_NAMES)}")
    if not dt.isnative:
        raise ValueError(f"dtype {dt} is not in native byte order")
    return dt


DTYPE_CODE_FAST = {dt: _core.DTYPE_CODES[dt.name] for dt in DTYPE_FAST.values()}


def dtype_code(dt: np.dtype) -> int:
    code = DTYPE_CODE_FAST.get(dt)
    if code is not None:
        return code
    return _core.DTYPE_CODES[dt.name]


# ------------------------------------------------------------ shape, region ----
def check_shape(shape):
    if type(shape) is int and shape >= 0:  # fast path: a 1-D size
        if shape >= 1 << 63:
            raise ValueError(f"shape ({shape},) has {shape} elements; the logical tensor must have fewer than 2**63")
        return (shape,)
    if type(shape) is tuple and len(shape) <= _core.MAX_NDIM and all(type(d) is int and d >= 0 for d in shape):
        if math.prod(shape) >= 1 << 63:
            raise ValueError(f"shape {shape} has {math.prod(shape)} elements; the logical tensor must have fewer than 2**63")
        return shape
    if isinstance(shape, np.ndarray) and shape.ndim == 0:
        shape = shape.item()
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be an int or a tuple of ints, got {type(shape).__name__}")
    dims = tuple(as_int(f"shape[{i}]", d, 0) for i, d in enumerate(shape))
    if len(dims) > _core.MAX_NDIM:
        raise ValueError(f"at most {_core.MAX_NDIM} dimensions are supported, got {len(dims)}")
    total = 1
    for d in dims:
        total *= d
    if total >= 1 << 63:
        raise ValueError(f"shape {dims} has {total} elements; the logical tensor must have fewer than 2**63")
    return dims


def check_region(shape, region):
    """(start, length) per dimension for `region` (None: the whole tensor)."""
    if region is None:
        return (0,) * len(shape), shape
    if isinstance(region, slice):
        region = (region,)
    if not isinstance(region, (tuple, list)):
        raise TypeError("region must be a tuple of slices, one per dimension (e.g. np.s_[0:10, :])")
    if len(region) != len(shape):
        raise ValueError(f"region has {len(region)} slices but shape has {len(shape)} dimensions")
    starts, lens = [], []
    for i, (s, n) in enumerate(zip(region, shape)):
        if not isinstance(s, slice):
            raise TypeError(f"region[{i}] must be a slice like 0:10, got {type(s).__name__} {s!r}")
        if s.step not in (None, 1):
            raise ValueError(f"region[{i}] has step {s.step!r}: only step-1 slices are supported")
        a = 0 if s.start is None else as_int(f"region[{i}].start", s.start)
        b = n if s.stop is None else as_int(f"region[{i}].stop", s.stop)
        if a < 0 or b < 0:
            raise ValueError(f"region[{i}] = {a}:{b} uses a negative index; give positions in [0, {n}]")
        if b > n:
            raise ValueError(f"region[{i}] = {a}:{b} is out of range for a dimension of size {n}")
        if a > b:
            raise ValueError(f"region[{i}] = {a}:{b} has start > stop: give start <= stop")
        starts.append(a)
        lens.append(b - a)
    return tuple(starts), tuple(lens)


def check_out(out, lens, dt):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if dt is not None and out.dtype != dt:
        raise ValueError(f"out has dtype {out.dtype} but dtype={dt} was requested")
    if out.dtype not in DTYPE_CODE_FAST and out.dtype.name not in FLOAT_NAMES:
        raise ValueError(f"out has dtype {out.dtype}: it must be one of {', '.join(FLOAT_NAMES)}")
    if not out.dtype.isnative:
        raise ValueError("out is not in native byte order")
    if tuple(out.shape) != tuple(lens):
        raise ValueError(f"out has shape {out.shape} but the filled region has shape {tuple(lens)}")
    if not out.flags.writeable:
        raise ValueError("out is read-only: pass a writable array")
    if not out.flags.aligned:
        raise ValueError("out is not aligned to its dtype: pass an aligned array")
    # C- or F-contiguous arrays cannot overlap themselves (cheap flag test first)
    if out.size and not (out.flags.c_contiguous or out.flags.f_contiguous) and self_overlapping(out):
        raise ValueError("out has overlapping elements (a zero stride or an as_strided view): "
                         "pass an array whose elements are distinct, e.g. a copy")
    return out


EXACT_OVERLAP_CHECK_MAX = 1 << 22


def self_overlapping(a):
    """True when two elements of `a` share memory (threads would race on them).
    Sufficient test first: sorted by |stride|, each dimension steps over everything
    inside it (true of every layout NumPy and PyTorch make); otherwise compare all
    byte offsets, for arrays small enough to do so."""
    dims = sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n > 1)
    extent = a.itemsize
    for st, n in dims:
        if st < extent:
            break
        extent += st * (n - 1)
    else:
        return False
    if any(st == 0 for st, _ in dims) or a.size > EXACT_OVERLAP_CHECK_MAX:
        return True
    offsets = np.zeros(1, np.int64)
    for n, st in zip(a.shape, a.strides):
        offsets = (offsets[:, None] + st * np.arange(n, dtype=np.int64)[None, :]).ravel()
    offsets.sort()
    return bool(np.any(np.diff(offsets) < a.itemsize))


# --------------------------------------------------------------------- fill ----
def resolve_target(shape, dtype, out, region):
    """Validated (dims, starts, lens, dtype) of the array to fill; nothing allocated."""
    dims = check_shape(shape)
    starts, lens = check_region(dims, region)
    if out is None:
        return dims, starts, lens, resolve_dtype("float32" if dtype is None else dtype)
    check_out(out, lens, resolve_dtype(dtype) if dtype is not None else None)
    return dims, starts, lens, out.dtype


def empty_array(lens, dt):
    """np.empty, with a MemoryError (not NumPy's ValueError) for byte counts beyond intp."""
    nbytes = math.prod(lens) * dt.itemsize
    if nbytes > sys.maxsize:
        raise MemoryError(f"an array of shape {tuple(lens)} and dtype {dt} needs {nbytes} bytes, more "
                          "than any address space: pass region= (or out=) for a part, or a smaller shape")
    return np.empty(lens, dtype=dt)
