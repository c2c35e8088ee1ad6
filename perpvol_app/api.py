"""The server API: REST under ``/api/v1``, the WebSocket ``/api/v1/stream`` and the ``/embed`` widget.

``ROUTES`` is the list ``panel serve --plugins perpvol_app.plugin`` adds to the server (Tornado
``(pattern, handler, kwargs)`` tuples); everything is configured lazily from ``Settings.from_env()`` on
the first request. Tests and other hosts build their own with :func:`make_routes` / :func:`make_app`.

Security: every route but ``/api/v1/health`` and ``/embed/*`` needs ``Authorization: Bearer
<PERPVOL_API_TOKEN>`` (the stream also accepts ``?token=``), compared in constant time; without a
configured token those routes answer 401, never open. Errors are JSON ``{"error", "message"}`` with a
4xx status and redacted messages; request logs redact tokens. The embed routes never touch the vault.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import tornado.web
import tornado.websocket
from tornado.ioloop import IOLoop

from perpvol_core.analytics import embed as embed_core
from perpvol_core.config import Settings
from perpvol_core.fill import EXCHANGES
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.services.events import EventBus, get_bus

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
#: Event types the stream forwards to clients.
STREAM_EVENT_TYPES = frozenset({"volume", "sync_progress", "sync_done", "account_status", "live_status"})
MAX_BODY = 64 * 1024

T = TypeVar("T")
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="perpvol-api")


# ---------------------------------------------------------------------------------------------
# JSON helpers
# ---------------------------------------------------------------------------------------------
def dec_str(value: Any) -> str:
    """A decimal string without exponent (``Decimal``/int/str in; never via float)."""
    from perpvol_core.store.models import canonical_decimal

    if isinstance(value, float):
        raise TypeError("money must never be float")
    return canonical_decimal(value if isinstance(value, Decimal) else Decimal(str(value)))


def jsonable(obj: Any) -> Any:
    """Recursively turn ``Decimal`` into decimal strings, dates into ISO text, tuples/sets into lists."""
    if isinstance(obj, Decimal):
        return dec_str(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(obj, date):
        return obj.isoformat()
    if isinstance(obj, Secret):
        return obj.hint
    return obj


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Context: settings, store, vault, worker, bus (lazy)
# ---------------------------------------------------------------------------------------------
class ApiContext:
    """What the handlers need, opened lazily on first use and shared by every request.

    Pass explicit objects in tests; by default everything comes from ``Settings.from_env()``. Opening
    the store may raise the store's errors (they become a 4xx/``503``-free JSON error per request).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: Any = None,
        vault: Any = None,
        worker: Any = None,
        bus: EventBus | None = None,
        use_worker: bool = True,
    ) -> None:
        self._settings = settings
        self._store = store
        self._vault = vault
        self._worker = worker
        self._bus = bus
        self._use_worker = use_worker
        self._lock = threading.RLock()

    @property
    def settings(self) -> Settings:
        with self._lock:
            if self._settings is None:
                self._settings = Settings.from_env()
                from perpvol_core.services.pubsub import install_bus

                install_bus(self._settings)
            return self._settings

    @property
    def api_token(self) -> Secret | None:
        return self.settings.api_token

    @property
    def bus(self) -> EventBus:
        return self._bus or get_bus()

    @property
    def store(self) -> Any:
        with self._lock:
            if self._store is None:
                from perpvol_core.store import Store

                self._store = Store.open(self.settings)
            return self._store

    @property
    def vault(self) -> Any:
        """The vault (only account routes use it; the embed routes never do)."""
        with self._lock:
            if self._vault is None:
                from perpvol_core.security.vault import Vault

                self._vault = Vault.open(self.settings, self.store)
            return self._vault

    @property
    def worker(self) -> Any | None:
        """The process's background worker, or ``None`` when there is none (e.g. a bare API app)."""
        with self._lock:
            if self._worker is None and self._use_worker and not os.environ.get("PERPVOL_NO_WORKER"):
                try:
                    from perpvol_core.services.worker import get_worker

                    self._worker = get_worker(self.settings)
                except ImportError:
                    return None
            return self._worker


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
class ApiError(tornado.web.HTTPError):
    """An API error: ``status`` (4xx), machine ``code`` and a human ``message`` (redacted when sent)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, log_message=None, reason=None)
        self.code = code
        self.message = message


_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_credentials",
    424: "exchange_unavailable",
    429: "rate_limited",
}


def _map_exception(exc: BaseException) -> ApiError:
    """Translate a core exception into an ``ApiError`` (by class name, so optional modules stay optional)."""
    if isinstance(exc, ApiError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    msg = redact(exc) or type(exc).__name__
    if "AccountNotFound" in names:
        return ApiError(404, "not_found", msg)
    if "AccountInputError" in names:  # the account path's own validation (DuplicateAccount: 409)
        return _input_error(exc)
    if "AccountExists" in names:
        return ApiError(409, "conflict", msg)
    if "InvalidCredentials" in names:
        return ApiError(422, "invalid_credentials", msg)
    if "RateLimited" in names:
        return ApiError(429, "rate_limited", msg)
    if names & {"ExchangeUnavailable", "BadPayload", "ExchangeError", "ConnectError", "TimeoutException"}:
        return ApiError(424, "exchange_unavailable", msg)
    if names & {"WrongMasterKey", "VaultError", "TamperedCiphertext", "ConfigError"}:
        return ApiError(409, "vault_unavailable", msg)
    if names & {"ValueError", "TypeError"} and "Decimal" not in msg:
        return ApiError(400, "invalid_request", msg)
    return ApiError(424, "unavailable", f"the server could not complete the request: {msg}")


def _redacted_uri(uri: str) -> str:
    uri = re.sub(r"(?i)([?&]token=)[^&]*", r"\1••••", uri)
    return re.sub(r"^/embed/[^/?]+", "/embed/••••", uri)


# ---------------------------------------------------------------------------------------------
# Base handlers
# ---------------------------------------------------------------------------------------------
class _Base(tornado.web.RequestHandler):
    """JSON handler: bearer auth in ``prepare`` (unless ``public``), JSON errors, redacted logs."""

    public = False
    ctx: ApiContext

    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:  # bearer-token API, no cookies
        return None

    def _request_summary(self) -> str:
        return f"{self.request.method} {_redacted_uri(self.request.uri or '')} ({self.request.remote_ip})"

    def prepare(self) -> None:
        if not self.public:
            authenticate(self, self.ctx, allow_query=False)

    # -- responses ---------------------------------------------------------------------------
    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(jsonable(data), separators=(",", ":")))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            code, message = exc.code, exc.message
        else:
            code = _STATUS_CODES.get(status_code, "error")
            message = self._reason if status_code < 500 else "internal error"
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="perpvol"')
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": code, "message": redact(message)}))

    def log_exception(self, typ, value, tb) -> None:  # noqa: ANN001
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("API handler failed on %s: %s", self._request_summary(), redact(value))

    # -- helpers -----------------------------------------------------------------------------
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking ``fn`` (database, exchange) off the IOLoop; core errors become ``ApiError``."""
        try:
            return await IOLoop.current().run_in_executor(_executor, fn, *args)
        except tornado.web.HTTPError:
            raise
        except Exception as exc:  # noqa: BLE001 - mapped to a clear JSON error
            err = _map_exception(exc)
            if err.code == "unavailable":
                log.warning("API %s failed: %s", self._request_summary(), redact(exc))
            raise err from None

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object; raises ``ApiError`` 400/413/415."""
        body = self.request.body or b""
        if len(body) > MAX_BODY:
            raise ApiError(413, "too_large", "request body too large")
        if not body.strip():
            return {}
        ctype = self.request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", ""):
            raise ApiError(415, "unsupported_media_type", "send the body as application/json")
        try:
            data = json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_request", "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_request", "the body must be a JSON object")
        return data


def authenticate(handler: tornado.web.RequestHandler, ctx: ApiContext, allow_query: bool) -> None:
    """Check the bearer token in constant time; raises ``ApiError`` 401 (never reveals the token)."""
    expected = ctx.api_token
    if expected is None or not expected.reveal():
        raise ApiError(
            401, "unauthorized", "the API is disabled: set PERPVOL_API_TOKEN on the server to enable it"
        )
    header = handler.request.headers.get("Authorization", "")
    given = ""
    if header[:7].lower() == "bearer ":
        given = header[7:].strip()
    elif allow_query:
        given = handler.get_query_argument("token", "") or ""
    if not given:
        raise ApiError(
            401, "unauthorized", "missing credentials: send the header Authorization: Bearer <PERPVOL_API_TOKEN>"
        )
    if not hmac.compare_digest(given.encode("utf-8"), expected.reveal().encode("utf-8")):
        raise ApiError(401, "unauthorized", "invalid token")


_INPUT_CODES = {"label": "invalid_label", "exchange": "invalid_exchange"}


def _input_error(exc: Any) -> ApiError:
    """An ``AccountInputError`` of the account path as a 400 (409 ``conflict`` for a duplicate account)."""
    from perpvol_core.services.accounts import DuplicateAccount

    if isinstance(exc, DuplicateAccount):
        return ApiError(409, "conflict", str(exc))
    return ApiError(400, _INPUT_CODES.get(exc.field or "", "invalid_request"), str(exc))


def _label(value: str) -> str:
    from perpvol_core.services.accounts import AccountInputError, validate_label

    try:
        return validate_label(value)
    except AccountInputError as exc:
        raise _input_error(exc) from None


# ---------------------------------------------------------------------------------------------
# Data views (blocking; run in the executor)
# ---------------------------------------------------------------------------------------------
def account_view(acc: Any) -> dict[str, Any]:
    """Public form of an account: never the credential blob, only the masked hint."""
    get = (lambda k: acc.get(k)) if isinstance(acc, dict) else (lambda k: getattr(acc, k, None))
    last_error = get("last_error")
    return {
        "label": get("label"),
        "exchange": get("exchange"),
        "base_url": get("base_url"),
        "hint": get("hint"),
        "status": get("status"),
        "last_error": redact(last_error) if last_error else None,
        "created_ms": get("created_ms"),
    }


def summary_payload(store: Any, now_ms: int | None = None) -> dict[str, Any]:
    """``{"generated_at", "totals": {24h,7d,30d,all}, "by_exchange": {...}}`` with decimal strings."""
    from perpvol_core.analytics import volume

    s = volume.summary(store, now_ms=now_ms)  # None: the answer shared by concurrent callers for up to 1 s
    generated = _now_ms() if now_ms is None else now_ms
    return {"generated_at": _iso(generated), "totals": jsonable(s["totals"]), "by_exchange": jsonable(s["by_exchange"])}


def current_payload(store: Any, now_ms: int | None = None) -> dict[str, Any]:
    """The live 24h figure: ``generated_at``, ``as_of_ms``, ``window``, ``volume_usd``, ``by_exchange``, ``totals``."""
    s = summary_payload(store, now_ms)
    now_ms = _now_ms() if now_ms is None else now_ms
    return {
        "generated_at": s["generated_at"],
        "as_of_ms": now_ms,
        "window": {"start_ms": now_ms - 86_400_000, "end_ms": now_ms},
        "volume_usd": s["totals"].get("24h", "0"),
        "by_exchange": {ex: vals.get("24h", "0") for ex, vals in s["by_exchange"].items()},
        "totals": s["totals"],
    }


_daily_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
_daily_cache_lock = threading.Lock()
_DAILY_CACHE_SIZE = 64


def daily_payload(
    store: Any, start: date | None, end: date | None, exchange: str | None, market: str | None
) -> dict[str, Any]:
    """Daily rows of the JSON contract (``date, exchange, volume_usd, maker_usd, taker_usd, fees_usd, fills``).

    Days do not depend on the time of the request, only on the stored fills: the payload is kept until the
    store's data version changes (the handlers serialize it and never modify it).
    """
    key = (id(store), store.data_version(), start, end, exchange, market)
    with _daily_cache_lock:
        cached = _daily_cache.get(key)
    if cached is None:
        cached = _build_daily_payload(store, start, end, exchange, market)
        with _daily_cache_lock:
            if len(_daily_cache) >= _DAILY_CACHE_SIZE:
                _daily_cache.clear()
            _daily_cache[key] = cached
    return cached


def _build_daily_payload(
    store: Any, start: date | None, end: date | None, exchange: str | None, market: str | None
) -> dict[str, Any]:
    from perpvol_core.analytics import volume

    frame = volume.daily_volume(store, start=start, end=end, exchange=exchange, market=market)
    rows = []
    for r in frame.iter_rows(named=True):
        row = {}
        for key, val in r.items():
            if key in ("date", "day") and isinstance(val, date | datetime):
                row["date"] = val.isoformat()[:10]
            elif key == "day_ms" and isinstance(val, int):
                row["date"] = _iso(val)[:10]
            elif isinstance(val, Decimal):
                row[key] = dec_str(val)
            elif isinstance(val, float):
                row[key] = dec_str(Decimal(repr(val)))
            else:
                row[key] = val
        rows.append(row)
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "exchange": exchange,
        "market": market,
        "daily": rows,
    }


def sync_status_payload(ctx: ApiContext) -> dict[str, Any]:
    """Per-account sync state from the store plus the worker's own status when there is a worker."""
    from perpvol_core.services.status import account_statuses

    store = ctx.store
    accounts = []
    for view in account_statuses(store):  # the one account-status view, plus the sync's own counters
        st = store.get_sync_state(view.account_id)
        state = {
            "covered_from_ms": view.covered_from_ms,
            "covered_to_ms": view.covered_to_ms,
            "progress": view.progress,
            "eta_s": view.eta_s,
            "fills_seen": st.fills_seen,
            "last_success_ms": view.last_success_ms,
            "last_error": redact(st.last_error) if st.last_error else None,
        }
        accounts.append({"label": view.label, "exchange": view.exchange, "status": view.status,
                         "last_error": view.last_error, "fills": view.fills, "coverage": view.coverage,
                         "sync": state})  # fmt: skip
    worker_status: Any = None
    worker = ctx.worker
    if worker is not None:
        try:
            worker_status = jsonable(worker.status())
        except Exception as exc:  # noqa: BLE001
            worker_status = {"error": redact(exc)}
    return {"generated_at": _iso(_now_ms()), "accounts": accounts, "worker": _clean_status(worker_status)}


