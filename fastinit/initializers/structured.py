"""Structured initializers: orthogonal (QR with BLAS pinned to one thread), eye,
identity, dirac, delta_orthogonal and sparse.
"""
from __future__ import annotations

import contextlib
import math
import threading
import warnings

import numpy as np

from .. import _validate, fills
from .._validate import as_float, as_int, check_threads, resolve_target, stream_id
from .fans import _axes, _numel


# ----------------------------------------------------- structured helpers ----
def _round_to(values, dt):
    """float64 values rounded to `dt`; 16-bit types through float32, as the core does."""
    if dt.itemsize == 2:
        return np.asarray(values, dtype=np.float64).astype(np.float32).astype(dt)
    return np.asarray(values, dtype=np.float64).astype(dt)


def _zeros_target(lens, dt, out, threads):
    """`out` (or a new array) of shape `lens` set to zero by the threaded core."""
    if out is None:
        out = np.empty(lens, dtype=dt)
    if out.size == 0:
        return out  # NumPy gives empty arrays zero strides, which the core's out check refuses
    return fills.full(lens, 0.0, out=out, threads=threads)


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


@contextlib.contextmanager
def _one_blas_thread():
    global _blas_depth, _blas_restore
    with _blas_lock:
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


def _orthogonal_matrix(rows, cols, seed, stream, threads):
    """float64 (rows, cols) matrix with orthonormal rows or columns (Haar distributed)."""
    g = fills.normal((rows, cols), seed=seed, stream=stream, dtype="float64", threads=threads)
    if rows < cols:
        g = g.T
    with _one_blas_thread():
        q, r = np.linalg.qr(g)
    d = np.sign(np.diagonal(r))
    d[d == 0] = 1.0  # a zero pivot (probability 0) keeps its column rather than zeroing it
    q *= d
    return q.T if rows < cols else q


