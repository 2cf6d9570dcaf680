"""fastinit.dask on a real multi-process cluster: every chunking, rechunk and slice of
a lazy fastinit array equals the in-memory fill bit for bit; graph names are
deterministic; a slice computes only the blocks it touches."""
from __future__ import annotations

import inspect
import os
import subprocess
import sys

import dask
import dask.array as da
import numpy as np
import pytest
from dask.core import flatten
from distributed import Client, LocalCluster

import fastinit
import fastinit.dask as fdask
import fastinit.io as fio
from fastinit.initializers import registry


@pytest.fixture(scope="module")
def client():
    # Two worker processes, one thread each: blocks really are filled in other
    # processes, from their global location only.  The nanny writes its
    # pre-spawn-environ (OMP_NUM_THREADS=1, ...) into os.environ for good; restore it
    # so later tests in this session see the environment they started with.
    saved_environ = dict(os.environ)
    with LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                      worker_dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as c:
        yield c
    os.environ.clear()
    os.environ.update(saved_environ)


def _bits(a):
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(_bits(a), _bits(b))


SHAPE = (257, 131)
CHUNKINGS = [
    (64, 64),
    ((100, 57, 100), (1, 130)),
    -1,
    (1, 131),
    (300, 17),
    "auto",
]


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_any_chunking_equals_the_in_memory_fill(client, chunks):
    for dtype in ("float32", "float64", "bfloat16", "float16"):
        x = fdask.normal(SHAPE, 0.5, 0.02, chunks=chunks, seed=7, stream="w", dtype=dtype)
        ref = fastinit.normal(SHAPE, 0.5, 0.02, seed=7, stream="w", dtype=dtype)
        assert x.dtype == ref.dtype and x.shape == SHAPE
        _same(client.compute(x).result(), ref)


def _example_params(name):
    """Parameters that make `name` valid on a 2-D shape (defaults otherwise)."""
    return {"full": {"value": 1.5}, "constant": {"value": -2.0}}.get(name, {})


def test_every_offered_initializer_on_the_cluster(client):
    names = [n for n in fdask.__all__ if n != "from_init"]
    assert {"uniform", "normal", "trunc_normal", "full", "constant", "zeros", "ones"} <= set(names)
    # Everything the registry can fill by region is offered, nothing structured is.
    assert set(names) == {n for n in fio.available_initializers() if fio.supports_region(n)}
    shape = (96, 40)
    lazies, refs = [], []
    for name in names:
        fn = fio.get_initializer(name)
        kw = dict(_example_params(name))
        if "seed" in inspect.signature(fn).parameters:
            kw.update(seed=3, stream=name)
        lazies.append(getattr(fdask, name)(shape, chunks=((30, 66), (7, 33)), **kw))
        refs.append(fn(shape, **kw))
    for name, got, ref in zip(names, client.gather(client.compute(lazies)), refs):
        _same(got, ref)


def test_rechunk_slicing_and_arithmetic(client):
    shape = (300, 200)
    x = fdask.trunc_normal(shape, std=0.1, lower=-1.0, upper=3.0, chunks=(70, 45), seed=1,
                           dtype="float64")
    ref = fastinit.trunc_normal(shape, std=0.1, lower=-1.0, upper=3.0, seed=1, dtype="float64")
    _same(client.compute(x.rechunk((33, 200))).result(), ref)
    _same(client.compute(x.rechunk((300, 1))).result(), ref)
    _same(client.compute(x[13:287:5, ::-3]).result(), ref[13:287:5, ::-3])
    _same(client.compute(x.T[7]).result(), ref.T[7])
    assert client.compute((x * 2).sum()).result() == pytest.approx((ref * 2).sum(), rel=1e-12)


