"""Hostile input, systematically: property-based tests over shapes (zero and one
dimensions included), regions, dtypes, output layouts, thread counts, seeds, streams
and parameter values (NaN, inf, huge, numpy scalar types, 0-d arrays).

Properties:
* every valid call equals the whole-tensor fill sliced by its region, bit for bit,
  whatever the output layout, thread count or Python/NumPy type of an argument;
  uniform also equals the NumPy reference of the stream bit for bit;
* a call is valid or not independently of region, out= and threads: when the
  whole-tensor fill rejects the parameters, so does every region fill, with `out`
  untouched;
* every invalid argument raises TypeError or ValueError and leaves `out` (and the
  buffer it views) untouched; nothing crashes.

Example counts are bounded and the runs derandomized (no example database), so CI
time and results are fixed.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

import fastinit
import reference  # tests/reference.py: the NumPy reference of the stream

FIXED = dict(deadline=None, derandomize=True, database=None, print_blob=True,
             phases=[Phase.explicit, Phase.generate, Phase.shrink],
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.filter_too_much])
DTYPES = ["float32", "float64", "float16", "bfloat16"]
UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
U64 = 1 << 64
MAX_ELEMENTS = 6000  # per generated tensor: keeps each example in the milliseconds


def bits(a):
    """The array's bytes as unsigned integers (NaN == NaN, -0 != +0)."""
    a = np.ascontiguousarray(a)
    return a.view(UINT[a.dtype.itemsize])


# ------------------------------------------------------------------ strategies ----
@st.composite
def shapes(draw, max_elements=MAX_ELEMENTS):
    nd = draw(st.integers(0, 4))
    dims = []
    for _ in range(nd):
        d = draw(st.one_of(st.integers(0, 6), st.sampled_from([1, 2, 7, 257, 1023, 1025, 2049])))
        dims.append(d)
    while math.prod(dims) > max_elements:  # shrink the largest dimension until it fits
        k = dims.index(max(dims))
        rest = math.prod(dims) // dims[k]
        dims[k] = max(1, min(dims[k] - 1, max_elements // rest))
    return tuple(dims)


@st.composite
def regions(draw, shape):
    """None, or one step-1 slice per dimension with Python/NumPy-integer/None bounds."""
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    out = []
    for n in shape:
        a = draw(st.integers(0, n))
        b = draw(st.integers(a, n))
        wrap = draw(st.sampled_from([int, np.int64, np.uint32, np.intp]))
        start = None if a == 0 and draw(st.booleans()) else wrap(a)
        stop = None if b == n and draw(st.booleans()) else wrap(b)
        step = draw(st.sampled_from([None, 1]))
        out.append(slice(start, stop, step))
    return tuple(out)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e-45, 1e-40, 6e-8, 65504.0, 65520.0,
                           3.4e38, 3.5e38, 1e308, -1e308, math.inf, -math.inf, math.nan])
any_float = st.one_of(st.floats(-1e4, 1e4), finite, special)


@st.composite
def dist_params(draw):
    """(name, params) for any distribution; parameters may be invalid for the dtype."""
    dist = draw(st.sampled_from(["uniform", "normal", "trunc_normal", "full"]))
    if dist == "uniform":
        a, b = sorted([draw(st.one_of(st.floats(-10, 10), any_float)) for _ in range(2)],
                      key=lambda v: (math.isnan(v), v))
        return dist, (a, b)
    if dist == "normal":
        return dist, (draw(st.one_of(st.floats(-100, 100), any_float)),
                      draw(st.one_of(st.floats(0, 10), st.floats(0, 1e5), any_float)))
    if dist == "trunc_normal":
        bound = st.one_of(st.floats(-40, 40), st.sampled_from([-math.inf, math.inf, 0.0, -2.0, 2.0]))
        lo, hi = sorted([draw(bound), draw(bound)])
        if lo == hi:
            hi = math.inf
        return dist, (draw(st.floats(-10, 10)), draw(st.one_of(st.floats(0, 5), any_float)), lo, hi)
    return dist, (draw(any_float),)


