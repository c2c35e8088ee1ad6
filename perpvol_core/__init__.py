"""perpvol's headless core: fills, the store, the exchanges, sync, and the volume analytics.

The surfaces (``perpvol_cli``, ``perpvol_app``, the notebooks) use what is listed in ``__all__``. Names
are loaded on first use, so that ``import perpvol_core`` stays cheap and the read-only view never loads
the vault (``perpvol_core.security.vault``) unless it asks for it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Fill": "perpvol_core.fill",
    "Settings": "perpvol_core.config",
    "ConfigError": "perpvol_core.config",
    "Secret": "perpvol_core.security.redaction",
    "redact": "perpvol_core.security.redaction",
    "Store": "perpvol_core.store",
    "Account": "perpvol_core.store",
    "Vault": "perpvol_core.security.vault",
    "SyncEngine": "perpvol_core.services.sync",
    "VENUES": "perpvol_core.exchanges",
    "EXCHANGES": "perpvol_core.exchanges",
    "classify": "perpvol_core.exchanges",
    "counts": "perpvol_core.exchanges",
    "is_perp": "perpvol_core.exchanges",
    "display_name": "perpvol_core.exchanges",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perpvol_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
