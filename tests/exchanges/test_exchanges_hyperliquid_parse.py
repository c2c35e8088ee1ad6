"""Hyperliquid wire forms -> Fill, the address credential, the counting rules, the venue report, the spec.

The rows are the fixtures quoted in exchanges/hyperliquid-api.md §3.2 (the docs' example and ccxt's recorded
fills); every expected value is written out by hand.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from perpvol_core.exchanges._errors import BadPayload
from perpvol_core.exchanges._http import parse_json
from perpvol_core.exchanges._spec import load
from perpvol_core.exchanges.hyperliquid.credentials import ADDRESS_RULE, HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.parse import counts, is_perp, parse_fill, parse_fills
from perpvol_core.exchanges.hyperliquid.report import build_report
from perpvol_core.exchanges.hyperliquid.rest import HyperliquidConnector
from perpvol_core.exchanges.hyperliquid.spec import SPEC
from perpvol_core.exchanges.hyperliquid.stream import HyperliquidStream, ws_url

DOCS_EXAMPLE = """{"closedPnl":"0.0","coin":"AVAX","crossed":false,"dir":"Open Long",
  "hash":"0xa166e3fa63c25663024b03f2e0da011a00307e4017465df020210d3d432e7cb8",
  "oid":90542681,"px":"18.435","side":"B","startPosition":"26.86","sz":"93.53",
  "time":1681222254710,"fee":"0.01","feeToken":"USDC","builderFee":"0.01","tid":118906512037719}"""
CCXT_HYPE = """{"coin":"HYPE","px":"33.209","sz":"0.73","side":"B","time":"1770458548926","startPosition":"0.0",
 "dir":"Open Long","closedPnl":"0.0","hash":"0x53542a9ac057af8454cd0434d851d202028b00805b5ace56f71cd5ed7f5b896e",
 "oid":"314848230306","crossed":true,"fee":"0.012896","builderFee":"0.002424","tid":"882779857052503",
 "feeToken":"USDC","twapId":null}"""
CCXT_HIP3 = """{"coin":"flx:CRCL","px":"55.877","sz":"0.27","side":"A","time":"1770134398172","startPosition":"0.27",
 "dir":"Close Long","closedPnl":"-5.147253","hash":"0x0e90e4d738497681100a04349b4a0e02013600bcd34c9553b2599029f74d506b",
 "oid":"310636768174","crossed":true,"fee":"0.001173","tid":"1019408913364172",
 "liquidation":{"liquidatedUser":"0x193bd350ec838b1e22d6f302da5343b920aa1c2b","markPx":"55.92","method":"market"},
 "feeToken":"USDH","twapId":null}"""
CCXT_SPOT = """{"coin":"PURR/USDC","px":"0.9641","sz":"49.0","side":"A","time":1724762433070,"startPosition":"49.98251",
 "dir":"Sell","closedPnl":"-0.489055","hash":"0xbad70c993ee12880ecca040f594b120109003159efb9e090eccb4868a17d56cd",
 "oid":13981880088,"crossed":true,"fee":"0.016534","tid":1107801776196793,"feeToken":"USDC"}"""


def _row(text: str) -> dict:
    return parse_json(text.encode())


def test_docs_example_maker_with_builder_fee():
    f = parse_fill(_row(DOCS_EXAMPLE))
    assert f.exchange == "hyperliquid"
    assert f.fill_id == "118906512037719:90542681"
    assert (f.fill_type, f.market, f.side, f.liquidity) == ("FILL", "AVAX", "BUY", "MAKER")
    assert (f.price, f.size, f.fee, f.builder_fee) == (Decimal("18.435"), Decimal("93.53"), Decimal("0.01"),
                                                       Decimal("0.01"))
    assert (f.fee_asset, f.ts_ms) == ("USDC", 1681222254710)
    assert f.notional == Decimal("1724.22555")


def test_ccxt_fixture_with_string_numbers_taker():
    f = parse_fill(_row(CCXT_HYPE))
    assert f.fill_id == "882779857052503:314848230306"
    assert (f.fill_type, f.side, f.liquidity, f.ts_ms) == ("FILL", "BUY", "TAKER", 1770458548926)
    assert (f.fee, f.builder_fee) == (Decimal("0.012896"), Decimal("0.002424"))  # both raw, never summed
    assert f.notional == Decimal("24.24257")


def test_hip3_fill_is_a_counted_perp_with_its_own_type():
    f = parse_fill(_row(CCXT_HIP3))
    assert (f.fill_type, f.market, f.side, f.fee_asset, f.builder_fee) == ("HIP3", "flx:CRCL", "SELL", "USDH", None)
    assert f.ts_ms == 1770134398172
    assert is_perp("flx:CRCL") and counts("flx:CRCL", "HIP3")


def test_spot_fills_are_stored_apart_and_never_counted():
    f = parse_fill(_row(CCXT_SPOT))
    assert (f.fill_type, f.market, f.price, f.size) == ("SPOT", "PURR/USDC", Decimal("0.9641"), Decimal("49.0"))
    assert not is_perp("PURR/USDC") and not counts("PURR/USDC", "SPOT")
    at = dict(_row(CCXT_SPOT), coin="@107")
    assert parse_fill(at).fill_type == "SPOT" and not is_perp("@107")
    assert not counts("@107", "FILL")  # a spot coin never counts, whatever the type says


def test_numbers_and_strings_give_the_same_identity_and_values():
    as_numbers = _row(DOCS_EXAMPLE)
    as_strings = {**as_numbers, "time": "1681222254710", "oid": "90542681", "tid": "118906512037719"}
    # JSON numbers for money arrive as Decimal (parse_json): never through float
    as_json_numbers = parse_json(json.dumps(as_numbers).replace('"18.435"', "18.435").encode())
    assert parse_fill(as_numbers) == parse_fill(as_strings) == parse_fill(as_json_numbers)


def test_negative_fee_is_a_maker_rebate_and_delisted_coins_are_kept():
    row = {**_row(DOCS_EXAMPLE), "coin": "OLDCOIN", "fee": "-0.0014", "crossed": False}
    row.pop("builderFee")
    f = parse_fill(row)
    assert (f.fee, f.builder_fee, f.liquidity, f.fill_type) == (Decimal("-0.0014"), None, "MAKER", "FILL")
    assert counts("OLDCOIN", "FILL")


def test_unknown_fields_are_ignored_and_bad_rows_reported_not_fatal():
    good = {**_row(CCXT_HYPE), "somethingNew": {"x": 1}, "cloid": "0x1234567890abcdef1234567890abcdef"}
    bad_side = {**_row(CCXT_HYPE), "side": "X", "tid": "1"}
    bad_time = {**_row(CCXT_HYPE), "time": "12.5", "tid": "2"}
    float_like = {**_row(CCXT_HYPE), "px": "abc", "tid": "3"}
    fills, skipped = parse_fills([good, bad_side, bad_time, float_like, None, {"tid": 4}])
    assert [f.fill_id for f in fills] == ["882779857052503:314848230306"]
    assert len(skipped) == 5
    assert "tid=1 " in skipped[0] and "B or A" in skipped[0]


@pytest.mark.parametrize(
    "raw", [" 0xABCDEFabcdef0123456789abcdef0123456789AB ", "0xabcdefabcdef0123456789abcdef0123456789ab"]
)
def test_address_is_stored_lowercase(raw):
    cred = HyperliquidAddress(address=raw)
    assert cred.address == "0xabcdefabcdef0123456789abcdef0123456789ab"
    assert cred.kind == "hyperliquid_address" and HyperliquidAddress.exchange == "hyperliquid"
    assert cred.hint == "0xabcd…89ab"


@pytest.mark.parametrize("raw", ["", "0x123", "abcdefabcdef0123456789abcdef0123456789abcd", "0x" + "g" * 40, 12, None])
def test_bad_addresses_are_refused_in_our_words(raw):
    with pytest.raises(ValidationError) as info:
        HyperliquidAddress(address=raw)
    assert ADDRESS_RULE in str(info.value)


def test_credential_is_frozen_and_closed():
    with pytest.raises(ValidationError):
        HyperliquidAddress(address="0x" + "1" * 40, secret="x")
    cred = HyperliquidAddress(address="0x" + "1" * 40)
    with pytest.raises(ValidationError):
        cred.address = "0x" + "2" * 40  # type: ignore[misc]


def test_stream_urls_and_spec():
    assert ws_url(None) == "wss://api.hyperliquid.xyz/ws"
    assert ws_url("https://api.hyperliquid.xyz") == "wss://api.hyperliquid.xyz/ws"
    assert ws_url("https://api.hyperliquid-testnet.xyz/") == "wss://api.hyperliquid-testnet.xyz/ws"
    assert ws_url("http://127.0.0.1:8123") == "ws://127.0.0.1:8123/ws"
    assert SPEC.name == "hyperliquid" and SPEC.retention_limited and SPEC.credential_kinds == (HyperliquidAddress,)
    assert SPEC.colour.lower() not in ("#ffd230", "#a8841a")
    assert SPEC.is_perp("BTC") and not SPEC.counts("PURR/USDC", "SPOT") and SPEC.counts("xyz:TSLA", "HIP3")
    assert load(SPEC.connector) is HyperliquidConnector and load(SPEC.stream) is HyperliquidStream
    cred = HyperliquidAddress(address="0x" + "AB" * 20)
    assert load(SPEC.identity)(None, cred) == "0x" + "ab" * 20
    assert SPEC.hosts == {"api.hyperliquid.xyz": "api.hyperliquid.xyz",
                          "api.hyperliquid-testnet.xyz": "api.hyperliquid-testnet.xyz"}


def test_stream_messages():
    cred = HyperliquidAddress(address="0x" + "ab" * 20)
    stream = HyperliquidStream(cred, "http://127.0.0.1:1")
    ours = {"channel": "userFills", "data": {"user": "0x" + "AB" * 20, "fills": [_row(DOCS_EXAMPLE)]}}
    assert [f.fill_id for f in stream.on_message(ours).fills] == ["118906512037719:90542681"]
    theirs = {"channel": "userFills", "data": {"user": "0x" + "cd" * 20, "isSnapshot": True,
                                               "fills": [_row(DOCS_EXAMPLE)]}}
    assert stream.on_message(theirs).fills == []
    assert stream.on_message({"channel": "pong"}).fills == []
    assert stream.on_message("Websocket connection established.").fills == []
    assert stream.heartbeat() == {"method": "ping"} and stream.heartbeat_s == 50


PORTFOLIO = [
    ["day", {"accountValueHistory": [], "pnlHistory": [], "vlm": "10.5"}],
    ["allTime", {"vlm": "1000.25"}],
    ["perpDay", {"vlm": "7.5"}],
    ["perpAllTime", {"vlm": "900.125"}],
]
USER_FEES = {
    "dailyUserVlm": [
        {"date": "2026-02-08", "userCross": "100.5", "userAdd": "0.0", "exchange": "6761946801.4399995804"},
        {"date": "2026-02-07", "userCross": "1.25", "userAdd": "2.5", "exchange": "1.0"},
        {"date": "2026-02-06", "userCross": "oops", "userAdd": "1"},
    ],
    "userCrossRate": "0.00045", "userAddRate": "0.00015",
}


def test_report_reads_the_venue_figures():
    report = build_report(PORTFOLIO, USER_FEES)
    assert report["perp_all_time_volume"] == "900.125" and report["perp_day_volume"] == "7.5"
    assert report["all_time_volume"] == "1000.25" and report["day_volume"] == "10.5"
    assert report["daily"] == [
        {"date": "2026-02-07", "taker": "1.25", "maker": "2.5", "total": "3.75"},
        {"date": "2026-02-08", "taker": "100.5", "maker": "0", "total": "100.5"},
    ]
    assert report["daily_total_volume"] == "104.25"
    assert report["fees"] == {"taker": "0.00045", "maker": "0.00015"}


def test_report_tolerates_a_mapping_numbers_and_missing_parts():
    as_mapping = {"perpAllTime": {"vlm": Decimal("12.5")}, "perpDay": {}}
    report = build_report(as_mapping, {"dailyUserVlm": []})
    assert report["perp_all_time_volume"] == "12.5" and report["perp_day_volume"] is None
    assert report["daily"] == [] and report["daily_total_volume"] is None and report["fees"] == {}
    with pytest.raises(BadPayload):
        build_report(None, {"error": "x"})
