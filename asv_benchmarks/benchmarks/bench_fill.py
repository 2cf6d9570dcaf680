"""Fill speed, peak memory and speed ratios against NumPy (PyTorch: bench_torch.py).

Every suite runs over distribution x dtype x size x threads.  Outputs are
allocated and touched in ``setup`` so that page faults are not timed; timing is
wall clock (``time.perf_counter``) because the fills are multi-threaded.
A combination whose peer is missing, or has no equivalent, raises
NotImplementedError in ``setup``, which asv reports as skipped.
"""
import time

import numpy as np

import fastinit

DISTRIBUTIONS = ["uniform", "normal", "trunc_normal"]
DTYPES = ["float32", "float64", "float16", "bfloat16"]
SIZES = [2**16, 2**22]
THREADS = [1, 2]
PARAMS = (DISTRIBUTIONS, DTYPES, SIZES, THREADS)
PARAM_NAMES = ["distribution", "dtype", "size", "threads"]


def touched(size, dtype):
    """A preallocated output whose pages are already faulted in."""
    out = np.empty(size, fastinit.resolve_dtype(dtype))
    out.view(np.uint8).fill(1)
    return out


def best_seconds(fn, repeat=3):
    """Best wall-clock seconds of `repeat` calls (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def require_threads(threads):
    """Skip a multi-threaded case that would silently run on one thread: fastinit
    never enters OpenMP in a forked child (run asv with --launch-method spawn)."""
    if fastinit._validate.check_threads(threads) != threads:
        raise NotImplementedError(f"{threads} threads unavailable here (forked child or no OpenMP)")


def fastinit_fill(distribution, out, threads):
    fill = getattr(fastinit, distribution)
    shape = out.shape
    return lambda: fill(shape, seed=0, out=out, threads=threads)


class Fill:
    """fastinit fills into a preallocated output (``out=``)."""
    params = PARAMS
    param_names = PARAM_NAMES
    timer = time.perf_counter

    def setup(self, distribution, dtype, size, threads):
        require_threads(threads)
        self.out = touched(size, dtype)
        self.fill = fastinit_fill(distribution, self.out, threads)
        self.fill()  # warm up: thread pool, plan

    def time_fill_out(self, distribution, dtype, size, threads):
        self.fill()


class PeakMemory:
    """Peak RSS of a fill that allocates its output: the output plus small constants."""
    params = PARAMS
    param_names = PARAM_NAMES

    def setup(self, distribution, dtype, size, threads):
        require_threads(threads)
        self.fill = getattr(fastinit, distribution)

    def peakmem_fill_alloc(self, distribution, dtype, size, threads):
        self.fill((size,), seed=0, dtype=dtype, threads=threads)


class RawWords:
    """Raw Philox4x32-10 words (random_raw allocates its output)."""
    params = [SIZES]
    param_names = ["size"]
    timer = time.perf_counter

    def time_random_raw(self, size):
        fastinit.random_raw(size, seed=0)


class Roofline:
    """The memory-write roofline: ndarray.fill on an output of the same size (1 thread)."""
    params = [DTYPES, SIZES]
    param_names = ["dtype", "size"]
    timer = time.perf_counter

    def setup(self, dtype, size):
        out = touched(size, dtype)
        self.words = out.view(f"u{out.dtype.itemsize}")  # no dtype scalar cast in the loop

    def time_ndarray_fill(self, dtype, size):
        self.words.fill(0x3C00)


class SmallCall:
    """Latency of a 1000-element normal float32 call against NumPy's."""
    timer = time.perf_counter

    def setup(self):
        self.out = np.empty(1000, np.float32)
        self.peer_out = np.empty(1000, np.float32)
        self.rng = np.random.Generator(np.random.PCG64(0))

    def time_fastinit_normal_1000(self):
        fastinit.normal((1000,), seed=0, out=self.out, threads=1)

    def time_numpy_standard_normal_1000(self):
        self.rng.standard_normal(out=self.peer_out, dtype=np.float32)

    def track_ratio_vs_numpy_1000(self):
        fi = best_seconds(lambda: fastinit.normal((1000,), seed=0, out=self.out, threads=1), 200)
        peer = best_seconds(lambda: self.rng.standard_normal(out=self.peer_out, dtype=np.float32), 200)
        return peer / fi

    track_ratio_vs_numpy_1000.unit = "ratio"


class RatioVsNumPy:
    """fastinit speed / NumPy Generator(PCG64) speed on the same output (higher is better).

    NumPy fills float32 and float64 in place (random, standard_normal with out=); it
    has no truncated normal and no float16/bfloat16 output, and it is single-threaded.
    """
    params = PARAMS
    param_names = PARAM_NAMES

    def setup(self, distribution, dtype, size, threads):
        if dtype not in ("float32", "float64"):
            raise NotImplementedError(f"NumPy has no in-place {dtype} {distribution}")
        if distribution == "trunc_normal":
            raise NotImplementedError("NumPy has no truncated normal")
        require_threads(threads)
        self.out = touched(size, dtype)
        self.peer_out = touched(size, dtype)
        self.fill = fastinit_fill(distribution, self.out, threads)
        rng = np.random.Generator(np.random.PCG64(0))
        method = rng.random if distribution == "uniform" else rng.standard_normal
        peer_out, np_dtype = self.peer_out, self.peer_out.dtype
        self.peer = lambda: method(out=peer_out, dtype=np_dtype)

    def track_ratio(self, distribution, dtype, size, threads):
        return best_seconds(self.peer) / best_seconds(self.fill)

    track_ratio.unit = "ratio"
