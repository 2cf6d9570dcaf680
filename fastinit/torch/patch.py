"""patch_torch_init: run unmodified torch.nn.init code (and Tensor.normal_/uniform_) on
fastinit inside a with block.
"""
from __future__ import annotations

import contextlib
import sys
import warnings

import torch

from fastinit import _validate

from ._tensor import _apply, _draw_seed, _is_dtensor
from .nn_init import _DROP_INS

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
    threads_v = None if threads is None else _validate.check_threads(threads)
    with _patched(_seed_from_generator, threads_v, tensor_methods=bool(tensor_methods)):
        yield
