"""The C core on aarch64, under qemu: ``make -C src_c TARGET=aarch64 test hashes``
cross-compiles with aarch64-linux-gnu-gcc and runs the drivers under qemu-aarch64.

Every path of that build is forced one by one (scalar and NEON): the Philox known
answers, the kernel driver (every distribution x dtype x path against the scalar path,
region fills, threads, FP environment with FPCR.FZ) and the regression-hash table,
which must equal the native one, i.e. tests/data/regression_hashes.json.  Under qemu
only bits are checked, never speed.  Needs Debian's gcc-aarch64-linux-gnu and qemu-user
(CI installs both).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

from test_hashes_c import ROOT, expected_table, parse, run_make


def test_cross_compiled_drivers_pass_under_qemu_on_every_path(tmp_path):
    assert shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64"), \
        "install gcc-aarch64-linux-gnu and qemu-user (apt) to run the aarch64 check"
    rc, out = run_make(tmp_path, "TARGET=aarch64", "test", "hashes", timeout=900)
    assert rc == 0, out[-6000:]
    assert "qemu-aarch64" in out  # the drivers really ran under the emulator
    assert "philox4x32 known answers: 6 checked, 0 failed" in out

    kernel_paths = re.search(r"test_kernels: paths ([a-z0-9 ]+),", out).group(1).split()
    assert kernel_paths == ["scalar", "neon"]
    checks, failed = map(int, re.search(r"test_kernels: (\d+) checks, (\d+) failed", out).groups())
    assert failed == 0 and checks > 50_000

    paths, table, mismatches = parse(out)
    assert paths == ["scalar", "neon"] and mismatches == 0
    want = expected_table()
    assert set(table) == set(want)
    changed = sorted(k for k in want if table[k] != want[k])
    assert not changed, f"the aarch64 table differs from the native one for {changed}"


def test_setup_py_builds_the_neon_unit_on_aarch64(tmp_path):
    """setup.py's aarch64 branch (cross-compiled here): kernels_neon.c is built with no
    target flags (NEON and its FMA are baseline), FI_HAVE_NEON reaches the core, and no
    unit gets a -march / -m flag."""
    code = textwrap.dedent(f"""
        import platform, sys
        platform.machine = lambda: "aarch64"
        sys.argv = ["setup.py", "build_ext", "--build-lib", {str(tmp_path / "lib")!r},
                    "--build-temp", {str(tmp_path / "tmp")!r}]
        __file__ = "setup.py"
        exec(open("setup.py").read())
    """)
    env = dict(os.environ, CC="aarch64-linux-gnu-gcc", LDSHARED="aarch64-linux-gnu-gcc -shared")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    compiles = [line for line in out.splitlines() if line.startswith("aarch64-linux-gnu-gcc") and " -c " in line]
    neon = [line for line in compiles if "src_c/kernels_neon.c" in line]
    assert len(neon) == 1
    assert not any(re.search(r"\s-m\S+", line) for line in compiles if "probe.c" not in line)
    assert all("-DFI_HAVE_NEON=1" in line for line in compiles if "src_c/dispatch.c" in line)
    assert not any("kernels_avx" in line for line in compiles)
    (so,) = (tmp_path / "lib" / "fastinit").glob("_core*.so")
    header = so.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
