/* Internal: one table of kernels per instruction-set unit. */
#ifndef FI_KERNELS_H
#define FI_KERNELS_H
#include "fastinit.h"

typedef struct {
    void (*fill)(const fi_plan *plan, uint64_t start, uint64_t n, void *out);
    void (*raw)(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out);
} fi_kernel_table;

extern const fi_kernel_table fi_kernels_generic;
#ifdef FI_HAVE_AVX2
extern const fi_kernel_table fi_kernels_avx2;
#endif
#ifdef FI_HAVE_AVX512
extern const fi_kernel_table fi_kernels_avx512;
#endif

/* the table of an instruction set (dispatch.c); the generic one for any other code */
const fi_kernel_table *fi_kernels_for(int isa);
#endif
