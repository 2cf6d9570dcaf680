"""Concurrency and fork safety.

* Many Python threads filling at once (with OpenMP inside each call, while another
  thread switches the SIMD path) get exactly the serial results: the core keeps no
  global mutable state that could mix calls up.
* A process that has used OpenMP fills can fork (os.fork, multiprocessing's fork
  context, PyTorch DataLoader workers), even while another thread is inside a fill,
  and the child's fills finish (GNU libgomp's pool does not survive fork: fastinit
  runs the child's fills on the calling thread) and give identical values.
Fork scenarios run in a fresh interpreter under a timeout, so a hang fails the test
instead of hanging the suite.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastinit
from fastinit import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIG = 600_000  # above the core's 2 x 65536 threshold: these fills do enter OpenMP


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


# A fixed list of jobs: (function name, args, kwargs)
def _jobs():
    jobs = []
    dists = [("uniform", (-1.0, 1.0)), ("normal", (0.5, 2.0)), ("trunc_normal", (0.0, 1.0, -1.5, 3.0)),
             ("full", (0.25,))]
    dtypes = ["float32", "float64", "float16", "bfloat16"]
    k = 0
    for dist, params in dists:
        for dt in dtypes:
            for shape, region in [((BIG,), None), ((700, 1001), np.s_[3:690, 1:1000]), ((37, 5), None),
                                  ((2, 3, 4), np.s_[1:2, :, 1:3])]:
                kw = dict(dtype=dt, region=region, threads=[None, 1, 2, 3][k % 4])
                if dist != "full":
                    kw.update(seed=1000 + k, stream=f"job{k}")
                jobs.append((dist, (shape,) + params, kw))
                k += 1
    return jobs


def _run(job):
    name, args, kw = job
    return getattr(fastinit, name)(*args, **kw)


def test_many_threads_equal_serial_results():
    jobs = _jobs()
    serial = [digest(_run(j)) for j in jobs]  # one at a time, on this thread
    results = {}
    errors = []
    n_threads = 12
    barrier = threading.Barrier(n_threads + 1)
    stop = threading.Event()

    def worker(t):
        try:
            barrier.wait()
            # each thread runs every job, in its own order, three times
            order = np.random.default_rng(t).permutation(len(jobs))
            for rep in range(3):
                for i in order:
                    d = digest(_run(jobs[i]))
                    if d != serial[i]:
                        errors.append((t, rep, i, jobs[i][0]))
            results[t] = True
        except Exception as exc:  # pragma: no cover - reported below
            errors.append((t, repr(exc)))

    def isa_switcher():
        # a user switching the SIMD path while fills run never changes a value
        supported = [n for n in _core.ISA_NAMES if _core.isa_supported(n)]
        i = 0
        barrier.wait()
        while not stop.is_set():
            _core.set_isa(supported[i % len(supported)])
            i += 1
            stop.wait(0.002)

    previous = _core.get_isa()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads - 1)]
    threads.append(threading.Thread(target=isa_switcher))
    try:
        for th in threads:
            th.start()
        barrier.wait()
        for th in threads[:-1]:
            th.join(timeout=600)
        stop.set()
        threads[-1].join(timeout=60)
    finally:
        stop.set()
        _core.set_isa(previous)
    assert not any(th.is_alive() for th in threads), "a thread hung"
    assert not errors, errors[:10]
    assert len(results) == n_threads - 1


def test_threads_share_one_output_without_overlap():
    """Threads filling disjoint regions of one out= array give the whole-tensor fill."""
    shape = (64, 5000)
    whole = fastinit.normal(shape, seed=8, dtype="float32")
    out = np.full(shape, np.nan, np.float32)

    def part(r):
        fastinit.normal(shape, seed=8, region=np.s_[r:r + 4, :], out=out[r:r + 4], threads=2)

    ths = [threading.Thread(target=part, args=(r,)) for r in range(0, 64, 4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(timeout=120)
    assert np.array_equal(out, whole)


# ------------------------------------------------------------------- fork ----
PRELUDE = textwrap.dedent(f"""
    import hashlib, os, sys, threading, time
    import numpy as np
    import fastinit
    BIG = {BIG}
    def digest(a):
        return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    def work(seed, threads=None):
        # big enough to use the OpenMP pool when threads allow it
        a = fastinit.normal(BIG, seed=seed, threads=threads)
        b = fastinit.trunc_normal((600, 1001), seed=seed, dtype="float64", region=np.s_[1:599, 2:999],
                                  threads=threads)
        return digest(a) + digest(b)
    # use the OpenMP thread pool in the parent first
    expected = {{s: work(s, threads=2) for s in range(4)}}
    assert fastinit.show_config(file=False)["forked_child"] is False
