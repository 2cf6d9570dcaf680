"""signal_propagation: push a random batch through a deep stack of identical layers and
record the signal's std at every layer, forward and backward.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .activations import _activation
from .spec import _resolve_init

# Streams of the random input batch and output gradient: named, so they never
# collide with a layer's stream (the layer index).
INPUT_STREAM = "fastinit.diagnostics.input"


GRAD_STREAM = "fastinit.diagnostics.output_grad"


# Weights and activation derivatives kept for the backward pass above this many bytes: refuse.
_MAX_STORED_BYTES = 4 << 30


def _weight(draw, layout, kind, width, kernel_size, seed, stream, dtype):
    """Layer weights as (in, out) for dense, (k, in, out) for conv."""
    if kind == "dense":
        shape = (width, width)
    elif layout == "torch":
        shape = (width, width, kernel_size)
    else:
        shape = (kernel_size, width, width)
    w = np.asarray(draw(shape, seed, stream))
    if w.shape != shape:
        raise ValueError(f"the initializer returned shape {w.shape} for requested shape {shape}")
    w = w.astype(dtype, copy=False)
    if layout == "torch":  # (out, in[, k]) -> (in, out) / (k, in, out)
        w = w.T
    # A transposed 2-D view goes to BLAS as is (a transpose flag, no copy); conv taps
    # w[j] must each be contiguous.
    return w if kind == "dense" else np.ascontiguousarray(w)


# ------------------------------------------------------------------- layers ----
def _padded(x, k, padding):
    """x (batch, length, channels) with the k - 1 "same" padding positions added:
    xp[:, t + j] is the input that tap j reads for output t."""
    pad, length = (k - 1) // 2, x.shape[1]
    if padding == "circular":
        return x[:, _wrap_index(length, k)]
    xp = np.zeros((x.shape[0], length + k - 1, x.shape[2]), dtype=x.dtype)
    xp[:, pad:pad + length] = x
    return xp


def _wrap_index(length, k):
    pad = (k - 1) // 2
    return np.arange(-pad, length + k - 1 - pad) % length


def _conv_forward(x, w, padding):
    batch, length, channels = x.shape
    k = w.shape[0]
    xp = _padded(x, k, padding)
    z = None
    for j in range(k):  # one (batch * length, in) @ (in, out) product per tap: BLAS-friendly
        term = xp[:, j:j + length].reshape(-1, channels) @ w[j]
        z = term if z is None else z + term
    return z.reshape(batch, length, w.shape[2])


def _conv_backward(delta, w, padding):
    batch, length, _ = delta.shape
    k = w.shape[0]
    pad = (k - 1) // 2
    flat = delta.reshape(-1, delta.shape[2])
    gp = np.zeros((batch, length + k - 1, w.shape[1]), dtype=delta.dtype)
    for j in range(k):
        gp[:, j:j + length] += (flat @ w[j].T).reshape(batch, length, -1)
    g = gp[:, pad:pad + length].copy()
    if padding == "circular":  # fold the wrapped-around positions back onto the ones they copied
        idx = _wrap_index(length, k)
        for p in list(range(pad)) + list(range(pad + length, length + k - 1)):
            g[:, idx[p]] += gp[:, p]
    return g


def _std(a):
    with np.errstate(all="ignore"):
        return float(np.std(a, dtype=np.float64))


# ------------------------------------------------------------------- result ----
@dataclasses.dataclass(frozen=True, eq=False)
class PropagationResult:
    """Per-layer signal statistics of one (initializer, activation) network.

    ``forward_std[l]``: std of layer ``l``'s output; ``backward_std[l]``: std of the
    gradient at layer ``l``'s input (see the module docstring).  ``input_std`` and
    ``output_grad_std`` are the std of the random input batch and output gradient.
    """

    init: str
    activation: str
    depth: int
    width: int
    batch: int
    kind: str
    seed: int
    forward_std: np.ndarray
    backward_std: np.ndarray
    forward_mean: np.ndarray
    input_std: float
    output_grad_std: float
    tolerance: float
    params: dict = dataclasses.field(default_factory=dict)

    @property
    def forward_ratio(self) -> float:
        """std of the last layer's output over std of the input."""
        return _ratio(self.forward_std[-1], self.input_std)

    @property
    def backward_ratio(self) -> float:
        """std of the gradient at the network input over std of the output gradient."""
        return _ratio(self.backward_std[0], self.output_grad_std)

    @property
    def forward_vanishing(self) -> bool:
        return _vanishes(self.forward_std, self.forward_ratio, self.tolerance)

    @property
    def forward_exploding(self) -> bool:
        return _explodes(self.forward_std, self.forward_ratio, self.tolerance)

    @property
    def backward_vanishing(self) -> bool:
        return _vanishes(self.backward_std, self.backward_ratio, self.tolerance)

    @property
    def backward_exploding(self) -> bool:
        return _explodes(self.backward_std, self.backward_ratio, self.tolerance)

    @property
    def vanishing(self) -> bool:
        """The forward or the backward signal vanishes."""
        return self.forward_vanishing or self.backward_vanishing

    @property
    def exploding(self) -> bool:
        """The forward or the backward signal explodes."""
        return self.forward_exploding or self.backward_exploding

    @property
    def ok(self) -> bool:
        return not (self.vanishing or self.exploding)

    @property
    def status(self) -> str:
        """'ok', or what goes wrong, e.g. 'forward vanishing, backward vanishing'."""
        parts = [f"{d} {w}" for d, v, e in (
            ("forward", self.forward_vanishing, self.forward_exploding),
            ("backward", self.backward_vanishing, self.backward_exploding))
            for w, flag in (("vanishing", v), ("exploding", e)) if flag]
        return ", ".join(parts) if parts else "ok"

    def summary(self) -> str:
        """One line: label, end-to-end ratios, status."""
        return (f"{self.init}: forward x{_fmt(self.forward_ratio)}, "
                f"backward x{_fmt(self.backward_ratio)} over {self.depth} layers: {self.status}")

    def to_dict(self) -> dict:
        """Plain Python types, ready for json.dumps."""
        return {
            "init": self.init, "activation": self.activation, "depth": self.depth,
            "width": self.width, "batch": self.batch, "kind": self.kind, "seed": self.seed,
            "params": dict(self.params), "tolerance": self.tolerance,
            "input_std": self.input_std, "output_grad_std": self.output_grad_std,
            "forward_std": [_jsonable(v) for v in self.forward_std],
            "backward_std": [_jsonable(v) for v in self.backward_std],
            "forward_mean": [_jsonable(v) for v in self.forward_mean],
            "forward_ratio": _jsonable(self.forward_ratio),
            "backward_ratio": _jsonable(self.backward_ratio),
            "vanishing": self.vanishing, "exploding": self.exploding, "status": self.status,
        }

    def __repr__(self):
        return (f"PropagationResult(init={self.init!r}, activation={self.activation!r}, "
                f"depth={self.depth}, width={self.width}, kind={self.kind!r}, "
                f"forward_ratio={_fmt(self.forward_ratio)}, backward_ratio={_fmt(self.backward_ratio)}, "
                f"status={self.status!r})")


