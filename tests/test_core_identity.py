"""Bit identity: an element's value depends only on (seed, stream, flat index,
distribution, parameters, dtype) -- not on threads, split points, regions, the
output's memory layout, the SIMD path, or the logical shape around the index."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fastinit
import reference
from conftest import DTYPE_NAMES, SUPPORTED_ISAS, selected_isa
from fastinit import _core

DISTS = {
    "uniform": (-0.5, 2.0),
    "normal": (0.25, 3.0),
    "trunc_normal": (0.0, 1.0, -2.0, 2.0),
    "trunc_normal_tail": (0.0, 1.0, 25.0, 26.0),
}


def fill(dist, shape, **kw):
    name = "trunc_normal" if dist.startswith("trunc") else dist
    return getattr(fastinit, name)(shape, *DISTS[dist], **kw)


def bits(x):
    x = np.asarray(x)
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def assert_same_bits(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    same = bits(got) == bits(want)
    assert same.all(), f"{(~same).sum()} elements differ, first at {np.argwhere(~same)[0]}"


@functools.lru_cache(maxsize=None)
def whole(dist, dtype, shape, seed=123, stream="w"):
    """The whole logical tensor, serial, on the scalar path: the reference layout."""
    with selected_isa("scalar"):
        x = fill(dist, shape, seed=seed, stream=stream, dtype=dtype, threads=1)
    x.setflags(write=False)
    return x


N_THREADED = (1 << 20) + 12345  # > 16 * 65536: every thread count below really splits


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("dist", list(DISTS))
def test_threads(isa, dist, dtype):
    ref = whole(dist, dtype, (N_THREADED,))
    for threads in (1, 2, 3, 7, 16):
        assert_same_bits(fill(dist, (N_THREADED,), seed=123, stream="w", dtype=dtype, threads=threads), ref)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_threads_on_a_strided_2d_region(dtype):
    """Thread pieces that start mid-row of a region, written through strided output."""
    shape = (700, 3001)
    ref = whole("normal", dtype, shape)
    region = np.s_[3:691, 5:2999]
    for threads in (2, 3, 7, 16):
        buf = np.zeros((688, 2 * 2994), reference.DTYPES[dtype])
        out = buf[:, ::-2]
        fill("normal", shape, seed=123, stream="w", dtype=dtype, region=region, out=out, threads=threads)
        assert_same_bits(out, ref[region])
        assert not bits(buf[:, -2::-2]).any()  # the gaps stay untouched


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("dist", list(DISTS))
def test_arbitrary_split_points(isa, dist, dtype, rng):
    n = 50_000
    ref = whole(dist, dtype, (n,))
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, n), size=int(rng.integers(1, 12)), replace=False))
        pieces = [fill(dist, (n,), seed=123, stream="w", dtype=dtype, region=np.s_[a:b])
                  for a, b in zip(np.r_[0, cuts], np.r_[cuts, n])]
        assert_same_bits(np.concatenate(pieces), ref)
    # every start and length around a Philox block / normal pair / tile boundary
    for a in range(0, 9):
        for length in (1, 2, 3, 5, 1023, 1024, 1025, 2049):
            got = fill(dist, (n,), seed=123, stream="w", dtype=dtype, region=np.s_[a + 1020:a + 1020 + length])
            assert_same_bits(got, ref[a + 1020:a + 1020 + length])


def _random_shape_and_region(rng, ndim):
    shape = tuple(int(s) for s in rng.integers(1, {1: 3000, 2: 60, 3: 20, 4: 9}[ndim], size=ndim))
    region = []
    for s in shape:
        a = int(rng.integers(0, s))
        b = int(rng.integers(a + 1, s + 1))
        region.append(slice(a, b))
    return shape, tuple(region)


def _sentinel(shape, dt, order="C"):
    """An array of NaNs with all bits set: no fill ever writes that pattern."""
    a = np.empty(shape, dt, order=order)
    bits(a.reshape(-1, order="A") if a.size else a)[...] = ~np.zeros((), bits(a).dtype)
    return a


def _layouts(rng, lens, dtype):
    """Output arrays of shape `lens` in several memory layouts, each a view into a
    sentinel-filled buffer (returned too, to check nothing outside the view is written)."""
    dt = reference.DTYPES[dtype]
    ndim = len(lens)
    c = _sentinel(lens, dt)
    yield c, c
    f = _sentinel(lens, dt, order="F")
    yield f, f
    # every dimension reversed and spread out with a random step
    steps = [int(rng.integers(1, 3)) for _ in range(ndim)]
    big = _sentinel([n * s for n, s in zip(lens, steps)], dt)
    view = big[tuple(slice(None, None, -s) for s in steps)]
    yield view[tuple(slice(0, n) for n in lens)], big
    # a transposed buffer
    perm = rng.permutation(ndim)
    t = _sentinel([lens[p] for p in perm], dt).transpose(np.argsort(perm))
    yield t, t


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_random_regions_and_layouts(isa, ndim, rng):
    for _ in range(30):
        dist = list(DISTS)[int(rng.integers(len(DISTS)))]
        dtype = DTYPE_NAMES[int(rng.integers(len(DTYPE_NAMES)))]
        shape, region = _random_shape_and_region(rng, ndim)
        ref = whole(dist, dtype, shape)[region]
        assert_same_bits(fill(dist, shape, seed=123, stream="w", dtype=dtype, region=region), ref)
        for out, buf in _layouts(rng, ref.shape, dtype):
            res = fill(dist, shape, seed=123, stream="w", dtype=dtype, region=region, out=out)
            assert res is out
            assert_same_bits(np.ascontiguousarray(out), ref)
            # put the sentinel back into the view: then the whole buffer is sentinel
            # exactly when nothing outside the view was written
            bits(out)[...] = ~np.zeros((), bits(out).dtype)
            assert (bits(buf) == ~np.zeros((), bits(buf).dtype)).all()


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("dist", list(DISTS))
def test_isa_paths_agree(dist, dtype):
    n, start = 20_011, 13
    ref = whole(dist, dtype, (n,))
    for name in SUPPORTED_ISAS:
        with selected_isa(name):
            for threads in (1, 2):
                got = fill(dist, (n,), seed=123, stream="w", dtype=dtype, region=np.s_[start:], threads=threads)
                assert_same_bits(got, ref[start:])


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("dist", list(DISTS))
def test_value_depends_only_on_the_flat_index(dist, dtype):
    """The same flat indices inside differently shaped logical tensors."""
    a = fill(dist, (6 * 1000,), seed=9, dtype=dtype, region=np.s_[1500:4500])
    c = fill(dist, (2, 3, 1000), seed=9, dtype=dtype, region=np.s_[0:2, :, :]).ravel()[1500:4500]
    assert_same_bits(c, a)
    e = fill(dist, (2, 3, 1000), seed=9, dtype=dtype, region=np.s_[0:2, 1:3, 400:])
    assert_same_bits(e[0, 0, 100:], a[:500])  # flat 1500 is element (0, 1, 500)
    d = fill(dist, (6, 1000), seed=9, dtype=dtype, region=np.s_[1:5, :])
    assert_same_bits(d.ravel()[500:3500], a)


CROSS = [
    # (dtype, first flat index) around the first block index >= 2**32
    ("float32", (1 << 34) - 5), ("float16", (1 << 34) - 5), ("bfloat16", (1 << 34) - 6),
    ("float64", (1 << 33) - 5),
]


@pytest.mark.parametrize("dtype, first", CROSS)
def test_counter_carry_across_2_to_32_blocks(isa, dtype, first):
    """Region fills around block 2**32 of a huge logical tensor (nothing big allocated):
    uniform bit for bit against the reference, every distribution split-invariant."""
    shape, m = (1 << 35,), 55
    region = np.s_[first:first + m]
    w = reference.element_words("uniform", dtype, 5, 6, first, m)
    if dtype == "float64":
        # the words through random_raw, then the reference's u64 layout
        raw = fastinit.random_raw(2 * m, seed=5, stream=6, start=2 * first).astype(np.uint64)
        np.testing.assert_array_equal(raw[0::2] | (raw[1::2] << np.uint64(32)), w)
    else:
        np.testing.assert_array_equal(fastinit.random_raw(m, seed=5, stream=6, start=first), w)
    got = fastinit.uniform(shape, -1.0, 1.0, seed=5, stream=6, dtype=dtype, region=region)
    assert_same_bits(got, reference.uniform_values(w, -1.0, 1.0, dtype).astype(got.dtype))
    for dist in DISTS:
        whole_region = fill(dist, shape, seed=5, stream=6, dtype=dtype, region=region)
        one_by_one = np.concatenate([fill(dist, shape, seed=5, stream=6, dtype=dtype,
                                          region=np.s_[i:i + 1]) for i in range(first, first + m)])
        assert_same_bits(one_by_one, whole_region)


def test_normal_pairs_across_2_to_32_blocks():
    """Normal float32 near word 2**34 equals exact Box-Muller on random_raw's words."""
    first, m = (1 << 34) - 6, 60
    got = fastinit.normal((1 << 35,), seed=5, stream=6, region=np.s_[first:first + m]).astype(np.float64)
    w = fastinit.random_raw(m, seed=5, stream=6, start=first)
    z, r = reference.normal_z_32(w)
    assert np.all(np.abs(got - z) <= 2.0**-21 * np.maximum(1.0, r))


