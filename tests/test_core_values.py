"""Words to values: each distribution against tests/reference.py.

* uniform: bit for bit, every dtype;
* normal: within 2**-21 max(1, R) (32-bit) and 2**-50 max(1, R) (64-bit) of exact
  Box-Muller, on random words and on chosen extreme words (a near 2**32, where R is
  tiny; angles on quadrant boundaries);
* truncated normal: within 2**-22 max(1, |z|) (float32) and 1e-12 max(1, |z|)
  (float64) of an mpmath inverse CDF, for central, one-sided, infinite and far-tail
  intervals, again with extreme words;
* float16 / bfloat16: the float32 value rounded to nearest even (then clamped).

Extreme words are reached through the public API: Philox is a bijection, so for any
seed the counter that produces a chosen block can be computed (reference.counter_for);
its high half is the stream and its low half the block index, i.e. the element index.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import fastinit
import reference
from conftest import DTYPE_NAMES

INF = math.inf
LOGICAL = (1 << 62,)  # logical tensor for chosen-word fills: every block index < 2**60 fits
MASK64 = (1 << 64) - 1


def bits(x):
    x = np.ascontiguousarray(x)
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def assert_same_bits(got, want):
    want = np.asarray(want, dtype=got.dtype)
    assert got.shape == want.shape
    bad = np.flatnonzero(bits(got).ravel() != bits(want).ravel())
    assert bad.size == 0, f"{bad.size} elements differ, first at {bad[0]}: {got.ravel()[bad[0]]!r} != {want.ravel()[bad[0]]!r}"


def at_words(fill, args, dtype, prefix, m=1):
    """`fill(LOGICAL, *args, ...)` at the element whose block begins with the 32-bit
    words `prefix`, and the m - 1 elements after it."""
    epb = 2 if dtype == "float64" else 4
    for seed in range(1000, 1100):
        found = reference.counter_for(seed, prefix, max_index_bits=62, elements_per_block=epb)
        if found is not None:
            stream, block = found
            i = block * epb
            return fill(LOGICAL, *args, seed=seed, stream=stream, dtype=dtype, region=np.s_[i:i + m])
    raise AssertionError(f"no counter found for words {prefix}")


def split64(u):
    return [u & 0xFFFFFFFF, u >> 32]


# ---------------------------------------------------------------- edge words ----
def _radius_words():
    """32-bit words where ln((a + 0.5) 2**-32) is delicate."""
    ws = {0, 1, 2, 3, 255, 256, 0x7FFFFFFE, 0x7FFFFFFF, 0x80000000, 0x80000001,
          0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFF00, 0xFFFF0000, 0xF0000000, 0xC0000000}
    for j in range(1, 33):  # (a + 0.5) 2**-32 near 2**-j sqrt(2): where the log's reduction switches
        c = 2.0 ** (32 - j) * math.sqrt(2.0) - 0.5
        ws.update(int(v) for v in (math.floor(c), math.ceil(c)) if 0 <= v < 1 << 32)
    # upper half: 1 - x near 1 - 1/sqrt(2), where -ln(1 - y) switches its reduction
    t = int((1 - 1 / math.sqrt(2.0)) * 2.0**32)
    for d in range(-1024, 1025, 128):
        ws.add(0xFFFFFFFF - (t + d))
    return sorted(ws)


def _angle_words():
    """32-bit words whose angle T = (int32(b) >> 8) 2**-23 sits on a quadrant boundary."""
    ks = {-(1 << 23), -(1 << 23) + 1, (1 << 23) - 1, -1, 0, 1}
    for q in (1, 2, 3):
        for sign in (1, -1):
            for d in (-1, 0, 1):
                ks.add(sign * q * (1 << 21) + d)
    return sorted({((k << 8) | low) & 0xFFFFFFFF for k in ks for low in (0, 0xFF)})


def _radius_words_64():
    """64-bit words: h = u >> 11 at the ends and at 2**52 (the upper half's start)."""
    hs = [0, 1, 2, 3, 1 << 51, (1 << 52) - 1, 1 << 52, (1 << 52) + 1, (1 << 53) - 3,
          (1 << 53) - 2, (1 << 53) - 1]
    t = int((1 - 1 / math.sqrt(2.0)) * 2.0**53)
    hs += [(1 << 53) - 1 - (t + d) for d in (-2, -1, 0, 1, 2)]
    return [(h << 11) | low for h in hs for low in (0, 0x7FF)]


def _angle_words_64():
    js = {-(1 << 52), -(1 << 52) + 1, (1 << 52) - 1, -1, 0, 1}
    for q in (1, 2, 3):
        for sign in (1, -1):
            for d in (-1, 0, 1):
                js.add(sign * q * (1 << 50) + d)
    return sorted({((j << 11) | low) & MASK64 for j in js for low in (0, 0x7FF)})


RADIUS_WORDS = _radius_words()
ANGLE_WORDS = _angle_words()
RADIUS_WORDS_64 = _radius_words_64()
ANGLE_WORDS_64 = _angle_words_64()


def test_chosen_words_reach_the_element():
    """The inversion trick itself: the element's raw words are the chosen ones."""
    for prefix in ([0xFFFFFFFF], [0, 0x80000000], [1, 2, 3, 4]):
        found = None
        for seed in range(1000, 1100):
            found = reference.counter_for(seed, prefix, max_index_bits=62)
            if found:
                break
        stream, block = found
        assert block < 1 << 60
        got = fastinit.random_raw(len(prefix), seed=seed, stream=stream, start=4 * block)
        assert got.tolist() == prefix


# ------------------------------------------------------------------- uniform ----
UNIFORM_CASES = [(0.0, 1.0), (-0.1, 0.1), (-1.0, 1.0), (3.0, 3.0), (-5.5, 1e4), (100.0, 100.5),
                 (1e-3, 1e-3 + 1e-7), (-2.0**-140, 2.0**-140), (-1e-30, 0.0), (-6e4, 6e4)]


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("low, high", UNIFORM_CASES)
def test_uniform_bits(isa, dtype, low, high):
    n, start = 5003, 77
    try:
        got = fastinit.uniform((start + n,), low, high, seed=21, stream="u", dtype=dtype,
                               region=np.s_[start:])
    except ValueError as exc:  # an interval with no value of a narrow dtype
        assert dtype in ("float16", "bfloat16") and "contains no value" in str(exc)
        return
    w = reference.element_words("uniform", dtype, 21, "u", start, n)
    assert_same_bits(got, reference.uniform_values(w, low, high, dtype))


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
def test_uniform_extreme_words(dtype):
    """U = 0 gives the smallest value >= low; the largest U never reaches high."""
    low, high = -0.1, 0.1
    if dtype == "float64":
        cases = [[0, 0], [0x7FF, 0], [0xFFFFFFFF, 0xFFFFFFFF], [0xFFFFF800, 0xFFFFFFFF], [0, 0x80000000]]
    else:
        cases = [[0], [0xFF], [0x100], [0xFFFFFFFF], [0xFFFFFF00], [0x80000000]]
    for prefix in cases:
        got = at_words(fastinit.uniform, (low, high), dtype, prefix)
        w = np.array([prefix[0] | (prefix[1] << 32)] if dtype == "float64" else prefix,
                     np.uint64 if dtype == "float64" else np.uint32)
        assert_same_bits(got, reference.uniform_values(w, low, high, dtype))
        assert low <= float(got[0]) < high


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-0.1, 0.1), (-5.5, 1e4), (100.0, 100.5)])
def test_uniform_close_to_exact_mathematics(dtype, low, high):
    """|value - (low + (high - low) U)| stays within a few ulps of max(|low|, |high|)."""
    n = 20000
    got = reference.as_float64(fastinit.uniform(n, low, high, seed=3, dtype=dtype))
    w = reference.element_words("uniform", dtype, 3, 0, 0, n)
    if dtype == "float64":
        exact = low + (high - low) * reference.uniform_unit_64(w)  # error ~1e-16 M, far below tol
        tol = 2.0**-51
    else:
        exact = low + (high - low) * reference.uniform_unit_32(w).astype(np.float64)
        tol = 2.0**-22
    scale = max(abs(low), abs(high))
    # 16-bit: one ulp (rounding, or the clamp below high moving a value down one step)
    extra = {"float16": 2.0**-10, "bfloat16": 2.0**-7}.get(dtype, 0.0) * scale
    assert np.max(np.abs(got - exact)) <= tol * scale + extra
    assert np.all(got >= low) and np.all(got < high)


