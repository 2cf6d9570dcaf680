"""Statistical checks with fixed seeds: Kolmogorov-Smirnov and moments for every
distribution and dtype, including one-sided and far-tail truncation.

Outputs are discrete (float16/bfloat16 coarsely so), so each sample is compared with
the exact distribution of the *rounded* variable: value v has probability
F(upper midpoint of v) - F(lower midpoint of v), with the clamps at the ends.
The KS distance is taken against that step CDF (the continuous KS law then gives a
conservative p-value); the moment checks compare sample central moments about the
true mean with their exact expectations, in units of their exact standard error.
(The 16-bit rounding rule itself is far below statistical resolution; it is checked
bit for bit in test_core_values.py.)
"""
from __future__ import annotations

import functools
import math

import mpmath
import numpy as np
import pytest
from scipy import special, stats

import fastinit
import reference
from conftest import DTYPE_NAMES

INF = math.inf
P_MIN = 1e-4     # KS p-value threshold (each case is deterministic: fixed seed)
Z_MAX = 5.0      # moment z-score threshold

CASES = {
    # name: (fastinit function name, parameters)
    "uniform(0,1)": ("uniform", (0.0, 1.0)),
    "uniform(-3,5)": ("uniform", (-3.0, 5.0)),
    "normal(0,1)": ("normal", (0.0, 1.0)),
    "normal(2,0.5)": ("normal", (2.0, 0.5)),
    "trunc(-2,2)": ("trunc_normal", (0.0, 1.0, -2.0, 2.0)),
    "trunc(0,inf)": ("trunc_normal", (0.0, 1.0, 0.0, INF)),
    "trunc(-inf,-3)": ("trunc_normal", (0.0, 1.0, -INF, -3.0)),
    "trunc(-inf,inf)": ("trunc_normal", (1.0, 2.0, -INF, INF)),
    "trunc(25,26)": ("trunc_normal", (0.0, 1.0, 25.0, 26.0)),
    "trunc(-30,-29.5)": ("trunc_normal", (0.0, 1.0, -30.0, -29.5)),
    "trunc(5,5.0001)": ("trunc_normal", (0.0, 1.0, 5.0, 5.0001)),
    "trunc(0.5,1.5)*0.02": ("trunc_normal", (0.1, 0.02, 0.5, 1.5)),
}


# ---------------------------------------------------- continuous distributions ----
def std_cdf(kind, params, z):
    """CDF of the standardized variable (before mean/std scaling), float64, accurate in
    the far tails (log-space ratios of normal tails)."""
    z = np.asarray(z, np.float64)
    if kind == "uniform":
        return np.clip(z, 0.0, 1.0)
    if kind == "normal":
        return special.ndtr(z)
    a, b = params[2], params[3]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if a >= 0:  # upper tail: ratios of Q
            lqa = special.log_ndtr(-a)
            num = -np.expm1(special.log_ndtr(-z) - lqa)
            den = -np.expm1(special.log_ndtr(-b) - lqa)
        elif b <= 0:  # lower tail: ratios of Phi
            lpb = special.log_ndtr(b)
            num = np.exp(special.log_ndtr(z) - lpb) - np.exp(special.log_ndtr(a) - lpb)
            den = 1.0 - np.exp(special.log_ndtr(a) - lpb)
        else:
            num = special.ndtr(z) - special.ndtr(a)
            den = special.ndtr(b) - special.ndtr(a)
    return np.clip(np.where(z <= a, 0.0, np.where(z >= b, 1.0, num / den)), 0.0, 1.0)


def cdf(kind, params, x):
    """CDF of the output variable before rounding."""
    x = np.asarray(x, np.float64)
    if kind == "uniform":
        low, high = params
        return np.clip((x - low) / (high - low), 0.0, 1.0)
    mean, std = params[0], params[1]
    return std_cdf(kind, params, (x - mean) / std)


