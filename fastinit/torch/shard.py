"""fill_shard_: fill one shard of a bigger tensor with exactly its part of the whole.
"""
from __future__ import annotations

import math

import torch

import fastinit as _fi
from fastinit import _validate

from ._specs import _SPECS
from ._tensor import _fill_block, _is_dtensor
from .nn_init import _DROP_INS


# --------------------------------------------------------------- sharded init ----
def _init_name(init):
    if isinstance(init, _fi.Initializer):
        return init  # a configured fastinit initializer: its own parameters
    if callable(init) and getattr(init, "__name__", None) in _DROP_INS:
        init = init.__name__
    if not isinstance(init, str):
        raise TypeError(f"init must be an initializer name such as 'normal' or a fastinit.torch "
                        f"function, got {init!r}")
    name = init[:-1] if init.endswith("_") else init
    if name not in _SPECS:
        raise ValueError(f"unknown initializer {init!r}: use one of {', '.join(sorted(_SPECS))}")
    return name


def fill_shard_(local, global_shape, offsets, init, *, generator=None, seed=None, stream=0,
                threads=None, **params):
    """Fill `local`, one shard of a bigger tensor, with exactly its part of the whole.

    `global_shape` is the shape of the whole (unsharded) tensor, `offsets` where `local`
    sits in it: one start index per dimension, or a tuple of step-1 slices (whose
    lengths must match ``local.shape``).  `init` is an initializer name ("normal",
    "trunc_normal", "kaiming_uniform", ... with or without the trailing underscore), a
    fastinit.torch function, or a configured ``fastinit.initializer(...)`` (fastinit's
    parameters and conventions), and `params` its PyTorch arguments (``mean=``, ``std=``,
    ``a=``, ``b=``, ``gain=``, ``mode=``, ...).  Fans come from `global_shape`, so a
    Kaiming shard is scaled for the whole weight.

    The result equals ``<init>_(whole, ..., seed=seed, stream=stream)[block]``, bit for
    bit, on every rank, for any way of cutting the tensor (what FSDP, DTensor and
    tensor-parallel shards hold).  Only the local block is computed, except for
    orthogonal, whose QR couples every element: it computes the whole matrix and keeps
    the block.  With ``seed=None`` the seed is drawn from `generator`, which must then
    be in the same state on every rank: prefer an explicit seed.

    >>> import torch, fastinit.torch as finit
    >>> whole = finit.normal_(torch.empty(10, 6), std=0.02, seed=1)
    >>> part = finit.fill_shard_(torch.empty(4, 6), (10, 6), (3, 0), "normal", std=0.02, seed=1)
    >>> torch.equal(part, whole[3:7])
    True
    """
    if not isinstance(local, torch.Tensor) or _is_dtensor(local):
        raise TypeError("fill_shard_ fills a plain torch.Tensor (the local shard); "
                        "DTensors go straight to the drop-ins, e.g. fastinit.torch.normal_(dtensor)")
    name = _init_name(init)
    shape = _validate.check_shape(global_shape)
    if isinstance(offsets, slice):
        offsets = (offsets,)
    if not isinstance(offsets, (tuple, list)) or len(offsets) != len(shape):
        raise ValueError(f"offsets must give one start index or slice per dimension of "
                         f"global_shape {shape}, got {offsets!r}")
    if local.dim() != len(shape):
        raise ValueError(f"local has {local.dim()} dimensions but global_shape {shape} has {len(shape)}")
    starts = []
    for d, (o, n, total) in enumerate(zip(offsets, local.shape, shape)):
        if isinstance(o, slice):
            region_start, region_len = _validate.check_region((total,), (o,))
            start, length = region_start[0], region_len[0]
            if length != n:
                raise ValueError(f"offsets[{d}] = {o.start}:{o.stop} has length {length} but local has "
                                 f"size {n} in dimension {d}")
        else:
            start = _validate.as_int(f"offsets[{d}]", o, 0)
        if start + n > total:
            raise ValueError(f"local block {start}:{start + n} does not fit dimension {d} of size {total}")
        starts.append(start)
    if isinstance(name, str) and name in ("kaiming_uniform", "kaiming_normal") and math.prod(shape) == 0:
        return local
    _fill_block(local, shape, tuple(starts), name, params, generator=generator, seed=seed,
                stream=stream, threads=threads)
    return local
