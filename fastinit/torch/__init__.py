"""PyTorch drop-in: every ``torch.nn.init`` function, filled by fastinit.

``import fastinit.torch as finit`` and use ``finit.kaiming_uniform_(w)`` wherever you
wrote ``torch.nn.init.kaiming_uniform_(w)``.  Same names, same arguments, same
errors; the values come from the fastinit stream, so they are reproducible bit for
bit across thread counts, machines and shardings, and fast (OpenMP + SIMD).

Seeds
-----
Every function takes ``generator=`` like PyTorch plus keyword-only ``seed=``,
``stream=`` and ``threads=``.

* ``seed=`` given: the values are exactly ``fastinit.<initializer>(tensor.shape, ...,
  seed=seed, stream=stream, dtype=<the tensor's dtype>)``; ``generator`` is ignored.
* ``seed=None`` (the default): one 63-bit seed is drawn from ``generator`` (or from
  torch's default CPU generator) as ``torch.randint(0, 2**63 - 1, (), generator=g)``,
  so ``torch.manual_seed(...)`` still controls the result.  Each call draws a new
  seed, as each call of ``torch.nn.init`` advances the generator.  Meta tensors
  draw nothing.

Which tensors
-------------
* CPU float32, float64, float16 and bfloat16 tensors are filled in place with no
  copy: through ``tensor.numpy()`` (bfloat16 through an int16 view read as
  ``ml_dtypes.bfloat16``).  Parameters keep ``requires_grad``; autograd sees the
  write (the version counter is bumped) as with ``torch.no_grad()`` in-place ops.
* Non-contiguous tensors whose elements do not overlap (transposes, slices,
  channels_last) are written through their strides, still without a copy; other
  layouts go through a contiguous staging buffer and ``copy_``.
* Meta tensors: nothing is done (as PyTorch does), the tensor is returned.
* CUDA and other devices: the values are computed on the CPU into a staging buffer
  and copied to the device (``tensor.copy_``); they equal the CPU values.
* DTensors (``torch.distributed.tensor``) with Shard and Replicate placements: each
  rank fills only its local shard, with the values that shard has in the whole
  tensor, so the result does not depend on the mesh or the placements.  With
  ``seed=None`` every rank draws the seed from its own generator: seed torch
  identically on every rank (or pass ``seed=``).

Beyond the drop-ins: :func:`init_module` (a whole model's own init code, transformers,
timm and torchtitan schemes included, one stream per parameter name, on any
sharding), :func:`empty_init` (build a model without memory or init work, for
init_module to materialize), :func:`patch_torch_init` (run unmodified code on
fastinit), :func:`fill_shard_` (fill one shard of a bigger tensor) and :func:`lsuv_`
(layer-sequential unit-variance init).  The deprecated names without the trailing
underscore (``normal``, ``xavier_uniform``, ...) warn and call the drop-ins, as in
``torch.nn.init``.
"""
from .checkpoint import save_init
from .empty import empty_init
from .lsuv import lsuv_
from .module_init import init_module
from .nn_init import (  # noqa: F401  (the deprecated aliases, as in torch.nn.init)
    calculate_gain,
    constant,
    constant_,
    dirac,
    dirac_,
    eye,
    eye_,
    kaiming_normal,
    kaiming_normal_,
    kaiming_uniform,
    kaiming_uniform_,
    normal,
    normal_,
    ones_,
    orthogonal,
    orthogonal_,
    sparse,
    sparse_,
    trunc_normal_,
    uniform,
    uniform_,
    xavier_normal,
    xavier_normal_,
    xavier_uniform,
    xavier_uniform_,
    zeros_,
)
from .patch import patch_torch_init
from .shard import fill_shard_

__all__ = [
    "calculate_gain",
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "dirac_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "sparse_",
    "init_module", "empty_init", "save_init", "patch_torch_init", "fill_shard_", "lsuv_",
]