@functools.lru_cache(maxsize=None)
def central_moments(kind, params, kmax=8):
    """Mean and central moments mu_2 .. mu_kmax of the continuous output variable."""
    with mpmath.workdps(30):
        if kind == "uniform":
            low, high = (mpmath.mpf(p) for p in params)
            mean = (low + high) / 2
            half = (high - low) / 2
            mus = [half**k / (k + 1) if k % 2 == 0 else mpmath.mpf(0) for k in range(kmax + 1)]
            return float(mean), [float(m) for m in mus]
        mean, std = mpmath.mpf(params[0]), mpmath.mpf(params[1])
        a = mpmath.mpf(params[2]) if kind == "trunc_normal" else mpmath.ninf
        b = mpmath.mpf(params[3]) if kind == "trunc_normal" else mpmath.inf
        a = mpmath.ninf if a == -INF else a
        b = mpmath.inf if b == INF else b
        # density of z on [a, b]; far in a tail, shift by the bound to keep it in range
        shift = a if a != mpmath.ninf and a > 0 else (b if b != mpmath.inf and b < 0 else 0)
        def dens(z):
            return mpmath.exp(-(z * z - shift * shift) / 2)
        pts = [a, b] if a != mpmath.ninf and b != mpmath.inf else [a, shift, b]
        mass = mpmath.quad(dens, pts)
        m1 = mpmath.quad(lambda z: z * dens(z), pts) / mass
        mus = [mpmath.quad(lambda z: (z - m1) ** k * dens(z), pts) / mass for k in range(kmax + 1)]
        return float(mean + std * m1), [float(std**k * m) for k, m in enumerate(mus)]


# ------------------------------------------------------ the rounded variable ----
@functools.lru_cache(maxsize=None)
def all_values(dtype):
    """Every finite value of a 16-bit dtype, sorted, -0 merged into +0."""
    with np.errstate(invalid="ignore"):  # the NaN patterns
        v = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(reference.DTYPES[dtype]).astype(np.float64)
    return np.unique(v[np.isfinite(v)])


def neighbours(v, dtype):
    """The dtype values just below and just above each value of v."""
    if dtype in ("float32", "float64"):
        t = reference.DTYPES[dtype].type
        x = v.astype(t)
        return (np.nextafter(x, t(-np.inf)).astype(np.float64), np.nextafter(x, t(np.inf)).astype(np.float64))
    grid = all_values(dtype)
    i = np.searchsorted(grid, v)
    return grid[np.maximum(i - 1, 0)], grid[np.minimum(i + 1, grid.size - 1)]


def clamps(kind, params, dtype):
    if kind == "uniform":
        return reference.uniform_clamps(params[0], params[1], dtype)
    if kind == "trunc_normal":
        mean, std, a, b = params
        lo = reference.dtype_ceil(mean + std * a, dtype) if math.isfinite(a) else -INF
        hi = reference.dtype_floor(mean + std * b, dtype) if math.isfinite(b) else INF
        return lo, hi
    return -INF, INF


def step_cdf(kind, params, dtype, v):
    """P(rounded output <= v) for dtype values v (the midpoint rule, then the clamps)."""
    below, above = neighbours(v, dtype)
    g = cdf(kind, params, (v + above) / 2)
    lo, hi = clamps(kind, params, dtype)
    return np.where(v >= hi, 1.0, np.where(v < lo, 0.0, g))


def step_cdf_below(kind, params, dtype, v):
    """P(rounded output < v)."""
    below, _ = neighbours(v, dtype)
    lo, hi = clamps(kind, params, dtype)
    g = cdf(kind, params, (below + v) / 2)
    return np.where(v <= lo, 0.0, np.where(v > hi, 1.0, g))


def ks_discrete(x, kind, params, dtype):
    """(D, p): sup |ECDF - G| for the step CDF G of the rounded variable.  Both are step
    functions; the supremum is reached just at or just below an observed value."""
    v, counts = np.unique(x.astype(np.float64), return_counts=True)
    n = x.size
    ecdf = np.cumsum(counts) / n
    ecdf_before = ecdf - counts / n
    d = max(np.max(np.abs(ecdf - step_cdf(kind, params, dtype, v))),
            np.max(np.abs(ecdf_before - step_cdf_below(kind, params, dtype, v))))
    return float(d), float(stats.kstwo.sf(d, n))


