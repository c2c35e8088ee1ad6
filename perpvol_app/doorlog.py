"""The front door's logs: one access log line per request with secrets masked, and no false alarms.

:func:`redact_uri` masks secret query values and embed tokens in a request target; :class:`RedactingFilter`
applies it to every access logger (uvicorn's and ours); :class:`DeniedSocketFilter` drops uvicorn's spurious
ERROR after a WebSocket the front door refused on purpose. :func:`install_log_redaction` attaches both.
"""

from __future__ import annotations

import contextvars
import logging
import re
from typing import Any

from perpvol_core.security.redaction import redact

access_log = logging.getLogger("perpvol.access")
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:token|access_token|api_token|key|password|secret|bokeh-token)=)[^&#]*")


def redact_uri(path: str, query: str = "") -> str:
    """A request target fit for a log: secret query values and embed tokens masked, the rest redacted."""
    uri = path + (f"?{query}" if query else "")
    uri = _SECRET_PARAMS.sub(r"\1••••", uri)
    uri = re.sub(r"^/embed/[^/?]+", "/embed/••••", uri)
    return redact(uri)


class RedactingFilter(logging.Filter):
    """Masks request targets in every access log record (uvicorn's, ours): one filter, every access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        record.msg = _redact_arg(record.msg) if isinstance(record.msg, str) else record.msg
        return True


def _redact_arg(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    path, _, query = value.partition("?")
    return redact_uri(path, query) if value.startswith("/") else redact(_SECRET_PARAMS.sub(r"\1••••", value))


#: set (in the connection's own task) once the front door answered a WebSocket with a denial response
DENIED_SOCKET: contextvars.ContextVar[bool] = contextvars.ContextVar("perpvol_denied_socket", default=False)
_SPURIOUS_HANDSHAKE_ERROR = "ASGI callable returned without completing handshake."


class DeniedSocketFilter(logging.Filter):
    """Drops uvicorn's ERROR after a WebSocket denial response the front door sent on purpose.

    uvicorn's websockets-sansio protocol never marks such a handshake complete and logs this error for
    every refused socket (Kludex/uvicorn#3138, open). The record is dropped only in the task of a
    connection the front door denied; the same message from any other app or connection stays an error.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _SPURIOUS_HANDSHAKE_ERROR and DENIED_SOCKET.get())


def install_log_redaction() -> None:
    """Attach :class:`RedactingFilter` to every access logger, and :class:`DeniedSocketFilter` (idempotent)."""
    for name in ("perpvol.access", "uvicorn.access", "uvicorn.error", "tornado.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, DeniedSocketFilter) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(DeniedSocketFilter())


__all__ = ["DeniedSocketFilter", "RedactingFilter", "access_log", "install_log_redaction", "redact_uri"]
