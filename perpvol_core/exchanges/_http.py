"""What every exchange connector shares: the connector base (errors, pacing from ``_pacing``, retries, pages of
fills and value readers from ``_values``, all re-exported here for the connectors).

A connector only adds its request signing (an ``httpx.Auth``), its pagination and its parsing. This
module owns the HTTP client (httpx with timeouts), client-side pacing at each endpoint's documented
rate limit (so that a normal backfill never draws a 429), and bounded retries with backoff on 429,
5xx, timeouts, truncated JSON and HTML error pages (honouring ``x-ratelimit-reset`` / ``Retry-After``).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import tenacity

from perpvol_core.exchanges._errors import (  # noqa: F401  (re-exported for the connectors)
    BadPayload,
    ExchangeError,
    ExchangeUnavailable,
    InvalidCredentials,
    RateLimited,
)
from perpvol_core.exchanges._facts import StoredFacts
from perpvol_core.exchanges._pacing import Pacer, RateLimit, get_pacer  # noqa: F401  (re-exported)
from perpvol_core.exchanges._values import (  # noqa: F401  (re-exported for the connectors)
    FillPage,
    RequestStats,
    clock_skew_s,
    parse_json,
    to_ms,
    to_text,
)
from perpvol_core.money import to_decimal  # noqa: F401  (re-exported for the connectors)
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

USER_AGENT = "perpvol/0.1 (+self-hosted volume dashboard)"



# --------------------------------------------------------------------------------------------- connector


class Connector(ABC):
    """Base of the exchange connectors: one account, one HTTP client, paced and retried requests.

    Subclasses set ``exchange``, ``limits`` (endpoint key → limits), implement ``validate`` and
    ``iter_fill_pages``, and may override ``check_payload`` to map an exchange's error envelope.
    """

    exchange: str = ""
    #: endpoint key -> documented limits (the key is what ``request(..., endpoint=)`` names)
    limits: dict[str, list[RateLimit]] = {}
    #: the pacer's safety margin on each limit's window, and whether requests count from their answers
    #: (``Pacer``); a venue that charges by the answer is paced from the answers with a thin margin
    pacing_margin: float = 0.03
    pace_from_answers: bool = False
    #: how far back the exchange serves fills through the connector's endpoint (None: no known limit)
    max_history_ms: int | None = None
    #: overlap of an incremental sync with what is already covered (late-arriving fills)
    incremental_overlap_ms: int = 120_000
    #: what to say when the requested range is older than ``max_history_ms``
    history_note: str = ""
    #: what the store knows of this account (markets, fills, the stored server profile), handed over as data
    #: by the sync before each run (:meth:`use_facts`); None when no sync runs this connector
    facts: StoredFacts | None = None

    def __init__(
        self,
        credentials: Any,
        base_url: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
        max_attempts: int = 6,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
        rate_limits: dict[str, list[RateLimit]] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.credentials = credentials
        from perpvol_core.exchanges import DEFAULT_BASE_URLS, check_base_url

        check_base_url(self.exchange, base_url)  # before anything is sent: a venue host or a loopback address
        self.base_url = (base_url or DEFAULT_BASE_URLS[self.exchange]).rstrip("/")
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._backoff_wait = tenacity.wait_exponential_jitter(initial=backoff_s, max=max_backoff_s, jitter=backoff_s)
        self.limits = {**self.limits, **(rate_limits or {})}
        self.stats = RequestStats()
        self._sleep = sleep
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(float(timeout), 10.0))
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            auth=self.make_auth(),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    # -- subclass hooks ---------------------------------------------------------------------------

    def make_auth(self) -> httpx.Auth | None:
        """The ``httpx.Auth`` that signs this account's requests."""
        return None

    @property
    def account_key(self) -> str:
        """Identity of the account for pacing (requests of one account share the exchange's budget)."""
        return ""

    def check_payload(self, response: httpx.Response, payload: Any) -> None:  # noqa: B027 - optional hook
        """Raise the matching :class:`ExchangeError` when ``payload`` is an error envelope."""

    @abstractmethod
    def validate(self) -> str:
        """Check the credentials; returns a short identity text. Raises :class:`ExchangeError`."""

    @abstractmethod
    def iter_fill_pages(self, start_ms: int, end_ms: int, position: dict | None = None) -> Iterator[FillPage]:
        """Pages of fills in ``[start_ms, end_ms]``, newest windows first, resuming at ``position``.

        Raises :class:`ExchangeError` (after retries) when the exchange cannot be read.
        """

    def use_facts(self, facts: StoredFacts) -> None:
        """Take the store's knowledge of the account before a run (a venue may read more of it)."""
        self.facts = facts

    def observed_profile(self) -> dict[str, Any] | None:
        """What the connector observed of its server so far, for the store to keep and hand back in
        ``StoredFacts.server_profile`` (None: nothing is observed)."""
        return None

    @staticmethod
    def describe_server_profile(profile: dict[str, Any] | None) -> str:
        """One line saying what :meth:`probe_server_profile` observed (``keys test`` prints it)."""
        return ""

    def probe_server_profile(self) -> dict[str, Any] | None:
        """Observe the server's behaviour with a few requests (``keys test``); None when there is nothing to
        observe. Raises :class:`ExchangeError`."""
        return None

    def min_pages(self, n_fills: int) -> int:
        """The fewest requests that can return ``n_fills`` (verify windows and the benchmark read it)."""
        return max(1, -(-n_fills // 500))

    def exchange_report(self) -> dict[str, Any] | None:
        """The exchange's own figures for the account (trailing volume, fee tiers), or None where the
        exchange publishes none. Raises :class:`ExchangeError`."""
        return None

    # -- HTTP -------------------------------------------------------------------------------------

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _retry_wait(self, state: tenacity.RetryCallState) -> float:
        """Seconds before the next try: a server-given reset (capped: its clock may be skewed from ours),
        else exponential backoff with jitter."""
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = getattr(exc, "retry_after_s", None)
        delay = min(wait, self.max_backoff_s) if wait is not None else self._backoff_wait(state)
        return min(max(delay, 0.0), 60.0)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        endpoint: str | None = None,
        headers: dict[str, str] | None = None,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        content: bytes | None = None,
        weight: int = 1,
        weigh: Callable[[Any], int] | None = None,
    ) -> Any:
        """Paced, retried request; returns the decoded JSON payload (floats as ``Decimal``).

        ``weight``: what the request costs of its endpoint's budget (its worst case when the venue charges by
        the answer); ``weigh(payload)``: the real cost, read from the answer.

        Raises:
            InvalidCredentials: 401/403 or an auth error envelope.
            RateLimited: still 429 after ``max_attempts``.
            ExchangeUnavailable: 5xx, timeouts, connection errors, maintenance, after ``max_attempts``.
            BadPayload: truncated JSON / HTML after the retries, or a non-retryable 4xx.
        """
        key = endpoint or path
        limits = self.limits.get(key) or self.limits.get("default") or []
        pacer = get_pacer(
            (self.exchange, self.base_url, self.account_key, key), limits, self.pacing_margin, self.pace_from_answers
        ) if limits else None
        # Retries and their waits are tenacity's; the pacing before each try stays hand-written (Pacer): no
        # library keeps a venue's limits as it documents them (several windows per endpoint with a margin,
        # weights known only from the answer, every request held until the server's reset after a 429).
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, ExchangeError) and exc.retryable),
            wait=self._retry_wait,
            sleep=self._sleep,
            before_sleep=lambda state: log.info(
                "%s %s: %s; retry %d in %.2fs", self.exchange, path, state.outcome and state.outcome.exception(),
                state.attempt_number, state.upcoming_sleep,
            ),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    state = attempt.retry_state
                    if state.attempt_number > 1:
                        self.stats.retries += 1
                    return self._try_once(method, path, pacer, state, params=params, headers=headers, auth=auth,
                                          content=content, weight=weight, weigh=weigh)
        except ExchangeError as exc:
            if not exc.retryable:
                raise
            raise type(exc)(f"{exc} (gave up after {self.max_attempts} attempts)", retryable=False) from None
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    def _try_once(
        self, method: str, path: str, pacer: Pacer | None, state: tenacity.RetryCallState, *, weight: int,
        weigh: Callable[[Any], int] | None, **kwargs: Any,
    ) -> Any:
        """One paced request; raises ExchangeError (a timeout or a lost connection as ExchangeUnavailable)."""
        if pacer is not None:
            self.stats.waited_s += pacer.acquire(self._sleep, weight)
        self.stats.requests += 1
        self.stats.by_path[path] = self.stats.by_path.get(path, 0) + 1
        try:
            response = self.client.request(method, path, **kwargs)
            if pacer is not None and self.pace_from_answers:
                pacer.settle()  # it counts from its answer, whatever the answer is
            payload = self._decode(response)
        except RateLimited as exc:
            self.stats.rate_limited += 1
            if pacer is not None:
                wait = exc.retry_after_s
                pacer.penalize(min(wait, self.max_backoff_s) if wait is not None else self._backoff_wait(state))
            raise
        except httpx.TimeoutException as exc:
            raise ExchangeUnavailable(f"{self.exchange}: request timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise ExchangeUnavailable(f"{self.exchange} unreachable at {self.base_url}: {exc}") from None
        if weigh is not None and pacer is not None:
            pacer.settle(weigh(payload))
        return payload

    def _decode(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 429:
            raise RateLimited(
                f"{self.exchange}: rate limit exceeded (HTTP 429)", retry_after_s=self._retry_after(response)
            )
        readable = True  # a JSON ``null`` is an answer (e.g. "none"), an unparseable body is not
        try:
            payload = parse_json(response.content)
        except ValueError:
            payload, readable = None, False
        if payload is not None:
            self.check_payload(response, payload)
        if status in (401, 403):
            brief = self._brief(response)
            raise InvalidCredentials(f"{self.exchange} rejected the credentials (HTTP {status}): {brief}")
        if status >= 500:
            raise ExchangeUnavailable(f"{self.exchange} failed (HTTP {status}): {self._brief(response)}")
        if status >= 400:
            raise BadPayload(f"{self.exchange} refused the request (HTTP {status}): {self._brief(response)}")
        if not readable:
            raise BadPayload(f"{self.exchange} sent an unreadable response: {self._brief(response)}", retryable=True)
        return payload

    def _brief(self, response: httpx.Response) -> str:
        return _brief(response, self.exchange)

    @staticmethod
    def _retry_after(response: httpx.Response) -> float | None:
        reset = response.headers.get("x-ratelimit-reset")
        if reset:
            try:
                value = float(reset)
                if value > 1e12:  # ms
                    value /= 1000
                if value > 1e9:  # epoch seconds
                    return max(0.0, value - time.time()) + random.random() * 0.1
                return max(0.0, value)
            except ValueError:
                pass
        after = response.headers.get("retry-after")
        if after:
            try:
                return max(0.0, float(after))
            except ValueError:
                pass
        return None


def _brief(response: httpx.Response, exchange: str | None = None, limit: int = 120) -> str:
    """A short, redacted excerpt of an error body, only from a documented host of the venue: any other server's
    body (a simulator, or whatever a base URL pointed at) is described, never echoed."""
    from perpvol_core.exchanges import is_venue_host

    text = response.text.strip().replace("\n", " ")
    if not text:
        return "an empty body"
    if text.lower().startswith("<"):
        return "an HTML page"
    if not is_venue_host(exchange, response.request.url.host):
        return f"a body of {len(response.content)} bytes, not shown"
    return redact(text[:limit] + ("…" if len(text) > limit else ""))
