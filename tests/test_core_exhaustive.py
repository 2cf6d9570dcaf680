"""float32 normal accuracy for EVERY pair of words, proved piecewise in C.

tests/core_exhaustive_f32.c runs the kernel's own radius and sin/cos-of-pi code
(src_c/detmath.h) over every radius word and every angle, against double-precision
references, and reports the worst errors e_R and e_T.  Because z = fl(R_f c_f),
    |z - R cos(pi T)| / max(1, R) <= e_R |c_f| + e_T + 2^-24 (1 + e_R) |c_f|
for every pair, which must stay within STREAM.md's 2^-21.  The default run samples
every 61st radius word (all angles, all words at the ends); the slow run takes all 2^32.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from fastinit import _core

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "tests", "core_exhaustive_f32.c")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "a C compiler is needed for the exhaustive check"
    exe = str(tmp_path_factory.mktemp("exhaustive") / "core_exhaustive_f32")
    flags = ["-std=c99", "-O2", "-ffp-contract=off", "-fno-math-errno"]
    if _core.isa_supported("avx2"):
        # hardware fma: the same correctly rounded operation as libm's fmaf, only faster
        flags += ["-mavx2", "-mfma", "-mf16c"]
    omp = subprocess.run([cc, "-fopenmp", "-x", "c", "-", "-o", os.devnull, "-fsyntax-only"],
                         input="int main(void){return 0;}", capture_output=True, text=True)
    if omp.returncode == 0:
        flags.append("-fopenmp")
    build = subprocess.run([cc, *flags, "-I" + os.path.join(ROOT, "src_c"), SOURCE, "-o", exe, "-lm"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    return exe


def run(exe, step):
    out = subprocess.run([exe, str(step)], capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert out.returncode == 0, out.stderr
    values = {}
    for line in out.stdout.splitlines():
        fields = line.split()
        values[fields[0]] = float(fields[1])
    return values


def check(values):
    e_r, e_t, c_max = values["e_R"], values["e_T"], values["c_max"]
    assert c_max <= 1.0  # |cos|, |sin| never exceed 1 after rounding
    bound = e_r * c_max + e_t + 2.0**-24 * (1 + e_r) * c_max
    assert bound <= 2.0**-21, f"e_R = {e_r:.3g}, e_T = {e_t:.3g}: bound {bound:.3g} > 2**-21"
    # the pieces themselves: a few float32 ulps at most
    assert e_r <= 2.0**-22 and e_t <= 2.0**-23


def test_sampled_radius_words_all_angles(driver):
    check(run(driver, 61))


@pytest.mark.slow
def test_every_radius_word(driver):
    check(run(driver, 1))
