"""Shared set-up of the reconciliation tests: a venue's simulator, an account on it, a full sync."""

from __future__ import annotations

import importlib
import time
from decimal import Decimal
from typing import Any

from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_core.security.vault import Vault
from perpvol_core.services.accounts import AccountRequest, add_account
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store
from perpvol_sim.history import SimFill, utc_day

FAST = {"max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05, "timeout": 5.0}


def options() -> dict[str, dict[str, Any]]:
    """Connector options of every venue: quick retries, and no pacing where the simulator has no limit."""
    out: dict[str, dict[str, Any]] = {name: dict(FAST) for name in VENUES}
    out["hyperliquid"]["rate_limits"] = {"info": []}
    return out


def simulator(name: str) -> Any:
    return importlib.import_module(f"perpvol_sim.{VENUES[name].simulator}")


class Synced:
    """One store with one account per started simulator, synced in full."""

    def __init__(self, settings: Settings) -> None:
        self.store = Store(settings.database_url)
        self.vault = Vault.open(settings, self.store)
        self.engine = SyncEngine(self.store, self.vault, EventBus(), connector_options=options())

    def add(self, label: str, exchange: str, sim: Any) -> None:
        """The one account path (tested against the simulator; the venue's own id of the account stored)."""
        req = AccountRequest(exchange, label, base_url=sim.base_url, credentials=sim.credentials())
        add_account(self.store, self.vault, req, **options()[exchange])

    def sync(self) -> None:
        for res in self.engine.sync(days=730):
            assert res.ok, (res.label, res.error)

    def close(self) -> None:
        self.store.close()


def counted_by_day(fills: list[SimFill], profile: Any) -> dict[str, Decimal]:
    """Counted perp volume per UTC day, by the simulator's own profile (not the code under test)."""
    out: dict[str, Decimal] = {}
    for f in fills:
        if profile.counts(f.market, f.fill_type):
            out[utc_day(f.ts_ms)] = out.get(utc_day(f.ts_ms), Decimal(0)) + f.price * f.size
    return out


def busy_day(fills: list[SimFill], profile: Any, days_back: range) -> str:
    """A day ``days_back`` days before today holding counted fills (the most in that range)."""
    today = int(time.time() * 1000) // 86_400_000
    volume = counted_by_day(fills, profile)
    candidates = [utc_day((today - k) * 86_400_000) for k in days_back]
    return max(candidates, key=lambda d: volume.get(d, Decimal(0)))
