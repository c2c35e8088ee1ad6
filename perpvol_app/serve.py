"""``perpvol serve`` and ``perpvol demo``.

``serve`` runs the one ASGI app of :mod:`perpvol_app.server` (the API and the dashboard behind our login:
``PERPVOL_PASSWORD``, or a generated password printed once, checked exactly as typed) with uvicorn, bound
to 127.0.0.1 unless told otherwise. Secrets come from the environment, never the command line.

``demo`` starts one simulator per registered venue in-process (seeded two-year histories, live fills on),
uses the one data home every command uses (``PERPVOL_HOME``, default ``~/.perpvol``) and says so, refusing a
home that holds the user's own accounts (``demo_home.py``), adds
the simulators' credentials through the one account path (tested, encrypted; idempotent), syncs with
printed progress, and serves.
"""

from __future__ import annotations

import secrets
import sys
import time
from pathlib import Path
from typing import Any

from perpvol_app import demo_home
from perpvol_core import bounds
from perpvol_core.config import Settings

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


def _serve(settings: Settings, port: int, address: str, no_worker: bool) -> int:
    password, generated = dashboard_password(settings)
    token, token_generated = api_token(settings)
    _print_login(address, port, password, generated)
    _print_api(address, port, token, token_generated)
    return run_server(settings, port, address, password, worker=not no_worker, token=token)


def cmd_serve(*, port: int = 5006, address: str = "127.0.0.1", no_worker: bool = False) -> int:
    """``perpvol serve``: the dashboard and the API until Ctrl-C."""
    settings = Settings.from_env()
    settings.ensure_home()
    return _serve(settings, port, address, no_worker)


# -- demo ---------------------------------------------------------------------------------------------


def demo_settings(env: dict[str, str] | None = None) -> Settings:
    """Settings of the demo: the same as every other command's (``PERPVOL_HOME``, default ``~/.perpvol``), so
    ``perpvol keys list``, ``perpvol volume``, ``make voila`` and ``make lab`` show the demo's data.
    ``demo_home.refuse_mixing`` keeps it out of a home that holds the user's own accounts."""
    return Settings.from_env(env)


#: A day inside the sync's two years (``services.sync.DEFAULT_DAYS``): a history's oldest fill is exactly
#: ``days`` old, and the first sync, seconds later, would leave it just outside its window (19,999 of 20,000).
DEMO_HISTORY_DAYS = 729


def simulator(name: str) -> Any:
    """The simulator package of venue ``name`` (``perpvol_sim.<spec.simulator>``), imported by name: the demo
    is the one surface that starts simulators, and it knows them only through the registry."""
    import importlib

    return importlib.import_module(simulator_module(name))


def simulator_module(name: str) -> str:
    """The module of venue ``name``'s simulator: its spec's ``simulator``, a package under ``perpvol_sim``
    (``"<package>"``, or written in full as ``"perpvol_sim.<package>"``)."""
    from perpvol_core.exchanges import venue

    package = venue(name).simulator
    return package if package.startswith("perpvol_sim.") else f"perpvol_sim.{package}"


class DemoVenues:
    """One simulator per registered venue in this process (``demo_venue`` of each simulator package), live
    mode on, plus the credentials to reach them. Ports: ``first_port``, ``first_port + 1``, … in the
    registry's order (None: free ports)."""

    def __init__(
        self, seed: int, fills: int, now_ms: int, first_port: int | None = None, journal_dir: Path | None = None
    ) -> None:
        import importlib

        from perpvol_core.exchanges import VENUES

        self.venues: dict[str, Any] = {
            name: simulator(name).demo_venue(seed, fills, now_ms, DEMO_HISTORY_DAYS,
                                             port=None if first_port is None else first_port + i)
            for i, name in enumerate(VENUES)
        }  # fmt: skip
        #: live fills replayed from the previous run of this demo home (a restarted simulator serves them again)
        self.replayed: dict[str, int] = {}
        if journal_dir is not None:
            journal = importlib.import_module("perpvol_sim.journal")  # the simulators load by name (import rule)
            for name, sim in self.venues.items():
                path = journal_dir / f"demo-live-{name}.jsonl"
                self.replayed[name] = journal.LiveJournal(path).attach(sim.history)

    def start(self) -> None:
        for sim in self.venues.values():
            sim.start()

    def start_live(self, interval_s: float = LIVE_INTERVAL_S) -> None:
        for sim in self.venues.values():
            sim.history.start_live(interval_s * sim.live_interval_factor)

    def stop(self) -> None:
        for sim in self.venues.values():
            sim.history.stop_live()
            sim.stop()

    def describe(self) -> str:
        """Each venue's display name and its simulator's base URL, comma-separated."""
        from perpvol_core.exchanges import display_name

        return ", ".join(f"{display_name(name)} {sim.base_url}" for name, sim in self.venues.items())

    def requests(self) -> list[Any]:
        """The account requests of the demo accounts (simulator credentials, never a real exchange's)."""
        from perpvol_core.services.accounts import AccountRequest

        return [AccountRequest(name, demo_home.demo_label(name), credentials=sim.credentials(), base_url=sim.base_url)
                for name, sim in self.venues.items()]  # fmt: skip


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


def cmd_demo(
    *, port: int = 5006, address: str = "127.0.0.1", no_worker: bool = False, fills: int = 20000, seed: int = 7
) -> int:
    """``perpvol demo``: one simulator per registered venue (ports after ``port``), their accounts, a first
    sync with printed progress, then the dashboard with live fills."""
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import Store

    settings = demo_settings()
    settings.ensure_home()
    store = Store.open(settings)
    refused = demo_home.refuse_mixing(store, settings, demo_home.demo_labels())
    if refused:
        store.close()
        print(f"perpvol demo: {refused}", file=sys.stderr, flush=True)
        return 1
    print(demo_home.where_text(settings), flush=True)
    vault = Vault.open(settings, store)
    # One fixed "now" per demo home: a re-run regenerates the same histories (nothing duplicated).
    now_ms = int(store.set_meta_if_absent("demo_sim_now_ms", str(int(time.time() * 1000))))
    sims = DemoVenues(seed, fills, now_ms, first_port=port + 1, journal_dir=settings.home)
    sims.start()
    print(f"simulators: {sims.describe()} ({fills} fills each)", flush=True)
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
        return _serve(settings, port, address, no_worker)
    finally:
        sims.stop()
        print(demo_home.where_text(settings, stopped=True), flush=True)
