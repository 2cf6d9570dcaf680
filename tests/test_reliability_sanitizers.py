"""Memory safety of the C core: src_c/tests/test_kernels.c built with AddressSanitizer
and UndefinedBehaviorSanitizer (``make -C src_c SANITIZE=1``) runs every kernel over odd
sizes, unaligned starts, region edges, strided and reversed outputs and every SIMD path
this CPU has, with guard bytes around each output (see the driver's header comment).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC_C = os.path.join(ROOT, "src_c")


def _make(tmp_path, *args):
    env = dict(os.environ)
    # abort on the first report, and report leaks too (the driver frees everything)
    env["ASAN_OPTIONS"] = "abort_on_error=0:halt_on_error=1:detect_leaks=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return subprocess.run(
        ["make", "-j2", "-C", SRC_C, f"OUT={tmp_path}", *args, "test"],
        capture_output=True, text=True, env=env, timeout=600,
    )


def _summary(out):
    m = re.search(r"test_kernels: (\d+) checks, (\d+) failed", out)
    assert m, "test_kernels printed no summary line:\n" + out[-3000:]
    return tuple(int(g) for g in m.groups())


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="needs make and a C compiler")  # both are part of the build toolchain
def test_kernels_under_asan_and_ubsan(tmp_path):
    res = _make(tmp_path, "SANITIZE=1")
    out = res.stdout + res.stderr
    assert res.returncode == 0, "sanitized C driver failed:\n" + out[-6000:]
    assert "AddressSanitizer" not in out and "runtime error" not in out, out[-6000:]
    assert "philox4x32 known answers: 6 checked, 0 failed" in out
    checks, failed = _summary(out)
    assert failed == 0
    assert checks > 50_000  # the driver really ran its loops
    # every SIMD path this CPU supports was exercised
    from fastinit import _core

    paths = re.search(r"test_kernels: paths ([a-z0-9 ]+),", out).group(1).split()
    assert paths == [n for n in _core.ISA_NAMES if _core.isa_supported(n)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="needs make and a C compiler")
def test_kernels_without_openmp(tmp_path):
    """The serial build (no OpenMP, as on macOS clang) passes the same driver."""
    res = _make(tmp_path, "OPENMP=0", "CFLAGS=-O1")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "openmp no" in out
    assert _summary(out)[1] == 0
