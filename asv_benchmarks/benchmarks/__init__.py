"""asv suites for fastinit (see ../asv.conf.json).

The benchmarks import fastinit from the repository root, so they measure the
extension built in place (tools/dev_build.sh) without reinstalling it.
"""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
