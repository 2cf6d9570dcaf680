"""The ``fastinit`` command end to end, through subprocesses as a user runs it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import ml_dtypes
import numpy as np
import pytest
import zarr

import fastinit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run(*args, cwd=None, check=False, **kw):
    """`python -m fastinit ARGS` (what the console script runs)."""
    proc = subprocess.run([sys.executable, "-m", "fastinit", *map(str, args)], capture_output=True,
                          cwd=cwd, env=_env(), timeout=120, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}: {proc.stderr.decode()}")
    return proc


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


# ---------------------------------------------------------------------- fill ----
def test_fill_npy_bfloat16_with_summary(tmp_path):
    p = run("fill", tmp_path / "emb.npy", "--shape", "3000,64", "--init", "trunc_normal",
            "--std", "0.02", "--seed", "0", "--stream", "embed.weight", "--dtype", "bfloat16",
            "--threads", "2", "--chunk-mb", "0.1", check=True)
    got = np.load(tmp_path / "emb.npy").view(ml_dtypes.bfloat16)
    _same(got, fastinit.trunc_normal((3000, 64), std=0.02, seed=0, stream="embed.weight",
                                     dtype="bfloat16"))
    out = p.stdout.decode()
    # 3000 * 64 * 2 bytes, in decimal units in the summary and in the progress bar alike
    assert re.search(r"wrote .*emb\.npy: 3000 x 64 bfloat16, 384\.00 kB in [\d.]+ s \([\d.]+ GB/s", out)
    assert "384k/384k" in p.stderr.decode()
    # Expected std of a standard normal truncated to [-2, 2], times 0.02.
    assert re.search(r"std\s+observed \+0\.01\d+\s+expected \+0\.0175925", out), out
    assert re.search(r"mean\s+observed [+-]\S+\s+expected \+0\b", out), out
    assert "%" in p.stderr.decode()  # the progress bar
    assert "units of std" in out and "[-0.04, 0.04]" in out  # JAX/Keras bounds, said plainly
    assert sorted(os.listdir(tmp_path)) == ["emb.npy"]


def test_fill_zarr_with_chunks_and_fan_based_init(tmp_path):
    p = run("fill", tmp_path / "w.zarr", "--shape", "300,200", "--init", "kaiming_uniform", "--a",
            "2.2360679774997896", "--mode", "fan_out", "--seed", "5", "--chunks", "64,50",
            "--no-progress", check=True)
    arr = zarr.open_array(str(tmp_path / "w.zarr"), mode="r")
    assert arr.chunks == (64, 50)
    from fastinit.initializers import kaiming_uniform

    _same(arr[...], kaiming_uniform((300, 200), a=2.2360679774997896, mode="fan_out", seed=5))
    assert p.stderr == b""  # --no-progress: nothing on stderr
    # torch layout (out=300, in=200): fan_out = 300, std = sqrt(2 / (1 + 5)) / sqrt(300) = 1/30
    assert "expected +0.0333333" in p.stdout.decode()


def test_fill_constant_and_extra_params(tmp_path):
    run("fill", tmp_path / "c.npy", "--shape", "4,5", "--init", "full", "--value", "-1.5",
        "--dtype", "float16", "--no-progress", check=True)
    _same(np.load(tmp_path / "c.npy"), np.full((4, 5), -1.5, np.float16))
    run("fill", tmp_path / "o.npy", "--shape", "6,4", "--init", "orthogonal", "--seed", "1",
        "--param", "gain=2.0", "--dtype", "float64", "--no-progress", check=True)
    from fastinit.initializers import orthogonal

    _same(np.load(tmp_path / "o.npy"), orthogonal((6, 4), gain=2.0, seed=1, dtype="float64"))


def test_every_initializer_parameter_has_an_option():
    import fastinit.io as fio
    from fastinit.cli._args import PARAM_DESTS

    for name in fio.available_initializers():
        params, _ = fio.init_parameters(name)
        assert set(params) <= set(PARAM_DESTS), (name, set(params) - set(PARAM_DESTS))


def test_fill_jax_axes_options(tmp_path):
    run("fill", tmp_path / "k.npy", "--shape", "3,3,16,32", "--init", "variance_scaling", "--scale",
        "2", "--mode", "fan_avg", "--distribution", "normal", "--in-axis", "2", "--out-axis", "-1",
        "--seed", "4", "--no-progress", check=True)
    from fastinit.initializers import variance_scaling

    _same(np.load(tmp_path / "k.npy"), variance_scaling((3, 3, 16, 32), 2.0, "fan_avg", "normal",
                                                        in_axis=2, out_axis=-1, seed=4))


def test_fill_force_replaces_an_existing_file(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.arange(3.0))
    p = run("fill", path, "--shape", "10", "--init", "ones", "--no-progress")
    assert p.returncode == 2 and b"--force" in p.stderr
    _same(np.load(path), np.arange(3.0))  # untouched
    run("fill", path, "--shape", "10", "--init", "ones", "--no-progress", "--force", check=True)
    _same(np.load(path), np.ones(10, np.float32))


BAD = [
    (["--shape", "10,10", "--init", "normal"], "--seed is required"),
    (["--shape", "10,10", "--init", "normal", "--seed", "-1"], "seed must be >= 0"),
    (["--shape", "10,10", "--init", "normal", "--seed", "2"] + ["--std", "-1"], "std must be >= 0"),
    (["--shape", "10,10", "--init", "normal", "--seed", "0", "--gain", "2"], "does not take --gain"),
    (["--shape", "10,10", "--init", "nope", "--seed", "0"], "unknown initializer 'nope'"),
    (["--shape", "10,x1", "--init", "normal", "--seed", "0"], "--shape"),
    (["--shape", "10,-3", "--init", "normal", "--seed", "0"], ">= 0"),
    (["--shape", "10", "--init", "normal", "--seed", "0", "--dtype", "int8"], "unknown dtype"),
    (["--shape", "10", "--init", "normal", "--seed", "0", "--threads", "0"], "threads must be >= 1"),
    (["--shape", "10", "--init", "normal", "--seed", "zero"], "expected an integer"),
    (["--shape", "10", "--init", "normal", "--seed", "0", "--std", "big"], "expected a number"),
    (["--shape", "10", "--init", "uniform", "--seed", "0", "--low", "1", "--high", "0"], "low must be"),
    (["--shape", "10", "--init", "trunc_normal", "--seed", "0", "--lower", "1", "--upper", "1"],
     "lower must be < upper"),
    (["--shape", "10,10", "--init", "kaiming_normal", "--seed", "0", "--mode", "fan_sideways"],
     "fan_sideways"),
    (["--shape", "10", "--init", "normal", "--seed", "0", "--chunks", "5"], "--chunks applies"),
    (["--shape", "10", "--init", "normal", "--seed", "0", "--no-such-flag"], "unrecognized"),
    (["--init", "normal", "--seed", "0"], "--shape"),
    (["--shape", "10", "--init", "normal", "--seed", "0", "--param", "std"], "NAME=VALUE"),
    (["--shape", "10", "--init", "orthogonal", "--seed", "0"], "2 or more dimensions"),
    (["--shape", "3,3,3", "--init", "eye"], "2 dimensions"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[m for _, m in BAD])
def test_bad_fill_arguments_exit_2_with_one_line_and_no_file(tmp_path, args, message):
    p = run("fill", tmp_path / "out.npy", *args)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert err.count("\n") == 1 and err.startswith("fastinit"), err
    assert "Traceback" not in err
    assert message in err, err
    assert p.stdout == b""
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args,message", [
    (["fill", "out.txt", "--shape", "10", "--init", "zeros"], "must end in .npy or .zarr"),
    (["fill", "nodir/out.npy", "--shape", "10", "--init", "zeros"], "does not exist"),
    (["fill", "out.zarr", "--shape", "10", "--init", "zeros", "--chunks", "0"], "chunks[0] must be >= 1"),
    (["fill", "out.zarr", "--shape", "10", "--init", "zeros", "--chunk-mb", "1"], "--chunk-mb applies"),
    (["fill", "out.npy", "--shape", "100000000000,100000", "--init", "zeros"], "GB are free"),
    (["raw", "--count", "3"], "--seed"),
    (["raw", "--seed", "0", "--count", "-1"], "must be >= 0"),
    (["nonsense"], "invalid choice"),
    ([], "COMMAND"),
])
def test_other_bad_arguments(tmp_path, args, message):
    p = run(*args, cwd=tmp_path)
    err = p.stderr.decode()
    assert p.returncode == 2 and err.count("\n") == 1 and message in err, err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("suffix", [".npy", ".zarr"])
def test_interrupted_fill_leaves_nothing(tmp_path, sig, suffix):
    # A table big enough to take several seconds single-threaded; interrupt it once
    # the partial output exists.
    path = tmp_path / f"big{suffix}"
    proc = subprocess.Popen([sys.executable, "-m", "fastinit", "fill", str(path), "--shape",
                             "200000000", "--init", "trunc_normal", "--seed", "0", "--threads", "1",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env())
    deadline = time.monotonic() + 60
    while (not any(n.endswith(".fastinit-partial") for n in os.listdir(tmp_path))
           and proc.poll() is None and time.monotonic() < deadline):
        time.sleep(0.02)
    assert proc.poll() is None, "the write ended before it could be interrupted"
    time.sleep(0.3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in err and b"Traceback" not in err
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------- raw ----
def test_raw_count_matches_random_raw():
    p = run("raw", "--seed", "12345678901234567890", "--stream", "layer.3", "--count", "1000",
            "--start", "7", check=True)
    words = np.frombuffer(p.stdout, dtype="<u4")
    ref = fastinit.random_raw(1000, seed=12345678901234567890, stream="layer.3", start=7)
    np.testing.assert_array_equal(words, ref)
    p = run("raw", "--seed", "3", "--stream", "42", "--count", "5", check=True)
    np.testing.assert_array_equal(np.frombuffer(p.stdout, "<u4"), fastinit.random_raw(5, seed=3, stream=42))
    assert run("raw", "--seed", "0", "--count", "0", check=True).stdout == b""


def test_raw_without_count_streams_until_the_reader_stops():
    proc = subprocess.Popen([sys.executable, "-m", "fastinit", "raw", "--seed", "9"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    head = proc.stdout.read(3 << 20)  # 3 MB: more than one 4 MB block is not needed
    proc.stdout.close()  # like `| head -c`: the pipe breaks
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 0 and err == b""
    np.testing.assert_array_equal(np.frombuffer(head, "<u4"), fastinit.random_raw(len(head) // 4, seed=9))


# ------------------------------------------------------- info, help, delegation ----
def test_info():
    p = run("info", check=True)
    out = p.stdout.decode()
    assert "stream_version" in out and fastinit.__version__ in out
    cfg = json.loads(run("info", "--json", check=True).stdout)
    assert cfg["stream_version"] == fastinit.STREAM_VERSION
    here = fastinit.show_config(file=False)
    for key in ("version", "stream_version", "simd_compiled", "simd_supported"):
        assert cfg[key] == here[key]


def test_help_lists_every_command_and_delegates_answer():
    out = run("--help", check=True).stdout.decode()
    for cmd in ("fill", "raw", "info", "bench", "propagate"):
        assert cmd in out
    for cmd in ("bench", "propagate"):
        p = run(cmd, "--help")
        # Either the real command's help, or the stub's one-line "not available".
        assert p.returncode in (0, 1), p.stderr.decode()
        assert "Traceback" not in p.stderr.decode()
    assert fastinit.__version__ in run("--version", check=True).stdout.decode()


def test_importing_the_cli_is_light():
    code = ("import sys, fastinit.cli; "
            "print(sorted(m for m in ('zarr', 'tqdm', 'dask', 'distributed', 'torch', 'matplotlib', "
            "'scipy', 'fastinit.io_heavy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_env())
    assert out.stdout.strip() == "[]"


def test_main_in_process_returns_status(tmp_path, capsys):
    from fastinit.cli import main

    assert main(["fill", str(tmp_path / "z.npy"), "--shape", "3", "--init", "zeros", "--no-progress"]) == 0
    assert main(["fill", str(tmp_path / "z.npy"), "--shape", "3", "--init", "zeros"]) == 2
    assert "already exists" in capsys.readouterr().err
