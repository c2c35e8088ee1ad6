"""Hyperliquid connector: ``POST /info`` reads of one public address (no key, no signature).

Follows ``exchanges/hyperliquid-api.md``: fills from ``userFillsByTime`` (``aggregateByTime: false``) walked
by :mod:`~perpvol_core.exchanges.hyperliquid.paging` under every reading of the notes, ``userFills`` for a
millisecond too full to page through, ``userRole`` to tell an API wallet from an account, and the venue's own
figures from ``portfolio`` and ``userFees`` (:mod:`~perpvol_core.exchanges.hyperliquid.report`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from perpvol_core.exchanges._http import (
    BadPayload,
    FillPage,
    InvalidCredentials,
    RateLimit,
)
from perpvol_core.exchanges._profiled import ProfiledConnector
from perpvol_core.exchanges.hyperliquid.credentials import HyperliquidAddress
from perpvol_core.exchanges.hyperliquid.dexes import dex_pages
from perpvol_core.exchanges.hyperliquid.paging import RETENTION_FILLS, USER_FILLS_MAX, describe_refusal
from perpvol_core.exchanges.hyperliquid.report import build_report

log = logging.getLogger(__name__)

INFO = "/info"
#: pacing key of every ``/info`` request: the venue's budget is one per IP, shared by all of them
INFO_ENDPOINT = "info"
#: §6: the per-IP weight budget of a minute, and the weights of the requests perpvol sends
WEIGHT_BUDGET = 1200
FILL_TYPES = frozenset({"userFills", "userFillsByTime"})
HEAVY_TYPES = frozenset({"userRole"})
NO_FILLS = (
    "Hyperliquid has no fills at all for {hint}. If this is an API (agent) wallet, add the master account "
    "or sub-account address instead: API wallets only sign, and their own history is empty."
)


def identity(connector: Any, credentials: HyperliquidAddress) -> str | None:
    """The venue's own id of the account: its address (lowercase)."""
    return credentials.address


