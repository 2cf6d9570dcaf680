"""Every SIMD path gives the scalar path's bits, where the SIMD kernels are most
likely to differ: around their batch, interleave and tile boundaries, at odd starts
and unaligned destinations, through the streaming-store path of large fills, in the
truncated normal's tail pass, at extreme words, and when the path is chosen by the
FASTINIT_SIMD environment variable in a fresh interpreter.

The SIMD kernels (src_c/kernels_impl.h) work in batches of 8 Philox blocks (AVX-512;
4 on AVX2), i.e. 32 float32 / 16 float64 elements, four batches per loop step, a
vector-aligned main part with a buffered head and tail, non-temporal stores for
pieces of 16 MiB and more, and 512-element tiles for the truncated normal."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastinit
import reference
from conftest import DTYPE_NAMES, SUPPORTED_ISAS, selected_isa
from fastinit import _core

SIMD_ISAS = [name for name in SUPPORTED_ISAS if name != "scalar"]
pytestmark = pytest.mark.skipif(not SIMD_ISAS, reason="this CPU or build has no SIMD path to compare")

INF = math.inf
# (function name, positional parameters): each distribution, and truncated normals
# whose values mostly (or all) need the tail pass
CASES = {
    "uniform": ("uniform", (-0.75, 2.5)),
    "normal": ("normal", (0.25, 1.5)),
    "trunc_2sigma": ("trunc_normal", (0.1, 0.7, -2.0, 2.0)),
    "trunc_half": ("trunc_normal", (0.0, 1.0, 0.0, INF)),
    "trunc_far": ("trunc_normal", (0.0, 1.0, 25.0, 26.0)),
    "trunc_left_tail": ("trunc_normal", (1.0, 0.5, -INF, -3.0)),
    "trunc_none": ("trunc_normal", (0.0, 2.0, -INF, INF)),
}
LOGICAL = (1 << 40,)


def bits(x):
    x = np.ascontiguousarray(x)
    return x.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize])


def fill(case, isa, shape=LOGICAL, **kw):
    name, params = CASES[case]
    with selected_isa(isa):
        return getattr(fastinit, name)(shape, *params, **kw)


def assert_same_bits(got, want, what=""):
    assert got.shape == want.shape and got.dtype == want.dtype
    bad = np.flatnonzero(bits(got).ravel() != bits(want).ravel())
    assert bad.size == 0, (f"{what}: {bad.size} of {got.size} elements differ from the scalar "
                           f"path, first at {bad[0]}: {got.ravel()[bad[0]]!r} != {want.ravel()[bad[0]]!r}")


# Lengths around every structural size: one element, one batch (16/32), one step of
# four batches (64/128), the truncated normal's tile (512), and odd ones in between.
LENGTHS = [1, 2, 3, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 257, 511, 512,
           513, 1000, 1031, 2049]
STARTS = [0, 1, 2, 3, 5, 13, 31, 33, 127, 1021]


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("case", list(CASES))
def test_lengths_and_starts_around_batch_boundaries(case, dtype):
    """One scalar fill of a window; every SIMD path must reproduce each sub-range of it
    computed on its own (heads, tails and whole batches at every offset)."""
    window = max(STARTS) + max(LENGTHS) + 40
    base = (1 << 33) - 700  # the window crosses block counter 2**31 (f64) / 2**32 carry zone
    ref = fill(case, "scalar", region=np.s_[base:base + window], seed=77, stream="simd", dtype=dtype)
    for isa in SIMD_ISAS:
        for start in STARTS:
            for n in LENGTHS:
                got = fill(case, isa, region=np.s_[base + start:base + start + n], seed=77,
                           stream="simd", dtype=dtype, threads=1)
                assert_same_bits(got, ref[start:start + n], f"{isa} {case} {dtype} [{start}, +{n})")


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("case", ["uniform", "normal", "trunc_2sigma"])
def test_unaligned_destinations(case, dtype):
    """out= views at every byte offset a dtype allows, relative to 64-byte alignment,
    so the vector-aligned main part starts at every possible element."""
    n = 3001
    ref = fill(case, "scalar", shape=(n + 11,), region=np.s_[11:], seed=5, dtype=dtype)
    itemsize = ref.dtype.itemsize
    for isa in SIMD_ISAS:
        raw = np.zeros(n * itemsize + 64 + 64, np.uint8)
        base = (-raw.ctypes.data) % 64  # raw[base:] is 64-byte aligned
        for off in range(0, 64, itemsize):
            raw[...] = 0
            out = raw[base + off:base + off + n * itemsize].view(ref.dtype)
            fill(case, isa, shape=(n + 11,), region=np.s_[11:], seed=5, dtype=dtype, out=out, threads=1)
            assert_same_bits(out, ref, f"{isa} {case} {dtype} destination offset {off}")
            assert not raw[:base + off].any() and not raw[base + off + n * itemsize:].any()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", ["uniform", "normal"])
def test_streaming_store_path(case, dtype):
    """Pieces of >= 16 MiB use non-temporal stores (uniform's chunks are that large):
    same bits with one and two threads, into a 64-byte aligned output (where the
    streaming stores apply) and one shifted by an element (where they cannot)."""
    itemsize = np.dtype(dtype).itemsize
    n = (33 << 20) // itemsize + 37
    ref = fill(case, "scalar", shape=(n + 4,), region=np.s_[4:], seed=9, dtype=dtype, threads=2)
    raw = np.empty((n + 1) * itemsize + 64, np.uint8)
    base = (-raw.ctypes.data) % 64
    for isa in SIMD_ISAS:
        for off in (0, itemsize):
            out = raw[base + off:base + off + n * itemsize].view(dtype)
            for threads in (1, 2):
                out[...] = 0
                fill(case, isa, shape=(n + 4,), region=np.s_[4:], seed=9, dtype=dtype, out=out,
                     threads=threads)
                assert_same_bits(out, ref, f"{isa} {case} {dtype} offset {off} threads {threads}")


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
def test_trunc_tail_pass_with_every_mix_of_tail_lanes(dtype):
    """Bounds chosen so that from none to all values of a tile need the tail function;
    each tail value is patched into its own position."""
    bounds = [(-0.5, 0.5), (-1.5, 1.5), (-2.0, 2.0), (-3.0, 3.0), (-INF, INF), (1.4, 1.5),
              (-30.0, -29.9), (8.0, 9.0), (-1e-9, 1e-9), (-INF, 0.0), (5.0, INF)]
    for lo, hi in bounds:
        with selected_isa("scalar"):
            ref = fastinit.trunc_normal((5000,), 0.0, 1.0, lo, hi, seed=3, dtype=dtype)
        for isa in SIMD_ISAS:
            with selected_isa(isa):
                got = fastinit.trunc_normal((5000,), 0.0, 1.0, lo, hi, seed=3, dtype=dtype)
            assert_same_bits(got, ref, f"{isa} trunc_normal({lo}, {hi}) {dtype}")


def _extreme_word_fills():
    """Fills of 40 elements around blocks whose first words are extreme (0, 1, 2**31 - 1,
    2**31, 2**32 - 1, ...), found by inverting Philox; the block lands in a different
    SIMD lane each time."""
    extremes = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x00FFFFFF,
                0xFF000000]
    prefixes = [[a, b] for a in extremes for b in extremes[::3]]
    out = []
    for prefix in prefixes:
        for dtype in ("float32", "float64"):
            epb = 2 if dtype == "float64" else 4
            for seed in range(1000, 1100):
                found = reference.counter_for(seed, prefix, max_index_bits=62, elements_per_block=epb)
                if found is not None:
                    stream, block = found
                    i = block * epb
                    lo = max(0, i - 17)
                    out.append((prefix, dtype, seed, stream, np.s_[lo:i + 23]))
                    break
    return out


def test_extreme_words_in_every_lane():
    fills = _extreme_word_fills()
    assert len(fills) > 50
    for prefix, dtype, seed, stream, region in fills:
        for case in ("uniform", "normal", "trunc_2sigma", "trunc_half"):
            kw = dict(shape=(1 << 62,), region=region, seed=seed, stream=stream, dtype=dtype)
            ref = fill(case, "scalar", **kw)
            for isa in SIMD_ISAS:
                assert_same_bits(fill(case, isa, **kw), ref, f"{isa} {case} {dtype} words {prefix}")


def test_random_raw_on_every_path():
    starts = [0, 1, 3, 4, 31, 127, (1 << 34) - 5, (1 << 40) + 2]
    for start in starts:
        for n in (1, 7, 32, 33, 129, 5000):
            with selected_isa("scalar"):
                ref = fastinit.random_raw(n, seed=2**64 - 1, stream=5, start=start)
            for isa in SIMD_ISAS:
                with selected_isa(isa):
                    got = fastinit.random_raw(n, seed=2**64 - 1, stream=5, start=start)
                assert np.array_equal(got, ref), f"{isa} raw words [{start}, +{n})"
    # and the words are Philox4x32-10's (independent reference)
    with selected_isa(SIMD_ISAS[-1]):
        got = fastinit.random_raw(1000, seed=12345, stream=6, start=77)
    assert np.array_equal(got, reference.words(12345, 6, 77, 1000))


# ------------------------------------------------------------- the switches ----
_CHILD = r"""
import hashlib, json, sys, warnings
warnings.simplefilter("error")  # an ignored FASTINIT_SIMD would warn
import fastinit
h = hashlib.sha256()
for f, args in [(fastinit.uniform, (-1.0, 3.0)), (fastinit.normal, (0.5, 2.0)),
                (fastinit.trunc_normal, (0.0, 1.0, -2.0, 2.0))]:
    for dt in ("float32", "float64", "float16", "bfloat16"):
        h.update(f((10007,), *args, seed=11, stream=4, dtype=dt, region=(slice(3, 10007),)).tobytes())
h.update(fastinit.random_raw(1001, seed=11, stream=4, start=5).tobytes())
print(json.dumps({"selected": fastinit.show_config(file=False)["simd_selected"], "hash": h.hexdigest()}))
"""


def _child_env(**extra):
    env = dict(os.environ)
    env.pop("FASTINIT_SIMD", None)
    env.update(extra)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _run_child(**extra):
    proc = subprocess.run([sys.executable, "-c", _CHILD], env=_child_env(**extra),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_fastinit_simd_environment_variable_selects_the_path():
    results = {isa: _run_child(FASTINIT_SIMD=isa) for isa in SUPPORTED_ISAS}
    for isa, res in results.items():
        assert res["selected"] == isa
    hashes = {res["hash"] for res in results.values()}
    assert len(hashes) == 1, f"paths differ: {results}"
    # the default is the best supported path, with the same bits
    default = _run_child()
    assert default["selected"] == SUPPORTED_ISAS[-1]
    assert default["hash"] in hashes


def test_unknown_fastinit_simd_warns_and_falls_back():
    code = ("import warnings, fastinit; "
            "print(fastinit.show_config(file=False)['simd_selected'])")
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                          env=_child_env(FASTINIT_SIMD="sse9"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "FASTINIT_SIMD" in proc.stderr and "sse9" in proc.stderr
    assert proc.stdout.strip() == SUPPORTED_ISAS[-1]


@pytest.mark.parametrize("value", ["bogus", "unsupported"])
def test_unusable_fastinit_simd_warns_once_naming_the_valid_values(value):
    """Unknown, or a path this build or CPU lacks: one RuntimeWarning per process that
    says what is accepted here, then the best path."""
    if value == "unsupported":  # e.g. neon on x86, avx2 on aarch64
        value = next(n for n in _core.ISA_NAMES if not _core.isa_supported(n))
    code = textwrap.dedent("""
        import json, warnings
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            import fastinit
            from fastinit import _core
            fastinit.normal(100_000, seed=1)
            _core.set_isa("auto")
            fastinit.uniform(100_000, seed=1)
        print(json.dumps([str(w.message) for w in seen if w.category is RuntimeWarning]))
        print(_core.get_isa())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_child_env(FASTINIT_SIMD=value), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    messages = json.loads(lines[-2])
    assert len(messages) == 1, messages
    assert f"FASTINIT_SIMD={value!r}" in messages[0]
    for name in _core.valid_paths():
        assert repr(name) in messages[0]
    assert lines[-1] == SUPPORTED_ISAS[-1]


def test_set_isa_names_the_paths_it_accepts():
    missing = next(n for n in _core.ISA_NAMES if not _core.isa_supported(n))
    with pytest.raises(ValueError, match="use one of 'auto', 'scalar'") as info:
        _core.set_isa(missing)
    assert repr(missing) not in str(info.value).split(":", 1)[1]
    assert _core.get_isa() in SUPPORTED_ISAS


def test_show_config_reports_the_selected_path(capsys):
    for isa in SUPPORTED_ISAS:
        with selected_isa(isa):
            info = fastinit.show_config()
            printed = capsys.readouterr().out
            assert info["simd_selected"] == isa == _core.get_isa()
        assert isa in info["simd_supported"] and isa in info["simd_compiled"]
        assert any(line.split(":")[0].strip() == "simd_selected" and line.split(":")[1].strip() == isa
                   for line in printed.splitlines())


def test_set_isa_rejects_unknown_paths():
    with pytest.raises(ValueError, match="avx512"):
        _core.set_isa("neon9")
    assert _core.get_isa() in SUPPORTED_ISAS


def test_this_machine_runs_every_compiled_x86_path():
    """On the project's x86 CI machine every compiled path must be exercised: a SIMD path
    silently missing from the build would make every test above compare scalar with
    scalar."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("not an x86-64 machine")
    info = fastinit.show_config(file=False)
    assert "avx2" in info["simd_compiled"] and "avx512" in info["simd_compiled"]
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if " avx512f " in flags and " avx512bw " in flags:
        assert "avx512" in info["simd_supported"]
    if " avx2 " in flags:
        assert "avx2" in info["simd_supported"]
