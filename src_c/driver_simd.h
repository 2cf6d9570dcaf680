/*
 * The SIMD driver, compiled once per SIMD unit (kernels_avx2.c, kernels_avx512.c) with
 * that unit's target flags only: a batch of FI_NW Philox blocks runs in the 64-bit
 * lanes of four vectors, the formulas of detmath_lanes.h (instantiated here over the
 * unit's lanes, lanes_simd.h) turn the words into two vectors of values, which are
 * shuffled into element order and stored.
 */
#include "kernels_common.h"
#include "lanes_simd.h"

#define FI_LN(name) fiv_##name
#define FI_LINLINE FI_VINLINE
#include "detmath_lanes.h"

/* The plan's constants as lanes, made once per call. */
typedef struct {
    fi_vul k0[10], k1[10]; /* round keys */
    fi_vul s0, s1;         /* counter words 2 and 3: the stream */
    fi_vf fa, fb, flo, fhi;
    fi_vd da, db, dlo, dhi, pa, qb, mass;
} fi_vplan;

static void FI_FN(vplan)(const fi_plan *pl, fi_vplan *vp)
{
    for (uint32_t r = 0; r < 10; r++) {
        vp->k0[r] = FI_SET64(pl->key[0] + r * FI_PHILOX_W0);
        vp->k1[r] = FI_SET64(pl->key[1] + r * FI_PHILOX_W1);
    }
    vp->s0 = FI_SET64(pl->ctr_hi[0]);
    vp->s1 = FI_SET64(pl->ctr_hi[1]);
    vp->fa = FI_F_C(pl->f_a);
    vp->fb = FI_F_C(pl->f_b);
    vp->flo = FI_F_C(pl->f_lo);
    vp->fhi = FI_F_C(pl->f_hi);
    vp->da = FI_D_C(pl->d_a);
    vp->db = FI_D_C(pl->d_b);
    vp->dlo = FI_D_C(pl->d_lo);
    vp->dhi = FI_D_C(pl->d_hi);
    vp->pa = FI_D_C(pl->t_pa);
    vp->qb = FI_D_C(pl->t_qb);
    vp->mass = FI_D_C(pl->t_mass);
}

/* Philox blocks blk .. blk + FI_NW - 1: word j of block blk + l in the low half of
 * 64-bit lane l of *xj (the upper halves hold leftovers). */
FI_VINLINE void fiv_philox(const fi_vplan *vp, uint64_t blk, fi_vul *x0, fi_vul *x1, fi_vul *x2,
                           fi_vul *x3)
{
    fi_vul ctr = FI_SET64(blk) + FI_IOTA64; /* 64-bit block counters */
    fi_vul a = ctr, b = ctr >> 32, c = vp->s0, d = vp->s1;
#define FI_VKEY0(r) vp->k0[r]
#define FI_VKEY1(r) vp->k1[r]
    FI_PHILOX10_P(fi_vul, FI_MUL32, FI_VKEY0, FI_VKEY1, a, b, c, d);
#undef FI_VKEY0
#undef FI_VKEY1
    *x0 = a;
    *x1 = b;
    *x2 = c;
    *x3 = d;
}

/* the batch's 4 FI_NW words in stream order: w0 = the first 2 FI_NW, w1 = the rest */
FI_VINLINE void fiv_words(const fi_vplan *vp, uint64_t blk, fi_vu *w0, fi_vu *w1)
{
    fi_vul x0, x1, x2, x3;
    fi_vint o0, o1;
    fiv_philox(vp, blk, &x0, &x1, &x2, &x3);
    /* per block: (word 0, word 1) and (word 2, word 3) as 64-bit lanes, interleaved */
    fi_zip64((fi_vint)FI_PAIR(x0, x1), (fi_vint)FI_PAIR(x2, x3), &o0, &o1);
    *w0 = (fi_vu)o0;
    *w1 = (fi_vu)o1;
}

/* ------------------------------------------------------------ batches ---------
 * A batch is FI_NW Philox blocks from block blk: 4 FI_NW elements of 32-bit outputs,
 * 2 FI_NW of float64.  fiv_batch gives their values in element order as two vectors
 * (bit patterns in a fi_vu carrier). */
enum { FI_K_UNIFORM_F, FI_K_NORMAL_F, FI_K_UNIFORM_D, FI_K_NORMAL_D, FI_K_RAW };