def _clean_status(value: Any) -> Any:
    """Worker status made JSON-safe: floats kept (progress/eta are not money), strings redacted."""
    if isinstance(value, dict):
        return {str(k): _clean_status(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_status(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value)


def _account_request(body: dict[str, Any]) -> Any:
    """The account form from a request body, checked by the one account path; raises ``ApiError`` 400."""
    from perpvol_core.services.accounts import (
        AccountInputError,
        AccountRequest,
        build_credentials,
        validate_base_url,
        validate_exchange,
        validate_label,
    )

    def text(name: str) -> str | None:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, _INPUT_CODES.get(name, "invalid_request"), f"'{name}' must be a string")
        return value

    def secret(name: str) -> Secret | None:
        value = text(name)
        return None if value is None else Secret(value)

    try:
        label = text("label")
        if label is None:
            raise ApiError(400, "invalid_label", "'label' is required")
        validate_exchange(body.get("exchange"))  # type: ignore[arg-type]
        req = AccountRequest(
            exchange=str(body.get("exchange")), label=validate_label(label), api_key=text("api_key"),
            api_secret=secret("api_secret"), token=secret("token"), account=text("account"),
            l2_key=secret("l2_key"), base_url=validate_base_url(text("base_url")),
        )  # fmt: skip
        build_credentials(req)
    except AccountInputError as exc:
        raise _input_error(exc) from None
    return req


# ---------------------------------------------------------------------------------------------
# REST handlers
# ---------------------------------------------------------------------------------------------
class HealthHandler(_Base):
    public = True

    async def get(self) -> None:
        db = "ok"
        try:
            await self.run(lambda: self.ctx.store.list_accounts())
        except ApiError:
            db = "error"
        worker = None
        try:
            w = self.ctx.worker
            worker = "none" if w is None else ("running" if getattr(w, "running", True) else "stopped")
        except Exception:  # noqa: BLE001 - health never fails on the worker
            worker = "error"
        self.send_json({"status": "ok" if db == "ok" else "degraded", "database": db, "worker": worker,
                        "time_ms": _now_ms(), "version": _version()})


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("perpvol")
    except Exception:  # noqa: BLE001
        return "0"


def accounts_payload(store: Any) -> list[dict[str, Any]]:
    """``GET /accounts``: the one account-status view (``services.status``), never a credential."""
    from perpvol_core.services.status import account_statuses

    return [
        {
            "label": s.label, "exchange": s.exchange, "base_url": s.base_url, "hint": s.hint, "status": s.status,
            "last_error": s.last_error, "created_ms": s.created_ms, "display_name": s.display_name,
            "fills": s.fills, "coverage": s.coverage, "last_success_ms": s.last_success_ms, "identity": s.identity,
        }
        for s in account_statuses(store)
    ]  # fmt: skip


class AccountsHandler(_Base):
    async def get(self) -> None:
        self.send_json({"accounts": await self.run(accounts_payload, self.ctx.store)})

    async def post(self) -> None:
        from perpvol_core.services import accounts

        req = _account_request(self.json_body())
        store = self.ctx.store

        def save() -> dict[str, Any]:
            return account_view(accounts.add_account(store, self.ctx.vault, req))

        view = await self.run(save)
        self.set_header("Location", f"{API_PREFIX}/accounts/{view['label']}")
        self.send_json(view, status=201)


class AccountHandler(_Base):
    async def delete(self, label: str) -> None:
        from perpvol_core.services import accounts

        _label(label)
        await self.run(accounts.remove_account, self.ctx.store, label)
        self.set_status(204)
        self.clear_header("Content-Type")
        self.finish()


class AccountTestHandler(_Base):
    async def post(self, label: str) -> None:
        _label(label)

        def test() -> dict[str, Any]:
            from perpvol_core.services import accounts

            result = accounts.test_account(self.ctx.store, self.ctx.vault, label)
            view = account_view(self.ctx.store.get_account(result.label))
            return {"label": result.label, "exchange": result.exchange, "ok": True, "hint": view["hint"],
                    "identity": result.text, "account_id": result.identity, "duplicate_of": result.duplicate_of}

        self.send_json(await self.run(test))


class SyncHandler(_Base):
    async def post(self) -> None:
        body = self.json_body()
        label = body.get("label")
        if label is not None:
            if not isinstance(label, str):
                raise ApiError(400, "invalid_label", "'label' must be a string")
            _label(label)
            await self.run(self.ctx.store.get_account, label)
        worker = self.ctx.worker
        if worker is None:
            raise ApiError(409, "no_worker", "this server runs no background worker; use `perpvol sync`")

        def kick() -> None:
            if label is None:
                worker.sync_now()
            else:
                try:
                    worker.sync_now([label])
                except TypeError:
                    worker.sync_now()

        await self.run(kick)
        self.send_json({"status": "started", "label": label}, status=202)


class SyncStatusHandler(_Base):
    async def get(self) -> None:
        self.send_json(await self.run(sync_status_payload, self.ctx))


class VolumeSummaryHandler(_Base):
    async def get(self) -> None:
        self.send_json(await self.run(summary_payload, self.ctx.store))


class VolumeCurrentHandler(_Base):
    async def get(self) -> None:
        self.send_json(await self.run(current_payload, self.ctx.store))


def _parse_date(name: str, value: str | None) -> date | None:
    if value is None or value == "":
        return None
    if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
        raise ApiError(400, "invalid_date", f"'{name}' must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_date", f"'{name}' is not a valid date: {value}") from None


class VolumeDailyHandler(_Base):
    async def get(self) -> None:
        allowed = {"from", "to", "exchange", "market"}
        unknown = sorted(set(self.request.query_arguments) - allowed)
        if unknown:
            raise ApiError(400, "invalid_request", f"unknown query parameter(s): {', '.join(unknown)}")
        start = _parse_date("from", self.get_query_argument("from", None))
        end = _parse_date("to", self.get_query_argument("to", None))
        if start and end and start > end:
            raise ApiError(400, "invalid_date", "'from' must not be after 'to'")
        exchange = self.get_query_argument("exchange", None) or None
        if exchange is not None and exchange not in EXCHANGES:
            raise ApiError(400, "invalid_exchange", f"'exchange' must be one of {', '.join(EXCHANGES)}")
        market = self.get_query_argument("market", None) or None
        if market is not None:
            from perpvol_core.services.accounts import AccountInputError, validate_market

            try:
                validate_market(market)
            except AccountInputError as exc:
                raise ApiError(400, "invalid_market", str(exc)) from None
        self.send_json(await self.run(daily_payload, self.ctx.store, start, end, exchange, market))


class OpenApiHandler(_Base):
    async def get(self) -> None:
        from perpvol_app.openapi import openapi_document

        self.send_json(openapi_document())


class NotFoundHandler(_Base):
    """Anything else under ``/api/v1``: a JSON 404 (it lists no routes)."""

    public = True

    def prepare(self) -> None:
        raise ApiError(404, "not_found", f"no such API route: {self.request.method} {self.request.path[:200]}")


# ---------------------------------------------------------------------------------------------
# WebSocket stream
# ---------------------------------------------------------------------------------------------
class StreamHandler(tornado.websocket.WebSocketHandler):
    """``/api/v1/stream``: a snapshot on connect, then every volume change and sync progress event.

    Authenticated before the upgrade (header or ``?token=``). Bus callbacks come from any thread and
    hop to this connection's IOLoop with ``add_callback`` (thread-safe).
    """

    ctx: ApiContext

    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._unsubscribe: Callable[[], None] | None = None
        self._loop: IOLoop | None = None
        self._held: list[dict[str, Any]] | None = []  # events that arrive before the snapshot is sent

    def _request_summary(self) -> str:
        return f"{self.request.method} {_redacted_uri(self.request.uri or '')} ({self.request.remote_ip})"

    def check_origin(self, origin: str) -> bool:  # token-authenticated; any page holding the token may connect
        return True

    def check_xsrf_cookie(self) -> None:
        return None

    def prepare(self) -> None:
        authenticate(self, self.ctx, allow_query=True)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        code = exc.code if isinstance(exc, ApiError) else _STATUS_CODES.get(status_code, "error")
        message = exc.message if isinstance(exc, ApiError) else self._reason
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="perpvol"')
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": code, "message": redact(message)}))

    def log_exception(self, typ, value, tb) -> None:  # noqa: ANN001
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("stream failed on %s: %s", self._request_summary(), redact(value))

    async def open(self) -> None:
        self._loop = IOLoop.current()
        bus = self.ctx.bus
        self._unsubscribe = bus.subscribe(self._on_event)
        snapshot = None
        for key, event in list(bus.last.items()):
            if key.startswith("volume:"):
                snapshot = event
        if snapshot is None:
            try:
                s = await IOLoop.current().run_in_executor(_executor, summary_payload, self.ctx.store)
                snapshot = {"type": "volume", "totals": s["totals"], "by_exchange": s["by_exchange"],
                            "ts_ms": _now_ms(), "snapshot": True}
            except Exception as exc:  # noqa: BLE001 - the stream still works without a snapshot
                log.warning("stream snapshot failed: %s", redact(exc))
        if snapshot is not None:
            self._push(snapshot)
        for key, event in list(bus.last.items()):
            if key.startswith(("sync_progress:", "live_status:")):
                self._push(event)
        held, self._held = self._held or [], None
        for event in held:
            self._push(event)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("type") not in STREAM_EVENT_TYPES:
            return
        loop = self._loop
        if loop is not None:
            loop.add_callback(self._forward, event)

    def _forward(self, event: dict[str, Any]) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self._push(event)

    def _push(self, event: dict[str, Any]) -> None:
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        try:
            text = redact(json.dumps(jsonable(event), separators=(",", ":")))
            fut = self.write_message(text)
            asyncio.ensure_future(_swallow(fut))
        except tornado.websocket.WebSocketClosedError:
            pass

    def on_message(self, message: str | bytes) -> None:
        # Clients may send {"type": "ping"}; anything else is ignored.
        try:
            data = json.loads(message)
        except (ValueError, TypeError):
            return
        if isinstance(data, dict) and data.get("type") == "ping":
            self._push({"type": "pong", "ts_ms": _now_ms()})

    def on_close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


async def _swallow(fut: Any) -> None:
    try:
        await fut
    except tornado.websocket.WebSocketClosedError:
        pass


# ---------------------------------------------------------------------------------------------
# Embed widget
# ---------------------------------------------------------------------------------------------
_TEMPLATE_PATH = Path(__file__).with_name("embed.html")


class _EmbedBase(tornado.web.RequestHandler):
    ctx: ApiContext

    def initialize(self, ctx: ApiContext) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")

    def check_xsrf_cookie(self) -> None:
        return None

    def _request_summary(self) -> str:
        return f"{self.request.method} {_redacted_uri(self.request.uri or '')} ({self.request.remote_ip})"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Reveals nothing: same body for unknown, revoked and malformed tokens.
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"error": "not_found", "message": "not found"} if status_code == 404
                               else {"error": _STATUS_CODES.get(status_code, "error"), "message": "unavailable"}))

    def log_exception(self, typ, value, tb) -> None:  # noqa: ANN001
        if not isinstance(value, tornado.web.HTTPError):
            log.error("embed failed: %s", redact(value))

    async def payload(self, token: str) -> dict[str, Any]:
        """Aggregates for a valid token; raises 404 for anything else. Never touches the vault."""

        def load() -> dict[str, Any] | None:
            store = self.ctx.store
            if embed_core.lookup(store, token) is None:
                return None
            return embed_core.embed_payload(store)

        try:
            data = await IOLoop.current().run_in_executor(_executor, load)
        except Exception as exc:  # noqa: BLE001
            log.warning("embed lookup failed: %s", redact(exc))
            raise tornado.web.HTTPError(404) from None
        if data is None:
            raise tornado.web.HTTPError(404)
        return data


