"""Signal propagation: see why an initializer keeps a deep network alive, or not.

`signal_propagation` pushes a random batch through a deep stack of identical
layers (dense, or 1-D convolutions) whose weights come from any fastinit
initializer, backpropagates a random output gradient, and records the standard
deviation of the signal at every layer, forward and backward.  `recommend` names
the initializer and gain that keep the variance for an activation, and says why.

>>> from fastinit.diagnostics import signal_propagation
>>> he = signal_propagation("kaiming_normal", "relu", depth=40, width=256)
>>> xavier = signal_propagation("xavier_normal", "relu", depth=40, width=256)
>>> he.vanishing, xavier.vanishing
(False, True)
>>> float(xavier.forward_std[-1]) < 1e-4      # halved variance per layer: 2**-20 in std
True

The network, exactly
--------------------
Layer ``l`` (``l = 0 .. depth-1``) maps ``h_l`` to ``h_{l+1} = phi(h_l @ W_l)``:
no bias, no normalization, the same activation ``phi`` everywhere, the input
``h_0 ~ N(0, 1)`` of shape ``(batch, width)``.  ``W_l`` is ``init`` drawn with
``seed=seed, stream=l``, so two initializers built on the same distribution see
the same random numbers (a like-for-like comparison) and a layer's weights do not
depend on the depth.  The output gradient ``dL/dh_depth ~ N(0, 1)`` is pulled back
through every layer.  ``kind="conv"``: ``h`` has shape ``(batch, length, width)``
and layer ``l`` is a 1-D convolution with ``width`` in and out channels, kernel
``kernel_size`` and "same" padding (``padding="circular"``, the default, wraps
around so every output sees ``width * kernel_size`` inputs; ``"zeros"`` pads with
zeros as most CNNs do, and the edges then lose a little variance every layer).

* ``forward_std[l]``: std of ``h_{l+1}``, the output of layer ``l``.
* ``backward_std[l]``: std of ``dL/dh_l``, the gradient arriving at the *input* of
  layer ``l``; read it from the top down: ``backward_std[depth-1]`` is one step
  below the output gradient, ``backward_std[0]`` the gradient at the network input.

Both are over every element (batch, positions and units) in float64.  The
signal *vanishes* when its end-to-end std ratio (last layer against the input
for forward, the network input against the output gradient for backward) falls
below ``1 / tolerance``, and *explodes* above ``tolerance`` or when it overflows
(default ``tolerance=10``: an order of magnitude).  When the forward pass
overflows, the derivatives at inf/nan mean nothing, so ``backward_std`` is all
nan (unknown) and counts as exploding too.

Activations: ``linear``, ``relu``, ``leaky_relu`` (``negative_slope`` 0.01 as in
PyTorch, or ``"leaky_relu:0.2"``), ``tanh``, ``sigmoid``, ``selu``, and ``gelu`` in
its tanh approximation ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``
(PyTorch's ``approximate="tanh"``; within 1e-3 of the exact erf form).

Initializers: a function ``f(shape, *, seed, stream)`` returning an array, or a
name of a fastinit initializer with optional parameters after colons:
``"he_normal"``, ``"kaiming_normal:nonlinearity=relu"``, ``"xavier_normal:gain=5/3"``,
``"orthogonal:1.0"`` (bare values are the function's positional parameters after
``shape``).  For the core fills a bare value is the scale: ``"normal:0.01"`` is
``N(0, 0.01^2)``, ``"trunc_normal:0.02"`` the same truncated at 2 std, and
``"uniform:0.05"`` is ``U(-0.05, 0.05)``.  Weights are requested in each
initializer's own layout: PyTorch's ``(out, in[, k])`` for ``xavier_*``,
``kaiming_*``, ``orthogonal`` and the core fills, JAX's ``([k,] in, out)`` for
``he_*``, ``glorot_*``, ``lecun_*`` and ``variance_scaling``; pass ``layout=`` to
override (callables default to ``"torch"``).

Only NumPy is imported here; matplotlib is imported by `plot_propagation` alone.
"""
from __future__ import annotations

import dataclasses
import math
import sys

import numpy as np

