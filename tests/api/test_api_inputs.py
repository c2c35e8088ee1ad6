"""The API's range parameters are checked in the one place (perpvol_core/bounds.py), and its status routes keep
answering when one account's stored sync state cannot be read."""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa

from perpvol_core.store import SyncUpdate
from tests.api.test_api import Env, _build, _is_error


def _env(tmp_path: Path) -> Env:
    token = secrets.token_urlsafe(24)
    server, store, fills, settings = _build(tmp_path, token)
    return Env(server, token, store, fills, settings)


def test_ranges_and_unreadable_states(tmp_path: Path) -> None:
    env = _env(tmp_path)
    try:
        for path in ("/volume/range", "/volume/daily"):
            for params in ({"from": "1900-01-01"}, {"to": "2101-01-01"}, {"from": "0001-01-01", "to": "9999-12-31"}):
                body = _is_error(env.get(path, params=params), 400)
                assert body["error"] == "invalid_date" and "between 2009-01-01 and 2100-12-31" in body["message"]
            body = _is_error(env.get(path, params={"from": "2025-02-02", "to": "2025-02-01"}), 400)
            assert "must not be after" in body["message"]
            assert env.get(path, params={"from": "2009-01-01", "to": "2100-12-31"}).status_code == 200

        woox = env.store.get_account("woox-main")
        env.store.update_sync_state(woox.id, SyncUpdate(covered_from_ms=1_735_689_600_000,
                                                         covered_to_ms=1_735_689_700_000))
        with env.store._engine.begin() as conn:  # what `sync --days 10**11` stored before days were bounded
            conn.execute(sa.text("UPDATE sync_state SET covered_from_ms = -8640000000000000000 WHERE account_id = :a"),
                         {"a": woox.id})  # fmt: skip
        accounts = env.get("/accounts")
        assert accounts.status_code == 200, accounts.text
        rows = {r["label"]: r for r in accounts.json()["accounts"]}
        assert rows["woox-main"]["status"] == "error" and "cannot be read" in rows["woox-main"]["last_error"]
        assert rows["paradex-main"]["status"] != "error"
        status = env.get("/sync/status")
        assert status.status_code == 200, status.text
        assert "C int" not in status.text and "cannot be read" in status.text
    finally:
        env.http.close()
        env.server.stop()
        env.store.close()
