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

/* the scalar instance (fi_*), then forget its lanes: the SIMD units define their own */
#include "lanes_scalar.h"
#include "detmath_lanes.h"
#include "lanes_undef.h"

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