class EmbedJsonHandler(_EmbedBase):
    async def get(self, token: str) -> None:
        data = await self.payload(token)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.finish(json.dumps(data, separators=(",", ":")))


class EmbedHandler(_EmbedBase):
    async def get(self, token: str) -> None:
        data = await self.payload(token)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.finish(render_embed(data))


class EmbedNotFoundHandler(_EmbedBase):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


def _usd(value: str) -> str:
    """``1234567.891`` → ``$1,234,567.89`` from the decimal string (no float)."""
    d = Decimal(value).quantize(Decimal("0.01"))
    return f"${d:,.2f}"


def render_embed(data: dict[str, Any]) -> str:
    """The widget HTML (gold on black) from an :func:`~perpvol_core.analytics.embed.embed_payload` dict."""
    template = _TEMPLATE_PATH.read_text(encoding="utf-8")
    totals = data.get("totals", {})
    cells = "".join(
        f'<div class="cell"><div class="k">{html.escape(k)}</div>'
        f'<div class="v">{html.escape(_usd(totals[k]))}</div></div>'
        for k in ("24h", "7d", "30d", "all")
        if k in totals
    )
    names = {"woox": "WOO X", "paradex": "Paradex"}
    rows = "".join(
        f'<div class="ex"><span>{html.escape(names.get(ex, ex))}</span>'
        f'<span>{html.escape(_usd(vals.get("24h", "0")))} 24h · '
        f'{html.escape(_usd(vals.get("30d", "0")))} 30d</span></div>'
        for ex, vals in sorted(data.get("by_exchange", {}).items())
    )
    return (
        template.replace("{{CELLS}}", cells)
        .replace("{{EXCHANGES}}", rows)
        .replace("{{GENERATED_AT}}", html.escape(str(data.get("generated_at", ""))))
    )


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------
_LBL = r"([^/]+)"
_TOKEN = r"([A-Za-z0-9_\-]{1,200})"  # noqa: S105 - a route pattern, not a secret


