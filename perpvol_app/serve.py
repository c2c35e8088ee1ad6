"""``perpvol serve`` and ``perpvol demo``.

``serve`` runs the one ASGI app of :mod:`perpvol_app.server` (the API and the dashboard behind our login:
``PERPVOL_PASSWORD``, or a generated password printed once, checked exactly as typed) with uvicorn, bound
to 127.0.0.1 unless told otherwise. Secrets come from the environment, never the command line.

``demo`` starts both exchange simulators in-process (seeded two-year histories, live fills on), uses
the one data home every command uses (``PERPVOL_HOME``, default ``~/.perpvol``) and says so, refusing a
home that holds the user's own accounts (``demo_home.py``), adds
the simulators' credentials through the one account path (tested, encrypted; idempotent), syncs with
printed progress, and serves.
"""

from __future__ import annotations

import secrets
import sys
import time
from typing import Any

from perpvol_app import demo_home
from perpvol_core import bounds
from perpvol_core.config import Settings

#: the labels of the demo's accounts (and their exchanges)
DEMO_LABELS = (("demo-woox", "woox"), ("demo-paradex", "paradex"))
LIVE_INTERVAL_S = 4.0


def dashboard_password(settings: Settings) -> tuple[str, bool]:
    """``PERPVOL_PASSWORD``, or a fresh random one (second value True when generated)."""
    if settings.password:
        return settings.password.reveal(), False
    return secrets.token_urlsafe(12), True


def api_token(settings: Settings) -> tuple[str, bool]:
    """``PERPVOL_API_TOKEN``, or a fresh random one (second value True when generated)."""
    if settings.api_token:
        return settings.api_token.reveal(), False
    return secrets.token_urlsafe(24), True


def run_server(
    settings: Settings, port: int, address: str, password: str, worker: bool = True, token: str | None = None
) -> int:
    """Serve the one ASGI app (API + dashboard behind our login) with uvicorn until Ctrl-C / SIGTERM."""
    import dataclasses

    from perpvol_app.server import ServerConfig, run
    from perpvol_core.security.redaction import Secret

    port = bounds.port(port, name="--port")  # the one check (perpvol_core/bounds.py)
    if token:
        settings = dataclasses.replace(settings, api_token=Secret(token))
    return run(ServerConfig(settings=settings, password=password, address=address, port=port, worker=worker))


def _print_login(address: str, port: int, password: str, generated: bool) -> None:
    host = "localhost" if address in ("127.0.0.1", "0.0.0.0", "::") else address  # noqa: S104
    print(f"perpvol dashboard: http://{host}:{port}/app", flush=True)
    if generated:
        print(f"password (generated, shown once; set PERPVOL_PASSWORD to choose one): {password}", flush=True)
    else:
        print("password: the value of PERPVOL_PASSWORD", flush=True)


def _print_api(address: str, port: int, token: str, generated: bool) -> None:
    host = "localhost" if address in ("127.0.0.1", "0.0.0.0", "::") else address  # noqa: S104
    print(f"REST API: http://{host}:{port}/api/v1 (Authorization: Bearer <token>)", flush=True)
    if generated:
        print(f"API token (generated, shown once; set PERPVOL_API_TOKEN to choose one): {token}", flush=True)
    else:
        print("API token: the value of PERPVOL_API_TOKEN", flush=True)


def _serve(settings: Settings, args: Any) -> int:
    password, generated = dashboard_password(settings)
    token, token_generated = api_token(settings)
    _print_login(args.address, args.port, password, generated)
    _print_api(args.address, args.port, token, token_generated)
    worker = not getattr(args, "no_worker", False)
    return run_server(settings, args.port, args.address, password, worker=worker, token=token)


def cmd_serve(args: Any) -> int:
    settings = Settings.from_env()
    settings.ensure_home()
    return _serve(settings, args)


# -- demo ---------------------------------------------------------------------------------------------


def demo_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings of the demo: the same as every other command's (``PERPVOL_HOME``, default ``~/.perpvol``), so
    ``perpvol keys list``, ``perpvol volume``, ``make voila`` and ``make lab`` show the demo's data.
    ``demo_home.refuse_mixing`` keeps it out of a home that holds the user's own accounts."""
    return Settings.from_env(env)


#: A day inside the sync's two years (``services.sync.DEFAULT_DAYS``): a history's oldest fill is exactly
#: ``days`` old, and the first sync, seconds later, would leave it just outside its window (19,999 of 20,000).
DEMO_HISTORY_DAYS = 729


