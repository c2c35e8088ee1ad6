"""Secret values with a masked repr, and the one redaction function for logs and errors."""

from __future__ import annotations

import re
import threading
from typing import Any

_MASK = "••••"
_known: set[str] = set()
_known_lock = threading.Lock()
# Never redact short fragments: they would mangle ordinary text.
_MIN_REDACT_LEN = 6


class Secret:
    """A secret string: ``str()``/``repr()`` show only a masked hint; ``reveal()`` gives the value.

    Creating a Secret registers its value with :func:`redact`, so any log line or error message that
    later carries the raw value is masked.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("Secret holds a string")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    @property
    def hint(self) -> str:
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.hint})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        import hmac

        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:  # never pickle a secret by accident
        raise TypeError("Secret values cannot be pickled")


def mask(value: str) -> str:
    """A masked hint: the last four characters only when the value is long enough, else nothing."""
    if len(value) >= 12:
        return f"{_MASK}{value[-4:]}"
    return _MASK


def register_secret(value: str) -> None:
    """Remember ``value`` so that :func:`redact` masks it wherever it appears."""
    if value and len(value) >= _MIN_REDACT_LEN:
        with _known_lock:
            _known.add(value)


_PATTERNS = [
    # bearer tokens and JWTs
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_\.=]+"),
    re.compile(r"eyJ[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*"),
    # header/query/json key=value forms of typical secret names
    re.compile(
        r"(?i)((?:api[_-]?secret|secret|token|jwt|password|l2[_-]?key|private[_-]?key|signature|x-api-signature)"
        r"(?:[\"']?\s*=\s*[\"']?|[\"']\s*:\s*[\"']?|:[\"']?))([^\s\"',&}]+)"
    ),
    # prose ("malformed jwt: token contains …") is left alone: after ": " only a secret-looking value is masked
    re.compile(
        r"(?i)((?:api[_-]?secret|secret|token|jwt|password|l2[_-]?key|private[_-]?key|signature|x-api-signature)"
        r":\s+)([^\s\"',&}]{12,})"
    ),
]


def redact(text: Any) -> str:
    """Mask every registered secret and every secret-looking value in ``text``.

    The one redaction used by logs, exceptions shown to users, API error bodies and the dashboard.
    """
    out = str(text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in out:
            out = out.replace(value, _MASK)
    out = _PATTERNS[0].sub(lambda m: m.group(1) + _MASK, out)
    out = _PATTERNS[1].sub(_MASK, out)
    out = _PATTERNS[2].sub(lambda m: m.group(1) + _MASK, out)
    out = _PATTERNS[3].sub(lambda m: m.group(1) + _MASK, out)
    return out
