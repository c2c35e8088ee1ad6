"""Bad input: the exchange payload parsers, a page with poisonous rows, the key CLI and the API schema.

* Hypothesis over the parsers (``perpvol_core.exchanges.woox.parse.parse_fill`` for transactionHistory rows in
  the doc and live formats and for v1 hist_trades rows, ``perpvol_core.exchanges.woox.stream.parse_push`` for the
  WebSocket ``executionreport``, ``perpvol_core.exchanges.paradex.rest.parse_fill`` and ``parse_paradex_push``):
  the simulators' own encoders make the good rows (bytes on the wire → ``parse_json`` → parser), which
  must parse exactly, including prices like 1e-18 and 1e12; mutated rows (missing fields, wrong types,
  unknown symbols and fill types) either parse or raise the errors the connectors catch and report.
* A real sync over a page with good rows and a few unreadable ones: the good rows are stored, the bad
  ones reported and skipped.
* ``perpvol keys add`` with malformed input: a clear message and a non-zero exit, never a traceback.
* The schemathesis run of tests/api/test_api.py skips ``POST /accounts`` and ``POST /accounts/{label}/test``
  (they would contact generated URLs); they are fuzzed here with every base_url pointed at 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tornado.web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perpvol_app.server import BackgroundApp
from perpvol_core.exchanges._http import parse_json
from perpvol_core.exchanges.paradex import rest as px
from perpvol_core.exchanges.paradex.stream import parse_push as parse_paradex_push
from perpvol_core.exchanges.woox import parse as wx
from perpvol_core.exchanges.woox.stream import parse_push as parse_woox_push
from perpvol_core.fill import Fill
from perpvol_sim.history import SimFill
from perpvol_sim.paradex import ParadexSimConfig, fill_to_json
from perpvol_sim.server import BackgroundServer, free_port
from perpvol_sim.woox import encode_json, execution_report, v1_row, v3_row

ROOT = Path(__file__).resolve().parents[2]
#: what the connectors catch (and report as a skipped row); anything else would crash a sync
PARSE_ERRORS = (KeyError, ValueError, TypeError, ArithmeticError)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)

# ------------------------------------------------------------------------------------------ strategies
MIN_TS, MAX_TS = 1_500_000_000_000, 1_900_000_000_000


# The bounds a Fill admits (perpvol_core.fill): at most 12 decimal places and below 1e12.
_SMALLEST, _LARGEST = Decimal("1E-12"), Decimal(10**12) - Decimal("1E-12")


def _decimal() -> st.SearchStrategy[Decimal]:
    """Positive decimals from 1e-12 to just under 1e12 with up to 24 significant digits (and the extremes)."""
    mantissa = st.integers(1, 10**24 - 1)
    return st.one_of(
        st.sampled_from([_SMALLEST, _LARGEST, Decimal("0.000000000001"), Decimal(10**12 - 1)]),
        st.builds(lambda m, e: (Decimal(m).scaleb(e)), mantissa, st.integers(-12, -12 + 23)),
    ).filter(lambda d: _SMALLEST <= d <= _LARGEST and d.as_tuple().exponent >= -12)


def sim_fills(exchange: str) -> st.SearchStrategy[SimFill]:
    if exchange == "woox":
        markets = st.sampled_from(["PERP_BTC_USDT", "PERP_DOGE_USDT", "SPOT_BTC_USDT", "PERP_NEWCOIN_USDT"])
        ids = st.integers(1, 10**12).map(str)
        types = st.just("FILL")
    else:
        markets = st.sampled_from(["BTC-USD-PERP", "ETH-USD", "BTC-USD-96000-C", "NEWCOIN-USD-PERP"])
        ids = st.integers(10**12, 10**27).map(str)
        types = st.sampled_from(["FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE", "SETTLE_MARKET", "UNWIND_TRANSFER"])
    fee = st.one_of(_decimal(), _decimal().map(lambda d: -d), st.just(Decimal(0)))
    return st.builds(
        SimFill,
        fill_id=ids,
        order_id=st.integers(1, 10**12).map(str),
        market=markets,
        side=st.sampled_from(["BUY", "SELL"]),
        liquidity=st.sampled_from(["MAKER", "TAKER"]),
        price=_decimal(),
        size=_decimal(),
        fee=fee,
        fee_asset=st.sampled_from(["USDT", "USDC"]),
        ts_ms=st.integers(MIN_TS, MAX_TS),
        fill_type=types,
    )


JSON_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "NaN", "Infinity", "-Infinity", "1e999999", "0x10", "１２３", "1,5", " 1 ", "-0", "1e-18"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _wire(obj: Any) -> Any:
    """What a connector sees: the simulator's JSON bytes decoded with Decimal numbers."""
    return parse_json(encode_json(obj))


