"""PyTorch drop-in: every ``torch.nn.init`` function, filled by fastinit.

``import fastinit.torch as finit`` and use ``finit.kaiming_uniform_(w)`` wherever you
wrote ``torch.nn.init.kaiming_uniform_(w)``.  Same names, same arguments, same
errors; the values come from the fastinit stream, so they are reproducible bit for
bit across thread counts, machines and shardings, and fast (OpenMP + SIMD).

Seeds
-----
Every function takes ``generator=`` like PyTorch plus keyword-only ``seed=``,
``stream=`` and ``threads=``.

* ``seed=`` given: the values are exactly ``fastinit.<initializer>(tensor.shape, ...,
  seed=seed, stream=stream, dtype=<the tensor's dtype>)``; ``generator`` is ignored.
* ``seed=None`` (the default): one 63-bit seed is drawn from ``generator`` (or from
  torch's default CPU generator) as ``torch.randint(0, 2**63 - 1, (), generator=g)``,
  so ``torch.manual_seed(...)`` still controls the result.  Each call draws a new
  seed, as each call of ``torch.nn.init`` advances the generator.  Meta tensors
  draw nothing.

Which tensors
-------------
* CPU float32, float64, float16 and bfloat16 tensors are filled in place with no
  copy: through ``tensor.numpy()`` (bfloat16 through an int16 view read as
  ``ml_dtypes.bfloat16``).  Parameters keep ``requires_grad``; autograd sees the
  write (the version counter is bumped) as with ``torch.no_grad()`` in-place ops.
* Non-contiguous tensors whose elements do not overlap (transposes, slices,
  channels_last) are written through their strides, still without a copy; other
  layouts go through a contiguous staging buffer and ``copy_``.
* Meta tensors: nothing is done (as PyTorch does), the tensor is returned.
* CUDA and other devices: the values are computed on the CPU into a staging buffer
  and copied to the device (``tensor.copy_``); they equal the CPU values.
* DTensors (``torch.distributed.tensor``) with Shard and Replicate placements: each
  rank fills only its local shard, with the values that shard has in the whole
  tensor, so the result does not depend on the mesh or the placements.  With
  ``seed=None`` every rank draws the seed from its own generator: seed torch
  identically on every rank (or pass ``seed=``).

Beyond the drop-ins: :func:`init_module` (PyTorch's default init of a whole module,
one stream per parameter name), :func:`patch_torch_init` (run unmodified
``reset_parameters()`` code on fastinit), :func:`fill_shard_` (fill one shard of a
bigger tensor) and :func:`lsuv_` (layer-sequential unit-variance init).
"""
from __future__ import annotations

import contextlib
import math
import sys
import warnings

import numpy as np
import torch

import fastinit as _fi
from fastinit import _api

__all__ = [
    "calculate_gain",
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
    "init_module", "patch_torch_init", "fill_shard_", "lsuv_",
]

_SEED_HIGH = 2**63 - 1
_TORCH_TO_NUMPY = {
    torch.float32: np.dtype(np.float32),
    torch.float64: np.dtype(np.float64),
    torch.float16: np.dtype(np.float16),
}


def _initializers():
    # fastinit.initializers holds the fan-based and structured fills; imported
    # when first needed so that this module stays cheap to import.
    from fastinit import initializers

    return initializers


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
    return _api._seed(seed) if seed is not None else _draw_seed(generator)


# ------------------------------------------------------------ fill specs ----
# A spec is what one initializer call needs besides the output buffer:
# (fill, random) where fill(**kw) calls the fastinit function for the logical
# (global) shape with kw = dtype, out, region, threads and, if random, seed and stream.
# Building a spec validates every parameter, so errors come before any write.

def _spec_uniform(shape, a=0.0, b=1.0):
    a = _api._as_float("a", a)
    b = _api._as_float("b", b)
    if a > b:
        raise ValueError(f"uniform_ expects a <= b, got a={a}, b={b}")
    return (lambda **kw: _fi.uniform(shape, a, b, **kw)), True


def _spec_normal(shape, mean=0.0, std=1.0):
    mean = _api._as_float("mean", mean)
    std = _api._as_float("std", std)
    if std < 0:
        raise ValueError(f"normal_ expects std >= 0.0, got std={std}")
    return (lambda **kw: _fi.normal(shape, mean, std, **kw)), True


def _spec_trunc_normal(shape, mean=0.0, std=1.0, a=-2.0, b=2.0):
    mean = _api._as_float("mean", mean)
    std = _api._as_float("std", std)
    a = _api._as_float("a", a, allow_inf=True)
    b = _api._as_float("b", b, allow_inf=True)
    if std < 0:
        raise ValueError(f"trunc_normal_ expects std >= 0.0, got std={std}")
    if not a < b:
        raise ValueError(f"trunc_normal_ expects a < b, got a={a}, b={b}")
    if std == 0.0:
        # The limit of N(mean, std) truncated to [a, b] as std -> 0: a point mass at
        # mean clamped into [a, b].  (PyTorch divides by zero here.)
        value = min(max(mean, a), b)
        return (lambda **kw: _fi.full(shape, value, **kw)), False
    # PyTorch's a, b are absolute; fastinit's bounds are in units of std.
    lower = (a - mean) / std
    upper = (b - mean) / std
    if not lower < upper:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] is too narrow to resolve with "
                         f"mean={mean}, std={std}; widen it")
    return (lambda **kw: _fi.trunc_normal(shape, mean, std, lower, upper, **kw)), True


