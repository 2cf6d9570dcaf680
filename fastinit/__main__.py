"""``python -m fastinit`` runs the ``fastinit`` command (see fastinit/cli/)."""
import sys

from .cli import main

sys.exit(main())
