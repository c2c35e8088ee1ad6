"""Errors a connector raises; ``str()`` of each is a user-facing, redacted message."""

from __future__ import annotations

from perpvol_core.security.redaction import redact


class ExchangeError(Exception):
    """A failure talking to an exchange. ``str()`` is a user-facing, redacted message.

    ``retryable`` tells the retry loop whether trying again may help.
    """

    retryable = False
    kind = "error"

    def __init__(self, message: str, *, retryable: bool | None = None, retry_after_s: float | None = None) -> None:
        self.message = redact(message)
        super().__init__(self.message)
        if retryable is not None:
            self.retryable = retryable
        self.retry_after_s = retry_after_s

    def __str__(self) -> str:
        return self.message


class InvalidCredentials(ExchangeError):
    """The exchange rejected the credentials (wrong, expired or revoked key/token, bad signature)."""

    kind = "invalid_credentials"


class RateLimited(ExchangeError):
    """The exchange kept answering 429 (rate limit exceeded) after the retries."""

    retryable = True
    kind = "rate_limited"


class ExchangeUnavailable(ExchangeError):
    """The exchange is unreachable, timing out, failing (5xx) or in maintenance."""

    retryable = True
    kind = "unavailable"


class BadPayload(ExchangeError):
    """The exchange answered something that is not the documented response (truncated, HTML, wrong shape)."""

    kind = "bad_payload"


class StreamAuthRefused(Exception):
    """The exchange refused this credential on the private stream (REST polling takes over)."""


class StreamProtocolError(Exception):
    """The stream answered something unexpected during the handshake."""