def test_a_slice_of_a_huge_array_computes_only_its_blocks(client):
    # 2**40 elements (8 TB as float64): only the one block under the slice is filled.
    shape = (2 ** 20, 2 ** 20)
    x = fdask.uniform(shape, -1, 1, chunks=(1024, 1024), seed=9, dtype="float64")
    piece = x[5000:5003, 7000:7010]
    graph = dict(piece.__dask_graph__().cull(set(flatten(piece.__dask_keys__()))))
    fill_tasks = [k for k in graph if isinstance(k, tuple) and k[0] == x.name]
    assert fill_tasks == [(x.name, 5000 // 1024, 7000 // 1024)]
    ref = fastinit.uniform(shape, -1, 1, seed=9, dtype="float64", region=np.s_[5000:5003, 7000:7010])
    _same(client.compute(piece).result(), ref)


def test_threads_per_task_do_not_change_values(client):
    a = fdask.normal((500, 64), chunks=(100, 64), seed=2, threads=2)
    b = fdask.normal((500, 64), chunks=(250, 32), seed=2)
    _same(*client.gather(client.compute([a, b])))


def test_graph_names_are_deterministic():
    kw = dict(chunks=(64, 64), seed=7, stream="w", dtype="bfloat16")
    a = fdask.normal(SHAPE, 0.0, 0.02, **kw)
    assert a.name == fdask.normal(SHAPE, std=0.02, **kw).name  # same values, same keys
    assert a.name.startswith("fastinit-normal-")
    differ = [
        fdask.normal(SHAPE, 0.0, 0.03, **kw),
        fdask.normal(SHAPE, 0.0, 0.02, **{**kw, "seed": 8}),
        fdask.normal(SHAPE, 0.0, 0.02, **{**kw, "stream": "v"}),
        fdask.normal(SHAPE, 0.0, 0.02, **{**kw, "dtype": "float32"}),
        fdask.normal(SHAPE, 0.0, 0.02, **{**kw, "chunks": (32, 64)}),
        fdask.normal((257, 130), 0.0, 0.02, **kw),
        fdask.uniform(SHAPE, **kw),
    ]
    names = {a.name} | {d.name for d in differ}
    assert len(names) == 1 + len(differ)
    # ...and the same name in a fresh interpreter.
    code = ("import fastinit.dask as f; print(f.normal((257, 131), 0.0, 0.02, chunks=(64, 64), "
            "seed=7, stream='w', dtype='bfloat16').name)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env)
    assert out.stdout.strip() == a.name


def test_bad_arguments_fail_eagerly_not_in_a_worker():
    with pytest.raises(TypeError, match="seed is required"):
        fdask.normal((10, 10), chunks=5)
    with pytest.raises(ValueError, match="std must be >= 0"):
        fdask.normal((10, 10), std=-1.0, chunks=5, seed=0)
    with pytest.raises(TypeError, match="does not take 'gain'"):
        fdask.normal((10, 10), chunks=5, seed=0, gain=2.0)
    with pytest.raises(TypeError, match="multiple values"):
        fdask.normal((10, 10), 0.0, chunks=5, seed=0, mean=1.0)
    with pytest.raises(ValueError, match="unknown initializer"):
        fdask.from_init("nope", (10, 10), chunks=5, seed=0)
    with pytest.raises(AttributeError):
        fdask.no_such_initializer  # noqa: B018
    for name in registry.STRUCTURED & set(fio.available_initializers()):
        with pytest.raises(ValueError, match="structured"):
            fdask.from_init(name, (10, 10), chunks=5, seed=0)


def test_signatures_and_local_scheduler():
    sig = inspect.signature(fdask.trunc_normal)
    assert list(sig.parameters)[:5] == ["shape", "mean", "std", "lower", "upper"]
    assert sig.parameters["chunks"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["threads"].default == 1
    assert "region" not in sig.parameters and "out" not in sig.parameters
    with dask.config.set(scheduler="synchronous"):
        x = fdask.full((4, 6), 2.5, chunks=(3, 4), dtype="float16")
        _same(x.compute(), fastinit.full((4, 6), 2.5, dtype="float16"))
    assert isinstance(x, da.Array)
