"""Construction without init work (empty_init) and materialization of meta tensors."""
from __future__ import annotations

import contextlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["empty_init"]

# On a meta tensor an in-place op computes nothing and returns the tensor, but torch
# gets there through Python decompositions (about 0.7 ms for ``normal_``): for the init
# code constructors run (nn.Linear's reset_parameters, transformers' post_init, timm's
# and torchtitan's init in __init__) that adds up to more than the rest of the
# construction.  empty_init answers those ops at once, below every Python wrapper:
# element-wise in-place ops only (never ones that change a tensor's shape or strides,
# such as t_ or resize_), by the name of the aten op.
_VALUE_OPS = frozenset({
    "normal_", "uniform_", "zero_", "fill_", "random_", "exponential_", "log_normal_",
    "cauchy_", "geometric_", "bernoulli_", "erfinv_", "mul_", "add_", "sub_", "div_",
    "clamp_", "clamp_min_", "clamp_max_", "abs_", "neg_", "sqrt_", "exp_", "log_", "fmod_",
    "remainder_"})


class _SkipMetaWork(TorchDispatchMode):
    """Element-wise in-place ops on a meta tensor, with scalar arguments, return it."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if (args and isinstance(args[0], torch.Tensor) and args[0].is_meta
                and func.overloadpacket.__name__ in _VALUE_OPS
                and not any(isinstance(v, torch.Tensor) for v in args[1:])
                and not any(isinstance(v, torch.Tensor) for v in kwargs.values())):
            return args[0]
        return func(*args, **kwargs)


def _is_lazy(t):
    from torch.nn.parameter import is_lazy

    return is_lazy(t)


def _to_meta(param):
    meta = torch.nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)
    for key, value in param.__dict__.items():  # flags such as _no_weight_decay
        meta.__dict__.setdefault(key, value)
    return meta


@contextlib.contextmanager
def empty_init():
    """Context manager: modules built inside have their parameters on the meta device.

    Buffers stay real (computed by the constructors: rotary ``inv_freq``, BERT's
    ``position_ids``), as with accelerate's ``init_empty_weights(include_buffers=False)``;
    parameters get no memory and no initialization work at all (the init code a
    constructor runs on them, such as transformers' ``post_init``, returns at once).  Then
    :func:`init_module` materializes them (on its ``device``, default CPU) and
    initializes them with the model's own scheme in one pass.  Shared parameters
    stay shared.  The patch (of ``torch.nn.Module.register_parameter``) is
    process-wide while the block runs.

    >>> import torch, fastinit.torch as finit
    >>> with finit.empty_init():
    ...     net = torch.nn.Linear(4096, 4096)
    >>> net.weight.is_meta
    True
    >>> _ = finit.init_module(net, seed=0)
    >>> net.weight.device.type
    'cpu'
    """
    original = torch.nn.Module.register_parameter

    def register_parameter(self, name, param):
        original(self, name, param)
        p = self._parameters.get(name)
        if p is not None and not p.is_meta and not _is_lazy(p):
            self._parameters[name] = _to_meta(p)

    torch.nn.Module.register_parameter = register_parameter
    try:
        with _SkipMetaWork():
            yield
    finally:
        torch.nn.Module.register_parameter = original


def _empty_like(t, device):
    new = torch.empty_like(t, device=device)  # a DTensor for a DTensor (local shard on device)
    if isinstance(t, torch.nn.Parameter) or getattr(t, "_is_param", False):
        new = torch.nn.Parameter(new, requires_grad=t.requires_grad)
    for key, value in getattr(t, "__dict__", {}).items():
        if not key.startswith("__"):
            new.__dict__.setdefault(key, value)
    return new


class Materialized:
    """What materialize() replaced: undo() puts the meta tensors back."""

    def __init__(self):
        self.replaced = []  # (owner dict, key, old tensor, new tensor)

    def __bool__(self):
        return bool(self.replaced)

    def new_tensors(self):
        return {id(new): new for _, _, _, new in self.replaced}

    def undo(self):
        for store, key, old, _ in reversed(self.replaced):
            store[key] = old
        self.replaced.clear()


def materialize(module, device):
    """Give every meta parameter and buffer of `module` uninitialized memory on `device`.

    A tensor shared by several modules gets one new tensor, still shared.  On failure
    nothing stays replaced; the error names the tensor.
    """
    done = Materialized()
    memo = {}
    try:
        for mod_name, m in module.named_modules(remove_duplicate=False):
            for store in (m._parameters, m._buffers):
                for key, t in list(store.items()):
                    if t is None or not t.is_meta or _is_lazy(t):
                        continue
                    new = memo.get(id(t))
                    if new is None:
                        try:
                            new = _empty_like(t, device)
                        except (RuntimeError, MemoryError) as e:
                            where = f"{mod_name}.{key}" if mod_name else key
                            raise RuntimeError(
                                f"init_module: cannot materialize {where} {tuple(t.shape)} {t.dtype} "
                                f"on {device} for {type(module).__name__}: {e}") from e
                        memo[id(t)] = new
                    store[key] = new
                    done.replaced.append((store, key, t, new))
    except BaseException:
        done.undo()
        raise
    return done
