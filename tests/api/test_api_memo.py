"""Shared answers ahead of the volume routes (``perpvol_app.api_memo``), over real HTTP on both databases.

A repeated read is answered without the route; a write of this process or of another one is seen by the next
read; requests that arrive while a new answer is being made get the previous one instead of waiting; errors are
never kept; the front door still checks and marks every answer; kept answers stay within their byte bound.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from perpvol_app import api, api_memo, views
from perpvol_app.api_memo import ResponseMemo
from perpvol_app.server import BackgroundApp
from perpvol_core.config import Settings
from perpvol_core.exchanges import classify_all
from perpvol_core.fill import Fill
from perpvol_core.security.redaction import Secret

ROOT = Path(__file__).resolve().parents[2]


def _fill(i: int, ts_ms: int, price: str = "100.5", size: str = "2") -> Fill:
    return Fill(exchange="woox", fill_id=f"memo-{i}", fill_type="FILL", market="PERP_BTC_USDT", side="BUY",
                liquidity="TAKER", price=Decimal(price), size=Decimal(size), fee=Decimal("0.01"),
                fee_asset="USDT", ts_ms=ts_ms)  # fmt: skip


class Served:
    def __init__(self, settings: Settings, token: str) -> None:
        from perpvol_core.security.vault import Vault
        from perpvol_core.store import Store

        self.settings = settings
        self.store = Store.open(settings)
        Vault.open(settings, self.store)
        self.account = self.store.add_account("memo-woox", "woox", None, b"blob", "masked")
        self.app = api.make_app(api.ApiContext(settings, store=self.store, use_worker=False))
        self.server = BackgroundApp(self.app)
        self.server.start()
        self.http = httpx.Client(base_url=self.server.base_url + "/api/v1", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    def add(self, *fills: Fill) -> None:
        self.store.ingest_fills(self.account.id, classify_all(list(fills)))

    def total(self, path: str = "/volume/daily", **params: str) -> Decimal:
        resp = self.http.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return sum((Decimal(r["volume_usd"]) for r in resp.json()["daily"]), Decimal(0))

    @property
    def memo(self) -> ResponseMemo:
        layer: Any = self.app.app.middleware_stack  # built by the first request
        while not isinstance(layer, ResponseMemo):
            layer = layer.app
        return layer

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        self.store.close()


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    token = secrets.token_urlsafe(24)
    s = Served(Settings(home=settings.home, database_url=settings.database_url, api_token=Secret(token)), token)
    yield s
    s.close()


def test_a_repeated_read_skips_the_route_and_a_write_of_this_process_shows_at_once(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time() * 1000)
    served.add(_fill(1, now - 3_600_000))
    calls = []
    real = views.daily_bytes
    monkeypatch.setattr(views, "daily_bytes", lambda *a: calls.append(a) or real(*a))

    assert served.total() == Decimal("201.0")
    for _ in range(5):
        assert served.total() == Decimal("201.0")
    assert len(calls) == 1  # five answers given again without the route
    assert served.memo.hits >= 5

    served.add(_fill(2, now - 1000, price="10", size="0.25"))
    assert served.total() == Decimal("203.5")  # the very next read
    assert len(calls) == 2


def test_a_write_of_another_process_shows_on_the_next_read(served: Served) -> None:
    now = int(time.time() * 1000)
    served.add(_fill(1, now - 3_600_000))
    assert served.total() == Decimal("201.0")
    assert served.total() == Decimal("201.0")
    script = (
        "import sys, decimal\n"
        "from perpvol_core.store import Store\n"
        "from perpvol_core.exchanges import classify_all\n"
        "from tests.api.test_api_memo import _fill\n"
        "s = Store(sys.argv[1])\n"
        "s.ingest_fills(s.get_account('memo-woox').id, classify_all([_fill(3, int(sys.argv[2]), price='3')]))\n"
        "s.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, served.settings.database_url, str(now - 2000)],
                   cwd=ROOT, check=True, timeout=120)  # fmt: skip
    assert served.total() == Decimal("207.0")


def test_a_read_during_a_remake_gets_the_previous_answer_then_the_new_one(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time() * 1000)
    served.add(_fill(1, now - 3_600_000))
    assert served.total() == Decimal("201.0")
    entered, release = threading.Event(), threading.Event()
    real = views.daily_bytes

    def slow(*args: Any) -> Any:
        entered.set()
        assert release.wait(30)
        return real(*args)

    monkeypatch.setattr(views, "daily_bytes", slow)
    served.add(_fill(2, now - 1000, price="10", size="0.25"))
    result: dict[str, Decimal] = {}
    first = threading.Thread(target=lambda: result.setdefault("first", served.total()))
    first.start()
    assert entered.wait(30)  # the first read is making the new answer
    assert served.total() == Decimal("201.0")  # meanwhile: the previous one, at once
    assert served.memo.stale_hits == 1
    release.set()
    first.join(30)
    assert result["first"] == Decimal("203.5")
    assert served.total() == Decimal("203.5")


def test_each_query_and_encoding_has_its_own_answer_and_errors_are_never_kept(served: Served) -> None:
    now = int(time.time() * 1000)
    served.add(_fill(1, now - 3_600_000), _fill(2, now - 40 * 86_400_000, price="7", size="1"))
    assert served.total() == Decimal("208.0")
    assert served.total(exchange="paradex") == Decimal(0)  # not the unfiltered answer
    assert served.total() == Decimal("208.0")
    for _ in range(2):
        bad = served.http.get("/volume/daily", params={"from": "2026-13-40"})
        assert bad.status_code == 400 and set(bad.json()) == {"error", "message"}
    assert served.http.get("/volume/daily", params={"bogus": "1"}).status_code == 400

    served.add(*[_fill(10 + i, now - 10 * 86_400_000 - i, price="1000", size="1") for i in range(40)])
    answers = [served.http.get("/volume/daily", headers={"Accept-Encoding": enc})
               for enc in ("gzip", "identity", "gzip", "identity")]  # fmt: skip
    assert [a.headers.get("content-encoding") for a in answers] == ["gzip", None, "gzip", None]
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum((Decimal(r["volume_usd"]) for r in answers[0].json()["daily"]), Decimal(0)) == Decimal("40208.0")


def test_the_front_door_still_checks_and_marks_a_repeated_answer(served: Served) -> None:
    served.add(_fill(1, int(time.time() * 1000) - 60_000))
    for _ in range(3):
        ok = served.http.get("/volume/summary")
        assert ok.status_code == 200
        assert ok.headers["x-frame-options"] == "DENY" and ok.headers["x-content-type-options"] == "nosniff"
    assert served.memo.hits >= 2
    url = served.server.base_url + "/api/v1/volume/summary"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_the_summary_moves_on_with_the_clock(served: Served) -> None:
    served.add(_fill(1, int(time.time() * 1000) - 60_000))
    first = served.http.get("/volume/summary").json()["generated_at"]
    assert served.http.get("/volume/summary").json()["generated_at"] == first
    time.sleep(1.1)
    assert served.http.get("/volume/summary").json()["generated_at"] != first


def _tiny_app(size: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        api_memo.share_scope(scope, 2**62)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"x" * size})

    return app


def test_kept_answers_stay_within_their_byte_bound() -> None:
    memo = ResponseMemo(_tiny_app(10_000), frozenset({"/r"}), lambda: "state", max_bytes=50_000)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=memo), base_url="http://t") as client:
            for i in range(40):
                assert len((await client.get("/r", params={"q": i})).content) == 10_000
                assert memo.kept_bytes <= 50_000
            assert (await client.get("/r", params={"q": 39})).status_code == 200
            await client.get("/other")

    asyncio.run(run())
    assert memo.hits == 1 and memo.misses == 40


def test_a_failing_state_read_goes_to_the_route() -> None:
    def broken() -> str:
        raise RuntimeError("database down")

    memo = ResponseMemo(_tiny_app(3), frozenset({"/r"}), broken)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=memo), base_url="http://t") as client:
            for _ in range(3):
                assert (await client.get("/r")).content == b"xxx"

    asyncio.run(run())
    assert memo.hits == 0 and memo.kept_bytes == 0
