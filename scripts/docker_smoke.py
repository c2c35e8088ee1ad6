"""The host side of ``scripts/docker-smoke.sh``: the two simulators, and the checks against the containers.

``sims DIR``  starts the WOO X and Paradex simulators on loopback from seeded histories with a fixed
              ``now_ms`` (the way ``perpvol demo`` does), writes their URLs and simulator credentials
              to ``DIR/sims.json`` (mode 0600) and serves until SIGTERM.
``host-only FILE``  drops ``ports`` from the host-network services of a rendered compose file (Compose
              1.29 cannot remove the main file's ``ports`` in an override, and host networking refuses
              published ports).
``check DIR --base URL --phase first|restart``  logs in to the dashboard with ``PERPVOL_PASSWORD``,
              adds the simulators' accounts through ``POST /api/v1/accounts`` (first phase) with
              ``PERPVOL_API_TOKEN``, waits (bounded) for the worker's sync, and checks that
              ``/api/v1/volume/summary`` equals the truth recomputed here from the same seeded
              histories (``perpvol_sim.history.History``), independently of the simulators' process.

Exit status 0 when every check passes; a failed check prints what differed and exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

SEED = 11
FILLS = 3000
DAYS = 365  # inside the worker's 730-day window, so every generated fill is synced
SYNC_TIMEOUT_S = 300.0


def _log(msg: str) -> None:
    print(f"[smoke] {msg}", flush=True)


class CheckFailed(Exception):
    """A smoke check did not hold; the message says what differed."""


# -- simulators ----------------------------------------------------------------------------------------


def run_sims(out_dir: Path) -> int:
    """Serve both simulators until SIGTERM/SIGINT; their coordinates go to ``out_dir/sims.json``."""
    from perpvol_sim.history import History
    from perpvol_sim.paradex import ParadexSim
    from perpvol_sim.woox import WooxSim

    now_ms = int(time.time() * 1000)
    woox = WooxSim(History("woox", SEED, FILLS, now_ms=now_ms, days=DAYS))
    paradex = ParadexSim(History("paradex", SEED, FILLS, now_ms=now_ms, days=DAYS))
    woox.start()
    paradex.start()
    info = {
        "seed": SEED,
        "fills": FILLS,
        "days": DAYS,
        "now_ms": now_ms,
        # simulator demo credentials (not secrets of anyone's account)
        "woox": {"base_url": woox.base_url, "api_key": str(woox.config.api_key),
                 "api_secret": str(woox.config.api_secret)},
        "paradex": {"base_url": paradex.api_url, "token": paradex.mint_read_only_token("perpvol-docker-smoke")},
    }  # fmt: skip
    path = out_dir / "sims.json"
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(info, fh)
    os.replace(path.with_suffix(".tmp"), path)
    _log(f"simulators: WOO X {woox.base_url}, Paradex {paradex.base_url} ({FILLS} fills each, seed {SEED})")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        woox.stop()
        paradex.stop()
    return 0


def truth(info: dict[str, Any]) -> dict[str, Decimal]:
    """Counted perp volume per exchange, recomputed from the seeded histories the simulators serve."""
    from perpvol_sim.history import History

    return {
        ex: History(ex, info["seed"], info["fills"], now_ms=info["now_ms"], days=info["days"]).expected_total()
        for ex in ("woox", "paradex")
    }


# -- dashboard login: the ONE place that knows the login form ------------------------------------------
# INTEGRATOR: the server's login is changing (Panel basic auth today: POST /login with username and
# password; the FastAPI server: POST /login with a `password` field). Sending both fields serves both;
# adjust only this function if the form or the dashboard path changes.
DASHBOARD_PATHS = ("/app", "/")


def dashboard_login(base: str, password: str) -> tuple[httpx.Response, dict[str, str]] | None:
    """The dashboard page and session cookies after ``POST /login`` with ``password`` (200 on /app or /,
    no redirect), or None when the login did not open it."""
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as c:
        c.post("/login", data={"username": "perpvol", "password": password})
        for path in DASHBOARD_PATHS:
            page = c.get(path)
            if page.status_code == 200:
                return page, dict(c.cookies)
        return None


# -- checks --------------------------------------------------------------------------------------------


def _wait_health(api: httpx.Client, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            r = api.get("/health")
            if r.status_code == 200 and r.json().get("status") == "ok":
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise CheckFailed("/api/v1/health did not answer ok")
        time.sleep(1)


def _check_login(base: str, password: str) -> None:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as anon:
        if any(anon.get(path).status_code == 200 for path in DASHBOARD_PATHS):  # noqa: SIM110
            raise CheckFailed("the dashboard opens without a login")
    if dashboard_login(base, password + "-wrong"):
        raise CheckFailed("a wrong password opened the dashboard")
    opened = dashboard_login(base, password)
    if opened is None:
        raise CheckFailed("the configured PERPVOL_PASSWORD did not open the dashboard")
    _log("login: PERPVOL_PASSWORD opens the dashboard; no password and a wrong one do not")
    _check_page_resources(base, *opened)


def _check_page_resources(base: str, page: httpx.Response, cookies: dict[str, str]) -> None:
    """Every script and stylesheet the dashboard page loads from this server answers 200 (the slimmed image
    dropped Panel bundles it must not need)."""
    import re

    refs = set(re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)["']""", page.text))
    local = sorted(r for r in refs if not r.startswith(("http://", "https://", "//", "data:", "#")))
    with httpx.Client(base_url=base, cookies=cookies, timeout=30) as c:
        missing = [r for r in local if c.get(urljoin(str(page.url), r)).status_code != 200]
    if missing or not local:
        raise CheckFailed(f"dashboard resources missing: {missing or 'none referenced'}")
    _log(f"dashboard page: all {len(local)} scripts and stylesheets it references load")