def _junk_wire(obj: Any) -> Any:
    """Like ``_wire`` for junk values (NaN/Infinity floats go through as the JSON extensions Python writes)."""
    return json.loads(json.dumps(obj), parse_float=Decimal)


def _assert_same(fill: Fill, sim: SimFill, exchange: str) -> None:
    assert fill.exchange == exchange
    assert fill.fill_id == sim.fill_id
    assert fill.fill_type == sim.fill_type
    assert fill.market == sim.market
    assert fill.side == sim.side
    assert fill.liquidity == sim.liquidity
    assert fill.price == sim.price and fill.size == sim.size and fill.fee == sim.fee
    assert fill.ts_ms == sim.ts_ms
    assert fill.notional == sim.price * sim.size


def _check_parsed(fill: Fill | None) -> None:
    """A fill a parser returned is well-typed (money exact Decimal, integer ms)."""
    if fill is None:
        return
    assert isinstance(fill, Fill)
    for value in (fill.price, fill.size, fill.fee):
        assert isinstance(value, Decimal) and value.is_finite()
    assert isinstance(fill.ts_ms, int) and fill.ts_ms >= 0
    assert fill.liquidity in ("MAKER", "TAKER")


# ------------------------------------------------------------------------------------------ good rows
@FAST
@given(fill=sim_fills("woox"), fmt=st.sampled_from(["doc", "live"]))
def test_woox_transaction_history_rows_parse_exactly(fill: SimFill, fmt: str) -> None:
    _assert_same(wx.parse_fill(_wire(v3_row(fill, fmt))), fill, "woox")


@FAST
@given(fill=sim_fills("woox"))
def test_woox_hist_trades_rows_and_pushes_parse_exactly(fill: SimFill) -> None:
    _assert_same(wx.parse_fill(_wire(v1_row(fill))), fill, "woox")
    pushed = parse_woox_push(_wire(execution_report(fill)))
    assert pushed is not None
    _assert_same(pushed, fill, "woox")


@FAST
@given(
    fill=sim_fills("paradex"),
    created_as_string=st.booleans(),
    legacy=st.booleans(),
    optional_fields=st.booleans(),
)
def test_paradex_fills_parse_exactly(
    fill: SimFill, created_as_string: bool, legacy: bool, optional_fields: bool
) -> None:
    introduced = {} if optional_fields else dict.fromkeys(
        ("realized_pnl", "realized_funding", "flags", "orderbook_seq_no", "underlying_price"), 10**15)
    config = ParadexSimConfig(created_at_as_string=created_as_string, legacy_transfer_name=legacy,
                              field_introduced_ms=introduced)
    row = fill_to_json(fill, 0x1234, config)
    _assert_same(px.parse_fill(_wire(row)), fill, "paradex")
    push = {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": "fills.ALL", "data": row}}
    pushed = parse_paradex_push(_wire(push))
    assert pushed is not None
    _assert_same(pushed, fill, "paradex")


def test_numbers_as_strings_or_json_numbers_and_extremes() -> None:
    base = {"id": 5, "symbol": "PERP_BTC_USDT", "isMaker": "0", "executedTimestamp": "1752055173.630"}
    for price, size in (("1e-12", "999999999999"), (Decimal("1E-12"), 10**12 - 1), ("0.000000000001", "999999999999")):
        f = wx.parse_fill({**base, "executedPrice": price, "executedQuantity": size})
        assert f.price == Decimal("1E-12") and f.size == Decimal(10**12 - 1)
        assert f.notional == Decimal("0.999999999999")
        assert f.ts_ms == 1752055173630 and f.liquidity == "TAKER"
    row = {"id": "x1", "market": "BTC-USD-PERP", "liquidity": "MAKER", "price": 123456789012 - 1, "size": "1e-12",
           "created_at": "1752055173630"}
    f = px.parse_fill(row)
    assert f.fee == 0 and f.fill_type == "FILL" and f.price == Decimal(123456789011) and f.ts_ms == 1752055173630
    # beyond the bounds: refused (the connector reports and skips the row), never rounded
    for price, size in (("1e-13", "1"), ("1e12", "1"), ("1", "0.0000000000001")):
        with pytest.raises(ValueError):
            wx.parse_fill({**base, "executedPrice": price, "executedQuantity": size})


# ------------------------------------------------------------------------------------------ bad rows
_WOOX_REQUIRED = ("id", "symbol", "executedPrice", "executedQuantity", "isMaker", "executedTimestamp")
_PARADEX_REQUIRED = ("id", "market", "price", "size", "liquidity", "created_at")


@st.composite
def mutations(draw: st.DrawFn, keys: tuple[str, ...]) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    """(keys to delete, keys to set to junk, unknown keys to add)."""
    delete = draw(st.lists(st.sampled_from(keys), max_size=2, unique=True))
    junk = draw(st.dictionaries(st.sampled_from(keys), JSON_JUNK, max_size=3))
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in keys), JSON_JUNK,
                                 max_size=2))
    return delete, junk, extra


