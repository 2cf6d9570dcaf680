/*
 * The regression-hash table of stream version 1, computed by the C core alone: one
 * line per case, "<name> <sha256 of the output bytes>", on every instruction-set path
 * this build has and this CPU runs, forced one by one.  The table must be the same on
 * every path (else the driver fails) and on every machine: tests/test_hashes_c.py
 * compares it with tests/data/regression_hashes.json ("hashes": the fills of
 * tests/test_core_regression.py, "hashes_c": the cases added for the C table), natively
 * and under qemu-aarch64.
 *
 * Usage: hashes            exit status 0 when every path gave the same table.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fastinit.h"

/* ------------------------------------------------------------ SHA-256 ---- */
typedef struct {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
} sha256;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(sha256 *s, const unsigned char *p)
{
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
               p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, s->h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) +
                      ((a[4] & a[5]) ^ (~a[4] & a[6])) + K256[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) +
                      ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof a[0]);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += a[i];
}

static void sha256_init(sha256 *s)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->len = 0;
    s->nbuf = 0;
}

static void sha256_update(sha256 *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->len += n;
    while (n) {
        size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
        memcpy(s->buf + s->nbuf, p, k);
        s->nbuf += k;
        p += k;
        n -= k;
        if (s->nbuf == 64) {
            sha256_block(s, s->buf);
            s->nbuf = 0;
        }
    }
}

static void sha256_hex(sha256 *s, char hex[65])
{
    uint64_t bits = s->len * 8;
    unsigned char pad[72] = {0x80};
    size_t npad = (s->nbuf < 56 ? 56 : 120) - s->nbuf;
    for (int i = 0; i < 8; i++) pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, pad, npad + 8);
    for (int i = 0; i < 8; i++) sprintf(hex + 8 * i, "%08x", s->h[i]);
}

/* ------------------------------------------------------------- the cases ---- */
/* tests/test_core_regression.py: seed 20240601, stream "fastinit/regression", i.e.
 * the first 8 bytes of blake2b("fastinit/regression") read little endian */
#define SEED 20240601u
#define STREAM 0xa14f012a02095796ull
#define INF INFINITY

/* how a case fills: the regression region [3:67, 5:128] of shape (70, 131), a run of
 * logical indices [start, start + n) of a 1-d tensor, or raw words */
enum { REGION, RUN, RAW };

typedef struct {
    const char *name; /* printed as name/dtype (all four dtypes) or name (raw) */
    int kind, dist;
    double p[4];
    uint64_t start, n;
} hcase;

#define B34 ((uint64_t)1 << 34) /* float32 element 2^34 is in block 2^32 */
#define B33 ((uint64_t)1 << 33) /* float64 element 2^33 is in block 2^32 */
static const hcase CASES[] = {
    /* the "hashes" of tests/data/regression_hashes.json */
    {"uniform(-1,1)", REGION, FI_UNIFORM, {-1, 1}, 0, 0},
    {"normal(0,1)", REGION, FI_NORMAL, {0, 1}, 0, 0},
    {"normal(0.5,0.02)", REGION, FI_NORMAL, {0.5, 0.02}, 0, 0},
    {"trunc_normal(0,1,-2,2)", REGION, FI_TRUNC_NORMAL, {0, 1, -2, 2}, 0, 0},
    {"trunc_normal(0,1,0,inf)", REGION, FI_TRUNC_NORMAL, {0, 1, 0, INF}, 0, 0},
    {"trunc_normal(0,1,25,26)", REGION, FI_TRUNC_NORMAL, {0, 1, 25, 26}, 0, 0},
    {"trunc_normal(1,3,-inf,-3)", REGION, FI_TRUNC_NORMAL, {1, 3, -INF, -3}, 0, 0},
    {"full(0.1)", REGION, FI_CONSTANT, {0.1}, 0, 0},
    {"random_raw(4099,start=2**34-7)", RAW, 0, {0}, B34 - 7, 4099},
    /* "hashes_c": odd starts across block counter 2^32, far and narrow tails, the
     * top of the stream */
    {"uniform(0,1)@2**34-4097+9001", RUN, FI_UNIFORM, {0, 1}, B34 - 4097, 9001},
    {"uniform(-3,1e-3)@2**33-4097+9001", RUN, FI_UNIFORM, {-3, 1e-3}, B33 - 4097, 9001},
    {"normal(0,1)@2**34-4097+9001", RUN, FI_NORMAL, {0, 1}, B34 - 4097, 9001},
    {"normal(-2,3)@2**33-4097+9001", RUN, FI_NORMAL, {-2, 3}, B33 - 4097, 9001},
    {"trunc_normal(0,1,-2,2)@2**34-4097+9001", RUN, FI_TRUNC_NORMAL, {0, 1, -2, 2}, B34 - 4097, 9001},
    {"trunc_normal(0,1,8,9)@2**33-4097+9001", RUN, FI_TRUNC_NORMAL, {0, 1, 8, 9}, B33 - 4097, 9001},
    {"trunc_normal(0,1,-30,-29.9)@12345+9001", RUN, FI_TRUNC_NORMAL, {0, 1, -30, -29.9}, 12345, 9001},
    {"trunc_normal(0.5,2,35,inf)@7+9001", RUN, FI_TRUNC_NORMAL, {0.5, 2, 35, INF}, 7, 9001},
    {"trunc_normal(0,1,-1e-9,1e-9)@3+9001", RUN, FI_TRUNC_NORMAL, {0, 1, -1e-9, 1e-9}, 3, 9001},
    {"full(-1/3)@5+1001", RUN, FI_CONSTANT, {-1.0 / 3.0}, 5, 1001},
    {"random_raw(5003,start=2**64-5003)", RAW, 0, {0}, (uint64_t)0 - 5003, 5003},
};
#define NCASES (sizeof CASES / sizeof CASES[0])
#define MAXLINES (NCASES * FI_NDTYPE)

