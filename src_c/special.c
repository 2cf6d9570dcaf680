/*
 * Scalar special functions used once per call to prepare truncated-normal plans:
 * exp, the normal density and tails.  Written with IEEE operations only, so the
 * prepared constants (and therefore every output bit) are the same on every
 * platform, whatever its libm.
 */
#include <math.h>

#include "detmath.h"
#include "fastinit.h"

/* exp(x), relative error about 1 ulp for x in [-745, 709]. */
double fi_exp(double x)
{
    if (x != x) return x;
    if (x > 709.78) return INFINITY;
    if (x < -745.2) return 0.0;
    /* k = round(x / ln2), by the 1.5 * 2^52 trick (round to nearest even) */
    double kd = (x * 0x1.71547652b82fep+0 + 0x1.8p52) - 0x1.8p52;
    double r = fma(-kd, FI_LN2_HI_D, x);
    r = fma(-kd, FI_LN2_LO_D, r); /* |r| <= 0.35: Taylor to degree 13 */
    double p = 0x1.6124613a86d09p-33;
    p = fma(p, r, 0x1.1eed8eff8d898p-29);
    p = fma(p, r, 0x1.ae64567f544e4p-26);
    p = fma(p, r, 0x1.27e4fb7789f5cp-22);
    p = fma(p, r, 0x1.71de3a556c734p-19);
    p = fma(p, r, 0x1.a01a01a01a01ap-16);
    p = fma(p, r, 0x1.a01a01a01a01ap-13);
    p = fma(p, r, 0x1.6c16c16c16c17p-10);
    p = fma(p, r, 0x1.1111111111111p-7);
    p = fma(p, r, 0x1.5555555555555p-5);
    p = fma(p, r, 0x1.5555555555555p-3);
    p = fma(p, r, 0x1.0000000000000p-1);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    /* scale by 2^k in two steps so that each factor is a normal number */
    int k = (int)kd;
    int k1 = k / 2, k2 = k - k1;
    double s1 = fi_u2d((uint64_t)(k1 + 1023) << 52);
    double s2 = fi_u2d((uint64_t)(k2 + 1023) << 52);
    return p * s1 * s2;
}

double fi_log(double x)
{
    if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
    if (x == INFINITY) return x;
    if (x < 0x1p-1022) return fi_log_d(x * 0x1p54) - 54.0 * 0x1.62e42fefa39efp-1;
    return fi_log_d(x);
}

/* phi(x) = exp(-x^2 / 2) / sqrt(2 pi), with x^2 split exactly into hi + lo */
static double normal_pdf(double x)
{
    double hi = x * x;
    double lo = fma(x, x, -hi);
    double e = fi_exp(-0.5 * hi);
    return fma(e, -0.5 * lo, e) * 0x1.9884533d43651p-2;
}

/* Q(x) = 1 - Phi(x) */
double fi_normal_q(double x)
{
    if (x != x) return x;
    if (x == INFINITY) return 0.0;
    if (x == -INFINITY) return 1.0;
    if (x < 0.0) return 1.0 - fi_normal_q(-x);
    if (x > 38.5) return 0.0; /* below the smallest normal double */
    if (x < 2.5) {
        /* Phi(x) - 1/2 = phi(x) (x + x^3/3 + x^5/(3*5) + ...): positive terms only */
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 120; n++) {
            term *= x2 / (2 * n + 1);
            sum += term;
        }
        return 0.5 - normal_pdf(x) * sum;
    }
    /* Laplace's continued fraction Q(x) = phi(x) / (x + 1/(x + 2/(x + 3/(x + ...)))),
     * evaluated backwards from a fixed depth (converges like exp(-2 x sqrt(n))). */
    double t = x;
    for (int k = 400; k >= 1; k--) t = x + k / t;
    return normal_pdf(x) / t;
}

double fi_normal_cdf(double x) { return fi_normal_q(-x); }

double fi_normal_qinv(double p)
{
    if (!(p > 0.0)) return INFINITY;
    return fi_qinv_d(p);
}
