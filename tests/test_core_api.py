"""The Python layer's contract around the fills: dtype resolution, out= semantics,
thread-count discovery at each call, show_config, docstrings."""
from __future__ import annotations

import io
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import fastinit
from fastinit import _core

PUBLIC = ["uniform", "normal", "trunc_normal", "zeros", "ones", "full", "constant",
          "random_raw", "stream_id", "show_config", "resolve_dtype"]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_functions_have_docstrings_with_examples(name):
    doc = getattr(fastinit, name).__doc__
    assert doc and len(doc.strip()) > 20
    if name in ("uniform", "normal", "trunc_normal", "full", "random_raw", "stream_id"):
        assert ">>>" in doc


def test_docstring_examples_run():
    import doctest

    from fastinit import _validate, fills

    results = [doctest.testmod(m, optionflags=doctest.ELLIPSIS) for m in (fills, _validate)]
    assert sum(r.failed for r in results) == 0 and sum(r.attempted for r in results) >= 6


@pytest.mark.parametrize("spec, want", [
    ("float32", np.float32), ("FLOAT64", np.float64), (" float16 ", np.float16),
    ("bfloat16", ml_dtypes.bfloat16), (np.float32, np.float32), (np.dtype("float64"), np.float64),
    (ml_dtypes.bfloat16, ml_dtypes.bfloat16), ("f4", np.float32), ("<f8", np.float64),
    ("=f2", np.float16), ("double", np.float64), ("int32", None), ("nope", None), (float, np.float64),
])
def test_resolve_dtype(spec, want):
    if want is None:
        with pytest.raises(ValueError):
            fastinit.resolve_dtype(spec)
    else:
        assert fastinit.resolve_dtype(spec) == np.dtype(want)


def test_default_dtype_and_out_dtype():
    assert fastinit.normal(3, seed=0).dtype == np.float32
    for dt in (np.float64, np.float16, ml_dtypes.bfloat16):
        out = np.empty((2, 3), dt)
        res = fastinit.uniform((2, 3), seed=0, out=out)
        assert res is out and res.dtype == dt
        np.testing.assert_array_equal(out, fastinit.uniform((2, 3), seed=0, dtype=dt))
    out = np.empty(3, np.float16)
    assert fastinit.normal(3, seed=0, out=out, dtype="float16") is out


def test_out_may_be_a_memmap_or_a_subclass(tmp_path):
    mm = np.lib.format.open_memmap(str(tmp_path / "w.npy"), mode="w+", dtype=np.float32, shape=(10, 7))
    fastinit.normal((100, 7), seed=3, region=np.s_[20:30, :], out=mm)
    mm.flush()
    np.testing.assert_array_equal(np.load(str(tmp_path / "w.npy")), fastinit.normal((100, 7), seed=3)[20:30])


def test_threads_none_reads_the_openmp_setting_at_each_call():
    from threadpoolctl import threadpool_limits

    if not _core.build_info()["openmp"]:
        assert _core.effective_threads(None) == 1
        return
    before = _core.effective_threads(None)
    with threadpool_limits(1, user_api="openmp"):
        assert _core.effective_threads(None) == 1
        assert fastinit.show_config(file=False)["max_threads"] == 1
    assert _core.effective_threads(None) == before
    code = "from fastinit import _core; print(_core.effective_threads(None))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "3"}, check=True)
    assert out.stdout.strip() == "3"


def test_show_config():
    buf = io.StringIO()
    info = fastinit.show_config(file=buf)
    assert info["version"] == fastinit.__version__
    assert info["stream_version"] == fastinit.STREAM_VERSION == 1
    assert isinstance(info["openmp"], bool) and info["max_threads"] >= 1
    assert "scalar" in info["simd_compiled"] and info["simd_selected"] in info["simd_supported"]
    text = buf.getvalue()
    for key in ("stream_version", "openmp", "simd_selected"):
        assert key in text
    assert fastinit.show_config(file=False) == info


def test_simd_selection_through_the_environment():
    code = "import fastinit; print(fastinit.show_config(file=False)['simd_selected'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "FASTINIT_SIMD": "scalar"})
    assert out.stdout.strip() == "scalar"
    bad = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "FASTINIT_SIMD": "sse9"})
    assert "FASTINIT_SIMD" in bad.stderr and bad.stdout.strip() in _core.ISA_NAMES


def test_set_isa_errors_and_restore():
    before = _core.get_isa()
    with pytest.raises(ValueError, match="unknown SIMD path"):
        _core.set_isa("neon9")
    assert _core.get_isa() == before
    _core.set_isa("auto")
    assert _core.get_isa() == _core.build_info()["simd_supported"][-1]
    _core.set_isa(before)


def test_import_does_not_load_optional_dependencies():
    code = ("import sys, fastinit; bad = [m for m in ('torch', 'dask', 'zarr', 'tqdm', 'matplotlib', "
            "'scipy', 'mpmath') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
