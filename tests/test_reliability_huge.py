"""Huge sizes: 64-bit indexing everywhere, a fill of more than 2**32 elements equal to
its pieces, logical shapes near 2**63 elements through regions, impossible
allocations that raise MemoryError instead of crashing or wrapping around, and no
memory growth over many calls."""
from __future__ import annotations

import gc
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit
import reference

U64 = 1 << 64


def _mem_available():
    """Bytes the kernel says can be allocated without swapping (Linux), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


# ----------------------------------------------------- more than 2**32 elements ----
N_BIG = (1 << 32) + 1027  # float16: 8.6 GB


@pytest.mark.slow
def test_fill_beyond_2_to_32_elements_equals_its_pieces():
    need = N_BIG * 2 + (2 << 30)  # the tensor plus 2 GiB of headroom
    avail = _mem_available()
    if avail is not None and avail < need:
        pytest.skip(f"needs {need / 2**30:.1f} GiB of free memory, {avail / 2**30:.1f} GiB available")
    big = fastinit.normal(N_BIG, 0.0, 1.0, seed=2024, stream="huge", dtype="float16")
    try:
        assert big.shape == (N_BIG,)
        # windows around every 2**31 boundary (int32 / uint32 overflow points), the
        # Philox block counter's 2**32 wrap is at element 2**34 (see below), the ends,
        # and a few random places
        rng = np.random.default_rng(7)
        starts = [0, (1 << 31) - 5, (1 << 32) - 7, (1 << 32) - 1, N_BIG - 300]
        starts += [int(s) for s in rng.integers(0, N_BIG - 300, size=6)]
        for s in starts:
            n = min(300, N_BIG - s)
            piece = fastinit.normal(N_BIG, 0.0, 1.0, seed=2024, stream="huge", dtype="float16",
                                    region=(slice(s, s + n),))
            assert np.array_equal(bits(big[s:s + n]), bits(piece)), f"window at {s}"
            # float16 is the float32 value rounded to nearest even, also past 2**32
            f32 = fastinit.normal(N_BIG, 0.0, 1.0, seed=2024, stream="huge", dtype="float32",
                                  region=(slice(s, s + n),))
            assert np.array_equal(bits(piece), bits(reference.round_to(f32, "float16")))
        # the top of the tensor is not the bottom again (no 32-bit wrap of the index)
        assert not np.array_equal(bits(big[1 << 32:(1 << 32) + 1027]), bits(big[:1027]))
        # a sane distribution everywhere, including above element 2**32
        tail = big[1 << 32:].astype(np.float32)
        assert abs(float(tail.mean())) < 0.15 and 0.9 < float(tail.std()) < 1.1
    finally:
        del big
        gc.collect()


def test_counter_carry_at_element_2_to_34():
    """Element 2**34 of a float32 tensor uses Philox block 2**32: the low counter word
    wraps and carries into the high word (a 32-bit block counter would repeat block 0)."""
    shape = (1 << 35,)
    s = (1 << 34) - 6
    got = fastinit.uniform(shape, seed=5, region=(slice(s, s + 12),))
    w = reference.words(5, 0, s, 12)
    assert np.array_equal(bits(got), bits(reference.uniform_values(w, 0.0, 1.0, "float32")))
    assert not np.array_equal(fastinit.uniform(shape, seed=5, region=(slice(1 << 34, (1 << 34) + 4),)),
                              fastinit.uniform(shape, seed=5, region=(slice(0, 4),)))


# ------------------------------------------------- logical shapes near 2**63 ----
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_last_elements_of_the_largest_tensor(dtype):
    n = (1 << 63) - 1
    got = fastinit.uniform((n,), -1.0, 1.0, seed=U64 - 1, stream=U64 - 1, dtype=dtype,
                           region=(slice(n - 1030, n),))
    w = reference.element_words("uniform", dtype, U64 - 1, U64 - 1, n - 1030, 1030)
    assert np.array_equal(bits(got), bits(reference.uniform_values(w, -1.0, 1.0, dtype)))


def test_square_tensor_of_almost_2_to_63_elements():
    side = math.isqrt((1 << 63) - 1)  # 3037000499
    shape = (side, side)
    corner = fastinit.normal(shape, seed=1, region=np.s_[side - 3:, side - 40:])
    for r in range(3):
        first = (side - 3 + r) * side + side - 40
        flat = fastinit.normal(((1 << 63) - 1,), seed=1, region=(slice(first, first + 40),))
        assert np.array_equal(bits(corner[r]), bits(flat))


# ------------------------------------------------------ impossible allocations ----
@pytest.mark.parametrize("make", [
    lambda: fastinit.uniform((1 << 45,), seed=0),
    lambda: fastinit.zeros((1 << 20, 1 << 26), dtype="float64"),
    lambda: fastinit.random_raw(1 << 45, seed=0),
], ids=["uniform 2**45", "zeros 2**46 float64", "random_raw 2**45"])
def test_impossible_allocation_is_memory_error(make):
    with pytest.raises(MemoryError):
        make()


@pytest.mark.parametrize("shape", [(1 << 62,), (1 << 40, 1 << 22)])
def test_shape_beyond_address_space_is_memory_error(shape):
    """More bytes than the address space: MemoryError saying what to do (this used to
    pass NumPy's ValueError('array is too big') through)."""
    with pytest.raises(MemoryError, match="region"):
        fastinit.uniform(shape, seed=0)


def test_region_of_an_impossible_tensor_is_cheap():
    """The same shape as above is fine through a small region: nothing is allocated but
    the region."""
    got = fastinit.uniform((1 << 62,), seed=0, region=(slice((1 << 62) - 8, 1 << 62),))
    assert got.shape == (8,) and got.nbytes == 32


# ------------------------------------------------------------------- leaks ----
def test_no_memory_growth_over_many_calls():
    """20,000 rounds of fills, region fills into out=, raw words and rejected calls keep
    the resident set flat (a leaked array or plan per call would show up as tens of MB)."""
    code = """
import gc, os
import numpy as np
import fastinit
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
out = np.empty((32, 32), np.float32)
def work():
    fastinit.normal((64, 64), seed=1)
    fastinit.trunc_normal((64, 64), seed=2, region=np.s_[0:32, 32:64], out=out, threads=2)
    fastinit.random_raw(1000, seed=3, start=2**64 - 1000)
    for bad in (dict(seed=-1), dict(seed=0, std=-1.0), dict(seed=0, dtype="int8"), dict(seed=0, out=out)):
        try:
            fastinit.normal((64, 64), **bad)
        except (TypeError, ValueError):
            pass
for _ in range(2000):
    work()
gc.collect()
before = rss()
for _ in range(20000):
    work()
gc.collect()
print("growth", (rss() - before) / 2**20)
"""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    growth = float(res.stdout.split()[-1])
    assert growth < 8.0, f"resident set grew by {growth:.1f} MiB over 20,000 rounds"
