"""The one registry (fastinit.available_initializers()): its records, what reads them,
and configured initializers wherever a name is accepted.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
import zarr

import fastinit
import fastinit.dask as fdask
import fastinit.io as fio
import fastinit.torch as finit
from fastinit.diagnostics import spec as dspec
from fastinit.initializers import registry

REG = fastinit.available_initializers()


def test_one_record_per_initializer_and_the_old_views_agree():
    assert fio.available_initializers() == REG == registry.available_initializers()
    assert list(REG) == sorted(REG)
    for name, e in REG.items():
        assert e.name == name and getattr(fastinit, name) is e.func
        assert e.kind in registry.KINDS and e.layout in (None, "torch", "jax")
        sig = inspect.signature(e.func)
        assert e.random == ("seed" in sig.parameters)
        assert set(e.params) == set(sig.parameters) - {"shape", *registry.COMMON_KEYWORDS}
        assert e.region_fill == (e.kind != "structured") == fio.supports_region(name)
        assert (e.layout is None) == (e.kind == "elementwise")
        assert fio.get_initializer(name) is e.func
        assert fio.init_parameters(name) == (e.defaults(), e.random)
    assert registry.STRUCTURED == {"orthogonal", "eye", "identity", "dirac", "delta_orthogonal", "sparse"}
    assert {n for n, e in REG.items() if e.kind == "fan"} == {
        "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "variance_scaling",
        "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal"}


@pytest.mark.parametrize("name", sorted(REG))
def test_with_on_every_registered_initializer(name):
    e = REG[name]
    params = {"sparsity": 0.25} if name == "sparse" else {"value": 0.5} if name in ("full", "constant") else {}
    init = e.func.with_(**params)
    assert init == fastinit.initializer(name, **params) and init.entry is e
    shape = {"dirac": (4, 4, 3), "delta_orthogonal": (3, 4, 4)}.get(name, (8, 6))
    kw = {"seed": 3, "stream": "w"} if e.random else {}
    np.testing.assert_array_equal(init(shape, **kw), e.func(shape, **params, **kw))


@pytest.mark.parametrize("name", sorted(REG))
def test_moments_come_from_the_record_and_match_the_values(name):
    e = REG[name]
    params = {"sparsity": 0.25} if name == "sparse" else {"value": 0.5} if name in ("full", "constant") else {}
    shape = {"dirac": (64, 64, 3), "delta_orthogonal": (3, 128, 256)}.get(name, (256, 512))
    mean, std = fio.expected_moments(name, shape, params)
    assert (mean, std) == e.moments(shape, params)
    x = e.func(shape, **params, **({"seed": 1} if e.random else {}), dtype="float64")
    assert float(x.mean()) == pytest.approx(mean, abs=5 * std / math.sqrt(x.size) + 1e-12)
    assert float(x.std()) == pytest.approx(std, rel=2e-2, abs=1e-12)


def test_resolve_names_functions_and_configured_initializers():
    init = fastinit.initializer("he_normal", in_axis=0, stream="enc")
    for given, params in (("he_normal", {}), (fastinit.he_normal, {}), (init, {"in_axis": 0, "stream": "enc"})):
        entry, merged = registry.resolve(given)
        assert entry is REG["he_normal"] and merged == params
    assert registry.resolve(init, {"in_axis": 1})[1] == {"in_axis": 1, "stream": "enc"}
    with pytest.raises(ValueError, match="unknown initializer 'nope': use one of "):
        registry.resolve("nope")
    with pytest.raises(TypeError, match="must be an initializer name"):
        registry.resolve(3)


def test_diagnostics_layout_from_the_record():
    for name, e in REG.items():
        assert dspec._layout_of(name) == (e.layout or "torch")
    assert dspec._layout_of("delta_orthogonal") == "jax" and dspec._layout_of("orthogonal") == "torch"


# ---------------------------------------- configured initializers everywhere ----
CONFIGURED = [
    (fastinit.initializer("he_normal"), {}, (64, 48)),
    (fastinit.initializer("he_normal", in_axis=0, out_axis=1, dtype="float64"), {}, (32, 16)),
    (fastinit.initializer("trunc_normal", std=0.02, stream="emb"), {}, (100, 12)),
    (fastinit.kaiming_uniform.with_(nonlinearity="relu"), {"mode": "fan_out"}, (20, 30)),
    (fastinit.orthogonal.with_(gain=2.0), {}, (24, 10)),
]


def _expected(init, params, shape):
    return init(shape, seed=0, **params)


@pytest.mark.parametrize("init,params,shape", CONFIGURED, ids=[repr(c[0]) for c in CONFIGURED])
def test_configured_initializer_in_every_writer_and_dask(tmp_path, init, params, shape):
    want = _expected(init, params, shape)
    r = fastinit.to_npy(tmp_path / "w.npy", shape, init, seed=0, progress=False, chunk_bytes=256, **params)
    assert r.dtype == want.dtype
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), want)
    assert r.expected_std == pytest.approx(registry.expected_moments(init, shape, params)[1])
    fastinit.to_zarr(tmp_path / "w.zarr", shape, init, seed=0, progress=False, chunks=(7, 5), **params)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "w.zarr"))[...], want)
    if init.entry.region_fill:
        x = fdask.from_init(init, shape, chunks=(7, 5), seed=0, **params)
        assert x.dtype == want.dtype
        np.testing.assert_array_equal(x.compute(), want)


def test_configured_initializer_in_fill_shard():
    init = fastinit.initializer("he_normal", in_axis=0, out_axis=1)
    whole = init((10, 6), seed=4, stream="w")
    part = finit.fill_shard_(torch.empty(4, 6), (10, 6), (3, 0), init, seed=4, stream="w")
    np.testing.assert_array_equal(part.numpy(), whole[3:7])
    # fastinit's trunc_normal bounds are in stds (not torch's absolute a, b)
    tn = fastinit.initializer("trunc_normal", std=0.02)
    part = finit.fill_shard_(torch.empty(2, 6), (10, 6), (8, 0), tn, seed=1)
    np.testing.assert_array_equal(part.numpy(), fastinit.trunc_normal((10, 6), std=0.02, seed=1)[8:])
    with pytest.raises(TypeError, match="does not take 'gain'"):
        finit.fill_shard_(torch.empty(2, 6), (10, 6), (0, 0), tn, seed=1, gain=2.0)


def test_configured_dtype_and_stream_apply_unless_given(tmp_path):
    init = fastinit.initializer("normal", dtype="float16", stream=5)
    r = fastinit.to_npy(tmp_path / "a.npy", (10,), init, seed=2, progress=False)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), fastinit.normal(10, seed=2, stream=5,
                                                                             dtype="float16"))
    r = fastinit.to_npy(tmp_path / "b.npy", (10,), init, seed=2, stream=6, dtype="float32", progress=False)
    assert r.dtype == np.float32
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), fastinit.normal(10, seed=2, stream=6))


# ----------------------------------------------------- adding an initializer ----
def test_one_register_call_makes_an_initializer_known_everywhere(tmp_path):
    from fastinit.initializers.registry import register

    def halves(shape, scale=1.0, *, seed, stream=0, dtype=None, out=None, region=None, threads=None):
        """U(-scale/2, scale/2)."""
        return fastinit.uniform(shape, -scale / 2, scale / 2, seed=seed, stream=stream, dtype=dtype,
                                out=out, region=region, threads=threads)

    register("elementwise", moments=lambda shape, p: (0.0, p["scale"] / math.sqrt(12)))(halves)
    try:
        want = halves((20, 8), 3.0, seed=1)
        assert fastinit.available_initializers()["halves"].params == ("scale",)
        np.testing.assert_array_equal(fastinit.initializer("halves", scale=3.0)((20, 8), seed=1), want)
        np.testing.assert_array_equal(halves.with_(scale=3.0)((20, 8), seed=1), want)
        np.testing.assert_array_equal(fdask.halves((20, 8), 3.0, chunks=5, seed=1).compute(), want)
        r = fastinit.to_npy(tmp_path / "h.npy", (20, 8), "halves", scale=3.0, seed=1, progress=False)
        np.testing.assert_array_equal(np.load(tmp_path / "h.npy"), want)
        assert r.expected_std == pytest.approx(3.0 / math.sqrt(12))
    finally:
        del registry._ENTRIES["halves"]
        vars(fdask).pop("halves", None)
