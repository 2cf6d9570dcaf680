"""Issue 12's validation items: each test here failed before its fix.

Streams and dtypes spelled the way users write them, scaled structured values checked
against the dtype's range, trunc_normal's overflow judged on what the sampler can
produce, an exact self-overlap test for out=, structured fills that write nothing to
`out` before every allocation succeeded (and regions of sparse without whole columns),
an interruptible QR, fastinit.diagnostics as a lazy attribute, a clear message when
the extension is not built.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import fastinit
import fastinit.torch as finit
from fastinit import _validate
from fastinit.initializers import sparsity as SP
from fastinit.initializers import structured as S

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -------------------------------------------------------------- stream, dtype ----
def test_lone_surrogate_stream_is_a_value_error_naming_stream():
    with pytest.raises(ValueError, match="^stream '.*' is not valid Unicode"):
        fastinit.normal(3, seed=0, stream="layer\ud800")
    with pytest.raises(ValueError, match="^stream"):
        fastinit.stream_id("\udfff")


@pytest.mark.parametrize("spelling,name", [("f4", "float32"), ("<f8", "float64"), ("=f2", "float16"),
                                           ("float", "float64"), ("single", "float32"),
                                           ("half", "float16"), ("FLOAT32", "float32")])
def test_numpy_spellings_of_the_dtypes(spelling, name):
    x = fastinit.normal(5, seed=0, dtype=spelling)
    assert x.dtype.name == name and x.dtype.isnative
    assert x.tobytes() == fastinit.normal(5, seed=0, dtype=name).tobytes()


def test_non_native_byte_order_is_refused_saying_so():
    other = ">" if sys.byteorder == "little" else "<"
    for dt in (f"{other}f4", np.dtype(f"{other}f8")):
        with pytest.raises(ValueError, match="not in native byte order"):
            fastinit.uniform(3, seed=0, dtype=dt)


# ------------------------------------------------------ scaled structured values ----
@pytest.mark.parametrize("call,shape", [
    (lambda out: fastinit.identity((4, 4), gain=1e39, out=out), (4, 4)),
    (lambda out: fastinit.orthogonal((4, 4), gain=1e39, seed=0, out=out), (4, 4)),
    (lambda out: fastinit.delta_orthogonal((1, 4, 4), scale=1e39, seed=0, out=out), (1, 4, 4)),
], ids=["identity", "orthogonal", "delta_orthogonal"])
def test_scaled_structured_values_beyond_the_dtype_are_refused(call, shape):
    out = np.full(shape, 7.0, np.float32)
    with pytest.raises(ValueError, match="too large for float32|outside the range of float32"):
        call(out)
    assert bool((out == 7.0).all())
    assert np.isfinite(fastinit.identity((2, 2), gain=1e38)).all()  # in range: accepted


def test_float16_orthogonal_gain_overflow_is_refused_and_float32_is_not():
    with pytest.raises(ValueError, match="gain=100000.0 is too large for float16"):
        fastinit.orthogonal((3, 3), gain=1e5, seed=0, dtype="float16")
    q = fastinit.orthogonal((3, 3), gain=1e5, seed=0, dtype="float32")
    assert np.isfinite(q).all()
    # large matrices have small entries: the same gain fits float16 there
    big = fastinit.orthogonal((400, 400), gain=1e5, seed=0, dtype="float16")
    assert np.isfinite(big).all()


def test_trunc_normal_overflow_judged_on_the_values_it_can_produce():
    x = fastinit.trunc_normal(1 << 20, 0.0, 1000.0, -100.0, 2.0, dtype="float16", seed=0)
    assert np.isfinite(x).all() and float(x.max()) <= 2000.0 and float(x.min()) > -7000.0
    with pytest.raises(ValueError, match="overflow"):
        fastinit.trunc_normal(10, 0.0, 2e4, -10.0, 2.0, dtype="float16", seed=0)
    # PyTorch-style absolute bounds far outside the values: accepted as torch accepts them
    t = finit.trunc_normal_(torch.empty(1000, dtype=torch.float16), 0.0, 1000.0, -1e6, 1e6, seed=0)
    assert bool(torch.isfinite(t).all())


# ------------------------------------------------------------------ overlap ----
def _brute_overlap(a):
    offsets = np.zeros(1, np.int64)
    for n, st in zip(a.shape, a.strides):
        offsets = (offsets[:, None] + st * np.arange(n, dtype=np.int64)[None, :]).ravel()
    offsets.sort()
    return bool(np.any(np.diff(offsets) < a.itemsize))


def test_self_overlap_test_is_exact_on_random_layouts():
    rng = random.Random(12)
    buf = np.zeros(1 << 14, np.uint8)
    counts = [0, 0]
    for _ in range(4000):
        nd = rng.randint(1, 4)
        shape = tuple(rng.randint(1, 6) for _ in range(nd))
        strides = tuple(rng.choice([-1, 1]) * rng.randint(0, 40) for _ in range(nd))
        dt = rng.choice([np.uint8, np.uint16, np.uint32, np.uint64])
        a = np.ndarray(shape, dtype=dt, buffer=buf, offset=4000, strides=strides)
        if a.size == 0:
            continue
        want = _brute_overlap(a)
        counts[want] += 1
        assert _validate.self_overlapping(a) == want, (shape, strides, a.itemsize)
    assert min(counts) > 500


def test_distinct_interleaved_layout_is_accepted_at_any_size():
    # float32 elements at 8 i + 12 j (j < 2): all distinct, though no stride steps over the other
    base = np.zeros(2 * (1 << 22) + 8, np.float32)
    out = np.lib.stride_tricks.as_strided(base, shape=(1 << 22, 2), strides=(8, 12))
    fastinit.normal((1 << 22, 2), seed=5, out=out)
    np.testing.assert_array_equal(out, fastinit.normal((1 << 22, 2), seed=5))
    small = np.lib.stride_tricks.as_strided(base, shape=(40, 2), strides=(8, 12))
    assert not _validate.self_overlapping(small)
    # with a third column, (i + 3, 0) and (i, 2) share bytes, at every size
    for n in (40, 1 << 22):
        bad = np.lib.stride_tricks.as_strided(base, shape=(n, 3), strides=(8, 12))
        with pytest.raises(ValueError, match="overlapping"):
            fastinit.normal((n, 3), seed=5, out=bad)


# ------------------------------------------------- nothing written before allocations ----
def test_sparse_writes_nothing_to_out_when_an_allocation_fails(monkeypatch):
    def no_memory(*args):
        raise MemoryError("test")

    monkeypatch.setattr(SP, "_smallest_per_row", no_memory)
    out = np.full((2, 2), 7.0, np.float32)
    with pytest.raises(MemoryError):
        fastinit.sparse((100, 50), 0.5, seed=0, region=np.s_[10:12, 3:5], out=out)
    assert bool((out == 7.0).all())


def test_delta_orthogonal_writes_nothing_to_out_when_an_allocation_fails(monkeypatch):
    def no_memory(g):
        raise MemoryError("test")

    monkeypatch.setattr(S, "_qr_interruptible", no_memory)
    out = np.full((3, 3, 2, 2), 7.0, np.float32)
    with pytest.raises(MemoryError):
        fastinit.delta_orthogonal((3, 3, 4, 8), seed=0, region=np.s_[:, :, 1:3, 2:4], out=out)
    assert bool((out == 7.0).all())


def test_sparse_region_of_long_columns_is_ranked_without_whole_columns(monkeypatch):
    shape, region = (300, 9), np.s_[17:40, 2:7]
    whole = fastinit.sparse(shape, 0.3, seed=2, stream="s")
    monkeypatch.setattr(SP, "WHOLE_COLUMN_ROWS", 64)  # 300 rows now count as "long"
    part = fastinit.sparse(shape, 0.3, seed=2, stream="s", region=region)
    np.testing.assert_array_equal(part, whole[region])
    np.testing.assert_array_equal(fastinit.sparse(shape, 0.3, seed=2, stream="s"), whole)


def test_sparse_small_region_of_a_tall_matrix_needs_little_memory():
    import tracemalloc

    rows = 12 << 20  # above WHOLE_COLUMN_ROWS: columns stream past the region's rows
    tracemalloc.start()
    part = fastinit.sparse((rows, 3), 0.5, seed=1, region=np.s_[5:7, 1:3])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 << 20, peak  # one whole column in float64 would be 96 MiB
    assert part.shape == (2, 2) and int((part == 0).sum()) <= 4


# ------------------------------------------------------------ interruptible QR ----
def test_qr_in_a_worker_thread_gives_the_same_bits(monkeypatch):
    direct = fastinit.orthogonal((300, 200), seed=3, dtype="float64")
    monkeypatch.setattr(S, "QR_IN_THREAD", 0)
    assert fastinit.orthogonal((300, 200), seed=3, dtype="float64").tobytes() == direct.tobytes()


QR_CHILD = textwrap.dedent("""
    import time, fastinit
    fastinit.orthogonal((64, 64), seed=0)
    print("ready", flush=True)
    t0 = time.monotonic()
    try:
        fastinit.orthogonal((4000, 4000), seed=0, dtype="float64")
        print("finished", time.monotonic() - t0, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
""")


def test_sigint_interrupts_a_long_orthogonal_qr():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", QR_CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.2)  # the normal fill is done, LAPACK is in the QR (several seconds)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        line = proc.stdout.readline().strip()
        latency = time.monotonic() - sent
        assert line == "interrupted", (line, proc.stderr.read()[-2000:])
        assert latency < 1.0, f"KeyboardInterrupt arrived {latency:.2f} s after SIGINT"
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ imports ----
def test_diagnostics_is_a_lazy_attribute():
    code = ("import sys, fastinit; assert 'fastinit.diagnostics' not in sys.modules; "
            "print(fastinit.diagnostics.signal_propagation.__name__, fastinit.recommend.__name__)")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["signal_propagation", "recommend"]


def test_unbuilt_source_tree_says_how_to_build(tmp_path):
    shutil.copytree(os.path.join(ROOT, "fastinit"), tmp_path / "fastinit",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    # An editable install's import hook would supply the built extension of the checkout
    # it points at; drop it, as after a non-editable install.
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
            "getattr(f, '__module__', '') + getattr(f, '__name__', '')]; import fastinit")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: fastinit is being imported from its source tree"), last
    assert "pip install -e ." in last and "build_ext --inplace" in last
    assert "circular import" not in last
