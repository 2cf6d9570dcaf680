"""A pure-NumPy (and mpmath) reference of the fastinit stream, version 1.

Written from ``docs/stream.md`` and STREAM.md, not from the C code, so that the
tests compare two independent implementations:

* Philox4x32-R on uint64 NumPy arrays (vectorized over blocks) and its inverse,
  which lets a test choose the exact words an element will see (any seed, then
  the counter that yields the wanted block gives the stream and the index);
* the word layout: ``words``, ``u64_words``;
* words to values: uniform bit for bit (the documented fma arithmetic emulated
  exactly), normal and truncated normal as exact mathematics (float64 where that
  is accurate enough, mpmath where it is not), and the float16 / bfloat16
  rounding of the float32 value.
"""
from __future__ import annotations

import hashlib
from fractions import Fraction

import ml_dtypes
import numpy as np

U32 = np.uint64(0xFFFFFFFF)
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
M0_INV, M1_INV = pow(M0, -1, 1 << 32), pow(M1, -1, 1 << 32)
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64),
          "float16": np.dtype(np.float16), "bfloat16": BF16}


# --------------------------------------------------------------------- Philox ----
def _u64(x):
    return np.asarray(x, dtype=np.uint64)


def _round_keys(key0, key1, rounds):
    k0, k1 = int(key0), int(key1)
    return [((k0 + r * W0) & 0xFFFFFFFF, (k1 + r * W1) & 0xFFFFFFFF) for r in range(rounds)]


def philox4x32(ctr, key, rounds=10):
    """Philox4x32-R of counters ``ctr`` (array (..., 4)) under ``key`` (k0, k1).

    Returns uint32 array (..., 4).  Products of two 32-bit numbers fit uint64."""
    ctr = _u64(ctr)
    x0, x1, x2, x3 = (ctr[..., i] for i in range(4))
    for k0, k1 in _round_keys(key[0], key[1], rounds):
        p0 = np.uint64(M0) * x0
        p1 = np.uint64(M1) * x2
        x0, x1, x2, x3 = ((p1 >> np.uint64(32)) ^ x1 ^ np.uint64(k0), p1 & U32,
                          (p0 >> np.uint64(32)) ^ x3 ^ np.uint64(k1), p0 & U32)
    return np.stack([x0, x1, x2, x3], axis=-1).astype(np.uint32)


def philox4x32_inverse(out, key, rounds=10):
    """The counter(s) that Philox4x32-R maps to ``out`` under ``key``."""
    y = _u64(out)
    y0, y1, y2, y3 = (y[..., i] for i in range(4))
    for k0, k1 in reversed(_round_keys(key[0], key[1], rounds)):
        # uint64 products wrap mod 2**64, so "& U32" is the product mod 2**32
        x2 = (y1 * np.uint64(M1_INV)) & U32
        x0 = (y3 * np.uint64(M0_INV)) & U32
        x1 = y0 ^ np.uint64(k0) ^ ((np.uint64(M1) * x2) >> np.uint64(32))
        x3 = y2 ^ np.uint64(k1) ^ ((np.uint64(M0) * x0) >> np.uint64(32))
        y0, y1, y2, y3 = x0, x1, x2, x3
    return np.stack([y0, y1, y2, y3], axis=-1).astype(np.uint32)


def key_of(seed):
    return (seed & 0xFFFFFFFF, seed >> 32)


def stream_id(stream):
    """The 64-bit stream number (STREAM.md: str through 8-byte BLAKE2b, little endian)."""
    if isinstance(stream, str):
        return int.from_bytes(hashlib.blake2b(stream.encode("utf-8"), digest_size=8).digest(), "little")
    return int(stream)


def blocks(seed, stream, b0, nb):
    """Words of blocks b0 .. b0+nb-1, shape (nb, 4)."""
    stream = stream_id(stream)
    b = np.uint64(b0) + np.arange(nb, dtype=np.uint64)  # wraps mod 2**64 like a 64-bit counter
    ctr = np.stack([b & U32, b >> np.uint64(32),
                    np.full(nb, stream & 0xFFFFFFFF, np.uint64),
                    np.full(nb, stream >> 32, np.uint64)], axis=-1)
    return philox4x32(ctr, key_of(seed))


