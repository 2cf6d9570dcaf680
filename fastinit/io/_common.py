"""What the writers share: results, sample statistics, progress bars, block planning,
path, overwrite and memory checks.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import threading
from typing import TYPE_CHECKING, Callable, Optional, Tuple, Union

import numpy as np

from .. import _validate

if TYPE_CHECKING:
    from ..initializers.factory import Initializer

# What the writers take as `init`: a registered name, a fill function, or a configured
# fastinit.Initializer.
InitLike = Union[str, Callable[..., np.ndarray], "Initializer"]
PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_CHUNK_BYTES = 64 << 20      # npy row blocks: big enough for full speed, small in RAM


DEFAULT_ZARR_CHUNK_BYTES = 32 << 20  # zarr chunks: one file each, tens of MB is the sweet spot


_SAMPLE_PER_CHUNK = 1 << 16          # elements per chunk that feed the observed mean/std


# ------------------------------------------------------------------ results ----
@dataclasses.dataclass(frozen=True)
class WriteResult:
    """What to_npy / to_zarr wrote: where, how much, how fast, and a sample's moments."""

    path: str
    shape: Tuple[int, ...]
    dtype: np.dtype
    nbytes: int
    seconds: float
    sample_size: int
    sample_mean: float
    sample_std: float
    expected_mean: Optional[float] = None
    expected_std: Optional[float] = None

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


class _QuietStream:
    """stderr for the progress bar: a broken or closed stderr (``2>&1 | head``) must
    not stop a write that is otherwise fine."""

    def __init__(self, stream):
        self._stream, self._dead = stream, False

    def write(self, text):
        if not self._dead:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self._dead = True
        return len(text)

    def flush(self):
        if not self._dead:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self._dead = True

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _progress_bar(total, desc, enabled):
    if not enabled or sys.stderr is None:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the bar is a nicety: write without it
        import warnings

        warnings.warn("tqdm is not installed: writing without a progress bar "
                      "(pip install tqdm, or pass progress=False)", stacklevel=3)
        return None
    # Decimal units (kB, MB, GB), as in the command's summary.
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1000,
                file=_QuietStream(sys.stderr), dynamic_ncols=True)


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


def _check_path(path):
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"directory {parent!r} does not exist: create it first")
    return path


def _check_overwrite(overwrite):
    if not isinstance(overwrite, (bool, np.bool_)):
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}")
    return bool(overwrite)


def _pos_int(name, v):
    return _validate.as_int(name, v, 1)


def human_bytes(n):
    """384.00 kB, 2.05 GB: decimal units, as the progress bar shows them."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.0f} B" if i == 0 else f"{n:.2f} {units[i]}"


# ------------------------------------------------------------------ memory ----
def structured_memory(filler):
    """Bytes a structured initializer needs to compute the whole tensor (the writers
    hold it in memory): the output, plus float64 Gaussian and QR work for orthogonal."""
    shape, n = filler.shape, math.prod(filler.shape)
    need = n * filler.dtype.itemsize
    if filler.name in ("orthogonal", "delta_orthogonal") and n:
        dims = shape[-2:] if filler.name == "delta_orthogonal" else shape
        axis = filler.params.get("column_axis", -1 if filler.name == "delta_orthogonal" else None)
        m = math.prod(dims)
        cols = dims[axis] if isinstance(axis, int) and -len(dims) <= axis < len(dims) else m // dims[0]
        k = min(cols, m // max(1, cols))
        need += 4 * m * 8 + k * k * 8  # G, LAPACK's copies and Q; R
    elif filler.name == "sparse":
        need += 2 * min(n, 1 << 21) * 8
    return need


def available_memory():
    """MemAvailable, capped by a cgroup v2 limit; None when unknown (no check)."""
    avail = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                avail.append(int(limit) - int(f.read()))
    except (OSError, ValueError):
        pass
    return min(avail) if avail else None


def check_memory(filler):
    """MemoryError, before anything is written, when a structured initializer cannot
    be computed in the memory available."""
    need, avail = structured_memory(filler), available_memory()
    if avail is not None and need > avail:
        raise MemoryError(f"{filler.name} of shape {filler.shape} is computed whole in memory and "
                          f"needs about {human_bytes(need)}, but only {human_bytes(avail)} are "
                          "available: use a smaller shape")


def whole_or_checked(filler, threads):
    """Before a chunked write: a region-fill initializer is dry-run (its errors surface
    before any file exists) and None returned; a structured one is computed whole, once,
    after checking it fits in memory, and returned C-contiguous."""
    if filler.entry.region_fill:
        filler.dry_run()
        return None
    check_memory(filler)
    return np.ascontiguousarray(filler.fill(threads=threads))