class DemoExchanges:
    """Both simulators in this process, live mode on, plus the credentials to reach them."""

    def __init__(self, seed: int, fills: int, now_ms: int, woox_port: int, paradex_port: int) -> None:
        from perpvol_sim.history import History
        from perpvol_sim.paradex import ParadexSim
        from perpvol_sim.woox import WooxSim

        self.woox_history = History("woox", seed, fills, now_ms=now_ms, days=DEMO_HISTORY_DAYS)
        self.paradex_history = History("paradex", seed, fills, now_ms=now_ms, days=DEMO_HISTORY_DAYS)
        self.woox = WooxSim(self.woox_history, port=woox_port)
        self.paradex = ParadexSim(self.paradex_history, port=paradex_port)

    def start(self) -> None:
        self.woox.start()
        self.paradex.start()

    def start_live(self, interval_s: float = LIVE_INTERVAL_S) -> None:
        self.woox_history.start_live(interval_s)
        self.paradex_history.start_live(interval_s * 1.5)

    def stop(self) -> None:
        for h in (self.woox_history, self.paradex_history):
            h.stop_live()
        self.woox.stop()
        self.paradex.stop()

    def requests(self) -> list[Any]:
        """The account requests of the demo accounts (simulator credentials, never a real exchange's)."""
        from perpvol_core.security.redaction import Secret
        from perpvol_core.services.accounts import AccountRequest

        api_key, api_secret = woox_demo_key(self.woox)
        token = self.paradex.mint_read_only_token("perpvol-demo")
        return [
            AccountRequest("woox", DEMO_LABELS[0][0], api_key=api_key, api_secret=Secret(api_secret),
                           base_url=self.woox.base_url),
            AccountRequest("paradex", DEMO_LABELS[1][0], token=Secret(token), base_url=self.paradex.api_url),
        ]  # fmt: skip


def woox_demo_key(sim: Any) -> tuple[str, str]:
    """The API key and secret the WOO X simulator accepts (simulator demo credentials)."""
    return str(sim.config.api_key), str(sim.config.api_secret)


def upsert_account(store: Any, vault: Any, req: Any) -> str:
    """Add the demo account through the one account path, or point it at this run's simulator."""
    from perpvol_core.services import accounts
    from perpvol_core.store import AccountNotFound

    try:
        acc = store.get_account(req.label)
    except AccountNotFound:
        accounts.add_account(store, vault, req)
        return "added"
    if acc.base_url != req.base_url:  # another simulator port: its cursor means nothing here
        accounts.remove_account(store, req.label)
        accounts.add_account(store, vault, req)
        return "re-added"
    accounts.add_account(store, vault, req, replace=True)
    return "updated"


def _progress_printer() -> Any:
    last: dict[str, float] = {}

    def show(event: dict[str, Any]) -> None:
        kind = event.get("type")
        label = event.get("label", "")
        if kind == "sync_progress":
            now = time.monotonic()
            if now - last.get(label, 0.0) < 0.5 and event.get("progress", 0) < 1:
                return
            last[label] = now
            print(
                f"  {label:<14} {float(event.get('progress') or 0) * 100:5.1f}%  {event.get('fills', 0):>7} fills",
                flush=True,
            )
        elif kind == "sync_done":
            state = "done" if event.get("ok") else f"error: {event.get('error')}"
            print(f"  {label:<14} {state} ({event.get('new_fills', 0)} new fills)", flush=True)

    return show


def cmd_demo(args: Any) -> int:
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import Store

    settings = demo_settings()
    settings.ensure_home()
    store = Store.open(settings)
    refused = demo_home.refuse_mixing(store, settings, [r[0] for r in DEMO_LABELS])
    if refused:
        store.close()
        print(f"perpvol demo: {refused}", file=sys.stderr, flush=True)
        return 1
    print(demo_home.where_text(settings), flush=True)
    vault = Vault.open(settings, store)
    # One fixed "now" per demo home: a re-run regenerates the same histories (nothing duplicated).
    now_ms = int(store.set_meta_if_absent("demo_sim_now_ms", str(int(time.time() * 1000))))
    sims = DemoExchanges(args.seed, args.fills, now_ms, woox_port=args.port + 1, paradex_port=args.port + 2)
    sims.start()
    print(f"simulators: WOO X {sims.woox.base_url}, Paradex {sims.paradex.base_url} ({args.fills} fills each)")
    try:
        for req in sims.requests():
            what = upsert_account(store, vault, req)
            print(f"  {req.label}: {what} ({store.get_account(req.label).hint})", flush=True)
        print("syncing two years of fills…", flush=True)
        engine = SyncEngine(store, vault)
        try:
            results = engine.sync(progress=_progress_printer())
        finally:
            engine.close()
        for r in results:
            print(f"  {r.label}: {'ok' if r.ok else 'error: ' + str(r.error)} · {r.coverage}", flush=True)
        store.close()
        sims.start_live()
        return _serve(settings, args)
    finally:
        sims.stop()
        print(demo_home.where_text(settings, stopped=True), flush=True)