def words(seed, stream, start, n):
    """Stream words start .. start+n-1 (uint32): word j is word j % 4 of block j // 4."""
    if n == 0:
        return np.zeros(0, np.uint32)
    b0, b1 = start // 4, (start + n - 1) // 4
    w = blocks(seed, stream, b0, b1 - b0 + 1).reshape(-1)
    return w[start - 4 * b0: start - 4 * b0 + n]


def u64_words(seed, stream, start, n):
    """64-bit words u64(k) = word(2k) | word(2k+1) << 32 for k in start .. start+n-1."""
    w = words(seed, stream, 2 * start, 2 * n).astype(np.uint64)
    return w[0::2] | (w[1::2] << np.uint64(32))


def element_words(dist, dtype, seed, stream, start, n):
    """The raw words elements start .. start+n-1 use: uint32 for 32-bit outputs (one per
    element), uint64 for float64.  For normal, elements are taken by whole pairs, so the
    result covers pairs floor(start/2) .. and the caller slices."""
    if DTYPES[dtype] == np.float64:
        return u64_words(seed, stream, start, n)
    return words(seed, stream, start, n)


def counter_for(seed, prefix, *, max_index_bits=62, elements_per_block=4, rng=None):
    """(stream, block) such that block `block` of stream `stream` under `seed` starts with
    the words `prefix` (1 to 4 uint32).  The remaining words of the block are drawn at
    random until the block index is below 2**max_index_bits / elements_per_block, so the
    block's elements are addressable in a logical tensor of fewer than 2**63 elements.
    Returns None when no such counter was found (then try another seed)."""
    rng = np.random.default_rng(0) if rng is None else rng
    prefix = [int(p) for p in prefix]
    limit = (1 << max_index_bits) // elements_per_block
    tries = 1 if len(prefix) == 4 else 256
    out = np.empty((tries, 4), np.uint64)
    out[:, : len(prefix)] = prefix
    if len(prefix) < 4:
        out[:, len(prefix):] = rng.integers(0, 1 << 32, size=(tries, 4 - len(prefix)), dtype=np.uint64)
    ctr = philox4x32_inverse(out, key_of(seed)).astype(np.uint64)
    block = ctr[:, 0] | (ctr[:, 1] << np.uint64(32))
    stream = ctr[:, 2] | (ctr[:, 3] << np.uint64(32))
    ok = np.flatnonzero(block < np.uint64(limit))
    if ok.size == 0:
        return None
    i = ok[0]
    return int(stream[i]), int(block[i])


# ------------------------------------------------------------- dtype helpers ----
def round_to(x32, dtype):
    """float32 values rounded to nearest even in `dtype` (float16/bfloat16/float32)."""
    return np.asarray(x32, np.float32).astype(DTYPES[dtype])


def as_float64(x):
    return np.asarray(x).astype(np.float64)


def _next_toward(v, dtype, direction):
    """The dtype value next to the representable v toward +inf (direction > 0) or -inf."""
    dt = DTYPES[dtype]
    if dt in (np.float32, np.float64):
        return float(np.nextafter(dt.type(v), dt.type(np.inf if direction > 0 else -np.inf)))
    bits = np.array([v], dtype=dt).view(np.uint16)[0].item()
    neg, mag = bits >> 15, bits & 0x7FFF
    if mag == 0:
        bits = 0x0001 if direction > 0 else 0x8001
    elif (neg == 1) == (direction > 0):
        bits -= 1  # toward zero
    else:
        bits += 1
    return float(np.array([bits], np.uint16).view(dt)[0])


def dtype_round(x, dtype):
    """x (a float64) rounded to the nearest value of dtype; 16-bit types go through
    float32 first, as the stream defines them."""
    if dtype == "float64":
        return float(x)
    return float(np.float32(x).astype(DTYPES[dtype]))


def dtype_ceil(x, dtype):
    """Smallest dtype value >= x."""
    r = dtype_round(x, dtype)
    return _next_toward(r, dtype, +1) if r < x else r


def dtype_floor(x, dtype):
    """Largest dtype value <= x."""
    r = dtype_round(x, dtype)
    return _next_toward(r, dtype, -1) if r > x else r


def clamp(v, lo, hi):
    """v > hi -> hi, then v < lo -> lo (comparisons, so a zero keeps its sign)."""
    v = np.where(v > hi, hi, v)
    return np.where(v < lo, lo, v).astype(np.asarray(v).dtype)


