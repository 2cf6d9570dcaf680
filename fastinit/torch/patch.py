"""patch_torch_init: unmodified model code initializes through fastinit inside the block."""
from __future__ import annotations

import contextlib

from fastinit import _validate

from ._tensor import _draw_seed
from .capture import Filler, capture


class _PatchFiller(Filler):
    """seed=None: each fill draws its seed from the call's generator (or torch's);
    an explicit seed: the k-th random fill of the block uses stream k."""

    def __init__(self, seed, threads, tensor_methods):
        super().__init__(threads, tensor_methods)
        self.seed = seed
        self.count = 0

    def resolve(self, tensor, generator):
        if self.seed is None:
            return _draw_seed(generator), 0
        self.count += 1
        return self.seed, self.count - 1


@contextlib.contextmanager
def patch_torch_init(*, seed=None, threads=None, tensor_methods=True):
    """Context manager: the random fills of unmodified code run on fastinit inside the block.

    Reached: every random function of ``torch.nn.init`` however the code refers to it
    (``nn.init.xavier_uniform_``, a name imported from it, a reference stored before
    the block such as transformers' ``TORCH_INIT_FUNCTIONS`` or torchtitan's
    ``functools.partial(nn.init.trunc_normal_, ...)``), timm's own ``trunc_normal_``
    (as fastinit's exact truncated normal), and with `tensor_methods` (the default)
    ``Tensor.normal_`` and ``Tensor.uniform_`` (``module.weight.data.normal_(std=0.02)``).
    Tensors fastinit does not fill as torch would (integer or complex dtypes, other
    tensor subclasses, in-place calls autograd records) go to torch's own code.

    Seeds: with ``seed=None`` each fill draws its seed from the call's ``generator`` or
    torch's default generator (see the module docstring), so ``torch.manual_seed``
    keeps controlling the model.  With ``seed=`` nothing comes from torch's generator:
    the k-th random fill of the block uses ``stream=k``, so the values depend on the
    order of the fills.  For values that do not, use :func:`init_module`.

    Nothing stays behind: after the block, every function (also references taken
    inside it) is torch's own again.  The ``torch.nn.init`` functions are switched
    process-wide while the block runs, but only fills from the thread that entered
    it go to fastinit.

    >>> import torch, fastinit.torch as finit
    >>> _ = torch.manual_seed(0)
    >>> with finit.patch_torch_init():
    ...     a = torch.nn.Linear(4, 3)
    >>> _ = torch.manual_seed(0)
    >>> with finit.patch_torch_init():
    ...     b = torch.nn.Linear(4, 3)
    >>> torch.equal(a.weight, b.weight)
    True
    """
    threads_v = None if threads is None else _validate.check_threads(threads)
    seed_v = None if seed is None else _validate.check_seed(seed)
    with capture(_PatchFiller(seed_v, threads_v, bool(tensor_methods))):
        yield