def discrete_moments(kind, params, dtype, kmax=8):
    """Mean and central moments of the rounded 16-bit variable, exactly."""
    lo, hi = clamps(kind, params, dtype)
    grid = all_values(dtype)
    grid = grid[(grid >= lo) & (grid <= hi)]
    prob = np.diff(np.concatenate([[0.0], step_cdf(kind, params, dtype, grid)]))
    keep = prob > 0
    grid, prob = grid[keep], prob[keep] / prob[keep].sum()
    mean = float(np.sum(prob * grid))
    return mean, [float(np.sum(prob * (grid - mean) ** k)) for k in range(kmax + 1)]


def moment_z_scores(x, mean, mus):
    """z-scores of the sample mean and of the sample central moments k = 2, 3, 4 about
    the true mean: E = mu_k, Var = (mu_2k - mu_k^2) / n."""
    n = x.size
    d = x.astype(np.float64) - mean
    out = {"mean": float(d.mean() / math.sqrt(mus[2] / n)) if mus[2] > 0 else float(np.abs(d).max())}
    for k in (2, 3, 4):
        var = (mus[2 * k] - mus[k] ** 2) / n
        est = float(np.mean(d**k))
        out[f"mu{k}"] = (est - mus[k]) / math.sqrt(var) if var > 0 else abs(est - mus[k])
    return out


def check_sample(case, dtype, n, seed):
    kind, params = CASES[case]
    x = getattr(fastinit, kind)(n, *params, seed=seed, stream=case, dtype=dtype)
    xf = x.astype(np.float64)
    lo, hi = clamps(kind, params, dtype)
    assert xf.min() >= lo and xf.max() <= hi
    d, p = ks_discrete(x, kind, params, dtype)
    assert p > P_MIN, f"KS: D = {d:.3g}, p = {p:.3g}"
    if dtype in ("float16", "bfloat16"):
        mean, mus = discrete_moments(kind, params, dtype)
    else:
        mean, mus = central_moments(kind, params)
    z = moment_z_scores(xf, mean, mus)
    assert all(abs(v) < Z_MAX for v in z.values()), f"moments: {z}"


@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("case", list(CASES))
def test_distribution(case, dtype):
    check_sample(case, dtype, n=1 << 17, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPE_NAMES)
@pytest.mark.parametrize("case", list(CASES))
def test_distribution_large(case, dtype):
    check_sample(case, dtype, n=1 << 21, seed=2)


# -------------------------------------------------- the checks can fail ----
def test_ks_rejects_a_wrong_distribution():
    """Power check: a slightly wrong law (normal std 1.02, a far-tail interval shifted
    by 0.01, uniform ** 1.03) is rejected at the sizes used above."""
    x = fastinit.normal(1 << 17, 0.0, 1.02, seed=1)
    mean, mus = central_moments("normal", (0.0, 1.0))
    assert abs(moment_z_scores(x.astype(np.float64), mean, mus)["mu2"]) > Z_MAX
    y = fastinit.trunc_normal(1 << 17, 0.0, 1.0, 25.01, 26.0, seed=1)
    assert ks_discrete(y, "trunc_normal", (0.0, 1.0, 25.0, 26.0), "float32")[1] < P_MIN
    z = (fastinit.uniform(1 << 17, seed=1) ** 1.03).astype(np.float32)
    assert ks_discrete(z, "uniform", (0.0, 1.0), "float32")[1] < P_MIN


def test_far_tail_moments_are_those_of_the_tail():
    """[25, 26]: mean about 25 + 1/25, sd about 1/25 (an exponential-like tail)."""
    mean, mus = central_moments("trunc_normal", (0.0, 1.0, 25.0, 26.0))
    assert abs(mean - 25.0398) < 1e-3 and abs(math.sqrt(mus[2]) - 0.0397) < 1e-3
    x = fastinit.trunc_normal(1 << 16, 0.0, 1.0, 25.0, 26.0, seed=4, dtype="float64")
    assert abs(x.mean() - mean) < 5 * math.sqrt(mus[2] / x.size)
