"""The writers never mix, clobber or delete data: concurrent and killed writers (real
processes), locks, no-clobber publication, targets of another kind, user files named
like temporaries, zarr chunk files fsynced before the rename, clipped chunk buffers."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import zarr

import fastinit
from fastinit.io import _atomic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
SHAPE = (1_500_000, 2)


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _fill(path, seed, *extra):
    return subprocess.Popen([sys.executable, "-m", "fastinit", "fill", str(path), "--shape",
                             ",".join(map(str, SHAPE)), "--init", "normal", "--seed", str(seed),
                             "--threads", "1", "--no-progress", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())


def _read(path):
    path = str(path)
    return np.load(path) if path.endswith(".npy") else zarr.open_array(path, mode="r")[...]


def _same(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.reshape(-1).view(np.uint8), b.reshape(-1).view(np.uint8))


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# --------------------------------------------------- concurrent writers ----
@pytest.mark.parametrize("suffix", [".npy", ".zarr"])
@pytest.mark.parametrize("force", [False, True], ids=["no-force", "force"])
def test_concurrent_writers_leave_one_complete_tensor_and_losers_say_so(tmp_path, suffix, force):
    for rnd in range(3):
        d = tmp_path / f"round{rnd}"
        d.mkdir()
        path = d / f"same{suffix}"
        extra = ("--force",) if force else ()
        procs = [_fill(path, seed, *extra) for seed in range(3)]  # started together
        results = [(seed, *p.communicate(timeout=120), p.returncode) for seed, p in enumerate(procs)]
        winners = [seed for seed, _, _, rc in results if rc == 0]
        for seed, out, err, rc in results:
            text = err.decode()
            assert "Traceback" not in text, text
            if rc != 0:  # a loser: one line saying why, nothing claimed
                assert rc in (1, 2) and text.count("\n") == 1, text
                assert "another" in text or "already exists" in text, text
                assert out == b"", out
        if force:
            assert winners  # each success replaced the file whole
        else:
            assert len(winners) == 1, results
        got = _read(path)
        matches = [s for s in winners
                   if (got.view(np.uint8) == fastinit.normal(SHAPE, seed=s).view(np.uint8)).all()]
        assert matches, "the file holds no successful writer's tensor"
        assert sorted(os.listdir(d)) == [path.name]  # no temporary, no lock


# ----------------------------------------------------- killed writers ----
@pytest.mark.parametrize("suffix", [".npy", ".zarr"])
def test_a_killed_writer_leaves_only_clearly_named_leftovers(tmp_path, suffix):
    path = tmp_path / f"big{suffix}"
    proc = subprocess.Popen([sys.executable, "-m", "fastinit", "fill", str(path), "--shape",
                             "200000000", "--init", "trunc_normal", "--seed", "0", "--threads", "1",
                             "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env())
    deadline = time.monotonic() + 60
    while (not any(n.endswith(_atomic.PARTIAL_SUFFIX) for n in os.listdir(tmp_path))
           and proc.poll() is None and time.monotonic() < deadline):
        time.sleep(0.02)
    time.sleep(0.3)
    assert proc.poll() is None, "the write ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    left = os.listdir(tmp_path)
    assert path.name not in left
    assert left and all(n.endswith((_atomic.PARTIAL_SUFFIX, _atomic.LOCK_SUFFIX)) for n in left), left
    assert all(n.startswith(".") for n in left if n.endswith(_atomic.PARTIAL_SUFFIX))
    # The dead writer's lock is stale (same host, pid gone): the next writer proceeds.
    fastinit.to_npy(path, (10, 3), "normal", seed=4, progress=False) if suffix == ".npy" else \
        fastinit.to_zarr(path, (10, 3), "normal", seed=4, progress=False)
    _same(_read(path), fastinit.normal((10, 3), seed=4))
    assert not os.path.exists(str(path) + _atomic.LOCK_SUFFIX)


# ---------------------------------------------------------------- locks ----
@pytest.mark.parametrize("writer", ["npy", "zarr"])
def test_a_live_writers_lock_is_respected(tmp_path, writer):
    path = tmp_path / f"w.{writer}"
    lock = str(path) + _atomic.LOCK_SUFFIX
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = f"{holder.pid} {socket.gethostname()} feedface\n"
        with open(lock, "w") as f:
            f.write(record)
        write = fastinit.to_npy if writer == "npy" else fastinit.to_zarr
        with pytest.raises(_atomic.WriteConflict, match=f"pid {holder.pid}") as info:
            write(path, (10,), "zeros", progress=False)
        assert isinstance(info.value, FileExistsError)
        assert "\n" not in str(info.value)
        assert sorted(os.listdir(tmp_path)) == [os.path.basename(lock)]
        assert open(lock).read() == record  # never removed
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_from_another_host_is_never_broken(tmp_path):
    path = tmp_path / "w.npy"
    lock = str(path) + _atomic.LOCK_SUFFIX
    with open(lock, "w") as f:
        f.write(f"{_dead_pid()} some-other-host.example deadbeef\n")
    with pytest.raises(_atomic.WriteConflict, match="some-other-host.example"):
        fastinit.to_npy(path, (10,), "zeros", progress=False)
    assert os.path.exists(lock) and not os.path.exists(path)


def test_a_stale_lock_of_a_dead_process_here_is_broken(tmp_path):
    path = tmp_path / "w.npy"
    with open(str(path) + _atomic.LOCK_SUFFIX, "w") as f:
        f.write(f"{_dead_pid()} {socket.gethostname()} 0123abcd\n")
    fastinit.to_npy(path, (10,), "ones", progress=False)
    assert os.listdir(tmp_path) == ["w.npy"]


def _publishes_meanwhile(target, content):
    """An initializer that, mid-write, lets 'another writer' publish `target` first."""
    calls = {"n": 0}

    def racing(shape, *, seed, stream=0, dtype=None, out=None, region=None, threads=None):
        calls["n"] += 1
        if calls["n"] == 3:
            np.save(target, content) if str(target).endswith(".npy") else \
                zarr.save_array(str(target), content, zarr_format=3)
        return fastinit.normal(shape, seed=seed, stream=stream, dtype=dtype, out=out, region=region,
                               threads=threads)

    return racing


@pytest.mark.parametrize("writer", ["npy", "zarr"])
def test_a_target_published_meanwhile_is_never_clobbered(tmp_path, writer):
    path = tmp_path / f"r.{writer}"
    theirs = np.arange(7.0)
    kw = dict(chunk_bytes=400) if writer == "npy" else dict(chunks=(10, 10), threads=1)
    write = fastinit.to_npy if writer == "npy" else fastinit.to_zarr
    with pytest.raises(_atomic.WriteConflict, match="another writer"):
        write(path, (100, 10), _publishes_meanwhile(path, theirs), seed=0, progress=False, **kw)
    _same(np.asarray(_read(path)), theirs)
    assert os.listdir(tmp_path) == [path.name]


# ------------------------------------------- never delete what it did not create ----
@pytest.mark.parametrize("name", ["p.npy", "q.zarr"])
def test_user_directories_named_like_old_temporaries_survive(tmp_path, name):
    user = tmp_path / f"{name}.partial"
    user.mkdir()
    (user / "mine.txt").write_text("keep me")
    write = fastinit.to_npy if name.endswith(".npy") else fastinit.to_zarr
    calls = {"n": 0}

    def failing(shape, *, seed, stream=0, dtype=None, out=None, region=None, threads=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk on fire")
        return fastinit.normal(shape, seed=seed, out=out, dtype=dtype, region=region, threads=threads)

    kw = dict(chunk_bytes=400) if name.endswith(".npy") else dict(chunks=(10, 10), threads=1)
    with pytest.raises(RuntimeError):
        write(tmp_path / name, (100, 10), failing, seed=0, progress=False, **kw)
    write(tmp_path / name, (10,), "ones", progress=False)
    assert (user / "mine.txt").read_text() == "keep me"
    assert sorted(os.listdir(tmp_path)) == sorted([name, user.name])


def test_overwrite_replaces_only_a_zarr_array(tmp_path):
    notes = tmp_path / "notes.zarr"
    notes.mkdir()
    (notes / "notes.txt").write_text("my notes")
    with pytest.raises(FileExistsError, match="not a zarr array"):
        fastinit.to_zarr(notes, (10,), "ones", progress=False, overwrite=True)
    assert (notes / "notes.txt").read_text() == "my notes"

    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("other", shape=(3,), dtype="f4")[:] = 7
    with pytest.raises(FileExistsError, match="zarr group"):
        fastinit.to_zarr(tmp_path / "g.zarr", (10,), "ones", progress=False, overwrite=True)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        fastinit.to_zarr(tmp_path / "g.zarr", (10,), "ones", progress=False)
    assert (zarr.open_group(str(tmp_path / "g.zarr"), mode="r")["other"][...] == 7).all()

    (tmp_path / "file.zarr").write_text("x")
    with pytest.raises(FileExistsError, match="not a directory"):
        fastinit.to_zarr(tmp_path / "file.zarr", (10,), "ones", progress=False, overwrite=True)
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(IsADirectoryError):
        fastinit.to_npy(tmp_path / "d.npy", (10,), "ones", progress=False, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["d.npy", "file.zarr", "g.zarr", "notes.zarr"]


def test_a_new_array_inside_a_group_keeps_its_siblings(tmp_path):
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("other", shape=(3,), dtype="f4")[:] = 7
    fastinit.to_zarr(tmp_path / "g.zarr" / "w", (4, 5), "normal", seed=1, progress=False)
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="r")
    assert (g["other"][...] == 7).all()
    _same(g["w"][...], fastinit.normal((4, 5), seed=1))


@pytest.mark.parametrize("writer", [fastinit.to_npy, fastinit.to_zarr])
def test_overwrite_must_be_a_bool(tmp_path, writer):
    with pytest.raises(TypeError, match="overwrite must be True or False"):
        writer(tmp_path / "x.npy", (3,), "zeros", progress=False, overwrite="yes")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------- zarr details ----
def test_zarr_chunk_files_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    synced, events = set(), []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def rename(src, dst, **kw):
        src = os.fspath(src)
        if src.endswith(_atomic.PARTIAL_SUFFIX):
            files = [os.path.join(d, n) for d, _, ns in os.walk(src) for n in ns]
            events.append([f for f in files if f not in synced])
        real_rename(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    fastinit.to_zarr(tmp_path / "s.zarr", (40, 6), "normal", chunks=(10, 3), seed=0, progress=False)
    assert events == [[]], events  # one publish, every chunk file already on disk
    assert len([p for p in synced if re.search(r"/c/\d+/\d+$", p)]) == 8  # the 4 x 2 chunk files


def test_huge_chunks_are_clipped_to_the_array(tmp_path):
    tracemalloc.start()
    try:
        fastinit.to_zarr(tmp_path / "h.zarr", (1000,), "normal", chunks=(10**12,), seed=0,
                         progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arr = zarr.open_array(str(tmp_path / "h.zarr"), mode="r")
    assert arr.chunks == (1000,) and peak < 64 << 20
    _same(arr[...], fastinit.normal((1000,), seed=0))
