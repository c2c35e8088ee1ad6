"""The simulator state every handler shares (:class:`ParadexState`), who a token authenticates
(:class:`Principal`), the fault helpers and the error a handler answers with (:class:`_Reject`).
"""

from __future__ import annotations

import bisect
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

import tornado.ioloop

from perpvol_core.exchanges.paradex.spec import COUNTED_FILL_TYPES as PARADEX_COUNTED_FILL_TYPES
from perpvol_core.fill import MS_PER_DAY
from perpvol_sim.faults import Faults
from perpvol_sim.history import History, SimFill
from perpvol_sim.paradex import figures as sim_figures
from perpvol_sim.paradex.config import ParadexSimConfig
from perpvol_sim.paradex.fills import FillBook
from perpvol_sim.paradex.limiter import RateLimiter
from perpvol_sim.paradex.tokens import AccountRegistry, JwtIssuer, ReadOnlyToken


class _LiveClient(Protocol):
    """A WebSocket client live fills go to (:class:`perpvol_sim.paradex.ws._WebSocketHandler`)."""

    io_loop: tornado.ioloop.IOLoop

    def push_fill(self, fill: SimFill) -> None: ...


@dataclass(frozen=True)
class Principal:
    """Who a bearer token authenticates."""

    account: int
    read_only: bool
    token_id: str | None = None


