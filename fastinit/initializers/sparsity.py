"""sparse: PyTorch's sparse_ (N(0, std) with a fixed count of zeros per column), the
zero positions ranked from the stream so that any region is reproducible on its own.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .. import _core, fills
from .._validate import (
    CONS_NON_NEGATIVE,
    CONS_UNIT,
    DTypeLike,
    RegionLike,
    ShapeLike,
    StreamLike,
    Target,
    check_constraint,
    dtype_code,
    stream_id,
    target,
)
from .registry import register

# Columns whose whole length fits this many float64 are ranked in memory, a block of
# columns at a time (a linear-time partition); longer ones are ranked by streaming
# the column past the region's rows, so a region never needs a whole column in memory.
WHOLE_COLUMN_ROWS = 1 << 21


def _sparse_moments(shape, p):
    rows = shape[0]
    zeros = min(rows, math.ceil(p["sparsity"] * rows))
    return 0.0, p["std"] * math.sqrt((rows - zeros) / rows) if rows else 0.0


@register("structured", layout="torch", moments=_sparse_moments)
def sparse(shape: ShapeLike, sparsity: float, std: float = 0.01, *, seed: int,
           stream: StreamLike = 0, dtype: DTypeLike = None, out: Optional[np.ndarray] = None,
           region: RegionLike = None, threads: Optional[int] = None) -> np.ndarray:
    """A sparse 2-D matrix, as ``torch.nn.init.sparse_`` (Martens 2010): N(0, std^2) values
    with ``ceil(sparsity * rows)`` zeros in every column.

    Values: ``fastinit.normal(shape, 0, std, seed=seed, stream=stream)``.  Zero positions,
    decided per element by the stream so they are reproducible and thread independent:
    with ``U = fastinit.uniform(shape, dtype="float64", seed=seed, stream=mask_stream)`` where
    ``mask_stream = stream_id("fastinit.sparse:%d" % stream_id(stream))``, element (r, c) is
    zero when r is among the ``ceil(sparsity * rows)`` smallest of column c ordered by
    (U[r, c], r).  ``region`` is supported: only the region's values and the ranks of its
    elements are computed, in memory bounded by the region (plus a few MB).

    >>> import fastinit
    >>> w = fastinit.sparse((10, 4), 0.3, seed=0)
    >>> [int((w[:, c] == 0).sum()) for c in range(4)]
    [3, 3, 3, 3]
    """
    sparsity = check_constraint("sparsity", sparsity, CONS_UNIT)
    std = check_constraint("std", std, CONS_NON_NEGATIVE)
    t = target(shape, seed=seed, stream=stream, dtype=dtype, out=out, region=region, threads=threads)
    if len(t.dims) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if t.size == 0:
        return t.result()
    _core.check(_core.DIST_CODES["normal"], dtype_code(t.dtype), (0.0, std))  # dtype range first
    rows = t.dims[0]
    num_zeros = min(rows, math.ceil(sparsity * rows))  # PyTorch's count
    mask = None
    if num_zeros:
        mask = _zero_mask(t, num_zeros, stream_id(f"fastinit.sparse:{t.stream}"))
    # every allocation is done: only now is `out` written
    result = t.result()
    fills.fill_target("normal", (0.0, std), Target(t.dims, t.starts, t.lens, t.dtype, result,
                                                   t.seed, t.stream, t.threads))
    if mask is not None:
        np.copyto(result, np.zeros((), result.dtype), where=mask)
    return result


def _uniform(t, mask_stream, rows_from, rows_to, c0, c1, out):
    """U[rows_from:rows_to, c0:c1] of the mask stream into `out` (any strides)."""
    fills.fill_target("uniform", (0.0, 1.0), Target(
        t.dims, (rows_from, c0), (rows_to - rows_from, c1 - c0), np.dtype(np.float64), out,
        t.seed, mask_stream, t.threads))


def _zero_mask(t, k, mask_stream):
    """Boolean mask of the region: True where the element is one of the k smallest of
    its column in the order (U, row)."""
    (r0, c0), (nr, nc) = t.starts, t.lens
    rows = t.dims[0]
    mask = np.empty((nr, nc), dtype=bool)
    if rows <= WHOLE_COLUMN_ROWS:
        block = max(1, WHOLE_COLUMN_ROWS // rows)  # columns per block: bounded memory
        buf = np.empty(min(block, nc) * rows, dtype=np.float64)
        for b0 in range(c0, c0 + nc, block):
            b1 = min(c0 + nc, b0 + block)
            # one row of `u_t` per column, so each column's ranking runs over contiguous memory
            u_t = buf[:(b1 - b0) * rows].reshape(b1 - b0, rows)
            _uniform(t, mask_stream, 0, rows, b0, b1, u_t.T)
            mask[:, b0 - c0:b1 - c0] = _smallest_per_row(u_t, k).T[r0:r0 + nr]
        return mask
    mine = np.empty((nr, 1), dtype=np.float64)
    chunk = np.empty((WHOLE_COLUMN_ROWS, 1), dtype=np.float64)
    own_rows = np.arange(r0, r0 + nr)
    for c in range(c0, c0 + nc):
        _uniform(t, mask_stream, r0, r0 + nr, c, c + 1, mine)

        def read(j0, j1, c=c):
            v = chunk[:j1 - j0]
            _uniform(t, mask_stream, j0, j1, c, c + 1, v)
            return v[:, 0]

        mask[:, c - c0] = _ranks(mine[:, 0], own_rows, rows, read, WHOLE_COLUMN_ROWS) < k
    return mask


def _ranks(values, own_rows, rows, read, step):
    """For each element (values[i], own_rows[i]) of a column of `rows` values, how many
    elements of the column come before it in the order (value, row); read(j0, j1)
    gives rows j0 .. j1 - 1 of the column, `step` rows at a time."""
    less = np.zeros(values.size, dtype=np.int64)
    for j0 in range(0, rows, step):
        j1 = min(rows, j0 + step)
        col = read(j0, j1)
        ordered = np.sort(col)
        lt = np.searchsorted(ordered, values, "left")
        equal = np.searchsorted(ordered, values, "right") - lt
        equal -= (own_rows >= j0) & (own_rows < j1)  # each element equals itself
        less += lt
        for i in np.nonzero(equal)[0]:  # true ties (rare): the lower row comes first
            before = col[:max(0, min(own_rows[i], j1) - j0)]
            less[i] += int(np.count_nonzero(before == values[i]))
    return less


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
