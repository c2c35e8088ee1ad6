"""One account-status view: the CLI (``keys list --json``), the API's account list, the worker status and the
dashboard rows show the same status, error, coverage and fill count (the store's count, not the sync's
"fills read" counter); SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from perpvol_core.config import Settings
from perpvol_core.services.status import account_statuses
from perpvol_core.store import Store, SyncUpdate
from tests.store.test_store import make_fills


def test_every_surface_shows_the_same_account_status(tmp_path: Path, db_url: str) -> None:
    from perpvol_app.ui.components.accounts import render_accounts, snapshot
    from perpvol_app.views import accounts_payload

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}
    env.update(PERPVOL_HOME=str(home), PERPVOL_DATABASE_URL=db_url)
    store = Store.open(Settings.from_env(env))
    try:
        a = store.add_account("alpha", "woox", None, b"x", "key ••••AAAA")
        b = store.add_account("beta", "paradex", "http://127.0.0.1:9/v1", b"x", "read-only token ••••BBBB")
        store.ingest_fills(a.id, make_fills(3, 70, prefix="a"))
        store.ingest_fills(b.id, make_fills(4, 30, prefix="b"))
        # the sync's "fills read" counter counts re-read pages too: no surface may show it as the fill count
        update = SyncUpdate(fills_seen=999, covered_from_ms=1_700_000_000_000, covered_to_ms=1_700_086_400_000,
                            last_success_ms=1_700_086_400_000)
        store.update_sync_state(a.id, update)
        store.set_status("beta", "error", "invalid or revoked credentials: Paradex rejected the read-only token")
        store.set_identity("alpha", "app-1@api.woox.io")
        views = {v.label: v for v in account_statuses(store)}
        assert {k: v.fills for k, v in views.items()} == {"alpha": 70, "beta": 30}
        assert views["alpha"].display_name == "WOO X" and views["beta"].display_name == "Paradex"
        assert views["alpha"].identity == "app-1@api.woox.io" and views["beta"].status == "error"
        assert views["alpha"].coverage.startswith("complete from 2023-11-14")
        api_rows = {r["label"]: r for r in accounts_payload(store)}
        ui_rows = {r["label"]: r for r in snapshot(store)}
        html = render_accounts(list(ui_rows.values()))
        for label, view in views.items():
            assert api_rows[label]["fills"] == ui_rows[label]["fills"] == view.fills
            assert api_rows[label]["status"] == ui_rows[label]["status"] == view.status
            assert api_rows[label]["last_error"] == view.last_error
            assert f"<td class='num' data-label=\"Fills\">{view.fills:,}</td>" in html
        assert "999" not in html
        assert ui_rows["beta"]["error"] == views["beta"].last_error and "rejected" in html
    finally:
        store.close()
    proc = subprocess.run([sys.executable, "-m", "perpvol_cli.main", "keys", "list", "--json"], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cli_rows = {r["label"]: r for r in json.loads(proc.stdout)}
    assert {k: r["fills"] for k, r in cli_rows.items()} == {"alpha": 70, "beta": 30}
    assert cli_rows["alpha"]["covered_from"] == "2023-11-14"
    assert cli_rows["alpha"]["last_sync"] == "2023-11-15T22:13:20Z"
    assert cli_rows["beta"]["last_error"] == views["beta"].last_error
    assert cli_rows["alpha"]["coverage"] == views["alpha"].coverage
