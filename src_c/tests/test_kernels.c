/*
 * Memory-safety and cross-path driver for the fill kernels (run it under
 * AddressSanitizer + UBSan: `make SANITIZE=1 test`).
 *
 * What it proves, for every distribution x dtype x instruction set this CPU runs:
 *   - serial fills of odd lengths at odd (unaligned, tile-straddling) starts, into
 *     destinations at odd element offsets, write exactly their n elements: guard bytes
 *     on both sides keep their pattern, and ASan sees no access outside the buffer;
 *   - every path gives the bits of the generic path, and any split of [0, n) gives
 *     the bits of one call (near word 0, across block counter 2^32, near index 2^63);
 *   - raw words equal single Philox blocks computed one by one, up to word 2^64 - 1;
 *   - region fills (fi_fill_region) into strided, transposed, padded and reversed
 *     outputs write each region element at its address with the value of its
 *     logical index and touch no other byte, in one call or in arbitrary pieces,
 *     with 1, 2 or 3 threads, for logical shapes up to 2^63 - 1 elements;
 *   - values respect the distribution's bounds, float16/bfloat16 are the float32
 *     value rounded to nearest even (checked against an independent converter);
 *   - invalid requests are rejected by fi_prepare with a message;
 *   - the caller's FP environment (rounding mode, FTZ/DAZ) changes no bit and is
 *     restored after every call.
 *
 * Usage: test_kernels [-v]      exit status 0 when every check passed.
 */
#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fastinit.h"

#if defined(__SSE2__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#define FTZ_DAZ 0x8040u /* MXCSR flush-to-zero (bit 15) and denormals-are-zero (bit 6) */
#endif