class ParadexState:
    """Everything the handlers share: history, accounts, tokens, limits, counters, clock, faults."""

    def __init__(
        self,
        history: History,
        config: ParadexSimConfig,
        registry: AccountRegistry,
        primary_account: int,
        faults: Faults | None,
    ) -> None:
        self.history = history
        self.config = config
        self.registry = registry
        self.primary_account = primary_account
        self.faults = faults
        self.book = FillBook(history)
        self.jwt = JwtIssuer(config.issuer)
        self.limiter = RateLimiter(config.limits)
        self.request_count: Counter[str] = Counter()
        self.rate_limited = 0
        self.server_errors = 0
        #: Added to the clock: tests move time forward instead of sleeping.
        self.clock_offset_s = 0.0
        self._ws_lock = threading.Lock()
        self._ws_clients: set[_LiveClient] = set()
        self._markets: list[str] | None = None
        #: Read-only tokens minted at start by name (``make_app(read_only_tokens=[...])``).
        self.minted_tokens: dict[str, str] = {}

    # time -----------------------------------------------------------------------------------------
    def now(self) -> float:
        """Server time in seconds, including the test offset and any injected clock skew."""
        return self.config.clock() + self.clock_offset_s + _fault_clock_skew_s(self.faults)

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    # tokens ---------------------------------------------------------------------------------------
    def issue_jwt(self, account: int) -> str:
        """A short-lived JWT as ``POST /auth`` returns: ``exp = iat + jwt_ttl_s``, ``sub`` = account."""
        iat = int(self.now())
        return self.jwt.encode(
            {
                "typ": "at+JWT",
                "iat": iat,
                "exp": iat + self.config.jwt_ttl_s,
                "iss": self.config.issuer,
                "sub": hex(account),
                "jti": uuid.uuid4().hex,
            }
        )

    def mint_read_only_token(self, account: int, name: str = "perpvol", ttl_s: int | None = None) -> tuple[str, str]:
        """A long-lived read-only token (a JWT, GET only); returns (token, token_id)."""
        now = int(self.now())
        record = ReadOnlyToken(
            token_id=uuid.uuid4().hex,
            lookup_id=secrets.token_hex(8),
            account=account,
            name=name,
            created_at_s=now,
            expiry_at_s=now + (self.config.read_only_ttl_s if ttl_s is None else ttl_s),
        )
        self.registry.add_token(record)
        token = self.jwt.encode(
            {
                "typ": "at+JWT",
                "iat": now,
                "exp": record.expiry_at_s,
                "iss": self.config.issuer,
                "sub": hex(account),
                "jti": record.token_id,
                "token_usage": "read_only",
            }
        )
        return token, record.token_id

    def authenticate(self, bearer: str) -> Principal:
        """Verify a bearer token; raises JwtError (message-only 401) or _Reject (enveloped 401)."""
        claims = self.jwt.decode(bearer, self.now())
        account = int(claims.get("sub", "0x0"), 16)
        if _fault_credentials_revoked(self.faults):
            raise _Reject(401, "INVALID_TOKEN", "token has been revoked")
        if claims.get("token_usage") == "read_only":
            record = self.registry.token(str(claims.get("jti")))
            if record is None or record.revoked_at_s is not None:
                raise _Reject(401, "INVALID_TOKEN", "token has been revoked")
            return Principal(account, read_only=True, token_id=record.token_id)
        return Principal(account, read_only=False)

    # fills and markets ----------------------------------------------------------------------------
    def owns_fills(self, account: int) -> bool:
        """Only the primary account owns the history; other registered accounts have no fills."""
        return account == self.primary_account or sim_figures.is_subaccount(self, account)

    def markets(self) -> list[str]:
        if self._markets is None:
            self._markets = sorted({f.market for f in self.history.fills})
        return self._markets

    def counted_notional(self, start_ms: int, end_ms: int, fill_types: Iterable[str] | None = None) -> Decimal:
        """Σ price × size of perp fills of ``fill_types`` (default: counted ones), ``start_ms <= ts < end_ms``."""
        types = PARADEX_COUNTED_FILL_TYPES if fill_types is None else frozenset(fill_types)
        fills, ts = self.book._snapshot()
        lo, hi = bisect.bisect_left(ts, start_ms), bisect.bisect_left(ts, end_ms)
        total = Decimal(0)
        for f in fills[lo:hi]:
            if sim_figures.counts_in_figures(self.config, f.market, f.fill_type, types):
                total += f.price * f.size
        return total

    def volume_window(self) -> tuple[int, int]:
        """``[start, end)`` of the 14-day tier window ``/account/info`` reports, per ``config.volume_window``."""
        now_ms = self.now_ms()
        if self.config.volume_window == "utc_days":
            start = now_ms - now_ms % MS_PER_DAY - 13 * MS_PER_DAY
        else:
            start = now_ms - 14 * MS_PER_DAY
        return start, now_ms + 1

    def visible_until_ms(self) -> int | None:
        """Newest timestamp ``/fills`` lists (``fills_delay_ms``); None = everything."""
        delay = self.config.fills_delay_ms
        return self.now_ms() - delay if delay > 0 else None

    # websocket fan-out ----------------------------------------------------------------------------
    def add_ws(self, client: _LiveClient) -> None:
        with self._ws_lock:
            self._ws_clients.add(client)

    def remove_ws(self, client: _LiveClient) -> None:
        with self._ws_lock:
            self._ws_clients.discard(client)

    def on_live_fill(self, fill: SimFill) -> None:
        """History callback (any thread): hop into each client's loop to push the fill."""
        with self._ws_lock:
            clients = list(self._ws_clients)
        for client in clients:
            client.io_loop.add_callback(client.push_fill, fill)


# ---------------------------------------------------------------------------------------------------
# Faults (the shared perpvol_sim.faults.Faults; None = no faults)


def _fault_clock_skew_s(faults: Faults | None) -> float:
    return 0.0 if faults is None else faults.clock_skew_ms / 1000.0


def _fault_credentials_revoked(faults: Faults | None) -> bool:
    return bool(faults is not None and faults.revoked)


class _Reject(Exception):
    """An error response: enveloped ``{"error", "message", "data"}`` (or message-only when code is None)."""

    def __init__(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.data = data

    def body(self) -> dict[str, Any]:
        if self.code is None:
            return {"message": self.message}
        return {"error": self.code, "message": self.message, "data": self.data}