def _spec_constant(shape, val):
    if isinstance(val, torch.Tensor):
        val = val.item()
    if isinstance(val, (bool, np.bool_)) or val is None or isinstance(val, (str, bytes)):
        raise TypeError(f"constant_ expects a real number, got {val!r}")
    val = float(val)
    return (lambda **kw: _fi.full(shape, val, **kw)), False


def _spec_ones(shape):
    return (lambda **kw: _fi.full(shape, 1.0, **kw)), False


def _spec_zeros(shape):
    return (lambda **kw: _fi.full(shape, 0.0, **kw)), False


def _spec_eye(shape):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    ini = _initializers()
    return (lambda **kw: ini.eye(shape, **kw)), False


def _spec_dirac(shape, groups=1):
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    groups = _api._as_int("groups", groups, 1)
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    ini = _initializers()
    return (lambda **kw: ini.dirac(shape, groups=groups, **kw)), False


def _torch_fans(shape):
    # torch.nn.init._calculate_fan_in_and_fan_out on a shape.
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _spec_xavier_uniform(shape, gain=1.0):
    _torch_fans(shape)
    gain = _api._as_float("gain", gain)
    ini = _initializers()
    return (lambda **kw: ini.xavier_uniform(shape, gain=gain, **kw)), True


def _spec_xavier_normal(shape, gain=1.0):
    _torch_fans(shape)
    gain = _api._as_float("gain", gain)
    ini = _initializers()
    return (lambda **kw: ini.xavier_normal(shape, gain=gain, **kw)), True


def _kaiming_args(shape, a, mode, nonlinearity):
    if not isinstance(mode, str):
        raise TypeError(f"mode must be a str ('fan_in' or 'fan_out'), got {mode!r}")
    mode = mode.lower()  # PyTorch accepts any case
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    _torch_fans(shape)
    calculate_gain(nonlinearity, a)  # PyTorch's errors for the nonlinearity and its param
    return dict(a=a, mode=mode, nonlinearity=nonlinearity)