static int verbose;
static long n_checks, n_failed;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        n_checks++;                                                                        \
        if (!(cond)) {                                                                     \
            if (n_failed++ < 40) {                                                         \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                                \
                printf(__VA_ARGS__);                                                       \
                printf("\n");                                                              \
            }                                                                              \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------ utilities ---- */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rnd_below(uint64_t n) { return n ? rnd() % n : 0; }

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

#define GUARD 64          /* guard bytes on each side of every output */
#define SENTINEL 0xA5u    /* their pattern (not a value any fill produces in all bytes) */

/* A buffer of `bytes` payload bytes at `base + GUARD + lead`, surrounded by sentinel. */
typedef struct {
    unsigned char *base;
    size_t lead, bytes, total;
} guarded;

static guarded guarded_new(size_t lead, size_t bytes)
{
    guarded g = {NULL, lead, bytes, 2 * GUARD + lead + bytes};
    g.base = xmalloc(g.total);
    memset(g.base, SENTINEL, g.total);
    return g;
}
static void *guarded_data(const guarded *g) { return g->base + GUARD + g->lead; }
static int guarded_intact(const guarded *g)
{
    for (size_t i = 0; i < GUARD + g->lead; i++)
        if (g->base[i] != SENTINEL) return 0;
    for (size_t i = GUARD + g->lead + g->bytes; i < g->total; i++)
        if (g->base[i] != SENTINEL) return 0;
    return 1;
}

static const char *DIST_NAME[] = {"uniform", "normal", "trunc_normal", "constant"};
static const char *DTYPE_NAME[] = {"float32", "float64", "float16", "bfloat16"};

/* --------------------------------------- independent dtype conversions ---- */
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static double u2d(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

/* x rounded to nearest even with p significand bits, minimum normal exponent emin,
 * largest finite value maxv (beyond it: infinity).  Uses rint (round to nearest). */
static double round_to_format(double x, int p, int emin, double maxv)
{
    if (x != x || x == 0 || isinf(x)) return x;
    int e = ilogb(x);
    if (e < emin) e = emin;
    double q = ldexp(1.0, e - p + 1);
    double r = rint(x / q) * q;
    return fabs(r) > maxv ? copysign(INFINITY, x) : r;
}

static uint16_t ref_f16_bits(float f)
{
    uint32_t sign = (f2u(f) >> 16) & 0x8000u;
    if (f != f) return (uint16_t)(sign | 0x7E00u);
    double r = fabs(round_to_format(f, 11, -14, 65504.0));
    if (isinf(r)) return (uint16_t)(sign | 0x7C00u);
    if (r < 0x1p-14) return (uint16_t)(sign | (uint32_t)(r * 0x1p24));
    int e = ilogb(r);
    uint32_t m = (uint32_t)((ldexp(r, -e) - 1.0) * 1024.0);
    return (uint16_t)(sign | (uint32_t)(e + 15) << 10 | m);
}

static uint16_t ref_bf16_bits(float f)
{
    if (f != f) return (uint16_t)((f2u(f) >> 16) | 0x0040u); /* quiet NaN, sign kept */
    double r = round_to_format(f, 8, -126, 0x1.fep127);
    return (uint16_t)(f2u((float)r) >> 16);
}

static double f16_value(uint16_t h)
{
    int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h & 0x8000u) ? -v : v;
}

/* element j of a buffer of dtype dt, as a double */
static double value_at(const void *buf, int dt, uint64_t j)
{
    switch (dt) {
    case FI_F32: return ((const float *)buf)[j];
    case FI_F64: return ((const double *)buf)[j];
    case FI_F16: return f16_value(((const uint16_t *)buf)[j]);
    default: return u2f((uint32_t)((const uint16_t *)buf)[j] << 16);
    }
}

/* ------------------------------------------------------ parameter sets ---- */
typedef struct {
    int dist;
    double p[4];
} params;

static const params PARAMS[] = {
    {FI_UNIFORM, {0.0, 1.0}},
    {FI_UNIFORM, {-0.1, 0.1}},
    {FI_UNIFORM, {5.0, 5.0}},            /* empty interval: the constant low */
    {FI_UNIFORM, {-3.0, 1e-3}},
    {FI_UNIFORM, {1e-45, 4e-45}},        /* float32 subnormals; nothing in float16 */
    {FI_UNIFORM, {65000.0, 65504.0}},    /* float16's top */
    {FI_UNIFORM, {-1e300, 1e300}},       /* float64 only */
    {FI_NORMAL, {0.0, 1.0}},
    {FI_NORMAL, {3.0, 0.0}},             /* std 0: the mean */
    {FI_NORMAL, {-1e4, 1e-3}},
    {FI_NORMAL, {0.0, 7000.0}},          /* near float16's range limit */
    {FI_TRUNC_NORMAL, {0.0, 1.0, -2.0, 2.0}},
    {FI_TRUNC_NORMAL, {0.0, 1.0, -INFINITY, INFINITY}},
    {FI_TRUNC_NORMAL, {0.0, 1.0, 8.0, 9.0}},       /* far upper tail */
    {FI_TRUNC_NORMAL, {0.0, 1.0, -30.0, -29.9}},   /* narrow, far lower tail */
    {FI_TRUNC_NORMAL, {0.5, 2.0, 35.0, INFINITY}}, /* beyond 35 sigma */
    {FI_TRUNC_NORMAL, {1.0, 0.0, -1.0, 1.0}},      /* std 0 */
    {FI_TRUNC_NORMAL, {0.0, 0.02, -INFINITY, -20.0}},
    {FI_TRUNC_NORMAL, {0.0, 1.0, -1e-9, 1e-9}},    /* tiny interval at the mode */
    {FI_CONSTANT, {0.0}},
    {FI_CONSTANT, {-0.0}},
    {FI_CONSTANT, {1.0 / 3.0}},
    {FI_CONSTANT, {1e-40}},              /* float32 subnormal */
    {FI_CONSTANT, {INFINITY}},
    {FI_CONSTANT, {-INFINITY}},
    {FI_CONSTANT, {NAN}},
    {FI_CONSTANT, {65519.0}},            /* float16: rounds down to 65504 */
};
#define NPARAMS (sizeof PARAMS / sizeof PARAMS[0])

static fi_spec make_spec(const params *ps, int dt, uint64_t seed, uint64_t stream)
{
    fi_spec s;
    memset(&s, 0, sizeof s);
    s.dist = ps->dist;
    s.dtype = dt;
    s.seed = seed;
    s.stream = stream;
    memcpy(s.p, ps->p, sizeof s.p);
    return s;
}

static int isa_list(int *isas)
{
    int n = 0;
    for (int i = 0; i < FI_NISA; i++)
        if (fi_isa_supported(i)) isas[n++] = i;
    return n;
}

/* ------------------------------------------------------------ raw words ---- */
static void test_raw(void)
{
    static const uint64_t starts[] = {0, 1, 2, 3, 5, 1023, 1025, 4093, ((uint64_t)1 << 34) - 7,
                                      ((uint64_t)1 << 63) + 1, UINT64_MAX - 70000,
                                      UINT64_MAX - 4099, UINT64_MAX - 6, UINT64_MAX};
    int isas[FI_NISA], nisa = isa_list(isas);
    fi_spec spec = make_spec(&PARAMS[0], FI_F32, 0x0123456789ABCDEFull, 0xFEDCBA9876543210ull);
    for (int k = 0; k < nisa; k++) {
        fi_plan plan;
        const char *err = NULL;
        CHECK(fi_prepare(&spec, isas[k], &plan, &err) == 0, "prepare: %s", err);
        for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
            uint64_t start = starts[s];
            uint64_t room = UINT64_MAX - start + 1; /* words left up to 2^64 (0: all) */
            uint64_t lens[] = {1, 2, 3, 7, 1024, 1029, 2 * 1024 + 5, 70001};
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                uint64_t n = lens[l];
                if (room && n > room) n = room;
                guarded g = guarded_new(4 * rnd_below(3), n * 4);
                uint32_t *out = guarded_data(&g);
                fi_random_raw(&plan, start, n, out);
                CHECK(guarded_intact(&g), "raw %s start %llu n %llu wrote outside its buffer",
                      fi_isa_name(isas[k]), (unsigned long long)start, (unsigned long long)n);
                /* sample words against single Philox blocks (all of them when few) */
                for (uint64_t i = 0; i < n; i += n > 64 ? 1 + rnd_below(97) : 1) {
                    uint64_t j = start + i, b = j >> 2;
                    uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), (uint32_t)spec.stream,
                                       (uint32_t)(spec.stream >> 32)};
                    uint32_t key[2] = {(uint32_t)spec.seed, (uint32_t)(spec.seed >> 32)}, blk[4];
                    fi_philox4x32(10, ctr, key, blk);
                    CHECK(out[i] == blk[j & 3], "raw %s word %llu: %08x, Philox block says %08x",
                          fi_isa_name(isas[k]), (unsigned long long)j, out[i], blk[j & 3]);
                }
                free(g.base);
            }
        }
        /* zero words: nothing written, even at the very top of the stream */
        guarded g = guarded_new(0, 0);
        fi_random_raw(&plan, UINT64_MAX, 0, guarded_data(&g));
        fi_random_raw(&plan, 0, 0, guarded_data(&g));
        CHECK(guarded_intact(&g), "raw with n = 0 wrote something");
        free(g.base);
    }
}