def _mutate(row: dict[str, Any], delete: list[str], junk: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in delete:  # (a key also in ``junk`` comes back with a junk value)
        out.pop(key, None)
    out.update(_junk_wire({**junk, **extra}))
    return out


@FAST
@given(fill=sim_fills("woox"), fmt=st.sampled_from(["doc", "live", "v1"]), mut=mutations(_WOOX_REQUIRED))
def test_woox_bad_rows_raise_a_reportable_error_or_parse(fill: SimFill, fmt: str, mut: Any) -> None:
    delete, junk, extra = mut
    row = _wire(v1_row(fill) if fmt == "v1" else v3_row(fill, fmt))
    if fmt == "v1":  # the snake_case names of the same fields
        names = dict(zip(_WOOX_REQUIRED, ("id", "symbol", "executed_price", "executed_quantity", "is_maker",
                                          "executed_timestamp"), strict=True))
        delete = [names[k] for k in delete]
        junk = {names[k]: v for k, v in junk.items()}
    bad = _mutate(row, delete, junk, extra)
    delete = [k for k in delete if k not in junk]
    try:
        parsed = wx.parse_fill(bad)
    except PARSE_ERRORS:
        return
    _check_parsed(parsed)
    assert not delete, f"a row without {delete} parsed: {parsed}"


@FAST
@given(fill=sim_fills("paradex"), mut=mutations(_PARADEX_REQUIRED))
def test_paradex_bad_rows_raise_a_reportable_error_or_parse(fill: SimFill, mut: Any) -> None:
    delete, junk, extra = mut
    bad = _mutate(_wire(fill_to_json(fill, 0x1234, ParadexSimConfig())), delete, junk, extra)
    delete = [k for k in delete if k not in junk]
    try:
        parsed = px.parse_fill(bad)
    except PARSE_ERRORS:
        return
    _check_parsed(parsed)
    assert not delete, f"a row without {delete} parsed: {parsed}"


@FAST
@given(fill=sim_fills("woox"), mut=mutations(("tradeId", "symbol", "executedPrice", "executedQuantity", "timestamp")),
       top=st.one_of(st.none(), JSON_JUNK))
def test_woox_bad_pushes_raise_a_reportable_error_or_parse(fill: SimFill, mut: Any, top: Any) -> None:
    delete, junk, extra = mut
    msg = _wire(execution_report(fill))
    msg["data"] = _mutate(msg["data"], delete, junk, extra)
    if top is not None:
        msg["data"] = _junk_wire(top)
    try:
        _check_parsed(parse_woox_push(msg))
    except PARSE_ERRORS:
        pass


@FAST
@given(data=st.one_of(JSON_JUNK, st.dictionaries(st.sampled_from(_PARADEX_REQUIRED), JSON_JUNK)),
       channel=st.sampled_from(["fills.ALL", "fills.BTC-USD-PERP", "orders.ALL", ""]))
def test_paradex_bad_pushes_raise_a_reportable_error_or_parse(data: Any, channel: str) -> None:
    msg = {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": _junk_wire(data)}}
    try:
        _check_parsed(parse_paradex_push(msg))
    except PARSE_ERRORS:
        pass


@pytest.mark.parametrize("exchange", ["woox", "paradex"])
def test_wrong_types_for_identity_fields_are_refused(exchange: str) -> None:
    """A list/dict/null where the exchange sends an id or a market is not a fill (it would be stored as text)."""
    if exchange == "woox":
        parse, market = wx.parse_fill, "symbol"
        good: dict[str, Any] = {"id": 1, "symbol": "PERP_BTC_USDT", "executedPrice": "1", "executedQuantity": "1",
                                "isMaker": 0, "executedTimestamp": 1700000000000}
    else:
        parse, market = px.parse_fill, "market"
        good = {"id": "1", "market": "BTC-USD-PERP", "liquidity": "TAKER", "price": "1", "size": "1",
                "created_at": 1700000000000}
    parse(good)
    accepted = []
    for key, value in (("id", None), ("id", ["x"]), ("id", {"a": 1}), (market, None), (market, ["BTC-USD-PERP"])):
        try:
            fill = parse({**good, key: value})
        except PARSE_ERRORS:
            continue
        accepted.append((key, value, fill.fill_id, fill.market))
    assert not accepted, accepted


# ------------------------------------------------------------------------------------------ a page with bad rows
class _Page(tornado.web.RequestHandler):
    """One exchange endpoint answering fixed rows filtered by the requested time range (no auth)."""

    def initialize(self, exchange: str, rows: list[dict[str, Any]]) -> None:
        self.exchange = exchange
        self.rows = rows

    def get(self) -> None:
        def ts(row: dict[str, Any]) -> int:
            try:
                value = int(Decimal(str(row.get("created_at" if self.exchange == "paradex" else "executedTimestamp"))))
            except Exception:  # noqa: BLE001 - a junk timestamp: always in range
                return _NOW_TS
            # an absurd timestamp is served too, as a broken exchange would, so the connector must skip it
            return value if value < 10**15 else _NOW_TS
        if self.exchange == "paradex":
            lo, hi = int(self.get_argument("start_at")), int(self.get_argument("end_at"))
            rows = [r for r in self.rows if lo <= ts(r) <= hi]
            body: dict[str, Any] = {"results": rows, "next": None}
        else:
            lo, hi = int(self.get_argument("startTime")), int(self.get_argument("endTime"))
            rows = [r for r in self.rows if lo <= ts(r) <= hi]
            body = {"success": True, "data": {"rows": rows, "meta": {"total": len(rows), "recordsPerPage": 500,
                                                                       "currentPage": 1}}}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


@contextmanager
def page_server(exchange: str, rows: list[dict[str, Any]]) -> Iterator[str]:
    path = "/v1/fills" if exchange == "paradex" else "/v3/trade/transactionHistory"
    server = BackgroundServer(tornado.web.Application([(path, _Page, {"exchange": exchange, "rows": rows})]))
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def _sync_rows(db_url: str, tmp_path: Path, exchange: str, rows: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    from perpvol_core.config import Settings
    from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
    from perpvol_core.exchanges.woox.credentials import WooxCredentials
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.events import EventBus
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import Store

    home = tmp_path / f"home-{exchange}"
    home.mkdir(mode=0o700, exist_ok=True)
    settings = Settings(home=home, database_url=db_url)
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    creds: Any = (WooxCredentials(api_key="k" * 20, api_secret=Secret("S" * 28)) if exchange == "woox"
                  else ParadexTokenCredentials(token=Secret("t" * 40)))
    with page_server(exchange, rows) as url:
        store.add_account("acc", exchange, url, vault.encrypt(creds, label="acc", base_url=url), creds.hint)
        engine = SyncEngine(store, vault, EventBus(), connector_options={exchange: {"max_attempts": 1}})
        try:
            result = engine.sync(days=730)[0]  # the longest sync perpvol accepts (perpvol_core/bounds.py)
        finally:
            engine.close()
    return store, result, store.get_account("acc")


_NOW_TS = 1_750_000_000_000


def _good_rows(exchange: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        if exchange == "woox":
            out.append({"id": 1000 + i, "symbol": "PERP_BTC_USDT", "executedPrice": "60000.5", "executedQuantity":
                        "0.01", "isMaker": i % 2, "side": "BUY", "fee": "0.3", "feeAsset": "USDT",
                        "executedTimestamp": _NOW_TS + i})
        else:
            out.append({"id": f"{_NOW_TS + i}{i:015d}", "market": "BTC-USD-PERP", "liquidity": "MAKER", "side":
                        "SELL", "price": "60000.5", "size": "0.01", "fee": "0.3", "fee_currency": "USDC",
                        "created_at": _NOW_TS + i, "fill_type": "FILL"})
    return out


def _readable_bad_rows(exchange: str) -> list[dict[str, Any]]:
    """Rows every parser refuses today: missing fields, NaN, a boolean price, junk timestamps."""
    g = _good_rows(exchange, 1)[0]
    price, ts = ("executedPrice", "executedTimestamp") if exchange == "woox" else ("price", "created_at")
    missing = dict(g)
    missing.pop(price)
    return [missing, {**g, "id": 9001, price: "NaN"}, {**g, "id": 9002, price: True}, {**g, "id": 9003, ts: "soon"},
            "not an object", None]


@pytest.mark.parametrize("exchange", ["woox", "paradex"])
def test_a_page_with_bad_rows_stores_the_good_ones_and_reports_the_bad(
    exchange: str, sqlite_url: str, tmp_path: Path
) -> None:
    good = _good_rows(exchange, 5)
    bad = _readable_bad_rows(exchange)
    store, result, account = _sync_rows(sqlite_url, tmp_path, exchange, good[:2] + bad + good[2:])
    try:
        assert result.ok, result.error
        assert store.fill_count(account.id) == 5
        assert len(result.skipped) == len(bad)
        assert account.status == "ok"
    finally:
        store.close()


@pytest.mark.parametrize("exchange", ["woox", "paradex"])
def test_a_row_that_cannot_be_stored_is_skipped_not_fatal(exchange: str, db_url: str, tmp_path: Path) -> None:
    good = _good_rows(exchange, 3)
    market = "symbol" if exchange == "woox" else "market"
    ts = "executedTimestamp" if exchange == "woox" else "created_at"
    poison = [{**good[0], "id": 7001, ts: 10**30}, {**good[0], "id": 7002, market: "PERP_" + "X" * 200 + "_USDT"},
              {**good[0], "id": "9" * 300}]
    store, result, account = _sync_rows(db_url, tmp_path, exchange, good + poison)
    try:
        assert result.ok, result.error
        assert store.fill_count(account.id) == 3
        assert len(result.skipped) == len(poison)
    finally:
        store.close()


# ------------------------------------------------------------------------------------------ the key CLI
def _cli(argv: list[str], stdin: str, home: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from perpvol_cli.main import main

    monkeypatch.setenv("PERPVOL_HOME", str(home))
    monkeypatch.delenv("PERPVOL_DATABASE_URL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "stdin", "says"),
    [
        (["keys", "add", "paradex", "--label", "p", "--account", "nothex", "--l2-key-stdin"], "0x123", "0x-hex"),
        (["keys", "add", "paradex", "--label", "p", "--account", "0x12zz", "--l2-key-stdin"], "0x123", "0x-hex"),
        (["keys", "add", "paradex", "--label", "p", "--account", "0x" + "a" * 65, "--l2-key-stdin"], "0x1", "0x-hex"),
        (["keys", "add", "paradex", "--label", "p", "--account", "0xabc", "--l2-key-stdin"], "not-a-key", "0x-hex"),
        (["keys", "add", "paradex", "--label", "p", "--token-stdin"], "", "empty"),
        (["keys", "add", "paradex", "--label", "p", "--token-stdin"], "  \n\t\n", "empty"),
        (["keys", "add", "woox", "--label", "w", "--api-key", "k", "--api-secret-stdin"], "", "empty"),
        (["keys", "add", "woox", "--label", "w", "--api-key", "k", "--api-secret-stdin"], "two words", "whitespace"),
        (["keys", "add", "woox", "--label", "w", "--api-secret-stdin"], "s" * 30, "--api-key"),
        (["keys", "add", "woox", "--label", "bad label!", "--api-key", "k", "--api-secret-stdin"], "s" * 30, "label"),
        (["keys", "add", "woox", "--label", "x" * 5000, "--api-key", "k", "--api-secret-stdin"], "s" * 30, "label"),
        (["keys", "add", "woox", "--label", "w", "--api-key", "k", "--api-secret-stdin", "--base-url", "ftp://x"],
         "s" * 30, "base-url"),
    ],
)
def test_malformed_keys_get_a_clear_message(
    argv: list[str], stdin: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _cli(argv, stdin, tmp_path / "home", monkeypatch, capsys)
    assert code != 0
    assert err.startswith("perpvol: error:") and says.lower() in err.lower(), err
    assert "Traceback" not in out + err
    if stdin.strip() and len(stdin) > 5:
        assert stdin.strip() not in out + err  # the secret is never echoed


@pytest.mark.slow  # the connection refusal is retried with backoff (about 8 s) before the error
def test_huge_secret_on_stdin_is_a_clear_error_in_a_real_process(tmp_path: Path) -> None:
    """8 MB of token on stdin, tested against a local port nobody listens on: an error line, no traceback."""
    import os

    home = tmp_path / "home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PERPVOL_")}, "PERPVOL_HOME": str(home)}
    huge = "A" * (8 * 1024 * 1024)
    for extra in ([],):
        argv = [sys.executable, "-m", "perpvol_cli.main", "keys", "add", "paradex", "--label", "p",
                "--base-url", f"http://127.0.0.1:{free_port()}"]
        argv += extra or ["--token-stdin"]
        proc = subprocess.run(argv, input=huge, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr and proc.stderr.startswith("perpvol: error:"), proc.stderr[:500]
        assert len(proc.stderr) < 2000 and huge[:64] not in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------ schemathesis
def test_schemathesis_covers_the_operations_tests_api_skips(tmp_path: Path) -> None:
    """POST /accounts and POST /accounts/{label}/test fuzzed; every base_url is forced to a local simulator."""
    import schemathesis
    from hypothesis import given as h_given
    from hypothesis import settings as h_settings
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    from perpvol_app import api
    from perpvol_app.openapi import openapi_document
    from perpvol_core.config import Settings
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import Vault
    from perpvol_core.store import Store

    token = "schemathesis-token-" + "x" * 16
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    settings_ = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}", api_token=Secret(token))
    store = Store.open(settings_)
    server = BackgroundApp(api.make_app(api.ApiContext(settings_, store=store, vault=Vault.open(settings_, store),
                                                          use_worker=False)))
    server.start()
    from perpvol_sim.history import History
    from perpvol_sim.paradex import ParadexSim
    from perpvol_sim.woox import WooxSim

    sims = {"woox": WooxSim(History("woox", 1, 20, days=5)), "paradex": ParadexSim(History("paradex", 1, 20, days=5))}
    for sim in sims.values():
        sim.start()
    urls = {"woox": sims["woox"].base_url, "paradex": sims["paradex"].api_url}
    closed = f"http://127.0.0.1:{free_port()}"
    schema = schemathesis.openapi.from_dict(openapi_document())
    ran = []
    try:
        for result in schema.get_all_operations():
            op = result.ok()
            if not (op.method.upper() == "POST" and op.path.startswith("/api/v1/accounts")):
                continue

            @h_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @h_given(case=op.as_strategy())
            def check(case: Any) -> None:
                if isinstance(case.body, dict):  # never contact a generated (or the real) exchange host
                    case.body["base_url"] = urls.get(str(case.body.get("exchange")), closed)
                case.call_and_validate(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"},
                                       checks=[not_a_server_error, response_schema_conformance])

            check()
            ran.append(f"{op.method.upper()} {op.path}")
    finally:
        server.stop()
        store.close()
        for sim in sims.values():
            sim.stop()
    assert len(ran) == 2, ran