FI_VINLINE void fiv_batch(const fi_vplan *vp, int kind, uint64_t blk, fi_vu *v0, fi_vu *v1)
{
    fi_vul x0, x1, x2, x3;
    fi_vu w0, w1;
    switch (kind) {
    case FI_K_RAW:
        fiv_words(vp, blk, v0, v1);
        return;
    case FI_K_UNIFORM_F:
        fiv_words(vp, blk, &w0, &w1);
        *v0 = (fi_vu)fiv_uniform_f(w0, vp->fa, vp->fb, vp->flo, vp->fhi);
        *v1 = (fi_vu)fiv_uniform_f(w1, vp->fa, vp->fb, vp->flo, vp->fhi);
        return;
    case FI_K_NORMAL_F: {
        /* lane 2l: the pair of words 0, 1 of block l; lane 2l + 1: words 2, 3 -
         * so lane j holds pair j of the batch */
        fi_vf zc, zs, o0, o1;
        fiv_philox(vp, blk, &x0, &x1, &x2, &x3);
        fiv_normal_pair_f((fi_vu)FI_PAIR(x0, x2), (fi_vu)FI_PAIR(x1, x3), vp->fa, vp->fb, &zc, &zs);
        fi_zip32(zc, zs, &o0, &o1); /* pair j gives elements 2j, 2j + 1 */
        *v0 = (fi_vu)o0;
        *v1 = (fi_vu)o1;
        return;
    }
    default: {
        /* 64-bit words: block l holds u64 words 2l (words 0, 1) and 2l + 1 (2, 3) */
        fi_vd y0, y1;
        fi_vint o0, o1;
        fiv_philox(vp, blk, &x0, &x1, &x2, &x3);
        fi_vul a = FI_PAIR(x0, x1), b = FI_PAIR(x2, x3);
        if (kind == FI_K_UNIFORM_D) {
            y0 = fiv_uniform_d(a, vp->da, vp->db, vp->dlo, vp->dhi);
            y1 = fiv_uniform_d(b, vp->da, vp->db, vp->dlo, vp->dhi);
        } else {
            fiv_normal_pair_d(a, b, vp->da, vp->db, &y0, &y1);
        }
        fi_zip64((fi_vint)y0, (fi_vint)y1, &o0, &o1);
        *v0 = (fi_vu)o0;
        *v1 = (fi_vu)o1;
        return;
    }
    }
}

/* ------------------------------------------------------------- driver ---------- */
/* Output formats: 32-bit (float32, raw words), 64-bit, float16, bfloat16. */
enum { FI_O_32, FI_O_64, FI_O_F16, FI_O_BF16 };

/* Pieces of at least this many bytes (one thread's contiguous run) use non-temporal
 * stores: from half a typical last-level cache on, the output would not stay cached
 * anyway, and bypassing the caches saves each line's read for ownership - which
 * matters where the write bandwidth is the limit (uniform: 2 threads write about
 * 19 GB/s here), while it costs a few percent on compute-bound fills (normal). */
#define FI_STREAM_BYTES ((uint64_t)16 << 20)

/* bytes of the batch's values (2 vectors, or one for 16-bit outputs) to p */
FI_VINLINE void fiv_store(int of, void *p, fi_vu v0, fi_vu v1, int stream)
{
    switch (of) {
    case FI_O_F16: fi_store16x2(p, fiv_f16_bits((fi_vf)v0), fiv_f16_bits((fi_vf)v1)); return;
    case FI_O_BF16: fi_store16x2(p, fiv_bf16_bits((fi_vf)v0), fiv_bf16_bits((fi_vf)v1)); return;
    default:
        if (stream) {
            FI_STREAM_I(p, v0);
            FI_STREAM_I((char *)p + FI_VBYTES, v1);
        } else {
            FI_STOREU_I(p, v0);
            FI_STOREU_I((char *)p + FI_VBYTES, v1);
        }
    }
}