/* --------------------------------------------------------------- values ---- */
/* Bounds a value of this request must respect (independent of the kernels). */
static void check_values(const params *ps, int dt, const fi_plan *pl, const void *buf, uint64_t n,
                         uint64_t start, const char *where)
{
    const double *p = ps->p;
    for (uint64_t j = 0; j < n; j++) {
        double v = value_at(buf, dt, j);
        int ok = 1;
        switch (ps->dist) {
        case FI_UNIFORM:
            ok = p[0] < p[1] ? (v >= p[0] && v < p[1]) : v == pl->d_lo;
            break;
        case FI_NORMAL:
            ok = isfinite(v) && fabs(v - p[0]) <= 8.7 * p[1] * (1 + 1e-6) + fabs(p[0]) * 1e-2;
            if (p[1] == 0) ok = v == pl->d_lo || v == value_at(buf, dt, 0);
            break;
        case FI_TRUNC_NORMAL: {
            double lb = isinf(p[2]) ? -INFINITY : p[0] + p[1] * p[2];
            double ub = isinf(p[3]) ? INFINITY : p[0] + p[1] * p[3];
            ok = isfinite(v) && v >= lb && v <= ub;
            if (p[1] == 0) ok = isfinite(v);
            break;
        }
        default:
            break;
        }
        if (!ok) {
            CHECK(0, "%s %s %s (%g, %g, %g, %g): element %llu = %.17g out of bounds", where,
                  DIST_NAME[ps->dist], DTYPE_NAME[dt], p[0], p[1], p[2], p[3],
                  (unsigned long long)(start + j), v);
            return;
        }
    }
    n_checks++;
}

/* Constants: the value's bits in the dtype, from the independent converters. */
static void check_constant(const params *ps, int dt, const void *buf, uint64_t n)
{
    double v = ps->p[0];
    uint64_t want;
    size_t isz = fi_dtype_size(dt);
    switch (dt) {
    case FI_F64: memcpy(&want, &v, 8); break;
    case FI_F32: want = f2u((float)v); break;
    case FI_F16: want = ref_f16_bits((float)v); break;
    default: want = ref_bf16_bits((float)v); break;
    }
    int same = 1;
    for (uint64_t j = 0; j < n && same; j++) {
        uint64_t got = 0;
        memcpy(&got, (const char *)buf + j * isz, isz); /* little endian */
        same = got == want;
    }
    /* (a NaN constant once came out as infinity in float16: fixed in dtype.c) */
    CHECK(same, "constant %g as %s: wrong bits", v, DTYPE_NAME[dt]);
}

/* float16/bfloat16 outputs are the float32 value rounded to nearest even, except where
 * the dtype's own bounds clamp it (uniform's "never high", truncation bounds). */
static void check_half_vs_f32(const params *ps, int dt, const fi_plan *pl, uint64_t start,
                              uint64_t n, const void *half)
{
    fi_spec s32 = make_spec(ps, FI_F32, 0, 0);
    s32.seed = ((uint64_t)pl->key[1] << 32) | pl->key[0];
    s32.stream = ((uint64_t)pl->ctr_hi[1] << 32) | pl->ctr_hi[0];
    fi_plan p32;
    const char *err;
    if (fi_prepare(&s32, FI_ISA_GENERIC, &p32, &err) != 0) return; /* float32 rejects it */
    float *f = xmalloc(n * 4);
    fi_fill_serial(&p32, start, n, f);
    for (uint64_t j = 0; j < n; j++) {
        uint16_t want = dt == FI_F16 ? ref_f16_bits(f[j]) : ref_bf16_bits(f[j]);
        uint16_t got = ((const uint16_t *)half)[j];
        double v = value_at(half, dt, j);
        if (got != want && v != pl->d_lo && v != pl->d_hi) {
            CHECK(0, "%s %s element %llu: %04x, float32 value %a rounds to %04x",
                  DIST_NAME[ps->dist], DTYPE_NAME[dt], (unsigned long long)(start + j), got, f[j],
                  want);
            break;
        }
    }
    n_checks++;
    free(f);
}