__all__ = [
    "signal_propagation", "PropagationResult", "recommend", "Recommendation",
    "ACTIVATIONS", "propagation_table", "plot_propagation", "add_cli_parser", "main",
]

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu")

# Streams of the random input batch and output gradient: named, so they never
# collide with a layer's stream (the layer index).
INPUT_STREAM = "fastinit.diagnostics.input"
GRAD_STREAM = "fastinit.diagnostics.output_grad"

_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_K = 0.044715

# Initializers drawn in JAX/Keras layout ([k,] in, out); everything else is asked
# for in PyTorch layout (out, in[, k]).
_JAX_LAYOUT_PREFIXES = ("he_", "glorot_", "lecun_", "variance_scaling", "delta_orthogonal", "identity")
# Core fills: a bare value after the colon is their scale, not their first argument.
_CORE_SCALE = {"normal": "std", "trunc_normal": "std", "uniform": "bound"}
# Weights and activation derivatives kept for the backward pass above this many bytes: refuse.
_MAX_STORED_BYTES = 4 << 30


# --------------------------------------------------------------- activations ----
def _activation(name, negative_slope=None):
    """(canonical name, slope or None, fn) where fn(z) -> (phi(z), phi'(z) or None)."""
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name such as 'relu', got {type(name).__name__}")
    base, _, arg = name.strip().lower().partition(":")
    if base not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: use one of {', '.join(ACTIVATIONS)}")
    if arg:
        if base != "leaky_relu":
            raise ValueError(f"activation {base!r} takes no parameter (only 'leaky_relu:SLOPE' does)")
        if negative_slope is not None:
            raise ValueError("give the leaky_relu slope once: in the name or as negative_slope=")
        negative_slope = _parse_number(arg, f"the slope in {name!r}")
    if negative_slope is not None and base != "leaky_relu":
        raise ValueError(f"negative_slope applies to leaky_relu only, not {base!r}")
    if base == "leaky_relu":
        s = 0.01 if negative_slope is None else negative_slope
        if isinstance(s, bool) or not isinstance(s, (int, float, np.floating, np.integer)):
            raise TypeError(f"negative_slope must be a number, got {s!r}")
        s = float(s)
        if not math.isfinite(s):
            raise ValueError(f"negative_slope must be finite, got {s}")
        return base, s, _leaky_relu(s)
    return base, None, _ACT_FNS[base]


def _linear(z):
    return z, None  # derivative 1: nothing to store


def _relu(z):
    d = (z > 0).astype(z.dtype)
    return z * d, d


def _leaky_relu(s):
    def f(z):
        d = np.where(z > 0, z.dtype.type(1), z.dtype.type(s))
        return z * d, d
    return f


def _tanh(z):
    h = np.tanh(z)
    return h, 1 - h * h


def _sigmoid(z):
    h = 0.5 * (1 + np.tanh(0.5 * z))  # no exp overflow for large |z|
    return h, h * (1 - h)


def _selu(z):
    t = z.dtype.type
    neg = t(_SELU_SCALE * _SELU_ALPHA) * np.exp(np.minimum(z, 0))
    pos = z > 0
    h = np.where(pos, t(_SELU_SCALE) * z, neg - t(_SELU_SCALE * _SELU_ALPHA))
    return h, np.where(pos, t(_SELU_SCALE), neg)


def _gelu(z):
    t = z.dtype.type
    th = np.tanh(t(_GELU_C) * (z + t(_GELU_K) * z * z * z))
    h = 0.5 * z * (1 + th)
    d = 0.5 * (1 + th) + 0.5 * z * (1 - th * th) * t(_GELU_C) * (1 + t(3 * _GELU_K) * z * z)
    return h, d


_ACT_FNS = {"linear": _linear, "relu": _relu, "tanh": _tanh, "sigmoid": _sigmoid,
            "selu": _selu, "gelu": _gelu}


# -------------------------------------------------------------- initializers ----
def _parse_number(text, what):
    text = text.strip()
    try:
        if "/" in text:  # "5/3": handy for gains
            num, den = text.split("/")
            return float(num) / float(den)
        return float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{what} must be a number (or a fraction like 5/3), got {text!r}") from None


def _parse_value(text):
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return _parse_number(text, "")
    except ValueError:
        return text  # a word such as relu or fan_out


