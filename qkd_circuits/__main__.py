"""``python -m qkd_circuits`` is the ``qkd`` command."""

import sys

from qkd_circuits.cli import main

sys.exit(main())
