"""fastinit.to_npy / to_zarr: content equal to the in-memory fill, bounded memory,
no complete-looking file after a failure, and the initializer registry they share."""
from __future__ import annotations

import math
import os
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
import zarr

import fastinit
import fastinit.io as fio
from fastinit.initializers import registry


def _bits(a):
    """The raw bytes of an array (so -0.0/0.0 and NaN payloads count as different)."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def _same(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(_bits(a), _bits(b))


def _leftovers(directory):
    return sorted(os.listdir(directory))


# ------------------------------------------------------------------ to_npy ----
NPY_CASES = [
    # shape, chunk_bytes: row blocks, blocks smaller than one row, one element per block
    ((1000, 64), 1000),
    ((257, 131), 4096),
    ((7,), 8),
    ((3, 1, 10001), 1000),
    ((2, 3, 5, 7), 1),
    ((), 64),
    ((0, 5), 64),
    ((5, 0), 64),
]


@pytest.mark.parametrize("shape,chunk_bytes", NPY_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_to_npy_is_np_save_of_the_in_memory_fill(tmp_path, shape, chunk_bytes, dtype):
    path = tmp_path / "t.npy"
    res = fastinit.to_npy(path, shape, "trunc_normal", std=0.5, lower=-1.5, seed=11, stream="emb",
                          dtype=dtype, progress=False, chunk_bytes=chunk_bytes, threads=2)
    ref = fastinit.trunc_normal(shape, std=0.5, lower=-1.5, seed=11, stream="emb", dtype=dtype)
    np.save(tmp_path / "ref.npy", ref)
    # Byte for byte the file np.save writes: same header, same data.
    assert path.read_bytes() == (tmp_path / "ref.npy").read_bytes()
    loaded = np.load(path)
    if dtype == "bfloat16":  # np.save/np.load know bfloat16 only as raw '<V2'
        loaded = loaded.view(ml_dtypes.bfloat16)
    _same(loaded, ref)
    assert res.path == str(path) and res.shape == shape and res.dtype == ref.dtype
    assert res.nbytes == ref.nbytes
    assert _leftovers(tmp_path) == ["ref.npy", "t.npy"]


@pytest.mark.parametrize("init,params", [
    ("uniform", dict(low=-3.0, high=0.5)),
    ("normal", dict(mean=1.0, std=0.02)),
    ("full", dict(value=-2.25)),
    ("zeros", {}),
    ("ones", {}),
])
def test_to_npy_each_core_initializer(tmp_path, init, params):
    shape = (123, 45)
    seed = {} if init in ("full", "zeros", "ones") else {"seed": 3}
    fastinit.to_npy(tmp_path / "x.npy", shape, init, progress=False, chunk_bytes=999, **seed, **params)
    _same(np.load(tmp_path / "x.npy"), getattr(fastinit, init)(shape, **seed, **params))


def test_to_npy_memory_stays_a_few_blocks(tmp_path):
    # A 64 MB table written in 1 MB blocks: the peak of NumPy allocations (which
    # tracemalloc sees) is two block buffers plus small samples, not the table.
    shape = (4096, 4096)
    tracemalloc.start()
    try:
        fastinit.to_npy(tmp_path / "big.npy", shape, "normal", seed=0, progress=False,
                        chunk_bytes=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MB while writing a 64 MB table"
    mm = np.load(tmp_path / "big.npy", mmap_mode="r")
    _same(np.asarray(mm[-3:]), fastinit.normal(shape, seed=0, region=np.s_[4093:4096, :]))


def test_to_npy_replaces_an_existing_file_atomically(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fastinit.to_npy(path, (10, 3), "uniform", seed=1, progress=False)
    _same(np.load(path), np.arange(3.0))
    fastinit.to_npy(path, (10, 3), "uniform", seed=1, progress=False, overwrite=True)
    _same(np.load(path), fastinit.uniform((10, 3), seed=1))
    assert _leftovers(tmp_path) == ["w.npy"]


def test_sample_moments_and_expected_values(tmp_path):
    res = fastinit.to_npy(tmp_path / "m.npy", (2000, 500), "normal", mean=0.5, std=2.0, seed=5,
                          progress=False, chunk_bytes=100_000)
    assert res.expected_mean == 0.5 and res.expected_std == 2.0
    assert 0 < res.sample_size <= 2000 * 500
    # Sample of at least 10^5 values: mean within 6 standard errors, std within 2 %.
    assert abs(res.sample_mean - 0.5) < 6 * 2.0 / math.sqrt(res.sample_size)
    assert abs(res.sample_std / 2.0 - 1) < 0.02
    assert res.seconds > 0 and res.gb_per_s > 0


@pytest.mark.parametrize("lower,upper", [(-2.0, 2.0), (-math.inf, 1.0), (0.5, math.inf), (3.0, 3.5)])
def test_expected_moments_of_trunc_normal_match_scipy(lower, upper):
    from scipy import stats

    mean, std = fio.expected_moments("trunc_normal", (10,), dict(mean=1.0, std=0.3, lower=lower,
                                                                   upper=upper))
    dist = stats.truncnorm(lower, upper, loc=1.0, scale=0.3)
    assert mean == pytest.approx(dist.mean(), rel=1e-9)
    assert std == pytest.approx(dist.std(), rel=1e-7)


@pytest.mark.parametrize("init,shape,params,std", [
    # std worked out by hand from the formulas in REFERENCE.md
    ("kaiming_normal", (64, 32, 3, 3), {}, math.sqrt(2) / math.sqrt(32 * 9)),
    ("kaiming_uniform", (2000, 50), {"a": math.sqrt(5)}, math.sqrt(2 / 6) / math.sqrt(50)),
    ("kaiming_normal", (1000, 100), {"mode": "fan_out", "nonlinearity": "tanh"},
     (5 / 3) / math.sqrt(1000)),
    ("xavier_uniform", (200, 600), {"gain": 2.0}, 2.0 * math.sqrt(2 / 800)),
    ("he_normal", (3, 3, 16, 32), {}, math.sqrt(2 / (9 * 16))),
    ("glorot_uniform", (3, 3, 16, 32), {}, math.sqrt(1 / ((9 * 16 + 9 * 32) / 2))),
    ("lecun_normal", (100, 1000), {}, math.sqrt(1 / 100)),
    ("variance_scaling", (400, 900), {"scale": 3.0, "mode": "fan_out", "distribution": "uniform"},
     math.sqrt(3 / 900)),
])
def test_expected_moments_of_fan_based_initializers(init, shape, params, std):
    assert fio.expected_moments(init, shape, params) == pytest.approx((0.0, std), rel=1e-12)
    # ...and the fill really has that std (at least 10^5 values: within 2 %).
    x = fio.get_initializer(init)(shape, seed=0, **params).astype(np.float64)
    assert x.std() == pytest.approx(std, rel=0.02)


def test_expected_moments_defaults_and_unknown():
    assert fio.expected_moments("uniform", (3,)) == (0.5, 1 / math.sqrt(12))
    assert fio.expected_moments("normal", (3,), {"std": 0.02}) == (0.0, 0.02)
    assert fio.expected_moments("zeros", (3,)) == (0.0, 0.0)

    def custom(shape, *, seed, stream=0, dtype=None, out=None, region=None, threads=None):
        return fastinit.normal(shape, seed=seed, stream=stream, dtype=dtype, out=out, region=region,
                               threads=threads)

    assert fio.expected_moments(custom, (3,)) is None


# ------------------------------------------------------------------ to_zarr ----
ZARR_CASES = [
    ((100, 10), (30, 7)),
    ((257, 131), (64, 131)),
    ((3, 4, 5), (2, 3, 4)),
    ((11,), 4),
    ((6, 5), "auto"),
    ((), "auto"),
    ((0, 4), (3, 4)),
]


@pytest.mark.parametrize("shape,chunks", ZARR_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_to_zarr_equals_the_in_memory_fill(tmp_path, shape, chunks, dtype):
    path = tmp_path / "t.zarr"
    fastinit.to_zarr(path, shape, "normal", chunks=chunks, std=0.25, seed=2, stream=9, dtype=dtype,
                     progress=False, threads=2)
    arr = zarr.open_array(str(path), mode="r")
    got = arr[...]
    if dtype == "bfloat16":
        assert arr.dtype == np.uint16 and arr.attrs["fastinit"]["dtype"] == "bfloat16"
        got = got.view(ml_dtypes.bfloat16)
    ref = fastinit.normal(shape, std=0.25, seed=2, stream=9, dtype=dtype)
    _same(np.asarray(got), ref)
    if isinstance(chunks, tuple):
        assert arr.chunks == chunks
    assert arr.metadata.zarr_format == 3
    assert _leftovers(tmp_path) == ["t.zarr"]


def test_to_zarr_is_uncompressed_and_records_its_recipe(tmp_path):
    path = tmp_path / "r.zarr"
    fastinit.to_zarr(path, (40, 8), "uniform", chunks=(10, 8), low=-1, high=1, seed=7,
                     stream="dec.w", progress=False)
    arr = zarr.open_array(str(path), mode="r")
    assert arr.compressors == ()
    # Uncompressed: a full chunk's file is exactly its raw little-endian values.
    raw = (path / "c" / "1" / "0").read_bytes()
    ref = fastinit.uniform((40, 8), -1, 1, seed=7, stream="dec.w")
    assert raw == ref[10:20].astype("<f4").tobytes()
    rec = arr.attrs["fastinit"]
    assert rec["init"] == "uniform" and rec["seed"] == 7 and rec["stream"] == "dec.w"
    assert rec["params"] == {"low": -1, "high": 1}
    assert int(rec["stream_id"]) == fastinit.stream_id("dec.w")


def test_to_zarr_replaces_an_existing_array(tmp_path):
    path = tmp_path / "z.zarr"
    fastinit.to_zarr(path, (5, 5), "zeros", progress=False)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fastinit.to_zarr(path, (8, 2), "ones", progress=False)
    fastinit.to_zarr(path, (8, 2), "ones", progress=False, overwrite=True)
    _same(zarr.open_array(str(path), mode="r")[...], np.ones((8, 2), np.float32))
    assert _leftovers(tmp_path) == ["z.zarr"]


# ------------------------------------------------------------- failures ----
def _flaky(fail_on_call, exc):
    """An initializer with fastinit's signature that raises on its n-th call
    (call 1 is the writers' one-element dry run)."""
    calls = {"n": 0}

    def flaky_normal(shape, mean=0.0, std=1.0, *, seed, stream=0, dtype=None, out=None, region=None,
                     threads=None):
        calls["n"] += 1
        if calls["n"] == fail_on_call:
            raise exc
        return fastinit.normal(shape, mean, std, seed=seed, stream=stream, dtype=dtype, out=out,
                               region=region, threads=threads)

    return flaky_normal, calls


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
@pytest.mark.parametrize("writer", ["npy", "zarr"])
def test_failure_mid_write_leaves_no_complete_looking_file(tmp_path, writer, exc):
    init, calls = _flaky(5, exc)
    path = tmp_path / f"t.{writer}"
    kw = dict(chunk_bytes=4000) if writer == "npy" else dict(chunks=(10, 100), threads=2)
    write = fastinit.to_npy if writer == "npy" else fastinit.to_zarr
    with pytest.raises(type(exc)):
        write(path, (100, 100), init, seed=0, progress=False, **kw)
    assert calls["n"] >= 5  # it did fail mid-write, after writing some blocks
    assert _leftovers(tmp_path) == []


def test_write_error_in_the_writer_thread_cleans_up(tmp_path, monkeypatch):
    # As when the disk fills up: the third block's write() fails in the writer thread.
    real = fio.npy._write_block
    calls = {"n": 0}

    def failing_write(f, block, bar):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real(f, block, bar)

    monkeypatch.setattr(fio.npy, "_write_block", failing_write)
    with pytest.raises(OSError, match="No space left"):
        fastinit.to_npy(tmp_path / "f.npy", (100, 100), "normal", seed=0, progress=False,
                        chunk_bytes=4000)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("writer", ["npy", "zarr"])
def test_failure_keeps_the_previous_file_intact(tmp_path, writer):
    path = tmp_path / f"t.{writer}"
    write = fastinit.to_npy if writer == "npy" else fastinit.to_zarr
    write(path, (20, 3), "ones", progress=False)
    init, _ = _flaky(3, RuntimeError("boom"))
    kw = dict(chunk_bytes=100) if writer == "npy" else dict(chunks=(2, 3))
    with pytest.raises(RuntimeError):
        write(path, (20, 3), init, seed=0, progress=False, overwrite=True, **kw)
    old = np.load(path) if writer == "npy" else zarr.open_array(str(path), mode="r")[...]
    _same(np.asarray(old), np.ones((20, 3), np.float32))
    assert _leftovers(tmp_path) == [path.name]


@pytest.mark.parametrize("writer", [fastinit.to_npy, fastinit.to_zarr])
@pytest.mark.parametrize("bad,err", [
    (dict(init="normal", std=-1.0, seed=0), ValueError),
    (dict(init="normal", gain=2.0, seed=0), TypeError),
    (dict(init="normal"), TypeError),                      # seed missing
    (dict(init="normal", seed=-1), ValueError),
    (dict(init="normal", seed=0, stream=b"x"), TypeError),
    (dict(init="no_such_init", seed=0), ValueError),
    (dict(init="uniform", low=1.0, high=0.0, seed=0), ValueError),
    (dict(init="normal", seed=0, dtype="int8"), ValueError),
    (dict(init="normal", seed=0, threads=0), ValueError),
])
def test_bad_arguments_raise_before_any_file_exists(tmp_path, writer, bad, err):
    bad = dict(bad)
    init = bad.pop("init")
    with pytest.raises(err):
        writer(tmp_path / "x.out", (10, 10), init, progress=False, **bad)
    assert _leftovers(tmp_path) == []


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fastinit.to_npy(tmp_path / "nope" / "x.npy", (3,), "zeros", progress=False)


def test_structured_initializer_without_region_is_computed_once(tmp_path):
    # A callable without `region` is treated like orthogonal/sparse: one in-memory
    # fill, then written in blocks.
    calls = []

    def whole_only(shape, scale=1.0, *, seed, stream=0, dtype=None, out=None, threads=None):
        calls.append(shape)
        return fastinit.uniform(shape, -scale, scale, seed=seed, stream=stream, dtype=dtype)

    assert not fio.supports_region(whole_only)
    fastinit.to_npy(tmp_path / "s.npy", (50, 7), whole_only, scale=2.0, seed=4, progress=False,
                    chunk_bytes=64)
    assert calls == [(50, 7)]
    _same(np.load(tmp_path / "s.npy"), fastinit.uniform((50, 7), -2.0, 2.0, seed=4))


def test_progress_bar_goes_to_stderr_and_can_be_turned_off(tmp_path, capsys):
    fastinit.to_npy(tmp_path / "p.npy", (1000, 10), "normal", seed=0, progress=True)
    err = capsys.readouterr().err
    assert "p.npy" in err and "100%" in err
    fastinit.to_npy(tmp_path / "q.npy", (1000, 10), "normal", seed=0, progress=False)
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------- registry ----
def test_registry_has_the_core_fills_and_rejects_unknown_names():
    reg = fio.available_initializers()
    for name in ("uniform", "normal", "trunc_normal", "full", "constant", "zeros", "ones"):
        assert reg[name].func is getattr(fastinit, name)
        assert fio.supports_region(name)
    with pytest.raises(ValueError, match="unknown initializer 'nope'"):
        fio.get_initializer("nope")
    params, takes_seed = fio.init_parameters("trunc_normal")
    assert params == {"mean": 0.0, "std": 1.0, "lower": -2.0, "upper": 2.0} and takes_seed
    assert fio.init_parameters("full") == ({"value": __import__("inspect").Parameter.empty}, False)


def test_registered_structured_initializers_are_not_region_fills():
    for name in fio.available_initializers():
        if name in registry.STRUCTURED:
            assert not fio.supports_region(name)


def test_import_fastinit_does_not_import_zarr_or_tqdm():
    import subprocess
    import sys

    code = ("import sys, fastinit; "
            "print(sorted(m for m in ('zarr', 'tqdm', 'dask', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_env())
    assert out.stdout.strip() == "[]"


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env
