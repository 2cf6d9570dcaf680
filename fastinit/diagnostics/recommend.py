"""recommend: the initializer and gain that keep the variance for an activation, and why.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from .activations import _activation


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
    init, params, gain, torch_call, jax_call, reason = _ADVICE[name]
    if name == "leaky_relu":
        gain = math.sqrt(2.0 / (1.0 + slope * slope))
        params = {"a": slope, **params}
    fields = {"slope": slope, "gain": gain, "unit": unit,
              "variance": None if slope is None else 2.0 / (1 + slope * slope)}
    torch_call, jax_call, reason = (t.format(**fields) for t in (torch_call, jax_call, reason))
    spec = init + "".join(f":{k}={_spec_value(v)}" for k, v in params.items())
    return Recommendation(activation=name, init=init, params=params, gain=gain, spec=spec,
                          torch=torch_call, jax=jax_call, reason=reason, unit_gain=unit)


def _spec_value(v):
    if isinstance(v, float) and abs(v - 5 / 3) < 1e-15:
        return "5/3"
    return f"{v:g}" if isinstance(v, float) else str(v)


# activation -> (init, params, gain, torch call, jax/keras call, why). The texts are
# str.format templates over slope, gain (leaky_relu's is computed), unit (the
# unit-variance gain measured for the activation) and variance (leaky_relu's scale).
_ADVICE = {
    "relu": (
        "kaiming_normal", {"nonlinearity": "relu"}, math.sqrt(2),
        "torch.nn.init.kaiming_normal_(w, nonlinearity='relu')",
        "jax.nn.initializers.he_normal() / keras.initializers.HeNormal()",
        "ReLU zeroes half of a symmetric input, halving the second moment at every layer; "
        "Var(W) = 2 / fan_in (gain sqrt(2)) puts it back, forward and, with fan_in = fan_out, "
        "backward too (He et al. 2015). Xavier's 1 / fan_avg loses a factor 2 in variance per "
        "layer: 2**-depth."),
    "leaky_relu": (
        "kaiming_normal", {"nonlinearity": "leaky_relu"}, None,
        "torch.nn.init.kaiming_normal_(w, a={slope:g}, nonlinearity='leaky_relu')",
        "jax.nn.initializers.variance_scaling({variance:.6g}, 'fan_in', 'normal')",
        "leaky ReLU with slope {slope:g} keeps (1 + s^2) / 2 of the second moment; "
        "Var(W) = 2 / ((1 + s^2) fan_in), gain sqrt(2 / (1 + s^2)) = {gain:.4g}, restores it "
        "(He et al. 2015)."),
    "tanh": (
        "xavier_normal", {"gain": 5 / 3}, 5 / 3,
        "torch.nn.init.xavier_normal_(w, gain=torch.nn.init.calculate_gain('tanh'))  # 5/3",
        "jax.nn.initializers.variance_scaling(25/9, 'fan_avg', 'normal')",
        "tanh is the identity near 0 and squashes beyond: with gain 1 (Glorot and Bengio "
        "2010) the variance shrinks slowly (like 1 / depth) rather than exponentially. "
        "PyTorch's gain 5/3 (near the unit-variance gain {unit:.3g}) holds the forward std at a "
        "fixed point (about 0.65) at any depth, but in a plain stack without biases or "
        "normalization the gradients then grow about 1.09x per layer (x35 over 40 layers). "
        "For very deep plain tanh stacks a gain between 1 and 1.2 keeps both directions "
        "within a few x over 100 layers: check with signal_propagation."),
    "selu": (
        "lecun_normal", {}, 1.0,
        "torch.nn.init.kaiming_normal_(w, nonlinearity='linear')",
        "jax.nn.initializers.lecun_normal() / keras.initializers.LecunNormal()",
        "SELU's constants make mean 0 and variance 1 a stable fixed point when Var(W) = "
        "1 / fan_in (Klambauer et al. 2017): LeCun normal, gain 1. PyTorch's "
        "calculate_gain('selu') = 3/4 is not this; its docs say to use nonlinearity='linear'."),
    "gelu": (
        "kaiming_normal", {"nonlinearity": "relu"}, math.sqrt(2),
        "torch.nn.init.kaiming_normal_(w, nonlinearity='relu')",
        "jax.nn.initializers.he_normal()",
        "GELU is ReLU-like away from 0, and He's Var(W) = 2 / fan_in (gain sqrt(2)) is the "
        "standard choice; but near 0 GELU(x) ~ x / 2, so no gain keeps a plain deep GELU stack "
        "steady: below the unit-variance gain {unit:.3g} the signal decays (He: x0.5 in 10 "
        "layers, x1e-4 in 40), above it grows. Deep GELU networks rely on normalization and "
        "residual connections (transformers); keep plain stacks shallow."),
    "sigmoid": (
        "xavier_normal", {}, 1.0,
        "torch.nn.init.xavier_normal_(w)  # calculate_gain('sigmoid') = 1",
        "jax.nn.initializers.glorot_normal()",
        "no gain keeps a deep sigmoid stack alive: its slope is at most 1/4, so gradients shrink "
        "about 4x per layer, and its outputs have mean 0.5, so the forward std settles on a "
        "batch-independent offset. Xavier (gain 1, as PyTorch) is the convention for shallow "
        "sigmoid layers (gates, outputs); for depth prefer tanh, ReLU or GELU (Glorot and "
        "Bengio 2010)."),
    "linear": (
        "xavier_normal", {}, 1.0,
        "torch.nn.init.xavier_normal_(w)",
        "jax.nn.initializers.glorot_normal()",
        "a linear layer keeps the forward variance with Var(W) = 1 / fan_in and the backward "
        "one with 1 / fan_out; Xavier/Glorot's 2 / (fan_in + fan_out) balances both and is "
        "exact for square layers (Glorot and Bengio 2010)."),
}
