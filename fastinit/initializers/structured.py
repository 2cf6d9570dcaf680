"""Structured initializers: orthogonal (QR with BLAS pinned to one thread), eye,
identity, dirac, delta_orthogonal and sparse.

Each resolves its target once (fastinit._validate.target), computes everything that
allocates, checks the values' range, and only then writes to ``out``.
"""
from __future__ import annotations

import contextlib
import math
import threading
import warnings
from typing import Optional

import numpy as np

from .. import fills
from .._validate import (
    CONS_FINITE,
    DTypeLike,
    RegionLike,
    ShapeLike,
    StreamLike,
    Target,
    as_int,
    check_constraint,
    check_in_range,
    round_to,
    target,
)
from .fans import check_axes
from .registry import register


# ----------------------------------------------------- structured helpers ----
def _zeroed(t):
    """The target's array (`out`, or a new one) set to zero by the threaded core."""
    result = t.result()
    if result.size:
        fills.fill_target("constant", (0.0,), _with_out(t, result))
    return result


def _with_out(t, out):
    return Target(t.dims, t.starts, t.lens, t.dtype, out, t.seed, t.stream, t.threads)


# A reference-counted pin of the BLAS thread pool to one thread: LAPACK's blocked QR may
# sum in a different order with more threads, so one thread makes the bits independent of
# the machine and of the user's settings.  Concurrent callers share one pin; the user's
# limits come back when the last one leaves.
_blas_lock = threading.Lock()


_blas_depth = 0


_blas_restore = None


_blas_controller = None


_blas_warned = False


def _warn_unpinned(why):
    global _blas_warned
    if not _blas_warned:
        _blas_warned = True
        warnings.warn(f"{why}: fastinit.orthogonal runs its QR with the BLAS's own thread count, "
                      "so the last bits of its result may depend on it; install threadpoolctl "
                      "(pip install threadpoolctl) to make them independent", RuntimeWarning,
                      stacklevel=4)


def _blas_controller_or_none():
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()
        except Exception:  # threadpoolctl missing or unable to inspect this process
            _blas_controller = False
    return _blas_controller or None


# QR workers abandoned by Ctrl-C: each holds one level of the pin until it finishes
# (the BLAS's thread count is set from the calling thread, and must not change under a
# running call); finished ones are released at the next pin.
_orphans = []


def _release_finished_orphans():
    global _blas_depth
    for w in [w for w in _orphans if not w.is_alive()]:
        _orphans.remove(w)
        _blas_depth -= 1


@contextlib.contextmanager
def _one_blas_thread():
    global _blas_depth, _blas_restore
    with _blas_lock:
        _release_finished_orphans()
        if _blas_depth == 0:
            ctl = _blas_controller_or_none()
            _blas_restore = None
            if ctl is None:
                _warn_unpinned("threadpoolctl is not available")
            else:
                try:
                    _blas_restore = ctl.limit(limits=1, user_api="blas")
                except Exception:  # an unusual BLAS that refuses: run unpinned
                    _blas_restore = None
                    _warn_unpinned("the BLAS thread count could not be set")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0 and _blas_restore is not None:
                try:
                    _blas_restore.restore_original_limits()
                finally:
                    _blas_restore = None


# LAPACK's QR does not poll for signals: above this many elements it runs in a worker
# thread while the caller, holding the BLAS pin, waits in short interruptible steps.
QR_IN_THREAD = 1 << 18


def _qr_interruptible(g):
    global _blas_depth
    with _one_blas_thread():
        if g.size < QR_IN_THREAD:
            return np.linalg.qr(g)
        result = {}

        def work():
            try:
                result["qr"] = np.linalg.qr(g)
            except BaseException as exc:  # handed to the caller
                result["error"] = exc

        worker = threading.Thread(target=work, name="fastinit-qr", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.05)
        except KeyboardInterrupt:
            with _blas_lock:  # the abandoned worker keeps the pin until it finishes
                _blas_depth += 1
                _orphans.append(worker)
            raise
    if "error" in result:
        raise result["error"]
    return result["qr"]


def _orthogonal_matrix(rows, cols, t):
    """float64 (rows, cols) matrix with orthonormal rows or columns (Haar distributed)."""
    g = fills.fill_target("normal", (0.0, 1.0), t.whole((rows, cols), np.dtype(np.float64)))
    if rows < cols:
        g = g.T
    q, r = _qr_interruptible(g)
    d = np.sign(np.diagonal(r))
    d[d == 0] = 1.0  # a zero pivot (probability 0) keeps its column rather than zeroing it
    q *= d
    return q.T if rows < cols else q


