"""The store's errors (every repository raises these)."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked; the message says why."""


class AccountExists(StoreError):
    """An account with this label already exists."""


class AccountNotFound(StoreError):
    """No account has this label (or id)."""
