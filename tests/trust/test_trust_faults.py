"""Fault matrix: every simulator fault, per exchange, ends in complete data or a clear per-account error.

Real simulators (their ``Faults``), the real ``SyncEngine`` and a real SQLite store. Each case injects a
fault at the start or in the middle of a backfill (from the progress callback, after two pages) and then
asserts one of two outcomes, nothing in between:

* ``complete``: the sync is ok and the stored fills equal the simulator's fills exactly;
* ``error``: the account's status is ``error`` with a message naming the cause, and whatever is stored is
  true: every stored fill equals the exchange's fill field by field, and the range the sync state claims
  as complete really holds every fill of that range. Clearing the fault and syncing again then completes.

The fast slice runs a representative handful; ``-m slow`` runs the full matrix. ``run_fault_case`` and
``CASES`` are reused by bench/trust.py for its table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from perpvol_sim import faults as fk

N_FILLS = 600
HISTORY_DAYS = 200
SYNC_DAYS = 300
CLIENT_TIMEOUT_S = 0.6
STALL_S = 2.0  # beyond the client timeout


@dataclass
class FaultEnv:
    exchange: str
    kind: str  # "key" (WOO X) | "token" | "l2" (Paradex)
    sim: Any
    faults: fk.Faults
    history: Any
    store: Any
    vault: Any
    engine: Any
    label: str

    @property
    def account(self) -> Any:
        return self.store.get_account(self.label)

    def sync(self, progress: Callable[[dict[str, Any]], None] | None = None) -> Any:
        return self.engine.sync(labels=[self.label], days=SYNC_DAYS, progress=progress)[0]

    def replace_credentials(self, creds: Any) -> None:
        self.store.replace_credentials(
            self.label, self.vault.encrypt(creds, label=self.label, base_url=self.account.base_url), creds.hint
        )


def _connector_options() -> dict[str, dict[str, Any]]:
    from perpvol_core.exchanges import RateLimit

    fast = [RateLimit(100000, 1.0)]
    common = {"timeout": CLIENT_TIMEOUT_S, "max_attempts": 3, "backoff_s": 0.01, "max_backoff_s": 0.05}
    return {
        "woox": {
            **common,
            "page_limit": 50,
            "rate_limits": {"/v3/trade/transactionHistory": fast, "/v3/account/info": fast, "/v3/public": fast},
        },
        "paradex": {**common, "page_size": 50, "rate_limits": {"/v1/fills": fast, "private": fast, "public": fast}},
    }


@contextmanager
def fault_env(tmp_path: Path, exchange: str, kind: str, seed: int = 3, **sim_options: Any) -> Iterator[FaultEnv]:
    """A simulator with a ``Faults`` object (rate limits off: speed only), a store and one account."""
    from perpvol_core.config import Settings
    from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials
    from perpvol_core.exchanges.woox.credentials import WooxCredentials
    from perpvol_core.security.redaction import Secret
    from perpvol_core.security.vault import Vault
    from perpvol_core.services.events import EventBus
    from perpvol_core.services.sync import SyncEngine
    from perpvol_core.store import Store
    from perpvol_sim.history import History

    faults = fk.Faults(stall_s=STALL_S, seed=seed)
    history = History(exchange, seed, N_FILLS, days=HISTORY_DAYS)
    if exchange == "woox":
        from perpvol_sim.woox import WooxSim

        sim: Any = WooxSim(history, faults=faults, rate_limits_enabled=False, **sim_options)
        sim.start()
        creds: Any = WooxCredentials(api_key=sim.config.api_key, api_secret=Secret(sim.config.api_secret))
        base_url = sim.base_url
    else:
        from perpvol_sim.paradex import DEMO_L2_PRIVATE_KEY, ParadexSim, ParadexSimConfig, RateLimits

        big = RateLimits(private_get_per_account=10**7, per_ip=10**7, auth_per_ip=10**7, window_s=60.0)
        sim = ParadexSim(history, faults=faults, config=ParadexSimConfig(limits=big, **sim_options))
        sim.start()
        if kind == "token":
            creds = ParadexTokenCredentials(token=Secret(sim.mint_read_only_token("faults")))
        else:
            creds = ParadexL2Credentials(account=hex(sim.account), l2_key=Secret(hex(DEMO_L2_PRIVATE_KEY)))
        base_url = sim.api_url
    home = tmp_path / f"home-{exchange}-{kind}"
    home.mkdir(mode=0o700)
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}")
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    label = f"{exchange}-{kind}"
    store.add_account(label, exchange, base_url, vault.encrypt(creds, label=label, base_url=base_url), creds.hint)
    engine = SyncEngine(store, vault, EventBus(), connector_options=_connector_options())
    env = FaultEnv(exchange, kind, sim, faults, history, store, vault, engine, label)
    try:
        yield env
    finally:
        engine.close()
        sim.stop()
        store.close()


# ------------------------------------------------------------------------------------------ truth checks
def _history_map(env: FaultEnv) -> dict[tuple[str, str], Any]:
    return {(f.fill_id, f.fill_type): f for f in env.history.snapshot()}


def assert_stored_rows_are_true(env: FaultEnv) -> int:
    """Every stored fill is one of the exchange's fills, equal field by field (never corrupt data)."""
    truth = _history_map(env)
    frame = env.store.fills_frame(account_id=env.account.id)
    for row in frame.iter_rows(named=True):
        key = (row["fill_id"], row["fill_type"])
        assert key in truth, f"stored a fill the exchange does not have: {key}"
        f = truth[key]
        got = (row["market"], row["liquidity"], Decimal(row["price"]), Decimal(row["size"]), Decimal(row["fee"]),
               row["ts_ms"])
        assert got == (f.market, f.liquidity, f.price, f.size, f.fee, f.ts_ms), f"{key}: {got}"
    return frame.height


