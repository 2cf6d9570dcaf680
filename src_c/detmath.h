/*
 * fastinit's deterministic math: every formula written once, with a fixed order of
 * evaluation and explicit fma(), and used by every path (generic, AVX2, AVX-512).
 * No libm approximations: only IEEE-exact operations (+ - * / sqrt fma, conversions,
 * integer bit manipulation), so the result is the same on every machine.
 *
 * The formulas themselves live in detmath_lanes.h, written once over "lanes"; this
 * header instantiates them with plain C scalars (fi_log_d, fi_neglog_u32, ...), and
 * the AVX2 / AVX-512 kernel units instantiate the same text with SIMD vectors.  All
 * functions are `static inline`: each translation unit compiles its own copy.
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

/* ln2 split so that e * FI_LN2_HI is exact for |e| < 2^11 (double) / 2^8 (float). */
#define FI_LN2_HI_D 0x1.62e42fee00000p-1
#define FI_LN2_LO_D 0x1.a39ef35793c76p-33
#define FI_LN2_HI_F 0x1.62e4p-1f
#define FI_LN2_LO_F 0x1.7f7d1cp-20f

/* ------------------------------------------- scalar lanes for detmath_lanes.h ---- */
#define FI_LN(name) fi_##name
#define FI_LINLINE static inline
#define FI_F float
#define FI_I int32_t
#define FI_U uint32_t
#define FI_MF int
#define FI_D double
#define FI_L int64_t
#define FI_UL uint64_t
#define FI_MD int
#define F_C(c) (c)
#define F_UC(c) ((uint32_t)(c))
#define F_FMA(a, b, c) fmaf(a, b, c)
#define F_SQRT(a) sqrtf(a)
#define F_GT(a, b) ((a) > (b))
#define F_LT(a, b) ((a) < (b))
#define F_LE(a, b) ((a) <= (b))
#define F_SEL(m, t, f) ((m) ? (t) : (f))
#define F_ISEL(m, t, f) ((m) ? (t) : (f))
#define F_NEG(i) ((i) < 0)
#define F_TEST(i, c) (((i) & (c)) != 0)
#define F_ITOF(i) ((float)(i))
#define F_AS_U(f) fi_f2u(f)
#define F_AS_F(u) fi_u2f(u)
#define F_AS_I(u) ((int32_t)(u))
#define F_AS_UI(i) ((uint32_t)(i))
#define F_SHL(i, s) ((int32_t)((uint32_t)(i) << (s)))
#define F_MINL(h, x) ((x) > (h) ? (h) : (x))
#define F_MAXL(l, x) ((x) < (l) ? (l) : (x))
#define D_C(c) (c)
#define D_FMA(a, b, c) fma(a, b, c)
#define D_SQRT(a) sqrt(a)
#define D_GT(a, b) ((a) > (b))
#define D_LT(a, b) ((a) < (b))
#define D_LE(a, b) ((a) <= (b))
#define D_SEL(m, t, f) ((m) ? (t) : (f))
#define D_ISEL(m, t, f) ((m) ? (t) : (f))
#define D_NEG(i) ((i) < 0)
#define D_TEST(i, c) (((i) & (c)) != 0)
#define D_AS_U(d) fi_d2u(d)
#define D_AS_D(u) fi_u2d(u)
#define D_AS_L(u) ((int64_t)(u))
#define D_AS_UL(i) ((uint64_t)(i))
#define D_SHL(i, s) ((int64_t)((uint64_t)(i) << (s)))
#define D_SRA(i, s) ((i) >> (s)) /* arithmetic on every compiler fastinit supports */
#define D_MINL(h, x) ((x) > (h) ? (h) : (x))
#define D_MAXL(l, x) ((x) < (l) ? (l) : (x))
#define D_ALL(m) (m)

#include "detmath_lanes.h"

/* forget the scalar lanes: the SIMD kernel units define their own */
#undef FI_LN
#undef FI_LINLINE
#undef FI_F
#undef FI_I
#undef FI_U
#undef FI_MF
#undef FI_D
#undef FI_L
#undef FI_UL
#undef FI_MD
#undef F_C
#undef F_UC
#undef F_FMA
#undef F_SQRT
#undef F_GT
#undef F_LT
#undef F_LE
#undef F_SEL
#undef F_ISEL
#undef F_NEG
#undef F_TEST
#undef F_ITOF
#undef F_AS_U
#undef F_AS_F
#undef F_AS_I
#undef F_AS_UI
#undef F_SHL
#undef F_MINL
#undef F_MAXL
#undef D_C
#undef D_FMA
#undef D_SQRT
#undef D_GT
#undef D_LT
#undef D_LE
#undef D_SEL
#undef D_ISEL
#undef D_NEG
#undef D_TEST
#undef D_AS_U
#undef D_AS_D
#undef D_AS_L
#undef D_AS_UL
#undef D_SHL
#undef D_SRA
#undef D_MINL
#undef D_MAXL
#undef D_ALL

/* Q^{-1}(p) = Phi^{-1}(1 - p) for p in (0, 0.5 + tiny]: the AS241 pieces of
 * detmath_lanes.h put together (one division per value). */
static inline double fi_qinv_d(double p)
{
    int central;
    double z = fi_qinv_central(p, &central);
    return central ? z : fi_qinv_tail(p);
}

/* float32 -> float16 / bfloat16 bits, round to nearest even (no NaN inputs) */
static inline uint16_t fi_f32_to_f16(float x) { return (uint16_t)fi_f16_bits(x); }
static inline uint16_t fi_f32_to_bf16(float x) { return (uint16_t)fi_bf16_bits(x); }

#endif