def test_uniform_never_returns_high():
    # float16 at [0, 1): values above 1 - 2**-12 would round up to 1.0 without the clamp
    x = fastinit.uniform(1 << 20, 0.0, 1.0, seed=1, dtype="float16")
    assert x.max() == np.float16(1.0 - 2.0**-11)
    y = fastinit.uniform(1 << 20, 0.0, 1.0, seed=1, dtype="bfloat16")
    assert float(y.max()) == 1.0 - 2.0**-8
    # float32: the top word gives 1 - 2**-24, itself below high
    assert float(at_words(fastinit.uniform, (0.0, 1.0), "float32", [0xFFFFFFFF])[0]) == 1.0 - 2.0**-24
    # high not representable: never the value just above it
    z = fastinit.uniform(1 << 16, 0.0, 0.1, seed=2)
    assert float(z.max()) < 0.1


# -------------------------------------------------------------------- normal ----
def normal_error_32(got, w):
    """max over elements of |z - z_exact| / max(1, R) for float32 outputs."""
    z, r = reference.normal_z_32(w)
    return float(np.max(np.abs(got.astype(np.float64) - z) / np.maximum(1.0, r)))


def normal_error_mp(got, u, nbits):
    zs, rs = reference.normal_z_mp(u, nbits)
    with mpmath.workdps(40):
        return max(float(abs(mpmath.mpf(float(g)) - z) / max(1, r)) for g, z, r in zip(got, zs, rs))


