"""lsuv_: layer-sequential unit-variance init (Mishkin & Matas 2015).
"""
from __future__ import annotations

import math
import warnings

import torch

from fastinit import _validate

from ._tensor import _resolve_seed
from .nn_init import orthogonal_, zeros_


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
    tol = _validate.as_float("tol", tol)
    if tol <= 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    max_iter = _validate.as_int("max_iter", max_iter, 1)
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
