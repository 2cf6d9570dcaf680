"""``fastinit bench`` and the asv suites run and report well-formed numbers.

No timing is asserted: the machine is shared; the numbers belong to benchmarks.
"""
from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys

import pytest

import fastinit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
ASV_DIR = os.path.join(ROOT, "asv_benchmarks")

EXPECTED_ROWS = {
    "normal_f32_vs_numpy": 8.0,
    "normal_f32_vs_torch": 3.0,
    "uniform_f32_vs_numpy": 3.0,
    "uniform_f32_vs_torch": None,
    "trunc_normal_f32_vs_torch": 20.0,
    "normal_f64_vs_numpy": 4.0,
    "normal_bf16_vs_torch": 3.0,
    "normal_f32_2threads_vs_1": 1.8,
    "normal_f32_vs_philox_raw": 0.5,
    "latency_1000_normal_f32": 2.0,
}


def _run_bench(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "fastinit", "bench", *args], capture_output=True,
                          text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def report():
    proc = _run_bench("--quick", "--json", "--size", "65536", "--repeat", "1", "--mem-gib", "0.0625")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_json_has_every_row_with_positive_rates(report):
    rows = {r["id"]: r for r in report["rows"]}
    assert set(rows) == set(EXPECTED_ROWS)
    for rid, target in EXPECTED_ROWS.items():
        r = rows[rid]
        assert r["target"] == target, rid
        # every peer is installed in CI (numpy, torch, ml_dtypes), so no row is n/a
        for key in ("m_per_s", "gb_per_s"):
            assert _positive(r["fastinit"][key]), (rid, key)
            assert _positive(r["peer_rate"][key]), (rid, key)
        assert r["ratio"] == pytest.approx(r["fastinit"]["m_per_s"] / r["peer_rate"]["m_per_s"])
        expected_status = "no target" if target is None else ("pass" if r["ratio"] >= target else "miss")
        assert r["status"] == expected_status, rid
    assert _positive(rows["latency_1000_normal_f32"]["fastinit_us"])
    assert _positive(rows["latency_1000_normal_f32"]["peer_us"])
    assert _positive(rows["normal_f32_vs_numpy"]["roofline_fraction"])


def test_bench_json_roofline_config_and_memory(report):
    assert set(report["roofline"]) == {"float32", "float64", "bfloat16"}
    for rate in report["roofline"].values():
        assert _positive(rate["m_per_s"]) and _positive(rate["gb_per_s"])
    cfg = report["config"]
    assert cfg["size"] == 65536 and cfg["repeat"] == 1 and cfg["threads"] == [1, 2]
    assert cfg["simd_selected"] in cfg["simd_supported"]
    mem = report["memory"]
    assert mem["output_mib"] == pytest.approx(64.0)
    assert mem["extra_mib"] is not None and mem["extra_mib"] >= 0
    assert mem["status"] in ("pass", "miss")


def test_bench_table_and_bad_arguments():
    proc = _run_bench("--size", "4096", "--repeat", "1", "--threads", "1", "--mem-gib", "0")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "normal float32 vs NumPy standard_normal" in out and "roofline" in out
    assert "2 threads vs 1" not in out  # only one thread count asked for
    assert "peak memory" not in out  # --mem-gib 0 skips the probe
    bad = _run_bench("--size", "lots")
    assert bad.returncode == 2 and "--size" in bad.stderr
    bad = _run_bench("--threads", "0")
    assert bad.returncode == 2 and "--threads" in bad.stderr


def test_python_dash_m_fastinit_bench_help():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-m", "fastinit.bench", "--help"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "--json" in proc.stdout and "--quick" in proc.stdout


def test_bench_import_is_light():
    code = "import sys, fastinit.bench; print('torch' in sys.modules, 'numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.stdout.split()[0] == "False", proc.stderr


# ----------------------------------------------------------------------- asv ----
@pytest.fixture(scope="module")
def asv_modules():
    import torch

    threads = torch.get_num_threads()  # RatioVsTorch.setup changes it for the process
    sys.path.insert(0, ASV_DIR)
    try:
        yield (importlib.import_module("benchmarks.bench_fill"),
               importlib.import_module("benchmarks.bench_torch"))
    finally:
        sys.path.remove(ASV_DIR)
        torch.set_num_threads(threads)


def _tiny_cases(cls):
    """Every parameter combination with the size replaced by a tiny one."""
    import itertools

    for combo in itertools.product(*cls.params):
        yield tuple(512 if name == "size" else v for name, v in zip(cls.param_names, combo))


def _run_methods(obj, prefix, args):
    ran = []
    for name in dir(obj):
        if name.startswith(prefix):
            ran.append(getattr(obj, name)(*args))
    return ran


def test_asv_suites_setup_and_run_once_on_tiny_sizes(asv_modules):
    fill, torch_suite = asv_modules
    counts = {"time_": 0, "peakmem_": 0, "track_": 0, "skipped": 0}
    suites = [fill.Fill, fill.PeakMemory, fill.RatioVsNumPy, torch_suite.RatioVsTorch]
    for cls in suites:
        seen = set()
        for args in _tiny_cases(cls):
            if args in seen:
                continue
            seen.add(args)
            bench = cls()
            try:
                bench.setup(*args)
            except NotImplementedError:
                counts["skipped"] += 1
                continue
            for prefix in ("time_", "peakmem_", "track_"):
                results = _run_methods(bench, prefix, args)
                counts[prefix] += len(results)
                if prefix == "track_":
                    assert all(_positive(r) for r in results), (cls.__name__, args, results)
    assert counts["time_"] > 0 and counts["peakmem_"] > 0 and counts["track_"] > 0
    # NumPy has no trunc_normal and no float16/bfloat16 output: those are skipped, not failed.
    assert counts["skipped"] > 0
    for getter in (lambda: fill.RawWords().time_random_raw(512),
                   lambda: _roofline_once(fill),
                   lambda: _small_call_once(fill)):
        getter()


def _roofline_once(fill):
    r = fill.Roofline()
    r.setup("bfloat16", 512)
    r.time_ndarray_fill("bfloat16", 512)


def _small_call_once(fill):
    s = fill.SmallCall()
    s.setup()
    s.time_fastinit_normal_1000()
    s.time_numpy_standard_normal_1000()
    assert _positive(s.track_ratio_vs_numpy_1000())


def test_asv_config_is_valid_json_with_comments():
    import re

    with open(os.path.join(ASV_DIR, "asv.conf.json")) as f:
        text = re.sub(r"^\s*//.*$", "", f.read(), flags=re.M)
    conf = json.loads(text)
    assert conf["version"] == 1 and conf["repo"] == ".." and conf["benchmark_dir"] == "benchmarks"
    assert conf["environment_type"] == "existing"
