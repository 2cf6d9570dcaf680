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
from .activations import ACTIVATIONS
from .network import GRAD_STREAM, INPUT_STREAM, PropagationResult, signal_propagation
from .recommend import Recommendation, recommend
from .spec import parse_init_spec
from .table import plot_propagation, propagation_table

__all__ = [
    "signal_propagation", "PropagationResult", "recommend", "Recommendation",
    "ACTIVATIONS", "propagation_table", "plot_propagation",
]
