"""Test-only: make ``import torchvision`` (and so ``import timm``) work when its C++
extension does not match the installed torch.

The PyPI torchvision wheel is built against CUDA torch; with CPU torch its ``_C``
library fails to load, so the ``torchvision::*`` operators are never defined and
``torchvision/_meta_registrations.py`` fails registering fake kernels for them
("operator torchvision::nms does not exist").  timm needs none of those operators
(detection ops), so while torchvision is imported, fake-kernel registrations for
``torchvision::`` operators that do not exist are skipped.  Nothing else changes.
"""
import contextlib
import sys

import torch
import torch.library


def _op_exists(qualname):
    namespace, _, name = qualname.partition("::")
    name = name.split(".")[0]
    try:
        getattr(getattr(torch.ops, namespace), name)
    except (AttributeError, RuntimeError):
        return False
    return True


@contextlib.contextmanager
def _tolerate_missing_torchvision_ops():
    original = torch.library.register_fake

    def register_fake(op, *args, **kwargs):
        if isinstance(op, str) and op.startswith("torchvision::") and not _op_exists(op):
            return lambda fn: fn  # the operator is absent: nothing to register a kernel for
        return original(op, *args, **kwargs)

    torch.library.register_fake = register_fake
    try:
        yield
    finally:
        torch.library.register_fake = original


def import_torchvision():
    """Import torchvision (once) and return it."""
    if "torchvision" not in sys.modules:
        with _tolerate_missing_torchvision_ops():
            import torchvision  # noqa: F401
    return sys.modules["torchvision"]


import_torchvision()
