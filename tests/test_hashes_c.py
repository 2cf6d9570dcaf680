"""The C core's own regression-hash table (``make -C src_c hashes``, src_c/tests/hashes.c)
equals tests/data/regression_hashes.json, and every path the native build has gave it.

The driver computes sha256 of each case's output bytes without Python, on every
instruction-set path this CPU runs (forced one by one), and fails if two paths differ;
the same table is checked under qemu-aarch64 in tests/test_aarch64.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess

from fastinit import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC_C = os.path.join(ROOT, "src_c")
DATA = os.path.join(ROOT, "tests", "data", "regression_hashes.json")


def expected_table():
    with open(DATA) as f:
        data = json.load(f)
    return {**data["hashes"], **data["hashes_c"]}


def parse(out):
    """(paths run, {name: hash}, mismatches) from the driver's output."""
    paths = re.search(r"^hashes: paths ([a-z0-9 ]+)$", out, re.M)
    summary = re.search(r"^hashes: (\d+) cases, (\d+) paths, (\d+) mismatches$", out, re.M)
    assert paths and summary, "the hash driver printed no header or summary:\n" + out[-3000:]
    table = dict(re.findall(r"^(\S+) ([0-9a-f]{64})$", out, re.M))
    assert len(table) == int(summary.group(1))
    return paths.group(1).split(), table, int(summary.group(3))


def run_make(tmp_path, *args, timeout=600):
    res = subprocess.run(["make", "-j2", "-C", SRC_C, f"OUT={tmp_path}", *args],
                         capture_output=True, text=True, timeout=timeout)
    return res.returncode, res.stdout + res.stderr


def test_native_table_equals_the_json(tmp_path):
    rc, out = run_make(tmp_path, "hashes")
    assert rc == 0, out[-6000:]
    paths, table, mismatches = parse(out)
    assert mismatches == 0
    assert paths == [n for n in _core.ISA_NAMES if _core.isa_supported(n)]
    want = expected_table()
    assert len(want) >= 20
    assert set(table) == set(want)
    changed = sorted(k for k in want if table[k] != want[k])
    assert not changed, f"the C table differs from regression_hashes.json for {changed}"


def test_the_stream_constant_of_the_driver():
    """hashes.c hard-codes the stream of "fastinit/regression" (its blake2b id)."""
    src = open(os.path.join(SRC_C, "tests", "hashes.c")).read()
    sid = int.from_bytes(hashlib.blake2b(b"fastinit/regression", digest_size=8).digest(), "little")
    assert f"#define STREAM {sid:#x}ull" in src
    assert "#define SEED 20240601u" in src

