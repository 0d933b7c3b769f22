"""``python -m qkd_circuits.kme ARGS`` is ``qkd kme ARGS``."""

import sys

from qkd_circuits.kme.cli import main

sys.exit(main())
