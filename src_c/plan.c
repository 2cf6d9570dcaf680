/*
 * fi_prepare: a request (distribution, dtype, parameters, seed, stream) checked and
 * turned into a plan's read-only constants, once per call.
 */
#include <math.h>
#include <string.h>

#include "dtype.h"
#include "fastinit.h"
#include "fpenv.h"

#define FAIL(msg)                                                                          \
    do {                                                                                   \
        *err = (msg);                                                                      \
        return -1;                                                                         \
    } while (0)

/* largest |z| a sampler can return: sqrt(-2 ln 2^-54) for 64-bit words */
#define FI_ZMAX 8.7

static FI_NOINLINE int prepare(const fi_spec *spec, int isa, fi_plan *pl, const char **err)
{
    memset(pl, 0, sizeof *pl);
    if (spec->dtype < 0 || spec->dtype >= FI_NDTYPE) FAIL("unknown dtype code");
    if (spec->dist < 0 || spec->dist >= FI_NDIST) FAIL("unknown distribution code");
    if (!fi_isa_supported(isa)) FAIL("instruction set not available in this build or on this CPU");
    const int dt = spec->dtype;
    const double *p = spec->p;
    const double big = fi_dt_max(dt);
    pl->dist = spec->dist;
    pl->dtype = dt;
    pl->isa = isa;
    pl->key[0] = (uint32_t)spec->seed;
    pl->key[1] = (uint32_t)(spec->seed >> 32);
    pl->ctr_hi[0] = (uint32_t)spec->stream;
    pl->ctr_hi[1] = (uint32_t)(spec->stream >> 32);

    switch (spec->dist) {
    case FI_CONSTANT:
        if (p[0] == p[0] && fabs(p[0]) != INFINITY && fabs(fi_dt_round(p[0], dt)) > big)
            FAIL("value is outside the range of the output dtype");
        pl->const_bits = fi_dt_bits(p[0], dt);
        return 0;

    case FI_UNIFORM: {
        double low = p[0], high = p[1];
        if (!isfinite(low) || !isfinite(high)) FAIL("low and high must be finite");
        if (low > high) FAIL("low must be <= high");
        double scale = high - low;
        if (!isfinite(scale)) FAIL("high - low overflows float64");
        if (fabs(low) > big || fabs(high) > big) FAIL("low or high is outside the range of the output dtype");
        double lo = fi_dt_ceil(low, dt);
        double hi = low < high ? fi_dt_step(fi_dt_ceil(high, dt), dt, -1) : lo;
        if (low == high) lo = hi = fi_dt_round(low, dt);
        if (lo > hi) FAIL("the interval [low, high) contains no value of the output dtype");
        pl->d_a = scale;
        pl->d_b = low;
        pl->d_lo = lo;
        pl->d_hi = hi;
        pl->f_a = (float)scale;
        pl->f_b = (float)low;
        pl->f_lo = (float)lo;
        pl->f_hi = (float)hi;
        if (dt != FI_F64 && !isfinite(pl->f_a)) FAIL("high - low overflows float32");
        return 0;
    }

    case FI_NORMAL: {
        double mean = p[0], sd = p[1];
        if (!isfinite(mean) || !isfinite(sd)) FAIL("mean and std must be finite");
        if (sd < 0) FAIL("std must be >= 0");
        if (fabs(mean) + FI_ZMAX * sd > big)
            FAIL("mean + 8.7 * std exceeds the range of the output dtype (values would overflow)");
        pl->d_a = sd;
        pl->d_b = mean;
        pl->f_a = (float)sd;
        pl->f_b = (float)mean;
        return 0;
    }

    case FI_TRUNC_NORMAL: {
        double mean = p[0], sd = p[1], a = p[2], b = p[3];
        if (!isfinite(mean) || !isfinite(sd)) FAIL("mean and std must be finite");
        if (sd < 0) FAIL("std must be >= 0");
        if (a != a || b != b) FAIL("lower and upper must not be NaN");
        if (!(a < b)) FAIL("lower must be < upper");
        if (a > 36.0 || b < -36.0)
            FAIL("the truncation interval lies beyond 36 standard deviations from the mean: "
                 "its probability underflows double precision");
        /* probabilities: bounds beyond 37 sigma on the outside act as infinite */
        double ap = a < -37.0 ? -INFINITY : a, bp = b > 37.0 ? INFINITY : b;
        double pa = fi_normal_cdf(ap), qb = fi_normal_q(bp), mass;
        if (ap >= 0) mass = fi_normal_q(ap) - qb;
        else if (bp <= 0) mass = fi_normal_cdf(bp) - pa;
        else mass = (1.0 - pa) - qb;
        if (!(mass > 0)) FAIL("the truncation interval is too narrow: its probability is 0 in double precision");
        /* overflow judged on the z the sampler can produce: U and V are at least umin
         * (trunc_uv_32/64), so z lies in [Phi^-1(pa + umin mass), Q^-1(qb + umin mass)]
         * within [a, b]; a 1e-9 margin covers the rounding of these evaluations */
        double umin = dt == FI_F64 ? 0x1p-54 : 0x1p-33;
        double plo = fma(umin, mass, pa), phi = fma(umin, mass, qb);
        double zlo = plo < 0.5 ? fmax(a, -fi_normal_qinv(plo) * (1 + 1e-9)) : a;
        double zhi = phi < 0.5 ? fmin(b, fi_normal_qinv(phi) * (1 + 1e-9)) : b;
        if (fmax(fabs(mean + zlo * sd), fabs(mean + zhi * sd)) > big)
            FAIL("values would overflow the output dtype");
        double lb = sd == 0 ? mean : isfinite(a) ? mean + sd * a : -INFINITY;
        double ub = sd == 0 ? mean : isfinite(b) ? mean + sd * b : INFINITY;
        double lo = isfinite(lb) ? fi_dt_ceil(lb, dt) : -INFINITY;
        double hi = isfinite(ub) ? fi_dt_floor(ub, dt) : INFINITY;
        if (sd == 0) lo = hi = fi_dt_round(mean, dt);
        if (lo > hi) FAIL("the truncation interval contains no value of the output dtype");
        pl->d_a = sd;
        pl->d_b = mean;
        pl->d_lo = lo;
        pl->d_hi = hi;
        pl->f_lo = (float)lo;
        pl->f_hi = (float)hi;
        pl->t_pa = pa;
        pl->t_qb = qb;
        pl->t_mass = mass;
        return 0;
    }
    }
    FAIL("unknown distribution code");
}

int fi_prepare(const fi_spec *spec, int isa, fi_plan *pl, const char **err)
{
    fenv_t env;
    fi_fpenv_enter(&env);
    int rc = prepare(spec, isa, pl, err);
    fi_fpenv_leave(&env);
    return rc;
}
