/*
 * Scalar lanes for detmath_lanes.h: plain C types and operators, libm's correctly
 * rounded fma/fmaf/sqrt/sqrtf.  Included by detmath.h only (then undone by
 * lanes_undef.h, so the SIMD units can define their own).  No include guard.
 */
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
#define FI_F_C(c) (c)
#define FI_F_UC(c) ((uint32_t)(c))
#define FI_F_FMA(a, b, c) fmaf(a, b, c)
#define FI_F_SQRT(a) sqrtf(a)
#define FI_F_GT(a, b) ((a) > (b))
#define FI_F_LT(a, b) ((a) < (b))
#define FI_F_LE(a, b) ((a) <= (b))
#define FI_F_SEL(m, t, f) ((m) ? (t) : (f))
#define FI_F_ISEL(m, t, f) ((m) ? (t) : (f))
#define FI_F_NEG(i) ((i) < 0)
#define FI_F_TEST(i, c) (((i) & (c)) != 0)
#define FI_F_ITOF(i) ((float)(i))
#define FI_F_AS_U(f) fi_f2u(f)
#define FI_F_AS_F(u) fi_u2f(u)
#define FI_F_AS_I(u) ((int32_t)(u))
#define FI_F_AS_UI(i) ((uint32_t)(i))
#define FI_F_SHL(i, s) ((int32_t)((uint32_t)(i) << (s)))
#define FI_F_MINL(h, x) ((x) > (h) ? (h) : (x))
#define FI_F_MAXL(l, x) ((x) < (l) ? (l) : (x))
#define FI_D_C(c) (c)
#define FI_D_FMA(a, b, c) fma(a, b, c)
#define FI_D_SQRT(a) sqrt(a)
#define FI_D_GT(a, b) ((a) > (b))
#define FI_D_LT(a, b) ((a) < (b))
#define FI_D_LE(a, b) ((a) <= (b))
#define FI_D_SEL(m, t, f) ((m) ? (t) : (f))
#define FI_D_ISEL(m, t, f) ((m) ? (t) : (f))
#define FI_D_NEG(i) ((i) < 0)
#define FI_D_TEST(i, c) (((i) & (c)) != 0)
#define FI_D_AS_U(d) fi_d2u(d)
#define FI_D_AS_D(u) fi_u2d(u)
#define FI_D_AS_L(u) ((int64_t)(u))
#define FI_D_AS_UL(i) ((uint64_t)(i))
#define FI_D_SHL(i, s) ((int64_t)((uint64_t)(i) << (s)))
#define FI_D_SRA(i, s) ((i) >> (s)) /* arithmetic on every compiler fastinit supports */
#define FI_D_MINL(h, x) ((x) > (h) ? (h) : (x))
#define FI_D_MAXL(l, x) ((x) < (l) ? (l) : (x))
#define FI_D_ALL(m) (m)

