"""Lazy Dask arrays filled by fastinit, block by block, where each block lives.

Every block is computed from its global position with ``region=``, so the array
equals the in-memory fill bit for bit for *any* chunking, rechunking or slicing
(unlike ``dask.array.random``, whose values change with the chunks, dask/dask#1684),
and computing a slice touches only the blocks it overlaps.

>>> import numpy as np, fastinit, fastinit.dask
>>> x = fastinit.dask.normal((1000, 300), std=0.02, chunks=(256, 128), seed=0)
>>> bool((x.compute() == fastinit.normal((1000, 300), std=0.02, seed=0)).all())
True

There is one function per elementwise or fan-based initializer of
`fastinit.available_initializers()` (uniform, normal, trunc_normal, full, constant,
zeros, ones, xavier_*, kaiming_*, glorot_*, he_*, lecun_*, variance_scaling), each
taking the in-memory function's parameters plus ``chunks=``:

    fastinit.dask.<name>(shape, *params, chunks, seed, stream=0, dtype=None, threads=1, **params)

and `from_init(init, shape, ...)` for a name or a configured ``fastinit.initializer``.
Structured initializers (orthogonal, sparse, eye, dirac, ...) need the whole tensor
and are refused.

Graph names are deterministic: ``fastinit-<init>-<token>`` with the token taken over
the initializer, shape, chunks, seed, stream, dtype and parameters, so the same call
gives the same keys in every process.  ``threads`` (fastinit OpenMP threads inside one
task, 1 by default so Dask's own workers provide the parallelism) never changes a value
and is left out of the name.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect

import dask.array as da
import numpy as np
from dask.base import tokenize

from . import _validate
from .initializers import registry as _io
from .initializers.factory import Initializer

__all__ = ["from_init"]


@dataclasses.dataclass(frozen=True)
class _BlockSpec:
    """Everything a task needs to fill its block: small, picklable, no arrays."""

    init: str
    shape: tuple
    offsets: tuple      # per dimension: the start of every block, then the end
    dtype: str
    threads: int
    kwargs: tuple       # sorted (name, value) pairs: parameters, seed, stream


def _fill_block(spec: _BlockSpec = None, block_id=None):
    region = tuple(slice(off[i], off[i + 1]) for off, i in zip(spec.offsets, block_id))
    fn = _io.entry_of(spec.init).func
    dt = _validate.resolve_dtype(spec.dtype)
    return fn(spec.shape, dtype=dt, region=region, threads=spec.threads, **dict(spec.kwargs))


def _offsets(chunks):
    out = []
    for c in chunks:
        acc = [0]
        for n in c:
            acc.append(acc[-1] + n)
        out.append(tuple(acc))
    return tuple(out)


def from_init(init, shape, *args, chunks, seed=None, stream=0, dtype=None, threads=1, **params):
    """A lazy dask array of the initializer `init` on `shape`.

    Parameters
    ----------
    init : str or fastinit.Initializer
        Name of an elementwise or fan-based initializer, e.g. "trunc_normal", "he_normal",
        or a configured one, ``fastinit.initializer("he_normal", in_axis=0)``.
    shape : int or tuple of ints
    *args, **params
        The initializer's parameters, positionally as in the in-memory function
        (``normal(shape, mean, std)``) or by name (over a configured init's own).
    chunks : int, tuple, "auto", ...
        Anything ``dask.array.core.normalize_chunks`` accepts (irregular chunks too).
    seed, stream, dtype
        As in the in-memory call; the values are identical to it.
    threads : int
        fastinit OpenMP threads per task (default 1: one per Dask thread).

    Examples
    --------
    >>> import fastinit.dask
    >>> x = fastinit.dask.from_init("uniform", (10, 10), -1, 1, chunks=((3, 7), 5), seed=0)
    >>> x.chunks
    ((3, 7), (5, 5))
    """
    if not isinstance(init, (str, Initializer)):
        raise TypeError(f"init must be an initializer name or a fastinit.Initializer, got {type(init).__name__}")
    entry = _io.entry_of(init)
    name = entry.name
    if not entry.region_fill:
        raise ValueError(f"{name} is a structured initializer (its values depend on the whole tensor), "
                         "so it cannot be filled block by block; compute it in memory and use "
                         "dask.array.from_array")
    if args:
        # Bind positional parameters exactly as the in-memory function would.
        bound = inspect.signature(entry.func).bind_partial(shape, *args)
        for k, v in list(bound.arguments.items())[1:]:
            if k in params:
                raise TypeError(f"{name}() got multiple values for argument {k!r}")
            params[k] = v
    filler = _io.Filler(shape, init, seed, stream, dtype, params)
    threads = _validate.as_int("threads", threads, 1)
    filler.dry_run()  # parameter errors now, not inside a worker
    dims, dt = filler.shape, filler.dtype
    norm = da.core.normalize_chunks(chunks, dims, dtype=dt)
    kwargs = tuple(sorted(_canonical(entry, filler.kwargs).items()))
    token = tokenize(name, dims, norm, dt.name, kwargs, _validate.stream_id(filler.stream))
    spec = _BlockSpec(name, dims, _offsets(norm), dt.name, threads, kwargs)
    return da.map_blocks(_fill_block, chunks=norm, dtype=dt, meta=np.empty((0,) * len(dims), dt),
                         name=f"fastinit-{name}-{token}", spec=spec)


def _canonical(entry, kwargs):
    """Parameters with defaults filled in and ints given where a float is expected
    turned into floats, so equal calls (``std=1`` / ``std=1.0`` / omitted) share a name."""
    out = dict(kwargs)
    for name, default in entry.defaults().items():
        if name not in out and default is not inspect.Parameter.empty:
            out[name] = default
        v = out.get(name)
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            out[name] = float(v)
    return out


def _make(name):
    fn = _io.entry_of(name).func
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values()
              if p.name not in ("out", "region", "threads") and p.kind != p.VAR_KEYWORD]
    extra = [inspect.Parameter("chunks", inspect.Parameter.KEYWORD_ONLY)]
    if "threads" in sig.parameters:
        extra.append(inspect.Parameter("threads", inspect.Parameter.KEYWORD_ONLY, default=1))
    positional = [p for p in params if p.kind != p.KEYWORD_ONLY]
    keyword = [p for p in params if p.kind == p.KEYWORD_ONLY]

    @functools.wraps(fn)
    def lazy(shape, *args, chunks, **kw):
        return from_init(name, shape, *args, chunks=chunks, **kw)

    lazy.__signature__ = sig.replace(parameters=positional + extra[:1] + keyword + extra[1:])
    lazy.__doc__ = (f"Lazy dask version of fastinit.{name}: same parameters plus ``chunks=``; "
                    f"every block equals that region of the in-memory fill.\n\n"
                    f"    >>> import fastinit.dask\n"
                    f"    >>> x = fastinit.dask.{name}((100, 100), chunks=50{', seed=0' if 'seed' in sig.parameters else ''}"
                    f"{_example_params(name)})\n"
                    f"    >>> x.numblocks\n    (2, 2)\n\n"
                    f"In-memory function:\n\n{fn.__doc__ or ''}")
    lazy.__module__ = __name__
    lazy.__qualname__ = name
    del lazy.__wrapped__  # help() should show the signature above, not the wrapped one
    return lazy


def _example_params(name):
    return ", value=0.5" if name in ("full", "constant") else ""


def _names():
    return [n for n, e in _io.available_initializers().items() if e.region_fill]


def __getattr__(attr):
    # made on first use from the registry: a newly registered initializer appears here
    if not attr.startswith("_") and attr in _names():
        f = _make(attr)
        globals()[attr] = f
        return f
    raise AttributeError(f"module 'fastinit.dask' has no attribute {attr!r}")


def __dir__():
    return sorted(set(globals()) | set(_names()))


__all__ += _names()