def _spec_kaiming_uniform(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    args = _kaiming_args(shape, a, mode, nonlinearity)
    ini = _initializers()
    return (lambda **kw: ini.kaiming_uniform(shape, **args, **kw)), True


def _spec_kaiming_normal(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    args = _kaiming_args(shape, a, mode, nonlinearity)
    ini = _initializers()
    return (lambda **kw: ini.kaiming_normal(shape, **args, **kw)), True


def _spec_orthogonal(shape, gain=1.0):
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    gain = _api._as_float("gain", gain)
    ini = _initializers()
    return (lambda **kw: ini.orthogonal(shape, gain=gain, **kw)), True


def _spec_sparse(shape, sparsity, std=0.01):
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    sparsity = _api._as_float("sparsity", sparsity)
    std = _api._as_float("std", std)
    ini = _initializers()
    return (lambda **kw: ini.sparse(shape, sparsity, std=std, **kw)), True


_SPECS = {
    "uniform": _spec_uniform,
    "normal": _spec_normal,
    "trunc_normal": _spec_trunc_normal,
    "constant": _spec_constant,
    "ones": _spec_ones,
    "zeros": _spec_zeros,
    "eye": _spec_eye,
    "dirac": _spec_dirac,
    "xavier_uniform": _spec_xavier_uniform,
    "xavier_normal": _spec_xavier_normal,
    "kaiming_uniform": _spec_kaiming_uniform,
    "kaiming_normal": _spec_kaiming_normal,
    "orthogonal": _spec_orthogonal,
    "sparse": _spec_sparse,
}


# ---------------------------------------------------------- tensor access ----
def _numpy_dtype(tensor):
    if tensor.dtype == torch.bfloat16:
        return _api.resolve_dtype("bfloat16")
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
    fill, random = _SPECS[init](global_shape, **params)
    _numpy_dtype(local)  # dtype errors before drawing a seed
    threads_v = _api._threads(threads)
    stream_v = _api.stream_id(stream)
    if local.is_meta:
        return
    kw = {"threads": threads_v}
    if random:
        kw["seed"] = _resolve_seed(seed, generator)
        kw["stream"] = stream_v
    elif seed is not None:
        _api._seed(seed)  # validated even where unused
    _write_local(local, fill, kw, global_shape, starts)


# ----------------------------------------------------------- the drop-ins ----
_KW_DOC = """
    Keyword-only (fastinit): ``seed`` (int in [0, 2**64); default None: drawn from
    `generator` or torch's default generator), ``stream`` (int or str, default 0;
    e.g. the parameter's name), ``threads`` (OpenMP threads; never changes a value).
"""


def calculate_gain(nonlinearity, param=None):
    """PyTorch's recommended gain for `nonlinearity` (same table, same errors).

    >>> import fastinit.torch as finit
    >>> finit.calculate_gain("relu") == 2 ** 0.5
    True
    """
    return _initializers().calculate_gain(nonlinearity, param)


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Fill `tensor` with U(a, b) in place; equals ``fastinit.uniform(shape, a, b, ...)``.

    >>> import torch, fastinit, fastinit.torch as finit
    >>> w = finit.uniform_(torch.empty(3, 5), -0.1, 0.1, seed=0)
    >>> bool((w.numpy() == fastinit.uniform((3, 5), -0.1, 0.1, seed=0)).all())
    True
    """
    return _apply(tensor, "uniform", dict(a=a, b=b), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Fill `tensor` with N(mean, std**2) in place; equals ``fastinit.normal(shape, mean, std, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.normal_(torch.empty(1000, 1000, dtype=torch.bfloat16), 0.0, 0.02, seed=0)
    >>> abs(float(w.float().std()) - 0.02) < 1e-3
    True
    """
    return _apply(tensor, "normal", dict(mean=mean, std=std), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None,
                  stream=0, threads=None):
    """Fill `tensor` with N(mean, std**2) truncated to the ABSOLUTE bounds [a, b] (PyTorch's
    convention; the default [-2, 2] is hardly a truncation for std=0.02).

    Equals ``fastinit.trunc_normal(shape, mean, std, (a - mean) / std, (b - mean) / std, ...)``.
    Exact inverse-CDF sampling: one draw per element, no rejection loop, no temporaries,
    accurate far in the tails; ``std=0`` gives ``mean`` clamped into [a, b].

    >>> import torch, fastinit.torch as finit
    >>> w = finit.trunc_normal_(torch.empty(10_000), 0.0, 1.0, a=-0.5, b=0.5, seed=0)
    >>> bool((w.abs() <= 0.5).all())
    True
    """
    return _apply(tensor, "trunc_normal", dict(mean=mean, std=std, a=a, b=b), generator=generator,
                  seed=seed, stream=stream, threads=threads)


def constant_(tensor, val):
    """Fill `tensor` with `val`.

    >>> import torch, fastinit.torch as finit
    >>> finit.constant_(torch.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    return _apply(tensor, "constant", dict(val=val))


def ones_(tensor):
    """Fill `tensor` with ones.

    >>> import torch, fastinit.torch as finit
    >>> finit.ones_(torch.empty(2)).tolist()
    [1.0, 1.0]
    """
    return _apply(tensor, "ones", {})


def zeros_(tensor):
    """Fill `tensor` with zeros.

    >>> import torch, fastinit.torch as finit
    >>> finit.zeros_(torch.empty(2)).tolist()
    [0.0, 0.0]
    """
    return _apply(tensor, "zeros", {})


def eye_(tensor):
    """Fill the 2-D `tensor` with the identity matrix (as ``torch.nn.init.eye_``).

    >>> import torch, fastinit.torch as finit
    >>> finit.eye_(torch.empty(2, 3)).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    return _apply(tensor, "eye", {})


def dirac_(tensor, groups=1):
    """Fill the 3-, 4- or 5-D `tensor` with the Dirac delta (as ``torch.nn.init.dirac_``).

    >>> import torch, fastinit.torch as finit
    >>> w = finit.dirac_(torch.empty(2, 2, 3))
    >>> w[0, 0].tolist(), w[0, 1].tolist()
    ([0.0, 1.0, 0.0], [0.0, 0.0, 0.0])
    """
    return _apply(tensor, "dirac", dict(groups=groups))


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Xavier/Glorot uniform: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out)).

    Equals ``fastinit.xavier_uniform(shape, gain, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.xavier_uniform_(torch.empty(300, 100), seed=0)
    >>> float(w.abs().max()) < (6 / 400) ** 0.5
    True
    """
    return _apply(tensor, "xavier_uniform", dict(gain=gain), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, stream=0, threads=None):
    """Xavier/Glorot normal: N(0, std**2), std = gain * sqrt(2 / (fan_in + fan_out)).

    Equals ``fastinit.xavier_normal(shape, gain, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.xavier_normal_(torch.empty(300, 100), seed=0)
    >>> abs(float(w.std()) - (2 / 400) ** 0.5) < 0.003
    True
    """
    return _apply(tensor, "xavier_normal", dict(gain=gain), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def _warn_if_empty(tensor):
    if tensor.numel() == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                     seed=None, stream=0, threads=None):
    """Kaiming/He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan_mode).

    Equals ``fastinit.kaiming_uniform(shape, a, mode, nonlinearity, ...)``.  A zero-element
    tensor warns and is left as is, as in PyTorch.

    >>> import math, torch, fastinit.torch as finit
    >>> w = finit.kaiming_uniform_(torch.empty(64, 256), a=math.sqrt(5), seed=0)  # nn.Linear's
    >>> float(w.abs().max()) < 1 / 16
    True
    """
    if _warn_if_empty(tensor):
        return tensor
    return _apply(tensor, "kaiming_uniform", dict(a=a, mode=mode, nonlinearity=nonlinearity),
                  generator=generator, seed=seed, stream=stream, threads=threads)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None, *,
                    seed=None, stream=0, threads=None):
    """Kaiming/He normal: N(0, std**2), std = gain / sqrt(fan_mode).

    Equals ``fastinit.kaiming_normal(shape, a, mode, nonlinearity, ...)``.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.kaiming_normal_(torch.empty(256, 512), mode="fan_out", nonlinearity="relu", seed=0)
    >>> abs(float(w.std()) - (2 / 256) ** 0.5) < 0.002
    True
    """
    if _warn_if_empty(tensor):
        return tensor
    return _apply(tensor, "kaiming_normal", dict(a=a, mode=mode, nonlinearity=nonlinearity),
                  generator=generator, seed=seed, stream=stream, threads=threads)


def orthogonal_(tensor, gain=1, generator=None, *, seed=None, stream=0, threads=None):
    """A (semi-)orthogonal matrix times `gain`; dims after the first are flattened.

    Equals ``fastinit.orthogonal(shape, gain, ...)`` (Gaussian from the stream, QR,
    sign fix; the same for any thread count).

    >>> import torch, fastinit.torch as finit
    >>> q = finit.orthogonal_(torch.empty(4, 6, dtype=torch.float64), seed=0)
    >>> bool(torch.allclose(q @ q.T, torch.eye(4, dtype=torch.float64)))
    True
    """
    if tensor.numel() == 0 and tensor.dim() >= 2:
        return tensor
    return _apply(tensor, "orthogonal", dict(gain=gain), generator=generator, seed=seed,
                  stream=stream, threads=threads)


def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, stream=0, threads=None):
    """2-D sparse init: N(0, std**2) with a fraction `sparsity` of each column set to zero.

    Equals ``fastinit.sparse(shape, sparsity, std, ...)``: which entries are zero is
    decided by the stream, so it is reproducible and thread-independent.

    >>> import torch, fastinit.torch as finit
    >>> w = finit.sparse_(torch.empty(10, 4), 0.25, seed=0)  # ceil(0.25 * 10) zeros per column
    >>> (w == 0).sum(0).tolist()
    [3, 3, 3, 3]
    """
    return _apply(tensor, "sparse", dict(sparsity=sparsity, std=std), generator=generator,
                  seed=seed, stream=stream, threads=threads)


for _f in (uniform_, normal_, trunc_normal_, xavier_uniform_, xavier_normal_, kaiming_uniform_,
           kaiming_normal_, orthogonal_, sparse_):
    _f.__doc__ += _KW_DOC
del _f

_DROP_INS = {
    "uniform_": uniform_, "normal_": normal_, "trunc_normal_": trunc_normal_,
    "constant_": constant_, "ones_": ones_, "zeros_": zeros_, "eye_": eye_, "dirac_": dirac_,
    "xavier_uniform_": xavier_uniform_, "xavier_normal_": xavier_normal_,
    "kaiming_uniform_": kaiming_uniform_, "kaiming_normal_": kaiming_normal_,
    "orthogonal_": orthogonal_, "sparse_": sparse_,
}


# ---------------------------------------------------------- patch_torch_init ----
_DEPRECATED_ALIASES = ("uniform", "normal", "constant", "eye", "dirac", "xavier_uniform",
                       "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse")
_SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_RANDOM_DROP_INS = ("uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                    "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_")


def _make_patched(name, original, resolve, threads, note):
    """A stand-in for torch.nn.init.<name> that fills with fastinit.

    `resolve(tensor, generator)` gives (seed, stream) for a random fill; `note(tensor)`
    (if given) sees every tensor filled.  Tensors fastinit cannot fill (integer or
    complex dtypes) go to PyTorch's own function.
    """
    import inspect

    ours = _DROP_INS[name]
    random = name in _RANDOM_DROP_INS
    signature = inspect.signature(original)

    def patched(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        tensor = bound.arguments.get("tensor")
        if not isinstance(tensor, torch.Tensor) or tensor.dtype not in _SUPPORTED_DTYPES:
            return original(*args, **kwargs)
        if note is not None:
            note(tensor)
        if not random:
            return ours(*args, **kwargs)
        if tensor.is_meta:
            return tensor  # as PyTorch: no work, and no generator draw
        seed, stream = resolve(tensor, bound.arguments.get("generator"))
        return ours(*args, **kwargs, seed=seed, stream=stream, threads=threads)

    patched.__name__ = patched.__qualname__ = name
    patched.__doc__ = f"torch.nn.init.{name} running on fastinit (inside patch_torch_init)."
    patched.__wrapped__ = ours
    return patched


def _make_deprecated(alias, new):
    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{alias}` is now deprecated in favor of `nn.init.{alias}_`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)

    deprecated.__name__ = alias
    return deprecated


_TENSOR_METHODS = {"normal_": ("normal", ("mean", "std")), "uniform_": ("uniform", ("from", "to"))}


def _make_tensor_method(method, original, resolve, threads, note):
    """A stand-in for Tensor.normal_ / Tensor.uniform_ that fills with fastinit.

    Everything fastinit does not handle the way PyTorch would goes to the original
    method: other dtypes and layouts, tensor subclasses other than Parameter and
    DTensor, and tensors that autograd records (grad mode on and requires_grad).
    """
    kind, names = _TENSOR_METHODS[method]
    defaults = (0.0, 1.0)

    def patched(self, *args, generator=None, **kwargs):
        plain = type(self) in (torch.Tensor, torch.nn.Parameter) or _is_dtensor(self)
        if (not plain or self.dtype not in _SUPPORTED_DTYPES or self.layout != torch.strided
                or (torch.is_grad_enabled() and self.requires_grad)
                or len(args) > 2 or set(kwargs) - set(names[len(args):])):
            return original(self, *args, generator=generator, **kwargs)
        values = dict(zip(names, defaults))
        values.update(zip(names, args))
        values.update(kwargs)
        if note is not None:
            note(self)
        if self.is_meta:
            return self
        seed, stream = resolve(self, generator)
        params = ({"mean": values["mean"], "std": values["std"]} if kind == "normal"
                  else {"a": values["from"], "b": values["to"]})
        return _apply(self, kind, params, seed=seed, stream=stream, threads=threads)

    patched.__name__ = patched.__qualname__ = method
    patched.__doc__ = f"Tensor.{method} running on fastinit (inside patch_torch_init)."
    return patched


@contextlib.contextmanager
def _patch_tensor_methods(resolve, threads, note):
    saved = {}
    for method in _TENSOR_METHODS:
        saved[method] = torch.Tensor.__dict__.get(method)  # None: inherited from TensorBase
        original = getattr(torch.Tensor, method)
        setattr(torch.Tensor, method, _make_tensor_method(method, original, resolve, threads, note))
    try:
        yield
    finally:
        for method, own in saved.items():
            if own is None:
                delattr(torch.Tensor, method)
            else:
                setattr(torch.Tensor, method, own)


@contextlib.contextmanager
def _patched(resolve, threads=None, note=None, tensor_methods=False):
    import torch.nn.init as tinit

    replacements = {}  # original function -> its stand-in
    for name in _DROP_INS:
        original = getattr(tinit, name)
        replacements[original] = _make_patched(name, original, resolve, threads, note)
    for alias in _DEPRECATED_ALIASES:
        original = getattr(tinit, alias, None)
        if original is not None:
            replacements[original] = _make_deprecated(alias, replacements[getattr(tinit, alias + "_")])
    # torch.nn.init itself, and every loaded module that imported the functions by
    # name (torch.nn.modules.activation and .transformer do: `from torch.nn.init import
    # xavier_uniform_`), so unmodified reset_parameters() code picks them up.
    saved = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or module is sys.modules[__name__]:
            continue
        for original, stand_in in replacements.items():
            attr = original.__name__
            if namespace.get(attr) is original:
                saved.append((namespace, attr, original))
                namespace[attr] = stand_in
    try:
        with (_patch_tensor_methods(resolve, threads, note) if tensor_methods
              else contextlib.nullcontext()):
            yield
    finally:
        for namespace, attr, original in reversed(saved):
            namespace[attr] = original


def _seed_from_generator(tensor, generator):
    return _draw_seed(generator), 0


@contextlib.contextmanager
def patch_torch_init(*, threads=None, tensor_methods=False):
    """Context manager: ``torch.nn.init.*`` run on fastinit inside the block.

    Unmodified model code (``nn.Linear(...)``, any ``reset_parameters()`` that calls
    ``torch.nn.init``) then initializes through fastinit.  Each random fill draws
    its seed from the call's ``generator`` or torch's default generator (see the
    module docstring), so ``torch.manual_seed`` keeps controlling the model.  For
    values that do not depend on construction order use :func:`init_module`.

    Patched: the functions in ``torch.nn.init`` and their deprecated aliases, and
    the same function objects wherever a loaded module imported them by name.  With
    ``tensor_methods=True`` also ``Tensor.normal_`` and ``Tensor.uniform_``, for code
    that initializes through them (``module.weight.data.normal_(mean=0.0, std=0.02)``,
    common in Hugging Face models); tensors that autograd records (grad mode on and
    ``requires_grad``) still go to PyTorch there.  Tensors of other dtypes (integer,
    complex) always go to PyTorch's own code.  The patch is process-wide while the
    block runs: do not construct models in other threads meanwhile.

    >>> import torch, fastinit.torch as finit
    >>> _ = torch.manual_seed(0)
    >>> with finit.patch_torch_init():
    ...     a = torch.nn.Linear(4, 3)
    >>> _ = torch.manual_seed(0)
    >>> with finit.patch_torch_init():
    ...     b = torch.nn.Linear(4, 3)
    >>> torch.equal(a.weight, b.weight)
    True
    """
    threads_v = None if threads is None else _api._threads(threads)
    with _patched(_seed_from_generator, threads_v, tensor_methods=bool(tensor_methods)):
        yield


# -------------------------------------------------------------- init_module ----
def _post_order(module, prefix):
    # Children before their parent: a parent's reset (MultiheadAttention zeroing
    # out_proj.bias, Transformer's xavier pass) overrides its children's, exactly
    # as during construction.
    for name, child in module.named_children():
        yield from _post_order(child, f"{prefix}.{name}" if prefix else name)
    yield prefix, module


def _linear_like_bias_bound(weight):
    fan_in, _ = _torch_fans(tuple(weight.shape))
    return 1 / math.sqrt(fan_in) if fan_in > 0 else 0


def _rule_linear(m, init):
    init(m.weight, "kaiming_uniform", a=math.sqrt(5))
    if m.bias is not None:
        bound = _linear_like_bias_bound(m.weight)
        init(m.bias, "uniform", a=-bound, b=bound)


def _rule_bilinear(m, init):
    bound = 1 / math.sqrt(m.weight.size(1))
    init(m.weight, "uniform", a=-bound, b=bound)
    if m.bias is not None:
        init(m.bias, "uniform", a=-bound, b=bound)


def _rule_embedding(m, init):
    init(m.weight, "normal")
    if m.padding_idx is not None:
        with torch.no_grad():
            m.weight[m.padding_idx].fill_(0)


def _rule_norm_base(m, init):  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    m.reset_running_stats()
    if m.affine:
        init(m.weight, "ones")
        init(m.bias, "zeros")


def _rule_affine_norm(m, init):  # LayerNorm, GroupNorm, RMSNorm
    if getattr(m, "weight", None) is not None:
        init(m.weight, "ones")
    if getattr(m, "bias", None) is not None:
        init(m.bias, "zeros")


def _rule_rnn(m, init):  # RNN, LSTM, GRU and their cells
    stdv = 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0
    for w in m.parameters(recurse=False):
        init(w, "uniform", a=-stdv, b=stdv)


def _rule_mha(m, init):
    if m._qkv_same_embed_dim:
        init(m.in_proj_weight, "xavier_uniform")
    else:
        for w in (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight):
            init(w, "xavier_uniform")
    if m.in_proj_bias is not None:
        init(m.in_proj_bias, "zeros")
        init(m.out_proj.bias, "zeros")
    for b in (m.bias_k, m.bias_v):
        if b is not None:
            init(b, "xavier_normal")


def _rule_prelu(m, init):
    init(m.weight, "constant", val=m.init)


def _rule_transformer(m, init):
    for p in m.parameters():
        if p.dim() > 1:
            init(p, "xavier_uniform")


def _default_rules():
    nn = torch.nn
    from torch.nn.modules.batchnorm import _NormBase
    from torch.nn.modules.conv import _ConvNd
    from torch.nn.modules.rnn import RNNBase, RNNCellBase

    rules = [
        (nn.Linear, "reset_parameters", _rule_linear),
        (nn.Bilinear, "reset_parameters", _rule_bilinear),
        (_ConvNd, "reset_parameters", _rule_linear),  # Conv1-3d, ConvTranspose1-3d: fans of the weight
        (nn.Embedding, "reset_parameters", _rule_embedding),
        (nn.EmbeddingBag, "reset_parameters", _rule_embedding),
        (_NormBase, "reset_parameters", _rule_norm_base),
        (nn.LayerNorm, "reset_parameters", _rule_affine_norm),
        (nn.GroupNorm, "reset_parameters", _rule_affine_norm),
        (RNNBase, "reset_parameters", _rule_rnn),
        (RNNCellBase, "reset_parameters", _rule_rnn),
        (nn.MultiheadAttention, "_reset_parameters", _rule_mha),
        (nn.PReLU, "reset_parameters", _rule_prelu),
        (nn.Transformer, "_reset_parameters", _rule_transformer),
    ]
    if hasattr(nn, "RMSNorm"):
        rules.append((nn.RMSNorm, "reset_parameters", _rule_affine_norm))
    return rules


def _tensor_key(t):
    # Identifies the same memory seen through another tensor object (`w.data`,
    # `w.detach()`); meta tensors have no memory to compare.
    from torch.nn.parameter import is_lazy

    if t.is_meta or is_lazy(t) or _is_dtensor(t):
        return None
    return (t.device, t.dtype, t.data_ptr(), tuple(t.shape), tuple(t.stride()))


def init_module(module, seed, *, prefix="", threads=None):
    """PyTorch's default initialization of every layer of `module`, on fastinit.

    Each parameter is filled with the distribution PyTorch's own ``reset_parameters``
    uses (Linear and Conv*/ConvTranspose*: ``kaiming_uniform_(a=sqrt(5))`` and bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Bilinear; Embedding N(0, 1) with the padding
    row zeroed; BatchNorm/InstanceNorm/LayerNorm/GroupNorm/RMSNorm weight 1, bias 0
    and running statistics reset; RNN/LSTM/GRU and cells U(-1/sqrt(hidden),
    1/sqrt(hidden)); MultiheadAttention, PReLU and Transformer as PyTorch does) with
    ``seed=seed`` and ``stream=<prefix + the parameter's qualified name>``.  So a
    parameter's values depend only on (seed, its name, its shape, its dtype): not on
    construction order, other layers, threads, device or sharding.

    Children are initialized before their parents, as during construction.  A module
    outside this list that defines ``reset_parameters`` (or ``_reset_parameters``) is
    reset by its own code under :func:`patch_torch_init`-style patching (including
    ``Tensor.normal_``/``uniform_``), each fill of one of its parameters using that
    parameter's name as the stream.  Parameters that nothing filled through fastinit (modules without a
    reset method, or whose reset uses Tensor methods directly) are reported in a
    warning.  Lazy modules that are not materialized yet are skipped.  Parameters on
    the meta device are skipped (materialize with ``module.to_empty(device=...)``
    first).  Works on DTensor parameters (each rank fills its shards).  torch's
    random generator is not used.

    Use `prefix` when `module` is part of a bigger model, so names match the full
    model's (``init_module(model.layers[3], 0, prefix="layers.3")``).

    Returns `module`.

    >>> import torch, fastinit, fastinit.torch as finit
    >>> net = finit.init_module(torch.nn.Sequential(torch.nn.Linear(4, 3)), seed=0)
    >>> w = fastinit.kaiming_uniform((3, 4), a=5 ** 0.5, seed=0, stream="0.weight")
    >>> bool((net[0].weight.detach().numpy() == w).all())
    True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"init_module expects a torch.nn.Module, got {type(module).__name__}")
    seed = _api._seed(seed)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
    threads_v = _api._threads(threads)
    from torch.nn.parameter import is_lazy

    by_id, by_key = {}, {}
    for name, t in list(module.named_parameters(prefix=prefix)) + list(module.named_buffers(prefix=prefix)):
        by_id.setdefault(id(t), name)
        key = _tensor_key(t)
        if key is not None:
            by_key.setdefault(key, name)
    touched = set()

    def name_of(tensor):
        name = by_id.get(id(tensor))
        if name is None:
            key = _tensor_key(tensor)
            name = by_key.get(key) if key is not None else None
        return name

    def init(tensor, kind, **params):
        if is_lazy(tensor) or tensor.numel() == 0:
            return
        name = name_of(tensor)
        if name is None:
            # Not a parameter or buffer: a value computed on access (torch.nn.utils.
            # parametrize); writing it would not reach the module.  Reported below.
            return
        _apply(tensor, kind, params, seed=seed, stream=name, threads=threads_v)
        touched.add(name)

    # Modules outside the rules run their own reset code under one patch of torch.nn.init
    # whose fills use (seed, the tensor's name).  A temporary the reset code makes itself
    # gets "<module name>#<k>", k counting such fills within that module's reset: its
    # code fixes the order.
    current = {"module": "", "anonymous": 0}

    def resolve(tensor, generator):
        name = name_of(tensor)
        if name is None:
            current["anonymous"] += 1
            return seed, f"{current['module']}#{current['anonymous']}"
        return seed, name

    def note(tensor):
        touched.add(name_of(tensor))

    def own_reset(m):
        for cls, method, rule in rules:
            if isinstance(m, cls):
                # A subclass that overrides the reset gets its own code run.
                return None if getattr(type(m), method) is getattr(cls, method) else method
        return next((n for n in ("reset_parameters", "_reset_parameters")
                     if callable(getattr(m, n, None))), None)

    rules = _default_rules()
    plan = [(qualname, m, own_reset(m)) for qualname, m in _post_order(module, prefix)
            if not any(is_lazy(p) for p in m.parameters(recurse=False))]
    if any(method for _, _, method in plan):
        patch = _patched(resolve, threads_v, note, tensor_methods=True)
    else:
        patch = contextlib.nullcontext()
    with patch:
        for qualname, m, method in plan:
            if method is None:
                rule = next((rule for cls, _, rule in rules if isinstance(m, cls)), None)
                if rule is not None:
                    rule(m, init)
                continue
            current.update(module=qualname, anonymous=0)
            with torch.no_grad():
                getattr(m, method)()
    untouched = [n for n, p in module.named_parameters(prefix=prefix)
                 if n not in touched and not is_lazy(p) and p.numel() > 0]
    if untouched:
        shown = ", ".join(untouched[:8]) + (", ..." if len(untouched) > 8 else "")
        warnings.warn(f"init_module: {len(untouched)} parameter(s) were not filled by fastinit "
                      f"under their own name (their module has no reset_parameters, or it does not call "
                      f"torch.nn.init on them): {shown}", stacklevel=2)
    return module


