"""Request signing (§2): :func:`sign` (HMAC-SHA256), the v1 and v3 strings to sign, the v1 readings a raw
query or body is checked against, and the header format checks (64-hex signature, 13-digit ms timestamp).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_TS13 = re.compile(r"^[0-9]{13}$")


def sign(secret: str, message: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def v1_string_to_sign(params: list[tuple[str, str]] | dict[str, str], timestamp: str) -> str:
    """v1: params sorted by key as ``k=v&k=v`` (values raw), then ``|`` + timestamp (§2.2)."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    return "&".join(f"{k}={v}" for k, v in sorted(pairs, key=lambda kv: kv[0])) + "|" + timestamp


def v3_string_to_sign(timestamp: str, method: str, path: str, raw_query: str = "", body: str = "") -> str:
    """v3: ``timestamp + METHOD + path[?raw query] + body`` (§2.3)."""
    return timestamp + method.upper() + path + (f"?{raw_query}" if raw_query else "") + body


def _v1_candidates(raw_params: str, timestamp: str) -> list[str]:
    """v1 strings for a raw query/body: values as sent and URL-decoded (both readings of §2.2)."""
    raw_pairs = []
    for part in raw_params.split("&") if raw_params else []:
        key, _, value = part.partition("=")
        raw_pairs.append((urllib.parse.unquote_plus(key), value))
    decoded = [(k, urllib.parse.unquote_plus(v)) for k, v in raw_pairs]
    candidates = [v1_string_to_sign(raw_pairs, timestamp)]
    if decoded != raw_pairs:
        candidates.append(v1_string_to_sign(decoded, timestamp))
    return candidates
