/* Known-answer test: every philox4x32 line of a Random123 kat_vectors file.
 * Usage: test_kat PATH   (exit 0 when all match; prints one line per failure) */
#include <stdio.h>
#include <string.h>

#include "../fastinit.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s kat_vectors.txt\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    char line[1024], name[64];
    int checked = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned rounds, c[4], k[2], e[4];
        if (line[0] == '#' || sscanf(line, "%63s", name) != 1 || strcmp(name, "philox4x32") != 0)
            continue;
        if (sscanf(line, "%*s %u %x %x %x %x %x %x %x %x %x %x", &rounds, &c[0], &c[1], &c[2],
                   &c[3], &k[0], &k[1], &e[0], &e[1], &e[2], &e[3]) != 11) {
            fprintf(stderr, "malformed line: %s", line);
            return 2;
        }
        uint32_t ctr[4] = {c[0], c[1], c[2], c[3]}, key[2] = {k[0], k[1]}, out[4];
        fi_philox4x32(rounds, ctr, key, out);
        checked++;
        if (out[0] != e[0] || out[1] != e[1] || out[2] != e[2] || out[3] != e[3]) {
            failed++;
            printf("FAIL philox4x32-%u: got %08x %08x %08x %08x want %08x %08x %08x %08x\n", rounds,
                   out[0], out[1], out[2], out[3], e[0], e[1], e[2], e[3]);
        }
    }
    fclose(f);
    printf("philox4x32 known answers: %d checked, %d failed\n", checked, failed);
    return failed || checked == 0 ? 1 : 0;
}
