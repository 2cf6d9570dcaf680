/*
 * The output dtypes' values: sizes, rounding of a double to a dtype (nearest even),
 * neighbours and bit patterns.  Used once per call to prepare a plan's bounds and
 * constants; the kernels round with the formulas of detmath_lanes.h.
 */
#include <math.h>

#include "detmath.h"
#include "dtype.h"
#include "fastinit.h"

size_t fi_dtype_size(int dtype) { return dtype == FI_F64 ? 8 : dtype == FI_F32 ? 4 : 2; }

static float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    float v;
    if (e == 0) v = (float)m * 0x1p-24f;
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = fi_u2f(((e + 112u) << 23) | (m << 13));
    return sign ? -v : v;
}

static float bf16_to_f32(uint16_t h) { return fi_u2f((uint32_t)h << 16); }

/* x rounded to the nearest value of dtype (ties to even), as a double */
double fi_dt_round(double x, int dt)
{
    float f = (float)x;
    switch (dt) {
    case FI_F64: return x;
    case FI_F32: return f;
    case FI_F16: return f16_to_f32(fi_f32_to_f16(f));
    default: return bf16_to_f32(fi_f32_to_bf16(f));
    }
}

/* next value of dtype after the representable v, towards +inf (dir > 0) or -inf */
double fi_dt_step(double v, int dt, int dir)
{
    double to = dir > 0 ? INFINITY : -INFINITY;
    if (dt == FI_F64) return nextafter(v, to);
    if (dt == FI_F32) return nextafterf((float)v, (float)to);
    uint16_t h = dt == FI_F16 ? fi_f32_to_f16((float)v) : fi_f32_to_bf16((float)v);
    int neg = (h & 0x8000u) != 0, zero = (h & 0x7FFFu) == 0;
    if (zero) h = dir > 0 ? 1 : 0x8001u;
    else if (neg == (dir > 0)) h--; /* magnitude shrinks */
    else h++;
    return dt == FI_F16 ? f16_to_f32(h) : bf16_to_f32(h);
}

/* smallest dtype value >= x, largest dtype value <= x */
double fi_dt_ceil(double x, int dt)
{
    double r = fi_dt_round(x, dt);
    return r < x ? fi_dt_step(r, dt, 1) : r;
}
double fi_dt_floor(double x, int dt)
{
    double r = fi_dt_round(x, dt);
    return r > x ? fi_dt_step(r, dt, -1) : r;
}

double fi_dt_max(int dt)
{
    switch (dt) {
    case FI_F64: return 0x1.fffffffffffffp+1023;
    case FI_F32: return 0x1.fffffep+127;
    case FI_F16: return 65504.0;
    default: return 0x1.fep+127;
    }
}

uint64_t fi_dt_bits(double v, int dt)
{
    if (v != v && (dt == FI_F16 || dt == FI_BF16)) {
        /* the kernels' 16-bit rounding assumes no NaN (it would give inf or -0):
         * a constant NaN becomes the canonical quiet NaN, keeping its sign */
        uint64_t sign = fi_d2u(v) >> 63 ? 0x8000u : 0;
        return sign | (dt == FI_F16 ? 0x7E00u : 0x7FC0u);
    }
    switch (dt) {
    case FI_F64: return fi_d2u(v);
    case FI_F32: return fi_f2u((float)v);
    case FI_F16: return fi_f32_to_f16((float)v);
    default: return fi_f32_to_bf16((float)v);
    }
}