/* elements [start, start + n) of kind `kind` in output format `of` */
FI_VINLINE void fiv_run(const fi_plan *plan, int kind, int of, uint64_t start, uint64_t n,
                        char *out)
{
    fi_vplan vp;
    FI_FN(vplan)(plan, &vp);
    const uint64_t epb = of == FI_O_64 ? 2 : 4;        /* elements per Philox block */
    const uint64_t be = epb * FI_NW;                   /* elements per batch */
    const uint64_t isz = of == FI_O_64 ? 8 : of == FI_O_32 ? 4 : 2;
    const uint64_t end = start + n;

    /* whole batches start at the first block boundary whose address is vector-aligned
     * (if there is one: for odd starts of 16-byte elements there is none) */
    uint64_t e_main = start;
    int aligned = 0;
    for (uint64_t k = 0; k < FI_VBYTES / isz + epb && k < n; k++) {
        if ((start + k) % epb == 0 && ((uintptr_t)(out + k * isz)) % FI_VBYTES == 0) {
            e_main = start + k;
            aligned = 1;
            break;
        }
    }
    const int stream = aligned && n * isz >= FI_STREAM_BYTES && of <= FI_O_64;

    union {
        fi_vu v[2];
        unsigned char b[2 * FI_VBYTES];
    } tmp;
    uint64_t e = start;
    while (e < end) {
        uint64_t blk = e / epb, b0 = blk * epb;
        fi_vu v0, v1;
        if (b0 == e && e >= e_main && end - e >= 4 * be) {
            /* four independent batches in one basic block: the batch's dependency
             * chain (ten Philox rounds, then the math) is much longer than its
             * instruction count allows for, so the scheduler (-fschedule-insns)
             * interleaves four of them */
            fi_vu a1, b1, a2, b2, a3, b3;
            fiv_batch(&vp, kind, blk, &v0, &v1);
            fiv_batch(&vp, kind, blk + FI_NW, &a1, &b1);
            fiv_batch(&vp, kind, blk + 2 * FI_NW, &a2, &b2);
            fiv_batch(&vp, kind, blk + 3 * FI_NW, &a3, &b3);
            fiv_store(of, out + (e - start) * isz, v0, v1, stream);
            fiv_store(of, out + (e + be - start) * isz, a1, b1, stream);
            fiv_store(of, out + (e + 2 * be - start) * isz, a2, b2, stream);
            fiv_store(of, out + (e + 3 * be - start) * isz, a3, b3, stream);
            e += 4 * be;
            continue;
        }
        if (b0 == e && e >= e_main && end - e >= be) {
            fiv_batch(&vp, kind, blk, &v0, &v1);
            fiv_store(of, out + (e - start) * isz, v0, v1, stream);
            e += be;
            continue;
        }
        /* a partial batch (head, up to the aligned start, or tail): through a buffer */
        uint64_t stop = b0 + be < end ? b0 + be : end;
        if (e < e_main && e_main < stop) stop = e_main;
        fiv_batch(&vp, kind, blk, &v0, &v1);
        fiv_store(of, tmp.b, v0, v1, 0);
        memcpy(out + (e - start) * isz, tmp.b + (e - b0) * isz, (size_t)((stop - e) * isz));
        e = stop;
    }
    if (stream) FI_SFENCE();
}

/* -------------------------------------------------------- truncated normal ----
 * Most values need only AS241's central rational function; the tail one (a log, a
 * square root and two more rational functions) is needed where p < 0.075, about one
 * value in nine for the usual bounds.  So a tile is computed in two passes: the first
 * gives every element its central value and collects the (p, position) of the tail
 * lanes densely; the second runs the tail function on full vectors of those and
 * patches the tile.  Each element still gets exactly the operations of trunc_x. */
#define FI_TRUNC_TILE 512 /* elements per tile, a multiple of every batch size */

typedef struct {
    union {
        float f[FI_TRUNC_TILE];
        double d[FI_TRUNC_TILE];
    } v FI_ALIGN64;
    uint16_t h[FI_TRUNC_TILE] FI_ALIGN64;           /* float16 / bfloat16 bits */
    double tp[FI_TRUNC_TILE + FI_NW] FI_ALIGN64;  /* tail lanes: p, negated where "lower" */
    int64_t tpos[FI_TRUNC_TILE + FI_NW] FI_ALIGN64; /* their positions in the tile */
    double tx[FI_TRUNC_TILE + FI_NW] FI_ALIGN64;  /* their values, mean + std z */
} fi_trunc_tile;

/* pass 1 on one vector of (u, v): the central value of every lane, tail lanes queued */
FI_VINLINE fi_vd fiv_trunc_central(const fi_vplan *vp, fi_vd u, fi_vd v, fi_vl pos,
                                   fi_trunc_tile *t, int *nt)
{
    fi_md lower, central;
    fi_vd p = fiv_trunc_p(u, v, vp->pa, vp->qb, vp->mass, &lower);
    fi_vd z = fiv_qinv_central(p, &central);
    *nt += fi_compress_d(FI_MD_NOT(central), FI_D_SEL(lower, -p, p), pos, t->tp + *nt, t->tpos + *nt);
    return fiv_trunc_finish(z, lower, vp->da, vp->db);
}

