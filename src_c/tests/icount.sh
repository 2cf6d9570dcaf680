#!/bin/sh
# Executed instructions per element of every kernel on every aarch64 path, counted
# under qemu-aarch64 -singlestep (each instruction logged once): the NEON review of
# docs/stream.md.  Usage: icount.sh DRIVER  (run by make TARGET=aarch64 icount)
set -e
drv=$1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
count() { # dist dtype n isa
    QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu} qemu-aarch64 -singlestep \
        -d nochain,exec -D "$log" "$drv" "$@"
    grep -c '^Trace' "$log"
}
printf '%-14s %-9s %8s %8s %6s\n' distribution dtype scalar neon ratio
for dist in 0 1 2; do
    for dt in 0 1 2 3; do
        s1=$(count $dist $dt 1024 0); s2=$(count $dist $dt 9216 0)
        n1=$(count $dist $dt 1024 3); n2=$(count $dist $dt 9216 3)
        awk -v d=$dist -v t=$dt -v s=$((s2 - s1)) -v n=$((n2 - n1)) 'BEGIN {
            split("uniform normal trunc_normal", D); split("float32 float64 float16 bfloat16", T);
            printf "%-14s %-9s %8.1f %8.1f %6.2f\n", D[d + 1], T[t + 1], s / 8192, n / 8192, s / n }'
    done
done
