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
        try:
            data = stream.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"stream {stream!r} is not valid Unicode (character {exc.start} is a lone "
                             "surrogate, which UTF-8 cannot encode): pass a proper str or an int") from None
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
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
    """np.dtype for one of float32, float64, float16, bfloat16: their names, NumPy's
    spellings ("f4", "<f8", "double", ...) or dtypes, in native byte order."""
    fast = DTYPE_FAST.get(dtype) if isinstance(dtype, str) else None
    if fast is not None:
        return fast
    if isinstance(dtype, str):
        name = dtype.strip().lower()
        if name == "bfloat16":
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        if name in FLOAT_NAMES:
            return np.dtype(name)
        try:
            dt = np.dtype(dtype.strip())
        except TypeError:
            dt = None
        if dt is None or dt.name not in FLOAT_NAMES:
            raise ValueError(f"unknown dtype {dtype!r}: use one of {', '.join(FLOAT_NAMES)}")
    else:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be a dtype or one of {', '.join(FLOAT_NAMES)}, got {dtype!r}") from None
    if dt.name not in FLOAT_NAMES:
        raise ValueError(f"unsupported dtype {dt}: use one of {', '.join(FLOAT_NAMES)}")
    if not dt.isnative:
        raise ValueError(f"dtype {dtype!r} is not in native byte order ({sys.byteorder} endian): "
                         f"use {dt.newbyteorder('=').name!r}")
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


OVERLAP_MAX_WORK = 1 << 22


def self_overlapping(a):
    """True when two elements of `a` share memory (threads would race on them).

    Exact: with strides made positive and sorted, look for a nonzero index difference
    d (|d_i| < n_i) whose byte distance sum(s_i d_i) is below the item size.  The
    usual layouts pass the quick test (each stride steps over everything inside it);
    the others are searched from the largest stride down, with the last two dimensions
    solved in closed form over a vector.  Only a search beyond OVERLAP_MAX_WORK
    candidates (no layout NumPy or PyTorch makes) answers True without proof."""
    dims = sorted((abs(st), n - 1) for n, st in zip(a.shape, a.strides) if n > 1)
    w = a.itemsize
    extent = w
    for st, m in dims:
        if st < extent:
            break
        extent += st * m
    else:
        return False
    if dims[0][0] == 0:
        return True
    dims.reverse()  # largest stride first
    reach = [0] * (len(dims) + 1)  # reach[k]: largest |sum| the dimensions after k can add
    for k in range(len(dims) - 1, -1, -1):
        reach[k] = reach[k + 1] + dims[k][0] * dims[k][1]
    budget = [OVERLAP_MAX_WORK]
    return _collides(dims, reach, w, 0, 0, True, budget)


