"""to_npy: write a logical tensor to a .npy file row block by row block.
"""
from __future__ import annotations

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import numpy as np

from .. import _validate
from .._validate import DTypeLike, ShapeLike, StreamLike
from ..initializers.registry import Filler, expected_moments
from . import _atomic
from ._common import (
    DEFAULT_CHUNK_BYTES,
    InitLike,
    PathLike,
    WriteResult,
    _blocks,
    _check_overwrite,
    _check_path,
    _pos_int,
    _progress_bar,
    _region_shape,
    _SampleStats,
    whole_or_checked,
)


# ---------------------------------------------------------------------- npy ----
def to_npy(path: PathLike, shape: ShapeLike, init: InitLike, *, seed: Optional[int] = None,
           stream: StreamLike = 0, dtype: DTypeLike = None, threads: Optional[int] = None,
           progress: bool = True, chunk_bytes: int = DEFAULT_CHUNK_BYTES, overwrite: bool = False,
           **params: Any) -> WriteResult:
    """Write the tensor `init(shape, **params, seed=, stream=, dtype=)` to a ``.npy`` file,
    row block by row block, never holding the whole table in memory.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file.  The data go to a uniquely named temporary beside it
        (``.NAME.PID.TOKEN.fastinit-partial``) and get the name `path` in one step
        only once complete and flushed to disk (docs/io.md).
    shape : int or tuple of ints
        The logical tensor's shape.
    init : str or callable
        An initializer name (``fastinit.io.available_initializers()``) or a fill
        function with fastinit's signature.
    seed, stream, dtype
        As for the in-memory fills; values are bit-identical to them.
    threads : int, optional
        OpenMP threads of each block fill (default: all).  One more thread writes the
        previous block to disk meanwhile.
    progress : bool
        Show a tqdm progress bar on stderr.
    chunk_bytes : int
        Size of a row block (two such buffers are in memory).
    overwrite : bool
        False (default): an existing `path` raises FileExistsError.  True: an existing
        regular file is replaced atomically (a directory never is).
    **params
        The initializer's parameters (``std=0.02``, ``low=-1, high=1``, ``mode="fan_in"``...).

    Returns
    -------
    WriteResult
        path, shape, dtype, bytes, seconds and the mean/std of a sample of every block.

    Raises
    ------
    FileExistsError
        `path` exists and overwrite is False; `WriteConflict` (a subclass) when another
        writer holds the path's lock or published first: this call then published nothing.

    Notes
    -----
    The file is what ``np.save`` writes for the same array.  bfloat16 has no NumPy
    type code, so, exactly like ``np.save``, its header says ``'<V2'``: read it with
    ``np.load(path).view(ml_dtypes.bfloat16)``.  Structured initializers (orthogonal,
    sparse, eye, dirac, ...) are computed once in memory, then written in blocks.

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastinit
    >>> p = os.path.join(tempfile.mkdtemp(), "emb.npy")
    >>> r = fastinit.to_npy(p, (300, 8), "uniform", low=-1, high=1, seed=3, progress=False)
    >>> np.load(p).shape, r.nbytes
    ((300, 8), 9600)
    """
    path = _check_path(path)
    overwrite = _check_overwrite(overwrite)
    filler = Filler(shape, init, seed, stream, dtype, params)
    chunk_bytes = _pos_int("chunk_bytes", chunk_bytes)
    nthreads = _validate.check_threads(threads)
    shape, dt = filler.shape, filler.dtype
    _atomic.check_target(path, "npy", overwrite)
    whole = whole_or_checked(filler, nthreads)
    nbytes = math.prod(shape) * dt.itemsize
    header = {"descr": np.lib.format.dtype_to_descr(dt), "fortran_order": False, "shape": shape}

    t0 = time.perf_counter()
    stats = _SampleStats()
    block_elems = max(1, min(math.prod(shape), chunk_bytes // dt.itemsize))
    with _atomic.Lock(path) as lock:
        _atomic.check_target(path, "npy", overwrite)  # again, now that no fastinit writer races
        tmp = _atomic.sibling_name(path, _atomic.PARTIAL_SUFFIX)
        bar = _progress_bar(nbytes, os.path.basename(path), progress)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            try:
                with os.fdopen(fd, "wb") as f:
                    np.lib.format.write_array_header_1_0(f, header)
                    _write_blocks(f, filler, whole, shape, dt, chunk_bytes, block_elems, nthreads,
                                  stats, bar)
                    f.flush()
                    os.fsync(f.fileno())
                lock.check()
                _atomic.publish_file(tmp, path, overwrite)
            except BaseException:
                _atomic.remove_created(tmp)
                raise
        finally:
            if bar is not None:
                bar.close()
        _atomic.fsync_dir(os.path.dirname(os.path.abspath(path)))
    exp = expected_moments(init, shape, params)
    return WriteResult(path, shape, dt, nbytes, time.perf_counter() - t0, *stats.observed,
                       *(exp or (None, None)))


def _write_blocks(f, filler, whole, shape, dt, chunk_bytes, block_elems, nthreads, stats, bar):
    """Fill row blocks into two alternating buffers: while the core fills one (GIL
    released), a writer thread writes the other (GIL released in write())."""
    buffers = [None, None]
    pending = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastinit-npy-writer") as writer:
        try:
            for i, region in enumerate(_blocks(shape, dt.itemsize, chunk_bytes)):
                slot = i % 2
                if len(pending) == 2:  # the buffer of this slot is free once its write is done
                    pending.pop(0).result()
                lens = _region_shape(region)
                if whole is not None:
                    block = whole[region]
                else:
                    if buffers[slot] is None:
                        buffers[slot] = np.empty(block_elems, dtype=dt)
                    block = buffers[slot][:math.prod(lens)].reshape(lens)
                    filler.fill(region=region, out=block, threads=nthreads)
                stats.add_chunk(block)
                pending.append(writer.submit(_write_block, f, block, bar))
            while pending:
                pending.pop(0).result()
        finally:
            # On an error or Ctrl-C: drop queued writes, let a running one finish
            # before the caller closes and removes the file.
            for fut in pending:
                fut.cancel()


def _write_block(f, block, bar):
    f.write(block.reshape(-1).view(np.uint8))
    if bar is not None:
        bar.update(block.nbytes)