# ---------------------------------------------------------------- structured ----
def orthogonal(shape, gain=1.0, *, column_axis=None, seed, stream=0, dtype=None, out=None,
               region=None, threads=None):
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
    slicing it.

    >>> import fastinit, numpy as np
    >>> q = fastinit.orthogonal((3, 5), seed=0, dtype="float64")
    >>> bool(np.allclose(q @ q.T, np.eye(3)))
    True
    """
    gain = as_float("gain", gain)
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    seed = _validate.check_seed(seed)
    stream = stream_id(stream)
    nthreads = check_threads(threads)
    if len(dims) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if column_axis is not None:
        column_axis = _axes("column_axis", column_axis, len(dims))[0]
    if _numel(dims) == 0:
        return out if out is not None else np.empty(lens, dtype=dt)
    if column_axis is None:
        rows = dims[0]
        cols = _numel(dims) // rows
        full = _orthogonal_matrix(rows, cols, seed, stream, nthreads).reshape(dims)
    else:
        cols = dims[column_axis]
        rows = _numel(dims) // cols
        q = _orthogonal_matrix(rows, cols, seed, stream, nthreads)
        rest = dims[:column_axis] + dims[column_axis + 1:]
        full = np.moveaxis(q.reshape(rest + (cols,)), -1, column_axis)
    if gain != 1.0:
        full = full * gain
    sl = tuple(slice(s, s + n) for s, n in zip(starts, lens))
    values = _round_to(full[sl], dt)
    if out is None:
        return values
    out[...] = values
    return out


def eye(shape, *, dtype=None, out=None, region=None, threads=None):
    """The identity matrix of a 2-D `shape` (ones where row == column), as
    ``torch.nn.init.eye_`` / ``torch.eye(n, m)``.

    >>> import fastinit
    >>> fastinit.eye((2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    return _scaled_eye(shape, 1.0, dtype, out, region, threads,
                       "Only tensors with 2 dimensions are supported")


def identity(shape, gain=1.0, *, dtype=None, out=None, region=None, threads=None):
    """`gain` times the identity matrix of a 2-D `shape`, as Keras's Identity(gain).

    >>> import fastinit
    >>> fastinit.identity((2, 2), gain=0.5).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    gain = as_float("gain", gain)
    return _scaled_eye(shape, gain, dtype, out, region, threads, None)


def _scaled_eye(shape, value, dtype, out, region, threads, message):
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    nthreads = check_threads(threads)
    if len(dims) != 2:
        raise ValueError(message or ("Identity matrix initializer can only be used for 2D matrices. "
                                     f"Received: shape={dims} of rank {len(dims)}."))
    result = _zeros_target(lens, dt, out, nthreads)
    (r0, c0), (nr, nc) = starts, lens
    i = np.arange(max(r0, c0), min(r0 + nr, c0 + nc))
    if i.size:
        result[i - r0, i - c0] = _round_to(value, dt)
    return result


def dirac(shape, groups=1, *, dtype=None, out=None, region=None, threads=None):
    """The Dirac delta of a 3-, 4- or 5-D convolution weight ``(out, in, *kernel)``, as
    ``torch.nn.init.dirac_``: for each group g and d < min(out // groups, in), a one at
    ``[g * (out // groups) + d, d, k1 // 2, ...]``, zeros elsewhere.

    >>> import fastinit
    >>> w = fastinit.dirac((2, 2, 3))
    >>> w[:, :, 1].tolist(), float(w.sum())
    ([[1.0, 0.0], [0.0, 1.0]], 2.0)
    """
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    nthreads = check_threads(threads)
    groups = as_int("groups", groups, 1)
    if len(dims) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if dims[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    result = _zeros_target(lens, dt, out, nthreads)
    per_group = dims[0] // groups
    d = np.arange(min(per_group, dims[1]))
    g = np.arange(groups)
    out_ch = (g[:, None] * per_group + d[None, :]).ravel()
    in_ch = np.tile(d, groups)
    index = [out_ch, in_ch] + [np.full(out_ch.size, k // 2) for k in dims[2:]]
    inside = np.ones(out_ch.size, dtype=bool)
    for ax, idx in enumerate(index):
        inside &= (idx >= starts[ax]) & (idx < starts[ax] + lens[ax])
    if inside.any():
        result[tuple(idx[inside] - starts[ax] for ax, idx in enumerate(index))] = 1.0
    return result


def delta_orthogonal(shape, scale=1.0, column_axis=-1, *, seed, stream=0, dtype=None, out=None,
                     region=None, threads=None):
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
    scale = as_float("scale", scale)
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    seed = _validate.check_seed(seed)
    stream = stream_id(stream)
    nthreads = check_threads(threads)
    if len(dims) not in (3, 4, 5):
        raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
    if dims[-1] < dims[-2]:
        raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
    column_axis = _axes("column_axis", column_axis, 2)[0]
    result = _zeros_target(lens, dt, out, nthreads)
    if _numel(dims) == 0:
        return result
    centre = tuple((k - 1) // 2 for k in dims[:-2])
    if not all(s <= c < s + n for c, s, n in zip(centre, starts, lens)):
        return result  # the region misses the centre: all zeros, no QR needed
    matrix = orthogonal(dims[-2:], scale, column_axis=column_axis, seed=seed, stream=stream,
                        dtype=dt, threads=nthreads)
    sub = matrix[starts[-2]:starts[-2] + lens[-2], starts[-1]:starts[-1] + lens[-1]]
    result[tuple(c - s for c, s in zip(centre, starts))] = sub
    return result


def sparse(shape, sparsity, std=0.01, *, seed, stream=0, dtype=None, out=None, region=None,
           threads=None):
    """A sparse 2-D matrix, as ``torch.nn.init.sparse_`` (Martens 2010): N(0, std^2) values
    with ``ceil(sparsity * rows)`` zeros in every column.

    Values: ``fastinit.normal(shape, 0, std, seed=seed, stream=stream)``.  Zero positions,
    decided per element by the stream so they are reproducible and thread independent:
    with ``U = fastinit.uniform(shape, dtype="float64", seed=seed, stream=mask_stream)`` where
    ``mask_stream = stream_id("fastinit.sparse:%d" % stream_id(stream))``, element (r, c) is
    zero when r is among the ``ceil(sparsity * rows)`` smallest of column c ordered by
    (U[r, c], r).  ``region`` is supported: only the region's values and the ranks of its
    columns are computed.

    >>> import fastinit
    >>> w = fastinit.sparse((10, 4), 0.3, seed=0)
    >>> [int((w[:, c] == 0).sum()) for c in range(4)]
    [3, 3, 3, 3]
    """
    sparsity = as_float("sparsity", sparsity)
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be a fraction in [0, 1], got {sparsity}")
    std = as_float("std", std)
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    dims, starts, lens, dt = resolve_target(shape, dtype, out, region)
    seed = _validate.check_seed(seed)
    stream_v = stream_id(stream)
    nthreads = check_threads(threads)
    if len(dims) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if _numel(lens) == 0:
        return out if out is not None else np.empty(lens, dtype=dt)
    region_t = tuple(slice(s, s + n) for s, n in zip(starts, lens))
    result = fills.normal(dims, 0.0, std, seed=seed, stream=stream_v, out=out,
                         dtype=None if out is not None else dt, region=region_t, threads=nthreads)
    rows = dims[0]
    num_zeros = min(rows, math.ceil(sparsity * rows))  # PyTorch's count
    if result.size == 0 or num_zeros == 0:
        return result
    mask_stream = stream_id(f"fastinit.sparse:{stream_v}")
    (r0, c0), (nr, nc) = starts, lens
    block = max(1, (1 << 21) // rows)  # columns per block: bounded temporary memory
    for b0 in range(c0, c0 + nc, block):
        b1 = min(c0 + nc, b0 + block)
        # one row of `u_t` per column, so each column's ranking runs over contiguous memory
        u_t = np.empty((b1 - b0, rows), dtype=np.float64)
        fills.uniform(dims, seed=seed, stream=mask_stream, out=u_t.T,
                     region=(slice(None), slice(b0, b1)), threads=nthreads)
        zero_t = _smallest_per_row(u_t, num_zeros)
        result[:, b0 - c0:b1 - c0][zero_t.T[r0:r0 + nr]] = 0
    return result


def _smallest_per_row(u, k):
    """Boolean mask of the k smallest entries of each row of `u` in the order (value, index):
    the same set as a stable argsort's first k, found by a partition (linear time)."""
    kth = np.partition(u, k - 1, axis=1)[:, k - 1:k]
    below = u < kth
    at = u == kth
    need = k - below.sum(axis=1)
    mask = below | at
    ties = np.nonzero(at.sum(axis=1) > need)[0]  # rows where equal values straddle the cut
    for i in ties:
        keep = np.cumsum(at[i]) <= need[i]  # the first `need` equal ones by index
        mask[i] = below[i] | (at[i] & keep)
    return mask
