"""The activations of the diagnostics and their derivatives.
"""
from __future__ import annotations

import math

import numpy as np

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu")


_SELU_SCALE = 1.0507009873554804934193349852946


_SELU_ALPHA = 1.6732632423543772848170429916717


_GELU_C = math.sqrt(2.0 / math.pi)


_GELU_K = 0.044715


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