def test_near_the_end_of_the_index_space():
    """The last elements of a logical tensor of 2**63 - 1 elements."""
    n = (1 << 63) - 1
    tail = fastinit.uniform((n,), seed=1, region=np.s_[n - 9:n])
    w = fastinit.random_raw(9, seed=1, start=n - 9)
    assert_same_bits(tail, reference.uniform_values(w, 0.0, 1.0, "float32"))
    t64 = fastinit.normal((n,), seed=1, dtype="float64", region=np.s_[n - 3:n])
    pieces = np.concatenate([fastinit.normal((n,), seed=1, dtype="float64", region=np.s_[i:i + 1])
                             for i in range(n - 3, n)])
    assert_same_bits(pieces, t64)


def test_chunked_calls_are_seamless():
    """Fills longer than the extension's GIL-free chunk are cut into several C calls."""
    c = _core.chunk_elements(_core.DIST_CODES["uniform"], 2)
    n = c + 777
    x = fastinit.uniform(n, seed=3, threads=2)
    for a, b in [(0, 1000), (c - 500, c + 700), (n - 10, n)]:
        assert_same_bits(x[a:b], fastinit.uniform(n, seed=3, region=np.s_[a:b]))
    c = _core.chunk_elements(_core.DIST_CODES["normal"], 1)
    k = c + 555  # rows of a 2-D region: chunk boundaries fall mid-row
    y = fastinit.normal((3, k), seed=3, threads=1, dtype="bfloat16", region=np.s_[1:3, :])
    for a, b in [(c - 9, c + 9), (2 * c - 300, 2 * c + 5)]:
        flat = fastinit.normal((3 * k,), seed=3, dtype="bfloat16", region=np.s_[k + a:k + b])
        assert_same_bits(y.ravel()[a:b], flat)


def test_seed_and_stream_change_everything():
    a = fastinit.normal(1000, seed=1, stream=0)
    assert not np.array_equal(a, fastinit.normal(1000, seed=2, stream=0))
    assert not np.array_equal(a, fastinit.normal(1000, seed=1, stream=1))
    assert np.array_equal(a, fastinit.normal(1000, seed=1, stream=0))
    # seeds that agree in their low 32 bits are still different keys
    assert not np.array_equal(fastinit.uniform(64, seed=7), fastinit.uniform(64, seed=7 + (1 << 32)))
    assert not np.array_equal(fastinit.uniform(64, seed=7, stream=3),
                              fastinit.uniform(64, seed=7, stream=3 + (1 << 32)))


def test_zero_dimensional_and_one_element():
    x = fastinit.normal((), seed=4)
    assert x.shape == () and x.dtype == np.float32
    assert_same_bits(x.reshape(1), fastinit.normal((1,), seed=4))
    y = fastinit.uniform((1, 1, 1), seed=4, region=np.s_[0:1, 0:1, 0:1])
    assert_same_bits(y.ravel(), fastinit.uniform(1, seed=4))
