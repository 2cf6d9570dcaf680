"""Tables larger than RAM: write a logical tensor to ``.npy`` or zarr chunk by chunk.

Every chunk is filled from its place in the whole tensor (``region=``), so the file
holds exactly the values the in-memory call would return, bit for bit, while only a
couple of chunks live in memory at any time.  A write goes to ``path + ".partial"``
first and is renamed into place only when it is complete; an exception or Ctrl-C
removes the partial file, so nothing that looks finished is ever left behind.

>>> import os, tempfile, numpy as np, fastinit
>>> path = os.path.join(tempfile.mkdtemp(), "w.npy")
>>> res = fastinit.to_npy(path, (1000, 64), "normal", std=0.02, seed=0, progress=False)
>>> bool((np.load(path) == fastinit.normal((1000, 64), std=0.02, seed=0)).all())
True

This module also holds the initializer registry shared by `fastinit.dask` and the
``fastinit`` command: a name maps to a function ``f(shape, ..., *, seed, stream=0,
dtype=None, out=None, region=None, threads=None)``.  The core fills are always
there; the functions of `fastinit.initializers` join as soon as that module exists.

zarr and tqdm are imported only when a zarr write or a progress bar needs them.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import os
import shutil
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np

from . import _api

__all__ = ["to_npy", "to_zarr", "WriteResult", "available_initializers", "get_initializer",
           "supports_region", "init_parameters", "expected_moments"]

# Keyword arguments every fill function shares; everything else is a distribution parameter.
COMMON_KEYWORDS = ("seed", "stream", "dtype", "out", "region", "threads")

_CORE_NAMES = ("uniform", "normal", "trunc_normal", "full", "constant", "zeros", "ones")

# Initializers whose value at an index depends on the whole tensor (a QR, a column
# ranking, a diagonal pattern).  A region of them may need the whole tensor, so
# chunked writers compute them once in memory and Dask does not offer them.
STRUCTURED = frozenset({"orthogonal", "sparse", "eye", "dirac", "delta_orthogonal", "identity"})

DEFAULT_CHUNK_BYTES = 64 << 20      # npy row blocks: big enough for full speed, small in RAM
DEFAULT_ZARR_CHUNK_BYTES = 32 << 20  # zarr chunks: one file each, tens of MB is the sweet spot
_SAMPLE_PER_CHUNK = 1 << 16          # elements per chunk that feed the observed mean/std


# ----------------------------------------------------------------- registry ----
_registry_cache: dict | None = None


def _looks_like_fill(fn) -> bool:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return bool(params) and params[0] == "shape" and "out" in params and "dtype" in params


def available_initializers() -> dict:
    """Name -> fill function for every initializer fastinit knows (sorted by name).

    >>> import fastinit.io
    >>> "trunc_normal" in fastinit.io.available_initializers()
    True
    """
    global _registry_cache
    if _registry_cache is None:
        reg = {name: getattr(_api, name) for name in _CORE_NAMES}
        try:
            from . import initializers as _inits
        except ImportError:  # not written yet in this checkout: the core fills only
            _inits = None
        if _inits is not None:
            for name in getattr(_inits, "__all__", [n for n in dir(_inits) if not n.startswith("_")]):
                fn = getattr(_inits, name, None)
                if callable(fn) and not inspect.isclass(fn) and _looks_like_fill(fn):
                    reg.setdefault(name, fn)
        _registry_cache = dict(sorted(reg.items()))
    return dict(_registry_cache)


def get_initializer(init):
    """The fill function for `init`: a registered name, or a callable used as is.

    >>> import fastinit, fastinit.io
    >>> fastinit.io.get_initializer("normal") is fastinit.normal
    True
    """
    if callable(init):
        return init
    if not isinstance(init, str):
        raise TypeError(f"init must be an initializer name or a function, got {type(init).__name__}")
    reg = available_initializers()
    fn = reg.get(init.strip())
    if fn is None:
        raise ValueError(f"unknown initializer {init!r}: use one of {', '.join(reg)}")
    return fn


def _init_name(init) -> str:
    return init.strip() if isinstance(init, str) else getattr(init, "__name__", type(init).__name__)


def supports_region(init) -> bool:
    """True when a region fill of `init` computes only that region (elementwise and
    fan-based initializers), False for structured ones (orthogonal, sparse, eye, ...)."""
    fn = get_initializer(init)
    if _init_name(init) in STRUCTURED:
        return False
    try:
        return "region" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def init_parameters(init) -> dict:
    """Distribution parameters of `init` (name -> default, or inspect.Parameter.empty
    when required), and whether it takes a seed, as ``(params, takes_seed)``."""
    fn = get_initializer(init)
    sig = inspect.signature(fn)
    params = {}
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 or name in COMMON_KEYWORDS or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params[name] = p.default
    return params, "seed" in sig.parameters


def _accepts_var_keywords(fn) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(fn).parameters.values())


class _Filler:
    """One validated (init, parameters, seed, stream, dtype) ready to fill any region."""

    def __init__(self, shape, init, seed, stream, dtype, params):
        self.fn = get_initializer(init)
        self.name = _init_name(init)
        self.shape = _api._shape(shape)
        self.dtype = _api.resolve_dtype("float32" if dtype is None else dtype)
        known, takes_seed = init_parameters(self.fn)
        unknown = [k for k in params if k not in known]
        if unknown and not _accepts_var_keywords(self.fn):
            takes = ", ".join(known) if known else "no parameters"
            raise TypeError(f"{self.name} does not take {', '.join(map(repr, unknown))}; it takes {takes}")
        self.params = dict(params)
        self.kwargs = dict(params)
        if takes_seed:
            self.kwargs["seed"] = seed
            self.kwargs["stream"] = stream
        elif seed is not None:
            _api._seed(seed)  # still reject a malformed seed, though this init ignores it
        _api.stream_id(stream)
        self.elementwise = supports_region(init)

    def fill(self, region=None, out=None, threads=None):
        kw = dict(self.kwargs)
        if region is not None:
            kw["region"] = region
        if out is not None:
            kw["out"] = out
        return self.fn(self.shape, dtype=self.dtype, threads=threads, **kw)

    def dry_run(self):
        """Fill one element (or nothing, for an empty tensor) to surface parameter errors."""
        if self.elementwise:
            region = tuple(slice(0, min(1, d)) for d in self.shape)
            self.fill(region=region, threads=1)


# ----------------------------------------------------------- expected moments ----
def _std_trunc(mean, std, a, b):
    """Mean and std of N(mean, std^2) truncated to [mean + a std, mean + b std]."""
    def pdf(x):
        return 0.0 if math.isinf(x) else math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)

    def cdf(x):
        return 0.5 * math.erfc(-x / math.sqrt(2))

    z = cdf(b) - cdf(a) if a < 0 else cdf(-a) - cdf(-b)  # complement side keeps tails exact
    if z <= 0:
        return None
    xa = 0.0 if math.isinf(a) else a * pdf(a)
    xb = 0.0 if math.isinf(b) else b * pdf(b)
    m = (pdf(a) - pdf(b)) / z
    var = 1 + (xa - xb) / z - m * m
    return mean + std * m, std * math.sqrt(max(var, 0.0))


def expected_moments(init, shape, params=None):
    """The (mean, std) that `init` with `params` should produce on `shape`, from its
    formula (REFERENCE.md), or None when fastinit has no closed form for it.

    >>> import fastinit.io
    >>> fastinit.io.expected_moments("uniform", (10,), {"low": 0, "high": 12})
    (6.0, 3.4641016151377544)
    """
    try:
        return _expected(init, shape, dict(params or {}))
    except Exception:  # a closed form is a nicety; never let it break a write
        return None


def _expected(init, shape, params):
    name = _init_name(init)
    fn = get_initializer(init)
    sig = inspect.signature(fn)
    bound = sig.bind_partial(tuple(shape), **params)
    bound.apply_defaults()
    a = bound.arguments
    if name == "uniform":
        return (a["low"] + a["high"]) / 2, (a["high"] - a["low"]) / math.sqrt(12)
    if name == "normal":
        return float(a["mean"]), float(a["std"])
    if name == "trunc_normal":
        return _std_trunc(a["mean"], a["std"], a["lower"], a["upper"])
    if name in ("full", "constant"):
        return float(a["value"]), 0.0
    if name == "zeros":
        return 0.0, 0.0
    if name == "ones":
        return 1.0, 0.0
    from . import initializers as inits

    if name in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
        fan_in, fan_out = inits.fans(tuple(shape), layout=a.get("layout", "torch"))
        if name.startswith("xavier"):
            return 0.0, a.get("gain", 1.0) * math.sqrt(2.0 / (fan_in + fan_out))
        gain = inits.calculate_gain(a.get("nonlinearity", "leaky_relu"), a.get("a", 0))
        fan = fan_in if a.get("mode", "fan_in") == "fan_in" else fan_out
        return 0.0, gain / math.sqrt(fan)
    family = {"glorot": (1.0, "fan_avg"), "he": (2.0, "fan_in"), "lecun": (1.0, "fan_in")}
    prefix = name.split("_")[0]
    if name == "variance_scaling" or (prefix in family and name.endswith(("_normal", "_uniform"))):
        scale, mode = (a.get("scale", 1.0), a.get("mode", "fan_in")) if name == "variance_scaling" \
            else family[prefix]
        axes = {k: a[k] for k in ("in_axis", "out_axis", "batch_axis") if k in a}
        fan_in, fan_out = inits.fans(tuple(shape), layout="jax", **axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
             "fan_geo_avg": math.sqrt(fan_in * fan_out)}[mode]
        # truncated_normal carries the 0.8796 correction, so every distribution has this std
        return 0.0, math.sqrt(scale / max(1.0, n))
    return None


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
    return _api._as_int(name, v, 1)


def _remove(p):
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------- npy ----
def to_npy(path, shape, init, *, seed=None, stream=0, dtype=None, threads=None, progress=True,
           chunk_bytes=DEFAULT_CHUNK_BYTES, **params):
    """Write the tensor `init(shape, **params, seed=, stream=, dtype=)` to a ``.npy`` file,
    row block by row block, never holding the whole table in memory.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the data go to ``path + ".partial"`` and are renamed to `path`
        (replacing any old file) only once complete and flushed to disk.
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
    **params
        The initializer's parameters (``std=0.02``, ``low=-1, high=1``, ``mode="fan_in"``...).

    Returns
    -------
    WriteResult
        path, shape, dtype, bytes, seconds and the mean/std of a sample of every block.

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
    path = _check_path(path, ".npy")
    filler = _Filler(shape, init, seed, stream, dtype, params)
    chunk_bytes = _pos_int("chunk_bytes", chunk_bytes)
    nthreads = _api._threads(threads)
    shape, dt = filler.shape, filler.dtype
    whole = None
    if filler.elementwise:
        filler.dry_run()
    else:
        whole = np.ascontiguousarray(filler.fill(threads=nthreads))
    nbytes = math.prod(shape) * dt.itemsize
    header = {"descr": np.lib.format.dtype_to_descr(dt), "fortran_order": False, "shape": shape}

    t0 = time.perf_counter()
    stats = _SampleStats()
    partial = path + ".partial"
    bar = _progress_bar(nbytes, os.path.basename(path), progress)
    block_elems = max(1, min(math.prod(shape), chunk_bytes // dt.itemsize))
    try:
        with open(partial, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            _write_blocks(f, filler, whole, shape, dt, chunk_bytes, block_elems, nthreads, stats, bar)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        _remove(partial)
        raise
    finally:
        if bar is not None:
            bar.close()
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
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


def _fsync_dir(d):
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------- zarr ----
def _zarr_chunks(shape, itemsize, chunks):
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
        c = d if c in (None, -1) else _api._as_int(f"chunks[{i}]", c, 1)
        out.append(max(1, c))
    return tuple(out)


def _json_safe(v):
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    if isinstance(v, (tuple, list)):
        return [_json_safe(x) for x in v]
    return repr(v)


def to_zarr(path, shape, init, *, chunks="auto", seed=None, stream=0, dtype=None, threads=None,
            progress=True, compressors=None, **params):
    """Write the tensor `init(shape, **params, seed=, stream=, dtype=)` to a zarr v3 array,
    each chunk filled from its global position, several chunks in parallel.

    Parameters
    ----------
    path : str or os.PathLike
        Destination directory; the array is built in ``path + ".partial"`` and renamed
        into place only when every chunk is written.
    chunks : "auto", int or tuple of ints
        Chunk shape (``-1``/``None`` in a dimension: the whole dimension).  "auto":
        row blocks of about 32 MB.
    threads : int, optional
        Chunks filled and written at once (each fill single-threaded); default: the
        OpenMP thread count.
    compressors
        Passed to ``zarr.create_array``; None (default) stores raw little-endian bytes.
    shape, init, seed, stream, dtype, progress, **params
        As in `to_npy`.

    Returns
    -------
    WriteResult

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
    path = _check_path(path, ".zarr")
    filler = _Filler(shape, init, seed, stream, dtype, params)
    shape, dt = filler.shape, filler.dtype
    chunk_shape = _zarr_chunks(shape, dt.itemsize, chunks)
    nworkers = _api._threads(threads)
    whole = None
    if filler.elementwise:
        filler.dry_run()
    else:
        whole = np.ascontiguousarray(filler.fill(threads=nworkers))

    import zarr

    from ._version import STREAM_VERSION, __version__

    stored = np.dtype(np.uint16) if dt.name == "bfloat16" else dt
    attrs = {"fastinit": {
        "version": __version__, "stream_version": STREAM_VERSION, "init": filler.name,
        "params": {k: _json_safe(v) for k, v in params.items()},
        "seed": _json_safe(seed), "stream": _json_safe(stream),
        "stream_id": str(_api.stream_id(stream)), "dtype": dt.name,
    }}
    t0 = time.perf_counter()
    nbytes = math.prod(shape) * dt.itemsize
    partial = path + ".partial"
    _remove(partial)  # a stale partial from a killed run
    stats = _SampleStats()
    bar = _progress_bar(nbytes, os.path.basename(path.rstrip(os.sep)), progress)
    grid = [range(0, d, c) for d, c in zip(shape, chunk_shape)]
    local = threading.local()

    def write_chunk(starts):
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

    pool = ThreadPoolExecutor(max_workers=nworkers, thread_name_prefix="fastinit-zarr")
    try:
        arr = zarr.create_array(store=partial, shape=shape, chunks=chunk_shape, dtype=stored,
                                compressors=compressors, fill_value=0, attributes=attrs,
                                zarr_format=3,
                                # Skip zarr's all-equal-to-fill-value scan of every chunk:
                                # it costs ~20x the write itself, and a table is dense.
                                config={"write_empty_chunks": True})
        if math.prod(shape):
            # At most two chunks per worker in flight: memory stays a few chunks.
            inflight = set()
            for starts in (np.ndindex(*map(len, grid)) if shape else [()]):
                if len(inflight) >= 2 * nworkers:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in done:
                        fut.result()
                inflight.add(pool.submit(write_chunk, tuple(g[i] for g, i in zip(grid, starts))))
            for fut in inflight:
                fut.result()
        _replace_dir(partial, path)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        _remove(partial)
        raise
    finally:
        pool.shutdown(wait=True)
        if bar is not None:
            bar.close()
    exp = expected_moments(init, shape, params)
    return WriteResult(path, shape, dt, nbytes, time.perf_counter() - t0, *stats.observed,
                       *(exp or (None, None)))


def _replace_dir(src, dst):
    """Move the finished `src` to `dst`; an old `dst` is moved aside first and removed
    after, so `dst` is at every moment either the old complete array or the new one."""
    if not os.path.lexists(dst):
        os.rename(src, dst)
        return
    aside = f"{dst}.old-{os.getpid()}"
    _remove(aside)
    os.rename(dst, aside)
    os.rename(src, dst)
    _remove(aside)
