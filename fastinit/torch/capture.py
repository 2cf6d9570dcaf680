"""Fill capture: unmodified initialization code runs with every random fill on fastinit.

A *filler* decides the (seed, stream) of each fill.  Three hooks, all undone when
the block ends, bring it every random fill however the code reaches it:

* the code objects of ``torch.nn.init``'s random functions (and of timm's
  ``_trunc_normal_``) are swapped for ones that hand the call to the filler, so
  references stored before the block (transformers' ``TORCH_INIT_FUNCTIONS``,
  torchtitan's ``functools.partial(nn.init.trunc_normal_, ...)``) reach fastinit,
  truncated normals are fastinit's exact ``trunc_normal``, and references captured
  inside the block are torch's own functions again afterwards;
* a ``TorchFunctionMode`` catches ``Tensor.normal_`` and ``Tensor.uniform_``;
* the same mode sees every in-place write, so that init_module knows which tensors
  the code reached (and can leave the ones it protects alone).

Tensors fastinit does not fill the way torch would (other dtypes and layouts,
tensor subclasses other than Parameter and DTensor, autograd-recorded in-place
calls) go to torch's own code.
"""
from __future__ import annotations

import contextlib
import sys
import threading
import types

import torch
from torch.overrides import TorchFunctionMode

from ._tensor import _is_dtensor
from .nn_init import _DROP_INS

_FILLABLE_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_RANDOM = frozenset({"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
                     "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_"})


def fillable(tensor):
    return (isinstance(tensor, torch.Tensor)
            and (type(tensor) in (torch.Tensor, torch.nn.Parameter) or _is_dtensor(tensor))
            and tensor.dtype in _FILLABLE_DTYPES and tensor.layout == torch.strided)


# ------------------------------------------------------------ code swaps ----
# Same signatures as the functions they stand in for (checked before swapping);
# the body hands the call to the active filler, or to a copy of the original.
def _shim_uniform_(tensor, a=0.0, b=1.0, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "uniform_", tensor, {"a": a, "b": b}, generator)


def _shim_normal_(tensor, mean=0.0, std=1.0, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "normal_", tensor, {"mean": mean, "std": std}, generator)


def _shim_trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "trunc_normal_", tensor, {"mean": mean, "std": std, "a": a, "b": b}, generator)


def _shim_xavier_uniform_(tensor, gain=1.0, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "xavier_uniform_", tensor, {"gain": gain}, generator)


def _shim_xavier_normal_(tensor, gain=1.0, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "xavier_normal_", tensor, {"gain": gain}, generator)


def _shim_kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "kaiming_uniform_", tensor, {"a": a, "mode": mode, "nonlinearity": nonlinearity}, generator)


def _shim_kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "kaiming_normal_", tensor, {"a": a, "mode": mode, "nonlinearity": nonlinearity}, generator)


def _shim_orthogonal_(tensor, gain=1, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "orthogonal_", tensor, {"gain": gain}, generator)


def _shim_sparse_(tensor, sparsity, std=0.01, generator=None):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "sparse_", tensor, {"sparsity": sparsity, "std": std}, generator)


def _shim_timm_trunc_normal_(tensor, mean, std, a, b):
    return __import__("sys").modules["fastinit.torch.capture"]._redirect(
        "timm:_trunc_normal_", tensor, {"mean": mean, "std": std, "a": a, "b": b}, None)


_TORCH_SHIMS = {
    "uniform_": _shim_uniform_, "normal_": _shim_normal_, "trunc_normal_": _shim_trunc_normal_,
    "xavier_uniform_": _shim_xavier_uniform_, "xavier_normal_": _shim_xavier_normal_,
    "kaiming_uniform_": _shim_kaiming_uniform_, "kaiming_normal_": _shim_kaiming_normal_,
    "orthogonal_": _shim_orthogonal_, "sparse_": _shim_sparse_,
}
_ORIGINALS = {}  # key -> a copy of the original function (its code, its globals)
_SWAPPED = []  # (function, original code) while swapped
_ACTIVE = []  # (thread id, filler), innermost last
_LOCK = threading.Lock()


_DROP_IN_OF = {"timm:_trunc_normal_": "trunc_normal_"}


def _targets():
    """(key, function, shim) for every function to swap that is loaded."""
    import torch.nn.init as tinit

    out = [(name, getattr(tinit, name), shim) for name, shim in _TORCH_SHIMS.items()]
    timm_init = sys.modules.get("timm.layers.weight_init")
    if timm_init is not None and callable(getattr(timm_init, "_trunc_normal_", None)):
        out.append(("timm:_trunc_normal_", timm_init._trunc_normal_, _shim_timm_trunc_normal_))
    return out


def _same_parameters(f, g):
    c, d = f.__code__, g.__code__
    return (c.co_varnames[:c.co_argcount] == d.co_varnames[:d.co_argcount]
            and c.co_kwonlyargcount == d.co_kwonlyargcount == 0 and not c.co_freevars)


def _swap_in():
    for key, fn, shim in _targets():
        if not isinstance(fn, types.FunctionType) or not _same_parameters(fn, shim):
            continue  # another torch/timm version: the Tensor-method hook still sees its fills
        _ORIGINALS[key] = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__,
                                             fn.__defaults__, fn.__closure__)
        _ORIGINALS[key].__kwdefaults__ = fn.__kwdefaults__
        _SWAPPED.append((fn, fn.__code__))
        fn.__code__ = shim.__code__


