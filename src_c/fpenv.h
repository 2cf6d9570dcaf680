/* Internal: every computing entry point runs under the default FP environment. */
#ifndef FI_FPENV_H
#define FI_FPENV_H

#include <fenv.h>

/* ------------------------------------------------------ FP environment ---- *
 * No value may depend on the caller's floating-point environment: a rounding mode
 * set with fesetround, or flush-to-zero / denormals-are-zero set by another library
 * (torch.set_flush_denormal, code built with -ffast-math).  Every entry point that
 * computes runs its work under the default environment (round to nearest, no FTZ/DAZ)
 * and restores the caller's afterwards, in every thread; its exception flags are
 * restored too, so nothing leaks either way.  The work itself sits in separate
 * non-inlined functions so that no floating-point operation can be moved across the
 * switch.  Cost: a few hundred cycles per call and per thread.                     */
#if defined(__GNUC__) || defined(__clang__)
#define FI_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define FI_NOINLINE __declspec(noinline)
#else
#define FI_NOINLINE
#endif

static inline void fi_fpenv_enter(fenv_t *saved)
{
    fegetenv(saved);
    fesetenv(FE_DFL_ENV);
}

static inline void fi_fpenv_leave(const fenv_t *saved) { fesetenv(saved); }

#endif
