"""Bad input: a TypeError or ValueError that says what to change, raised before
anything is written (an `out=` array keeps every bit); zero-element shapes return at
once; impossible sizes raise MemoryError or ValueError, never crash."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastinit

INF, NAN = math.inf, math.nan
U64 = 1 << 64


def sentinel(shape=(4, 5), dtype=np.float32):
    """An output array filled with a bit pattern no fill produces (all ones: a NaN)."""
    a = np.empty(shape, dtype)
    a.view(np.uint8)[...] = 0xFF
    return a


def untouched(a):
    return bool((np.ascontiguousarray(a).view(np.uint8) == 0xFF).all())


# Every fill with out=: (callable taking out, expected exception, message fragment).
SHAPE = (4, 5)
OUT_CASES = [
    # seed
    (lambda o: fastinit.normal(SHAPE, seed=None, out=o), TypeError, "seed is required"),
    (lambda o: fastinit.normal(SHAPE, seed=-1, out=o), ValueError, "seed must be >= 0"),
    (lambda o: fastinit.normal(SHAPE, seed=U64, out=o), ValueError, "seed must be <"),
    (lambda o: fastinit.normal(SHAPE, seed=1.0, out=o), TypeError, "seed must be an integer"),
    (lambda o: fastinit.normal(SHAPE, seed="1", out=o), TypeError, "seed must be an integer"),
    (lambda o: fastinit.normal(SHAPE, seed=True, out=o), TypeError, "not a bool"),
    (lambda o: fastinit.normal(SHAPE, seed=np.float64(3), out=o), TypeError, "seed must be an integer"),
    # stream
    (lambda o: fastinit.uniform(SHAPE, seed=0, stream=-1, out=o), ValueError, "stream must be >= 0"),
    (lambda o: fastinit.uniform(SHAPE, seed=0, stream=U64, out=o), ValueError, "stream must be <"),
    (lambda o: fastinit.uniform(SHAPE, seed=0, stream=1.5, out=o), TypeError, "stream must be an integer"),
    (lambda o: fastinit.uniform(SHAPE, seed=0, stream=b"w", out=o), TypeError, "decode"),
    (lambda o: fastinit.uniform(SHAPE, seed=0, stream=None, out=o), TypeError, "stream must be an integer"),
    # normal parameters
    (lambda o: fastinit.normal(SHAPE, 0.0, -1.0, seed=0, out=o), ValueError, "std must be >= 0"),
    (lambda o: fastinit.normal(SHAPE, 0.0, NAN, seed=0, out=o), ValueError, "std must not be NaN"),
    (lambda o: fastinit.normal(SHAPE, 0.0, INF, seed=0, out=o), ValueError, "std must be finite"),
    (lambda o: fastinit.normal(SHAPE, NAN, 1.0, seed=0, out=o), ValueError, "mean must not be NaN"),
    (lambda o: fastinit.normal(SHAPE, -INF, 1.0, seed=0, out=o), ValueError, "mean must be finite"),
    (lambda o: fastinit.normal(SHAPE, 10**400, 1.0, seed=0, out=o), ValueError, "too large"),
    (lambda o: fastinit.normal(SHAPE, "0", 1.0, seed=0, out=o), TypeError, "mean must be a real number"),
    (lambda o: fastinit.normal(SHAPE, 0.0, 1j, seed=0, out=o), TypeError, "std must be a real number"),
    (lambda o: fastinit.normal(SHAPE, 0.0, np.ones(2), seed=0, out=o), TypeError, "scalar"),
    (lambda o: fastinit.normal(SHAPE, 0.0, 1e38, seed=0, out=o), ValueError, "overflow"),
    # uniform parameters
    (lambda o: fastinit.uniform(SHAPE, 1.0, 0.0, seed=0, out=o), ValueError, "low must be <= high"),
    (lambda o: fastinit.uniform(SHAPE, NAN, 1.0, seed=0, out=o), ValueError, "low must not be NaN"),
    (lambda o: fastinit.uniform(SHAPE, 0.0, INF, seed=0, out=o), ValueError, "high must be finite"),
    (lambda o: fastinit.uniform(SHAPE, -3e38, 3e38, seed=0, out=o), ValueError, "overflows float32"),
    (lambda o: fastinit.uniform(SHAPE, 0.1, 0.1 + 1e-12, seed=0, out=o), ValueError, "contains no value"),
    # truncated normal parameters
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, 2.0, 2.0, seed=0, out=o), ValueError, "lower must be < upper"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, 2.0, -2.0, seed=0, out=o), ValueError, "lower must be < upper"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, INF, INF, seed=0, out=o), ValueError, "lower must be < upper"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, NAN, 2.0, seed=0, out=o), ValueError, "lower must not be NaN"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, -2.0, NAN, seed=0, out=o), ValueError, "upper must not be NaN"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, -0.5, seed=0, out=o), ValueError, "std must be >= 0"),
    (lambda o: fastinit.trunc_normal(SHAPE, INF, 1.0, seed=0, out=o), ValueError, "mean must be finite"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, 40.0, 50.0, seed=0, out=o), ValueError, "36 standard deviations"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, -INF, -36.5, seed=0, out=o), ValueError, "36 standard deviations"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1.0, 0.1, 0.1 + 1e-10, seed=0, out=o), ValueError, "contains no value"),
    (lambda o: fastinit.trunc_normal(SHAPE, 0.0, 1e38, 0.0, INF, seed=0, out=o), ValueError, "overflow"),
    # constants
    (lambda o: fastinit.full(SHAPE, 1e39, out=o), ValueError, "outside the range"),
    (lambda o: fastinit.full(SHAPE, "1", out=o), TypeError, "value must be a real number"),
    (lambda o: fastinit.full(SHAPE, True, out=o), TypeError, "not a bool"),
    (lambda o: fastinit.full(SHAPE, None, out=o), TypeError, "value must be a real number"),
    # shape and region
    (lambda o: fastinit.normal((4, -5), seed=0, out=o), ValueError, "shape[1] must be >= 0"),
    (lambda o: fastinit.normal((4, 5.0), seed=0, out=o), TypeError, "shape[1] must be an integer"),
    (lambda o: fastinit.normal("4, 5", seed=0, out=o), TypeError, "shape must be an int or a tuple"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[:, ::2]), ValueError, "step"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[:, 0:10:2]), ValueError, "step"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[0:5]), ValueError, "1 slices but shape has 2"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[0:4, 0:5, 0:1]), ValueError, "3 slices"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[0:4, 6:11]), ValueError, "out of range"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[0:4, -5:]), ValueError, "negative index"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=np.s_[0:4, 6:1]), ValueError, "start > stop"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=(slice(0, 4), 3)), TypeError, "must be a slice"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region=(slice(0, 4), slice(0.0, 5))), TypeError,
     "region[1].start must be an integer"),
    (lambda o: fastinit.normal((4, 10), seed=0, out=o, region="0:4"), TypeError, "tuple of slices"),
    # out itself
    (lambda o: fastinit.normal((4, 6), seed=0, out=o), ValueError, "out has shape"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o.T), ValueError, "out has shape"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, dtype="float64"), ValueError, "dtype=float64 was requested"),
    # dtype
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, dtype="float8"), ValueError, "unknown dtype"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, dtype=np.int32), ValueError, "unsupported dtype int32"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, dtype=np.dtype(">f4")), ValueError, "byte order"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, dtype=object()), TypeError, "dtype must be"),
    # threads
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, threads=0), ValueError, "threads must be >= 1"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, threads=-2), ValueError, "threads must be >= 1"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, threads=1.5), TypeError, "threads must be an integer"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, threads="2"), TypeError, "threads must be an integer"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, threads=True), TypeError, "not a bool"),
    (lambda o: fastinit.normal(SHAPE, seed=0, out=o, threads=10**6), ValueError, "threads must be <="),
    (lambda o: fastinit.zeros(SHAPE, out=o, threads=0), ValueError, "threads must be >= 1"),
]


@pytest.mark.parametrize("call, exc, fragment", OUT_CASES, ids=[f"case{i}" for i in range(len(OUT_CASES))])
def test_bad_input_raises_and_out_is_untouched(call, exc, fragment):
    out = sentinel()
    with pytest.raises(exc) as info:
        call(out)
    assert fragment in str(info.value)
    assert untouched(out), "an argument error wrote into out="


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("call, fragment", [
    (lambda o: fastinit.normal(SHAPE, 0.0, 1e4 if o.dtype == np.float16 else 1e38, seed=0, out=o), "overflow"),
    (lambda o: fastinit.uniform(SHAPE, 1.0 + 1e-5, 1.0 + 2e-5, seed=0, out=o), "contains no value"),
    (lambda o: fastinit.trunc_normal(SHAPE, 1.0, 1.0, 1e-5, 2e-5, seed=0, out=o), "contains no value"),
])
def test_narrow_dtype_errors_leave_out_untouched(dtype, call, fragment):
    import reference

    out = sentinel(dtype=reference.DTYPES[dtype])
    with pytest.raises(ValueError, match=fragment):
        call(out)
    assert untouched(out)
    with pytest.raises(ValueError, match="outside the range"):
        fastinit.full(SHAPE, 1e6 if dtype == "float16" else 1e39, out=out)
    assert untouched(out)


def test_bad_out_arrays():
    with pytest.raises(ValueError, match="read-only"):
        ro = sentinel()
        ro.setflags(write=False)
        fastinit.normal(SHAPE, seed=0, out=ro)
    assert untouched(ro)
    with pytest.raises(ValueError, match="it must be one of"):
        fastinit.normal(SHAPE, seed=0, out=np.zeros(SHAPE, np.int32))
    with pytest.raises(ValueError, match="it must be one of"):
        fastinit.normal(SHAPE, seed=0, out=np.zeros(SHAPE, np.complex64))
    with pytest.raises(TypeError, match="numpy.ndarray"):
        fastinit.normal(SHAPE, seed=0, out=[[0.0] * 5] * 4)
    big_endian = sentinel(dtype=np.dtype(">f4"))
    with pytest.raises(ValueError, match="byte order"):
        fastinit.normal(SHAPE, seed=0, out=big_endian)
    assert untouched(big_endian)
    raw = np.full(4 * 20 + 1, 0xFF, np.uint8)
    misaligned = raw[1:].view(np.float32).reshape(SHAPE)
    with pytest.raises(ValueError, match="aligned"):
        fastinit.normal(SHAPE, seed=0, out=misaligned)
    assert (raw == 0xFF).all()
    base = sentinel((5,))
    overlapping = np.lib.stride_tricks.as_strided(base, shape=SHAPE, strides=(0, 4), writeable=True)
    with pytest.raises(ValueError, match="overlapping"):
        fastinit.normal(SHAPE, seed=0, out=overlapping)
    assert untouched(base)
    # rows that overlap without a zero stride (threads would race on shared elements)
    base = sentinel((40,))
    rows = np.lib.stride_tricks.as_strided(base, shape=SHAPE, strides=(8, 4), writeable=True)
    with pytest.raises(ValueError, match="overlapping"):
        fastinit.uniform(SHAPE, seed=0, out=rows)
    assert untouched(base)
    # interleaved but distinct elements are accepted and filled exactly
    base = sentinel((40,))
    woven = np.lib.stride_tricks.as_strided(base, shape=(3, 2), strides=(8, 12), writeable=True)
    fastinit.uniform((3, 2), seed=0, out=woven)
    np.testing.assert_array_equal(woven, fastinit.uniform((3, 2), seed=0))


def test_keyword_only_arguments():
    with pytest.raises(TypeError):
        fastinit.normal(SHAPE, 0.0, 1.0, 5)  # a positional seed is a mistake
    with pytest.raises(TypeError):
        fastinit.normal(SHAPE)  # seed is required
    with pytest.raises(TypeError, match="seed is required"):
        fastinit.uniform(SHAPE, seed=None)


def test_random_raw_errors():
    with pytest.raises(ValueError, match="n must be >= 0"):
        fastinit.random_raw(-1, seed=0)
    with pytest.raises(TypeError, match="n must be an integer"):
        fastinit.random_raw(2.0, seed=0)
    with pytest.raises(ValueError, match="start must be >= 0"):
        fastinit.random_raw(2, seed=0, start=-1)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        fastinit.random_raw(3, seed=0, start=U64 - 2)
    with pytest.raises(ValueError, match="seed must be <"):
        fastinit.random_raw(3, seed=U64)
    with pytest.raises(ValueError, match="stream must be >= 0"):
        fastinit.random_raw(3, seed=0, stream=-5)
    with pytest.raises(MemoryError, match="address space"):
        fastinit.random_raw(U64, seed=0)
    with pytest.raises(MemoryError, match="address space"):
        fastinit.random_raw(1 << 61, seed=0)
    with pytest.raises(MemoryError):
        fastinit.random_raw(1 << 45, seed=0)
    with pytest.raises(ValueError, match="start must be <"):
        fastinit.random_raw(0, seed=0, start=U64)
    assert fastinit.random_raw(0, seed=0, start=U64 - 1).shape == (0,)
    assert fastinit.random_raw(1, seed=0, start=U64 - 1).shape == (1,)


# --------------------------------------------------------------- zero sizes ----
@pytest.mark.parametrize("shape, region", [((0,), None), ((3, 0), None), ((0, 7, 2), None),
                                           ((5, 6), np.s_[2:2, :]), ((5, 6), np.s_[:, 6:6])])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_zero_element_shapes(shape, region, dtype):
    fills = [lambda **k: fastinit.uniform(shape, seed=0, **k), lambda **k: fastinit.normal(shape, seed=0, **k),
             lambda **k: fastinit.trunc_normal(shape, seed=0, **k), lambda **k: fastinit.zeros(shape, **k)]
    want = shape if region is None else np.empty(shape)[region].shape
    for f in fills:
        x = f(dtype=dtype, region=region)
        assert x.shape == want and x.size == 0 and x.dtype.name == dtype
        out = np.empty(want, x.dtype)
        assert f(out=out, region=region) is out
    # argument errors are still errors when there is nothing to fill
    with pytest.raises(ValueError, match="std must be >= 0"):
        fastinit.normal(shape, 0.0, -1.0, seed=0, region=region)
    with pytest.raises(ValueError, match="seed must be"):
        fastinit.normal(shape, seed=-1, region=region)


def test_a_zero_length_region_of_a_huge_tensor():
    x = fastinit.normal((1 << 62,), seed=0, region=np.s_[5:5])
    assert x.shape == (0,)


# ------------------------------------------------------------ impossible sizes ----
@pytest.mark.parametrize("call, exc", [
    (lambda: fastinit.uniform(1 << 45, seed=0), MemoryError),               # 128 TiB
    (lambda: fastinit.normal((1 << 20, 1 << 25), seed=0), MemoryError),
    (lambda: fastinit.zeros(1 << 45, dtype="float64"), MemoryError),
    (lambda: fastinit.random_raw(1 << 45, seed=0), MemoryError),
    (lambda: fastinit.uniform(1 << 62, seed=0), MemoryError),               # bytes overflow int64
    (lambda: fastinit.normal((1 << 40, 1 << 22), seed=0, dtype="float16"), MemoryError),
    (lambda: fastinit.uniform((1 << 40, 1 << 30), seed=0), ValueError),     # 2**70 elements
    (lambda: fastinit.uniform((1 << 63,), seed=0, region=np.s_[0:1]), ValueError),
    (lambda: fastinit.uniform((2,) * 65, seed=0), ValueError),              # too many dimensions
])
def test_impossible_sizes(call, exc):
    with pytest.raises(exc):
        call()


def test_impossible_size_message():
    with pytest.raises(ValueError, match="fewer than 2\\*\\*63"):
        fastinit.uniform((1 << 40, 1 << 30), seed=0)
    with pytest.raises(MemoryError, match="pass region="):
        fastinit.uniform((1 << 62,), seed=0)


def test_valid_edge_values_are_accepted():
    """The ends of every range are valid."""
    assert fastinit.uniform(3, seed=U64 - 1, stream=U64 - 1).shape == (3,)
    assert fastinit.uniform(3, seed=np.uint64(U64 - 1), stream=np.int8(3)).shape == (3,)
    assert fastinit.normal(3, np.float32(1.5), np.float16(0.0), seed=0).tolist() == [1.5] * 3
    assert fastinit.trunc_normal(3, 0.0, 1.0, -INF, INF, seed=0).shape == (3,)
    assert fastinit.trunc_normal(3, 0.0, 1.0, 36.0, INF, seed=0).min() >= 36.0
    assert fastinit.trunc_normal(3, 0.0, 1.0, -INF, -36.0, seed=0).max() <= -36.0
    assert fastinit.uniform(3, 2.5, 2.5, seed=0).tolist() == [2.5] * 3
    for dtype in ("float32", "float64", "float16", "bfloat16"):  # std = 0: the mean, rounded
        t = fastinit.trunc_normal(5, 0.1, 0.0, -2.0, 2.0, seed=0, dtype=dtype)
        assert (t == np.asarray(np.float32(0.1) if dtype != "float64" else 0.1).astype(t.dtype)).all()
    assert fastinit.normal(3, seed=0, threads=4096).shape == (3,)
    assert fastinit.normal([2, np.int64(3)], seed=0).shape == (2, 3)
    assert fastinit.normal(np.int64(4), seed=0).shape == (4,)
    x = fastinit.normal((4, 10), seed=0, region=[slice(np.int32(1), None), slice(None, 3)])
    assert x.shape == (3, 3)