def parse_init_spec(spec):
    """Split ``"name:value:key=value..."`` into ``(name, args, kwargs)``.

    >>> parse_init_spec("kaiming_normal:nonlinearity=relu")
    ('kaiming_normal', [], {'nonlinearity': 'relu'})
    >>> parse_init_spec("xavier_normal:5/3")
    ('xavier_normal', [1.6666666666666667], {})
    """
    if not isinstance(spec, str):
        raise TypeError(f"an initializer spec is a string, got {type(spec).__name__}")
    name, *parts = [p.strip() for p in spec.strip().split(":")]
    if not name:
        raise ValueError(f"initializer spec {spec!r} has no name: write e.g. 'he_normal' or 'normal:0.01'")
    args, kwargs = [], {}
    for part in parts:
        if not part:
            raise ValueError(f"initializer spec {spec!r} has an empty parameter (two colons in a row?)")
        key, eq, value = part.partition("=")
        if eq:
            key = key.strip()
            if not key.isidentifier():
                raise ValueError(f"initializer spec {spec!r}: {key!r} is not a parameter name")
            if key in kwargs:
                raise ValueError(f"initializer spec {spec!r} gives {key!r} twice")
            kwargs[key] = _parse_value(value)
        else:
            if kwargs:
                raise ValueError(f"initializer spec {spec!r}: bare values must come before key=value ones")
            args.append(_parse_value(part))
    return name, args, kwargs


def _lookup(name):
    from . import io as _io  # the registry of every fill function, shared with the CLI

    return _io.get_initializer(name)


def _is_configured(init):
    return type(init).__name__ == "Initializer" and hasattr(init, "name") and hasattr(init, "params")


def _layout_of(name, fn):
    if name.startswith(_JAX_LAYOUT_PREFIXES):
        return "jax"
    if fn is None:
        return "torch"
    try:
        import inspect

        if "in_axis" in inspect.signature(fn).parameters:
            return "jax"
    except (TypeError, ValueError):
        pass
    return "torch"


def _resolve_init(init, layout, dtype):
    """(label, draw(torch_or_jax_shape, stream) -> ndarray, layout)."""
    if isinstance(init, Recommendation):
        init = init.spec
    if _is_configured(init):  # fastinit.initializer("he_normal", ...): its name fixes the layout
        label = repr(init).replace("fastinit.initializer", "initializer")
        lay = layout or init.params.get("layout") or _layout_of(init.name, None)

        def draw(shape, seed, stream):
            return init(shape, seed=seed, stream=stream, dtype=dtype.name)
        return label, draw, lay
    if callable(init) and not isinstance(init, str):
        label = getattr(init, "__name__", None) or type(init).__name__
        ours = str(getattr(init, "__module__", "")).startswith("fastinit")
        lay = layout or getattr(init, "layout", None) or (_layout_of(label, init) if ours else "torch")

        def draw(shape, seed, stream):
            return init(shape, seed=seed, stream=stream)
        return label, draw, lay
    name, args, kwargs = parse_init_spec(init)
    label = init.strip()
    if name in _CORE_SCALE and args:
        if len(args) > 1:
            raise ValueError(f"{label!r}: give one bare value (the {_CORE_SCALE[name]}) or key=value pairs")
        scale = args.pop()
        if isinstance(scale, str) or isinstance(scale, bool) or scale is None or not scale >= 0:
            raise ValueError(f"{label!r}: the {_CORE_SCALE[name]} must be a number >= 0, got {scale!r}")
        if _CORE_SCALE[name] == "bound":
            if "low" in kwargs or "high" in kwargs:
                raise ValueError(f"{label!r}: give either a bound or low=/high=, not both")
            kwargs.update(low=-float(scale), high=float(scale))
        else:
            if "std" in kwargs:
                raise ValueError(f"{label!r}: the std is given twice")
            kwargs["std"] = float(scale)
    fn = _lookup(name)
    lay = layout or kwargs.get("layout") or _layout_of(name, fn)

    def draw(shape, seed, stream):
        return fn(shape, *args, seed=seed, stream=stream, dtype=dtype.name, **kwargs)
    return label, draw, lay


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
    from . import _api

    act_name, slope, act = _activation(activation, negative_slope)
    depth = _api._as_int("depth", depth, 1)
    width = _api._as_int("width", width, 1)
    batch = _api._as_int("batch", batch, 1)
    seed = _api._seed(seed)
    if kind not in ("dense", "conv"):
        raise ValueError(f"kind must be 'dense' or 'conv', got {kind!r}")
    if kind == "conv":
        length = _api._as_int("length", length, 1)
        kernel_size = _api._as_int("kernel_size", kernel_size, 1)
        if padding not in ("circular", "zeros"):
            raise ValueError(f"padding must be 'circular' or 'zeros', got {padding!r}")
    if layout not in (None, "torch", "jax"):
        raise ValueError(f"layout must be 'torch', 'jax' or None, got {layout!r}")
    dt = np.dtype(dtype) if not isinstance(dtype, str) else np.dtype(dtype.strip().lower())
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    tolerance = _api._as_float("tolerance", tolerance)
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
    h = _api.normal(shape, seed=seed, stream=INPUT_STREAM, dtype=dt.name)
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
        g = _api.normal(shape, seed=seed, stream=GRAD_STREAM, dtype=dt.name)
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


