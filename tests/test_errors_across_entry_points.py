"""One bad parameter, one exception type and one message, whichever entry point got it:
the NumPy API, a configured initializer, fastinit.dask, to_npy, to_zarr, the
`fastinit fill` command (the same text after its "fastinit fill: error: " prefix) and
fastinit.torch (drop-ins and fill_shard_).  Nothing is written on the way.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import fastinit
import fastinit.dask as fdask
import fastinit.torch as finit
from fastinit.cli import main as cli_main

SHAPE = (6, 4)

# (initializer, parameters, exception type, message, entry points that cannot express it)
CASES = [
    ("normal", dict(std=-1.0), ValueError, "std must be >= 0, got -1.0", ()),
    ("normal", dict(mean=math.inf), ValueError, "mean must be finite, got inf", ()),
    ("normal", dict(std="0.1"), TypeError, "std must be a real number, got str '0.1'", ("cli",)),
    ("uniform", dict(low=2.0, high=1.0), ValueError, "low must be <= high, got low=2.0, high=1.0",
     ("torch",)),  # torch names them a, b: "a must be <= b, ..." from the same check
    ("trunc_normal", dict(lower=1.0, upper=0.0), ValueError,
     "lower must be < upper, got lower=1.0, upper=0.0", ("torch",)),  # torch's bounds are absolute
    ("trunc_normal", dict(std=-0.5), ValueError, "std must be >= 0, got -0.5", ()),
    ("kaiming_uniform", dict(mode=3), TypeError,
     "mode must be a str, one of ['fan_in', 'fan_out'], got int 3", ()),
    ("kaiming_normal", dict(mode="fan_avg"), ValueError,
     "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']", ()),
    ("kaiming_uniform", dict(nonlinearity="swish"), ValueError, "Unsupported nonlinearity swish", ()),
    ("kaiming_uniform", dict(a=1e200), ValueError,
     "a=1e+200 is too large: the leaky_relu gain sqrt(2 / (1 + a**2)) overflows float64; use a "
     "negative slope below 1e150 in magnitude", ()),
    ("xavier_normal", dict(gain=math.inf), ValueError, "gain must be finite, got inf", ()),
    ("variance_scaling", dict(mode=3), TypeError,
     "mode must be a str, one of ['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'], got int 3", ("torch",)),
    ("variance_scaling", dict(distribution="gamma"), ValueError,
     "Distribution gamma not supported, please use one of ['truncated_normal', 'normal', 'uniform'] "
     "(or 'untruncated_normal')", ("torch",)),
    ("he_normal", dict(seed=-1), ValueError, "seed must be >= 0, got -1", ("torch",)),
    ("normal", dict(seed=2**64), ValueError, f"seed must be < {2**64}, got {2**64}", ()),
    ("normal", dict(threads=0), ValueError, "threads must be >= 1, got 0", ("dask",)),
    ("normal", dict(dtype="int8"), ValueError,
     "unknown dtype 'int8': use one of float32, float64, float16, bfloat16", ("torch",)),
    ("normal", dict(stream="\ud800"), ValueError,
     "stream '\\ud800' is not valid Unicode (character 0 is a lone surrogate, which UTF-8 cannot "
     "encode): pass a proper str or an int", ("cli",)),
    ("sparse", dict(sparsity=2.0), ValueError, "sparsity must be a fraction in [0, 1], got 2.0", ("dask",)),
    ("orthogonal", dict(gain=1e39), ValueError, None, ("dask",)),  # message checked equal below
]

COMMON = ("seed", "stream", "dtype", "threads")
TORCH_NAMES = {"normal": "normal_", "uniform": "uniform_", "trunc_normal": "trunc_normal_",
               "kaiming_uniform": "kaiming_uniform_", "kaiming_normal": "kaiming_normal_",
               "xavier_normal": "xavier_normal_", "sparse": "sparse_", "orthogonal": "orthogonal_"}
DEFAULTS = {"sparse": dict(sparsity=0.5)}


def _split(name, params):
    params = {**DEFAULTS.get(name, {}), **params}
    common = {"seed": 0, **{k: params.pop(k) for k in COMMON if k in params}}
    return params, common


def _numpy(name, params, common, tmp_path):
    getattr(fastinit, name)(SHAPE, **params, **common)


def _configured(name, params, common, tmp_path):
    fastinit.initializer(name, **params)(SHAPE, **common)


def _dask(name, params, common, tmp_path):
    fdask.from_init(name, SHAPE, chunks=3, **params, **common)


def _dask_named(name, params, common, tmp_path):
    if name not in fastinit.available_initializers() or not hasattr(fdask, name):
        pytest.skip(f"{name} is not a Dask function (structured)")  # pragma: no cover
    getattr(fdask, name)(SHAPE, chunks=3, **params, **common)


def _to_npy(name, params, common, tmp_path):
    fastinit.to_npy(tmp_path / "x.npy", SHAPE, name, progress=False, **params, **common)


def _to_zarr(name, params, common, tmp_path):
    fastinit.to_zarr(tmp_path / "x.zarr", SHAPE, name, progress=False, **params, **common)


def _to_npy_configured(name, params, common, tmp_path):
    fastinit.to_npy(tmp_path / "c.npy", SHAPE, fastinit.initializer(name, **params), progress=False,
                    **common)


def _cli(name, params, common, tmp_path, capsys):
    argv = ["fill", str(tmp_path / "x.npy"), "--shape", ",".join(map(str, SHAPE)), "--init", name,
            "--no-progress"]
    for k, v in {**common, **params}.items():
        argv += [f"--param={k}={v!r}"] if k == "mode" else [f"--{k.replace('_', '-')}", str(v)]
    status = cli_main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    prefix = "fastinit fill: error: "
    assert err.startswith(prefix) and err.count("\n") == 1, err
    raise _CliError(err[len(prefix):].rstrip("\n"))


class _CliError(Exception):
    pass


def _torch(name, params, common, tmp_path):
    t = torch.full(SHAPE, 7.0, dtype=torch.float16 if common.get("dtype") == "float16" else torch.float32)
    common = {k: v for k, v in common.items() if k != "dtype"}
    try:
        getattr(finit, TORCH_NAMES[name])(t, **params, **common)
    finally:
        assert bool((t == 7.0).all()), "the tensor was written before the error"


def _fill_shard(name, params, common, tmp_path):
    local = torch.full((3, SHAPE[1]), 7.0)
    common = {k: v for k, v in common.items() if k != "dtype"}
    try:
        finit.fill_shard_(local, SHAPE, (3, 0), name, **params, **common)
    finally:
        assert bool((local == 7.0).all())


ENTRY_POINTS = {"numpy": _numpy, "configured": _configured, "dask": _dask, "dask_named": _dask_named,
                "to_npy": _to_npy, "to_zarr": _to_zarr, "to_npy_configured": _to_npy_configured,
                "cli": _cli, "torch": _torch, "fill_shard": _fill_shard}
KIND = {"dask_named": "dask", "fill_shard": "torch", "to_npy_configured": "configured"}


def _message(entry, name, params, tmp_path, capsys):
    p, common = _split(name, params)
    fn = ENTRY_POINTS[entry]
    try:
        if entry == "cli":
            fn(name, p, common, tmp_path, capsys)
        else:
            fn(name, p, common, tmp_path)
    except _CliError as exc:
        return None, str(exc)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    raise AssertionError(f"{entry} accepted {name}({params})")


@pytest.mark.parametrize("name,params,exc,message,skip", CASES,
                         ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_one_message_for_every_entry_point(tmp_path, capsys, name, params, exc, message, skip):
    if name == "orthogonal":
        with pytest.raises(ValueError) as info:
            fastinit.orthogonal(SHAPE, **params, seed=0)
        message = str(info.value)
        assert message.startswith("gain=1e+39 is too large for float32")
    seen = {}
    for entry in ENTRY_POINTS:
        if KIND.get(entry, entry) in skip or entry in skip:
            continue
        if entry in ("dask", "dask_named") and fastinit.available_initializers()[name].kind == "structured":
            continue
        if entry in ("torch", "fill_shard") and name not in TORCH_NAMES:
            continue
        got_type, got = _message(entry, name, params, tmp_path, capsys)
        seen[entry] = got
        if got_type is not None:
            assert got_type is exc, (entry, got_type, got)
        assert got == message, (entry, got)
    assert not os.listdir(tmp_path), "an entry point left a file behind"
    assert len(seen) >= 6


def test_torch_names_its_own_parameters_with_the_same_check():
    # uniform_'s a, b are uniform's low, high: the same check, in PyTorch's names
    with pytest.raises(ValueError) as ours:
        finit.uniform_(torch.empty(3), 2.0, 1.0, seed=0)
    assert str(ours.value) == "a must be <= b, got a=2.0, b=1.0"
    with pytest.raises(ValueError) as ours:
        finit.trunc_normal_(torch.empty(3), 0.0, 1.0, 1.0, 0.0, seed=0)
    assert str(ours.value) == "a must be < b, got a=1.0, b=0.0"
    with pytest.raises(TypeError) as ours:
        finit.constant_(torch.empty(3), True)
    with pytest.raises(TypeError) as theirs:
        fastinit.full(3, True)
    assert str(ours.value) == str(theirs.value).replace("value", "val")


def test_structured_initializers_are_refused_by_dask_with_one_message():
    for name, entry in fastinit.available_initializers().items():
        if entry.kind == "structured":
            with pytest.raises(ValueError, match=f"^{name} is a structured initializer"):
                fdask.from_init(name, (4, 4), chunks=2, seed=0)
            with pytest.raises(ValueError, match=f"^{name} is a structured initializer"):
                fdask.from_init(fastinit.initializer(name), (4, 4), chunks=2, seed=0)


def test_unknown_initializer_one_message(tmp_path, capsys):
    msgs = set()
    for call in (lambda: fastinit.initializer("he_norml"),
                 lambda: fdask.from_init("he_norml", (3,), chunks=1, seed=0),
                 lambda: fastinit.to_npy(tmp_path / "u.npy", (3,), "he_norml", seed=0, progress=False)):
        with pytest.raises(ValueError) as info:
            call()
        msgs.add(str(info.value))
    assert len(msgs) == 1 and msgs.pop().startswith("unknown initializer 'he_norml': use one of ")
    assert not os.listdir(tmp_path)
    np.testing.assert_array_equal(fastinit.zeros(2), [0, 0])
