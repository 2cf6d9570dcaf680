"""``python -m fastinit`` runs the ``fastinit`` command (see fastinit/cli.py)."""
import sys

from .cli import main

sys.exit(main())