def _ratio(a, b):
    a, b = float(a), float(b)
    if b == 0 or not math.isfinite(b):
        return math.nan
    return a / b


def _vanishes(stds, ratio, tol):
    if not np.all(np.isfinite(stds)):
        return False  # overflow is explosion, not vanishing
    return bool(ratio == 0 or ratio < 1.0 / tol)


def _explodes(stds, ratio, tol):
    return bool(not np.all(np.isfinite(stds)) or ratio > tol)


def _jsonable(v):
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _fmt(v):
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"


# ---------------------------------------------------------------- the probe ----
def signal_propagation(init, activation, depth, width, *, batch=256, seed=0, kind="dense",
                       length=16, kernel_size=3, padding="circular", negative_slope=None,
                       layout=None, dtype="float32", tolerance=10.0):
    """Forward and backward std at every layer of a deep net initialized by `init`.

    Parameters
    ----------
    init : str or callable
        ``"he_normal"``, ``"xavier_normal:gain=5/3"``, ``"normal:0.01"``, ... (see the
        module docstring), a `Recommendation`, or ``f(shape, *, seed, stream)``.
    activation : str
        linear, relu, leaky_relu (or ``"leaky_relu:0.2"``), tanh, sigmoid, selu, gelu.
    depth, width : int
        Number of layers; units (dense) or channels (conv) per layer.
    batch : int
        Rows of the random input.
    seed : int
        Seed of the weights (layer ``l`` uses stream ``l``), the input and the output gradient.
    kind : "dense" or "conv"
        Fully connected layers, or 1-D convolutions over ``length`` positions with
        ``kernel_size`` taps and "same" ``padding`` ("circular" or "zeros").
    layout : "torch", "jax" or None
        Layout the initializer is asked for (None: from its name; callables: torch).
    dtype : "float32" or "float64"
        Arithmetic of the network (float32 by default: fast matmuls).
    tolerance : float
        End-to-end std ratio beyond which the signal counts as vanishing (< 1/tol)
        or exploding (> tol).

    Returns
    -------
    PropagationResult

    Examples
    --------
    >>> r = signal_propagation("normal:0.01", "tanh", depth=20, width=128, batch=64)
    >>> r.status
    'forward vanishing, backward vanishing'
    >>> r = signal_propagation("xavier_normal", "tanh", depth=20, width=128, batch=64)
    >>> r.ok, len(r.forward_std), len(r.backward_std)
    (True, 20, 20)
    """
    from .. import _validate, fills

    act_name, slope, act = _activation(activation, negative_slope)
    depth = _validate.as_int("depth", depth, 1)
    width = _validate.as_int("width", width, 1)
    batch = _validate.as_int("batch", batch, 1)
    seed = _validate.check_seed(seed)
    if kind not in ("dense", "conv"):
        raise ValueError(f"kind must be 'dense' or 'conv', got {kind!r}")
    if kind == "conv":
        length = _validate.as_int("length", length, 1)
        kernel_size = _validate.as_int("kernel_size", kernel_size, 1)
        if padding not in ("circular", "zeros"):
            raise ValueError(f"padding must be 'circular' or 'zeros', got {padding!r}")
    if layout not in (None, "torch", "jax"):
        raise ValueError(f"layout must be 'torch', 'jax' or None, got {layout!r}")
    dt = np.dtype(dtype) if not isinstance(dtype, str) else np.dtype(dtype.strip().lower())
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    tolerance = _validate.as_float("tolerance", tolerance)
    if not tolerance > 1:
        raise ValueError(f"tolerance must be > 1 (a factor such as 10), got {tolerance}")

    shape = (batch, width) if kind == "dense" else (batch, length, width)
    elements = math.prod(shape)
    per_weight = width * width * (kernel_size if kind == "conv" else 1)
    stored = depth * dt.itemsize * (per_weight + (0 if act_name == "linear" else elements))
    if stored > _MAX_STORED_BYTES:
        raise ValueError(f"this network would keep {stored / 2**30:.1f} GiB of weights and activations "
                         "for the backward pass: reduce depth, width, batch or length")
    label, draw, lay = _resolve_init(init, layout, dt)

    forward_std = np.empty(depth)
    forward_mean = np.empty(depth)
    backward_std = np.empty(depth)
    weights, derivs = [], []
    h = fills.normal(shape, seed=seed, stream=INPUT_STREAM, dtype=dt.name)
    input_std = _std(h)
    with np.errstate(all="ignore"):  # exploding and vanishing signals are results, not errors
        for layer in range(depth):
            w = _weight(draw, lay, kind, width, kernel_size, seed, layer, dt)
            z = h @ w if kind == "dense" else _conv_forward(h, w, padding)
            h, d = act(z)
            del z
            weights.append(w)
            derivs.append(d)
            forward_std[layer] = _std(h)
            forward_mean[layer] = float(np.mean(h, dtype=np.float64))
        del h
        g = fills.normal(shape, seed=seed, stream=GRAD_STREAM, dtype=dt.name)
        output_grad_std = _std(g)
        if not np.all(np.isfinite(forward_std)):
            # The forward pass overflowed: the derivatives at inf/nan are meaningless, so
            # the backward statistics are unknown (nan, which counts as exploding).
            backward_std[:] = math.nan
            weights.clear()
            derivs.clear()
        for layer in reversed(range(len(weights))):
            w, d = weights.pop(), derivs.pop()
            delta = g if d is None else g * d
            g = delta @ w.T if kind == "dense" else _conv_backward(delta, w, padding)
            backward_std[layer] = _std(g)
    params = {}
    if slope is not None:
        params["negative_slope"] = slope
    if kind == "conv":
        params.update(length=length, kernel_size=kernel_size, padding=padding)
    return PropagationResult(
        init=label, activation=act_name, depth=depth, width=width, batch=batch, kind=kind,
        seed=seed, forward_std=forward_std, backward_std=backward_std, forward_mean=forward_mean,
        input_std=input_std, output_grad_std=output_grad_std, tolerance=tolerance, params=params)
