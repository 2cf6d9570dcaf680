"""Tensor access: NumPy views of CPU tensors (bfloat16 through int16), staging for other
devices and layouts, DTensor local blocks, seeds drawn from torch generators.
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from fastinit import _validate

from ._specs import spec

_SEED_HIGH = 2**63 - 1


_TORCH_TO_NUMPY = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.float16: np.dtype(np.float16),
}


# ------------------------------------------------------------------ seeds ----
def _draw_seed(generator):
    """One seed in [0, 2**63 - 1) from `generator` (None: torch's default CPU generator)."""
    if generator is None:
        return int(torch.randint(0, _SEED_HIGH, (), dtype=torch.int64))
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    return int(torch.randint(0, _SEED_HIGH, (), dtype=torch.int64, generator=generator,
                             device=generator.device))


def _resolve_seed(seed, generator):
    return _validate.check_seed(seed) if seed is not None else _draw_seed(generator)


# ---------------------------------------------------------- tensor access ----
def _numpy_dtype(tensor):
    if tensor.dtype == torch.bfloat16:
        return _validate.resolve_dtype("bfloat16")
    dt = _TORCH_TO_NUMPY.get(tensor.dtype)
    if dt is None:
        raise TypeError(f"fastinit.torch fills float32, float64, float16 and bfloat16 tensors; "
                        f"got a {tensor.dtype} tensor (convert it, or use torch.nn.init for it)")
    return dt


def _elements_disjoint(tensor):
    """True when no two elements of `tensor` share memory (a sufficient test:
    sorted by stride, each stride exceeds the span of the smaller dimensions)."""
    span = 0  # in elements: highest offset reachable with the smaller-stride dims
    for stride, size in sorted((s, n) for s, n in zip(tensor.stride(), tensor.shape) if n > 1):
        if stride <= span:
            return False
        span += stride * (size - 1)
    return True


def _numpy_view(tensor):
    """A NumPy array sharing `tensor`'s memory (CPU, strided, float dtypes)."""
    t = tensor.detach()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(_numpy_dtype(t))
    return t.numpy()


def _bump_version(tensor):
    # Writes through NumPy bypass autograd's version counter; bump it as an
    # in-place torch op would, so a stale saved tensor is still detected.
    try:
        torch.autograd.graph.increment_version(tensor)
    except (RuntimeError, AttributeError):  # inference tensors have no version counter
        pass


def _is_dtensor(tensor):
    mod = sys.modules.get("torch.distributed.tensor")
    cls = getattr(mod, "DTensor", None) if mod is not None else None
    return cls is not None and isinstance(tensor, cls)


def _write_local(tensor, fill, kw, global_shape, starts):
    """Fill `tensor` with block [starts, starts + tensor.shape) of the logical
    tensor `global_shape` through `fill(**kw)`."""
    dt = _numpy_dtype(tensor)
    if tensor.numel() == 0:
        return
    region = None
    if starts is not None:
        region = tuple(slice(s, s + n) for s, n in zip(starts, tensor.shape))
    direct = (tensor.device.type == "cpu" and tensor.layout == torch.strided
              and not tensor.is_conj() and not tensor.is_neg() and _elements_disjoint(tensor))
    if direct:
        fill(out=_numpy_view(tensor), region=region, dtype=dt, **kw)
        _bump_version(tensor)
        return
    # Staging buffer: other devices (CUDA: computed on the CPU, then copied) and
    # layouts NumPy cannot address without overlap.
    staging = np.empty(tuple(tensor.shape), dtype=dt)
    fill(out=staging, region=region, dtype=dt, **kw)
    if tensor.dtype == torch.bfloat16:
        src = torch.from_numpy(staging.view(np.int16)).view(torch.bfloat16)
    else:
        src = torch.from_numpy(staging)
    with torch.no_grad():
        tensor.copy_(src)


def _dtensor_local_block(dtensor):
    """(local tensor, global shape, global offsets) of a DTensor's shard."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    for p in dtensor.placements:
        # Exact class checks: subclasses such as _StridedShard hold non-contiguous blocks.
        if type(p) not in (Shard, Replicate):
            raise NotImplementedError(
                f"fastinit.torch fills DTensors with Shard and Replicate placements only, got {p}; "
                "redistribute it first or fill its local tensor with fastinit.torch.fill_shard_")
    global_shape = tuple(dtensor.shape)
    local = dtensor.to_local()
    local_shape, offsets = compute_local_shape_and_global_offset(
        global_shape, dtensor.device_mesh, dtensor.placements)
    if tuple(local_shape) != tuple(local.shape):
        raise NotImplementedError(
            f"this DTensor's local shard has shape {tuple(local.shape)} where its placements imply "
            f"{tuple(local_shape)} (padded shards?); fill it with fastinit.torch.fill_shard_")
    return local, global_shape, tuple(offsets)


def _apply(tensor, init, params, *, generator=None, seed=None, stream=0, threads=None):
    """Fill `tensor` in place with initializer `init` and return it."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(tensor).__name__}")
    if _is_dtensor(tensor):
        local, global_shape, starts = _dtensor_local_block(tensor)
    else:
        local, global_shape, starts = tensor, tuple(tensor.shape), None
    _fill_block(local, global_shape, starts, init, params, generator=generator, seed=seed,
                stream=stream, threads=threads)
    return tensor


def _fill_block(local, global_shape, starts, init, params, *, generator, seed, stream, threads):
    fill, random = spec(init, global_shape, params)
    _numpy_dtype(local)  # dtype errors before drawing a seed
    if local.is_inference() and not torch.is_inference_mode_enabled():
        # NumPy would write it; torch refuses, and so do we (same message)
        raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not allowed."
                           "You can make a clone to get a normal tensor before doing inplace update."
                           "See https://github.com/pytorch/rfcs/pull/17 for more details.")
    threads_v = _validate.check_threads(threads)
    stream_v = _validate.stream_id(stream)
    if local.is_meta:
        return
    kw = {"threads": threads_v}
    if random:
        kw["seed"] = _resolve_seed(seed, generator)
        kw["stream"] = stream_v
    elif seed is not None:
        _validate.check_seed(seed)  # validated even where unused
    _write_local(local, fill, kw, global_shape, starts)
