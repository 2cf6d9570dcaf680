/*
 * The deterministic math of detmath.h, written ONCE over "lanes".  This file has no
 * include guard on purpose: it is included once per lane type -
 *   - by detmath.h with plain C scalars (float, int32_t, ...): the functions fi_*,
 *     used by the generic kernels, special.c and as the reference;
 *   - by driver_simd.h in the SIMD units (lanes_simd.h) with SIMD vectors (GCC vector
 *     extension types, whose + - * / & | ^ << >> act lane by lane): fiv_*.
 * So every path performs the same IEEE operations (same polynomial, same explicit fma,
 * same order) on every element, and a formula cannot drift between paths.
 *
 * The includer defines, before including:
 *   FI_LN(name)       the function name for this lane type
 *   FI_LINLINE        how to declare the functions (static inline, forced for SIMD)
 *   FI_F, FI_I, FI_U  float / int32 / uint32 lanes (same lane count);   FI_MF  their mask
 *   FI_D, FI_L, FI_UL double / int64 / uint64 lanes (same lane count);  FI_MD  their mask
 *   per family (F = float family, D = double family; X is F or D):
 *     FI_X_C(c)            a constant in every lane
 *     FI_X_FMA(a, b, c)    a*b + c with one rounding          FI_X_SQRT(a)
 *     FI_X_GT/LT/LE(a, b)  ordered comparisons -> mask        FI_X_SEL(m, t, f)   m ? t : f
 *     FI_X_ISEL(m, t, f)   the same for the integer lanes of the family
 *     FI_X_NEG(i)          mask of integer lanes < 0 (signed)
 *     FI_X_TEST(i, c)      mask of integer lanes with (i & c) != 0
 *   FI_F_ITOF(i)  int32 -> float     FI_F_AS_U(f), FI_F_AS_F(u), FI_F_AS_I(u), FI_F_AS_UI(i) bit casts
 *   FI_D_AS_U(d), FI_D_AS_D(u), FI_D_AS_L(u), FI_D_AS_UL(l)   bit casts
 *   FI_F_SHL(i, s), FI_D_SHL(l, s)      left shift of signed lanes (as unsigned: no UB)
 *   FI_F_UC(c)                       a uint32 constant in every lane
 *   FI_X_MINL(h, x)  x > h ? h : x      FI_X_MAXL(l, x)  x < l ? l : x     (the clamps)
 *   FI_D_ALL(m)      every lane of mask m is set (a branch hint only: both ways give
 *                 the same values)
 *   FI_D_SRA(l, s)                   arithmetic right shift of int64 lanes
 * Constants may appear as plain operands of + - * / & | ^ (GCC broadcasts scalars).
 */

/* ------------------------------------------------------ exact conversions ---- */
/* integer 0 <= m < 2^52 -> double, exactly, without a 64-bit integer conversion
 * instruction (AVX2 has none): place m in the mantissa of 2^52 */
FI_LINLINE FI_D FI_LN(u52_to_d)(FI_UL m) { return FI_D_AS_D(m | 0x4330000000000000ull) - 0x1p52; }

/* signed |j| < 2^51 -> double, exactly (the same trick around 1.5 * 2^52) */
FI_LINLINE FI_D FI_LN(s51_to_d)(FI_L j)
{
    return FI_D_AS_D(FI_D_AS_UL(j) + 0x4338000000000000ull) - 0x1.8p52;
}

/* ---------------------------------------------------------------- logarithm ---
 * ln(1 + f) for f in [1/sqrt(2) - 1, sqrt(2) - 1] through s = f / (2 + f), |s| <= 0.1716:
 * ln(1 + f) = 2 atanh(s) = 2s + s^3 (2/3 + 2/5 s^2 + 2/7 s^4 + ...).
 * The series is truncated where the next term is below half an ulp. */