def _orthogonal_region(t, gain, column_axis, name):
    """The region of gain * orthogonal(t.dims) rounded to t.dtype, refused (before
    anything is written) when a value overflows the dtype."""
    dims = t.dims
    if column_axis is None:
        rows = dims[0]
        cols = math.prod(dims) // rows
        full = _orthogonal_matrix(rows, cols, t).reshape(dims)
    else:
        cols = dims[column_axis]
        rows = math.prod(dims) // cols
        q = _orthogonal_matrix(rows, cols, t)
        rest = dims[:column_axis] + dims[column_axis + 1:]
        full = np.moveaxis(q.reshape(rest + (cols,)), -1, column_axis)
    part = full[t.region]
    if gain != 1.0:
        part = part * gain
    values = round_to(part, t.dtype)
    if values.size and not np.isfinite(values).all():
        largest = float(np.abs(full).max()) * abs(gain)  # of the whole tensor: one message for every region
        raise ValueError(f"{name}={gain!r} is too large for {t.dtype.name}: values reach {largest:.6g}, "
                         f"beyond its largest finite value; use a smaller {name} or a wider dtype")
    return values


def _orthogonal_moments(shape, p):
    if p["column_axis"] is None:
        rows, cols = shape[0], math.prod(shape[1:])
    else:
        cols = shape[p["column_axis"]]
        rows = math.prod(shape) // cols
    return 0.0, abs(p["gain"]) / math.sqrt(max(rows, cols))


def _diagonal_moments(count, size, value):
    mean = value * count / size
    return mean, math.sqrt(max(value * value * count / size - mean * mean, 0.0))


