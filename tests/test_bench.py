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
from fastinit import _core, bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastinit.__file__)))
ASV_DIR = os.path.join(ROOT, "asv_benchmarks")

ROW_IDS = {"normal_f32_vs_numpy", "normal_f32_vs_torch", "uniform_f32_vs_numpy",
           "uniform_f32_vs_torch", "trunc_normal_f32_vs_torch", "normal_f64_vs_numpy",
           "normal_bf16_vs_torch", "normal_f32_2threads_vs_1", "normal_f32_vs_philox_raw",
           "latency_1000_normal_f32"}
# issue 3 (AVX-512) and issue 13 (AVX2, scalar)
EXPECTED_TARGETS = {
    "avx512": {"normal_f32_vs_numpy": 8.0, "normal_f32_vs_torch": 3.0, "uniform_f32_vs_numpy": 3.0,
               "trunc_normal_f32_vs_torch": 20.0, "normal_f64_vs_numpy": 4.0,
               "normal_bf16_vs_torch": 3.0, "normal_f32_2threads_vs_1": 1.8,
               "normal_f32_vs_philox_raw": 0.5, "latency_1000_normal_f32": 2.0},
    "avx2": {"normal_f32_vs_numpy": 6.5, "normal_f32_vs_torch": 2.7, "uniform_f32_vs_numpy": 3.0,
             "trunc_normal_f32_vs_torch": 18.0, "normal_f64_vs_numpy": 3.5,
             "normal_bf16_vs_torch": 3.0, "normal_f32_2threads_vs_1": 1.8},
    "scalar": {"normal_f32_vs_numpy": 1.0, "trunc_normal_f32_vs_torch": 2.0,
               "normal_f32_2threads_vs_1": 1.8},
}


