"""``python -m console`` is ``harmony``."""

import sys

from .cli import main

sys.exit(main())
