"""Every initializer users know, with the exact conventions of the framework it comes from.

Each name below follows one framework's definition (scaling, fans, layout, errors);
where frameworks disagree, fastinit offers each convention under its own name.

=====================  =====================  =============================================
fastinit name          matches                 convention
=====================  =====================  =============================================
calculate_gain         PyTorch calculate_gain  same table and errors
fans                   PyTorch / JAX / Keras   layout="torch" (out, in, *kernel) as
                                               _calculate_fan_in_and_fan_out (ints);
                                               layout="jax" (*kernel, in, out) as JAX
                                               _compute_fans (floats) with Keras's 0-D/1-D
                                               guards
xavier_uniform         PyTorch xavier_uniform_ bound = gain*sqrt(6/(fan_in+fan_out))
xavier_normal          PyTorch xavier_normal_  untruncated N(0, gain^2*2/(fan_in+fan_out))
kaiming_uniform        PyTorch kaiming_uniform_ bound = gain*sqrt(3/fan), a=0, leaky_relu
kaiming_normal         PyTorch kaiming_normal_ untruncated N(0, gain^2/fan)
variance_scaling       JAX variance_scaling    (Keras VarianceScaling: its "normal" is our
                                               "truncated_normal", "untruncated_normal" is
                                               accepted as an alias of "normal")
glorot_uniform/normal  JAX, Keras GlorotX      variance_scaling(1, "fan_avg", ...)
he_uniform/normal      JAX, Keras HeX          variance_scaling(2, "fan_in", ...)
lecun_uniform/normal   JAX, Keras LecunX       variance_scaling(1, "fan_in", ...)
orthogonal             PyTorch orthogonal_     rows = shape[0], cols = prod(rest);
                       JAX / Keras orthogonal  column_axis=k (JAX), column_axis=-1 (Keras)
eye                    PyTorch eye_            2-D, ones on the main diagonal
dirac                  PyTorch dirac_          3-5-D, groups, centre at size // 2
delta_orthogonal       JAX delta_orthogonal    3-5-D, orthogonal (in, out) matrix at the
                                               kernel centre (k - 1) // 2, zeros elsewhere
identity               Keras Identity          2-D, gain * eye
sparse                 PyTorch sparse_         2-D, N(0, std), ceil(sparsity*rows) zeros
                                               per column (positions from the stream)
zeros, ones, constant  all                     from the core (fastinit.zeros, ...)
initializer            JAX / Keras factories   initializer("he_normal", ...) or
                                               fastinit.he_normal.with_(...)
=====================  =====================  =============================================

"Normal" in the PyTorch names is the untruncated normal; in the JAX/Keras names
("glorot_normal", "he_normal", "lecun_normal", variance_scaling's default) it is the
normal truncated to [-2, 2] standard deviations and divided by 0.87962566103423978
(the std of that truncated standard normal), so the variance is exactly scale / fan.

Every function takes the core's keywords ``seed`` (required where random), ``stream``,
``dtype``, ``out``, ``threads``, and ``region`` (fans always come from the full logical
``shape``, so ``f(shape, region=r, ...)`` equals ``f(shape, ...)[r]``).  Zero-element
shapes return at once, after every argument has been checked.

orthogonal and delta_orthogonal compute the whole matrix and slice it when a region is
given (the QR couples every element); sparse computes only the region's values and the
ranks of its elements in their columns.

Each module declares its initializers in the registry (``@register(kind, ...)`` next to
the function, see registry.py); ``fastinit.available_initializers()`` lists them.
"""
from .factory import Initializer, initializer
from .fans import calculate_gain, fans
from .scaling import (
    TRUNC_STD_2,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
)
from .sparsity import sparse
from .structured import delta_orthogonal, dirac, eye, identity, orthogonal

__all__ = [
    "calculate_gain", "fans",
    "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal",
    "variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
    "lecun_uniform", "lecun_normal",
    "orthogonal", "eye", "dirac", "delta_orthogonal", "identity", "sparse",
    "initializer", "Initializer",
]
