"""``volume.range_report`` and ``perpvol volume --from/--to`` against a recomputation from the fills."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from perpvol_core.analytics import volume
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_core.fill import Fill
from perpvol_core.store import Store
from tests.analytics.test_volume import _day, loaded  # noqa: F401 - the shared fixture
from tests.cli.test_cli_foundation import make_env, run
from tests.store.test_store import USD, make_fills

ZERO = Decimal(0)
FIELDS = ("volume_usd", "maker_usd", "taker_usd", "fees_usd")


def expected_range(fills: list[Fill], start: date, end: date, exchange: str | None = None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for f in fills:
        if not f.counted or not start <= _day(f.ts_ms) <= end or (exchange and f.exchange != exchange):
            continue
        cell = out.setdefault(f.exchange, {**dict.fromkeys(FIELDS, ZERO), "fills": 0})
        notional = f.price * f.size
        cell["volume_usd"] += notional
        cell["maker_usd" if f.liquidity == "MAKER" else "taker_usd"] += notional
        cell["fees_usd"] += f.fee if f.fee_asset in USD else ZERO
        cell["fills"] += 1
    return out


def _bounds(fills: list[Fill]) -> tuple[date, date]:
    days = sorted(_day(f.ts_ms) for f in fills)
    return days[0], days[-1]


def test_range_report_equals_fills(loaded: tuple[Store, list[Fill]]) -> None:  # noqa: F811
    store, fills = loaded
    first, last = _bounds(fills)
    ranges = [(first, last), (first + timedelta(days=3), first + timedelta(days=9)), (last, last),
              (first - timedelta(days=30), first - timedelta(days=1))]  # fmt: skip
    for start, end in ranges:
        for exchange in (None, *VENUES):
            got = volume.range_report(store, start, end, exchange)
            want = expected_range(fills, start, end, exchange)
            listed = [exchange] if exchange else list(VENUES)
            assert list(got["by_exchange"]) == listed
            assert got["days"] == (end - start).days + 1
            for e in listed:
                cell = want.get(e, {**dict.fromkeys(FIELDS, ZERO), "fills": 0})
                assert got["by_exchange"][e] == cell, (start, end, e)
                assert all(isinstance(got["by_exchange"][e][k], Decimal) for k in FIELDS)
            for k in (*FIELDS, "fills"):
                assert got["totals"][k] == sum((want.get(e, {}).get(k, 0) for e in listed), 0 if k == "fills" else ZERO)
    assert volume.data_bounds(store) == (
        min(_day(f.ts_ms) for f in fills if f.counted), max(_day(f.ts_ms) for f in fills if f.counted)
    )


def test_range_report_rejects_bad_input(loaded: tuple[Store, list[Fill]]) -> None:  # noqa: F811
    store, _ = loaded
    with pytest.raises(ValueError, match="after it ends"):
        volume.range_report(store, date(2026, 2, 2), date(2026, 2, 1))
    with pytest.raises(ValueError, match="unknown exchange"):
        volume.range_report(store, date(2026, 2, 1), date(2026, 2, 2), "binance")


def test_cli_volume_range(tmp_path: Path, db_url: str) -> None:
    env = make_env(tmp_path / "home", db_url)
    fills = make_fills(31, 400, days=30)
    store = Store.open(Settings.from_env(env))
    store.ingest_fills(store.add_account("w", "woox", None, b"x", "h").id, fills)
    store.close()
    first, last = _bounds(fills)
    start, end = first + timedelta(days=5), first + timedelta(days=12)
    by_exchange = expected_range(fills, start, end)
    for extra in ((), ("--daily",)):
        res = run(env, "volume", "--json", "--from", start.isoformat(), "--to", end.isoformat(), *extra)
        assert res.returncode == 0, res.stderr
        report = json.loads(res.stdout)
        rng = report["range"]
        assert (rng["from"], rng["to"], rng["days"]) == (start.isoformat(), end.isoformat(), 8)
        for exch, want in by_exchange.items():
            assert {k: Decimal(rng["by_exchange"][exch][k]) for k in FIELDS} == {k: want[k] for k in FIELDS}
            assert rng["by_exchange"][exch]["fills"] == want["fills"]
        assert Decimal(rng["totals"]["volume_usd"]) == sum(w["volume_usd"] for w in by_exchange.values())
        assert rng["totals"]["fills"] == sum(w["fills"] for w in by_exchange.values())
        assert ("daily" in report) == bool(extra)
        if extra:
            assert {r["date"] for r in report["daily"]} <= {(start + timedelta(days=i)).isoformat() for i in range(8)}
        human = run(env, "volume", "--from", start.isoformat(), "--to", end.isoformat(), *extra)
        assert human.returncode == 0, human.stderr
        assert f"{start.isoformat()} → {end.isoformat()} (8 days)" in human.stdout
        for want in by_exchange.values():
            assert f"{want['volume_usd'].quantize(Decimal('0.01')):,}" in human.stdout
        assert "WOO X" in human.stdout and "Paradex" in human.stdout
    no_range = json.loads(run(env, "volume", "--json").stdout)
    assert "range" not in no_range
    only_from = json.loads(run(env, "volume", "--json", "--from", start.isoformat()).stdout)["range"]
    assert only_from["from"] == start.isoformat()
    assert Decimal(only_from["totals"]["volume_usd"]) == sum(
        w["volume_usd"] for w in expected_range(fills, start, last).values()
    )
