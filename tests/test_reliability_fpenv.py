"""Floating-point environment.

* Importing and using fastinit leaves the process's FP environment alone: MXCSR's
  flush-to-zero (FTZ) and denormals-are-zero (DAZ) bits and the rounding mode are the
  same before the import, after it and after fills on every SIMD path (a library
  built or linked with -ffast-math would set FTZ/DAZ for the whole process at load).
* The values do not depend on the caller's FP environment either: a user who turned
  on torch.set_flush_denormal(True) or changed the rounding mode still gets the
  stream's bits, for one thread or several.  (Found here: fi_prepare and the kernels
  used to run in the caller's environment, so FTZ/DAZ changed fills with subnormal
  values or parameters and a non-default rounding mode changed most normal and
  trunc_normal values, differently for threads=1 and threads=2.  Fixed in
  src_c/fill.c, which now works under FE_DFL_ENV and restores the caller's.)
Each scenario runs in a fresh interpreter so the test process's own environment
cannot leak in or out.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HELPERS = textwrap.dedent("""
    import ctypes, ctypes.util, platform, threading
    import numpy as np
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    X86 = platform.machine().lower() in ("x86_64", "amd64")
    FE = {"nearest": 0x000, "downward": 0x400, "upward": 0x800, "toward_zero": 0xC00} if X86 else {}

    def mxcsr_control():
        # glibc's x86-64 fenv_t: 28 bytes of x87 state, then the 32-bit MXCSR;
        # bits 0-5 are sticky exception flags, the rest is control (FTZ 15, DAZ 6, RC 13-14)
        if not X86:
            return None
        env = (ctypes.c_uint32 * 8)()
        assert libm.fegetenv(env) == 0
        return env[7] & ~0x3F

    def set_mxcsr_bits(bits):
        env = (ctypes.c_uint32 * 8)()
        libm.fegetenv(env)
        env[7] |= bits
        libm.fesetenv(env)

    def numpy_view():
        # the same facts seen through arithmetic: subnormals survive (no FTZ/DAZ) and
        # ties round to even (round to nearest)
        with np.errstate(all="ignore"):
            sub = np.float32(1e-40)
            return (bool(sub * np.float32(1.0) != 0), bool(np.float32(1e-39) / np.float32(16) != 0),
                    float(np.float64(1.0) + np.float64(2.0**-53)) == 1.0,
                    float(np.float64(-1.0) - np.float64(2.0**-53)) == -1.0,
                    float(np.float64(1.0) + np.float64(3 * 2.0**-53)) == 1.0 + 2.0**-51)

    def env_state():
        return (mxcsr_control(), libm.fegetround(), numpy_view())
""")


def _run(body):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", HELPERS + textwrap.dedent(body)], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def test_import_and_fills_leave_the_fp_environment_alone():
    out = _run("""
        before = env_state()
        assert before[2] == (True, True, True, True, True), before  # a sane starting point
        import fastinit
        from fastinit import _core
        after_import = env_state()
        seen = []
        for isa in [n for n in _core.ISA_NAMES if _core.isa_supported(n)]:
            _core.set_isa(isa)
            for dt in ["float32", "float64", "float16", "bfloat16"]:
                for threads in (1, 2):
                    fastinit.uniform(300_000, seed=1, dtype=dt, threads=threads)
                    fastinit.uniform(5000, 1e-45, 4e-45, seed=1, threads=threads)  # subnormal range
                    fastinit.normal(300_000, seed=1, dtype=dt, threads=threads)
                    fastinit.trunc_normal(300_000, 0.0, 1.0, 8.0, 9.0, seed=1, dtype=dt, threads=threads)
                    fastinit.full(1000, 1e-40, dtype=dt, threads=threads)
            fastinit.random_raw(100_000, seed=1)
            seen.append(env_state())
        # a thread started now sees the default environment too
        box = []
        t = threading.Thread(target=lambda: box.append(env_state()))
        t.start(); t.join()
        print("states", before == after_import, all(s == before for s in seen), box[0] == before)
    """)
    assert "states True True True" in out


SCENARIOS = {
    "ftz_daz_torch": "import torch; assert torch.set_flush_denormal(True)",
    "ftz_daz_mxcsr": "set_mxcsr_bits(0x8040)",
    "round_upward": "libm.fesetround(FE['upward'])",
    "round_downward": "libm.fesetround(FE['downward'])",
    "round_toward_zero": "libm.fesetround(FE['toward_zero'])",
}


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="the scenarios set x86 MXCSR bits and glibc's x86 rounding codes")
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_values_do_not_depend_on_the_callers_fp_environment(scenario):
    out = _run(f"""
        import hashlib
        import fastinit
        def fills():
            d = hashlib.sha256()
            for threads in (1, 2):
                for a in (fastinit.uniform(300_000, 1e-45, 4e-45, seed=1, threads=threads),
                          fastinit.normal(300_000, 0.0, 1e-39, seed=1, threads=threads),
                          fastinit.normal(300_000, seed=2, threads=threads),
                          fastinit.trunc_normal(300_000, seed=3, dtype="float64", threads=threads),
                          fastinit.uniform(300_000, -3.0, 7.0, seed=4, dtype="bfloat16", threads=threads),
                          fastinit.full(10, 1e-40, threads=threads)):
                    d.update(a.tobytes())
            return d.hexdigest()
        default, default_state = fills(), env_state()
        {SCENARIOS[scenario]}
        assert env_state() != default_state, "the scenario did not change the environment"
        print("same", fills() == default)
    """)
    assert "same True" in out, out
