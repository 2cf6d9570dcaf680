/*
 * fastinit's deterministic math: every formula written once, with a fixed order of
 * evaluation and explicit fma(), and used by every path (generic, AVX2, AVX-512).
 * No libm approximations: only IEEE-exact operations (+ - * / sqrt fma, conversions,
 * integer bit manipulation), so the result is the same on every machine.
 *
 * The functions are branch-free (selects instead of `if`) so the compiler can
 * vectorize the loops that call them.  All are `static inline`: each translation
 * unit compiles its own copy for its own instruction set.
 */
#ifndef FI_DETMATH_H
#define FI_DETMATH_H

#include <math.h> /* fma, fmaf, sqrt, sqrtf: IEEE correctly rounded operations */
#include <stdint.h>
#include <string.h>

static inline uint32_t fi_f2u(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
static inline float fi_u2f(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
static inline uint64_t fi_d2u(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
static inline double fi_u2d(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }

/* Exact conversion of an integer 0 <= m < 2^52 to double without a 64-bit integer
 * conversion instruction (AVX2 has none): place m in the mantissa of 2^52. */
static inline double fi_u52_to_d(uint64_t m) { return fi_u2d(0x4330000000000000ull | m) - 0x1p52; }
/* Exact conversion of a signed |j| < 2^51 to double (same trick around 1.5 * 2^52). */
static inline double fi_s51_to_d(int64_t j)
{
    return fi_u2d(0x4338000000000000ull + (uint64_t)j) - 0x1.8p52;
}

/* ---------------------------------------------------------------- logarithm ---
 * ln(1 + f) for f in [1/sqrt(2) - 1, sqrt(2) - 1] through s = f / (2 + f), |s| <= 0.1716:
 * ln(1 + f) = 2 atanh(s) = 2s + s^3 (2/3 + 2/5 s^2 + 2/7 s^4 + ...).
 * The series is truncated where the next term is below half an ulp. */
static inline float fi_log1p_red_f(float f)
{
    float s = f / (2.0f + f);
    float s2 = s * s;
    float p = 0x1.3b13b2p-3f;              /* 2/13 */
    p = fmaf(p, s2, 0x1.745d18p-3f);       /* 2/11 */
    p = fmaf(p, s2, 0x1.c71c72p-3f);       /* 2/9 */
    p = fmaf(p, s2, 0x1.24924ap-2f);       /* 2/7 */
    p = fmaf(p, s2, 0x1.99999ap-2f);       /* 2/5 */
    p = fmaf(p, s2, 0x1.555556p-1f);       /* 2/3 */
    return fmaf(s * s2, p, 2.0f * s);
}

static inline double fi_log1p_red_d(double f)
{
    double s = f / (2.0 + f);
    double s2 = s * s;
    double p = 0x1.47ae147ae147bp-4;        /* 2/25 */
    p = fma(p, s2, 0x1.642c8590b2164p-4);   /* 2/23 */
    p = fma(p, s2, 0x1.8618618618618p-4);   /* 2/21 */
    p = fma(p, s2, 0x1.af286bca1af28p-4);   /* 2/19 */
    p = fma(p, s2, 0x1.e1e1e1e1e1e1ep-4);   /* 2/17 */
    p = fma(p, s2, 0x1.1111111111111p-3);   /* 2/15 */
    p = fma(p, s2, 0x1.3b13b13b13b14p-3);   /* 2/13 */
    p = fma(p, s2, 0x1.745d1745d1746p-3);   /* 2/11 */
    p = fma(p, s2, 0x1.c71c71c71c71cp-3);   /* 2/9 */
    p = fma(p, s2, 0x1.2492492492492p-2);   /* 2/7 */
    p = fma(p, s2, 0x1.999999999999ap-2);   /* 2/5 */
    p = fma(p, s2, 0x1.5555555555555p-1);   /* 2/3 */
    return fma(s * s2, p, 2.0 * s);
}

/* ln2 split so that e * FI_LN2_HI is exact for |e| < 2^11 (double) / 2^8 (float). */
#define FI_LN2_HI_D 0x1.62e42fee00000p-1
#define FI_LN2_LO_D 0x1.a39ef35793c76p-33
#define FI_LN2_HI_F 0x1.62e4p-1f
#define FI_LN2_LO_F 0x1.7f7d1cp-20f

/* Split a positive normal x into x = 2^e (1 + f) with 1 + f in [1/sqrt2, sqrt2). */
static inline float fi_logsplit_f(float x, float *e_out)
{
    uint32_t b = fi_f2u(x);
    int32_t e = (int32_t)(b >> 23) - 127;
    float m = fi_u2f((b & 0x007FFFFFu) | 0x3F800000u);
    int32_t big = m > 0x1.6a09e6p+0f;
    m = big ? 0.5f * m : m;
    e = big ? e + 1 : e;
    *e_out = (float)e;
    return m - 1.0f; /* exact (Sterbenz) */
}

static inline double fi_logsplit_d(double x, double *e_out)
{
    uint64_t b = fi_d2u(x);
    int64_t e = (int64_t)(b >> 52) - 1023;
    double m = fi_u2d((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    int64_t big = m > 0x1.6a09e667f3bcdp+0;
    m = big ? 0.5 * m : m;
    e = big ? e + 1 : e;
    *e_out = fi_s51_to_d(e);
    return m - 1.0;
}

/* ln(x) for positive normal x (double). */
static inline double fi_log_d(double x)
{
    double e;
    double f = fi_logsplit_d(x, &e);
    return fma(e, FI_LN2_HI_D, fma(e, FI_LN2_LO_D, fi_log1p_red_d(f)));
}

/* ------------------------------------------------------- Box-Muller radius ---
 * -ln((a + 0.5) 2^-32) for a 32-bit word a, accurate for every a.  With y the
 * smaller of x and 1 - x (y = (a' + 0.5) 2^-32, a' = a or ~a, exact up to one
 * rounding), words in the upper half use ln(1 - y), computed from y itself
 * ("from its complement"), so words near 2^32 keep full relative precision. */
static inline float fi_neglog_u32(uint32_t a)
{
    uint32_t upper = (uint32_t)((int32_t)a >> 31);       /* all ones when a >= 2^31 */
    float y = ((float)(int32_t)(a ^ upper) + 0.5f) * 0x1p-32f; /* (0, 0.5] */
    float e_lo;
    float f_lo = fi_logsplit_f(y, &e_lo);                /* ln y */
    int32_t far = y > 0x1.2bec34p-2f;                    /* 1 - y < 1/sqrt2 */
    float f_hi = far ? 1.0f - 2.0f * y : -y;             /* ln(1-y) = e ln2 + ln(1+f) */
    float e_hi = far ? -1.0f : 0.0f;
    float f = upper ? f_hi : f_lo;
    float e = upper ? e_hi : e_lo;
    float l = fmaf(e, FI_LN2_HI_F, fmaf(e, FI_LN2_LO_F, fi_log1p_red_f(f)));
    return -l;
}

/* The same for the 64-bit form: -ln(((h >> 11) + 0.5) 2^-53), u the 64-bit word. */
static inline double fi_neglog_u64(uint64_t u)
{
    uint64_t h = u >> 11;                                /* 53 bits */
    uint64_t upper = (uint64_t)0 - (h >> 52);
    uint64_t m = (h ^ upper) & 0x000FFFFFFFFFFFFFull;    /* < 2^52 */
    double y = (fi_u52_to_d(m) + 0.5) * 0x1p-53;         /* exact, (0, 0.5] */
    double e_lo;
    double f_lo = fi_logsplit_d(y, &e_lo);
    int64_t far = y > 0x1.2bec333018867p-2;
    double f_hi = far ? 1.0 - 2.0 * y : -y;
    double e_hi = far ? -1.0 : 0.0;
    double f = upper ? f_hi : f_lo;
    double e = upper ? e_hi : e_lo;
    double l = fma(e, FI_LN2_HI_D, fma(e, FI_LN2_LO_D, fi_log1p_red_d(f)));
    return -l;
}

/* ------------------------------------------------------ sin and cos of pi*T ---
 * T = k 2^-s with integer k; reduce exactly to T = n/2 + r, |r| <= 1/4, evaluate
 * Taylor polynomials of sin(pi r) and cos(pi r) (truncated below half an ulp on
 * |r| <= 1/4), then rotate by the quadrant n mod 4. */
static inline void fi_sincospi_f(int32_t k24, float *c_out, float *s_out)
{
    /* k24 in [-2^23, 2^23): T = k24 2^-23 */
    int32_t n = (k24 + (1 << 21)) >> 22;                 /* round(2T), ties up */
    float r = (float)(k24 - n * (1 << 22)) * 0x1p-23f;   /* exact, |r| <= 1/4 */
    float r2 = r * r;
    float sp = -0x1.e3075p-8f;
    sp = fmaf(sp, r2, 0x1.507834p-4f);
    sp = fmaf(sp, r2, -0x1.32d2ccp-1f);
    sp = fmaf(sp, r2, 0x1.466bc6p+1f);
    sp = fmaf(sp, r2, -0x1.4abbcep+2f);
    sp = fmaf(sp, r2, 0x1.921fb6p+1f);
    sp = sp * r;
    float cp = 0x1.f9d38ap-10f;
    cp = fmaf(cp, r2, -0x1.a6d1f2p-6f);
    cp = fmaf(cp, r2, 0x1.e1f506p-3f);
    cp = fmaf(cp, r2, -0x1.55d3c8p+0f);
    cp = fmaf(cp, r2, 0x1.03c1fp+2f);
    cp = fmaf(cp, r2, -0x1.3bd3ccp+2f);
    cp = fmaf(cp, r2, 1.0f);
    int32_t q = n & 3;
    float c = (q & 1) ? sp : cp;
    float s = (q & 1) ? cp : sp;
    *c_out = ((q + 1) & 2) ? -c : c;
    *s_out = (q & 2) ? -s : s;
}

static inline void fi_sincospi_d(int64_t k53, double *c_out, double *s_out)
{
    /* k53 in [-2^52, 2^52): T = k53 2^-52 */
    int64_t n = (k53 + ((int64_t)1 << 50)) >> 51;
    double r = fi_s51_to_d(k53 - n * ((int64_t)1 << 51)) * 0x1p-52;
    double r2 = r * r;
    double sp = 0x1.2877020d52cf0p-31;
    sp = fma(sp, r2, -0x1.8a404211f9547p-26);
    sp = fma(sp, r2, 0x1.aaec32af93359p-21);
    sp = fma(sp, r2, -0x1.6fadb9f155744p-16);
    sp = fma(sp, r2, 0x1.e8f434d018d63p-12);
    sp = fma(sp, r2, -0x1.e3074fde8871fp-8);
    sp = fma(sp, r2, 0x1.50783487ee782p-4);
    sp = fma(sp, r2, -0x1.32d2cce62bd86p-1);
    sp = fma(sp, r2, 0x1.466bc6775aae2p+1);
    sp = fma(sp, r2, -0x1.4abbce625be53p+2);
    sp = fma(sp, r2, 0x1.921fb54442d18p+1);
    sp = sp * r;
    double cp = -0x1.52ae4120fde27p-34;
    cp = fma(cp, r2, 0x1.ef6e308d6d1c4p-29);
    cp = fma(cp, r2, -0x1.2a0c591af8314p-23);
    cp = fma(cp, r2, 0x1.20c62c2f2d7f5p-18);
    cp = fma(cp, r2, -0x1.b6e24f44b128fp-14);
    cp = fma(cp, r2, 0x1.f9d38a3763cc3p-10);
    cp = fma(cp, r2, -0x1.a6d1f2a204a8cp-6);
    cp = fma(cp, r2, 0x1.e1f506891babbp-3);
    cp = fma(cp, r2, -0x1.55d3c7e3cbffap+0);
    cp = fma(cp, r2, 0x1.03c1f081b5ac4p+2);
    cp = fma(cp, r2, -0x1.3bd3cc9be45dep+2);
    cp = fma(cp, r2, 1.0);
    int64_t q = n & 3;
    double c = (q & 1) ? sp : cp;
    double s = (q & 1) ? cp : sp;
    *c_out = ((q + 1) & 2) ? -c : c;
    *s_out = (q & 2) ? -s : s;
}

/* -------------------------------------------------- inverse normal tail -------
 * Q^{-1}(p) = Phi^{-1}(1 - p) for p in (0, 0.5 + tiny], Wichura's AS241 (PPND16,
 * Applied Statistics 37(3), 1988), relative accuracy about 1e-16.  All three
 * rational branches are evaluated and the right numerator and denominator
 * selected before a single division, so the code has no data-dependent branch. */
static inline double fi_qinv_d(double p)
{
    double q = 0.5 - p; /* >= 0 up to rounding */
    double rc = fma(-q, q, 0.180625);
    double na = 2509.0809287301226727;
    na = fma(na, rc, 33430.575583588128105);
    na = fma(na, rc, 67265.770927008700853);
    na = fma(na, rc, 45921.953931549871457);
    na = fma(na, rc, 13731.693765509461125);
    na = fma(na, rc, 1971.5909503065514427);
    na = fma(na, rc, 133.14166789178437745);
    na = fma(na, rc, 3.3871328727963666080);
    na = na * q;
    double da = 5226.4952788528545610;
    da = fma(da, rc, 28729.085735721942674);
    da = fma(da, rc, 39307.895800092710610);
    da = fma(da, rc, 21213.794301586595867);
    da = fma(da, rc, 5394.1960214247511077);
    da = fma(da, rc, 687.18700749205790830);
    da = fma(da, rc, 42.313330701600911252);
    da = fma(da, rc, 1.0);

    /* tails: r = sqrt(-ln p); p is clamped into the tail range so every lane is finite */
    double pt = p < 0.075 ? p : 0.075;
    double r = sqrt(-fi_log_d(pt));
    double rm = r - 1.6;
    double nc = 7.74545014278341407640e-4;
    nc = fma(nc, rm, 2.27238449892691845833e-2);
    nc = fma(nc, rm, 2.41780725177450611770e-1);
    nc = fma(nc, rm, 1.27045825245236838258e+0);
    nc = fma(nc, rm, 3.64784832476320460504e+0);
    nc = fma(nc, rm, 5.76949722146069140550e+0);
    nc = fma(nc, rm, 4.63033784615654529590e+0);
    nc = fma(nc, rm, 1.42343711074968357734e+0);
    double dc = 1.05075007164441684324e-9;
    dc = fma(dc, rm, 5.47593808499534494600e-4);
    dc = fma(dc, rm, 1.51986665636164571966e-2);
    dc = fma(dc, rm, 1.48103976427480074590e-1);
    dc = fma(dc, rm, 6.89767334985100004550e-1);
    dc = fma(dc, rm, 1.67638483018380384940e+0);
    dc = fma(dc, rm, 2.05319162663775882187e+0);
    dc = fma(dc, rm, 1.0);
    double re = r - 5.0;
    double ne = 2.01033439929228813265e-7;
    ne = fma(ne, re, 2.71155556874348757815e-5);
    ne = fma(ne, re, 1.24266094738807843860e-3);
    ne = fma(ne, re, 2.65321895265761230930e-2);
    ne = fma(ne, re, 2.96560571828504891230e-1);
    ne = fma(ne, re, 1.78482653991729133580e+0);
    ne = fma(ne, re, 5.46378491116411436990e+0);
    ne = fma(ne, re, 6.65790464350110377720e+0);
    double de = 2.04426310338993978564e-15;
    de = fma(de, re, 1.42151175831644588870e-7);
    de = fma(de, re, 1.84631831751005468180e-5);
    de = fma(de, re, 7.86869131145613259100e-4);
    de = fma(de, re, 1.48753612908506148525e-2);
    de = fma(de, re, 1.36929880922735805310e-1);
    de = fma(de, re, 5.99832206555887937690e-1);
    de = fma(de, re, 1.0);

    int64_t central = q <= 0.425;
    int64_t mid = r <= 5.0;
    double num = central ? na : (mid ? nc : ne);
    double den = central ? da : (mid ? dc : de);
    return num / den;
}

/* ------------------------------------------------------ half-precision rounding ---
 * float32 -> float16 and bfloat16, round to nearest even, in integer arithmetic
 * (identical to the F16C instruction; no NaN inputs occur here). */
static inline uint16_t fi_f32_to_f16(float x)
{
    uint32_t b = fi_f2u(x);
    uint32_t sign = (b >> 16) & 0x8000u;
    uint32_t a = b & 0x7FFFFFFFu;
    /* normal range: rebias the exponent, round the 13 dropped bits to nearest even */
    uint32_t nrm = (a + 0xC8000FFFu + ((a >> 13) & 1u)) >> 13; /* 0xC8000000 = (15-127)<<23 */
    /* subnormal range: let an FP add with 0.5 do the rounding */
    uint32_t sub = fi_f2u(fi_u2f(a) + 0.5f) - 0x3F000000u;
    uint32_t h = a < 0x38800000u ? sub : nrm;
    h = a >= 0x477FF000u ? 0x7C00u : h; /* rounds to infinity */
    return (uint16_t)(sign | h);
}

static inline uint16_t fi_f32_to_bf16(float x)
{
    uint32_t b = fi_f2u(x);
    return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

#endif