# ------------------------------------------------------------------ uniform ----
def fmaf_exact(a, b, c):
    """Correctly rounded float32 a*b + c for float32 arrays (what C's fmaf computes).

    a*b is exact in float64 (48 significant bits); s = fl64(a*b + c) with its exact
    error e (TwoSum).  Rounding s to float32 is then correct except when s lies exactly
    half-way between two float32 values and e != 0: e decides the side."""
    a, b, c = (np.asarray(v, np.float32).astype(np.float64) for v in (a, b, c))
    p = a * b
    s = p + c
    bb = s - p
    e = (p - (s - bb)) + (c - bb)
    r = s.astype(np.float32)
    r64 = r.astype(np.float64)
    other = np.nextafter(r, np.where(s > r64, np.float32(np.inf), np.float32(-np.inf))).astype(np.float32)
    tie = (s != r64) & (2 * s == r64 + other.astype(np.float64)) & (e != 0)
    up = np.maximum(r, other)
    down = np.minimum(r, other)
    return np.where(tie, np.where(e > 0, up, down), r).astype(np.float32)


def fma_exact(a, b, c):
    """Correctly rounded float64 a*b + c, elementwise, through exact rationals
    (Python's int / int true division rounds correctly).  For moderate sizes."""
    a, b, c = (np.broadcast_to(np.asarray(v, np.float64), np.broadcast(a, b, c).shape).ravel()
               for v in (a, b, c))
    out = [float(Fraction(x) * Fraction(y) + Fraction(z)) for x, y, z in zip(a.tolist(), b.tolist(), c.tolist())]
    return np.array(out, np.float64).reshape(np.broadcast(a, b, c).shape)


def uniform_unit_32(w):
    """U = (w >> 8) 2**-24, exact in float32."""
    return ((np.asarray(w, np.uint32) >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)).astype(np.float32)


