"""python -m fastinit.diagnostics: the fastinit propagate command."""
import sys

from ..cli.propagate import main

if __name__ == "__main__":
    sys.exit(main())