# ------------------------------------------------------------------ advice ----
@dataclasses.dataclass(frozen=True)
class Recommendation:
    """What keeps the variance for one activation.

    ``spec`` is a fastinit initializer spec (usable by `signal_propagation` and the
    ``propagate`` command); ``torch`` and ``jax`` show the equivalent calls.
    ``unit_gain`` is ``1 / sqrt(E[phi(z)^2])`` for ``z ~ N(0, 1)`` (Gauss-Legendre
    quadrature): with ``Var(W) = unit_gain^2 / fan_in`` a unit-variance
    pre-activation keeps unit variance in the wide limit.  It is the standard gain
    for relu (sqrt(2)), leaky_relu, selu (1) and linear (1); for the others it is
    shown for comparison, as the reason explains.
    """

    activation: str
    init: str
    params: dict
    gain: float
    spec: str
    torch: str
    jax: str
    reason: str
    unit_gain: float

    def __str__(self):
        return (f"{self.activation}: {self.spec} (gain {self.gain:.4g})\n"
                f"  PyTorch: {self.torch}\n  JAX/Keras: {self.jax}\n  why: {self.reason}")


def _unit_gain(fn):
    """1 / sqrt(E[phi(z)^2]) for z ~ N(0, 1), by quadrature: with
    Var(W) = gain^2 / fan_in, a unit-variance pre-activation stays unit variance."""
    # Gauss-Legendre on each half-line separately: the activations have a kink at 0
    # at most, so each piece is smooth and the sum is accurate to ~1e-13.
    t, w = np.polynomial.legendre.leggauss(200)
    x = 7.0 * (t + 1.0)  # [0, 14]: the Gaussian tail beyond 14 is below 1e-40
    w = 7.0 * w * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
    second_moment = sum(float(np.sum(w * fn(sign * x)[0] ** 2)) for sign in (1.0, -1.0))
    return 1.0 / math.sqrt(second_moment)