FI_LINLINE FI_F FI_LN(log1p_red_f)(FI_F f)
{
    FI_F s = f / (2.0f + f);
    FI_F s2 = s * s;
    FI_F p = FI_F_C(0x1.3b13b2p-3f);                /* 2/13 */
    p = FI_F_FMA(p, s2, FI_F_C(0x1.745d18p-3f));       /* 2/11 */
    p = FI_F_FMA(p, s2, FI_F_C(0x1.c71c72p-3f));       /* 2/9 */
    p = FI_F_FMA(p, s2, FI_F_C(0x1.24924ap-2f));       /* 2/7 */
    p = FI_F_FMA(p, s2, FI_F_C(0x1.99999ap-2f));       /* 2/5 */
    p = FI_F_FMA(p, s2, FI_F_C(0x1.555556p-1f));       /* 2/3 */
    return FI_F_FMA(s * s2, p, 2.0f * s);
}

FI_LINLINE FI_D FI_LN(log1p_red_d)(FI_D f)
{
    FI_D s = f / (2.0 + f);
    FI_D s2 = s * s;
    FI_D p = FI_D_C(0x1.47ae147ae147bp-4);          /* 2/25 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.642c8590b2164p-4)); /* 2/23 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.8618618618618p-4)); /* 2/21 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.af286bca1af28p-4)); /* 2/19 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.e1e1e1e1e1e1ep-4)); /* 2/17 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.1111111111111p-3)); /* 2/15 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.3b13b13b13b14p-3)); /* 2/13 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.745d1745d1746p-3)); /* 2/11 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.c71c71c71c71cp-3)); /* 2/9 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.2492492492492p-2)); /* 2/7 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.999999999999ap-2)); /* 2/5 */
    p = FI_D_FMA(p, s2, FI_D_C(0x1.5555555555555p-1)); /* 2/3 */
    return FI_D_FMA(s * s2, p, 2.0 * s);
}

/* Split a positive normal x into x = 2^e (1 + f) with 1 + f in [1/sqrt2, sqrt2). */
FI_LINLINE FI_F FI_LN(logsplit_f)(FI_F x, FI_F *e_out)
{
    FI_U b = FI_F_AS_U(x);
    FI_I e = FI_F_AS_I(b >> 23) - 127;
    FI_F m = FI_F_AS_F((b & 0x007FFFFFu) | 0x3F800000u);
    FI_MF big = FI_F_GT(m, FI_F_C(0x1.6a09e6p+0f));
    m = FI_F_SEL(big, 0.5f * m, m);
    e = FI_F_ISEL(big, e + 1, e);
    *e_out = FI_F_ITOF(e);
    return m - 1.0f; /* exact (Sterbenz) */
}

