"""``perpvol sync [--label L] [--days N]``.

Progress bars (tqdm, one per account) go to stderr; the per-account summary to stdout. The exit code
is non-zero when an account failed.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from tqdm import tqdm

from perpvol_core import bounds
from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.redaction import redact

EXIT_FAILED = 1


def _fail(message: str, code: int = 1) -> int:
    print(f"perpvol: error: {redact(message)}", file=sys.stderr)
    return code


class _Bars:
    """One tqdm bar per account, driven by the engine's progress events (thread-safe)."""

    def __init__(self, labels: list[str]) -> None:
        self._lock = threading.Lock()
        self._bars: dict[str, tqdm] = {}
        disable = not sys.stderr.isatty()
        for pos, label in enumerate(labels):
            self._bars[label] = tqdm(
                total=1000, desc=label, position=pos, file=sys.stderr, leave=True, disable=disable,
                bar_format="{desc:<14} {percentage:3.0f}%|{bar}| {postfix}",
            )

    def __call__(self, event: dict[str, Any]) -> None:
        bar = self._bars.get(str(event.get("label")))
        if bar is None:
            return
        with self._lock:
            if event.get("type") == "sync_progress":
                bar.n = int(1000 * float(event.get("progress") or 0))
                eta = event.get("eta_s")
                bar.set_postfix_str(
                    f"{event.get('fills', 0)} fills" + (f", ETA {eta:.0f}s" if eta is not None else ""), refresh=False
                )
                bar.refresh()
            elif event.get("type") == "sync_done":
                if event.get("ok"):
                    bar.n = 1000
                bar.set_postfix_str("done" if event.get("ok") else "failed", refresh=False)
                bar.refresh()

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()


def cmd_sync(*, label: str | None = None, days: int = 730) -> int:
    """Backfill / incremental sync of every account (or ``--label``); summary per account."""
    from perpvol_core.security.vault import Vault, VaultError
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import AccountNotFound, StoreError

    try:  # checked before the database is opened: a refused value changes nothing
        days = bounds.sync_days(days)
    except bounds.InputError as exc:
        return _fail(str(exc), 2)
    from perpvol_core.store.existing import no_data_text, open_existing

    settings = Settings.from_env()
    try:
        store = open_existing(settings)  # no accounts without a database: nothing to create
    except (StoreError, ConfigError) as exc:
        return _fail(str(exc))
    if store is None:  # an asked-for label cannot be there: that is a failure
        if label:
            return _fail(f"no account labelled {label!r}: {no_data_text(settings)}")
        print(no_data_text(settings), file=sys.stderr)
        return 0
    engine = None
    try:
        vault = Vault.open(settings, store)
        labels = [label] if label else None
        accounts = [store.get_account(lb) for lb in labels] if labels else store.list_accounts()
        if not accounts:
            print("no accounts yet: add one with `perpvol keys add EXCHANGE --label L …`", file=sys.stderr)
            return 0
        bars = _Bars([a.label for a in accounts])
        engine = SyncEngine(store, vault)
        try:
            results = engine.sync(labels=[a.label for a in accounts], days=days, progress=bars)
        finally:
            bars.close()
    except (AccountNotFound, StoreError, VaultError, ConfigError) as exc:
        return _fail(str(exc))
    finally:
        if engine is not None:
            engine.close()
        store.close()
    failed = 0
    for r in results:
        if r.ok:
            line = f"{r.label:<14} ok     {r.new_fills} new fills ({r.fills_seen} read, {r.requests} requests)"
            if r.rate_limited:
                line += f", {r.rate_limited} rate-limited"
            print(line)
        else:
            failed += 1
            print(f"{r.label:<14} ERROR  {redact(r.error)}")
        print(f"{'':<14}        coverage: {r.coverage}")
        if r.skipped:
            print(f"{'':<14}        {len(r.skipped)} unreadable row(s) skipped, e.g. {redact(r.skipped[0])}")
    return EXIT_FAILED if failed else 0
