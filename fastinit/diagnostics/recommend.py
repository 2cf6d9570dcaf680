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