/* ---------------------------------------------------------------- serial ---- */
#define REF_N 5000 /* elements of the reference window: several 1024-element tiles */

static void test_serial(void)
{
    const uint64_t bases[] = {0, ((uint64_t)1 << 34) - 2500, ((uint64_t)1 << 33) - 2501,
                              ((uint64_t)1 << 63) - REF_N};
    int isas[FI_NISA], nisa = isa_list(isas);
    long rejected = 0, cases = 0;
    for (size_t pi = 0; pi < NPARAMS; pi++) {
        for (int dt = 0; dt < FI_NDTYPE; dt++) {
            const params *ps = &PARAMS[pi];
            fi_spec spec = make_spec(ps, dt, rnd(), rnd_below(3) ? rnd() : 0);
            fi_plan ref_plan;
            const char *err = NULL;
            if (fi_prepare(&spec, FI_ISA_GENERIC, &ref_plan, &err) != 0) {
                CHECK(err && *err, "rejection without a message");
                rejected++;
                continue;
            }
            const size_t isz = fi_dtype_size(dt);
            for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++) {
                const uint64_t base = bases[bi];
                char where[64];
                snprintf(where, sizeof where, "base %llu", (unsigned long long)base);
                guarded rg = guarded_new(0, REF_N * isz);
                char *ref = guarded_data(&rg);
                fi_fill_serial(&ref_plan, base, REF_N, ref);
                CHECK(guarded_intact(&rg), "reference fill wrote outside its buffer");
                check_values(ps, dt, &ref_plan, ref, REF_N, base, where);
                if (ps->dist == FI_CONSTANT) check_constant(ps, dt, ref, REF_N);
                if ((dt == FI_F16 || dt == FI_BF16) && ps->dist != FI_CONSTANT)
                    check_half_vs_f32(ps, dt, &ref_plan, base, REF_N, ref);

                for (int k = 0; k < nisa; k++) {
                    fi_plan plan;
                    CHECK(fi_prepare(&spec, isas[k], &plan, &err) == 0, "prepare %s: %s",
                          fi_isa_name(isas[k]), err);
                    /* the whole window in one call, then windows at odd places */
                    for (int w = 0; w < 24; w++) {
                        uint64_t off, n;
                        if (w == 0) off = 0, n = REF_N;
                        else if (w < 8) off = (uint64_t)w, n = (uint64_t)(1024 * (w % 3) + w);
                        else if (w < 12) off = 1024 * (uint64_t)(w - 7) - 1, n = 2 + (uint64_t)w;
                        else {
                            off = rnd_below(REF_N);
                            n = rnd_below(w < 20 ? 9 : REF_N - off + 1);
                        }
                        if (off + n > REF_N) n = REF_N - off;
                        size_t lead = isz * rnd_below(8); /* destination at odd element offsets */
                        guarded g = guarded_new(lead, n * isz);
                        fi_fill_serial(&plan, base + off, n, guarded_data(&g));
                        CHECK(guarded_intact(&g),
                              "%s %s %s: fill of [%llu, +%llu) wrote outside its buffer",
                              fi_isa_name(isas[k]), DIST_NAME[ps->dist], DTYPE_NAME[dt],
                              (unsigned long long)(base + off), (unsigned long long)n);
                        CHECK(memcmp(guarded_data(&g), ref + off * isz, n * isz) == 0,
                              "%s %s %s (%g, %g, %g, %g): [%llu, +%llu) differs from the "
                              "generic path's whole window",
                              fi_isa_name(isas[k]), DIST_NAME[ps->dist], DTYPE_NAME[dt], ps->p[0],
                              ps->p[1], ps->p[2], ps->p[3], (unsigned long long)(base + off),
                              (unsigned long long)n);
                        free(g.base);
                    }
                    /* exactly sized heap buffer: ASan reports any write past its end */
                    uint64_t n = 1 + rnd_below(3000);
                    char *exact = xmalloc(n * isz);
                    fi_fill_serial(&plan, base + 1, n, exact);
                    CHECK(memcmp(exact, ref + isz, n * isz) == 0, "exact-size fill differs");
                    free(exact);
                    cases++;
                }
                free(rg.base);
            }
        }
    }
    if (verbose) printf("serial: %ld cases, %ld requests rejected by their dtype\n", cases, rejected);
}

