"""Every README code block runs as written: each ```python block in a fresh interpreter
in an empty directory, each `fastinit ...` line of a ```bash block parsed by the real
parser and, for fill/raw/info/propagate, run with its sizes shrunk.  Blocks added later
are picked up automatically.  (The pip install lines are what CI itself runs.)"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

import fastinit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
README = os.path.join(ROOT, "README.md")


def _blocks(lang):
    text = open(README, encoding="utf-8").read()
    out = []
    for m in re.finditer(r"^```([\w+-]*)[ \t]*\n(.*?)^```", text, re.M | re.S):
        if m.group(1).lower() == lang:
            out.append((text.count("\n", 0, m.start()) + 1, m.group(2)))
    return out


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


PYTHON = _blocks("python")


def test_the_readme_has_code_blocks():
    assert len(PYTHON) >= 4 and len(_blocks("bash")) >= 3


@pytest.mark.parametrize("block", PYTHON, ids=[f"README.md:{n}" for n, _ in PYTHON])
def test_python_block_runs_as_written(tmp_path, block):
    line, code = block
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, f"README.md line {line}:\n{p.stderr[-3000:]}"


# -------------------------------------------------------------------- bash ----
def _fastinit_commands(code):
    """The `fastinit ...` commands of a bash block, synopsis brackets removed:
    `[--x N]` dropped, `A|B` -> A, continuation lines joined, comments cut."""
    for line in code.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#\s.*$", "", line).strip()
        for seg in re.split(r"\s(?:&&|\||;)\s", line):
            seg = seg.strip()
            for prefix in ("fastinit ", "python -m fastinit "):
                if seg.startswith(prefix):
                    while re.search(r"\[[^\[\]]*\]", seg):
                        seg = re.sub(r"\s*\[[^\[\]]*\]", "", seg)
                    yield [t.split("|")[0] for t in shlex.split(seg[len(prefix):])]


def _shrunk(argv):
    """Small sizes for a test run: dimensions, depth and width at most a few hundred."""
    out, limits = list(argv), {"--shape": 300, "--depth": 8, "--width": 64, "--batch": 64}
    for i, tok in enumerate(out[:-1]):
        if tok in limits:
            lim = limits[tok]
            out[i + 1] = ",".join(str(min(int(d), lim)) for d in re.split(r"[,x]", out[i + 1]))
    if out and out[0] == "raw" and "--count" not in out:
        out += ["--count", "1000"]
    return out


COMMANDS = [(n, argv) for n, code in _blocks("bash") for argv in _fastinit_commands(code)]


def test_the_readme_shows_the_commands():
    assert {a[0] for _, a in COMMANDS} >= {"fill", "raw", "info", "bench", "propagate"}


@pytest.mark.parametrize("command", COMMANDS, ids=[f"README.md:{n}:{' '.join(a[:2])}" for n, a in COMMANDS])
def test_fastinit_command_parses_and_runs(tmp_path, command):
    from fastinit.cli import build_parser

    line, argv = command
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"README.md line {line}: `fastinit {' '.join(argv)}` does not parse ({exc})")
    if argv[0] not in ("fill", "raw", "info", "propagate"):
        return  # bench takes minutes: parsing it is the check
    p = subprocess.run([sys.executable, "-m", "fastinit", *_shrunk(argv)], cwd=tmp_path, env=_env(),
                       capture_output=True, timeout=600)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0 and "Traceback" not in err, f"README.md line {line}: {err[-2000:]}"


# ------------------------------------------------------- documented numbers ----
def test_deep_relu_documents_its_bit_reproducible_initial_weights():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import deep_relu
    finally:
        sys.path.pop(0)
    docs = open(os.path.join(ROOT, "docs", "diagnostics.md"), encoding="utf-8").read()
    for scheme, label in (("he", "He"), ("xavier", "Xavier")):
        digest = deep_relu.weights_digest(scheme)[:16]
        assert f"{label} {digest}..." in deep_relu.__doc__
        assert f"{label} `{digest}...`" in docs
    assert "not" in deep_relu.__doc__ and "BLAS" in deep_relu.__doc__


# --------------------------------------------------------------- packaging ----
def test_generated_c_stays_out_of_the_wheel_and_the_sdist(tmp_path):
    """The sdist carries _core.pyx and the C core but not Cython's _core.c; the wheel's
    Python part (build_py: everything but the compiled extension) carries no C at all."""
    import shutil
    import tarfile

    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.so", "_core.c", "__pycache__", "*.egg-info", ".asv"))
    for cmd in (["sdist", "-d", str(tmp_path / "dist")], ["build_py", "-d", str(tmp_path / "lib")]):
        p = subprocess.run([sys.executable, "setup.py", "-q", *cmd], cwd=src, capture_output=True,
                           text=True, timeout=600)
        assert p.returncode == 0, p.stderr[-2000:]
    (sdist,) = (tmp_path / "dist").glob("*.tar.gz")
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    assert "fastinit/_core.pyx" in names and "fastinit/_core.c" not in names
    assert {"src_c/philox.h", "src_c/kernels_avx512.c", "src_c/fill.c"} <= names
    wheel_py = [os.path.relpath(os.path.join(d, f), tmp_path / "lib")
                for d, _, fs in os.walk(tmp_path / "lib") for f in fs]
    assert "fastinit/__init__.py" in wheel_py
    assert not [f for f in wheel_py if f.endswith((".c", ".pyx"))], wheel_py
