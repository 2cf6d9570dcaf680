/*
 * The serial entry points: fi_fill_serial and fi_random_raw call the kernel table of
 * the plan's instruction set (dispatch.c) under the default FP environment; the
 * one-block Philox for known-answer tests.  Plans are made in plan.c, regions walked
 * in region.c.  No global mutable state: the instruction set travels with each plan.
 */
#include "fastinit.h"
#include "fpenv.h"
#include "kernels.h"
#include "philox.h"

void fi_philox4x32(unsigned rounds, const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    fi_philox4x32_R(rounds, ctr, key, out);
}

static void fill_serial(const fi_plan *plan, uint64_t start, uint64_t n, void *out)
{
    fi_kernels_for(plan->isa)->fill(plan, start, n, out);
}

void fi_fill_serial(const fi_plan *plan, uint64_t start, uint64_t n, void *out)
{
    fenv_t env;
    fi_fpenv_enter(&env);
    fill_serial(plan, start, n, out); /* an indirect call: nothing moves across it */
    fi_fpenv_leave(&env);
}

/* Words at and above 2^64 - FI_RAW_TOP are computed block by block here: the kernels
 * step through tiles with 64-bit word indices (t + tile) that would wrap at 2^64. */
#define FI_RAW_TOP ((uint64_t)1 << 16)

void fi_random_raw(const fi_plan *plan, uint64_t start, uint64_t n, uint32_t *out)
{
    /* the caller guarantees start + n <= 2^64, i.e. n - 1 <= UINT64_MAX - start */
    if (n == 0) return;
    const uint64_t top = (uint64_t)0 - FI_RAW_TOP; /* 2^64 - FI_RAW_TOP, block-aligned */
    uint64_t head = start >= top ? 0 : (n < top - start ? n : top - start);
    if (head) fi_kernels_for(plan->isa)->raw(plan, start, head, out);
    for (uint64_t i = head; i < n; i++) {
        uint64_t j = start + i, b = j >> 2;
        uint32_t ctr[4] = {(uint32_t)b, (uint32_t)(b >> 32), plan->ctr_hi[0], plan->ctr_hi[1]};
        uint32_t blk[4];
        fi_philox4x32_R(10, ctr, plan->key, blk);
        out[i] = blk[j & 3];
    }
}