def _swap_out():
    while _SWAPPED:
        fn, code = _SWAPPED.pop()
        fn.__code__ = code


def _redirect(key, tensor, params, generator):
    filler = None
    me = threading.get_ident()
    for owner, f in reversed(_ACTIVE):
        if owner == me:
            filler = f
            break
    if filler is not None:
        out = filler.fill(_DROP_IN_OF.get(key, key), tensor, params, generator)
        if out is not NotImplemented:
            return out
    original = _ORIGINALS[key]
    if key.startswith("timm:"):
        return original(tensor, params["mean"], params["std"], params["a"], params["b"])
    return original(tensor, **params, generator=generator)


# -------------------------------------------------------- tensor methods ----
_METHODS = {torch.Tensor.normal_: ("normal_", ("mean", "std")),
            torch.Tensor.uniform_: ("uniform_", ("from", "to"))}
_NOT_WRITES = frozenset({"requires_grad_", "share_memory_", "retain_grad"})
# New tensors shaped after a given one: a temporary an initializer builds for that tensor
# (torchtitan's fused qkv init fills t.new_empty(...) for q, k and v, then copies).
_DERIVING = frozenset({torch.Tensor.new_empty, torch.Tensor.new_zeros, torch.Tensor.new_ones,
                       torch.Tensor.new_full, torch.empty_like, torch.zeros_like, torch.ones_like,
                       torch.full_like})


def _write_target(func, args, kwargs):
    """The tensor an in-place call writes, or None."""
    out = kwargs.get("out")
    if isinstance(out, torch.Tensor):
        return out
    name = getattr(func, "__name__", "")
    if not args or not isinstance(args[0], torch.Tensor):
        return None
    if name == "__setitem__" or (name.endswith("_") and not name.endswith("__")
                                 and name not in _NOT_WRITES):
        return args[0]
    return None


class _FillMode(TorchFunctionMode):
    def __init__(self, filler):
        super().__init__()
        self.filler = filler

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        filler = self.filler
        if not filler.busy:
            method = _METHODS.get(func) if filler.tensor_methods else None
            if method is not None:
                out = self._method(method, args, kwargs)
                if out is not NotImplemented:
                    return out
            elif filler.tracks_writes:
                target = _write_target(func, args, kwargs)
                if target is not None and filler.write(target):
                    return None if getattr(func, "__name__", "") == "__setitem__" else target
                if func in _DERIVING and args and isinstance(args[0], torch.Tensor):
                    out = func(*args, **kwargs)
                    filler.derive(args[0], out)
                    return out
        return func(*args, **kwargs)

    def _method(self, method, args, kwargs):
        name, keys = method
        self_t, rest = args[0], args[1:]
        kwargs = dict(kwargs)
        generator = kwargs.pop("generator", None)
        if (len(rest) > 2 or set(kwargs) - set(keys[len(rest):])
                or (torch.is_grad_enabled() and self_t.requires_grad)):
            return NotImplemented  # torch's own call, and its errors
        values = dict(zip(keys, (0.0, 1.0)))
        values.update(zip(keys, rest))
        values.update(kwargs)
        params = ({"mean": values["mean"], "std": values["std"]} if name == "normal_"
                  else {"a": values["from"], "b": values["to"]})
        return self.filler.fill(name, self_t, params, generator)


class Filler:
    """Base: resolve(tensor, generator) -> (seed, stream), or None to leave it as is."""

    tracks_writes = False

    def __init__(self, threads, tensor_methods=True):
        self.threads = threads
        self.tensor_methods = tensor_methods
        self.busy = False

    def resolve(self, tensor, generator):
        raise NotImplementedError

    def write(self, tensor):
        """Seen an in-place write to `tensor`; True drops it."""
        return False

    def derive(self, source, new):
        """Seen `new` made after `source` (new_empty, empty_like, ...)."""

    def fill(self, name, tensor, params, generator):
        if not fillable(tensor):
            return NotImplemented
        if tensor.is_meta:
            return tensor  # as torch: no work and no generator draw
        if name not in _RANDOM:
            if self.write(tensor):
                return tensor
            self.busy = True
            try:
                return _DROP_INS[name](tensor, **params)
            finally:
                self.busy = False
        resolved = self.resolve(tensor, generator)
        if resolved is None:
            return tensor
        seed, stream = resolved
        self.busy = True
        try:
            return _DROP_INS[name](tensor, **params, seed=seed, stream=stream, threads=self.threads)
        finally:
            self.busy = False


@contextlib.contextmanager
def capture(filler):
    """Within the block, random fills in this thread go to `filler`."""
    with _LOCK:
        if not _ACTIVE:
            _swap_in()
        _ACTIVE.append((threading.get_ident(), filler))
    try:
        with (_FillMode(filler) if filler.tensor_methods or filler.tracks_writes
              else contextlib.nullcontext()):
            yield filler
    finally:
        with _LOCK:
            _ACTIVE.remove(next(e for e in _ACTIVE if e[1] is filler))
            if not _ACTIVE:
                _swap_out()
