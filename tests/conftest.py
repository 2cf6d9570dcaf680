"""Shared fixtures for fastinit's tests.

* ``isa``: a parametrized fixture that runs a test once per SIMD path this build and
  CPU support ("scalar", "avx2", "avx512"), selecting it with
  ``fastinit._core.set_isa`` and restoring the previous selection afterwards.
* ``each_isa()``: the same as a loop inside one test (``for name in each_isa(): ...``).
* ``SUPPORTED_ISAS``, ``DTYPE_NAMES``: lists to parametrize over.
* ``tests/`` is put on ``sys.path`` so tests can ``import reference`` (the NumPy
  reference of the stream) whatever pytest's import mode.
"""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fastinit import _core  # noqa: E402

SUPPORTED_ISAS = [name for name in _core.ISA_NAMES if _core.isa_supported(name)]
DTYPE_NAMES = ["float32", "float64", "float16", "bfloat16"]


@contextlib.contextmanager
def selected_isa(name):
    """Select SIMD path `name` for the duration of the block."""
    previous = _core.get_isa()
    _core.set_isa(name)
    try:
        yield name
    finally:
        _core.set_isa(previous)


def each_isa():
    """Yield the name of each supported SIMD path while it is selected."""
    for name in SUPPORTED_ISAS:
        with selected_isa(name):
            yield name


@pytest.fixture(params=SUPPORTED_ISAS)
def isa(request):
    """Run the test once per supported SIMD path (selected while it runs)."""
    with selected_isa(request.param):
        yield request.param


@pytest.fixture
def rng():
    """A NumPy Generator with a fixed seed (tests stay deterministic)."""
    return np.random.default_rng(20240601)