class HyperliquidConnector(ProfiledConnector):
    """One Hyperliquid address (master or sub-account): its fills, its role, the venue's own figures."""

    exchange = "hyperliquid"
    # 1200 weight per minute per IP (§6): userRole weighs 60, every other info request 20, and fill answers
    # perhaps 1 more per 20 fills returned (F25, UNCONFIRMED). A fill request is charged its worst case (a
    # full 2000-fill page: 120) before it is sent and settled to what its answer weighs, so a backfill of
    # full pages runs at the 10 a minute the worst reading allows while small requests stay cheap.
    # No account key: every address read from this machine shares the one per-IP budget.
    limits = {INFO_ENDPOINT: [RateLimit(WEIGHT_BUDGET, 60.0)]}
    # the venue charges a fill request by its answer, so a request counts from when its answer arrived (the
    # server charged it by then): the window then needs no allowance for latency, only a thin margin (0.1 %)
    pacing_margin = 0.001
    pace_from_answers = True
    max_history_ms = None
    incremental_overlap_ms = 120_000
    history_note = (
        "Hyperliquid serves only each address's 10,000 most recent fills (spot included); older fills "
        "cannot be read from its public API, so days before the oldest served fill are incomplete."
    )

    def __init__(self, credentials: HyperliquidAddress, base_url: str | None = None, **options: Any) -> None:
        #: the venue's count cap on served fills (an option for tests against a smaller simulator cap)
        self.retention_fills = int(options.pop("retention_fills", RETENTION_FILLS))
        #: how many of the newest fills ``userFills`` serves (documented 2000; an option for the same reason)
        self.recent_fills = int(options.pop("recent_fills", USER_FILLS_MAX))
        self.clock: Callable[[], float] = options.pop("clock", time.time)
        super().__init__(credentials, base_url, **options)

    def min_pages(self, n_fills: int) -> int:
        return max(1, -(-n_fills // 2000))

    # -- requests ---------------------------------------------------------------------------------

    def info(self, body: dict[str, Any]) -> Any:
        """One paced, retried ``POST /info``; the decoded JSON. Raises ExchangeError."""
        kind = body.get("type")
        base = 60 if kind in HEAVY_TYPES else 20
        weigh = None
        weight = base
        if kind in FILL_TYPES:  # the worst case before, the answer's own weight after (F25 reading A)
            weight = base + math.ceil(USER_FILLS_MAX / 20)

            def weigh(payload: Any) -> int:
                return base + (math.ceil(len(payload) / 20) if isinstance(payload, list) else 0)

        return self.request(
            "POST", INFO, content=json.dumps(body).encode(), endpoint=INFO_ENDPOINT,
            headers={"Content-Type": "application/json"}, weight=weight, weigh=weigh,
        )

    def fills_by_time_rows(self, start_ms: int, end_ms: int, dex: str | None = None) -> list[Any] | None:
        """The fill objects ``userFillsByTime`` serves for ``[start_ms, end_ms]`` (bound readings aside), or
        None when it answers an error object for the window (a window older than retention, F5).

        ``dex``: sent as the request's ``dex`` (one builder dex, F13). Raises BadPayload for any other answer,
        ExchangeError when the venue cannot be read.
        """
        body = {"type": "userFillsByTime", "user": self.credentials.address, "startTime": start_ms,
                "endTime": end_ms, "aggregateByTime": False}  # fmt: skip
        payload = self.info(body if dex is None else {**body, "dex": dex})
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict):
            log.info("hyperliquid userFillsByTime [%d, %d] refused: %s", start_ms, end_ms, describe_refusal(payload))
            return None
        raise BadPayload("Hyperliquid userFillsByTime answered something other than a list of fills", retryable=True)

    def user_fills_rows(self, dex: str | None = None) -> list[Any]:
        """The newest fills (at most 2000) from ``userFills`` (of ``dex`` when given). Raises BadPayload,
        ExchangeError."""
        body = {"type": "userFills", "user": self.credentials.address, "aggregateByTime": False}
        payload = self.info(body if dex is None else {**body, "dex": dex})
        if not isinstance(payload, list):
            raise BadPayload("Hyperliquid userFills answered something other than a list of fills", retryable=True)
        return payload

    def perp_dexs(self) -> list[str]:
        """Names of the builder dexes ``perpDexs`` lists (its ``null`` first entry is the core dex).

        Raises BadPayload when the answer is not a list, ExchangeError when the venue cannot be read."""
        payload = self.info({"type": "perpDexs"})
        if not isinstance(payload, list):
            raise BadPayload("Hyperliquid perpDexs answered something other than a list", retryable=True)
        names = (d.get("name") for d in payload if isinstance(d, dict))
        return sorted({n.strip() for n in names if isinstance(n, str) and n.strip() and ":" not in n})

    def role(self) -> tuple[str | None, str | None]:
        """``(role, related address)`` from ``userRole`` (``user``/``agent``/``vault``/``subAccount``/``missing``;
        the master of an agent or sub-account); ``(None, None)`` when the answer is not readable."""
        try:
            payload = self.info({"type": "userRole", "user": self.credentials.address})
        except BadPayload as exc:
            log.info("hyperliquid userRole unreadable: %s", exc)
            return None, None
        if not isinstance(payload, dict) or not isinstance(payload.get("role"), str):
            return None, None
        data = payload.get("data")
        related = None
        if isinstance(data, dict):
            value = data.get("user") or data.get("master")
            related = value.lower() if isinstance(value, str) else None
        return payload["role"], related

    # -- what the server was seen to do (kept per account by the sync engine) -----------------------

    def observed(self, key: str) -> Any:
        """What the stored server profile says of ``key`` (None: not observed yet)."""
        return (self.server_profile or {}).get(key)

    def observe(self, key: str, value: Any) -> None:
        self.server_profile = {**(self.server_profile or {}), key: value}

    # -- identity ---------------------------------------------------------------------------------

    def validate(self) -> str:
        """What the address is (``userRole``; ``userFills`` when the role cannot be read).

        Raises InvalidCredentials for an API wallet (it has no fills of its own), ExchangeError otherwise.
        """
        hint = self.credentials.hint
        role, related = self.role()
        if role == "agent":
            master = f" of {related[:6]}…{related[-4:]}" if related else ""
            raise InvalidCredentials(
                f"{hint} is a Hyperliquid API wallet{master}: API wallets only sign and have no fills of "
                "their own. Add the master account or sub-account address instead."
            )
        if role == "missing":
            return NO_FILLS.format(hint=hint)
        if role is not None:
            return f"Hyperliquid {_ROLE_NAMES.get(role, role)} {hint}"
        n = len(self.user_fills_rows())
        if n == 0:
            return NO_FILLS.format(hint=hint)
        return f"Hyperliquid address {hint} ({'2000+' if n >= 2000 else n} recent fills)"

    def has_stored_fills(self) -> bool:
        """True when the sync's facts say fills of this account are stored; False when none are, or when no
        sync runs this connector."""
        return self.facts is not None and self.facts.has_fills

    def check_not_empty(self) -> None:
        """Raises InvalidCredentials (our words) when the first sync finds no fill at all for the address:
        most likely an API wallet. Only when the engine says no fill of the account is stored yet."""
        if self.facts is None or self.has_stored_fills():
            return
        if not self.user_fills_rows():
            raise InvalidCredentials(NO_FILLS.format(hint=self.credentials.hint))

    # -- fills ------------------------------------------------------------------------------------

    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        """Fills of ``[start_ms, end_ms]`` under every reading of ``userFillsByTime`` (see ``paging``).

        Raises ExchangeError; a per-account error when a millisecond holds more fills than can be read.
        """
        yield from dex_pages(self, start_ms, end_ms, position)

    # -- the venue's own figures ----------------------------------------------------------------------

    def exchange_report(self) -> dict[str, Any]:
        """``portfolio`` (perpAllTime / perpDay volume) and ``userFees`` (dailyUserVlm, rates).

        Raises ExchangeError; BadPayload when neither answer holds a readable figure.
        """
        before = int(self.clock() * 1000)
        portfolio = self.info({"type": "portfolio", "user": self.credentials.address})
        fees = self.info({"type": "userFees", "user": self.credentials.address})
        after = int(self.clock() * 1000)
        report = build_report(portfolio, fees)
        return {
            "exchange": "hyperliquid",
            "source": "/info portfolio + userFees",
            "fetched_from_ms": before,
            "fetched_ms": after,
            **report,
        }


_ROLE_NAMES = {"user": "account", "subAccount": "sub-account", "vault": "vault"}