def uniform_unit_64(u):
    """U = (u >> 11) 2**-53, exact in float64."""
    return (np.asarray(u, np.uint64) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def uniform_clamps(low, high, dtype):
    """[lo, hi]: the dtype values that lie in [low, high) (low == high: round(low) only)."""
    if low == high:
        v = dtype_round(low, dtype)
        return v, v
    return dtype_ceil(low, dtype), _next_toward(dtype_ceil(high, dtype), dtype, -1)


def uniform_values(w, low, high, dtype):
    """uniform [low, high) for words w (uint32 for 32-bit dtypes, uint64 for float64),
    bit for bit as docs/stream.md specifies:
    32-bit: fmaf(float32(high - low), U, float32(low)), clamped, then RNE to the dtype;
    64-bit: fma(high - low, U, low), clamped."""
    lo, hi = uniform_clamps(low, high, dtype)
    scale = float(np.float64(high) - np.float64(low))
    if dtype == "float64":
        return clamp(fma_exact(scale, uniform_unit_64(w), low), lo, hi)
    v = fmaf_exact(np.float32(scale), uniform_unit_32(w), np.float32(low))
    return round_to(clamp(v, np.float32(lo), np.float32(hi)), dtype)


# ------------------------------------------------------------------- normal ----
def normal_radius_angle_32(a, b):
    """(R, T) of the 32-bit Box-Muller pair in float64 (exact up to one rounding of R):
    R = sqrt(-2 ln x), x = (a + 0.5) 2**-32, computed from 1 - x (exact) for x >= 1/2;
    T = (int32(b) >> 8) 2**-23."""
    x = (np.asarray(a, np.uint32).astype(np.float64) + 0.5) * 2.0**-32
    neglog = np.where(x < 0.5, -np.log(x), -np.log1p(-(1.0 - x)))
    radius = np.sqrt(2.0 * neglog)
    t = (np.asarray(b, np.uint32).view(np.int32) >> 8).astype(np.float64) * 2.0**-23
    return radius, t


def _cos_sin_pi(t):
    """cos(pi t), sin(pi t) in float64 after the exact reduction t = n/2 + r, |r| <= 1/4."""
    n = np.rint(2.0 * t)
    r = t - n / 2.0
    c, s = np.cos(np.pi * r), np.sin(np.pi * r)
    q = n.astype(np.int64) & 3
    cos = np.select([q == 0, q == 1, q == 2, q == 3], [c, -s, -c, s])
    sin = np.select([q == 0, q == 1, q == 2, q == 3], [s, c, -s, -c])
    return cos, sin


def normal_z_32(w):
    """Exact-mathematics z for 32-bit words w (even length): z[2k] = R cos(pi T),
    z[2k+1] = R sin(pi T), as float64 accurate to about 1e-15 (the float32 outputs'
    tolerance is 2**-21 max(1, R)).  Also returns R per element."""
    w = np.asarray(w, np.uint32)
    radius, t = normal_radius_angle_32(w[0::2], w[1::2])
    c, s = _cos_sin_pi(t)
    z = np.empty(w.size, np.float64)
    z[0::2], z[1::2] = radius * c, radius * s
    return z, np.repeat(radius, 2)


def normal_z_mp(u, bits, dps=40):
    """Exact-mathematics z (as mpmath numbers) for pairs of words u: 32-bit words for
    bits=32, 64-bit words for bits=64.  Returns (z list, R list)."""
    import mpmath

    zs, rs = [], []
    with mpmath.workdps(dps):
        for k in range(len(u) // 2):
            a, b = int(u[2 * k]), int(u[2 * k + 1])
            if bits == 32:
                x = (mpmath.mpf(a) + mpmath.mpf(0.5)) * mpmath.mpf(2) ** -32
                tb = b - (1 << 32) if b >= 1 << 31 else b
                t = mpmath.mpf(tb >> 8) * mpmath.mpf(2) ** -23
            else:
                x = (mpmath.mpf(a >> 11) + mpmath.mpf(0.5)) * mpmath.mpf(2) ** -53
                tb = b - (1 << 64) if b >= 1 << 63 else b
                t = mpmath.mpf(tb >> 11) * mpmath.mpf(2) ** -52
            r = mpmath.sqrt(-2 * mpmath.log(x))
            zs += [r * mpmath.cospi(t), r * mpmath.sinpi(t)]
            rs += [r, r]
    return zs, rs


# ----------------------------------------------------------- truncated normal ----
def trunc_unit(w, bits):
    """U as an exact rational: 32-bit (w + 0.5) 2**-32, 64-bit ((u >> 11) + 0.5) 2**-53."""
    if bits == 32:
        return [Fraction(2 * int(x) + 1, 1 << 33) for x in np.asarray(w).ravel()]
    return [Fraction(2 * (int(x) >> 11) + 1, 1 << 54) for x in np.asarray(w).ravel()]


def trunc_z_mp(units, alpha, beta, dps=50):
    """z = F^{-1}(U) for F(x) = (Phi(x) - Phi(alpha)) / (Phi(beta) - Phi(alpha)), in
    mpmath: Newton's method on log Phi (lower half) or log Q (upper half), started from
    SciPy's double-precision ndtri, to `dps` digits.  Returns a list of mpf."""
    import mpmath
    from scipy.special import ndtri

    out = []
    with mpmath.workdps(dps):
        a = mpmath.mpf(alpha) if np.isfinite(alpha) else mpmath.ninf
        b = mpmath.mpf(beta) if np.isfinite(beta) else mpmath.inf

        def phi_lo(x):  # Phi(x)
            return mpmath.mpf(0) if x == mpmath.ninf else mpmath.ncdf(x)

        def q_hi(x):  # Q(x) = Phi(-x)
            return mpmath.mpf(0) if x == mpmath.inf else mpmath.ncdf(-x)

        pa, qb = phi_lo(a), q_hi(b)
        if a >= 0:
            mass = q_hi(a) - qb
        elif b <= 0:
            mass = phi_lo(b) - pa
        else:
            mass = 1 - pa - qb
        for u in units:
            um = mpmath.mpf(u.numerator) / u.denominator
            p_lo = pa + um * mass
            p_hi = qb + (1 - um) * mass
            lower = p_lo < p_hi
            p = p_lo if lower else p_hi
            # solve Phi(y) = p for y = z (lower) or y = -z (upper): both are lower tails
            y = mpmath.mpf(float(ndtri(float(p)))) if float(p) > 0 else mpmath.mpf(-38)
            logp = mpmath.log(p)
            for _ in range(100):
                cdf = mpmath.ncdf(y)
                step = (mpmath.log(cdf) - logp) * cdf / mpmath.npdf(y)
                y -= step
                if abs(step) < mpmath.mpf(10) ** (-dps + 5) * max(1, abs(y)):
                    break
            else:
                raise RuntimeError("Newton did not converge")
            out.append(y if lower else -y)
    return out