/* pass 1 on batch b of the tile (blocks blk + b FI_NW ...) */
FI_VINLINE void fiv_trunc_batch(const fi_vplan *vp, int f64, uint64_t blk, uint32_t b,
                                fi_trunc_tile *t, int *nt)
{
    const fi_vl iota = (fi_vl)FI_IOTA64;
    if (f64) {
        /* lane l of a is element 2l of the batch, lane l of b element 2l + 1 */
        fi_vul x0, x1, x2, x3;
        fi_vd u, v, y0, y1;
        fi_vint o0, o1;
        fiv_philox(vp, blk + (uint64_t)b * FI_NW, &x0, &x1, &x2, &x3);
        fi_vl pos = (fi_vl)FI_SET64((uint64_t)b * 2 * FI_NW) + 2 * iota;
        fiv_trunc_uv_64(FI_PAIR(x0, x1), &u, &v);
        y0 = fiv_clamp_d(fiv_trunc_central(vp, u, v, pos, t, nt), vp->dlo, vp->dhi);
        fiv_trunc_uv_64(FI_PAIR(x2, x3), &u, &v);
        y1 = fiv_clamp_d(fiv_trunc_central(vp, u, v, pos + 1, t, nt), vp->dlo, vp->dhi);
        fi_zip64((fi_vint)y0, (fi_vint)y1, &o0, &o1);
        FI_STOREU_I(t->v.d + b * 2 * FI_NW, o0);
        FI_STOREU_I(t->v.d + b * 2 * FI_NW + FI_NW, o1);
    } else {
        /* words in element order: w0 holds elements 0 .. 2 FI_NW - 1, w1 the rest */
        fi_vu w[2];
        fiv_words(vp, blk + (uint64_t)b * FI_NW, &w[0], &w[1]);
        for (int h = 0; h < 2; h++) {
            fi_vd u, v, xl, xh;
            fi_vl pos = (fi_vl)FI_SET64((uint64_t)b * 4 * FI_NW + (uint64_t)h * 2 * FI_NW) + iota;
            fiv_trunc_uv_32(FI_WIDEN_LO(w[h]), &u, &v);
            xl = fiv_trunc_central(vp, u, v, pos, t, nt);
            fiv_trunc_uv_32(FI_WIDEN_HI(w[h]), &u, &v);
            xh = fiv_trunc_central(vp, u, v, pos + FI_NW, t, nt);
            FI_STOREU_F(t->v.f + b * 4 * FI_NW + h * 2 * FI_NW,
                        fiv_clamp_f(FI_D2F_JOIN(xl, xh), vp->flo, vp->fhi));
        }
    }
}

/* the tile's nb batches from block blk; values (float or double) in t->v */
FI_VINLINE void fiv_trunc_tile(const fi_vplan *vp, const fi_plan *pl, int f64, uint64_t blk,
                               uint32_t nb, fi_trunc_tile *t)
{
    int nt = 0;
    for (uint32_t b = 0; b < nb; b++) fiv_trunc_batch(vp, f64, blk, b, t, &nt);
    /* pass 2: the tail lanes, FI_NW at a time (the last vector padded with a harmless p) */
    for (int i = nt; i < nt + FI_NW; i++) t->tp[i] = 0.25;
    for (int i = 0; i < nt; i += FI_NW) {
        fi_vd ps = FI_LOADU_D(t->tp + i);
        fi_vd p = FI_D_AS_D(FI_D_AS_U(ps) & 0x7FFFFFFFFFFFFFFFull); /* exactly p >= 0 */
        fi_md lower = FI_D_NEG(FI_D_AS_L(ps));
        FI_STOREU_D(t->tx + i, fiv_trunc_finish(fiv_qinv_tail(p), lower, vp->da, vp->db));
    }
    /* (the scalar clamps and rounding are the same IEEE operations as the vector ones) */
    if (f64)
        for (int i = 0; i < nt; i++) t->v.d[t->tpos[i]] = fi_clamp_d(t->tx[i], pl->d_lo, pl->d_hi);
    else
        for (int i = 0; i < nt; i++)
            t->v.f[t->tpos[i]] = fi_clamp_f((float)t->tx[i], pl->f_lo, pl->f_hi);
}