FI_LINLINE FI_D FI_LN(logsplit_d)(FI_D x, FI_D *e_out)
{
    FI_UL b = FI_D_AS_U(x);
    FI_L e = FI_D_AS_L(b >> 52) - 1023;
    FI_D m = FI_D_AS_D((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    FI_MD big = FI_D_GT(m, FI_D_C(0x1.6a09e667f3bcdp+0));
    m = FI_D_SEL(big, 0.5 * m, m);
    e = FI_D_ISEL(big, e + 1, e);
    *e_out = FI_LN(s51_to_d)(e);
    return m - 1.0;
}

/* ln(x) for positive normal x (double). */
FI_LINLINE FI_D FI_LN(log_d)(FI_D x)
{
    FI_D e;
    FI_D f = FI_LN(logsplit_d)(x, &e);
    return FI_D_FMA(e, FI_D_C(FI_LN2_HI_D), FI_D_FMA(e, FI_D_C(FI_LN2_LO_D), FI_LN(log1p_red_d)(f)));
}

/* ------------------------------------------------------- Box-Muller radius ---
 * -ln((a + 0.5) 2^-32) for a 32-bit word a, accurate for every a.  With y the
 * smaller of x and 1 - x (y = (a' + 0.5) 2^-32, a' = a or ~a, exact up to one
 * rounding), words in the upper half use ln(1 - y), computed from y itself
 * ("from its complement"), so words near 2^32 keep full relative precision. */
FI_LINLINE FI_F FI_LN(neglog_u32)(FI_U a)
{
    FI_I ai = FI_F_AS_I(a);
    FI_MF upper = FI_F_NEG(ai);                               /* a >= 2^31 */
    FI_F y = (FI_F_ITOF(ai ^ (ai >> 31)) + 0.5f) * 0x1p-32f;  /* (0, 0.5] */
    FI_F e_lo;
    FI_F f_lo = FI_LN(logsplit_f)(y, &e_lo);               /* ln y */
    FI_MF far = FI_F_GT(y, FI_F_C(0x1.2bec34p-2f));              /* 1 - y < 1/sqrt2 */
    FI_F f_hi = FI_F_SEL(far, 1.0f - 2.0f * y, -y);           /* ln(1-y) = e ln2 + ln(1+f) */
    FI_F e_hi = FI_F_SEL(far, FI_F_C(-1.0f), FI_F_C(0.0f));
    FI_F f = FI_F_SEL(upper, f_hi, f_lo);
    FI_F e = FI_F_SEL(upper, e_hi, e_lo);
    FI_F l = FI_F_FMA(e, FI_F_C(FI_LN2_HI_F), FI_F_FMA(e, FI_F_C(FI_LN2_LO_F), FI_LN(log1p_red_f)(f)));
    return -l;
}

/* The same for the 64-bit form: -ln(((h >> 11) + 0.5) 2^-53), u the 64-bit word. */
FI_LINLINE FI_D FI_LN(neglog_u64)(FI_UL u)
{
    FI_UL h = u >> 11;                                     /* 53 bits */
    FI_UL upper = 0 - (h >> 52);
    FI_UL m = (h ^ upper) & 0x000FFFFFFFFFFFFFull;         /* < 2^52 */
    FI_D y = (FI_LN(u52_to_d)(m) + 0.5) * 0x1p-53;         /* exact, (0, 0.5] */
    FI_D e_lo;
    FI_D f_lo = FI_LN(logsplit_d)(y, &e_lo);
    FI_MD far = FI_D_GT(y, FI_D_C(0x1.2bec333018867p-2));
    FI_D f_hi = FI_D_SEL(far, 1.0 - 2.0 * y, -y);
    FI_D e_hi = FI_D_SEL(far, FI_D_C(-1.0), FI_D_C(0.0));
    FI_MD up = FI_D_NEG(FI_D_AS_L(upper));
    FI_D f = FI_D_SEL(up, f_hi, f_lo);
    FI_D e = FI_D_SEL(up, e_hi, e_lo);
    FI_D l = FI_D_FMA(e, FI_D_C(FI_LN2_HI_D), FI_D_FMA(e, FI_D_C(FI_LN2_LO_D), FI_LN(log1p_red_d)(f)));
    return -l;
}

/* ------------------------------------------------------ sin and cos of pi*T ---
 * T = k 2^-s with integer k; reduce exactly to T = n/2 + r, |r| <= 1/4, evaluate
 * Taylor polynomials of sin(pi r) and cos(pi r) (truncated below half an ulp on
 * |r| <= 1/4), then rotate by the quadrant n mod 4: swap where n is odd, negate
 * (flip the sign bit: exactly -x) cos where n mod 4 is 1 or 2 and sin where it is
 * 2 or 3. */
FI_LINLINE void FI_LN(sincospi_f)(FI_I k24, FI_F *c_out, FI_F *s_out)
{
    /* k24 in [-2^23, 2^23): T = k24 2^-23 */
    FI_I n = (k24 + (1 << 21)) >> 22;                      /* round(2T), ties up */
    FI_F r = FI_F_ITOF(k24 - FI_F_SHL(n, 22)) * 0x1p-23f;        /* exact, |r| <= 1/4 */
    FI_F r2 = r * r;
    FI_F sp = FI_F_C(-0x1.e3075p-8f);
    sp = FI_F_FMA(sp, r2, FI_F_C(0x1.507834p-4f));
    sp = FI_F_FMA(sp, r2, FI_F_C(-0x1.32d2ccp-1f));
    sp = FI_F_FMA(sp, r2, FI_F_C(0x1.466bc6p+1f));
    sp = FI_F_FMA(sp, r2, FI_F_C(-0x1.4abbcep+2f));
    sp = FI_F_FMA(sp, r2, FI_F_C(0x1.921fb6p+1f));
    sp = sp * r;
    FI_F cp = FI_F_C(0x1.f9d38ap-10f);
    cp = FI_F_FMA(cp, r2, FI_F_C(-0x1.a6d1f2p-6f));
    cp = FI_F_FMA(cp, r2, FI_F_C(0x1.e1f506p-3f));
    cp = FI_F_FMA(cp, r2, FI_F_C(-0x1.55d3c8p+0f));
    cp = FI_F_FMA(cp, r2, FI_F_C(0x1.03c1fp+2f));
    cp = FI_F_FMA(cp, r2, FI_F_C(-0x1.3bd3ccp+2f));
    cp = FI_F_FMA(cp, r2, FI_F_C(1.0f));
    FI_MF odd = FI_F_TEST(n, 1);
    FI_F c = FI_F_SEL(odd, sp, cp);
    FI_F s = FI_F_SEL(odd, cp, sp);
    *c_out = FI_F_AS_F(FI_F_AS_U(c) ^ ((FI_F_AS_UI(n + 1) << 30) & 0x80000000u)); /* bit 1 -> sign */
    *s_out = FI_F_AS_F(FI_F_AS_U(s) ^ ((FI_F_AS_UI(n) << 30) & 0x80000000u));
}

FI_LINLINE void FI_LN(sincospi_d)(FI_L k53, FI_D *c_out, FI_D *s_out)
{
    /* k53 in [-2^52, 2^52): T = k53 2^-52 */
    FI_L n = FI_D_SRA(k53 + ((int64_t)1 << 50), 51);
    FI_D r = FI_LN(s51_to_d)(k53 - FI_D_SHL(n, 51)) * 0x1p-52;
    FI_D r2 = r * r;
    FI_D sp = FI_D_C(0x1.2877020d52cf0p-31);
    sp = FI_D_FMA(sp, r2, FI_D_C(-0x1.8a404211f9547p-26));
    sp = FI_D_FMA(sp, r2, FI_D_C(0x1.aaec32af93359p-21));
    sp = FI_D_FMA(sp, r2, FI_D_C(-0x1.6fadb9f155744p-16));
    sp = FI_D_FMA(sp, r2, FI_D_C(0x1.e8f434d018d63p-12));
    sp = FI_D_FMA(sp, r2, FI_D_C(-0x1.e3074fde8871fp-8));
    sp = FI_D_FMA(sp, r2, FI_D_C(0x1.50783487ee782p-4));
    sp = FI_D_FMA(sp, r2, FI_D_C(-0x1.32d2cce62bd86p-1));
    sp = FI_D_FMA(sp, r2, FI_D_C(0x1.466bc6775aae2p+1));
    sp = FI_D_FMA(sp, r2, FI_D_C(-0x1.4abbce625be53p+2));
    sp = FI_D_FMA(sp, r2, FI_D_C(0x1.921fb54442d18p+1));
    sp = sp * r;
    FI_D cp = FI_D_C(-0x1.52ae4120fde27p-34);
    cp = FI_D_FMA(cp, r2, FI_D_C(0x1.ef6e308d6d1c4p-29));
    cp = FI_D_FMA(cp, r2, FI_D_C(-0x1.2a0c591af8314p-23));
    cp = FI_D_FMA(cp, r2, FI_D_C(0x1.20c62c2f2d7f5p-18));
    cp = FI_D_FMA(cp, r2, FI_D_C(-0x1.b6e24f44b128fp-14));
    cp = FI_D_FMA(cp, r2, FI_D_C(0x1.f9d38a3763cc3p-10));
    cp = FI_D_FMA(cp, r2, FI_D_C(-0x1.a6d1f2a204a8cp-6));
    cp = FI_D_FMA(cp, r2, FI_D_C(0x1.e1f506891babbp-3));
    cp = FI_D_FMA(cp, r2, FI_D_C(-0x1.55d3c7e3cbffap+0));
    cp = FI_D_FMA(cp, r2, FI_D_C(0x1.03c1f081b5ac4p+2));
    cp = FI_D_FMA(cp, r2, FI_D_C(-0x1.3bd3cc9be45dep+2));
    cp = FI_D_FMA(cp, r2, FI_D_C(1.0));
    FI_MD odd = FI_D_TEST(n, 1);
    FI_D c = FI_D_SEL(odd, sp, cp);
    FI_D s = FI_D_SEL(odd, cp, sp);
    *c_out = FI_D_AS_D(FI_D_AS_U(c) ^ ((FI_D_AS_UL(n + 1) << 62) & 0x8000000000000000ull));
    *s_out = FI_D_AS_D(FI_D_AS_U(s) ^ ((FI_D_AS_UL(n) << 62) & 0x8000000000000000ull));
}

/* -------------------------------------------------- inverse normal tail -------
 * Q^{-1}(p) = Phi^{-1}(1 - p) for p in (0, 0.5 + tiny], Wichura's AS241 (PPND16,
 * Applied Statistics 37(3), 1988), relative accuracy about 1e-16.
 * Written as three pieces so that a vector kernel may skip the tail for lanes (or
 * whole vectors) that do not need it; every lane still gets exactly
 *   central (q <= 0.425):  na / da
 *   tail, r <= 5:          nc / dc     with r = sqrt(-ln min(p, 0.075))
 *   tail, r > 5:           ne / de
 * (fi_qinv_d in detmath.h puts them together). */
FI_LINLINE FI_D FI_LN(qinv_central_num)(FI_D q, FI_D rc)
{
    FI_D na = FI_D_C(2509.0809287301226727);
    na = FI_D_FMA(na, rc, FI_D_C(33430.575583588128105));
    na = FI_D_FMA(na, rc, FI_D_C(67265.770927008700853));
    na = FI_D_FMA(na, rc, FI_D_C(45921.953931549871457));
    na = FI_D_FMA(na, rc, FI_D_C(13731.693765509461125));
    na = FI_D_FMA(na, rc, FI_D_C(1971.5909503065514427));
    na = FI_D_FMA(na, rc, FI_D_C(133.14166789178437745));
    na = FI_D_FMA(na, rc, FI_D_C(3.3871328727963666080));
    return na * q;
}

FI_LINLINE FI_D FI_LN(qinv_central_den)(FI_D rc)
{
    FI_D da = FI_D_C(5226.4952788528545610);
    da = FI_D_FMA(da, rc, FI_D_C(28729.085735721942674));
    da = FI_D_FMA(da, rc, FI_D_C(39307.895800092710610));
    da = FI_D_FMA(da, rc, FI_D_C(21213.794301586595867));
    da = FI_D_FMA(da, rc, FI_D_C(5394.1960214247511077));
    da = FI_D_FMA(da, rc, FI_D_C(687.18700749205790830));
    da = FI_D_FMA(da, rc, FI_D_C(42.313330701600911252));
    return FI_D_FMA(da, rc, FI_D_C(1.0));
}

/* r = sqrt(-ln p) for the tail; p is clamped into the tail range so every lane is finite */
FI_LINLINE FI_D FI_LN(qinv_tail_r)(FI_D p)
{
    FI_D pt = FI_D_SEL(FI_D_LT(p, FI_D_C(0.075)), p, FI_D_C(0.075));
    return FI_D_SQRT(-FI_LN(log_d)(pt));
}

FI_LINLINE void FI_LN(qinv_mid)(FI_D r, FI_D *num, FI_D *den)
{
    FI_D rm = r - 1.6;
    FI_D nc = FI_D_C(7.74545014278341407640e-4);
    nc = FI_D_FMA(nc, rm, FI_D_C(2.27238449892691845833e-2));
    nc = FI_D_FMA(nc, rm, FI_D_C(2.41780725177450611770e-1));
    nc = FI_D_FMA(nc, rm, FI_D_C(1.27045825245236838258e+0));
    nc = FI_D_FMA(nc, rm, FI_D_C(3.64784832476320460504e+0));
    nc = FI_D_FMA(nc, rm, FI_D_C(5.76949722146069140550e+0));
    nc = FI_D_FMA(nc, rm, FI_D_C(4.63033784615654529590e+0));
    nc = FI_D_FMA(nc, rm, FI_D_C(1.42343711074968357734e+0));
    FI_D dc = FI_D_C(1.05075007164441684324e-9);
    dc = FI_D_FMA(dc, rm, FI_D_C(5.47593808499534494600e-4));
    dc = FI_D_FMA(dc, rm, FI_D_C(1.51986665636164571966e-2));
    dc = FI_D_FMA(dc, rm, FI_D_C(1.48103976427480074590e-1));
    dc = FI_D_FMA(dc, rm, FI_D_C(6.89767334985100004550e-1));
    dc = FI_D_FMA(dc, rm, FI_D_C(1.67638483018380384940e+0));
    dc = FI_D_FMA(dc, rm, FI_D_C(2.05319162663775882187e+0));
    dc = FI_D_FMA(dc, rm, FI_D_C(1.0));
    *num = nc;
    *den = dc;
}

FI_LINLINE void FI_LN(qinv_far)(FI_D r, FI_D *num, FI_D *den)
{
    FI_D re = r - 5.0;
    FI_D ne = FI_D_C(2.01033439929228813265e-7);
    ne = FI_D_FMA(ne, re, FI_D_C(2.71155556874348757815e-5));
    ne = FI_D_FMA(ne, re, FI_D_C(1.24266094738807843860e-3));
    ne = FI_D_FMA(ne, re, FI_D_C(2.65321895265761230930e-2));
    ne = FI_D_FMA(ne, re, FI_D_C(2.96560571828504891230e-1));
    ne = FI_D_FMA(ne, re, FI_D_C(1.78482653991729133580e+0));
    ne = FI_D_FMA(ne, re, FI_D_C(5.46378491116411436990e+0));
    ne = FI_D_FMA(ne, re, FI_D_C(6.65790464350110377720e+0));
    FI_D de = FI_D_C(2.04426310338993978564e-15);
    de = FI_D_FMA(de, re, FI_D_C(1.42151175831644588870e-7));
    de = FI_D_FMA(de, re, FI_D_C(1.84631831751005468180e-5));
    de = FI_D_FMA(de, re, FI_D_C(7.86869131145613259100e-4));
    de = FI_D_FMA(de, re, FI_D_C(1.48753612908506148525e-2));
    de = FI_D_FMA(de, re, FI_D_C(1.36929880922735805310e-1));
    de = FI_D_FMA(de, re, FI_D_C(5.99832206555887937690e-1));
    de = FI_D_FMA(de, re, FI_D_C(1.0));
    *num = ne;
    *den = de;
}

/* Q^{-1}(p) of the tail lanes: (mid or far numerator) / (mid or far denominator) */
FI_LINLINE FI_D FI_LN(qinv_tail)(FI_D p)
{
    FI_D r = FI_LN(qinv_tail_r)(p);
    FI_D nc, dc, ne, de;
    FI_LN(qinv_mid)(r, &nc, &dc);
    FI_MD mid = FI_D_LE(r, FI_D_C(5.0));
    if (FI_D_ALL(mid)) return nc / dc; /* r > 5 means p < 1.4e-11: rare but for far bounds */
    FI_LN(qinv_far)(r, &ne, &de);
    return FI_D_SEL(mid, nc, ne) / FI_D_SEL(mid, dc, de);
}

/* ------------------------------------------------------ half-precision rounding ---
 * float32 -> float16 and bfloat16, round to nearest even, in integer arithmetic
 * (identical to the F16C instruction; no NaN inputs occur here).  The results are
 * in the low 16 bits of each 32-bit lane. */
FI_LINLINE FI_U FI_LN(f16_bits)(FI_F x)
{
    FI_U b = FI_F_AS_U(x);
    FI_U sign = (b >> 16) & 0x8000u;
    FI_U a = b & 0x7FFFFFFFu;
    /* normal range: rebias the exponent, round the 13 dropped bits to nearest even */
    FI_U nrm = (a + 0xC8000FFFu + ((a >> 13) & 1u)) >> 13; /* 0xC8000000 = (15-127)<<23 */
    /* subnormal range: let an FP add with 0.5 do the rounding */
    FI_U sub = FI_F_AS_U(FI_F_AS_F(a) + 0.5f) - 0x3F000000u;
    /* a < 2^31, so signed integer comparisons order it correctly */
    FI_U h = FI_F_ISEL(FI_F_NEG(FI_F_AS_I(a) - 0x38800000), sub, nrm);
    h = FI_F_ISEL(FI_F_NEG(FI_F_AS_I(a) - 0x477FF000), h, FI_F_UC(0x7C00u)); /* rounds to infinity */
    return sign | h;
}

FI_LINLINE FI_U FI_LN(bf16_bits)(FI_F x)
{
    FI_U b = FI_F_AS_U(x);
    return (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16;
}

/* ------------------------------------------------------------ words to values ---
 * How stream words become values (docs/stream.md), per element or pair, shared by
 * every kernel.  Plan constants arrive as lanes (the same value in every lane). */

/* uniform: low + (high - low) U with U = (w >> 8) 2^-24, clamped into [lo, hi], the
 * output dtype's values in [low, high) */
FI_LINLINE FI_F FI_LN(uniform_f)(FI_U w, FI_F scale, FI_F low, FI_F lo, FI_F hi)
{
    FI_F u = FI_F_ITOF(FI_F_AS_I(w >> 8)) * 0x1p-24f;
    FI_F v = FI_F_FMA(scale, u, low);
    return FI_F_MAXL(lo, FI_F_MINL(hi, v));
}

/* 64-bit: U = (u >> 11) 2^-53, built exactly from the 52 low bits and the top bit */
FI_LINLINE FI_D FI_LN(uniform_d)(FI_UL w, FI_D scale, FI_D low, FI_D lo, FI_D hi)
{
    FI_UL h = w >> 11;
    FI_D u = FI_LN(u52_to_d)(h & 0x000FFFFFFFFFFFFFull) * 0x1p-53 + FI_LN(u52_to_d)(h >> 52) * 0.5;
    FI_D v = FI_D_FMA(scale, u, low);
    return FI_D_MAXL(lo, FI_D_MINL(hi, v));
}

/* normal, Box-Muller on a pair of words: a gives the radius, b the angle */
FI_LINLINE void FI_LN(normal_pair_f)(FI_U a, FI_U b, FI_F sd, FI_F mean, FI_F *z0, FI_F *z1)
{
    FI_F radius = FI_F_SQRT(2.0f * FI_LN(neglog_u32)(a));
    FI_F c, s;
    FI_LN(sincospi_f)(FI_F_AS_I(b) >> 8, &c, &s);
    *z0 = FI_F_FMA(sd, radius * c, mean);
    *z1 = FI_F_FMA(sd, radius * s, mean);
}

FI_LINLINE void FI_LN(normal_pair_d)(FI_UL a, FI_UL b, FI_D sd, FI_D mean, FI_D *z0, FI_D *z1)
{
    FI_D radius = FI_D_SQRT(2.0 * FI_LN(neglog_u64)(a));
    FI_D c, s;
    FI_LN(sincospi_d)(FI_D_SRA(FI_D_AS_L(b), 11), &c, &s);
    *z0 = FI_D_FMA(sd, radius * c, mean);
    *z1 = FI_D_FMA(sd, radius * s, mean);
}

/* truncated normal: U and V = 1 - U, both exact, from a 32-bit word (zero-extended
 * into a 64-bit lane) */
FI_LINLINE void FI_LN(trunc_uv_32)(FI_UL w, FI_D *u, FI_D *v)
{
    *u = (FI_LN(u52_to_d)(w) + 0.5) * 0x1p-32;
    *v = (FI_LN(u52_to_d)(w ^ 0xFFFFFFFFu) + 0.5) * 0x1p-32;
}

/* ... from a 64-bit word: the smaller of U and 1 - U is exact, the larger rounded */
FI_LINLINE void FI_LN(trunc_uv_64)(FI_UL w, FI_D *u, FI_D *v)
{
    FI_UL h = w >> 11;
    FI_UL upper = 0 - (h >> 52);
    FI_D small = (FI_LN(u52_to_d)((h ^ upper) & 0x000FFFFFFFFFFFFFull) + 0.5) * 0x1p-53;
    FI_D large = 1.0 - small;
    FI_MD up = FI_D_NEG(FI_D_AS_L(upper));
    *u = FI_D_SEL(up, large, small);
    *v = FI_D_SEL(up, small, large);
}

/* z = F^{-1}(U) through whichever tail is smaller: p_lo = Phi(alpha) + U mass = Phi(z),
 * p_hi = Q(beta) + V mass = Q(z); the inverse takes p, the smaller (in *lower: the
 * lower one, so z = -Q^{-1}(p)). */
FI_LINLINE FI_D FI_LN(trunc_p)(FI_D u, FI_D v, FI_D pa, FI_D qb, FI_D mass, FI_MD *lower)
{
    FI_D p_lo = FI_D_FMA(u, mass, pa);
    FI_D p_hi = FI_D_FMA(v, mass, qb);
    *lower = FI_D_LT(p_lo, p_hi);
    return FI_D_SEL(*lower, p_lo, p_hi);
}

/* Q^{-1}(p) by AS241's central rational function; right where q = 0.5 - p <= 0.425,
 * the lanes set in *central (the others need qinv_tail) */
FI_LINLINE FI_D FI_LN(qinv_central)(FI_D p, FI_MD *central)
{
    FI_D q = 0.5 - p; /* >= 0 up to rounding */
    FI_D rc = FI_D_FMA(-q, q, FI_D_C(0.180625));
    *central = FI_D_LE(q, FI_D_C(0.425));
    return FI_LN(qinv_central_num)(q, rc) / FI_LN(qinv_central_den)(rc);
}

/* mean + std z in double (the caller rounds to its dtype and clamps) */
FI_LINLINE FI_D FI_LN(trunc_finish)(FI_D z, FI_MD lower, FI_D sd, FI_D mean)
{
    return FI_D_FMA(sd, FI_D_SEL(lower, -z, z), mean);
}

/* the three together, for one lane type */
FI_LINLINE FI_D FI_LN(trunc_x)(FI_D u, FI_D v, FI_D pa, FI_D qb, FI_D mass, FI_D sd, FI_D mean)
{
    FI_MD lower, central;
    FI_D p = FI_LN(trunc_p)(u, v, pa, qb, mass, &lower);
    FI_D z = FI_LN(qinv_central)(p, &central);
    if (!FI_D_ALL(central)) z = FI_D_SEL(central, z, FI_LN(qinv_tail)(p));
    return FI_LN(trunc_finish)(z, lower, sd, mean);
}

/* the clamp of a value rounded to float into [lo, hi] */
FI_LINLINE FI_F FI_LN(clamp_f)(FI_F x, FI_F lo, FI_F hi) { return FI_F_MAXL(lo, FI_F_MINL(hi, x)); }
FI_LINLINE FI_D FI_LN(clamp_d)(FI_D x, FI_D lo, FI_D hi) { return FI_D_MAXL(lo, FI_D_MINL(hi, x)); }

