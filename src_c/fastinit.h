/*
 * fastinit: index-addressed, bit-reproducible tensor fills.  Pure C99, no Python.
 *
 * Every value is a pure function of (seed, stream, element index, distribution,
 * parameters, dtype); see docs/stream.md.  Threads, regions and SIMD paths are
 * layers on top of the serial kernels and cannot change a single bit.
 */
#ifndef FASTINIT_H
#define FASTINIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FI_STREAM_VERSION 1

typedef enum { FI_UNIFORM = 0, FI_NORMAL = 1, FI_TRUNC_NORMAL = 2, FI_CONSTANT = 3, FI_NDIST = 4 } fi_dist;
typedef enum { FI_F32 = 0, FI_F64 = 1, FI_F16 = 2, FI_BF16 = 3, FI_NDTYPE = 4 } fi_dtype;
typedef enum { FI_ISA_GENERIC = 0, FI_ISA_AVX2 = 1, FI_ISA_AVX512 = 2, FI_NISA = 3 } fi_isa;

/* What the caller asks for.  p[] by distribution:
 *   uniform:        low, high
 *   normal:         mean, std
 *   trunc_normal:   mean, std, alpha, beta   (bounds in units of std, may be +-inf)
 *   constant:       value                                                         */
typedef struct {
    int dist;
    int dtype;
    uint64_t seed;
    uint64_t stream;
    double p[4];
} fi_spec;

/* Everything a kernel needs, derived once per call by fi_prepare (read-only after). */
typedef struct {
    int dist, dtype, isa;
    uint32_t key[2];     /* (seed mod 2^32, seed >> 32) */
    uint32_t ctr_hi[2];  /* (stream mod 2^32, stream >> 32): counter words 2 and 3 */
    /* single-precision parameters (float32 / float16 / bfloat16 outputs) */
    float f_a, f_b;      /* uniform: scale, low; normal: std, mean; trunc: unused */
    float f_lo, f_hi;    /* clamps, representable in the output dtype (+-inf: none) */
    /* double-precision parameters */
    double d_a, d_b;     /* uniform: scale, low; normal and trunc: std, mean */
    double d_lo, d_hi;   /* clamps for float64 output */
    double t_pa, t_qb, t_mass; /* trunc: Phi(alpha), Q(beta), Phi(beta) - Phi(alpha) */
    uint64_t const_bits; /* constant: the value's bit pattern in the output dtype */
} fi_plan;

/* Validate spec and fill plan.  Returns 0, or -1 with *err set to a static message. */
int fi_prepare(const fi_spec *spec, int isa, fi_plan *plan, const char **err);

/* Serial kernel: out[j] = value of element start + j, for j in [0, n).  out is
 * contiguous in the plan's dtype.  Pure function of its arguments.            */
void fi_fill_serial(const fi_plan *plan, uint64_t start, uint64_t n, void *out);

/* Raw stream words start .. start + n - 1. */
void fi_random_raw(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out);

/* A region of a logical C-order tensor and where its elements go.  The region's
 * elements are enumerated in C order; [begin, end) selects a range of them, so a
 * caller can work in chunks (to check for signals) without changing any value.  */
typedef struct {
    int ndim;
    const int64_t *shape;   /* logical tensor's full shape */
    const int64_t *rstart;  /* region start, per dimension */
    const int64_t *rlen;    /* region length, per dimension (all > 0) */
    char *out;              /* address of the region's first element */
    const int64_t *ostride; /* output strides in bytes, per dimension */
} fi_region;

#define FI_MAX_NDIM 64

/* Fill region elements [begin, end) with nthreads threads (1 = no OpenMP region). */
int fi_fill_region(const fi_plan *plan, const fi_region *reg, uint64_t begin, uint64_t end,
                   int nthreads);

/* Build/run-time facts. */
int fi_have_openmp(void);
int fi_max_threads(void);
int fi_isa_compiled(int isa);   /* linked into this build */
int fi_isa_supported(int isa);  /* compiled and this CPU can run it */
int fi_isa_best(void);
const char *fi_isa_name(int isa);     /* "scalar", "avx2", ...; "unknown" otherwise */
const char *fi_dist_name(int dist);   /* "uniform", "normal", "trunc_normal", "constant" */
const char *fi_dtype_name(int dtype); /* "float32", "float64", "float16", "bfloat16" */
size_t fi_dtype_size(int dtype);

/* Philox4x32-R on one block (for known-answer tests). */
void fi_philox4x32(unsigned rounds, const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Special functions used to prepare truncated-normal plans (deterministic, no libm). */
double fi_normal_q(double x);    /* upper tail 1 - Phi(x) */
double fi_normal_cdf(double x);  /* Phi(x) */
double fi_exp(double x);
double fi_log(double x);
double fi_normal_qinv(double p); /* Q^{-1}(p) for p in (0, 0.5]: scalar form of the kernel's */

#ifdef __cplusplus
}
#endif
#endif
