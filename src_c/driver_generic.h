/*
 * The generic driver's inner loops, for one instance of the scalar formulas (see
 * kernels_generic.c, which includes this once per instance).  No include guard.
 *   FI_G(name)   the instance's formula (fie_normal_pair_f, fih_normal_pair_f, ...)
 *   FI_GV(name)  this instance's loop function name
 */
static void FI_GV(values_f)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                            float *restrict out)
{
    switch (pl->dist) {
    case FI_UNIFORM:
        for (uint32_t i = 0; i < n; i++)
            out[i] = FI_G(uniform_f)(w[i], pl->f_a, pl->f_b, pl->f_lo, pl->f_hi);
        break;
    case FI_NORMAL: /* n is even: pair k uses words 2k (radius) and 2k+1 (angle) */
        for (uint32_t k = 0; k < n / 2; k++)
            FI_G(normal_pair_f)(w[2 * k], w[2 * k + 1], pl->f_a, pl->f_b, &out[2 * k],
                                &out[2 * k + 1]);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            double u, v;
            FI_G(trunc_uv_32)(w[i], &u, &v);
            double x = FI_G(trunc_x)(u, v, pl->t_pa, pl->t_qb, pl->t_mass, pl->d_a, pl->d_b);
            out[i] = FI_G(clamp_f)((float)x, pl->f_lo, pl->f_hi);
        }
        break;
    }
}

static void FI_GV(values_d)(const fi_plan *restrict pl, const uint32_t *restrict w, uint32_t n,
                            double *restrict out)
{
    switch (pl->dist) {
    case FI_UNIFORM:
        for (uint32_t i = 0; i < n; i++)
            out[i] = FI_G(uniform_d)(fi_u64_at(w, i), pl->d_a, pl->d_b, pl->d_lo, pl->d_hi);
        break;
    case FI_NORMAL: /* pair k uses 64-bit words 2k and 2k+1 */
        for (uint32_t k = 0; k < n / 2; k++)
            FI_G(normal_pair_d)(fi_u64_at(w, 2 * k), fi_u64_at(w, 2 * k + 1), pl->d_a, pl->d_b,
                                &out[2 * k], &out[2 * k + 1]);
        break;
    default:
        for (uint32_t i = 0; i < n; i++) {
            double u, v;
            FI_G(trunc_uv_64)(fi_u64_at(w, i), &u, &v);
            double x = FI_G(trunc_x)(u, v, pl->t_pa, pl->t_qb, pl->t_mass, pl->d_a, pl->d_b);
            out[i] = FI_G(clamp_d)(x, pl->d_lo, pl->d_hi);
        }
        break;
    }
}

/* one tile: the words of tn elements from element t (block aligned), then their values */
static void FI_GV(tile)(const fi_plan *restrict pl, uint64_t t, uint32_t tn,
                        uint32_t *restrict words, void *restrict dst)
{
    const uint32_t epb = pl->dtype == FI_F64 ? 2 : 4;
    fi_philox_blocks(pl->key, pl->ctr_hi, t / epb, tn / epb, words);
    if (pl->dtype == FI_F64) FI_GV(values_d)(pl, words, tn, (double *)dst);
    else FI_GV(values_f)(pl, words, tn, (float *)dst);
}