FI_VINLINE void fiv_run_trunc(const fi_plan *plan, int of, uint64_t start, uint64_t n, char *out)
{
    fi_vplan vp;
    FI_FN(vplan)(plan, &vp);
    const int f64 = of == FI_O_64;
    const uint64_t epb = f64 ? 2 : 4, be = epb * FI_NW;
    const uint64_t isz = f64 ? 8 : of == FI_O_32 ? 4 : 2;
    const uint64_t end = start + n;
    fi_trunc_tile t;
    for (uint64_t e = start; e < end;) {
        uint64_t blk = e / epb, t0 = blk * epb;
        uint64_t nb = (end - t0 + be - 1) / be;
        if (nb > FI_TRUNC_TILE / be) nb = FI_TRUNC_TILE / be;
        fiv_trunc_tile(&vp, plan, f64, blk, (uint32_t)nb, &t);
        uint64_t stop = t0 + nb * be < end ? t0 + nb * be : end;
        const char *src = (const char *)t.v.d;
        if (of == FI_O_F16 || of == FI_O_BF16) {
            for (uint64_t i = 0; i < nb * be; i += 4 * FI_NW) {
                fi_vf a = FI_LOADU_F(t.v.f + i), b = FI_LOADU_F(t.v.f + i + 2 * FI_NW);
                if (of == FI_O_F16) fi_store16x2(t.h + i, fiv_f16_bits(a), fiv_f16_bits(b));
                else fi_store16x2(t.h + i, fiv_bf16_bits(a), fiv_bf16_bits(b));
            }
            src = (const char *)t.h;
        }
        memcpy(out + (e - start) * isz, src + (e - t0) * isz, (size_t)((stop - e) * isz));
        e = stop;
    }
}

/* one function per (distribution, output format), each its own loop: separate
 * functions keep the register allocation of each loop to itself */
#define FI_RUN_FN(kind, of)                                                                \
    static __attribute__((noinline)) void FI_CAT(fiv_run_##kind##_##of, FI_ISA)(           \
        const fi_plan *plan, uint64_t start, uint64_t n, char *out)                        \
    {                                                                                      \
        fiv_run(plan, FI_K_##kind, FI_O_##of, start, n, out);                              \
    }
FI_RUN_FN(UNIFORM_F, 32)
FI_RUN_FN(UNIFORM_F, F16)
FI_RUN_FN(UNIFORM_F, BF16)
FI_RUN_FN(NORMAL_F, 32)
FI_RUN_FN(NORMAL_F, F16)
FI_RUN_FN(NORMAL_F, BF16)
#define FI_RUN_TRUNC_FN(of)                                                                \
    static __attribute__((noinline)) void FI_CAT(fiv_run_TRUNC_##of, FI_ISA)(                \
        const fi_plan *plan, uint64_t start, uint64_t n, char *out)                        \
    {                                                                                      \
        fiv_run_trunc(plan, FI_O_##of, start, n, out);                                     \
    }
FI_RUN_TRUNC_FN(32)
FI_RUN_TRUNC_FN(F16)
FI_RUN_TRUNC_FN(BF16)
FI_RUN_TRUNC_FN(64)
FI_RUN_FN(UNIFORM_D, 64)
FI_RUN_FN(NORMAL_D, 64)
FI_RUN_FN(RAW, 32)

typedef void (*fi_run_fn)(const fi_plan *, uint64_t, uint64_t, char *);
#define FI_RUN_PTR(kind, of) FI_CAT(fiv_run_##kind##_##of, FI_ISA)

static void FI_FN(fill)(const fi_plan *plan, uint64_t start, uint64_t n, void *out_)
{
    /* [distribution][dtype], dtypes in the order of fi_dtype */
    static const fi_run_fn runs[3][4] = {
        {FI_RUN_PTR(UNIFORM_F, 32), FI_RUN_PTR(UNIFORM_D, 64), FI_RUN_PTR(UNIFORM_F, F16),
         FI_RUN_PTR(UNIFORM_F, BF16)},
        {FI_RUN_PTR(NORMAL_F, 32), FI_RUN_PTR(NORMAL_D, 64), FI_RUN_PTR(NORMAL_F, F16),
         FI_RUN_PTR(NORMAL_F, BF16)},
        {FI_RUN_PTR(TRUNC, 32), FI_RUN_PTR(TRUNC, 64), FI_RUN_PTR(TRUNC, F16),
         FI_RUN_PTR(TRUNC, BF16)},
    };
    char *out = (char *)out_;
    if (n == 0) return;
    if (plan->dist == FI_CONSTANT) {
        FI_FN(fill_constant)(plan, n, out);
        return;
    }
    runs[plan->dist][plan->dtype](plan, start, n, out);
}

static void FI_FN(raw)(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out)
{
    if (n) FI_RUN_PTR(RAW, 32)(plan, start, n, (char *)out);
}
const fi_kernel_table FI_FN(fi_kernels) = {FI_FN(fill), FI_FN(raw)};
