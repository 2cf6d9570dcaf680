#!/usr/bin/env bash
# Statistical batteries on fastinit's output (docs/reliability.md has the results).
#
#   tools/dieharder.sh [SOURCE] [quick|full|-d N ...] [SEED] [STREAM]
#
# SOURCE (default raw):
#   raw        the Philox4x32-10 words, as `fastinit raw` writes them
#   uniform64  float64 uniform outputs U, as floor(U * 2**32)
#   normal64   float64 normal outputs z, as floor(Phi(z) * 2**32)      (Box-Muller)
#   trunc64    float64 trunc_normal(-2, 2) outputs z, as floor(F(z) * 2**32)
#              with F the truncated normal CDF                          (inverse CDF)
#   The float sources test the words-to-values paths: if a transform were biased or
#   its two outputs of a pair dependent, the 32-bit integers would not be uniform.
#   (float32 outputs carry 24 random bits at most, so they are not fed to dieharder.)
# MODE: quick = a few fast tests (about a minute), full = dieharder -a -Y 1 (all
#   tests, ambiguous results re-run with more samples: hours on 2 cores), or any
#   dieharder test selection such as "-d 0".
# Needs: dieharder (Debian: apt-get install -y dieharder); scipy for normal64/trunc64.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=${1:-raw}
MODE=${2:-quick}
SEED=${3:-20240601}
STREAM=${4:-0}

command -v dieharder >/dev/null || { echo "dieharder not found: apt-get install -y dieharder" >&2; exit 2; }

source_cmd() {
  case "$SOURCE" in
    raw) exec python -m fastinit raw --seed "$SEED" --stream "$STREAM" ;;
    uniform64|normal64|trunc64)
      exec python - "$SOURCE" "$SEED" "$STREAM" <<'EOF'
import sys
import numpy as np
import fastinit

kind, seed, stream = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stream = int(stream) if stream.isdigit() else stream
CHUNK = 1 << 22
N = 1 << 62                     # a logical tensor far larger than anything read
out = sys.stdout.buffer
if kind != "uniform64":
    from scipy.special import ndtr
    lo, hi = ndtr(-2.0), ndtr(2.0)
k = 0
try:
    while True:
        region = (slice(k * CHUNK, (k + 1) * CHUNK),)
        if kind == "uniform64":
            u = fastinit.uniform(N, seed=seed, stream=stream, dtype="float64", region=region)
        elif kind == "normal64":
            u = ndtr(fastinit.normal(N, seed=seed, stream=stream, dtype="float64", region=region))
        else:
            z = fastinit.trunc_normal(N, 0.0, 1.0, -2.0, 2.0, seed=seed, stream=stream,
                                      dtype="float64", region=region)
            u = (ndtr(z) - lo) / (hi - lo)
        w = np.minimum(np.floor(u * 2.0**32), 2.0**32 - 1).astype("<u4")
        out.write(w.tobytes())
        k += 1
except (BrokenPipeError, KeyboardInterrupt):
    pass
EOF
      ;;
    *) echo "unknown source $SOURCE (raw, uniform64, normal64, trunc64)" >&2; exit 2 ;;
  esac
}

case "$MODE" in
  quick) TESTS=("-d 0" "-d 1" "-d 100" "-d 202" "-d 203 -n 0" "-d 205") ;;
  full) TESTS=("-a -Y 1") ;;
  *) TESTS=("$MODE") ;;
esac

echo "# fastinit $SOURCE seed=$SEED stream=$STREAM ($(python -c 'import fastinit; print(fastinit.__version__)'))"
for t in "${TESTS[@]}"; do
  # shellcheck disable=SC2086
  (source_cmd 2>/dev/null) | dieharder -g 200 $t 2>&1 | grep --line-buffered -E '\|' \
    | grep --line-buffered -vE 'rng_name|test_name' || true
done
