"""``python -m orgvend``: the same as the ``orgvend`` command."""

import sys

from orgvend.cli import main

sys.exit(main())