def assert_claimed_coverage_is_true(env: FaultEnv) -> None:
    """The range the sync state calls complete holds every fill of that range (no partial-but-complete)."""
    state = env.store.get_sync_state(env.account.id)
    if state.covered_from_ms is None or state.covered_to_ms is None:
        return
    frame = env.store.fills_frame(account_id=env.account.id)
    stored = set(zip(frame["fill_id"].to_list(), frame["fill_type"].to_list(), strict=True))
    missing = [
        (f.fill_id, f.fill_type)
        for f in env.history.snapshot()
        if state.covered_from_ms <= f.ts_ms <= state.covered_to_ms and (f.fill_id, f.fill_type) not in stored
    ]
    assert not missing, f"{len(missing)} fill(s) missing inside the range claimed complete, e.g. {missing[:3]}"


def assert_complete(env: FaultEnv) -> None:
    from perpvol_core.analytics import volume

    assert assert_stored_rows_are_true(env) == len(env.history.fills)
    assert volume.summary(env.store)["totals"]["all"] == env.history.expected_total()
    assert env.account.status == "ok"


# ------------------------------------------------------------------------------------------ the matrix
Action = Callable[[FaultEnv], None]


def _force(kind: str, n: int) -> Action:
    return lambda env: env.faults.force(kind, n)


def _always(**fields: Any) -> Action:
    return lambda env: env.faults.set(**fields)


def _expire_token(env: FaultEnv) -> None:
    env.sim.advance_clock(2 * 86_400)  # the token was minted with a one-day lifetime (setup below)


def _expire_jwt(env: FaultEnv) -> None:
    env.sim.advance_clock(120)  # beyond the 60 s JWT lifetime (setup below), inside the timestamp window


def _revoke(env: FaultEnv) -> None:
    if env.exchange == "paradex" and env.kind == "token":
        creds = env.vault.decrypt_account(env.account)
        assert env.sim.revoke_token(creds.token.reveal())
    else:
        env.faults.set(revoked=True)