def call(dist, params, shape, dtype, **kw):
    f = getattr(fastinit, dist)
    if dist == "full":
        kw.pop("seed", None)
        kw.pop("stream", None)
    return f(shape, *params, dtype=dtype, **kw)


def make_out(layout, lens, dt):
    """An `out` array of shape lens in the given memory layout and the raw uint8 buffer
    behind it, filled with 0xFF bytes (a NaN pattern that no fill writes)."""
    big = tuple(2 * d + 1 for d in lens) if layout == "strided" else tuple(lens)
    raw = np.full(max(1, math.prod(big)) * dt.itemsize, 0xFF, np.uint8)
    flat = raw.view(dt)[: math.prod(big)]
    if layout == "c":
        out = flat.reshape(lens)
    elif layout == "f":
        out = flat.reshape(lens, order="F")
    elif layout == "strided":  # every other element of a larger array
        out = flat.reshape(big)[tuple(slice(1, 2 * d + 1, 2) for d in lens) + (Ellipsis,)]
    else:  # "reversed": negative strides on a transposed array
        out = flat.reshape(tuple(lens)[::-1]).T[tuple(slice(None, None, -1) for _ in lens) + (Ellipsis,)]
    assert out.shape == tuple(lens)
    return out, raw


def region_lens(shape, region):
    if region is None:
        return tuple(shape)
    return tuple(len(range(n)[s]) for n, s in zip(shape, region))


def to_index(region, shape):
    return tuple(slice(None) for _ in shape) if region is None else tuple(
        slice(None if s.start is None else int(s.start), None if s.stop is None else int(s.stop))
        for s in region)


# -------------------------------------------------------- valid calls agree ----
@settings(max_examples=250, **FIXED)
@given(data=st.data(), shape=shapes(), dp=dist_params(), dtype=st.sampled_from(DTYPES),
       seed=st.integers(0, U64 - 1),
       stream=st.one_of(st.integers(0, U64 - 1), st.text(max_size=6)),
       threads=st.sampled_from([None, 1, 2, 3, 7]),
       layout=st.sampled_from(["none", "c", "f", "strided", "reversed"]))
