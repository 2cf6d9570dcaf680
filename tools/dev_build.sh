#!/usr/bin/env bash
# Rebuild the extension in place for development, safely while other processes use it:
# one build at a time (flock), and the old .so is unlinked first, so a running
# interpreter keeps its mapped copy instead of seeing the file truncated under it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>/tmp/fastinit-dev-build.lock
flock 9
rm -f fastinit/_core*.so
python setup.py -q build_ext --inplace "$@" > /tmp/fastinit-dev-build.log 2>&1 || { tail -40 /tmp/fastinit-dev-build.log; exit 1; }
echo "built $(ls fastinit/_core*.so)"
