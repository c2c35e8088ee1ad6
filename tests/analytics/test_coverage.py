"""Coverage (``analytics.coverage``) against a hand-worked example, on SQLite and PostgreSQL, and the same
example through the API (``/api/v1/volume/...``) and the CLI (``perpvol volume``, text and JSON).

The example (now = 2026-12-04 12:00 UTC), worked out by hand:

* account ``full`` on a venue that serves everything: the sync read from 2024-12-05 08:00, so its first whole
  day is 2024-12-06 and it is complete from then; perp fills 100 on 2026-11-30 and 50 on 2026-12-04;
* account ``capped`` on the retention-limited venue: the sync read from 2024-12-05 08:00 too, but the venue
  served fills only from 2026-11-19 20:00, so it is complete from 2026-11-20; fills 30 on 2026-11-19 (stored,
  before complete_from) and 20 on 2026-12-03; the venue reports 12345.67 all-time perp volume.

So: "all time" starts 2024-12-06 and is partial (capped venue not covered before 2026-11-20); the 30-day
window starts 2026-11-04, before 2026-11-20: partial; the 7-day window (from 2026-11-27) and 24 h (from
2026-12-03) are covered. The range 2026-11-01..2026-11-15 has no covered day of the capped venue; the range
2026-11-25..2026-12-05 is fully covered. Ours all time: 150 (full venue), 50 (capped venue).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from perpvol_core.analytics import coverage
from perpvol_core.exchanges import VENUES, classify_all, display_name
from perpvol_core.fill import Fill
from perpvol_core.store import Store, SyncUpdate
from tests.cli.test_cli_foundation import make_env, run
from tests.store.test_store import _ANY_VENUE, _MARKETS

CAPPED = next(name for name, spec in VENUES.items() if spec.retention_limited)
FULL = next(name for name, spec in VENUES.items() if not spec.retention_limited)
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _perp_market(exchange: str) -> str:
    """A market the venue counts as perp volume (its own rules decide, not this test)."""
    for market, fill_type in (*_MARKETS.get(exchange, []), *_ANY_VENUE):
        if fill_type == "FILL" and VENUES[exchange].counts(market, fill_type) and VENUES[exchange].is_perp(market):
            return market
    raise AssertionError(f"no counted market known for {exchange}")


def _fill(exchange: str, n: int, when: str, notional: str) -> Fill:
    return Fill(exchange=exchange, fill_id=f"{exchange}-{n}", fill_type="FILL", market=_perp_market(exchange),
                side="BUY", liquidity="TAKER", price=Decimal(notional), size=Decimal(1), fee=Decimal(0),
                fee_asset="USDC", ts_ms=_ms(when))  # fmt: skip


def build_example(store: Store) -> None:
    full = store.add_account("full", FULL, None, b"not-a-credential", "masked")
    capped = store.add_account("capped", CAPPED, None, b"not-a-credential", "masked")
    store.ingest_fills(full.id, classify_all([_fill(FULL, 1, "2026-11-30T10:00:00", "100"),
                                              _fill(FULL, 2, "2026-12-04T08:00:00", "50")]))  # fmt: skip
    store.ingest_fills(capped.id, classify_all([_fill(CAPPED, 1, "2026-11-19T21:00:00", "30"),
                                                _fill(CAPPED, 2, "2026-12-03T09:00:00", "20")]))  # fmt: skip
    read_from = _ms("2024-12-05T08:00:00")
    store.update_sync_state(full.id, SyncUpdate(covered_from_ms=read_from, covered_to_ms=_ms("2026-12-04T11:00:00"),
                                                complete_from_ms=_ms("2024-12-06T00:00:00")))  # fmt: skip
    store.update_sync_state(capped.id, SyncUpdate(covered_from_ms=read_from, covered_to_ms=_ms("2026-12-04T11:00:00"),
                                                  complete_from_ms=_ms("2026-11-20T00:00:00")))  # fmt: skip
    store.set_account_doc("capped", "exchange_report", {
        "exchange": CAPPED, "fetched_ms": _ms("2026-12-04T11:30:00"), coverage.REPORTED_ALL_TIME: "12345.67"})


@pytest.fixture
def example(db_url: str) -> Any:
    store = Store(db_url)
    build_example(store)
    yield store, db_url
    store.close()


NOTE_ALL = f"partial: {display_name(CAPPED)} not covered before 2026-11-20"


def test_coverage_of_the_hand_worked_example(example: Any) -> None:
    store, _url = example
    cov = coverage.venue_coverage(store)
    assert list(cov) == [e for e in VENUES if e in (FULL, CAPPED)]
    assert cov[FULL].complete_from == date(2024, 12, 6) and cov[CAPPED].complete_from == date(2026, 11, 20)
    assert cov[FULL].ours_all_time == Decimal("150") and cov[CAPPED].ours_all_time == Decimal("50")
    assert cov[CAPPED].reported_all_time == Decimal("12345.67") and cov[FULL].reported_all_time is None
    assert coverage.history_start(cov) == date(2024, 12, 6)
    periods = coverage.summary_gaps(cov, int(NOW.timestamp() * 1000))
    assert {p: [(g.exchange, g.before) for g in found] for p, found in periods.items()} == {
        "24h": [], "7d": [], "30d": [(CAPPED, date(2026, 11, 20))], "all": [(CAPPED, date(2026, 11, 20))]}
    assert coverage.partial_note(periods["all"]) == NOTE_ALL
    whole = coverage.gaps(cov, date(2026, 11, 1), date(2026, 11, 15))
    assert [(g.exchange, g.whole) for g in whole] == [(CAPPED, True)]
    assert coverage.partial_note(whole) == (f"partial: {display_name(CAPPED)} not covered in this range "
                                            "(complete from 2026-11-20)")  # fmt: skip
    assert coverage.gaps(cov, date(2026, 11, 25), date(2026, 12, 5)) == []
    assert coverage.gaps(cov, date(2026, 11, 20), date(2026, 11, 20)) == []
    assert [g.exchange for g in coverage.gaps(cov, date(2026, 11, 19), date(2026, 11, 30))] == [CAPPED]


def test_an_account_never_synced_is_not_covered_and_not_zero(db_url: str) -> None:
    store = Store(db_url)
    try:
        build_example(store)
        store.add_account("later", FULL, None, b"not-a-credential", "masked")
        cov = coverage.venue_coverage(store)
        assert cov[FULL].pending == ("later",)
        found = coverage.gaps(cov, date(2026, 12, 1), date(2026, 12, 5))
        assert [(g.exchange, g.before) for g in found] == [(FULL, None)]
        assert coverage.partial_note(found) == f"partial: {display_name(FULL)} not synced yet"
    finally:
        store.close()


def _check_json(cov: dict[str, Any], ranged: bool) -> None:
    assert cov["history_start"] == "2024-12-06"
    assert cov["partial"] == {"24h": False, "7d": False, "30d": True, "all": True}
    assert cov["note"]["all"] == NOTE_ALL and cov["note"]["7d"] == ""
    capped = cov["venues"][CAPPED]
    assert capped["display_name"] == display_name(CAPPED) and capped["complete_from"] == "2026-11-20"
    assert capped["reported_all_time"] == "12345.67" and capped["ours_all_time"] == "50"
    assert capped["accounts"][0]["partial"] is True and capped["accounts"][0]["read_from"] == "2024-12-06"
    assert capped["accounts"][0]["reported_at"] == capped["reported_at"] == "2026-12-04T11:30:00Z"
    assert cov["venues"][FULL]["partial"]["all"] is False and cov["venues"][FULL]["reported_all_time"] is None
    if ranged:
        assert cov["range"] == {"partial": True, "not_covered": {CAPPED: "2026-11-20"}, "note": (
            f"partial: {display_name(CAPPED)} not covered in this range (complete from 2026-11-20)")}


def test_coverage_json_of_the_example(example: Any) -> None:
    store, _url = example
    now = int(NOW.timestamp() * 1000)
    _check_json(coverage.coverage_json(coverage.venue_coverage(store), now), ranged=False)
    _check_json(coverage.coverage_json(coverage.venue_coverage(store), now, date(2026, 11, 1), date(2026, 11, 15),
                                       ranged=True), ranged=True)  # fmt: skip


def test_api_volume_answers_carry_coverage(example: Any, tmp_path: Path) -> None:
    from perpvol_app import api
    from perpvol_app.server import BackgroundApp
    from perpvol_core.config import Settings
    from perpvol_core.security.redaction import Secret

    store, url = example
    settings = Settings(home=tmp_path, database_url=url, api_token=Secret("cover-token-1234567890"))
    server = BackgroundApp(api.make_app(api.ApiContext(settings, store=store, use_worker=False)))
    server.start()
    try:
        with httpx.Client(base_url=server.base_url + "/api/v1", timeout=30,
                          headers={"Authorization": "Bearer cover-token-1234567890"}) as http:  # fmt: skip
            for path in ("/volume/summary", "/volume/current", "/volume/daily"):
                body = http.get(path).json()
                cov = body["coverage"]  # the windows end now, not at NOW: only what does not move is checked
                assert cov["partial"]["all"] is True and cov["note"]["all"] == NOTE_ALL, path
                assert cov["venues"][CAPPED]["reported_all_time"] == "12345.67", path
            rng = http.get("/volume/range", params={"from": "2026-11-01", "to": "2026-11-15"}).json()
            assert rng["coverage"]["range"]["not_covered"] == {CAPPED: "2026-11-20"}
            daily = http.get("/volume/daily", params={"from": "2026-11-25", "to": "2026-12-05"}).json()
            assert daily["coverage"]["range"] == {"partial": False, "note": "", "not_covered": {}}
            only = http.get("/volume/range", params={"from": "2026-11-01", "to": "2026-11-15", "exchange": FULL})
            assert only.json()["coverage"]["range"]["partial"] is False and list(only.json()["coverage"]["venues"]) == [
                FULL]
            # the day before complete_from is flagged in the rows too, never a plain figure
            rows = http.get("/volume/daily", params={"exchange": CAPPED}).json()["daily"]
            assert [(r["date"], r["covered"]) for r in rows] == [("2026-11-19", False), ("2026-12-03", True)]
    finally:
        server.stop()


def test_cli_volume_marks_partial(example: Any, tmp_path: Path) -> None:
    store, url = example
    env = make_env(tmp_path / "home", url)
    out = run(env, "volume", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["coverage"]["partial"]["all"] is True and report["coverage"]["note"]["all"] == NOTE_ALL
    text = run(env, "volume")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[-2:] == ["≥", "200.00"]  # all time: 150 + 50, a lower bound
    assert any(line.startswith(CAPPED) and line.rstrip().endswith("≥ 50.00") for line in lines)
    assert any(line.startswith(FULL) and line.rstrip().endswith(" 150.00") and "≥" not in line for line in lines)
    assert f"{display_name(CAPPED)}: partial, not covered before 2026-11-20" in lines
    assert (f"{display_name(CAPPED)} reports 12,345.67 all-time perp volume as of 2026-12-04T11:30:00Z "
            "(perpvol stores 50.00)") in lines
    rng = run(env, "volume", "--from", "2026-11-01", "--to", "2026-11-15").stdout
    assert "partial: " in rng and "not covered in this range" in rng
    table = rng.splitlines()[rng.splitlines().index(next(x for x in rng.splitlines() if x.startswith("exchange"))):]
    row = next(line for line in table if line.startswith(display_name(CAPPED)))
    assert row[len(display_name(CAPPED)):].split()[:2] == ["not", "covered"], row  # never a plain 0.00
    assert next(line for line in table if line.startswith("total")).split()[1:3] == ["≥", "0.00"]


def test_embed_widget_marks_partial_totals_without_naming_an_account(example: Any) -> None:
    from perpvol_app.api_embed import render_embed
    from perpvol_core.analytics.embed import embed_payload

    store, _url = example
    data = embed_payload(store, now_ms=int(NOW.timestamp() * 1000))
    assert data["partial"] == {"24h": False, "7d": False, "30d": True, "all": True}
    assert data["note"] == NOTE_ALL and "capped" not in json.dumps(data)
    page = render_embed(data)
    assert "≥ $200.00" in page and "$170.00" in page and "≥ $170.00" not in page and NOTE_ALL in page