def _short_token(env: FaultEnv) -> None:
    from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
    from perpvol_core.security.redaction import Secret

    env.replace_credentials(ParadexTokenCredentials(token=Secret(env.sim.mint_read_only_token("short", ttl_s=86_400))))


def _restore(env: FaultEnv) -> None:
    """Clear the fault (and give fresh credentials where the old ones are gone for good)."""
    env.faults.reset()
    if env.exchange == "paradex" and env.kind == "token":
        from perpvol_core.exchanges.paradex.credentials import ParadexTokenCredentials
        from perpvol_core.security.redaction import Secret

        env.replace_credentials(ParadexTokenCredentials(token=Secret(env.sim.mint_read_only_token("fresh"))))


@dataclass(frozen=True)
class FaultCase:
    name: str
    exchange: str
    kind: str
    action: Action
    when: str  # "start" | "mid" (after two pages)
    expect: str  # "complete" | "error"
    cause: tuple[str, ...] = ()  # any of these words must be in the error (case-insensitive)
    setup: Action | None = None
    sim_options: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.exchange}-{self.kind}-{self.name}-{self.when}"


def _transient(exchange: str, kind: str) -> list[FaultCase]:
    out = []
    for fault, n in ((fk.RATE_LIMIT, 2), (fk.SERVER_ERROR, 2), (fk.HTML_ERROR, 2), (fk.STALL, 1), (fk.TRUNCATE, 2)):
        for when in ("start", "mid"):
            out.append(FaultCase(f"{fault}x{n}", exchange, kind, _force(fault, n), when, "complete"))
    return out


def _persistent(exchange: str, kind: str) -> list[FaultCase]:
    return [
        FaultCase("429-storm", exchange, kind, _always(rate_limit_p=1.0), "mid", "error", ("rate",)),
        FaultCase("5xx-always", exchange, kind, _always(server_error_p=1.0), "mid", "error",
                  ("unreachable", "unavailable", "http 5")),
        FaultCase("html-always", exchange, kind, _always(html_error_p=1.0), "mid", "error", ("html",)),
        FaultCase("stall-always", exchange, kind, _always(stall_p=1.0), "mid", "error", ("timed out", "timeout")),
        FaultCase("truncated-always", exchange, kind, _always(truncate_p=1.0), "mid", "error",
                  ("unreadable", "truncated", "json")),
        FaultCase("revoked", exchange, kind, _revoke, "mid", "error", ("revoked", "invalid")),
    ]


CASES: list[FaultCase] = [
    *_transient("woox", "key"),
    *_transient("paradex", "token"),
    *_persistent("woox", "key"),
    *_persistent("paradex", "token"),
    *_persistent("paradex", "l2")[-1:],
    FaultCase("expired-token", "paradex", "token", _expire_token, "mid", "error", ("expired",), setup=_short_token),
    FaultCase("jwt-expires", "paradex", "l2", _expire_jwt, "mid", "complete", sim_options={"jwt_ttl_s": 60}),
    FaultCase("clock-skew", "woox", "key", _always(clock_skew_ms=400_000), "start", "error",
              ("clock", "timestamp", "time")),
    FaultCase("clock-skew", "paradex", "l2", _always(clock_skew_ms=400_000), "start", "error",
              ("clock", "timestamp", "time")),
    # a read-only token carries no signed timestamp: a skewed exchange clock changes nothing
    FaultCase("clock-skew", "paradex", "token", _always(clock_skew_ms=400_000), "start", "complete"),
]
_BY_ID = {c.id: c for c in CASES}
FAST_IDS = [
    "woox-key-rate_limitx2-mid",
    "woox-key-truncatex2-start",
    "paradex-token-stallx1-mid",
    "paradex-token-html_errorx2-start",
    "woox-key-5xx-always-mid",
    "paradex-token-revoked-mid",
    "paradex-token-expired-token-mid",
]