def _window(p, st, m, slack):
    """Integers d in [-m, m] with |p + st d| < slack, as a (lo, hi) range."""
    lo = max(-m, -((slack - 1 + p) // st))
    hi = min(m, (slack - 1 - p) // st)
    return lo, hi


def _collides(dims, reach, w, k, p, zero_so_far, budget):
    """Is there d_k.. (not all zero when zero_so_far) with |p + sum s_i d_i| < w?"""
    if len(dims) - k == 1:
        st, m = dims[k]
        lo, hi = _window(p, st, m, w)
        return any(d != 0 or not zero_so_far for d in range(lo, min(hi, lo + 2) + 1))
    st, m = dims[k]
    lo, hi = _window(p, st, m, reach[k + 1] + w)
    if zero_so_far:
        lo = max(lo, 0)  # d and -d collide alike: the first nonzero one may be positive
    if hi < lo:
        return False
    if len(dims) - k == 2:
        budget[0] -= hi - lo + 1
        if budget[0] < 0:
            return True
        s2, m2 = dims[k + 1]
        d1 = np.arange(lo, hi + 1, dtype=np.int64)
        q = p + st * d1
        lo2 = np.maximum(-m2, -((w - 1 + q) // s2))
        hi2 = np.minimum(m2, (w - 1 - q) // s2)
        ok = lo2 <= hi2
        if zero_so_far:
            ok &= (d1 != 0) | (lo2 != 0) | (hi2 != 0)
        return bool(ok.any())
    for d in range(lo, hi + 1):
        budget[0] -= 1
        if budget[0] < 0:
            return True
        if _collides(dims, reach, w, k + 1, p + st * d, zero_so_far and d == 0, budget):
            return True
    return False


# ------------------------------------------------------ constraint table ----
# One check per kind of parameter, in the spirit of numpy.random's check_constraint:
# every entry point (NumPy API, configured initializers, Dask, writers, CLI,
# fastinit.torch) reaches these, so one bad value gives one message.
CONS_FINITE = "finite"              # a finite real
CONS_NON_NEGATIVE = "non-negative"  # finite and >= 0
CONS_POSITIVE = "positive"          # finite and > 0
CONS_EXTENDED = "extended"          # a real, +-inf allowed, not NaN
CONS_ANY = "any"                    # any real, NaN and inf included
CONS_UNIT = "unit"                  # finite, in [0, 1]


def check_constraint(name, value, cons):
    """`value` as a float, or the TypeError/ValueError that says what to change."""
    v = as_float(name, value, allow_inf=cons in (CONS_EXTENDED, CONS_ANY), allow_nan=cons == CONS_ANY)
    if cons == CONS_NON_NEGATIVE and not v >= 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    if cons == CONS_POSITIVE and not v > 0:
        raise ValueError(f"{name} must be a positive number, got {v}")
    if cons == CONS_UNIT and not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1], got {v}")
    return v


def check_choice(name, value, choices, message=None):
    """`value` if it is one of the strings `choices`: a non-str is a TypeError, another
    str a ValueError (`message`, e.g. the framework's own wording, or a generic one)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {list(choices)}, got {type(value).__name__} {value!r}")
    if value not in choices:
        raise ValueError(message or f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_order(lo_name, lo, op, hi_name, hi):
    """lo <= hi (op "<=") or lo < hi (op "<"), with the one message for it."""
    if not (lo <= hi if op == "<=" else lo < hi):
        raise ValueError(f"{lo_name} must be {op} {hi_name}, got {lo_name}={lo}, {hi_name}={hi}")


# distribution -> its parameters' constraints, then the order relations between them
DISTRIBUTIONS = {
    "uniform": ((("low", CONS_FINITE), ("high", CONS_FINITE)), (("low", "<=", "high"),)),
    "normal": ((("mean", CONS_FINITE), ("std", CONS_NON_NEGATIVE)), ()),
    "trunc_normal": ((("mean", CONS_FINITE), ("std", CONS_NON_NEGATIVE), ("lower", CONS_EXTENDED),
                      ("upper", CONS_EXTENDED)), (("lower", "<", "upper"),)),
    "constant": ((("value", CONS_ANY),), ()),
}


def _finite_floats(values):
    for v in values:
        if type(v) is not float or v - v != 0.0:
            return False
    return True


# fast paths: finite Python floats that satisfy the table (the common call)
_FAST = {
    "uniform": lambda v: _finite_floats(v) and v[0] <= v[1],
    "normal": lambda v: _finite_floats(v) and v[1] >= 0.0,
    "trunc_normal": lambda v: (_finite_floats(v[:2]) and v[1] >= 0.0 and type(v[2]) is float
                               and type(v[3]) is float and v[2] < v[3]),
    "constant": lambda v: type(v[0]) is float,
}


def check_params(dist, *values, names=None):
    """The distribution parameters of `dist` as floats, checked against the table;
    `names` renames them in messages (e.g. torch's a, b for uniform's low, high)."""
    if names is None and _FAST[dist](values):
        return values
    cons, orders = DISTRIBUTIONS[dist]
    table = [c[0] for c in cons]
    keys = table if names is None else list(names)
    out = tuple(check_constraint(k, v, c[1]) for k, v, c in zip(keys, values, cons))
    for lo, op, hi in orders:
        i, j = table.index(lo), table.index(hi)
        check_order(keys[i], out[i], op, keys[j], out[j])
    return out


def check_in_range(name, value, dt, what=None):
    """Refuse a finite `value` that rounds to inf in `dt` (the core's rule for constants)."""
    if math.isfinite(value) and math.isinf(float(round_to(value, dt))):
        raise ValueError(f"{what or name}={value!r} is outside the range of {dt.name} (largest "
                         f"{float(np.finfo(np.float32 if dt.name == 'bfloat16' else dt).max):.5g}): "
                         f"use a smaller {name} or a wider dtype")


def round_to(values, dt):
    """float64 values rounded to `dt`; 16-bit types through float32, as the core does
    (an overflow gives inf, which the callers refuse)."""
    with np.errstate(over="ignore"):
        if dt.itemsize == 2:
            return np.asarray(values, dtype=np.float64).astype(np.float32).astype(dt)
        return np.asarray(values, dtype=np.float64).astype(dt)


# --------------------------------------------------------------- target ----
class Target:
    """A fill target resolved once: the logical shape, the region (starts, lens), the
    dtype, out (or None), and the checked seed, stream number and thread count.
    Internal fills take it as is and check nothing again."""

    __slots__ = ("dims", "starts", "lens", "dtype", "out", "seed", "stream", "threads")

    def __init__(self, dims, starts, lens, dtype, out, seed, stream, threads):
        self.dims, self.starts, self.lens, self.dtype = dims, starts, lens, dtype
        self.out, self.seed, self.stream, self.threads = out, seed, stream, threads

    @property
    def region(self):
        return tuple(slice(s, s + n) for s, n in zip(self.starts, self.lens))

    @property
    def size(self):
        return math.prod(self.lens)

    def whole(self, dims, dtype, stream=None):
        """An internal target: all of `dims` in `dtype`, a new array, same seed and threads."""
        return Target(dims, (0,) * len(dims), dims, dtype, None, self.seed,
                      self.stream if stream is None else stream, self.threads)

    def result(self):
        """`out`, or a new array of the region's shape (nothing written)."""
        return self.out if self.out is not None else empty_array(self.lens, self.dtype)


def target(shape, *, seed=None, stream=0, dtype=None, out=None, region=None, threads=None,
           random=True):
    """The Target of a call, every argument checked; `random=False` accepts seed=None
    (an initializer that draws nothing still refuses a malformed seed)."""
    seed_v = check_seed(seed) if random or seed is not None else 0
    stream_v = stream_id(stream)
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    return Target(dims, starts, lens, dt, out, seed_v, stream_v, check_threads(threads))


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