/* ---------------------------------------------------------------- regions ---- */
typedef struct {
    int nd;
    int64_t shape[8], rstart[8], rlen[8];
    int64_t plen[8], poff[8]; /* parent buffer extents and the region's offset in it */
    int64_t stride[8];        /* output strides in bytes (may be negative) */
    int64_t first;            /* byte offset of the region's first element in the parent */
    size_t parent_bytes;
} layout;

/* A random output layout: padded, any dimension order, some dimensions reversed,
 * optionally an element gap in the innermost dimension. */
static void make_layout(layout *L, size_t isz)
{
    int order[8];
    for (int d = 0; d < L->nd; d++) {
        L->plen[d] = L->rlen[d] + (int64_t)rnd_below(3);
        L->poff[d] = (int64_t)rnd_below((uint64_t)(L->plen[d] - L->rlen[d] + 1));
        order[d] = d;
    }
    if (rnd_below(3) == 0) /* shuffle the memory order */
        for (int d = L->nd - 1; d > 0; d--) {
            int j = (int)rnd_below((uint64_t)d + 1), t = order[d];
            order[d] = order[j];
            order[j] = t;
        }
    int64_t acc = (int64_t)isz * (rnd_below(4) == 0 ? 2 : 1);
    for (int k = L->nd - 1; k >= 0; k--) {
        int d = order[k];
        L->stride[d] = acc;
        acc *= L->plen[d];
    }
    L->parent_bytes = (size_t)acc;
    L->first = 0;
    for (int d = 0; d < L->nd; d++) {
        if (rnd_below(4) == 0) { /* reversed dimension: element 0 at the far end */
            L->first += (L->plen[d] - 1 - L->poff[d]) * L->stride[d];
            L->stride[d] = -L->stride[d];
        } else {
            L->first += L->poff[d] * L->stride[d];
        }
    }
    if (L->nd == 0) L->parent_bytes = isz;
}

static uint64_t region_total(const layout *L)
{
    uint64_t t = 1;
    for (int d = 0; d < L->nd; d++) t *= (uint64_t)L->rlen[d];
    return t;
}

static int fill_layout(const fi_plan *plan, const layout *L, unsigned char *parent, uint64_t begin,
                       uint64_t end, int nthreads)
{
    fi_region reg;
    reg.ndim = L->nd;
    reg.shape = L->shape;
    reg.rstart = L->rstart;
    reg.rlen = L->rlen;
    reg.out = (char *)parent + GUARD + L->first;
    reg.ostride = L->stride;
    return fi_fill_region(plan, &reg, begin, end, nthreads);
}

/* The expected parent: sentinel everywhere but at region elements, which hold the
 * value of their logical index (one-element serial fills of the reference plan). */
static unsigned char *expected_parent(const fi_plan *ref_plan, const layout *L, size_t total_bytes)
{
    unsigned char *e = xmalloc(total_bytes);
    memset(e, SENTINEL, total_bytes);
    uint64_t n = region_total(L);
    int64_t idx[8] = {0};
    for (uint64_t k = 0; k < n; k++) {
        uint64_t lin = 0, mul = 1;
        int64_t at = L->first;
        for (int d = L->nd - 1; d >= 0; d--) {
            lin += (uint64_t)(L->rstart[d] + idx[d]) * mul;
            mul *= (uint64_t)L->shape[d];
            at += idx[d] * L->stride[d];
        }
        fi_fill_serial(ref_plan, lin, 1, e + GUARD + at);
        for (int d = L->nd - 1; d >= 0; d--) { /* next multi-index in C order */
            if (++idx[d] < L->rlen[d]) break;
            idx[d] = 0;
        }
    }
    return e;
}

static void region_case(layout *L, const fi_plan *ref_plan, const fi_plan *plan, int nthreads)
{
    const size_t isz = fi_dtype_size(plan->dtype);
    make_layout(L, isz);
    const size_t total_bytes = L->parent_bytes + 2 * GUARD;
    const uint64_t n = region_total(L);
    unsigned char *want = expected_parent(ref_plan, L, total_bytes);
    unsigned char *got = xmalloc(total_bytes);

    /* one call over all region elements */
    memset(got, SENTINEL, total_bytes);
    CHECK(fill_layout(plan, L, got, 0, n, nthreads) == 0, "fi_fill_region rejected a valid region");
    int ok = memcmp(got, want, total_bytes) == 0;
    CHECK(ok, "region %s %s %s nd %d (%lld elements, %d threads): wrong bytes",
          fi_isa_name(plan->isa), DIST_NAME[plan->dist], DTYPE_NAME[plan->dtype], L->nd,
          (long long)n, nthreads);
    if (!ok && verbose) {
        for (int d = 0; d < L->nd; d++)
            printf("  dim %d: shape %lld start %lld len %lld stride %lld\n", d,
                   (long long)L->shape[d], (long long)L->rstart[d], (long long)L->rlen[d],
                   (long long)L->stride[d]);
    }

    /* the same elements in random pieces (as the Python layer's signal-check chunks) */
    memset(got, SENTINEL, total_bytes);
    for (uint64_t b = 0; b < n;) {
        uint64_t e = b + 1 + rnd_below(rnd_below(4) ? 13 : n); /* mostly short pieces */
        if (e > n) e = n;
        fill_layout(plan, L, got, b, e, nthreads);
        b = e;
    }
    CHECK(memcmp(got, want, total_bytes) == 0, "region filled in pieces differs from one call");

    /* empty and reversed ranges write nothing */
    memset(got, SENTINEL, total_bytes);
    fill_layout(plan, L, got, n / 2, n / 2, nthreads);
    fill_layout(plan, L, got, n, 0, nthreads);
    int untouched = 1;
    for (size_t i = 0; i < total_bytes; i++) untouched &= got[i] == SENTINEL;
    CHECK(untouched, "an empty range wrote something");
    free(want);
    free(got);
}