/* the table of one path: lines[i] = "name hash" */
static int table(int isa, char lines[][160])
{
    int nl = 0;
    for (size_t c = 0; c < NCASES; c++) {
        const hcase *hc = &CASES[c];
        for (int dt = 0; dt < (hc->kind == RAW ? 1 : FI_NDTYPE); dt++) {
            fi_spec spec;
            memset(&spec, 0, sizeof spec);
            spec.dist = hc->kind == RAW ? FI_UNIFORM : hc->dist;
            spec.dtype = hc->kind == RAW ? FI_F32 : dt;
            spec.seed = spec.dist == FI_CONSTANT ? 0 : SEED;
            spec.stream = spec.dist == FI_CONSTANT ? 0 : STREAM;
            memcpy(spec.p, hc->p, sizeof spec.p);
            if (hc->kind == RAW) spec.p[1] = 1;
            fi_plan plan;
            const char *err;
            if (fi_prepare(&spec, isa, &plan, &err) != 0) {
                fprintf(stderr, "%s: %s\n", hc->name, err);
                exit(2);
            }
            size_t isz = hc->kind == RAW ? 4 : fi_dtype_size(dt);
            uint64_t n = hc->kind == REGION ? 64 * 123 : hc->n;
            void *out = malloc(n * isz);
            if (!out) exit(2);
            if (hc->kind == RAW) {
                fi_random_raw(&plan, hc->start, n, out);
            } else if (hc->kind == RUN) {
                fi_fill_serial(&plan, hc->start, n, out);
            } else {
                const int64_t shape[2] = {70, 131}, rstart[2] = {3, 5}, rlen[2] = {64, 123};
                const int64_t ostride[2] = {123 * (int64_t)isz, (int64_t)isz};
                fi_region reg = {2, shape, rstart, rlen, out, ostride};
                if (fi_fill_region(&plan, &reg, 0, n, 1) != 0) exit(2);
            }
            sha256 s;
            char hex[65];
            sha256_init(&s);
            sha256_update(&s, out, n * isz); /* little endian: the targets fastinit runs on */
            sha256_hex(&s, hex);
            free(out);
            if (hc->kind == RAW) snprintf(lines[nl++], 160, "%s %s", hc->name, hex);
            else snprintf(lines[nl++], 160, "%s/%s %s", hc->name, fi_dtype_name(dt), hex);
        }
    }
    return nl;
}

int main(void)
{
    static char ref[MAXLINES][160], got[MAXLINES][160];
    int nref = 0, npaths = 0, bad = 0;
    printf("hashes: paths");
    for (int isa = 0; isa < FI_NISA; isa++)
        if (fi_isa_supported(isa)) printf(" %s", fi_isa_name(isa));
    printf("\n");
    for (int isa = 0; isa < FI_NISA; isa++) {
        if (!fi_isa_supported(isa)) continue;
        int n = table(isa, npaths ? got : ref);
        if (npaths++ == 0) {
            nref = n;
            continue;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(got[i], ref[i]) != 0) {
                printf("MISMATCH %s: %s (%s: %s)\n", fi_isa_name(isa), got[i],
                       fi_isa_name(FI_ISA_GENERIC), ref[i]);
                bad++;
            }
    }
    for (int i = 0; i < nref; i++) printf("%s\n", ref[i]);
    printf("hashes: %d cases, %d paths, %d mismatches\n", nref, npaths, bad);
    return bad ? 1 : 0;
}
