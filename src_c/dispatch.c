/*
 * Build and CPU facts: which instruction-set units are linked in, which this CPU can
 * run (CPUID), the kernel table of each, OpenMP.  The only file that knows the CPU.
 */
#ifdef FI_HAVE_OPENMP
#include <omp.h>
#endif

#include "fastinit.h"
#include "kernels.h"

int fi_have_openmp(void)
{
#ifdef FI_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}

int fi_max_threads(void)
{
#ifdef FI_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *fi_isa_name(int isa)
{
    static const char *const names[FI_NISA] = {"scalar", "avx2", "avx512"};
    return isa >= 0 && isa < FI_NISA ? names[isa] : "unknown";
}

const char *fi_dist_name(int dist)
{
    static const char *const names[FI_NDIST] = {"uniform", "normal", "trunc_normal", "constant"};
    return dist >= 0 && dist < FI_NDIST ? names[dist] : "unknown";
}

const char *fi_dtype_name(int dtype)
{
    static const char *const names[FI_NDTYPE] = {"float32", "float64", "float16", "bfloat16"};
    return dtype >= 0 && dtype < FI_NDTYPE ? names[dtype] : "unknown";
}

int fi_isa_compiled(int isa)
{
    switch (isa) {
    case FI_ISA_GENERIC: return 1;
#ifdef FI_HAVE_AVX2
    case FI_ISA_AVX2: return 1;
#endif
#ifdef FI_HAVE_AVX512
    case FI_ISA_AVX512: return 1;
#endif
    default: return 0;
    }
}

int fi_isa_supported(int isa)
{
    if (!fi_isa_compiled(isa)) return 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    switch (isa) {
    case FI_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case FI_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    default: return 1;
    }
#else
    return isa == FI_ISA_GENERIC;
#endif
}

int fi_isa_best(void)
{
    for (int isa = FI_NISA - 1; isa > 0; isa--)
        if (fi_isa_supported(isa)) return isa;
    return FI_ISA_GENERIC;
}

const fi_kernel_table *fi_kernels_for(int isa)
{
    switch (isa) {
#ifdef FI_HAVE_AVX2
    case FI_ISA_AVX2: return &fi_kernels_avx2;
#endif
#ifdef FI_HAVE_AVX512
    case FI_ISA_AVX512: return &fi_kernels_avx512;
#endif
    default: return &fi_kernels_generic;
    }
}