static void random_shape(layout *L, int big_inner)
{
    L->nd = (int)rnd_below(6);
    uint64_t total = 1;
    for (int d = 0; d < L->nd; d++) {
        int64_t s = 1 + (int64_t)rnd_below(d == L->nd - 1 && big_inner ? 2600 : 7);
        if (total * (uint64_t)s > 30000) s = 1;
        L->shape[d] = s;
        L->rstart[d] = (int64_t)rnd_below((uint64_t)s);
        L->rlen[d] = 1 + (int64_t)rnd_below((uint64_t)(s - L->rstart[d]));
        if (rnd_below(3) == 0) L->rstart[d] = 0, L->rlen[d] = s; /* whole dimension */
        total *= (uint64_t)L->rlen[d];
    }
}

static void test_regions(void)
{
    int isas[FI_NISA], nisa = isa_list(isas);
    const int threads[] = {1, 2, 3};
    const int nthr = fi_have_openmp() ? 3 : 1;
    for (int dist = 0; dist < FI_NDIST; dist++) {
        for (int dt = 0; dt < FI_NDTYPE; dt++) {
            const params *ps = NULL;
            for (size_t i = 0; i < NPARAMS && !ps; i++)
                if (PARAMS[i].dist == dist) ps = &PARAMS[i];
            fi_spec spec = make_spec(ps, dt, rnd(), rnd());
            fi_plan ref_plan;
            const char *err;
            CHECK(fi_prepare(&spec, FI_ISA_GENERIC, &ref_plan, &err) == 0, "prepare: %s", err);
            for (int k = 0; k < nisa; k++) {
                fi_plan plan;
                fi_prepare(&spec, isas[k], &plan, &err);
                for (int rep = 0; rep < 6; rep++) {
                    layout L;
                    random_shape(&L, rep == 0);
                    region_case(&L, &ref_plan, &plan, threads[rep % nthr]);
                }
                /* logical shapes near 2^63 elements: (3037000499, 3037000499) and
                 * (2^63 - 1,), regions at their far ends */
                layout L = {0};
                L.nd = 2;
                L.shape[0] = L.shape[1] = 3037000499LL;
                L.rstart[0] = 3037000499LL - 3;
                L.rstart[1] = 3037000499LL - 40;
                L.rlen[0] = 3;
                L.rlen[1] = 40;
                region_case(&L, &ref_plan, &plan, 1);
                L.nd = 1;
                L.shape[0] = INT64_MAX;
                L.rstart[0] = INT64_MAX - 1029;
                L.rlen[0] = 1029;
                region_case(&L, &ref_plan, &plan, 1);
            }
        }
    }

    /* More threads than work, and a region big enough for the OpenMP split: the
     * threaded fill equals the serial one byte for byte. */
    if (fi_have_openmp()) {
        fi_spec spec = make_spec(&PARAMS[7], FI_F32, 42, 7); /* normal float32 */
        fi_plan plan;
        const char *err;
        fi_prepare(&spec, fi_isa_best(), &plan, &err);
        layout L = {0};
        L.nd = 2;
        L.shape[0] = 700;
        L.shape[1] = 1001;
        L.rstart[0] = 1;
        L.rlen[0] = 699;
        L.rstart[1] = 3;
        L.rlen[1] = 997; /* odd row length: thread pieces split rows */
        make_layout(&L, 4);
        size_t bytes = L.parent_bytes + 2 * GUARD;
        uint64_t n = region_total(&L);
        unsigned char *one = xmalloc(bytes), *many = xmalloc(bytes);
        memset(one, SENTINEL, bytes);
        memset(many, SENTINEL, bytes);
        fill_layout(&plan, &L, one, 0, n, 1);
        for (int t = 2; t <= 8; t += 3) {
            fill_layout(&plan, &L, many, 0, n, t);
            CHECK(memcmp(one, many, bytes) == 0, "%d threads differ from 1 thread", t);
        }
        free(one);
        free(many);
    }

    /* Invalid regions are refused, not walked */
    fi_plan plan;
    const char *err;
    fi_spec spec = make_spec(&PARAMS[0], FI_F32, 1, 2);
    fi_prepare(&spec, FI_ISA_GENERIC, &plan, &err);
    int64_t one64 = 1;
    float cell = 0;
    fi_region bad = {FI_MAX_NDIM + 1, &one64, &one64, &one64, (char *)&cell, &one64};
    CHECK(fi_fill_region(&plan, &bad, 0, 1, 1) != 0, "ndim > FI_MAX_NDIM accepted");
    bad.ndim = -1;
    CHECK(fi_fill_region(&plan, &bad, 0, 1, 1) != 0, "negative ndim accepted");
    CHECK(cell == 0, "a refused region wrote its output");
}