def recommend(activation, negative_slope=None) -> Recommendation:
    """The initializer and gain that keep the signal variance for `activation`.

    >>> r = recommend("relu")
    >>> r.spec, round(r.gain, 4)
    ('kaiming_normal:nonlinearity=relu', 1.4142)
    >>> print(recommend("selu").torch)
    torch.nn.init.kaiming_normal_(w, nonlinearity='linear')
    >>> recommend("leaky_relu:0.2").params
    {'a': 0.2, 'nonlinearity': 'leaky_relu'}
    """
    name, slope, fn = _activation(activation, negative_slope)
    unit = _unit_gain(fn)
    if name == "relu":
        init, params, gain = "kaiming_normal", {"nonlinearity": "relu"}, math.sqrt(2)
        torch_call = "torch.nn.init.kaiming_normal_(w, nonlinearity='relu')"
        jax_call = "jax.nn.initializers.he_normal() / keras.initializers.HeNormal()"
        reason = ("ReLU zeroes half of a symmetric input, halving the second moment at every layer; "
                  "Var(W) = 2 / fan_in (gain sqrt(2)) puts it back, forward and, with fan_in = fan_out, "
                  "backward too (He et al. 2015). Xavier's 1 / fan_avg loses a factor 2 in variance per "
                  "layer: 2**-depth.")
    elif name == "leaky_relu":
        gain = math.sqrt(2.0 / (1.0 + slope * slope))
        init, params = "kaiming_normal", {"a": slope, "nonlinearity": "leaky_relu"}
        torch_call = f"torch.nn.init.kaiming_normal_(w, a={slope:g}, nonlinearity='leaky_relu')"
        jax_call = (f"jax.nn.initializers.variance_scaling({2.0 / (1 + slope * slope):.6g}, 'fan_in', "
                    "'normal')")
        reason = (f"leaky ReLU with slope {slope:g} keeps (1 + s^2) / 2 of the second moment; "
                  f"Var(W) = 2 / ((1 + s^2) fan_in), gain sqrt(2 / (1 + s^2)) = {gain:.4g}, restores it "
                  "(He et al. 2015).")
    elif name == "tanh":
        init, params, gain = "xavier_normal", {"gain": 5 / 3}, 5 / 3
        torch_call = "torch.nn.init.xavier_normal_(w, gain=torch.nn.init.calculate_gain('tanh'))  # 5/3"
        jax_call = "jax.nn.initializers.variance_scaling(25/9, 'fan_avg', 'normal')"
        reason = ("tanh is the identity near 0 and squashes beyond: with gain 1 (Glorot and Bengio "
                  "2010) the variance shrinks slowly (like 1 / depth) rather than exponentially. "
                  f"PyTorch's gain 5/3 (near the unit-variance gain {unit:.3g}) holds the forward std at a "
                  "fixed point (about 0.65) at any depth, but in a plain stack without biases or "
                  "normalization the gradients then grow about 1.09x per layer (x35 over 40 layers). "
                  "For very deep plain tanh stacks a gain between 1 and 1.2 keeps both directions "
                  "within a few x over 100 layers: check with signal_propagation.")
    elif name == "selu":
        init, params, gain = "lecun_normal", {}, 1.0
        torch_call = "torch.nn.init.kaiming_normal_(w, nonlinearity='linear')"
        jax_call = "jax.nn.initializers.lecun_normal() / keras.initializers.LecunNormal()"
        reason = ("SELU's constants make mean 0 and variance 1 a stable fixed point when Var(W) = "
                  "1 / fan_in (Klambauer et al. 2017): LeCun normal, gain 1. PyTorch's "
                  "calculate_gain('selu') = 3/4 is not this; its docs say to use nonlinearity='linear'.")
    elif name == "gelu":
        init, params, gain = "kaiming_normal", {"nonlinearity": "relu"}, math.sqrt(2)
        torch_call = "torch.nn.init.kaiming_normal_(w, nonlinearity='relu')"
        jax_call = "jax.nn.initializers.he_normal()"
        reason = ("GELU is ReLU-like away from 0, and He's Var(W) = 2 / fan_in (gain sqrt(2)) is the "
                  "standard choice; but near 0 GELU(x) ~ x / 2, so no gain keeps a plain deep GELU stack "
                  f"steady: below the unit-variance gain {unit:.3g} the signal decays (He: x0.5 in 10 "
                  "layers, x1e-4 in 40), above it grows. Deep GELU networks rely on normalization and "
                  "residual connections (transformers); keep plain stacks shallow.")
    elif name == "sigmoid":
        init, params, gain = "xavier_normal", {}, 1.0
        torch_call = "torch.nn.init.xavier_normal_(w)  # calculate_gain('sigmoid') = 1"
        jax_call = "jax.nn.initializers.glorot_normal()"
        reason = ("no gain keeps a deep sigmoid stack alive: its slope is at most 1/4, so gradients shrink "
                  "about 4x per layer, and its outputs have mean 0.5, so the forward std settles on a "
                  "batch-independent offset. Xavier (gain 1, as PyTorch) is the convention for shallow "
                  "sigmoid layers (gates, outputs); for depth prefer tanh, ReLU or GELU (Glorot and "
                  "Bengio 2010).")
    else:  # linear
        init, params, gain = "xavier_normal", {}, 1.0
        torch_call = "torch.nn.init.xavier_normal_(w)"
        jax_call = "jax.nn.initializers.glorot_normal()"
        reason = ("a linear layer keeps the forward variance with Var(W) = 1 / fan_in and the backward "
                  "one with 1 / fan_out; Xavier/Glorot's 2 / (fan_in + fan_out) balances both and is "
                  "exact for square layers (Glorot and Bengio 2010).")
    spec = init + "".join(f":{k}={_spec_value(v)}" for k, v in params.items())
    return Recommendation(activation=name, init=init, params=params, gain=gain, spec=spec,
                          torch=torch_call, jax=jax_call, reason=reason, unit_gain=unit)


