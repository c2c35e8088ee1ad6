"""Reconciliation on every venue's simulator, on SQLite and PostgreSQL: after a full sync every figure a venue
reports agrees with ours (the venue that reports none says so), under each reading of the meanings the notes
leave open, and the reading the data fits is named. Expected figures come from the simulators' histories."""

from __future__ import annotations

import json
import secrets
import time
from decimal import Decimal

import httpx
import pytest

from perpvol_app import api, api_reconcile
from perpvol_app.server import BackgroundApp
from perpvol_cli.main import main as cli
from perpvol_core.analytics.reconcile import reconcile
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_core.security.redaction import Secret
from perpvol_sim.history import History, utc_day
from tests.analytics.recon_setup import Synced, counted_by_day, simulator

N_FILLS, DAYS = 1500, 60


def test_every_reported_figure_agrees_after_a_full_sync(settings, monkeypatch, capsys) -> None:
    now = int(time.time() * 1000)
    sims = {name: simulator(name).demo_venue(11 + i, N_FILLS, now, DAYS) for i, name in enumerate(VENUES)}
    synced = Synced(settings)
    try:
        for name, sim in sims.items():
            sim.start()
            synced.add(f"r-{name}", name, sim)
        synced.sync()
        rec = reconcile(synced.store)
        assert rec.differs == 0, [(r.label, r.figure, r.theirs, r.ours) for a in rec.accounts for r in a.rows
                                  if r.status == "differs"]  # fmt: skip
        by_label = {a.label: a for a in rec.accounts}
        for name, sim in sims.items():
            account = by_label[f"r-{name}"]
            if VENUES[name].reported_figures is None or not account.rows:
                # a venue that reports no figure says so, and is never counted as agreeing
                assert account.status == "not_reported" and account.note
                continue
            assert account.status == "agrees"
            days = [r for r in account.rows if r.period == "day" and r.metric == "volume"]
            assert len(days) >= 10, "a venue's daily figures are all compared"
            truth = counted_by_day(sim.history.snapshot(), sim.history.profile)
            for row in days:
                # ours is the simulator's own count of that day (a whole past day: no cut at fetch time)
                if row.day != utc_day(now) and row.reading.startswith(("daily", "perps only")):
                    assert row.ours == truth.get(row.day, Decimal(0)), row
            assert account.fits, "every open meaning is settled by the data"
        # the CLI: the same in JSON, exit 0 when nothing differs
        monkeypatch.setenv("PERPVOL_HOME", str(settings.home))
        monkeypatch.setenv("PERPVOL_DATABASE_URL", settings.database_url)
        capsys.readouterr()
        assert cli(["reconcile", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["differs"] == 0 and data["agrees"] == rec.agrees
        assert cli(["reconcile"]) == 0
        out = capsys.readouterr().out
        assert f"{rec.agrees} agree, 0 differ" in out
        assert cli(["reconcile", "--label", "nobody"]) == 1
        _api_serves_the_same(settings, synced, rec.agrees)
    finally:
        synced.close()
        for sim in sims.values():
            sim.stop()


def _api_serves_the_same(settings, synced: Synced, agrees: int) -> None:
    """``GET /api/v1/reconcile``: the typed model of the OpenAPI document, the same counts, 4xx on bad input."""
    token = secrets.token_urlsafe(24)
    with_token = Settings(home=settings.home, database_url=settings.database_url, api_token=Secret(token))
    server = BackgroundApp(api.make_app(api.ApiContext(with_token, store=synced.store, vault=synced.vault,
                                                       use_worker=False)))  # fmt: skip
    server.start()
    try:
        http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"})
        got = http.get(server.base_url + "/api/v1/reconcile")
        assert got.status_code == 200, got.text
        body = api_reconcile.Reconciliation.model_validate(got.json())
        assert body.differs == 0 and body.agrees == agrees
        money = [r.theirs for a in body.accounts for r in a.rows if r.theirs is not None]
        assert money and all(isinstance(m, str) and "e" not in m.lower() for m in money)  # exact decimal text
        one = http.get(server.base_url + "/api/v1/reconcile", params={"label": body.accounts[0].label}).json()
        assert [a["label"] for a in one["accounts"]] == [body.accounts[0].label]
        assert http.get(server.base_url + "/api/v1/reconcile", params={"label": "nobody"}).status_code == 404
        assert http.get(server.base_url + "/api/v1/reconcile", params={"bad": "1"}).status_code == 400
        schema = http.get(server.base_url + "/api/v1/openapi.json").json()["components"]["schemas"]
        assert {"Reconciliation", "ReconAccount", "ReconRow", "ReconCause"} <= set(schema)
        http.close()
    finally:
        server.stop()


def _paradex_fits(settings, **readings) -> dict[str, str]:
    now = int(time.time() * 1000)
    sim = simulator("paradex").ParadexDemoVenue(History("paradex", 5, N_FILLS, now_ms=now, days=DAYS), **readings)
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("p", "paradex", sim)
        synced.sync()
        [account] = reconcile(synced.store).accounts
        assert account.status == "agrees", [(r.figure, r.theirs, r.ours) for r in account.rows if r.status != "agrees"]
        return {fit.fork: fit.reading for fit in account.fits}
    finally:
        synced.close()
        sim.stop()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("series", "window"),
                         [("daily", "utc_days"), ("hourly", "rolling"), ("cumulative", "rolling")])
def test_paradex_series_granularity_is_tolerated_and_named(settings, series: str, window: str) -> None:
    fits = _paradex_fits(settings, volume_series=series, volume_window=window)
    assert fits["volume series"] == series
    assert fits["tier window"] in ("rolling 14 × 24 h", "14 UTC days")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("spot", "meaning", "day"), [("none", "other", "utc"), ("double", "taker_maker", "rolling")])
def test_hyperliquid_daily_meanings_are_tolerated_and_named(settings, spot: str, meaning: str, day: str) -> None:
    hl = simulator("hyperliquid")
    now = int(time.time() * 1000)
    sim = hl.HyperliquidSim(hl.hyperliquid_history(8, N_FILLS, now_ms=now, days=DAYS), weight_limit=10**9,
                            daily_spot=spot, daily_meaning=meaning, portfolio_day=day)  # fmt: skip
    synced = Synced(settings)
    try:
        sim.start()
        synced.add("h", "hyperliquid", sim)
        synced.sync()
        [account] = reconcile(synced.store).accounts
        assert account.status == "agrees", [(r.figure, r.theirs, r.ours) for r in account.rows if r.status != "agrees"]
        fits = {fit.fork: fit.reading for fit in account.fits}
        spot_words = {"none": "perps only", "once": "spot once", "double": "spot twice"}[spot]
        split_words = "taker/maker" if meaning == "taker_maker" else "total only"
        assert fits["dailyUserVlm"].startswith(spot_words) and fits["dailyUserVlm"].endswith(split_words)
        # perpDay: named when the two windows hold different volume (else both fit)
        fills = sim.history.snapshot()
        rolling = sum((f.price * f.size for f in fills if f.ts_ms >= now - 86_400_000), Decimal(0))
        utc = sum((f.price * f.size for f in fills if f.ts_ms >= now - now % 86_400_000), Decimal(0))
        if rolling != utc:
            assert fits["perpDay"] == ("UTC day" if day == "utc" else "rolling 24 h")
    finally:
        synced.close()
        sim.stop()
