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

import re
import shutil

from test_hashes_c import expected_table, parse, run_make


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
