"""A demo store filled from the simulators' seeded histories, without any credentials.

``seed_demo_store(url)`` creates (or reuses) one account per registered venue (``demo-<venue>``) and
ingests its simulator's history straight through :meth:`Store.ingest_fills`: no exchange, no HTTP, no vault. The
notebooks' tests, the Voila view's test and anyone who wants a populated database use it::

    from perpvol_sim.demo import seed_demo_store
    store = seed_demo_store("sqlite:////tmp/demo.db", seed=7, fills=5000)

The accounts' credential blobs are a fixed placeholder (``DEMO_CREDENTIALS``) that no vault can
decrypt, so a demo account can never be synced against a real exchange by mistake.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from perpvol_core.config import Settings
from perpvol_core.exchanges import classify_all
from perpvol_core.fill import Fill
from perpvol_core.store.syncstate import SyncUpdate

#: Placeholder stored instead of an encrypted credential blob for the demo accounts.
DEMO_CREDENTIALS = b"perpvol-demo:no-credentials"
#: Meta key holding the instant the demo histories end at (so re-seeding is idempotent).
DEMO_NOW_META = "demo_now_ms"
#: days of the seeded histories (the simulators' default)
DEMO_DAYS = 730


def demo_accounts() -> tuple[tuple[str, str], ...]:
    """(label, exchange) of the demo accounts: one per registered venue."""
    from perpvol_core.exchanges import VENUES

    return tuple((f"demo-{name}", name) for name in VENUES)


def sim_fills(exchange: str, seed: int, n_fills: int, now_ms: int | None = None) -> list[Fill]:
    """The simulator history of ``exchange`` (its ``demo_venue``'s, never started) as normalized fills."""
    import importlib

    from perpvol_core.exchanges import venue

    package = venue(exchange).simulator  # a package under perpvol_sim, possibly written in full
    simulator = importlib.import_module(package if package.startswith("perpvol_sim.") else f"perpvol_sim.{package}")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    history = simulator.demo_venue(seed, n_fills, now, DEMO_DAYS).history
    return classify_all(_to_fill(exchange, f) for f in history.fills)


def _to_fill(exchange: str, f: Any) -> Fill:
    return Fill(
        exchange=exchange,
        fill_id=str(f.fill_id),
        fill_type=str(f.fill_type),
        market=str(f.market),
        side=str(f.side),
        liquidity=str(f.liquidity),
        price=f.price,
        size=f.size,
        fee=f.fee,
        fee_asset=str(f.fee_asset),
        ts_ms=int(f.ts_ms),
    )


def _account(store: Any, label: str, exchange: str) -> Any:
    from perpvol_core.store import AccountNotFound

    try:
        return store.get_account(label)
    except AccountNotFound:
        return store.add_account(label, exchange, None, DEMO_CREDENTIALS, "demo account (no credentials)")


def _ingest(store: Any, account_id: int, fills: Iterable[Fill]) -> int:
    fills = sorted(classify_all(fills), key=lambda f: f.ts_ms)
    update: SyncUpdate | None = None
    if fills:
        update = SyncUpdate(covered_from_ms=fills[0].ts_ms, covered_to_ms=fills[-1].ts_ms, progress=1.0,
                            fills_seen=len(fills))  # fmt: skip
    return store.ingest_fills(account_id, fills, sync_update=update)


def _ensure_sqlite_folder(url: str) -> None:
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True, mode=0o700)


def seed_demo_store(
    url: str, seed: int = 7, fills: int = 5000, now_ms: int | None = None, settings: Settings | None = None
) -> Any:
    """Open the store at ``url`` and ingest each registered venue's simulator history into it.

    ``settings``: when given, the vault of these settings is opened BEFORE any account exists, so its
    master key (file) is set up for this database and the dashboard's Keys section can open it later.
    Without it no key is involved at all (the read-only view, the notebooks' tests); a dashboard on
    such a store then needs ``PERPVOL_MASTER_KEY_FILE`` pointing at a fresh key.

    The histories end at ``now_ms`` (default: now). The first seeding records that instant in the
    store's meta table and later calls without ``now_ms`` reuse it, so seeding twice with the same
    ``seed`` and ``fills`` adds nothing. Returns the open :class:`perpvol_core.store.Store`.
    """
    from perpvol_core.store import Store

    _ensure_sqlite_folder(url)
    store = Store(url)
    if settings is not None:
        from perpvol_core.security.vault import Vault

        Vault.open(settings, store)
    if now_ms is None:
        now_ms = int(store.set_meta_if_absent(DEMO_NOW_META, str(int(time.time() * 1000))))
    for label, exchange in demo_accounts():
        account = _account(store, label, exchange)
        # the same seed as ``perpvol sim EXCHANGE --seed N`` (the history generator keys it by exchange)
        _ingest(store, account.id, sim_fills(exchange, seed, fills, now_ms=now_ms))
        store.set_status(label, "ok")
    return store


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m perpvol_sim.demo URL [--seed N] [--fills N]``: seed a demo database."""
    p = argparse.ArgumentParser(prog="python -m perpvol_sim.demo", description=main.__doc__)
    p.add_argument("url", help="database URL, e.g. sqlite:////tmp/perpvol-demo.db")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fills", type=int, default=5000, help="fills per exchange")
    p.add_argument(
        "--init-vault", action="store_true", help="set up the vault key of the environment's settings first"
    )
    args = p.parse_args(argv)
    settings = Settings.from_env() if args.init_vault else None
    store = seed_demo_store(args.url, seed=args.seed, fills=args.fills, settings=settings)
    n = sum(len(store.fills_frame(account_id=a.id)) for a in store.list_accounts())
    print(f"seeded {args.url}: {n} fills in {len(store.list_accounts())} accounts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
