"""The ``fastinit`` command never prints a traceback: each case below, run through the
real command, prints one line saying what to change, exits 2 (usage) or 1 (I/O), and
leaves no file; the cases that are valid input instead do what a user expects."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import zarr

import fastinit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))


def _env(shim=None):
    env = dict(os.environ)
    paths = ([str(shim)] if shim else []) + [ROOT, env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def run(*args, cwd, shim=None, shell_suffix=None):
    cmd = [sys.executable, "-m", "fastinit", *map(str, args)]
    if shell_suffix is not None:  # e.g. '>&-' (stdout closed) or '| true'
        import shlex

        line = " ".join(map(shlex.quote, cmd)) + " " + shell_suffix
        cmd = ["bash", "-c", line + "; exit ${PIPESTATUS[0]}"]
    return subprocess.run(cmd, capture_output=True, cwd=cwd, env=_env(shim), timeout=120)


def _one_line(p, code, pattern):
    err = p.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert p.returncode == code, (p.returncode, err)
    assert err.count("\n") == 1 and err.startswith("fastinit "), err
    assert re.search(pattern, err), err
    return err


FILL = ["fill", "out.npy", "--shape", "10,10", "--no-progress"]

CASES = [
    # (argv, exit code, message pattern)
    (FILL + ["--init", "kaiming_uniform", "--a", "1e200", "--seed", "0"], 2, r"\ba\b|a="),
    (FILL + ["--init", "normal", "--seed", "0", "--chunk-mb", "inf"], 2, "--chunk-mb must be a finite"),
    (FILL + ["--init", "normal", "--seed", "0", "--chunk-mb", "-1"], 2, "--chunk-mb must be"),
    (["fill", "o.npy", "--init", "orthogonal", "--shape", "100000,100000", "--seed", "0"], 2,
     r"memory.*needs about [\d.]+ GB"),
    (["fill", "o.zarr", "--init", "orthogonal", "--shape", "100000,100000", "--seed", "0"], 2,
     "memory"),
    (FILL + ["--init", "normal", "--seed", "0", "--stream", "-1"], 2, r"stream number must be in \[0, 2\*\*64\)"),
    (FILL + ["--init", "normal", "--seed", "0", "--stream=-1"], 2, "stream number must be"),
    (FILL + ["--init", "normal", "--seed", "0", "--stream", str(2 ** 64)], 2, "stream number must be"),
    (FILL + ["--init", "normal", "--seed", "0", "--stream", "0x_"], 2, "not a valid integer"),
    (["raw", "--seed", "0", "--stream=-1", "--count", "1"], 2, "stream number must be"),
    (["raw", "--seed", "0", "--start", "1e3"], 2, "expected an integer"),
]


@pytest.mark.parametrize("argv,code,pattern", CASES, ids=[" ".join(c[0][2:]) for c in CASES])
def test_each_case_is_one_line_and_no_file(tmp_path, argv, code, pattern):
    p = run(*argv, cwd=tmp_path)
    _one_line(p, code, pattern)
    assert p.stdout == b""
    assert os.listdir(tmp_path) == []


def test_raw_with_stdout_closed(tmp_path):
    p = run("raw", "--seed", "0", "--count", "10", cwd=tmp_path, shell_suffix=">&-")
    _one_line(p, 1, "stdout is closed")
    assert os.listdir(tmp_path) == []


def test_zarr_target_without_zarr_installed(tmp_path):
    shim = tmp_path / "shim"
    (shim / "zarr").mkdir(parents=True)
    (shim / "zarr" / "__init__.py").write_text("raise ImportError(\"No module named 'zarr'\")\n")
    work = tmp_path / "work"
    work.mkdir()
    p = run("fill", "w.zarr", "--shape", "10", "--init", "zeros", cwd=work, shim=shim)
    _one_line(p, 2, re.escape("pip install 'fastinit[io]'"))
    assert os.listdir(work) == []


def test_a_directory_named_like_a_npy_file_with_force_is_a_usage_error(tmp_path):
    (tmp_path / "x.npy").mkdir()
    (tmp_path / "x.npy" / "keep.txt").write_text("mine")
    p = run("fill", "x.npy", "--shape", "3", "--init", "zeros", "--force", cwd=tmp_path)
    _one_line(p, 2, "is a directory")
    assert os.listdir(tmp_path) == ["x.npy"] and os.listdir(tmp_path / "x.npy") == ["keep.txt"]


def test_force_onto_a_directory_that_is_not_a_zarr_array_keeps_it(tmp_path):
    (tmp_path / "n.zarr").mkdir()
    (tmp_path / "n.zarr" / "notes.txt").write_text("my notes")
    p = run("fill", "n.zarr", "--shape", "3", "--init", "zeros", "--force", cwd=tmp_path)
    _one_line(p, 2, "not a zarr array")
    assert (tmp_path / "n.zarr" / "notes.txt").read_text() == "my notes"
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("keep", shape=(2,), dtype="f4")[:] = 3
    p = run("fill", "g.zarr", "--shape", "3", "--init", "zeros", "--force", cwd=tmp_path)
    _one_line(p, 2, "zarr group")
    assert (zarr.open_group(str(tmp_path / "g.zarr"), mode="r")["keep"][...] == 3).all()
    assert sorted(os.listdir(tmp_path)) == ["g.zarr", "n.zarr"]


def test_a_lost_race_is_one_line_and_exit_1(tmp_path):
    lock = tmp_path / "r.npy.fastinit-lock"
    lock.write_text(f"{os.getpid()} {__import__('socket').gethostname()} 00ff00ff\n")  # alive: us
    p = run("fill", "r.npy", "--shape", "3", "--init", "zeros", cwd=tmp_path)
    _one_line(p, 1, rf"being written by another fastinit writer \(pid {os.getpid()}")
    assert os.listdir(tmp_path) == [lock.name]


# ------------------------------------------------ valid input that used to fail ----
def test_leading_zeros_are_decimal_stream_numbers(tmp_path):
    run("fill", "s.npy", "--shape", "50", "--init", "normal", "--seed", "05", "--stream", "05",
        "--no-progress", cwd=tmp_path).check_returncode()
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), fastinit.normal(50, seed=5, stream=5))
    p = run("raw", "--seed", "0", "--stream", "007", "--count", "8", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    np.testing.assert_array_equal(np.frombuffer(p.stdout, "<u4"),
                                  fastinit.random_raw(8, seed=0, stream=7))


def test_chunks_larger_than_the_array_are_clipped(tmp_path):
    p = run("fill", "c.zarr", "--shape", "1000", "--init", "normal", "--seed", "0", "--chunks",
            "1000000000000", "--no-progress", cwd=tmp_path)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    arr = zarr.open_array(str(tmp_path / "c.zarr"), mode="r")
    assert arr.chunks == (1000,)
    np.testing.assert_array_equal(arr[...], fastinit.normal(1000, seed=0))


def test_a_closed_stdout_pipe_after_a_complete_write_is_success(tmp_path):
    p = run("fill", "s.npy", "--shape", "20000", "--init", "normal", "--seed", "0", "--no-progress",
            cwd=tmp_path, shell_suffix="| true")
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), fastinit.normal(20000, seed=0))


def test_closed_stdout_or_stderr_do_not_stop_a_fill(tmp_path):
    for i, suffix in enumerate([">&-", "2>&-", ">&- 2>&-"]):
        p = run("fill", f"s{i}.npy", "--shape", "300", "--init", "normal", "--seed", "0", cwd=tmp_path,
                shell_suffix=suffix)
        assert p.returncode == 0 and b"Traceback" not in p.stderr, (suffix, p.stderr)
        np.testing.assert_array_equal(np.load(tmp_path / f"s{i}.npy"), fastinit.normal(300, seed=0))
    assert sorted(os.listdir(tmp_path)) == ["s0.npy", "s1.npy", "s2.npy"]
    p = run("fill", "s0.npy", "--shape", "3", "--init", "zeros", cwd=tmp_path, shell_suffix="2>&-")
    assert p.returncode == 2 and p.stdout == b""  # the error has nowhere to go, and not to stdout


def test_a_broken_stderr_does_not_stop_the_write(tmp_path):
    # Progress bar and summary both into a pipe whose reader leaves after one byte.
    proc = subprocess.Popen([sys.executable, "-m", "fastinit", "fill", "b.npy", "--shape",
                             "20000000", "--init", "normal", "--seed", "1", "--chunk-mb", "1",
                             "--threads", "1"], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.stdout.read(1)
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    got = np.load(tmp_path / "b.npy", mmap_mode="r")
    np.testing.assert_array_equal(got[-5:], fastinit.normal(20000000, seed=1, region=np.s_[19999995:]))
    assert os.listdir(tmp_path) == ["b.npy"]


# ------------------------------------------------------------ safety net ----
def test_an_unexpected_exception_is_one_line_internal_error(tmp_path):
    code = ("import sys, fastinit.io as fio\n"
            "def boom(*a, **k):\n"
            "    raise RuntimeError('simulated bug')\n"
            "fio.to_npy = boom\n"
            "from fastinit.cli import main\n"
            "sys.exit(main(['fill', 'z.npy', '--shape', '3', '--init', 'zeros']))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=tmp_path, env=_env(),
                       timeout=60)
    _one_line(p, 1, r"fastinit fill: internal error: RuntimeError: simulated bug; please report")
    assert os.listdir(tmp_path) == []