def _run_bench(*args, simd=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FASTINIT_SIMD", None)
    if simd is not None:
        env["FASTINIT_SIMD"] = simd
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
    assert set(rows) == ROW_IDS
    path = report["path"]
    assert path == report["config"]["simd_selected"] == _core.get_isa()
    for rid in ROW_IDS:
        r = rows[rid]
        target = EXPECTED_TARGETS[path].get(rid)
        assert r["target"] == target, rid
        # every peer is installed in CI (numpy, torch, ml_dtypes), so no row is n/a
        for key in ("m_per_s", "gb_per_s"):
            assert _positive(r["fastinit"][key]), (rid, key)
            assert _positive(r["peer_rate"][key]), (rid, key)
        assert r["ratio"] == pytest.approx(r["fastinit"]["m_per_s"] / r["peer_rate"]["m_per_s"])
        assert r["spread"] >= 0
        shown = round(r["ratio"], 2)
        expected_status = ("no target" if target is None else "pass" if shown >= target
                           else "noisy" if r["spread"] > report["config"]["noise"] else "miss")
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


def test_targets_per_path():
    for path, want in EXPECTED_TARGETS.items():
        assert bench.targets_for(path) == want, path
    # a path without stated targets (e.g. a future NEON build) is held only to thread scaling
    assert bench.targets_for("neon") == {"normal_f32_2threads_vs_1": 1.8}


def test_status_is_judged_on_the_printed_ratio():
    assert bench.format_ratio(1.996) == "2.00x" and bench.judge(1.996, 2.0) == "pass"
    assert bench.format_ratio(1.994) == "1.99x" and bench.judge(1.994, 2.0) == "miss"
    assert bench.format_ratio(1.92) == "1.92x" and bench.judge(1.92, 2.0) == "miss"
    assert bench.judge(6.4951, 6.5) == "pass" and bench.judge(6.4949, 6.5) == "miss"
    assert bench.judge(None, 2.0) == "n/a" and bench.judge(0.1, None) == "no target"
    assert bench.format_ratio(None) == "n/a"


def test_a_miss_on_spread_out_timings_is_noisy_not_a_miss():
    assert bench.judge(1.5, 2.0, spread=0.21) == "noisy"
    assert bench.judge(1.5, 2.0, spread=0.19) == "miss"
    assert bench.judge(1.5, 2.0, spread=0.5, noise=0.6) == "miss"
    assert bench.judge(2.5, 2.0, spread=3.0) == "pass"  # a pass stands: best-of timings
    assert bench._spread([1.0, 1.5, 1.2]) == pytest.approx(0.5)
    assert bench._spread([2.0]) == 0.0
    # _best keeps each function's minimum and the larger of their spreads (a fake clock)
    clock = [0.0]

    def taking(seconds):
        steps = iter(seconds)

        def fn():
            clock[0] += next(steps)
        return fn

    orig = bench.time.perf_counter
    bench.time.perf_counter = lambda: clock[0]
    try:  # first call of each: the warm-up
        best, spread = bench._best([taking([9.0, 1.0, 1.5, 1.2]), taking([9.0, 4.0, 5.0, 4.2])], 3)
    finally:
        bench.time.perf_counter = orig
    assert best == [1.0, 4.0]
    assert spread == pytest.approx(0.5)  # fastinit's 1.0 .. 1.5 spreads more than 4.0 .. 5.0


def _fake_report(ratio, spread, path="avx2"):
    row = bench._ratio_row("normal_f32_vs_numpy", "normal float32 vs NumPy", bench.targets_for(path)
                           ["normal_f32_vs_numpy"], {"m_per_s": 100.0 * ratio, "gb_per_s": 1.0},
                           "numpy", {"m_per_s": 100.0, "gb_per_s": 1.0}, {"gb_per_s": 10.0},
                           spread)
    config = {"version": "x", "size": 1, "repeat": 1, "simd_selected": path, "threads": [1],
              "cpu": "cpu", "cores": 1, "numpy": "n", "torch": None, "noise": bench.NOISE}
    return {"config": config, "path": path, "roofline": {}, "rows": [row], "memory": None}


@pytest.mark.parametrize("ratio, spread, shown, status", [
    (6.496, 0.0, "6.50x", "pass"), (6.4949, 0.0, "6.49x", "miss"), (5.0, 0.3, "5.00x", "noisy"),
    (7.0, 0.3, "7.00x", "pass")])
def test_table_prints_the_ratio_it_judged(ratio, spread, shown, status):
    line = [ln for ln in bench.format_table(_fake_report(ratio, spread)).splitlines()
            if ln.startswith("normal float32 vs NumPy")][0]
    assert line.split()[-4:] == [shown, ">=6.5x", f"{spread:.0%}", status]
    assert "SIMD path avx2" in bench.format_table(_fake_report(ratio, spread))


@pytest.mark.parametrize("simd", ["scalar", "avx2"])
def test_bench_measures_and_judges_the_forced_path(simd):
    if not _core.isa_supported(simd):
        pytest.fail(f"CI runs on an x86-64 CPU with AVX2; {simd} is not supported here")
    args = ("--json", "--size", "4096", "--repeat", "1", "--threads", "1", "--mem-gib", "0")
    for proc in (_run_bench(*args, simd=simd), _run_bench(*args, "--simd", simd)):
        assert proc.returncode == 0, proc.stderr
        rep = json.loads(proc.stdout)
        assert rep["path"] == rep["config"]["simd_selected"] == simd
        assert rep["targets"] == EXPECTED_TARGETS[simd]
        for r in rep["rows"]:
            assert r["target"] == EXPECTED_TARGETS[simd].get(r["id"]), r["id"]
    table = _run_bench("--size", "4096", "--repeat", "1", "--threads", "1", "--mem-gib", "0",
                       simd=simd)
    assert f"SIMD path {simd}" in table.stdout


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


# -------------------------------------------------------------- bench --model ----
SHIM = os.path.join(ROOT, "tests", "_torchvision_shim.py")


def test_bench_model_builds_a_llama_both_ways_in_fresh_processes():
    """fastinit bench --model tiny: from_config and empty_init + init_module of a real
    transformers Llama, each in its own interpreter; the report is complete and
    consistent (times, the parameter count of the model built, the ratios from them)."""
    from fastinit import bench_model

    proc = _run_bench("--model", "tiny", "--repeat", "1", "--json", "--preload", SHIM)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    assert row["size"] == "tiny" and row["threads"] == 2 and row["repeat"] == 1
    cfg = bench_model.SIZES["tiny"]
    h, f, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    expected = 2 * 32000 * h + layers * (4 * h * h + 3 * h * f + 2 * h) + h
    assert row["parameters"] == expected
    m = row["median"]
    assert all(_positive(m[k]) for k in ("plain_s", "fastinit_s", "construct_s",
                                         "init_module_s", "fills_s", "touch_s")), m
    assert m["construct_s"] + m["init_module_s"] <= m["fastinit_s"] * 1.000001
    assert math.isclose(row["speedup"], m["plain_s"] / m["fastinit_s"])
    assert math.isclose(row["fill_share"], m["fills_s"] / m["fastinit_s"])
    assert [len(row["runs"][k]) for k in ("plain", "fastinit", "touch")] == [1, 1, 1]
    assert row["target"] is None and row["status"] == "no target"
    assert bench_model.TARGETS == {"270m": 5.0}  # issue 11
    text = bench_model.format_report(row)
    assert text.startswith("Llama tiny (4M params, 2 threads") and "x" in text


def test_bench_model_bad_arguments_are_one_line_usage_errors():
    for args, word in ((["--model", "huge"], "--model"),
                       (["--model", "tiny", "--size", "1M"], "--size"),
                       (["--model", "tiny", "--preload", "/nonexistent/shim.py"], "--preload"),
                       (["--preload", SHIM], "--preload")):
        proc = _run_bench(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert word in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert len(_run_bench("--model", "tiny", "--size", "1M").stderr.strip().splitlines()) == 1
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "fastinit.bench", "--model", "tiny", "--simd", "avx2"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "--simd applies to the fill benchmark" in proc.stderr
    assert "Traceback" not in proc.stderr
    from fastinit import bench_model

    with pytest.raises(ValueError, match="unknown model size"):
        bench_model.measure("7b")
    with pytest.raises(ValueError, match=">= 1"):
        bench_model.measure("tiny", repeat=0)


def test_bench_model_reports_a_failing_measurement_in_one_line():
    """A measuring process that fails (here: its preload raises) is an error naming the
    measurement and the cause, not a traceback."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write("raise ImportError('no transformers today')\n")
    try:
        proc = _run_bench("--model", "tiny", "--repeat", "1", "--preload", f.name)
    finally:
        os.unlink(f.name)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "plain measurement failed" in lines[0], lines


# ----------------------------------------------------------------------- asv ----
@pytest.fixture(scope="module")
def asv_modules():
    import torch

    threads = torch.get_num_threads()  # RatioVsTorch.setup changes it for the process
    sys.path.insert(0, ASV_DIR)
    try:
        paths = importlib.import_module("benchmarks.bench_paths")
        size, paths.SIZE = paths.SIZE, 512
        yield (importlib.import_module("benchmarks.bench_fill"),
               importlib.import_module("benchmarks.bench_torch"), paths)
    finally:
        paths.SIZE = size
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
    fill, torch_suite, paths = asv_modules
    counts = {"time_": 0, "peakmem_": 0, "track_": 0, "skipped": 0}
    suites = [fill.Fill, fill.PeakMemory, fill.RatioVsNumPy, torch_suite.RatioVsTorch,
              paths.PathRatios, paths.PathTargets]
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
            if hasattr(bench, "teardown"):
                bench.teardown(*args)
    assert counts["time_"] > 0 and counts["peakmem_"] > 0 and counts["track_"] > 0
    # NumPy has no trunc_normal and no float16/bfloat16 output: those are skipped, not failed.
    assert counts["skipped"] > 0
    for getter in (lambda: fill.RawWords().time_random_raw(512),
                   lambda: _roofline_once(fill),
                   lambda: _small_call_once(fill)):
        getter()


def test_asv_path_suites_force_the_path_and_skip_missing_targets(asv_modules):
    _, _, paths = asv_modules
    before = _core.get_isa()
    for path in ("scalar", "avx2"):
        suite = paths.PathRatios()
        suite.setup(path, "normal_f32_vs_numpy")
        assert _core.get_isa() == path
        assert _positive(suite.track_ratio(path, "normal_f32_vs_numpy"))
        suite.teardown(path, "normal_f32_vs_numpy")
        assert _core.get_isa() == before
    with pytest.raises(NotImplementedError, match="no uniform_f32_vs_numpy target"):
        paths.PathTargets().setup("scalar", "uniform_f32_vs_numpy")
    suite = paths.PathTargets()
    suite.setup("avx2", "uniform_f32_vs_numpy")
    assert suite.target == 3.0 and _positive(suite.track_fraction_of_target("avx2", "uniform_f32_vs_numpy"))
    suite.teardown("avx2", "uniform_f32_vs_numpy")
    with pytest.raises(NotImplementedError, match="not available"):
        paths.PathRatios().setup("neon", "normal_f32_vs_numpy")


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


def test_asv_llama_init_suite_measures_each_thread_count_once(monkeypatch):
    """asv's LlamaInit (with the tiny config in place of 270m): setup_cache measures every
    thread count this machine has, and the track_ methods report from those rows."""
    from fastinit import bench_model

    sys.path.insert(0, ASV_DIR)
    try:
        models = importlib.import_module("benchmarks.bench_models")
    finally:
        sys.path.remove(ASV_DIR)
    real, sizes = bench_model.measure, []

    def tiny(size, **kw):
        sizes.append(size)
        return real("tiny", **{**kw, "repeat": 1})

    monkeypatch.setattr(models.bench_model, "measure", tiny)
    suite = models.LlamaInit()
    rows = suite.setup_cache()
    assert sizes == ["270m"] * len(rows) and set(rows) == set(models.THREADS)  # 2 cores here
    for threads in models.THREADS:
        suite.setup(rows, threads)
        assert rows[threads]["threads"] == threads
        assert suite.track_speedup(rows, threads) == rows[threads]["speedup"] > 0
        assert suite.track_speedup_without_first_touch(rows, threads) > 0
        assert 0 < suite.track_fill_share(rows, threads) < 1
    with pytest.raises(NotImplementedError):
        suite.setup({}, 2)
