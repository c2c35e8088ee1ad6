"""Our own login in front of the dashboard: exact password, backoff, server-side sessions.

* The password is compared exactly as typed (no case folding), in constant time (SHA-256 digests of both
  sides, then :func:`hmac.compare_digest`).
* Backoff, per client (its address; an IPv6 client by its /64): after :data:`FREE_TRIES` wrong passwords
  that client waits ``2**k`` seconds (capped) before its next try. A try while waiting is refused without
  checking the password. The address is the peer's, or the one a proxy of ``PERPVOL_TRUSTED_PROXIES``
  forwards (:mod:`perpvol_app.frontdoor`): a client cannot name itself anew to get a fresh budget.
* Under a flood (:data:`GLOBAL_FREE` wrong passwords from anyone within :data:`GLOBAL_WINDOW_S`) every
  client's budget shrinks to one try: each wrong password then costs its client a wait. Nobody is locked out
  for what others did: a client that has not failed (the owner's browser) is still checked at once.
* Sessions live in this process: a random id in a signed cookie (``itsdangerous``, HMAC-SHA256 with a key
  drawn per process; HttpOnly, SameSite=Strict, Secure behind TLS), bounded in number and age, revoked by
  ``POST /logout`` and all at once by :meth:`LoginGuard.set_password`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from itsdangerous import BadSignature, Signer

COOKIE = "perpvol_session"
FREE_TRIES = 5
MAX_WAIT_S = 900
GLOBAL_FREE = 50
GLOBAL_WINDOW_S = 60.0
SESSION_MAX_AGE_S = 12 * 3600
MAX_SESSIONS = 1000
MAX_CLIENTS = 10_000
WRONG_PASSWORD = "Wrong password."  # noqa: S105 - the fixed error text, not a password


def too_many(wait_s: int) -> str:
    return f"Too many attempts, wait {wait_s} s."


@dataclass
class LoginResult:
    """``cookie`` on success; otherwise ``message`` is the fixed text to show (``wait_s`` > 0: backing off)."""

    cookie: str | None = None
    message: str = ""
    wait_s: int = 0

    @property
    def ok(self) -> bool:
        return self.cookie is not None


@dataclass
class _Client:
    failures: int = 0
    locked_until: float = 0.0


class LoginGuard:
    """The password, the backoff state and the sessions of one server process (thread-safe)."""

    def __init__(self, password: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not password:
            raise ValueError("a dashboard password must not be empty")
        self._clock = clock
        self._lock = threading.Lock()
        self._signer = Signer(secrets.token_bytes(32), salt="perpvol.session", digest_method=hashlib.sha256)
        self._digest = b""
        self._sessions: OrderedDict[str, float] = OrderedDict()  # id -> created (monotonic)
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._recent_failures: deque[float] = deque(maxlen=GLOBAL_FREE * 4)
        self.set_password(password)

    # -- password -------------------------------------------------------------------------------------

    def set_password(self, password: str) -> None:
        """Change the password; every existing session is revoked."""
        with self._lock:
            self._digest = hashlib.sha256(password.encode("utf-8")).digest()
            self._sessions.clear()

    def _password_matches(self, given: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(given.encode("utf-8")).digest(), self._digest)

    # -- backoff --------------------------------------------------------------------------------------

    def wait_s(self, client: str) -> int:
        """Seconds ``client`` must wait before its next try (0: may try now)."""
        with self._lock:
            return self._wait_locked(client, self._clock())

    def _wait_locked(self, client: str, now: float) -> int:
        state = self._clients.get(client_key(client))
        if state is None or state.locked_until <= now:
            return 0
        return math.ceil(state.locked_until - now)

    def under_flood(self) -> bool:
        """Whether :data:`GLOBAL_FREE` wrong passwords came within :data:`GLOBAL_WINDOW_S` (budgets shrink)."""
        with self._lock:
            return self._flood_locked(self._clock())

    def _flood_locked(self, now: float) -> bool:
        return sum(1 for t in self._recent_failures if now - t < GLOBAL_WINDOW_S) >= GLOBAL_FREE

    def attempt(self, client: str, password: str) -> LoginResult:
        """One login try from ``client`` (its address). Never raises."""
        client = client_key(client)
        with self._lock:
            now = self._clock()
            wait = self._wait_locked(client, now)
            if wait:
                return LoginResult(message=too_many(wait), wait_s=wait)
            if self._password_matches(password):
                self._clients.pop(client, None)
                return LoginResult(cookie=self._new_session(now))
            free = 1 if self._flood_locked(now) else FREE_TRIES
            state = self._clients.pop(client, None) or _Client()
            state.failures += 1
            if state.failures >= free:
                state.locked_until = now + min(2 ** min(state.failures - free, 20), MAX_WAIT_S)
            self._clients[client] = state  # most recent last: the oldest are evicted first
            while len(self._clients) > MAX_CLIENTS:
                self._clients.popitem(last=False)
            self._recent_failures.append(now)
            return LoginResult(message=WRONG_PASSWORD)

    # -- sessions -------------------------------------------------------------------------------------

    def _new_session(self, now: float) -> str:
        session_id = secrets.token_urlsafe(32)
        self._sessions[session_id] = now
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return self._signer.sign(session_id).decode("ascii")

    def _session_id(self, cookie_value: str | None) -> str | None:
        if not cookie_value or len(cookie_value) > 200:
            return None
        try:
            return self._signer.unsign(cookie_value.encode("utf-8")).decode("ascii")
        except (BadSignature, UnicodeError):
            return None

    def valid(self, cookie_value: str | None) -> bool:
        """True when ``cookie_value`` is a signed, live, unrevoked session."""
        session_id = self._session_id(cookie_value)
        if session_id is None:
            return False
        with self._lock:
            created = self._sessions.get(session_id)
            if created is None:
                return False
            if self._clock() - created > SESSION_MAX_AGE_S:
                del self._sessions[session_id]
                return False
            return True

    def revoke(self, cookie_value: str | None) -> bool:
        """End the session; True when there was one."""
        session_id = self._session_id(cookie_value)
        with self._lock:
            return session_id is not None and self._sessions.pop(session_id, None) is not None

    # -- ASGI helpers ---------------------------------------------------------------------------------

    def scope_ok(self, scope: MutableMapping[str, Any]) -> bool:
        """Whether an ASGI request scope carries a valid session cookie."""
        return self.valid(cookie_from_scope(scope))

    @staticmethod
    def set_cookie_header(value: str, secure: bool) -> str:
        flags = f"; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_MAX_AGE_S}"
        return f"{COOKIE}={value}{flags}{'; Secure' if secure else ''}"

    @staticmethod
    def clear_cookie_header(secure: bool) -> str:
        return f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{'; Secure' if secure else ''}"


def client_key(address: str) -> str:
    """The backoff's key for a client address: an IPv6 client by its /64 (one host holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def cookie_from_scope(scope: MutableMapping[str, Any]) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: BLE001 - a malformed cookie header is simply no session
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None
