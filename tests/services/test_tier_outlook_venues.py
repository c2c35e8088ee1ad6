"""Fee schedules and the tier outlook against every registered venue's simulator, on SQLite and PostgreSQL:
a sync stores the venue's schedule (its tables, or a table marked not published, and the account's own
rates); the outlook's window volume and the fee paid (maker and taker apart, in bps) equal an independent
sum over the fills the simulator served. The same figures through ``GET /api/v1/tiers`` (typed in the
OpenAPI document) and ``perpvol tiers --json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from perpvol_core import timeutil
from perpvol_core.analytics import fee_schedule, tier_outlook
from perpvol_core.config import Settings
from perpvol_core.exchanges import VENUES
from perpvol_core.security.vault import Vault
from perpvol_core.services import accounts
from perpvol_core.services.events import EventBus
from perpvol_core.services.sync import SyncEngine
from perpvol_core.store import Store

USD = {"USD", "USDC", "USDT"}
TOKEN = "tiers-test-token-0123456789"
OPTIONS = {"max_attempts": 6, "backoff_s": 0.05, "timeout": 5.0}


def _expected(sim, start_ms: int, end_ms: int) -> dict[str, list[Decimal]]:
    """[notional, USD fees, notional of the fills with a USD fee] of the counted fills in [start_ms, end_ms), per
    liquidity, and the spot notional (``SPOT``), from the simulator."""
    out = {k: [Decimal(0), Decimal(0), Decimal(0)] for k in ("MAKER", "TAKER", "SPOT")}
    profile = sim.history.profile
    for f in sim.history.fills:
        if not start_ms <= f.ts_ms < end_ms:
            continue
        if profile.counts(f.market, f.fill_type):
            row = out[f.liquidity]
            row[0] += f.price * f.size
            if f.fee_asset.upper() in USD:
                row[1] += f.fee
                row[2] += f.price * f.size
        elif not profile.is_perp(f.market):
            out["SPOT"][0] += f.price * f.size
    return out


@pytest.fixture
def synced(settings: Settings, tmp_path):
    from perpvol_app.serve import simulator

    now_ms = timeutil.now_ms()
    sims = {name: simulator(name).demo_venue(70 + i, 400, now_ms, 45) for i, name in enumerate(VENUES)}
    for sim in sims.values():
        sim.start()
    store = Store(settings.database_url)
    try:
        vault = Vault.open(settings, store)
        for name, sim in sims.items():
            req = accounts.AccountRequest(name, f"t-{name}", credentials=sim.credentials(), base_url=sim.base_url)
            accounts.add_account(store, vault, req)
        engine = SyncEngine(store, vault, EventBus(), connector_options={n: dict(OPTIONS) for n in VENUES})
        results = engine.sync(days=40)
        engine.close()
        assert all(r.ok for r in results), [r.error for r in results]
        yield store, sims, settings
    finally:
        store.close()
        for sim in sims.values():
            sim.stop()


def test_every_venue_schedule_and_fee_paid(synced) -> None:
    store, sims, settings = synced
    now_ms = timeutil.now_ms()
    outlooks = {o.exchange: o for o in tier_outlook.outlook(store, now_ms)}
    assert set(outlooks) == set(VENUES)
    for name, sim in sims.items():
        account = store.get_account(f"t-{name}")
        schedule = fee_schedule.stored(store, account)
        assert schedule is not None and schedule.error is None, (name, schedule)
        table = schedule.table()
        assert table is not None and table.window_days >= 1, name
        assert table.tiers or not table.published, name  # a table, or one the venue does not publish
        assert schedule.taker_rate is not None, name  # the account's own rate, as the venue reports it
        o = outlooks[name]
        today = timeutil.date_of_ms(now_ms)
        start = timeutil.day_ms(today - timedelta(days=o.window_days - 1))
        expected = _expected(sim, start, timeutil.day_ms(today) + timeutil.MS_PER_DAY)
        maker_v, maker_f, maker_usd_v = expected["MAKER"]
        taker_v, taker_f, taker_usd_v = expected["TAKER"]
        weight = table.spot_weight or 0  # a venue whose tier counts spot (weighted), else perps only
        assert o.projection.volume == maker_v + taker_v + weight * expected["SPOT"][0], name
        assert (weight > 0) == (name == "hyperliquid") and (name != "hyperliquid" or expected["SPOT"][0] > 0)
        assert (o.maker.volume, o.maker.fees, o.taker.volume, o.taker.fees) == (maker_v, maker_f, taker_v, taker_f)
        assert taker_usd_v and o.taker.effective_bps == taker_f / taker_usd_v * 10_000, name
        if maker_usd_v:
            assert o.maker.effective_bps == maker_f / maker_usd_v * 10_000, name
        assert (o.taker.fee_volume, o.maker.fee_volume) == (taker_usd_v, maker_usd_v), name
        assert o.taker.reported_bps == schedule.taker_rate * 10_000, name
        if table.published:
            assert o.projection.tier is not None and o.taker.schedule_bps is not None, name
        else:
            assert o.projection.tier is None and o.projection.loss_date is None, name

    _check_surfaces(store, settings, outlooks)


def _check_surfaces(store, settings: Settings, outlooks: dict) -> None:
    """The API and the CLI carry the core's figures, exactly (decimal strings)."""
    from perpvol_app import api
    from perpvol_app.server import BackgroundApp
    from perpvol_core.security.redaction import Secret

    api_settings = Settings(home=settings.home, database_url=settings.database_url, api_token=Secret(TOKEN))
    server = BackgroundApp(api.make_app(api.ApiContext(api_settings, store=store, use_worker=False)))
    server.start()
    try:
        with httpx.Client(base_url=server.base_url + "/api/v1", timeout=30) as c:
            assert c.get("/tiers").status_code == 401
            auth = {"Authorization": f"Bearer {TOKEN}"}
            body = c.get("/tiers", headers=auth).json()
            assert c.get("/tiers?x=1", headers=auth).status_code == 400
            doc = c.get("/openapi.json", headers=auth).json()
    finally:
        server.stop()
    schema = doc["paths"]["/api/v1/tiers"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/Tiers")
    assert {"TierOutlook", "FeeTable", "FeeTier", "FeePaid", "Projection"} <= set(doc["components"]["schemas"])
    env = dict(os.environ, PERPVOL_HOME=str(settings.home), PERPVOL_DATABASE_URL=settings.database_url)
    cli = subprocess.run([sys.executable, "-m", "perpvol_cli.main", "tiers", "--json"], capture_output=True,
                         text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    human = subprocess.run([sys.executable, "-m", "perpvol_cli.main", "tiers"], capture_output=True, text=True,
                           env=env, timeout=120, check=False)  # fmt: skip
    assert human.returncode == 0 and "fee paid: taker" in human.stdout, human.stderr
    for got in (body, json.loads(cli.stdout)):
        by = {a["exchange"]: a for a in got["accounts"]}
        assert set(by) == set(outlooks)
        for name, o in outlooks.items():
            a = by[name]
            assert Decimal(a["projection"]["volume"]) == o.projection.volume
            assert Decimal(a["taker"]["effective_bps"]) == o.taker.effective_bps
            assert a["projection"]["loss_date"] == (o.projection.loss_date.isoformat() if o.projection.loss_date
                                                    else None)
            assert (a["table"] or {}).get("published") == (o.table.published if o.table else None)
