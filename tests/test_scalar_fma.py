"""The portable (scalar) path's two FMA forms give the same bits: on x86-64 it runs
its formulas compiled for the FMA instruction when CPUID has it, and otherwise with an
exact emulation (src_c/fma_exact.h).  FASTINIT_SCALAR_FMA=0 forces the emulation, so
this machine checks the code a CPU without FMA would run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fastinit import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
sys.path.insert(0, TESTS)

from test_hashes_c import expected_table, parse, run_make  # noqa: E402

_PROBE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import test_core_regression as r
from fastinit import _core
print(json.dumps({"isa": _core.get_isa(), "hashes": r.current_hashes(), "c": r.current_c_hashes()}))
"""


def _env(**kw):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(kw)
    return env


@pytest.mark.parametrize("fma", ["0", "1"])
def test_regression_hashes_on_the_scalar_path_with_and_without_fma(fma):
    proc = subprocess.run([sys.executable, "-c", _PROBE, TESTS], capture_output=True, text=True,
                          env=_env(FASTINIT_SIMD="scalar", FASTINIT_SCALAR_FMA=fma), timeout=600,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["isa"] == "scalar"
    with open(os.path.join(TESTS, "data", "regression_hashes.json")) as f:
        data = json.load(f)
    for key in ("hashes", "c"):
        want = data["hashes" if key == "hashes" else "hashes_c"]
        changed = sorted(k for k in want if got[key][k] != want[k])
        assert not changed, f"FASTINIT_SCALAR_FMA={fma}: scalar output changed for {changed}"


def test_c_drivers_with_the_emulated_fma(tmp_path):
    """The kernel driver (every path against the emulated scalar one, and the emulation
    against libm on hard cases) and the C hash table with FASTINIT_SCALAR_FMA=0."""
    rc, out = run_make(tmp_path, "all")
    assert rc == 0, out[-6000:]
    env = _env(FASTINIT_SCALAR_FMA="0")
    res = subprocess.run([os.path.join(tmp_path, "test_kernels")], capture_output=True, text=True,
                         env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:]
    assert "scalar FMA emulated" in res.stdout and " 0 failed" in res.stdout
    res = subprocess.run([os.path.join(tmp_path, "hashes")], capture_output=True, text=True,
                         env=env, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:]
    paths, table, mismatches = parse(res.stdout)
    assert mismatches == 0 and "scalar" in paths
    assert paths == [n for n in _core.ISA_NAMES if _core.isa_supported(n)]
    assert table == expected_table()
