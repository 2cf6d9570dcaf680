"""Gains and fans: PyTorch's calculate_gain table and the fan computation of both layouts
(torch (out, in, *kernel) and jax (*kernel, in, out) with explicit axes).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .._validate import ShapeLike, as_int, check_shape

Axes = Union[int, Sequence[int]]

_LINEAR_FNS = ["linear", "conv1d", "conv2d", "conv3d",
               "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


# -------------------------------------------------------------------- gains ----
def calculate_gain(nonlinearity: str, param: Optional[Union[int, float]] = None) -> float:
    """The recommended gain for `nonlinearity`, exactly as ``torch.nn.init.calculate_gain``.

    ================= ==========================================
    nonlinearity      gain
    ================= ==========================================
    linear, conv*d,   1
    conv_transpose*d,
    sigmoid
    tanh              5 / 3
    relu              sqrt(2)
    leaky_relu        sqrt(2 / (1 + negative_slope**2)), slope 0.01 when `param` is None
    selu              3 / 4
    ================= ==========================================

    `param` must be an int or a float (NumPy real scalars are accepted too), not a bool.
    Anything else raises ValueError, as PyTorch does.

    >>> import fastinit
    >>> fastinit.calculate_gain("relu") == 2 ** 0.5
    True
    >>> round(fastinit.calculate_gain("leaky_relu", 0.2), 6)
    1.38675
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (bool, np.bool_)):
            # bool is an int subclass: PyTorch rejects it explicitly
            raise ValueError(f"negative_slope {param} not a valid number")
        elif isinstance(param, (int, float, np.integer, np.floating)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


# --------------------------------------------------------------------- fans ----
def check_axes(name, axis, ndim, repeats=False):
    """A tuple of non-negative axes from an int or a sequence of ints (distinct unless
    `repeats`)."""
    if isinstance(axis, (list, tuple)):
        raw = list(axis)
    else:
        raw = [axis]
    out = []
    for a in raw:
        a = as_int(name, a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name} {a} is out of range for a shape with {ndim} dimensions")
        a %= ndim
        if a in out and not repeats:
            raise ValueError(f"{name} names axis {a} twice")
        out.append(a)
    return tuple(out)


def _is_axis(value, default):
    """True when `value` is None or the int `default` (the layout's own axis)."""
    if value is None:
        return True
    return (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            and value == default)


def fans(shape: ShapeLike, layout: str = "torch", in_axis: Optional[Axes] = None,
         out_axis: Optional[Axes] = None, batch_axis: Optional[Axes] = ()) -> Tuple[float, float]:
    """(fan_in, fan_out) of a weight of `shape`, computed the way its framework does.

    layout="torch": shape is ``(out, in, *kernel)``; fan_in = in * prod(kernel),
        fan_out = out * prod(kernel), as ints (``torch.nn.init._calculate_fan_in_and_fan_out``).
        Fewer than 2 dimensions is a ValueError, as in PyTorch.
    layout="jax": shape is ``(*kernel, in, out)`` with ``in_axis=-2, out_axis=-1`` and
        ``batch_axis=()``; receptive field = prod(shape) / (in * out * batch) and
        fan = size * receptive field, as floats (``jax.nn.initializers`` ``_compute_fans``).
        With the default axes, a 0-D shape gives (1.0, 1.0) and a 1-D shape (n, n) (Keras's
        guards; JAX itself rejects them).

    Explicit `in_axis`, `out_axis`, `batch_axis` (ints or tuples of ints, negative allowed)
    override the layout's axes; the receptive field is then the product of the other axes.
    With layout="jax" they are taken as JAX takes them: an axis may be named twice, or by
    two of them (receptive field = prod(shape) / (in * out * batch), as JAX computes it);
    with layout="torch" they must name different axes.
    The result keeps the layout's number type (int for torch, float for jax).

    >>> import fastinit
    >>> fastinit.fans((64, 32, 3, 3))               # PyTorch Conv2d weight
    (288, 576)
    >>> fastinit.fans((3, 3, 32, 64), layout="jax")  # Flax Conv kernel
    (288.0, 576.0)
    >>> fastinit.fans((2, 4, 8), layout="jax", batch_axis=0)
    (4.0, 8.0)
    """
    if layout not in ("torch", "jax"):
        raise ValueError(f"layout must be 'torch' (out, in, *kernel) or 'jax' (*kernel, in, out), got {layout!r}")
    dims = check_shape(shape)
    nd = len(dims)
    if batch_axis is None or (isinstance(batch_axis, (list, tuple)) and len(batch_axis) == 0):
        batch_axis = ()
    defaults = in_axis is None and out_axis is None and batch_axis == ()
    if layout == "torch":
        if nd < 2:
            raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
        if defaults:
            receptive = math.prod(dims[2:])
            return dims[1] * receptive, dims[0] * receptive
        in_axis = 1 if in_axis is None else in_axis
        out_axis = 0 if out_axis is None else out_axis
    else:
        jax_defaults = (_is_axis(in_axis, -2) and _is_axis(out_axis, -1) and batch_axis == ())
        if nd == 0 and jax_defaults:
            return 1.0, 1.0
        if nd == 1 and jax_defaults:
            return float(dims[0]), float(dims[0])
        in_axis = -2 if in_axis is None else in_axis
        out_axis = -1 if out_axis is None else out_axis
    jax = layout == "jax"  # JAX takes the axes as given: repeated or shared ones too
    ins = check_axes("in_axis", in_axis, nd, repeats=jax)
    outs = check_axes("out_axis", out_axis, nd, repeats=jax)
    batch = check_axes("batch_axis", batch_axis, nd, repeats=jax)
    if not jax and (set(ins) & set(outs) or set(ins) & set(batch) or set(outs) & set(batch)):
        raise ValueError(f"in_axis {in_axis}, out_axis {out_axis} and batch_axis {batch_axis} "
                         "must name different axes")
    in_size = math.prod(dims[a] for a in ins)
    out_size = math.prod(dims[a] for a in outs)
    batch_size = math.prod(dims[a] for a in batch)
    used = set(ins) | set(outs) | set(batch)
    receptive = math.prod(d for a, d in enumerate(dims) if a not in used)
    if layout == "torch":
        return in_size * receptive, out_size * receptive
    if in_size * out_size * batch_size == 0:
        return float(in_size * receptive), float(out_size * receptive)
    # JAX's own arithmetic (float division), so the numbers match it to the last bit
    receptive_f = math.prod(dims) / in_size / out_size / batch_size
    return in_size * receptive_f, out_size * receptive_f


def fan_for_mode(fan_in, fan_out, mode, valid):
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    if mode == "fan_avg" and "fan_avg" in valid:
        return (fan_in + fan_out) / 2
    if mode == "fan_geo_avg" and "fan_geo_avg" in valid:
        return (fan_in * fan_out) ** 0.5
    raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
