"""The ``perpvol`` command line: one module per command group, all built on ``perpvol_core``."""