@dataclass
class Outcome:
    case: str
    expected: str
    outcome: str  # "complete" | "error"
    status: str
    error: str | None
    stored_before_recovery: int
    recovered: bool
    seconds: float


def run_fault_case(case: FaultCase, tmp_path: Path) -> Outcome:
    """Run one case and assert its outcome (see the module docstring); returns what happened."""
    t0 = time.monotonic()
    with fault_env(tmp_path, case.exchange, case.kind, **case.sim_options) as env:
        if case.setup is not None:
            case.setup(env)
        pages = 0

        def progress(event: dict[str, Any]) -> None:
            nonlocal pages
            if event.get("type") == "sync_progress":
                pages += 1
                if pages == 2 and case.when == "mid":
                    case.action(env)

        if case.when == "start":
            case.action(env)
        result = env.sync(progress)
        if case.when == "mid":
            assert pages >= 2, f"the sync had only {pages} page(s): the fault was never injected"
        stored = assert_stored_rows_are_true(env)
        assert_claimed_coverage_is_true(env)
        account = env.account
        if case.expect == "complete":
            assert result.ok, f"{case.id}: expected complete data, got error {result.error!r}"
            assert_complete(env)
            recovered = True
        else:
            assert not result.ok, f"{case.id}: the sync claimed success under a permanent fault"
            assert account.status == "error"
            assert account.last_error, "an error status without a message"
            text = account.last_error.lower()
            assert any(word in text for word in case.cause), f"{case.id}: error does not name the cause: {text}"
            assert stored < len(env.history.fills)  # really partial; and the partial part is true (above)
            _restore(env)
            again = env.sync()
            assert again.ok, f"{case.id}: no recovery after the fault cleared: {again.error}"
            assert_complete(env)
            recovered = True
        return Outcome(case.id, case.expect, "complete" if result.ok else "error", account.status,
                       account.last_error, stored, recovered, time.monotonic() - t0)


@pytest.mark.parametrize("case_id", FAST_IDS)
def test_fault_outcome(case_id: str, tmp_path: Path) -> None:
    run_fault_case(_BY_ID[case_id], tmp_path)


#: cases that fail because of a known bug elsewhere (strict: they flip to a failure once fixed)
KNOWN_BUGS: dict[str, str] = {}  # case id -> reason, for a bug pinned as a strict xfail


@pytest.mark.slow
@pytest.mark.parametrize(
    "case_id",
    [
        pytest.param(c.id, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[c.id])) if c.id in KNOWN_BUGS
        else c.id
        for c in CASES
        if c.id not in FAST_IDS
    ],
)
def test_fault_matrix(case_id: str, tmp_path: Path) -> None:
    run_fault_case(_BY_ID[case_id], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("exchange", "kind"), [("paradex", "token"), ("woox", "key")])
def test_websocket_drops_lose_no_fill(tmp_path: Path, exchange: str, kind: str) -> None:
    """Streams dropped at random while live fills arrive: the totals end exact (REST closes the gaps)."""
    from tests.services.test_live import _perp, _store_total, live_setup, wait_until

    with live_setup(tmp_path, exchange, kind) as env:
        wait_until(lambda: (s := env.account_state()) and s["state"] == "live", 20, "stream live")  # noqa: B023
        env.faults.set(ws_drop_p=0.4)
        for _ in range(12):
            env.history.add_live_fill(market=_perp(env))
            time.sleep(0.05)
        env.faults.set(ws_drop_p=0.0)
        wait_until(lambda: _store_total(env) == env.expected_total(), 30, "exact totals after drops")  # noqa: B023
        env.worker.run_once([env.label])
        acc = env.store.get_account(env.label)
        assert env.store.fill_count(acc.id) == len(env.history.fills)
        assert env.faults.counts[fk.WS_DROP] >= 1