def make_routes(ctx: ApiContext | None = None) -> list[tuple[str, type, dict[str, Any]]]:
    """The API routes bound to ``ctx`` (by default a lazily configured context from the environment)."""
    ctx = ctx or ApiContext()
    kw = {"ctx": ctx}
    p = API_PREFIX
    return [
        (rf"{p}/health", HealthHandler, kw),
        (rf"{p}/accounts", AccountsHandler, kw),
        (rf"{p}/accounts/{_LBL}/test", AccountTestHandler, kw),
        (rf"{p}/accounts/{_LBL}", AccountHandler, kw),
        (rf"{p}/sync", SyncHandler, kw),
        (rf"{p}/sync/status", SyncStatusHandler, kw),
        (rf"{p}/volume/summary", VolumeSummaryHandler, kw),
        (rf"{p}/volume/daily", VolumeDailyHandler, kw),
        (rf"{p}/volume/current", VolumeCurrentHandler, kw),
        (rf"{p}/openapi.json", OpenApiHandler, kw),
        (rf"{p}/stream", StreamHandler, kw),
        (rf"{p}(?:/.*)?", NotFoundHandler, kw),
        (rf"/embed/{_TOKEN}\.json", EmbedJsonHandler, kw),
        (rf"/embed/{_TOKEN}", EmbedHandler, kw),
        (r"/embed(?:/.*)?", EmbedNotFoundHandler, kw),
    ]


def make_app(ctx: ApiContext | None = None, **settings: Any) -> tornado.web.Application:
    """A stand-alone Tornado application serving only these routes (tests, headless hosts)."""
    return tornado.web.Application(make_routes(ctx), **settings)


#: The context ``ROUTES`` use (configured from the environment on first request).
DEFAULT_CONTEXT = ApiContext()
#: What ``panel serve --plugins perpvol_app.plugin`` mounts.
ROUTES = make_routes(DEFAULT_CONTEXT)