def _spec_value(v):
    if isinstance(v, float) and abs(v - 5 / 3) < 1e-15:
        return "5/3"
    return f"{v:g}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------- output ----
def _band_rows(depth, bands):
    """Activation positions at the band edges: 0, step, 2 step, ..., depth."""
    step = max(1, depth // max(1, bands))
    rows = list(range(0, depth + 1, step))
    if rows[-1] != depth:
        rows.append(depth)
    return rows


def _forward_at(r, n):
    return r.input_std if n == 0 else r.forward_std[n - 1]


def _backward_at(r, n):
    return r.output_grad_std if n == r.depth else r.backward_std[n]


def propagation_table(results, bands=10) -> str:
    """A text table of forward and backward std every ``depth / bands`` layers, then
    one summary line per initializer.  Row ``n`` shows the activations ``h_n`` (the
    output of layer n; ``h_0`` is the input) and the gradient ``dL/dh_n``.

    >>> r = signal_propagation("normal:0.0625", "relu", depth=4, width=32, batch=8)
    >>> print(propagation_table([r], bands=2).splitlines()[0])
    relu network, dense, depth 4, width 32, batch 8, seed 0
    """
    results = list(results)
    if not results:
        raise ValueError("no results to tabulate")
    first = results[0]
    depth = first.depth
    if any(r.depth != depth for r in results):
        raise ValueError("all results must have the same depth")
    rows = _band_rows(depth, bands)
    labels = [r.init for r in results]
    colw = [max(10, len(s)) for s in labels]
    extra = "".join(f", {k} {v}" for k, v in first.params.items())
    lines = [f"{first.activation} network, {first.kind}, depth {depth}, width {first.width}, "
             f"batch {first.batch}, seed {first.seed}{extra}"]
    for title, at in (("forward: std of h_n, the output of layer n (n = 0: the input)", _forward_at),
                      ("backward: std of dL/dh_n (n = depth: the output gradient)", _backward_at)):
        lines.append("")
        lines.append(title)
        lines.append("    n  " + "  ".join(s.rjust(w) for s, w in zip(labels, colw)))
        for n in rows:
            cells = [_fmt(at(r, n)).rjust(w) for r, w in zip(results, colw)]
            lines.append(f"{n:5d}  " + "  ".join(cells))
    lines.append("")
    lines.append(f"end to end (vanishing below 1/{first.tolerance:g}, exploding above {first.tolerance:g}):")
    width = max(len(s) for s in labels)
    for r in results:
        lines.append(f"  {r.init.ljust(width)}  forward x{_fmt(r.forward_ratio):<9}  "
                     f"backward x{_fmt(r.backward_ratio):<9}  {r.status}")
    return "\n".join(lines)


def plot_propagation(results, path=None, *, title=None):
    """A matplotlib Figure: log-scale std against layer, forward and backward panels,
    one line per result; saved to `path` (PNG, ...) when given.  Needs matplotlib
    (``pip install fastinit[plot]``); it does not touch pyplot's global state."""
    from ._plot import plot_propagation as _plot

    return _plot(results, path=path, title=title)


# ---------------------------------------------------------------------- CLI ----
def _add_arguments(p):
    p.add_argument("--depth", type=int, default=50, help="number of layers (default 50)")
    p.add_argument("--width", type=int, default=512, help="units (dense) or channels (conv) per layer "
                                                          "(default 512)")
    p.add_argument("--activation", default="relu",
                   help=f"one of {', '.join(ACTIVATIONS)}; leaky_relu:SLOPE sets the slope (default relu)")
    p.add_argument("--init", default="kaiming_normal,xavier_normal,normal:0.01",
                   help="comma-separated initializer specs, e.g. he_normal,xavier_normal:gain=5/3,"
                        "normal:0.01 (default kaiming_normal,xavier_normal,normal:0.01); "
                        "'recommended' means recommend(activation)")
    p.add_argument("--batch", type=int, default=256, help="rows of the random input (default 256)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, input and gradient (default 0)")
    p.add_argument("--kind", choices=("dense", "conv"), default="dense", help="dense (default) or conv (1-D)")
    p.add_argument("--length", type=int, default=16, help="conv: sequence length (default 16)")
    p.add_argument("--kernel-size", type=int, default=3, help="conv: kernel taps (default 3)")
    p.add_argument("--padding", choices=("circular", "zeros"), default="circular",
                   help="conv: 'same' padding by wrapping around (default) or with zeros")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="network arithmetic (default float32)")
    p.add_argument("--tolerance", type=float, default=10.0,
                   help="end-to-end std factor that counts as vanishing/exploding (default 10)")
    p.add_argument("--bands", type=int, default=10, help="table rows: every depth/BANDS layers (default 10)")
    p.add_argument("--plot", metavar="PATH", help="save a figure (PNG, SVG, PDF by suffix); needs matplotlib")
    p.add_argument("--json", action="store_true", help="print the full results as JSON instead of tables")
    p.set_defaults(func=run_propagate)
    return p


