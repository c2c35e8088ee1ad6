"""Each venue's fee-schedule reader against its simulator, under every reading the notes leave open:
WOO X's rate unit (basis points, a percentage, a fraction; ``tradingFee`` absent), Paradex's reported
``volume_tiers`` kinds (retail, pro, both), Hyperliquid's ``userFees`` (the table as served, rates that match
no tier, the older shape, numbers as JSON numbers). The tables are compared with the raw answers the
simulators serve, read here with plain HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from perpvol_core.analytics.fee_schedule import FeeSchedule
from perpvol_core.exchanges import BadPayload, make_connector
from perpvol_core.exchanges.hyperliquid.fee_schedule import fee_schedule as hl_schedule
from perpvol_core.exchanges.hyperliquid.fee_schedule import parse_user_fees
from perpvol_core.exchanges.paradex.fee_schedule import fee_schedule as px_schedule
from perpvol_core.exchanges.woox.fees import fee_schedule as wx_schedule
from perpvol_core.exchanges.woox.fees import parse_rates, read_rate
from perpvol_core.services.accounts import AccountRequest, build_credentials
from perpvol_sim.history import History
from perpvol_sim.hyperliquid import demo_venue as hl_venue
from perpvol_sim.paradex import ParadexDemoVenue
from perpvol_sim.woox import demo_venue as wx_venue

D = Decimal
NOW = 1_790_000_000_000
OPTIONS = {"max_attempts": 3, "backoff_s": 0.05, "timeout": 5.0}


def _connector(name: str, sim):  # noqa: ANN001, ANN202
    creds = build_credentials(AccountRequest(name, "x", credentials=sim.credentials(), base_url=sim.base_url))
    return make_connector(creds, sim.base_url, **OPTIONS)


@pytest.mark.parametrize(("unit", "taker", "maker"),
                         [("bps", "5", "2"), ("percent", "0.05", "0.02"), ("fraction", "0.0005", "0.0002"),
                          (None, None, None)])  # fmt: skip
def test_woox_rates_in_every_unit_reading(unit: str | None, taker: str | None, maker: str | None) -> None:
    sim = wx_venue(3, 50, NOW, 10)
    sim.config.fee_unit = unit
    sim.start()
    try:
        connector = _connector("woox", sim)
        if unit is None:
            with pytest.raises(BadPayload):  # signed like every private route, answered 404 -1006
                connector.request("GET", "/v3/trade/tradingFee", params={"symbol": "PERP_BTC_USDT"})
        else:
            raw = connector.request("GET", "/v3/trade/tradingFee", params={"symbol": "PERP_BTC_USDT"})["data"]
            assert (raw["takerFee"], raw["makerFee"]) == (taker, maker)
        schedule = FeeSchedule.model_validate({"exchange": "woox", **wx_schedule(connector, None)})
        connector.close()
    finally:
        sim.stop()
    profile = sim.history.profile
    assert (schedule.taker_rate, schedule.maker_rate) == (profile.taker_rate, profile.maker_rate)  # 5 and 2 bps
    [table] = schedule.tables
    assert not table.published and not table.tiers and "publishes no tier table" in table.note
    where = "/v3/account/info" if unit is None else "/v3/trade/tradingFee"
    assert all(r.startswith(where) for r in schedule.readings), schedule.readings


def test_woox_rate_parser_readings() -> None:
    assert read_rate("10") == (D("0.001"), "basis points")  # 10 bps = 0.10 %
    assert read_rate("0.1") == (D("0.001"), "a percentage")
    assert read_rate(D("0.00045")) == (D("0.00045"), "a fraction")
    assert read_rate(0)[0] == 0 and read_rate("x") is None and read_rate(None) is None
    got = parse_rates({"success": True, "data": [{"symbol": "PERP_BTC_USDT", "takerFee": "8", "makerFee": "3"}]},
                      {"data": {"takerFeeRate": 9, "makerFeeRate": 4}})  # fmt: skip
    assert (got["taker_rate"], got["maker_rate"]) == ("0.0008", "0.0003")  # tradingFee first
    got = parse_rates(None, {"data": {"futuresTakerFeeRate": "6", "makerFeeRate": None}})
    assert got["taker_rate"] == "0.0006" and "maker_rate" not in got
    with pytest.raises(BadPayload):
        parse_rates({"data": {}}, {"data": {"takerFeeRate": "n/a"}})


@pytest.mark.parametrize(("kinds", "expected_kind"),
                         [(("retail",), "retail"), (("retail", "pro"), "retail"), (("pro",), "pro")])
def test_paradex_tables_and_the_reported_kind(kinds: tuple[str, ...], expected_kind: str) -> None:
    sim = ParadexDemoVenue(History("paradex", 4, 300, now_ms=NOW, days=20), volume_tier_kinds=kinds)
    sim.start()
    try:
        raw = httpx.get(f"{sim.api_url}/system/volume-tiers").json()["results"]
        connector = _connector("paradex", sim)
        schedule = FeeSchedule.model_validate({"exchange": "paradex", **px_schedule(connector, None)})
        connector.close()
    finally:
        sim.stop()
    assert {t.kind for t in schedule.tables} == {"retail", "pro"}
    for table in schedule.tables:
        rows = sorted((r for r in raw if r["kind"] == table.kind), key=lambda r: r["sort_order"])
        assert [(t.name, t.min_volume, t.taker_rate, t.maker_rate) for t in table.tiers] == [
            (r["tier_name"], D(r["min_volume"]), D(r["fee_rates"]["taker_rate"]), D(r["fee_rates"]["maker_rate"]))
            for r in rows
        ]
        assert table.window_days == 14 and table.published and not table.above
    assert schedule.account_kind == expected_kind and schedule.reported_tier
    tier = next(t for t in schedule.table().tiers if t.name == schedule.reported_tier)
    assert schedule.taker_rate == tier.taker_rate  # the account's reported rates are its tier's


def test_hyperliquid_vip_table_as_served_and_the_matched_tier() -> None:
    sim = hl_venue(5, 300, NOW, 20)
    sim.start()
    try:
        connector = _connector("hyperliquid", sim)
        address = connector.credentials.address
        raw = httpx.post(f"{sim.base_url}/info", json={"type": "userFees", "user": address}).json()
        schedule = FeeSchedule.model_validate({"exchange": "hyperliquid", **hl_schedule(connector, None)})
        connector.close()
    finally:
        sim.stop()
    [table] = schedule.tables
    fs = raw["feeSchedule"]
    served = [(D(0), D(fs["cross"]), D(fs["add"]))]
    served += [(D(v["ntlCutoff"]), D(v["cross"]), D(v["add"])) for v in fs["tiers"]["vip"]]
    assert [(t.min_volume, t.taker_rate, t.maker_rate) for t in table.tiers] == served
    assert table.above and table.window_days == 14
    assert (schedule.taker_rate, schedule.maker_rate) == (D(raw["userCrossRate"]), D(raw["userAddRate"]))
    assert schedule.reported_tier == "Tier 0"  # a small history: the base rates


def test_hyperliquid_readings_of_user_fees() -> None:
    fs = {"cross": 0.00045, "add": 0.00015,  # numbers, not strings
          "tiers": {"vip": [{"ntlCutoff": "25000000.0", "cross": "0.00035", "add": "0.00008"},
                            {"ntlCutoff": "5000000.0", "cross": "0.0004", "add": "0.00012"}]}}  # fmt: skip
    got = parse_user_fees({"feeSchedule": fs, "userCrossRate": "0.0004", "userAddRate": "0.00012"}, NOW)
    assert [t["min_volume"] for t in got["tables"][0]["tiers"]] == ["0", "5000000", "25000000"]  # sorted
    assert got["reported_tier"] == "Tier 1"
    discounted = parse_user_fees({"feeSchedule": fs, "userCrossRate": "0.00036", "userAddRate": "0.000108"}, NOW)
    assert discounted["reported_tier"] is None and "discount" in discounted["readings"][0]
    older = parse_user_fees({"userCrossRate": "0.00045", "userAddRate": "0.00015", "dailyUserVlm": []}, NOW)
    assert older["tables"] == [] and older["taker_rate"] == "0.00045"
    with pytest.raises(BadPayload):
        parse_user_fees({"dailyUserVlm": []}, NOW)
    with pytest.raises(BadPayload):
        parse_user_fees(["not", "an", "object"], NOW)