# ---------------------------------------------------------------- structured ----
@register("structured", layout="torch", moments=_orthogonal_moments)
def orthogonal(shape: ShapeLike, gain: float = 1.0, *, column_axis: Optional[int] = None,
               seed: int, stream: StreamLike = 0, dtype: DTypeLike = None,
               out: Optional[np.ndarray] = None, region: RegionLike = None,
               threads: Optional[int] = None) -> np.ndarray:
    """A (semi-)orthogonal matrix times `gain` (Saxe et al. 2013).

    column_axis=None (default, ``torch.nn.init.orthogonal_``): the tensor is viewed as a
    matrix of ``rows = shape[0]`` by ``cols = prod(shape[1:])``.  column_axis=k
    (``jax.nn.initializers.orthogonal``; Keras's Orthogonal is k = -1): ``cols = shape[k]``,
    ``rows`` = the product of the other axes, and the matrix is laid out with its column
    index on axis k.

    Method: G = fastinit.normal((rows, cols), dtype="float64", seed, stream) (a plain
    matrix, element (r, c) at index r * cols + c), transposed when rows < cols; Householder
    QR by NumPy (LAPACK) with the BLAS pinned to one thread (threadpoolctl, when it is
    installed); Q times sign(diag(R)); transposed back; times gain in float64; rounded to
    `dtype` (16-bit types through float32).  The result does not depend on `threads` or on
    the BLAS thread count.  ``region`` is supported by computing the whole matrix and
    slicing it.  A gain whose values overflow the dtype is refused.

    >>> import fastinit, numpy as np
    >>> q = fastinit.orthogonal((3, 5), seed=0, dtype="float64")
    >>> bool(np.allclose(q @ q.T, np.eye(3)))
    True
    """
    gain = check_constraint("gain", gain, CONS_FINITE)
    t = target(shape, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    dims = t.dims
    if len(dims) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if column_axis is not None:
        column_axis = check_axes("column_axis", column_axis, len(dims))[0]
    if math.prod(dims) == 0:
        return t.result()
    values = _orthogonal_region(t, gain, column_axis, "gain")
    if out is None:
        return np.ascontiguousarray(values)  # a column_axis other than the last is a moved axis
    out[...] = values
    return out


@register("structured", layout="torch",
          moments=lambda shape, p: _diagonal_moments(min(shape), math.prod(shape), 1.0))
def eye(shape: ShapeLike, *, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
        region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """The identity matrix of a 2-D `shape` (ones where row == column), as
    ``torch.nn.init.eye_`` / ``torch.eye(n, m)``.

    >>> import fastinit
    >>> fastinit.eye((2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    t = target(shape, dtype=dtype, out=out, region=region, threads=threads, random=False)
    if len(t.dims) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _scaled_eye(t, 1.0)


@register("structured", layout="jax",
          moments=lambda shape, p: _diagonal_moments(min(shape), math.prod(shape), p["gain"]))
def identity(shape: ShapeLike, gain: float = 1.0, *, dtype: DTypeLike = None,
             out: Optional[np.ndarray] = None, region: RegionLike = None,
             threads: Optional[int] = None) -> np.ndarray:
    """`gain` times the identity matrix of a 2-D `shape`, as Keras's Identity(gain).

    >>> import fastinit
    >>> fastinit.identity((2, 2), gain=0.5).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    gain = check_constraint("gain", gain, CONS_FINITE)
    t = target(shape, dtype=dtype, out=out, region=region, threads=threads, random=False)
    if len(t.dims) != 2:
        raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                         f"Received: shape={t.dims} of rank {len(t.dims)}.")
    check_in_range("gain", gain, t.dtype)
    return _scaled_eye(t, gain)


def _scaled_eye(t, value):
    result = _zeroed(t)
    (r0, c0), (nr, nc) = t.starts, t.lens
    i = np.arange(max(r0, c0), min(r0 + nr, c0 + nc))
    if i.size:
        result[i - r0, i - c0] = round_to(value, t.dtype)
    return result


def _dirac_moments(shape, p):
    count = p["groups"] * min(shape[0] // p["groups"], shape[1])
    return _diagonal_moments(count, math.prod(shape), 1.0)


@register("structured", layout="torch", moments=_dirac_moments)
def dirac(shape: ShapeLike, groups: int = 1, *, dtype: DTypeLike = None,
          out: Optional[np.ndarray] = None, region: RegionLike = None,
          threads: Optional[int] = None) -> np.ndarray:
    """The Dirac delta of a 3-, 4- or 5-D convolution weight ``(out, in, *kernel)``, as
    ``torch.nn.init.dirac_``: for each group g and d < min(out // groups, in), a one at
    ``[g * (out // groups) + d, d, k1 // 2, ...]``, zeros elsewhere.

    >>> import fastinit
    >>> w = fastinit.dirac((2, 2, 3))
    >>> w[:, :, 1].tolist(), float(w.sum())
    ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    t = target(shape, dtype=dtype, out=out, region=region, threads=threads, random=False)
    dims, starts, lens = t.dims, t.starts, t.lens
    groups = as_int("groups", groups, 1)
    if len(dims) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if dims[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = dims[0] // groups
    d = np.arange(min(per_group, dims[1]))
    g = np.arange(groups)
    out_ch = (g[:, None] * per_group + d[None, :]).ravel()
    in_ch = np.tile(d, groups)
    index = [out_ch, in_ch] + [np.full(out_ch.size, k // 2) for k in dims[2:]]
    inside = np.ones(out_ch.size, dtype=bool)
    for ax, idx in enumerate(index):
        inside &= (idx >= starts[ax]) & (idx < starts[ax] + lens[ax])
    result = _zeroed(t)
    if inside.any():
        result[tuple(idx[inside] - starts[ax] for ax, idx in enumerate(index))] = 1.0
    return result


def _delta_moments(shape, p):
    return 0.0, abs(p["scale"]) * math.sqrt(min(shape[-2:]) / math.prod(shape))


@register("structured", layout="jax", moments=_delta_moments)
def delta_orthogonal(shape: ShapeLike, scale: float = 1.0, column_axis: int = -1, *, seed: int,
                     stream: StreamLike = 0, dtype: DTypeLike = None,
                     out: Optional[np.ndarray] = None, region: RegionLike = None,
                     threads: Optional[int] = None) -> np.ndarray:
    """Delta-orthogonal kernel (Xiao et al. 2018), as ``jax.nn.initializers.delta_orthogonal``:
    a 3-, 4- or 5-D kernel in the JAX layout ``(*spatial, in, out)`` with in <= out, zero
    except at the spatial centre ``((k - 1) // 2, ...)``, which holds
    ``orthogonal(shape[-2:], scale, column_axis=column_axis)`` (same seed and stream).

    >>> import fastinit, numpy as np
    >>> w = fastinit.delta_orthogonal((3, 3, 4, 8), seed=0, dtype="float64")
    >>> m = w[1, 1]
    >>> bool(np.allclose(m @ m.T, np.eye(4))) and float(abs(w).sum() - abs(m).sum()) == 0.0
    True
    """
    scale = check_constraint("scale", scale, CONS_FINITE)
    t = target(shape, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    dims, starts, lens = t.dims, t.starts, t.lens
    if len(dims) not in (3, 4, 5):
        raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
    if dims[-1] < dims[-2]:
        raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
    column_axis = check_axes("column_axis", column_axis, 2)[0]
    if math.prod(dims) == 0:
        return t.result()
    centre = tuple((k - 1) // 2 for k in dims[:-2])
    if not all(s <= c < s + n for c, s, n in zip(centre, starts, lens)):
        return _zeroed(t)  # the region misses the centre: all zeros, no QR needed
    matrix_t = Target(dims[-2:], starts[-2:], lens[-2:], t.dtype, None, t.seed, t.stream, t.threads)
    sub = _orthogonal_region(matrix_t, scale, column_axis, "scale")  # before any write
    result = _zeroed(t)
    result[tuple(c - s for c, s in zip(centre, starts))] = sub
    return result