""")


def _run_script(body, timeout=180):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="2")
    try:
        res = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], env=env,
                             capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"fork scenario hung (killed after {timeout} s); output so far: {exc.stdout!r}")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def test_os_fork_child_fills_work_and_match():
    out = _run_script("""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            ok = all(work(s) == expected[s] and work(s, threads=2) == expected[s] for s in range(4))
            info = fastinit.show_config(file=False)
            # a grandchild too
            pid2 = os.fork()
            if pid2 == 0:
                os._exit(0 if work(1, threads=2) == expected[1] else 3)
            _, st = os.waitpid(pid2, 0)
            ok = ok and os.waitstatus_to_exitcode(st) == 0
            os.write(w, f"{ok} {info['forked_child']}".encode())
            os._exit(0)
        os.close(w)
        _, st = os.waitpid(pid, 0)
        msg = os.read(r, 100).decode()
        print("child", msg, os.waitstatus_to_exitcode(st))
        # the parent still uses its pool after the fork
        print("parent", all(work(s, threads=2) == expected[s] for s in range(4)))
    """)
    assert "child True True 0" in out and "parent True" in out


def test_fork_while_another_thread_is_inside_a_fill():
    out = _run_script("""
        started = threading.Event()
        def busy():
            started.set()
            for _ in range(20):
                fastinit.normal(4_000_000, seed=5, threads=2)
        th = threading.Thread(target=busy)
        th.start()
        started.wait()
        time.sleep(0.05)  # the busy thread is inside an OpenMP region now
        results = []
        for k in range(3):
            pid = os.fork()
            if pid == 0:
                os._exit(0 if work(k) == expected[k] else 3)
            _, st = os.waitpid(pid, 0)
            results.append(os.waitstatus_to_exitcode(st))
            time.sleep(0.03)
        th.join()
        print("codes", results)
    """)
    assert "codes [0, 0, 0]" in out


def test_multiprocessing_fork_pool():
    out = _run_script("""
        import multiprocessing as mp
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            got = pool.map_async(work, range(4)).get(timeout=120)
        print("pool", got == [expected[s] for s in range(4)])
    """)
    assert "pool True" in out


def test_torch_dataloader_workers():
    out = _run_script("""
        import torch
        from torch.utils.data import DataLoader, Dataset
        torch.set_num_threads(1)

        class Fills(Dataset):
            def __len__(self):
                return 8
            def __getitem__(self, i):
                return work(i % 4), os.getpid()

        loader = DataLoader(Fills(), batch_size=None, num_workers=2, multiprocessing_context="fork",
                            timeout=120)
        got = list(loader)
        same = all(d == expected[i % 4] for i, (d, _) in enumerate(got))
        pids = {p for _, p in got}
        print("loader", same, len(pids) == 2 and os.getpid() not in pids)
    """, timeout=300)
    assert "loader True True" in out


# ------------------------------------------------------- no mutable globals ----
WRITABLE = (".data", ".bss", ".data.rel", ".data.rel.local", "*COM*", ".tdata", ".tbss")


@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("objdump") is None,
                    reason="needs a C compiler and binutils")
def test_core_has_no_writable_global_state(tmp_path):
    """Every object the C core defines is read-only (tables, constants): compiled as
    position-independent code like the extension, no symbol lives in .data, .bss or
    thread-local storage, so concurrent calls cannot share mutable state."""
    # The units the extension is built from, read from setup.py so a new unit is covered.
    setup = {}
    exec(compile(_setup_tables(), "setup.py", "exec"), setup)
    units = {path: [] for path in setup["CORE_SOURCES"]}
    arch = "x86" if platform.machine().lower() in ("x86_64", "amd64") else platform.machine().lower()
    defs = ["-DFI_HAVE_OPENMP"]
    for path, (flags, macro) in setup["SIMD_UNITS"].get(arch, {}).items():
        units[path] = flags
        defs.append(f"-D{macro}")
    assert len(units) >= 7
    offenders = []
    for unit, flags in units.items():
        obj = str(tmp_path / (os.path.basename(unit) + ".o"))
        subprocess.run(["cc", "-std=c99", "-O2", "-fPIC", "-fopenmp", "-ffp-contract=off", "-I",
                        os.path.join(ROOT, "src_c"), *defs, *flags, "-c", os.path.join(ROOT, unit), "-o", obj],
                       check=True, capture_output=True)
        table = subprocess.run(["objdump", "-t", obj], check=True, capture_output=True, text=True).stdout
        for line in table.splitlines():
            parts = line.split()
            # "<addr> <l|g> [flags] O <section> <size> <name>"
            if " O " in line and any(sec in parts for sec in WRITABLE):
                offenders.append(f"{unit}: {line.strip()}")
    assert not offenders, "writable global state in the core:\n" + "\n".join(offenders)


def _setup_tables():
    """The SRC, CORE_SOURCES and SIMD_UNITS assignments of setup.py (nothing else runs)."""
    import ast

    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    keep = [n for n in tree.body if isinstance(n, ast.Assign)
            and any(getattr(t, "id", None) in ("SRC", "CORE_SOURCES", "SIMD_UNITS") for t in n.targets)]
    return ast.Module(body=keep, type_ignores=[])
