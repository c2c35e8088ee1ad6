"""Persistent store: accounts, fills, daily rollups, sync state (see docs/internals.md)."""

from perpvol_core.money import canonical_decimal
from perpvol_core.store.store import (
    ACCOUNT_STATUSES,
    USD_ASSETS,
    Account,
    AccountExists,
    AccountNotFound,
    EmbedToken,
    Store,
    StoreError,
    SyncState,
    SyncUpdate,
)

__all__ = [
    "ACCOUNT_STATUSES",
    "USD_ASSETS",
    "Account",
    "AccountExists",
    "AccountNotFound",
    "EmbedToken",
    "Store",
    "StoreError",
    "SyncState",
    "SyncUpdate",
    "canonical_decimal",
]
