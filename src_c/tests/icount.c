/*
 * One fill for the instruction-count review of a path (make TARGET=aarch64 icount):
 * `icount DIST DTYPE N ISA` fills N elements of distribution DIST (uniform (0, 1),
 * normal (0, 1), trunc_normal (0, 1, -2, 2)) in dtype DTYPE on path ISA (the codes
 * of fastinit.h).  tests/icount.sh runs it under qemu-aarch64 -singlestep for two
 * sizes and divides the difference of executed instructions by the difference of
 * elements: instructions per element of the kernel's steady state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fastinit.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s DIST DTYPE N ISA\n", argv[0]);
        return 2;
    }
    static const double params[3][4] = {{0, 1}, {0, 1}, {0, 1, -2, 2}};
    fi_spec s;
    memset(&s, 0, sizeof s);
    s.dist = atoi(argv[1]);
    s.dtype = atoi(argv[2]);
    s.seed = 1;
    s.stream = 2;
    if (s.dist < 0 || s.dist > 2) return 2;
    memcpy(s.p, params[s.dist], sizeof s.p);
    uint64_t n = strtoull(argv[3], NULL, 10);
    fi_plan plan;
    const char *err;
    if (fi_prepare(&s, atoi(argv[4]), &plan, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    void *out = malloc(n * 8 + 64);
    if (!out) return 2;
    fi_fill_serial(&plan, 0, n, out);
    free(out);
    return 0;
}