/* ---------------------------------------------------------------- prepare ---- */
static void test_prepare_rejects(void)
{
    struct {
        int dist, dtype;
        double p[4];
        int isa;
    } bad[] = {
        {FI_UNIFORM, FI_F32, {NAN, 1}, 0},
        {FI_UNIFORM, FI_F32, {0, INFINITY}, 0},
        {FI_UNIFORM, FI_F32, {1, 0}, 0},
        {FI_UNIFORM, FI_F32, {-3e38, 3e38}, 0},      /* high - low overflows float32 */
        {FI_UNIFORM, FI_F16, {0, 1e5}, 0},           /* beyond float16 */
        {FI_UNIFORM, FI_F16, {1e-10, 2e-10}, 0},     /* no float16 value inside */
        {FI_UNIFORM, FI_F64, {-1.7e308, 1.7e308}, 0},/* high - low overflows float64 */
        {FI_NORMAL, FI_F32, {0, -1}, 0},
        {FI_NORMAL, FI_F32, {0, NAN}, 0},
        {FI_NORMAL, FI_F16, {0, 8000}, 0},           /* 8.7 sigma overflows float16 */
        {FI_TRUNC_NORMAL, FI_F32, {0, 1, 2, 2}, 0},
        {FI_TRUNC_NORMAL, FI_F32, {0, 1, 3, -3}, 0},
        {FI_TRUNC_NORMAL, FI_F32, {0, 1, NAN, 1}, 0},
        {FI_TRUNC_NORMAL, FI_F32, {0, 1, 40, INFINITY}, 0},
        {FI_TRUNC_NORMAL, FI_F64, {0, 1, 30, 30 + 1e-15}, 0}, /* zero mass */
        {FI_TRUNC_NORMAL, FI_F32, {0, 1, INFINITY, INFINITY}, 0},
        {FI_CONSTANT, FI_F16, {1e6}, 0},
        {FI_CONSTANT, FI_F32, {1e39}, 0},
        {7, FI_F32, {0, 1}, 0},
        {-1, FI_F32, {0, 1}, 0},
        {FI_UNIFORM, 9, {0, 1}, 0},
        {FI_UNIFORM, -1, {0, 1}, 0},
        {FI_UNIFORM, FI_F32, {0, 1}, FI_NISA},
        {FI_UNIFORM, FI_F32, {0, 1}, -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fi_spec s;
        memset(&s, 0, sizeof s);
        s.dist = bad[i].dist;
        s.dtype = bad[i].dtype;
        memcpy(s.p, bad[i].p, sizeof s.p);
        fi_plan plan;
        const char *err = NULL;
        int rc = fi_prepare(&s, bad[i].isa, &plan, &err);
        CHECK(rc != 0 && err && *err, "bad request %zu (dist %d dtype %d p %g %g %g %g) accepted", i,
              bad[i].dist, bad[i].dtype, bad[i].p[0], bad[i].p[1], bad[i].p[2], bad[i].p[3]);
        if (verbose && rc != 0) printf("  rejected %zu: %s\n", i, err);
    }
}

/* ---------------------------------------------------------- FP environment ---- */
static void fill_all_ways(const fi_spec *spec, int isa, uint64_t n, unsigned char *out3)
{
    fi_plan plan;
    const char *err;
    CHECK(fi_prepare(spec, isa, &plan, &err) == 0, "prepare: %s", err);
    size_t bytes = n * fi_dtype_size(spec->dtype);
    fi_fill_serial(&plan, 3, n, out3);
    int64_t shape = (int64_t)n + 10, start = 3, len = (int64_t)n, stride = (int64_t)fi_dtype_size(spec->dtype);
    fi_region reg = {1, &shape, &start, &len, (char *)out3 + bytes, &stride};
    fi_fill_region(&plan, &reg, 0, n, 1);
    reg.out = (char *)out3 + 2 * bytes;
    fi_fill_region(&plan, &reg, 0, n, 3);
}

static void test_fp_environment(void)
{
    static const params ps[] = {
        {FI_UNIFORM, {1e-45, 4e-45}}, {FI_UNIFORM, {-3.0, 7.0}}, {FI_NORMAL, {0.0, 1e-39}},
        {FI_NORMAL, {0.5, 2.0}},      {FI_TRUNC_NORMAL, {0.0, 1.0, -2.0, 2.0}},
        {FI_TRUNC_NORMAL, {0.0, 1.0, 8.0, 9.0}}, {FI_CONSTANT, {1e-40}},
    };
    const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, -1 /* FTZ + DAZ */};
    const uint64_t n = 140000; /* above the threaded split's threshold (2 x 65536) */
    int isas[FI_NISA], nisa = isa_list(isas);
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        for (int dt = 0; dt < FI_NDTYPE; dt++) {
            fi_spec spec = make_spec(&ps[i], dt, 77, 5);
            fi_plan probe;
            const char *err;
            if (fi_prepare(&spec, FI_ISA_GENERIC, &probe, &err) != 0) continue;
            size_t bytes = 3 * n * fi_dtype_size(dt);
            unsigned char *want = xmalloc(bytes), *got = xmalloc(bytes);
            for (int k = 0; k < nisa; k++) {
                fill_all_ways(&spec, isas[k], n, want);
                for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
#ifndef HAVE_MXCSR
                    if (modes[m] < 0) continue;
#endif
                    fenv_t saved;
                    fegetenv(&saved);
                    if (modes[m] >= 0) fesetround(modes[m]);
#ifdef HAVE_MXCSR
                    else _mm_setcsr(_mm_getcsr() | FTZ_DAZ);
                    unsigned csr_before = _mm_getcsr() & ~0x3Fu; /* control bits only */
#endif
                    fill_all_ways(&spec, isas[k], n, got);
                    int round_kept = fegetround() == (modes[m] >= 0 ? modes[m] : FE_TONEAREST);
#ifdef HAVE_MXCSR
                    int csr_kept = (_mm_getcsr() & ~0x3Fu) == csr_before;
#else
                    int csr_kept = 1;
#endif
                    fesetenv(&saved);
                    CHECK(round_kept && csr_kept, "a fill did not restore the caller's FP environment");
                    CHECK(memcmp(want, got, bytes) == 0,
                          "%s %s %s (%g, %g): values change under FP mode %d", fi_isa_name(isas[k]),
                          DIST_NAME[ps[i].dist], DTYPE_NAME[dt], ps[i].p[0], ps[i].p[1], modes[m]);
                }
            }
            free(want);
            free(got);
        }
    }
}