# --------------------------------------------------------------- sharded init ----
def _init_name(init):
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
    "trunc_normal", "kaiming_uniform", ... with or without the trailing underscore) or
    a fastinit.torch function, and `params` its PyTorch arguments (``mean=``, ``std=``,
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
    shape = _api._shape(global_shape)
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
            region_start, region_len = _api._region((total,), (o,))
            start, length = region_start[0], region_len[0]
            if length != n:
                raise ValueError(f"offsets[{d}] = {o.start}:{o.stop} has length {length} but local has "
                                 f"size {n} in dimension {d}")
        else:
            start = _api._as_int(f"offsets[{d}]", o, 0)
        if start + n > total:
            raise ValueError(f"local block {start}:{start + n} does not fit dimension {d} of size {total}")
        starts.append(start)
    if name in ("kaiming_uniform", "kaiming_normal") and math.prod(shape) == 0:
        return local
    _fill_block(local, shape, tuple(starts), name, params, generator=generator, seed=seed,
                stream=stream, threads=threads)
    return local


# --------------------------------------------------------------------- LSUV ----
class _StopForward(Exception):
    pass


def lsuv_(module, batch, tol=0.1, max_iter=10, *, seed=None, generator=None, layers=None,
          zero_bias=True, threads=None, verbose=False):
    """Layer-sequential unit-variance init (Mishkin & Matas 2015, "All you need is a good init").

    1. Every Linear and Conv* layer (or the `layers` given: module types or instances)
       gets an orthogonal weight (``orthogonal_`` with ``stream=<its qualified name>.weight``)
       and, with `zero_bias`, a zero bias.
    2. In the order the forward pass first reaches them, each layer's weight is divided
       by sqrt(Var(output)) on `batch` until the variance of the layer's output is within
       `tol` of 1 (at most `max_iter` forward passes per layer; a warning names any layer
       that does not get there).  Forward hooks measure the output; the pass stops at the
       layer being fitted.

    `batch` is a tensor (or a tuple of positional arguments) for ``module(...)``.  The
    module runs in eval mode without gradients during the procedure (dropout off,
    BatchNorm running statistics untouched); its training flags are restored.  The
    seed is drawn from `generator` (or torch's default generator) when not given.
    Returns `module`.

    >>> import torch, fastinit.torch as finit
    >>> net = torch.nn.Sequential(torch.nn.Linear(20, 50), torch.nn.ReLU(), torch.nn.Linear(50, 5))
    >>> x = torch.randn(256, 20, generator=torch.Generator().manual_seed(0)) * 7
    >>> _ = finit.lsuv_(net, x, seed=0)
    >>> abs(float(net(x).detach().var()) - 1) < 0.1
    True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"lsuv_ expects a torch.nn.Module, got {type(module).__name__}")
    tol = _api._as_float("tol", tol)
    if tol <= 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    max_iter = _api._as_int("max_iter", max_iter, 1)
    args = batch if isinstance(batch, tuple) else (batch,)
    from torch.nn.modules.conv import _ConvNd

    if layers is None:
        layers = (torch.nn.Linear, _ConvNd)
    elif isinstance(layers, (type, torch.nn.Module)):
        layers = (layers,)
    layers = tuple(layers)
    layer_types = tuple(x for x in layers if isinstance(x, type))
    layer_ids = {id(x) for x in layers if isinstance(x, torch.nn.Module)}
    targets = [(name, m) for name, m in module.named_modules()
               if (isinstance(m, layer_types) or id(m) in layer_ids)
               and isinstance(getattr(m, "weight", None), torch.Tensor)]
    if not targets:
        raise ValueError("lsuv_ found no layer to initialize: the module has no Linear or Conv layer "
                         "with a weight (pass layers=...)")
    seed = _resolve_seed(seed, generator)

    with torch.no_grad():
        for name, m in targets:
            orthogonal_(m.weight, seed=seed, stream=f"{name}.weight", threads=threads)
            if zero_bias and getattr(m, "bias", None) is not None:
                zeros_(m.bias)

    training = {m: m.training for m in module.modules()}
    module.eval()
    order, handles = [], []
    try:
        # The order in which forward reaches the layers (first call of each).
        def record(m, inputs, output):
            if m not in order:
                order.append(m)

        for _, m in targets:
            handles.append(m.register_forward_hook(record))
        with torch.no_grad():
            module(*args)
        for h in handles:
            h.remove()
        handles.clear()
        names = {m: name for name, m in targets}
        unreached = [names[m] for _, m in targets if m not in order]
        if unreached:
            warnings.warn(f"lsuv_: the forward pass never reached {', '.join(unreached)}; "
                          "their weights stay orthogonal", stacklevel=2)

        for m in order:
            captured = []

            def stop_here(mod, inputs, output):
                captured.append(output)
                raise _StopForward

            handles.append(m.register_forward_hook(stop_here))

            def output_variance():
                captured.clear()
                try:
                    with torch.no_grad():
                        module(*args)
                except _StopForward:
                    pass
                if not captured:
                    raise RuntimeError(f"lsuv_: layer {names[m]} was not reached on the second pass")
                return float(captured[0].detach().to(torch.float64).var())

            var = output_variance()
            for _ in range(max_iter):
                if abs(var - 1.0) < tol:
                    break
                if not (var > 0 and math.isfinite(var)):
                    break
                with torch.no_grad():
                    m.weight.mul_(1.0 / math.sqrt(var))
                var = output_variance()
            handles.pop().remove()
            if verbose:
                print(f"lsuv_: {names[m]}: output variance {var:.4f}")
            if not abs(var - 1.0) < tol:
                warnings.warn(f"lsuv_: layer {names[m]} ends with output variance {var:.4g} "
                              f"(wanted 1 +- {tol}) after {max_iter} rescalings", stacklevel=2)
    finally:
        for h in handles:
            h.remove()
        for m, flag in training.items():
            m.training = flag
    return module