def test_region_fill_equals_whole_fill(data, shape, dp, dtype, seed, stream, threads, layout):
    dist, params = dp
    region = data.draw(regions(shape))
    lens = region_lens(shape, region)
    dt = fastinit.resolve_dtype(dtype)
    try:
        whole = call(dist, params, shape, dtype, seed=seed, stream=stream, threads=1)
    except ValueError as exc:
        event(f"{dist}: rejected")
        # invalid for this dtype: every region / out / thread variant says the same
        out, raw = make_out("c", lens, dt)
        with pytest.raises(ValueError) as info:
            call(dist, params, shape, dtype, seed=seed, stream=stream, region=region, out=out,
                 threads=threads)
        assert str(info.value) == str(exc)
        assert (raw == 0xFF).all(), "out was written by a rejected call"
        return
    assert whole.shape == tuple(shape) and whole.dtype == dt
    event(f"{dist}: valid, {'empty' if whole.size == 0 else 'non-empty'}")

    kw = dict(seed=seed, stream=stream, region=region, threads=threads)
    if layout == "none":
        got = call(dist, params, shape, None if data.draw(st.booleans()) and dtype == "float32" else dtype, **kw)
    else:
        out, raw = make_out(layout, lens, dt)
        got = call(dist, params, shape, data.draw(st.sampled_from([None, dtype])), out=out, **kw)
        assert got is out
    assert got.shape == lens and got.dtype == dt
    expected = whole[to_index(region, shape)]
    assert np.array_equal(bits(got), bits(expected))
    if layout == "strided" and got.size:  # the gaps between out's elements are untouched
        mask = np.ones(raw.size // dt.itemsize, bool)
        mask.reshape(tuple(2 * d + 1 for d in lens))[tuple(slice(1, 2 * d + 1, 2) for d in lens)] = False
        assert (raw.view(UINT[dt.itemsize])[mask] == UINT[dt.itemsize](-1 & (256 ** dt.itemsize - 1))).all()

    # a cheap independent reference: uniform, bit for bit, from the raw words
    if dist == "uniform" and whole.size:
        w = reference.element_words("uniform", dtype, seed, reference.stream_id(stream), 0, whole.size)
        ref = np.asarray(reference.uniform_values(w, params[0], params[1], dtype)).astype(dt)
        assert np.array_equal(bits(whole.ravel()), bits(ref))
    if dist == "uniform" and whole.size and params[0] < params[1]:
        v = whole.astype(np.float64)
        assert (v >= params[0]).all() and (v < params[1]).all()
    if dist == "trunc_normal" and whole.size and params[1] > 0:
        mean, std, lo, hi = params
        v = whole.astype(np.float64)
        assert np.isfinite(v).all()
        assert (v >= mean + std * lo - 1e-12 * abs(mean)).all()
        assert (v <= mean + std * hi + 1e-12 * abs(mean)).all()
    if dist == "normal":
        assert np.isfinite(whole.astype(np.float64)).all()


# ------------------------------------- NumPy scalar types, 0-d arrays, big ints ----
def _float_wrappers():
    return st.sampled_from([
        ("float", float), ("np.float64", np.float64), ("0-d float64 array", lambda v: np.array(v)),
        ("int when integral", lambda v: int(v) if float(v).is_integer() else v),
        ("0-d float32 array of a float32 value", lambda v: np.array(np.float32(v))),
    ])


@settings(max_examples=120, **FIXED)
@given(dp=dist_params(), dtype=st.sampled_from(DTYPES), wrap=_float_wrappers(),
       seed=st.integers(0, U64 - 1),
       seed_wrap=st.sampled_from([int, np.uint64, lambda s: np.array(s, dtype=np.uint64)]),
       dims=st.lists(st.integers(0, 5), max_size=3),
       dim_wrap=st.sampled_from([int, np.int64, np.uint8, np.int16]))
def test_numpy_scalar_types_are_plain_values(dp, dtype, wrap, seed, seed_wrap, dims, dim_wrap):
    """np.float64 / 0-d arrays / np integers give exactly what the plain Python value gives."""
    dist, params = dp
    name, w = wrap
    if name.startswith("0-d float32"):
        # the value the wrapper produces is float32(v): compare with that plain value
        with np.errstate(over="ignore"):
            params = tuple(float(np.float32(p)) for p in params)
    shape = tuple(dims)
    try:
        plain = call(dist, params, shape, dtype, seed=seed)
    except ValueError:
        with pytest.raises(ValueError):
            with np.errstate(over="ignore"):
                call(dist, tuple(w(p) for p in params), tuple(dim_wrap(d) for d in shape), dtype,
                     seed=seed_wrap(seed))
        return
    with np.errstate(over="ignore"):
        wrapped_params = tuple(w(p) for p in params)
    got = call(dist, wrapped_params, tuple(dim_wrap(d) for d in shape), dtype, seed=seed_wrap(seed))
    assert np.array_equal(bits(got), bits(plain))
    if len(shape) == 1:  # a bare (NumPy) integer or a 0-d integer array as the shape
        for s in (dim_wrap(shape[0]), np.array(shape[0])):
            assert np.array_equal(bits(call(dist, params, s, dtype, seed=seed)), bits(plain))


@settings(max_examples=60, **FIXED)
@given(big=st.integers(64, 1100).map(lambda k: (1 << k) + 12345),
       sign=st.sampled_from([1, -1]), where=st.sampled_from(["seed", "stream", "dim", "start", "threads",
                                                            "region", "low", "value"]))
def test_python_ints_beyond_64_bits(big, sign, where):
    """Integer arguments that do not fit 64 bits never wrap around silently: they are
    errors.  As real-valued parameters they are the float they round to, or an error
    beyond float64's range."""
    v = sign * big
    out = np.full((3,), 7.0, np.float64)
    calls = {
        "seed": lambda x: fastinit.uniform(3, seed=x, out=out),
        "stream": lambda x: fastinit.uniform(3, seed=0, stream=x, out=out),
        "dim": lambda x: fastinit.uniform((x, 0), seed=0),
        "start": lambda x: fastinit.random_raw(1, seed=0, start=x),
        "threads": lambda x: fastinit.uniform(3, seed=0, threads=x, out=out),
        "region": lambda x: fastinit.uniform(3, seed=0, region=np.s_[0:x], out=out),
        "low": lambda x: fastinit.uniform(3, x, abs(x) * 2, seed=0, out=out),
        "value": lambda x: fastinit.full(3, x, out=out),
    }
    if where in ("low", "value") and big < 1 << 1023:
        got = calls[where](v).copy()
        assert np.array_equal(got, calls[where](float(v)))
        return
    with pytest.raises((TypeError, ValueError)):
        calls[where](v)
    assert (out == 7.0).all()


# ------------------------------------------------------ invalid calls ----
BAD = {
    "shape": [-1, 1.5, True, "3", None, (2,) * 65, (1 << 32, 1 << 31), (np.float64(2),), (3, -2),
              [2, None], {"a": 1}],
    "region": ["rank", "step2", "step-1", "start>stop", "stop>n", "negative", "int", "float",
               "bool", "huge", "ellipsis"],
    "dtype": ["int32", np.int32, np.dtype(">f4"), "float128", object, 3, "complex64", np.bool_],
    "param": [math.nan, math.inf, -math.inf, "swap", "negstd", True, "1", None, 1j,
              np.array([1.0]), 2 ** 2000, np.complex128(1)],
    "seed": [-1, U64, 1 << 100, 1.0, None, True, "1", np.float64(1), np.array([1])],
    "stream": [-1, U64, b"x", 1.5, None, True, np.float32(2)],
    "threads": [0, -1, 1.5, True, 10 ** 6, "2", np.float64(2)],
    "out": ["readonly", "misaligned", "shape", "dtype", "int32", "byteorder", "broadcast", "list",
            "mismatch"],
}


def _bad_region(kind, shape):
    n = shape[0]
    return {
        "rank": (slice(0, 1),) * (len(shape) + 1),
        "step2": (slice(0, n, 2),) + (slice(None),) * (len(shape) - 1),
        "step-1": (slice(None, None, -1),) + (slice(None),) * (len(shape) - 1),
        "start>stop": (slice(2, 1),) + (slice(None),) * (len(shape) - 1),
        "stop>n": (slice(0, n + 1),) + (slice(None),) * (len(shape) - 1),
        "negative": (slice(-1, None),) + (slice(None),) * (len(shape) - 1),
        "int": (0,) + (slice(None),) * (len(shape) - 1),
        "float": (slice(0.0, 1),) + (slice(None),) * (len(shape) - 1),
        "bool": (slice(False, True),) + (slice(None),) * (len(shape) - 1),
        "huge": (slice(0, 1 << 70),) + (slice(None),) * (len(shape) - 1),
        "ellipsis": (Ellipsis,),
    }[kind]


def _bad_out(kind, shape, dt):
    """(out, base buffer to watch, dtype argument to pass)."""
    if kind == "broadcast" and shape[0] > 1:  # one row seen shape[0] times (writable)
        base = np.empty(shape[1:] or (1,), dt)
        out = np.lib.stride_tricks.as_strided(base, shape=shape, strides=(0,) + base.strides[: len(shape) - 1])
        assert out.flags.writeable
    elif kind in ("readonly", "broadcast"):
        base = np.empty(shape, dt)
        out = base.view()
        out.flags.writeable = False
    elif kind == "misaligned":  # a view at byte offset 1 of a uint8 buffer
        base = np.empty(math.prod(shape) * dt.itemsize + 1, np.uint8)
        out = base[1:].view(dt).reshape(shape)
    elif kind == "shape":
        base = np.empty(tuple(d + 1 for d in shape), dt)
        out = base
    elif kind == "dtype":  # a supported dtype, but not the one asked for
        other = np.float64 if dt != np.float64 else np.float32
        base = np.empty(shape, other)
        return base, base, dt
    elif kind == "int32":
        base = np.empty(shape, np.int32)
        out = base
    elif kind == "byteorder":
        base = np.empty(shape, dt.newbyteorder(">")) if dt.itemsize > 1 else np.empty(shape, dt)
        out = base
    elif kind == "list":
        base = np.empty(shape, dt)
        out = base.tolist()
    else:  # "mismatch": dtype= names another dtype than out's
        base = np.empty(shape, dt)
        return base, base, ("float64" if dt != np.float64 else "float32")
    return out, base, None


@settings(max_examples=300, **FIXED)
@given(data=st.data(), dist=st.sampled_from(["uniform", "normal", "trunc_normal", "full"]),
       dtype=st.sampled_from(DTYPES), what=st.sampled_from(sorted(BAD)),
       shape=st.sampled_from([(4,), (3, 5), (2, 3, 4), (1, 1)]), with_out=st.booleans())
def test_invalid_call_raises_and_writes_nothing(data, dist, dtype, what, shape, with_out):
    dt = fastinit.resolve_dtype(dtype)
    bad = data.draw(st.sampled_from(BAD[what]), label="bad value")
    params = {"uniform": [-1.0, 1.0], "normal": [0.0, 1.0], "trunc_normal": [0.0, 1.0, -2.0, 2.0],
              "full": [0.5]}[dist]
    kw = dict(seed=3, stream="w", threads=2, dtype=dtype)
    call_shape = shape
    region = None
    out = base = None
    if what == "shape":
        call_shape = bad
        with_out = False
    elif what == "region":
        region = _bad_region(bad, shape)
    elif what == "dtype":
        kw["dtype"] = bad
        with_out = False
    elif what == "param":
        is_word = isinstance(bad, str) and bad in ("swap", "negstd")
        if dist == "full" and (is_word or (isinstance(bad, float) and not math.isfinite(bad))):
            bad = np.array([1.0, 2.0])  # full accepts any float, even NaN and inf
            is_word = False
        i = data.draw(st.integers(0, len(params) - 1), label="param index")
        if is_word and bad == "swap":
            if dist == "normal":
                bad = -1.0
                i = 1
            else:
                params = params[:]
                i = 0 if dist == "uniform" else 2
                bad = 5.0  # low > high, lower > upper
        elif is_word and bad == "negstd":
            if dist == "uniform":
                bad = math.nan
            else:
                i, bad = 1, -0.5
        elif dist == "trunc_normal" and i >= 2 and isinstance(bad, float) and math.isinf(bad):
            bad = math.nan  # infinite truncation bounds are valid
        params = list(params)
        params[i] = bad
    elif what in ("seed", "stream", "threads"):
        if dist == "full" and what != "threads":
            return  # constants take no seed or stream
        kw[what] = bad
    if what == "out":
        out, base, dt_arg = _bad_out(bad, shape, dt)
        kw["dtype"] = dt_arg
    elif with_out:
        base = out = np.empty(shape, dt)
    if base is not None:
        base.view(np.uint8)[...] = 0xFF
        before = base.copy()
    f = getattr(fastinit, dist)
    if dist == "full":
        kw.pop("seed", None)
        kw.pop("stream", None)
    with pytest.raises((TypeError, ValueError)) as info:
        f(call_shape, *params, out=out, region=region, **kw)
    assert str(info.value), "an error without a message"
    if base is not None:
        assert np.array_equal(base.view(np.uint8), before.view(np.uint8)), "a rejected call wrote out"


def test_internally_overlapping_out_is_rejected():
    """Elements that share memory with non-zero strides (found here, fixed in _api)."""
    base = np.full(8, 0xFF, np.uint32).view(np.float32)
    out = np.lib.stride_tricks.as_strided(base, shape=(4, 4), strides=(4, 4))  # rows overlap
    assert out.flags.writeable
    before = base.copy()
    with pytest.raises(ValueError):
        fastinit.uniform((4, 4), seed=0, out=out)
    assert np.array_equal(base.view(np.uint32), before.view(np.uint32))


# ------------------------------------------------------------- random_raw ----
@settings(max_examples=80, **FIXED)
@given(start=st.one_of(st.integers(0, 1 << 40), st.integers(0, U64 - 1),
                       st.integers(U64 - 5000, U64 - 1), st.integers((1 << 34) - 3000, (1 << 34) + 100)),
       n=st.integers(0, 2100), seed=st.integers(0, U64 - 1), stream=st.integers(0, U64 - 1),
       cut=st.integers(0, 2100))
def test_random_raw_any_window(start, n, seed, stream, cut):
    n = min(n, U64 - start)
    got = fastinit.random_raw(n, seed=seed, stream=stream, start=start)
    assert got.dtype == np.uint32 and got.shape == (n,)
    assert np.array_equal(got, reference.words(seed, stream, start, n))
    c = min(cut, n)  # any split point gives the same words
    a = fastinit.random_raw(c, seed=seed, stream=stream, start=start)
    b = fastinit.random_raw(n - c, seed=seed, stream=stream, start=start + c)
    assert np.array_equal(np.concatenate([a, b]), got)


def test_random_raw_whole_stream_is_a_clear_error():
    """start + n <= 2**64 is valid for the stream but not allocatable (was OverflowError)."""
    with pytest.raises((MemoryError, ValueError)):
        fastinit.random_raw(U64, seed=0)


# ------------------------------------------- logical shapes near 2**63 elements ----
@settings(max_examples=60, **FIXED)
@given(data=st.data(), dist=st.sampled_from(["uniform", "normal", "trunc_normal"]),
       dtype=st.sampled_from(DTYPES), seed=st.integers(0, U64 - 1), nd=st.integers(1, 4))
def test_huge_logical_shapes_through_regions(data, dist, dtype, seed, nd):
    """Regions of logical tensors with up to 2**63 - 1 elements: each row of the region is
    the same as that range of the flat (2**63 - 1,) tensor, and uniform equals the reference."""
    # dims whose product is < 2**63 and typically above 2**62
    dims = []
    budget = (1 << 63) - 1
    for k in range(nd):
        if k == nd - 1:
            d = budget
        else:
            lo = 2
            hi = max(lo, min(budget // 2, 1 << 40))
            d = data.draw(st.integers(lo, hi), label=f"dim{k}")
        d = max(1, min(d, budget))
        dims.append(d)
        budget //= d
    shape = tuple(dims)
    assert math.prod(shape) < 1 << 63
    region = []
    for n in shape:
        width = data.draw(st.integers(1, min(n, 3 if len(region) < nd - 1 else 300)), label="width")
        a = data.draw(st.one_of(st.just(n - width), st.integers(0, n - width)), label="start")
        region.append(slice(a, a + width))
    region = tuple(region)
    got = getattr(fastinit, dist)(shape, seed=seed, dtype=dtype, region=region)
    strides = [math.prod(shape[k + 1:]) for k in range(nd)]
    flat_len = (1 << 63) - 1
    for idx in np.ndindex(*got.shape[:-1]):
        first = sum((s.start + i) * st_ for s, i, st_ in zip(region, idx + (0,), strides))
        row = getattr(fastinit, dist)(flat_len, seed=seed, dtype=dtype,
                                      region=(slice(first, first + got.shape[-1]),))
        assert np.array_equal(bits(got[idx]), bits(row))
        if dist == "uniform":
            w = reference.element_words("uniform", dtype, seed, 0, first, got.shape[-1])
            ref = np.asarray(reference.uniform_values(w, 0.0, 1.0, dtype)).astype(got.dtype)
            assert np.array_equal(bits(row), bits(ref))