def _add_accounts(api: httpx.Client, info: dict[str, Any]) -> None:
    bodies = [
        {"label": "smoke-woox", "exchange": "woox", **info["woox"]},
        {"label": "smoke-paradex", "exchange": "paradex", **info["paradex"]},
    ]
    for body in bodies:
        r = api.post("/accounts", json=body)
        if r.status_code != 201:
            raise CheckFailed(f"POST /api/v1/accounts {body['label']}: {r.status_code} {r.text[:300]}")
    _log("accounts: smoke-woox and smoke-paradex added through POST /api/v1/accounts")


def _last_success_ms(account: dict[str, Any]) -> int:
    return int((account.get("sync") or {}).get("last_success_ms") or 0)


def _wait_synced(api: httpx.Client, after_ms: int) -> None:
    """Both accounts ok with a successful sync that finished after ``after_ms`` (bounded)."""
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while True:
        accounts = api.get("/sync/status").json()["accounts"]
        done = [a for a in accounts if a["status"] == "ok" and _last_success_ms(a) > after_ms]
        if len(done) == 2:
            return
        errors = [f"{a['label']}: {a.get('error')}" for a in accounts if a["status"] == "error"]
        if time.monotonic() > deadline:
            raise CheckFailed(f"no complete sync within {SYNC_TIMEOUT_S:.0f} s: {accounts} {errors}")
        time.sleep(2)


def _check_summary(api: httpx.Client, info: dict[str, Any]) -> None:
    want = truth(info)
    body = api.get("/volume/summary").json()
    got = {ex: Decimal(body["by_exchange"][ex]["all"]) for ex in want}
    total = Decimal(body["totals"]["all"])
    if got != want or total != sum(want.values()):
        raise CheckFailed(f"summary {got} (total {total}) != truth {want}")
    _log(f"summary equals the simulators' truth: WOO X {want['woox']}, Paradex {want['paradex']}, total {total}")


def run_check(out_dir: Path, base: str, phase: str) -> int:
    info = json.loads((out_dir / "sims.json").read_text())
    password = os.environ["PERPVOL_PASSWORD"]
    token = os.environ["PERPVOL_API_TOKEN"]
    started_ms = int(time.time() * 1000)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base + "/api/v1", headers=auth, timeout=60) as api:
            _wait_health(api)
            _check_login(base, password)
            if phase == "first":
                _add_accounts(api, info)
            else:
                labels = sorted(a["label"] for a in api.get("/accounts").json()["accounts"])
                if labels != ["smoke-paradex", "smoke-woox"]:
                    raise CheckFailed(f"accounts after the restart: {labels}")
                _check_summary(api, info)  # the data survived, before any new sync
            _wait_synced(api, started_ms)
            _log("sync: both accounts ok (worker container)" + (" after the restart" if phase != "first" else ""))
            _check_summary(api, info)
    except CheckFailed as exc:
        _log(f"FAILED: {exc}")
        return 1
    return 0


def host_only(path: Path) -> int:
    """Rewrite a rendered compose file: no published ports on host-network services; refuse networks."""
    import yaml

    doc = yaml.safe_load(path.read_text())
    for name, svc in doc["services"].items():
        if svc.get("network_mode") != "host":
            raise CheckFailed(f"service {name} is not on the host network")
        svc.pop("ports", None)
    if doc.get("networks"):
        raise CheckFailed(f"the rendered file declares networks: {sorted(doc['networks'])}")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sims")
    s.add_argument("dir", type=Path)
    h = sub.add_parser("host-only")
    h.add_argument("file", type=Path)
    c = sub.add_parser("check")
    c.add_argument("dir", type=Path)
    c.add_argument("--base", required=True, help="the app's base URL, e.g. http://127.0.0.1:5106")
    c.add_argument("--phase", choices=["first", "restart"], required=True)
    args = p.parse_args(argv)
    if args.command == "sims":
        return run_sims(args.dir)
    if args.command == "host-only":
        return host_only(args.file)
    return run_check(args.dir, args.base, args.phase)


if __name__ == "__main__":
    sys.exit(main())