def test_normal_f32_random_words(isa):
    n, start = 1 << 19, 2 * 12345
    got = fastinit.normal((start + n,), seed=11, stream=2, region=np.s_[start:])
    assert normal_error_32(got, reference.words(11, 2, start, n)) <= 2.0**-21


def test_normal_f32_extreme_words():
    pairs = [(a, b) for a in RADIUS_WORDS for b in (0x00000000, 0x20000000, 0x80000000, 0x9ABCDEF0)]
    pairs += [(a, b) for a in (0, 0x80000000, 0xFFFFFFFF, 0x12345678) for b in ANGLE_WORDS]
    worst = 0.0
    for a, b in pairs:
        got = at_words(fastinit.normal, (), "float32", [a, b], m=2)
        worst = max(worst, normal_error_32(got, np.array([a, b], np.uint32)))
    assert worst <= 2.0**-21


def test_normal_f32_tiny_radius_is_not_zero():
    """a = 2**32 - 1: R = sqrt(-2 ln(1 - 2**-33)) ~ 2**-16, not 0 (the log is taken
    from the complement, not from 1 - 2**-33 rounded to 1)."""
    got = at_words(fastinit.normal, (), "float32", [0xFFFFFFFF, 0], m=2)  # T = 0: z = (R, 0)
    r_exact = math.sqrt(-2.0 * math.log1p(-(2.0**-33)))
    assert abs(float(got[0]) - r_exact) <= 2.0**-24 * r_exact
    assert float(got[1]) == 0.0


def test_normal_f64_random_words():
    n, start = 3000, 2 * 777
    got = fastinit.normal((start + n,), seed=11, stream=2, dtype="float64", region=np.s_[start:])
    assert normal_error_mp(got, reference.u64_words(11, 2, start, n), 64) <= 2.0**-50


def test_normal_f64_extreme_words():
    quads = [(a, b) for a in RADIUS_WORDS_64 for b in (0, 1 << 62, 1 << 63, 0x9ABCDEF012345678)]
    quads += [(a, b) for a in (0, 1 << 63, MASK64, 0x123456789ABCDEF0) for b in ANGLE_WORDS_64]
    got_all, us = [], []
    for a, b in quads:
        got_all += at_words(fastinit.normal, (), "float64", split64(a) + split64(b), m=2).tolist()
        us += [a, b]
    assert normal_error_mp(got_all, us, 64) <= 2.0**-50


def test_normal_f64_tiny_radius():
    """h = 2**53 - 1: x = 1 - 2**-54, R = sqrt(2**-53) ~ 1.05e-8."""
    got = at_words(fastinit.normal, (), "float64", split64(MASK64) + [0, 0], m=2)
    r_exact = 2.0**-26.5
    assert abs(float(got[0]) - r_exact) <= 2.0**-50 * r_exact
    assert float(got[1]) == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mean, std", [(0.0, 0.02), (3.0, 2.5), (-1e3, 7.0), (5.0, 0.0), (0.1, 1e-30)])
