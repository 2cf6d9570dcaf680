"""to_zarr: write a logical tensor to a zarr v3 array chunk by chunk.
"""
from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any, Optional, Sequence, Union

import numpy as np

from .. import _validate
from .._validate import DTypeLike, ShapeLike, StreamLike
from ..initializers.registry import Filler, expected_moments
from . import _atomic
from ._common import (
    DEFAULT_ZARR_CHUNK_BYTES,
    InitLike,
    PathLike,
    WriteResult,
    _blocks,
    _check_overwrite,
    _check_path,
    _progress_bar,
    _region_shape,
    _SampleStats,
    whole_or_checked,
)


# --------------------------------------------------------------------- zarr ----
def _zarr_chunks(shape, itemsize, chunks):
    """The chunk shape, each entry clipped to its dimension (a chunk larger than the
    array would only cost buffer memory)."""
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        first = next(iter(_blocks(shape, itemsize, DEFAULT_ZARR_CHUNK_BYTES)), None)
        if first is None:
            return tuple(max(1, d) for d in shape)
        return tuple(max(1, n) for n in _region_shape(first))
    if isinstance(chunks, (int, np.integer)) and not isinstance(chunks, bool):
        chunks = (chunks,) * len(shape)
    if not isinstance(chunks, (tuple, list)):
        raise TypeError("chunks must be 'auto', an int or a tuple of ints (one per dimension)")
    if len(chunks) != len(shape):
        raise ValueError(f"chunks has {len(chunks)} entries but shape has {len(shape)} dimensions")
    out = []
    for i, (c, d) in enumerate(zip(chunks, shape)):
        c = d if c in (None, -1) else _validate.as_int(f"chunks[{i}]", c, 1)
        out.append(max(1, c if d == 0 else min(c, d)))  # an empty dimension has no chunks
    return tuple(out)


def _json_safe(v):
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, (tuple, list)):
        return [_json_safe(x) for x in v]
    return repr(v)


