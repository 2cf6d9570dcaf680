"""Any threads=: the threads that run, and the GIL-free chunk (the work between two
signal checks), are capped at the CPUs this process may use, so threads=64 or 4096 on a
2-core machine stops on Ctrl-C as soon as threads=2 does (those SIGINT cases are in
test_reliability_signals.py).  More threads than CPUs never run: they would only take
turns.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import fastinit
from fastinit import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_threads_beyond_the_cpus_do_not_run():
    cpus = _core.usable_cpus()
    assert cpus == len(os.sched_getaffinity(0))
    for asked in (1, 2, cpus, cpus + 1, 64, 4096):
        assert _core.threads_that_run(asked) == max(1, min(asked, cpus))
    for dist in _core.DIST_CODES.values():
        assert _core.chunk_elements(dist, 4096) == _core.chunk_elements(dist, cpus)
        assert _core.chunk_elements(dist, 1) <= _core.chunk_elements(dist, cpus)


def test_the_cap_follows_the_affinity_mask():
    """Restricted to one CPU (taskset), 64 requested threads run as one."""
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from fastinit import _core; print(_core.threads_that_run(64), "
            "_core.chunk_elements(1, 64) == _core.chunk_elements(1, 1))")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60, check=True).stdout.split()
    assert out == ["1", "True"]


def test_many_threads_give_the_same_bits():
    n = 3 * _core.chunk_elements(_core.DIST_CODES["normal"], 2) // 2 + 12345
    want = fastinit.normal(n, seed=5, stream="t", threads=1)
    for threads in (64, 4096):
        assert np.array_equal(fastinit.normal(n, seed=5, stream="t", threads=threads), want)