def test_normal_scaling(dtype, mean, std):
    """value = fma(std, z, mean) with z the standard value (float32: fmaf with std and
    mean rounded to float32), bit for bit."""
    n = 4000
    got = fastinit.normal(n, mean, std, seed=8, dtype=dtype)
    z = fastinit.normal(n, 0.0, 1.0, seed=8, dtype=dtype)
    if dtype == "float32":
        want = reference.fmaf_exact(np.float32(std), z, np.float32(mean))
    else:
        want = reference.fma_exact(std, z, mean)
    assert_same_bits(got, want)
    if std == 0.0:
        assert np.all(got == np.asarray(mean, dtype))


# ---------------------------------------------------------- truncated normal ----
TRUNC_INTERVALS = [(-2.0, 2.0), (0.0, INF), (-INF, -3.0), (25.0, 26.0), (-30.0, -29.5),
                   (5.0, 5.0001), (-INF, INF), (-1.0, INF), (-INF, 0.5), (30.0, INF), (-INF, -30.0),
                   (-0.5, -0.4999), (-36.0, -35.9), (35.9, 36.0)]
TRUNC_TOL = {"float32": 2.0**-22, "float64": 1e-12}


def trunc_error(got, words, nbits, alpha, beta):
    """max over elements of (|x - z_exact| - half an ulp of x) / max(1, |z_exact|)."""
    z = reference.trunc_z_mp(reference.trunc_unit(words, nbits), alpha, beta)
    half_ulp = np.spacing(np.abs(got)).astype(np.float64) / 2 if nbits == 32 else np.zeros(len(got))
    with mpmath.workdps(40):
        return max(float((abs(mpmath.mpf(float(g)) - zz) - h) / max(1, abs(zz)))
                   for g, zz, h in zip(got, z, half_ulp))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha, beta", TRUNC_INTERVALS)
def test_trunc_normal_random_words(dtype, alpha, beta):
    n, start = 250, 1001
    got = fastinit.trunc_normal((start + n,), 0.0, 1.0, alpha, beta, seed=4, stream=9, dtype=dtype,
                                region=np.s_[start:])
    assert np.all(got >= alpha) and np.all(got <= beta)
    w = reference.element_words("trunc_normal", dtype, 4, 9, start, n)
    assert trunc_error(got, w, 32 if dtype == "float32" else 64, alpha, beta) <= TRUNC_TOL[dtype]


TRUNC_EDGE_32 = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x00010000, 0xFFFEFFFF]
TRUNC_EDGE_64 = [(h << 11) | low for h in (0, 1, (1 << 52) - 1, 1 << 52, (1 << 53) - 2, (1 << 53) - 1)
                 for low in (0, 0x7FF)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha, beta", TRUNC_INTERVALS)
def test_trunc_normal_extreme_words(dtype, alpha, beta):
    """U = 2**-33 ... 1 - 2**-33 (and the 64-bit ends): the ends of the interval."""
    got, ws = [], []
    for w in (TRUNC_EDGE_32 if dtype == "float32" else TRUNC_EDGE_64):
        prefix = [w] if dtype == "float32" else split64(w)
        got.append(at_words(fastinit.trunc_normal, (0.0, 1.0, alpha, beta), dtype, prefix)[0])
        ws.append(w)
    got = np.array(got, dtype)
    assert np.all(got >= alpha) and np.all(got <= beta)
    words = np.array(ws, np.uint32 if dtype == "float32" else np.uint64)
    assert trunc_error(got, words, 32 if dtype == "float32" else 64, alpha, beta) <= TRUNC_TOL[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mean, std, alpha, beta", [(0.0, 0.02, -2.0, 2.0), (1.0, 3.0, 0.0, INF),
                                                    (-7.0, 0.5, 25.0, 26.0)])
