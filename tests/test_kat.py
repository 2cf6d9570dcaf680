"""Philox4x32 known-answer tests (Random123's kat_vectors), three ways:
the C driver src_c/tests/test_kat.c built on its own, the extension's
fastinit._core.philox4x32, and the NumPy reference; then random_raw against the
reference for seeds, streams and starts across the whole 64-bit index range."""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import fastinit
import reference
from fastinit import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAT_FILE = os.path.join(ROOT, "tests", "data", "philox_kat_vectors.txt")
SRC_C = os.path.join(ROOT, "src_c")
# the portable core: every C unit but the SIMD ones (which need target flags)
SIMD_UNITS = {"kernels_avx2.c", "kernels_avx512.c", "kernels_neon.c"}
PORTABLE = sorted(os.path.join(SRC_C, f) for f in os.listdir(SRC_C)
                  if f.endswith(".c") and f not in SIMD_UNITS)


def kat_vectors():
    """(rounds, counter, key, expected) for every philox4x32 line of the KAT file."""
    vectors = []
    with open(KAT_FILE) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0] != "philox4x32":
                continue
            rounds = int(fields[1])
            values = [int(x, 16) for x in fields[2:]]
            assert len(values) == 10, line
            vectors.append((rounds, tuple(values[:4]), tuple(values[4:6]), tuple(values[6:])))
    return vectors


def test_kat_file_has_both_round_counts():
    rounds = sorted({v[0] for v in kat_vectors()})
    assert rounds == [7, 10]
    assert len(kat_vectors()) == 6


def test_c_driver(tmp_path):
    """Compile the standalone C driver (no Python headers) and run it on the KAT file."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler is needed to build the known-answer driver"
    exe = str(tmp_path / "test_kat")
    cmd = [cc, "-std=c99", "-O2", "-ffp-contract=off", "-Wall",
           os.path.join(SRC_C, "tests", "test_kat.c"), *PORTABLE, "-I" + SRC_C, "-o", exe, "-lm"]
    build = subprocess.run(cmd, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([exe, KAT_FILE], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 checked, 0 failed" in run.stdout


def test_c_driver_detects_a_wrong_answer(tmp_path):
    """The driver must fail on a corrupted vector (so a silent pass is impossible)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    exe = str(tmp_path / "test_kat")
    subprocess.run([cc, "-std=c99", "-O2", "-ffp-contract=off", os.path.join(SRC_C, "tests", "test_kat.c"),
                    *PORTABLE, "-I" + SRC_C, "-o", exe, "-lm"], check=True)
    bad = tmp_path / "bad.txt"
    text = open(KAT_FILE).read().replace("6627e8d5", "6627e8d4")
    bad.write_text(text)
    run = subprocess.run([exe, str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "1 failed" in run.stdout


@pytest.mark.parametrize("rounds, ctr, key, expected", kat_vectors())
def test_extension_philox(rounds, ctr, key, expected):
    assert _core.philox4x32(rounds, ctr, key) == expected


@pytest.mark.parametrize("rounds, ctr, key, expected", kat_vectors())
def test_reference_philox(rounds, ctr, key, expected):
    got = reference.philox4x32(np.array([ctr]), key, rounds)[0]
    assert tuple(int(x) for x in got) == expected
    # and the reference's inverse undoes it (used by tests to choose words)
    back = reference.philox4x32_inverse(np.array([expected]), key, rounds)[0]
    assert tuple(int(x) for x in back) == ctr


def test_extension_philox_matches_reference_on_random_blocks(rng):
    ctrs = rng.integers(0, 1 << 32, size=(200, 4), dtype=np.uint64)
    keys = rng.integers(0, 1 << 32, size=(200, 2), dtype=np.uint64)
    for rounds in (7, 10):
        for c, k in zip(ctrs, keys):
            want = reference.philox4x32(c[None], (int(k[0]), int(k[1])), rounds)[0]
            assert _core.philox4x32(rounds, [int(x) for x in c], [int(x) for x in k]) == tuple(int(x) for x in want)


SEEDS = [0, 1, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1, 0x243F6A8885A308D3]
STREAMS = [0, 1, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1, "encoder.layers.0.weight", ""]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("stream", STREAMS)
def test_random_raw_matches_reference(isa, seed, stream):
    for start, n in [(0, 1), (0, 4099), (3, 1), (5, 2050), (4 * (1 << 32) - 7, 30)]:
        got = fastinit.random_raw(n, seed=seed, stream=stream, start=start)
        assert got.dtype == np.uint32 and got.shape == (n,)
        np.testing.assert_array_equal(got, reference.words(seed, stream, start, n))


@pytest.mark.parametrize("start, n", [
    (0, 0), (1, 0),
    ((1 << 34) - 5, 12),            # block counter crosses 2**32: carry into counter word 1
    ((1 << 34) - 4096 - 3, 9000),   # the same inside a multi-tile call
    ((1 << 62) + 1, 17),
    ((1 << 64) - 8, 8),             # the very last words of the stream
    ((1 << 64) - 6, 2),
    ((1 << 64) - 1, 1),
    ((1 << 64) - 70001, 70001),     # ends exactly at 2**64, starts below the top region
])
def test_random_raw_ranges(isa, start, n):
    got = fastinit.random_raw(n, seed=99, stream=3, start=start)
    np.testing.assert_array_equal(got, reference.words(99, 3, start, n))


def test_random_raw_pieces_equal_whole(rng):
    """Any split of [start, start + n) gives the same words."""
    start, n = (1 << 34) - 1000, 5000
    whole = fastinit.random_raw(n, seed=5, start=start)
    cuts = np.sort(rng.choice(np.arange(1, n), size=7, replace=False))
    pieces = [fastinit.random_raw(b - a, seed=5, start=start + a)
              for a, b in zip(np.r_[0, cuts], np.r_[cuts, n])]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


def test_stream_str_mapping():
    """str streams map through 8-byte BLAKE2b, little endian (STREAM.md)."""
    import hashlib

    name = "décoder.0.weight"
    want = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")
    assert fastinit.stream_id(name) == want
    np.testing.assert_array_equal(fastinit.random_raw(8, seed=1, stream=name),
                                  fastinit.random_raw(8, seed=1, stream=want))
    assert fastinit.stream_id(12) == 12


def test_random_raw_rejects_words_past_the_end():
    with pytest.raises(ValueError, match="2\\*\\*64"):
        fastinit.random_raw(2, seed=0, start=(1 << 64) - 1)