/* The independent converters agree with a few known encodings (tests the test). */
static void test_converters(void)
{
    CHECK(ref_f16_bits(1.0f) == 0x3C00, "f16(1)");
    CHECK(ref_f16_bits(65504.0f) == 0x7BFF && ref_f16_bits(65519.0f) == 0x7BFF, "f16 max");
    CHECK(ref_f16_bits(65520.0f) == 0x7C00, "f16 overflow");
    CHECK(ref_f16_bits(0x1p-24f) == 0x0001 && ref_f16_bits(0x1p-25f) == 0x0000, "f16 subnormal");
    CHECK(ref_f16_bits(0x1.8p-25f) == 0x0001, "f16 subnormal rounding");
    CHECK(ref_f16_bits(-2.0f) == 0xC000, "f16(-2)");
    CHECK(ref_f16_bits(1.0f + 0x1p-11f) == 0x3C00 && ref_f16_bits(1.0f + 0x1.8p-10f) == 0x3C02,
          "f16 ties to even");
    CHECK(ref_bf16_bits(1.0f) == 0x3F80 && ref_bf16_bits(u2f(0x3F808000u)) == 0x3F80 &&
              ref_bf16_bits(u2f(0x3F818000u)) == 0x3F82,
          "bf16 ties to even");
    CHECK(ref_bf16_bits(u2f(0x7F7FFFFFu)) == 0x7F80, "bf16 overflow");
    CHECK((ref_bf16_bits(NAN) & 0x7FFF) > 0x7F80 && (ref_f16_bits(NAN) & 0x7FFF) > 0x7C00, "NaN");
    CHECK(f16_value(0x7BFF) == 65504.0 && f16_value(0x0001) == 0x1p-24, "f16 decode");
    CHECK(u2d(0x3FF0000000000000ull) == 1.0, "u2d");
}

int main(int argc, char **argv)
{
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    int isas[FI_NISA], nisa = isa_list(isas);
    printf("test_kernels: paths");
    for (int k = 0; k < nisa; k++) printf(" %s", fi_isa_name(isas[k]));
    printf(", openmp %s\n", fi_have_openmp() ? "yes" : "no");
    test_converters();
    test_prepare_rejects();
    test_raw();
    test_serial();
    test_regions();
    test_fp_environment();
    printf("test_kernels: %ld checks, %ld failed\n", n_checks, n_failed);
    return n_failed ? 1 : 0;
}