_DESCRIPTION = ("Push a random batch through a deep network initialized by each INIT, backpropagate "
                "a random gradient, and show the std of the signal every few layers, forward and "
                "backward, with vanishing/exploding flags.")
_EPILOG = ("example: fastinit propagate --depth 50 --width 512 --activation relu "
           "--init he_normal,xavier_normal,normal:0.01 --plot relu.png")


def add_cli_parser(subparsers):
    """Register the ``propagate`` command on an argparse subparsers object (used by
    ``fastinit/cli.py``); the handler is ``args.func(args)`` and returns the exit status."""
    p = subparsers.add_parser("propagate", help="signal propagation through deep nets per initializer",
                              description=_DESCRIPTION, epilog=_EPILOG)
    return _add_arguments(p)


def run_propagate(args) -> int:
    """Handler of ``propagate``: 0 on success, 2 on a bad argument (one line on stderr)."""
    import json

    def fail(message):
        print(f"fastinit propagate: error: {message}", file=sys.stderr)
        return 2

    specs = [s.strip() for s in args.init.split(",")]
    if not all(specs):
        return fail(f"--init {args.init!r} has an empty entry: write e.g. --init he_normal,xavier_normal")
    if args.bands < 1:
        return fail("--bands must be >= 1")
    try:
        _activation(args.activation)  # a bad activation is reported before any work
        inits = [recommend(args.activation) if s == "recommended" else s for s in specs]
        for spec in inits:  # parse every spec up front: no half-printed output
            if isinstance(spec, str):
                parse_init_spec(spec)
        if args.plot:
            _check_plot_path(args.plot)
        results = []
        for spec in inits:
            results.append(signal_propagation(
                spec, args.activation, args.depth, args.width, batch=args.batch, seed=args.seed,
                kind=args.kind, length=args.length, kernel_size=args.kernel_size, padding=args.padding,
                dtype=args.dtype, tolerance=args.tolerance))
    except (TypeError, ValueError) as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        print(propagation_table(results, bands=args.bands))
    if args.plot:
        try:
            plot_propagation(results, args.plot)
        except ImportError as exc:
            return fail(f"--plot needs matplotlib ({exc}): pip install 'fastinit[plot]'")
        print(f"figure saved to {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _check_plot_path(path):
    import os

    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--plot: directory {parent} does not exist")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".svg", ".pdf", ".jpg", ".jpeg"):
        raise ValueError(f"--plot {path!r}: use a .png, .svg, .pdf or .jpg file name")


def main(argv=None) -> int:
    """``python -m fastinit.diagnostics [options]``: the ``propagate`` command on its own."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fastinit.diagnostics", description=_DESCRIPTION,
                                     epilog=_EPILOG)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
