"""``python -m perpvol_sim.hyperliquid --port N [flags]``."""

import sys

from perpvol_sim.hyperliquid.cli import main

sys.exit(main())
