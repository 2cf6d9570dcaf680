"""What the writers share: results, sample statistics, progress bars, block planning,
path checks.
"""
from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import threading

import numpy as np

from .. import _validate

DEFAULT_CHUNK_BYTES = 64 << 20      # npy row blocks: big enough for full speed, small in RAM


DEFAULT_ZARR_CHUNK_BYTES = 32 << 20  # zarr chunks: one file each, tens of MB is the sweet spot


_SAMPLE_PER_CHUNK = 1 << 16          # elements per chunk that feed the observed mean/std


# ------------------------------------------------------------------ results ----
@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What to_npy / to_zarr wrote: where, how much, how fast, and a sample's moments."""

    path: str
    shape: tuple
    dtype: np.dtype
    nbytes: int
    seconds: float
    sample_size: int
    sample_mean: float
    sample_std: float
    expected_mean: float | None = None
    expected_std: float | None = None

    @property
    def gb_per_s(self) -> float:
        return self.nbytes / 1e9 / self.seconds if self.seconds > 0 else float("inf")


class _SampleStats:
    """Running mean and variance of a strided sample of each chunk (Chan's merge),
    so the summary costs a few thousand elements per chunk, not a second pass."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self._lock = threading.Lock()

    def add_chunk(self, block):
        flat = block.reshape(-1)
        if flat.size == 0:
            return
        step = max(1, flat.size // _SAMPLE_PER_CHUNK)
        s = flat[::step].astype(np.float64)
        n, mean = s.size, float(s.mean())
        m2 = float(((s - mean) ** 2).sum())
        with self._lock:
            tot = self.n + n
            delta = mean - self.mean
            self.mean += delta * n / tot
            self.m2 += m2 + delta * delta * self.n * n / tot
            self.n = tot

    @property
    def observed(self):
        """(n, mean, std) of the sample; NaN moments for an empty tensor."""
        if not self.n:
            return 0, float("nan"), float("nan")
        return self.n, self.mean, math.sqrt(self.m2 / self.n)


def _progress_bar(total, desc, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is a nicety: write without it
        import warnings

        warnings.warn("tqdm is not installed: writing without a progress bar "
                      "(pip install tqdm, or pass progress=False)", stacklevel=3)
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, dynamic_ncols=True)


# ------------------------------------------------------------------ planning ----
def _blocks(shape, itemsize, chunk_bytes):
    """Regions that tile `shape` in C order, each contiguous and at most `chunk_bytes`
    (at least one element): row blocks, or pieces of a row when one row is too big."""
    nd = len(shape)
    if nd == 0:
        yield ()
        return
    if math.prod(shape) == 0:
        return
    k = 0
    while k < nd - 1 and math.prod(shape[k + 1:]) * itemsize > chunk_bytes:
        k += 1
    inner = math.prod(shape[k + 1:])
    step = max(1, chunk_bytes // (inner * itemsize))
    tail = tuple(slice(0, d) for d in shape[k + 1:])
    for lead in np.ndindex(*shape[:k]):
        head = tuple(slice(i, i + 1) for i in lead)
        for a in range(0, shape[k], step):
            yield head + (slice(a, min(shape[k], a + step)),) + tail


def _region_shape(region):
    return tuple(s.stop - s.start for s in region)


def _check_path(path, suffix_hint):
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"directory {parent!r} does not exist: create it first")
    if os.path.isdir(path) and suffix_hint == ".npy":
        raise IsADirectoryError(f"{path!r} is a directory: give a file name ending in .npy")
    return path


def _pos_int(name, v):
    return _validate.as_int(name, v, 1)


def _remove(p):
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    except FileNotFoundError:
        pass