def to_zarr(path: PathLike, shape: ShapeLike, init: InitLike, *,
            chunks: Union[str, int, Sequence[Optional[int]]] = "auto", seed: Optional[int] = None,
            stream: StreamLike = 0, dtype: DTypeLike = None, threads: Optional[int] = None,
            progress: bool = True, compressors: Any = None, overwrite: bool = False,
            **params: Any) -> WriteResult:
    """Write the tensor `init(shape, **params, seed=, stream=, dtype=)` to a zarr v3 array,
    each chunk filled from its global position, several chunks in parallel.

    Parameters
    ----------
    path : str or os.PathLike
        Destination directory; the array is built in a uniquely named directory beside
        it (``.NAME.PID.TOKEN.fastinit-partial``), every chunk file is fsynced, and it is
        renamed to `path` only when complete (docs/io.md).
    chunks : "auto", int or tuple of ints
        Chunk shape (``-1``/``None`` in a dimension: the whole dimension; larger than a
        dimension: clipped to it).  "auto": row blocks of about 32 MB.
    threads : int, optional
        Chunks filled and written at once (each fill single-threaded); default: the
        OpenMP thread count.
    compressors
        Passed to ``zarr.create_array``; None (default) stores raw little-endian bytes.
    overwrite : bool
        False (default): an existing `path` raises FileExistsError.  True: an existing
        zarr *array* is replaced; a zarr group, a directory that is not a zarr store or a
        file is never replaced (FileExistsError).
    shape, init, seed, stream, dtype, progress, **params
        As in `to_npy`.

    Returns
    -------
    WriteResult

    Raises
    ------
    FileExistsError, WriteConflict
        As in `to_npy`.
    ImportError
        zarr is not installed (``pip install 'fastinit[io]'``).

    Notes
    -----
    zarr has no bfloat16 data type yet: a bfloat16 tensor is stored as ``uint16``
    (its exact bits) and attribute ``fastinit.dtype == "bfloat16"``; read it with
    ``zarr.open_array(path)[...].view(ml_dtypes.bfloat16)``.  The attributes also
    record the initializer, its parameters, seed, stream and stream version.

    Examples
    --------
    >>> import os, tempfile, zarr, fastinit
    >>> p = os.path.join(tempfile.mkdtemp(), "w.zarr")
    >>> r = fastinit.to_zarr(p, (100, 10), "normal", chunks=(30, 10), seed=1, progress=False)
    >>> bool((zarr.open_array(p)[:] == fastinit.normal((100, 10), seed=1)).all())
    True
    """
    path = _check_path(path).rstrip("/\\") or path
    overwrite = _check_overwrite(overwrite)
    filler = Filler(shape, init, seed, stream, dtype, params)
    shape, dt = filler.shape, filler.dtype
    chunk_shape = _zarr_chunks(shape, dt.itemsize, chunks)
    nworkers = _validate.check_threads(threads)
    try:
        import zarr
    except ImportError as exc:
        raise ImportError(f"to_zarr needs zarr ({exc}): pip install 'fastinit[io]'") from exc
    _atomic.check_target(path, "zarr", overwrite)
    whole = whole_or_checked(filler, nworkers)

    from .. import STREAM_VERSION, __version__

    stored = np.dtype(np.uint16) if dt.name == "bfloat16" else dt
    attrs = {"fastinit": {
        "version": __version__, "stream_version": STREAM_VERSION, "init": filler.name,
        "params": {k: _json_safe(v) for k, v in params.items()},
        "seed": _json_safe(seed), "stream": _json_safe(stream),
        "stream_id": str(_validate.stream_id(stream)), "dtype": dt.name,
    }}
    t0 = time.perf_counter()
    nbytes = math.prod(shape) * dt.itemsize
    stats = _SampleStats()
    grid = [range(0, d, c) for d, c in zip(shape, chunk_shape)]
    local = threading.local()

    def write_chunk(arr, starts):
        region = tuple(slice(a, min(a + c, d)) for a, c, d in zip(starts, chunk_shape, shape))
        lens = _region_shape(region)
        if whole is not None:
            block = whole[region]
        else:
            buf = getattr(local, "buf", None)
            if buf is None:
                buf = local.buf = np.empty(math.prod(chunk_shape), dtype=dt)
            block = buf[:math.prod(lens)].reshape(lens)
            filler.fill(region=region, out=block, threads=1)
        stats.add_chunk(block)
        arr[region] = block.view(stored) if stored != dt else block
        if bar is not None:
            bar.update(block.nbytes)

    with _atomic.Lock(path) as lock:
        _atomic.check_target(path, "zarr", overwrite)  # again, now that no fastinit writer races
        tmp = _atomic.sibling_name(path, _atomic.PARTIAL_SUFFIX)
        bar = _progress_bar(nbytes, os.path.basename(path), progress)
        pool = ThreadPoolExecutor(max_workers=nworkers, thread_name_prefix="fastinit-zarr")
        try:
            os.mkdir(tmp)
            try:
                arr = zarr.create_array(store=tmp, shape=shape, chunks=chunk_shape, dtype=stored,
                                        compressors=compressors, fill_value=0, attributes=attrs,
                                        zarr_format=3,
                                        # Skip zarr's all-equal-to-fill-value scan of every
                                        # chunk: it costs ~20x the write, and a table is dense.
                                        config={"write_empty_chunks": True})
                if math.prod(shape):
                    # At most two chunks per worker in flight: memory stays a few chunks.
                    inflight = set()
                    for starts in (np.ndindex(*map(len, grid)) if shape else [()]):
                        if len(inflight) >= 2 * nworkers:
                            done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                            for fut in done:
                                fut.result()
                        inflight.add(pool.submit(write_chunk, arr,
                                                 tuple(g[i] for g, i in zip(grid, starts))))
                    for fut in inflight:
                        fut.result()
                _atomic.fsync_tree(tmp, pool)
                lock.check()
                _atomic.publish_dir(tmp, path, overwrite)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                _atomic.remove_created(tmp)
                raise
        finally:
            pool.shutdown(wait=True)
            if bar is not None:
                bar.close()
        _atomic.fsync_dir(os.path.dirname(os.path.abspath(path)))
    exp = expected_moments(init, shape, params)
    return WriteResult(path, shape, dt, nbytes, time.perf_counter() - t0, *stats.observed,
                       *(exp or (None, None)))