def test_trunc_normal_scaling(dtype, mean, std, alpha, beta):
    n = 300
    got = fastinit.trunc_normal(n, mean, std, alpha, beta, seed=6, dtype=dtype).astype(np.float64)
    w = reference.element_words("trunc_normal", dtype, 6, 0, 0, n)
    z = np.array([float(v) for v in reference.trunc_z_mp(reference.trunc_unit(w, 32 if dtype == "float32" else 64),
                                                         alpha, beta)])
    exact = mean + std * z
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    tol = std * TRUNC_TOL[dtype] * np.maximum(1, np.abs(z)) + ulp
    assert np.all(np.abs(got - exact) <= tol)
    assert np.all(got >= mean + std * alpha) and np.all(got <= mean + std * beta)


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
def test_trunc_normal_bounds_are_inclusive_and_representable(dtype):
    """Clamp bounds are the bounds rounded inward in the output dtype."""
    lb, ub = 0.1, 0.3  # not representable in any of the dtypes
    x = reference.as_float64(fastinit.trunc_normal(1 << 16, 0.0, 1.0, lb, ub, seed=2, dtype=dtype))
    assert x.min() >= reference.dtype_ceil(lb, dtype) and x.max() <= reference.dtype_floor(ub, dtype)
    # a narrow interval in a coarse dtype: everything lands on the one value inside it
    y = reference.as_float64(fastinit.trunc_normal(1000, 0.0, 1.0, 5.0, 5.0001, seed=2, dtype=dtype))
    assert np.all((y >= 5.0) & (y <= 5.0001))


# --------------------------------------------------------- 16-bit rounding ----
FILLS = [
    ("uniform", (-0.1, 0.1)), ("uniform", (0.0, 1.0)), ("uniform", (-3.0, 1000.0)),
    ("normal", (0.0, 1.0)), ("normal", (2.0, 30.0)),
    ("trunc_normal", (0.0, 1.0, -2.0, 2.0)), ("trunc_normal", (0.0, 1.0, 0.1, INF)),
    ("trunc_normal", (0.0, 0.02, -2.0, 2.0)), ("trunc_normal", (0.0, 1.0, 25.0, 26.0)),
]


def _clamps(dist, params, dtype):
    if dist == "uniform":
        return reference.uniform_clamps(params[0], params[1], dtype)
    if dist == "trunc_normal":
        mean, std, a, b = params
        lo = reference.dtype_ceil(mean + std * a, dtype) if math.isfinite(a) else -INF
        hi = reference.dtype_floor(mean + std * b, dtype) if math.isfinite(b) else INF
        return lo, hi
    return -INF, INF


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("dist, params", FILLS)
def test_16bit_is_float32_rounded_to_nearest_even(isa, dtype, dist, params):
    fill = getattr(fastinit, dist)
    n, start = 70001, 33
    kw = dict(seed=77, stream="h", region=np.s_[start:])
    x32 = fill((start + n,), *params, dtype="float32", **kw)
    x16 = fill((start + n,), *params, dtype=dtype, **kw)
    lo, hi = _clamps(dist, params, dtype)
    want = reference.round_to(x32, dtype).astype(np.float64)
    want = reference.clamp(want, lo, hi)
    assert_same_bits(x16, want.astype(reference.DTYPES[dtype]))


# ---------------------------------------------------------------- constants ----
@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("value", [0.0, -0.0, 1.0, 0.1, -2.5e-3, 1e-30, INF, -INF, 65504.0])
def test_full_value_bits(dtype, value):
    """full(): the value rounded to float32 first, then to the 16-bit dtype (like torch
    and ml_dtypes; no stream words are used, so seed and stream do not exist)."""
    got = fastinit.full((3, 5), value, dtype=dtype)
    want = np.full((3, 5), value, np.float64) if dtype == "float64" else \
        np.full((3, 5), np.float32(value)).astype(reference.DTYPES[dtype])
    assert_same_bits(got, want)


def test_full_nan_zeros_ones():
    assert np.isnan(fastinit.full(4, math.nan)).all()
    for dtype in DTYPE_NAMES:
        z, o = fastinit.zeros((2, 3), dtype=dtype), fastinit.ones((2, 3), dtype=dtype)
        assert z.dtype == reference.DTYPES[dtype] and o.dtype == reference.DTYPES[dtype]
        assert not bits(z).any() and np.all(o.astype(np.float64) == 1.0)
        c = fastinit.constant((2, 3), 0.5, dtype=dtype)
        assert np.all(c.astype(np.float64) == 0.5)


def test_full_double_rounding_is_float32_first():
    """A float64 just above a float16 half-way point: float32 first makes it a tie."""
    x = 1.0 + 2.0**-11 + 2.0**-30
    assert float(fastinit.full(1, x, dtype="float16")[0]) == 1.0
    assert float(fastinit.full(1, x, dtype="float32")[0]) == 1.0 + 2.0**-11
