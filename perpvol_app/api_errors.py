"""The API's errors: ``{"error", "message"}`` with a 4xx status, in our words.

Core exceptions map by class name (:func:`map_exception`); a request that does not fit the routes' models
(:func:`validation_error`) is described field by field in our own words: never pydantic's wording, never
the value that was sent (it may be a secret).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

from perpvol_app.api_models import NO_KIND
from perpvol_core.exchanges import KINDS, venue_names
from perpvol_core.security.redaction import redact


class ApiError(Exception):
    """An API error: ``status`` (4xx), machine ``code`` and a human ``message`` (redacted when sent)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


STATUS_CODES = {
    400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_credentials",
    424: "exchange_unavailable", 426: "upgrade_required", 429: "rate_limited",
}  # fmt: skip
#: the machine code of an input's errors
_FIELD_CODES = {"label": "invalid_label", "exchange": "invalid_exchange", "from": "invalid_date",
                "to": "invalid_date", "market": "invalid_market"}  # fmt: skip


def map_exception(exc: BaseException) -> ApiError:
    """Translate a core exception into an ``ApiError`` (by class name, so optional modules stay optional)."""
    if isinstance(exc, ApiError):
        return exc
    names = {cls.__name__ for cls in type(exc).__mro__}
    msg = redact(exc) or type(exc).__name__
    if names & {"AccountExists", "DuplicateAccount"}:  # before AccountInputError: a duplicate is one of those
        return ApiError(409, "conflict", msg)
    if names & {"AccountInputError", "CredentialsInvalid"}:
        field = getattr(exc, "field", "") or ""
        return ApiError(400, _FIELD_CODES.get(field, "invalid_request"), msg)
    if "AccountNotFound" in names:
        return ApiError(404, "not_found", msg)
    if "InvalidCredentials" in names:
        return ApiError(422, "invalid_credentials", msg)
    if "RateLimited" in names:
        return ApiError(429, "rate_limited", msg)
    if names & {"ExchangeUnavailable", "BadPayload", "ExchangeError", "ConnectError", "TimeoutException"}:
        return ApiError(424, "exchange_unavailable", msg)
    if "CredentialsMismatch" in names:  # the row was edited outside perpvol: this account only
        return ApiError(409, "credentials_mismatch", msg)
    if names & {"WrongMasterKey", "VaultError", "TamperedCiphertext", "ConfigError"}:
        return ApiError(409, "vault_unavailable", msg)
    if names & {"ValueError", "TypeError"} and "Decimal" not in msg:
        return ApiError(400, "invalid_request", msg)
    return ApiError(424, "unavailable", f"the server could not complete the request: {msg}")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="perpvol"'
    return JSONResponse({"error": code, "message": redact(message)}, status_code=status, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str | None:
    """The input an error is about: the last name in its location that is neither a place nor a kind tag."""
    names = [str(p) for p in loc if isinstance(p, str) and p not in ("body", "query", "path") and p not in KINDS]
    return names[-1] if names else None


def _kind_of(loc: tuple[Any, ...]) -> Any:
    return next((KINDS[p] for p in loc if isinstance(p, str) and p in KINDS), None)


def _field_message(field: str, kind: str, model: Any, body: Any) -> tuple[str, str]:
    """(code, message) for one input that does not fit, in our words."""
    code = _FIELD_CODES.get(field, "invalid_request")
    if field == "label":
        from perpvol_core.services.accounts import AccountInputError, validate_label

        value = body.get("label") if isinstance(body, dict) else None
        try:
            validate_label(value)  # type: ignore[arg-type]
        except AccountInputError as exc:
            return code, str(exc)
        return code, "The label must be text."
    if field == "exchange":
        return code, f"The exchange must be one of {venue_names()}."
    if field in ("from", "to"):
        return code, f"'{field}' must be a UTC day written YYYY-MM-DD."
    if field == "market":
        return code, "'market' must be a market symbol: 1-80 letters, digits, '_' or '-'."
    if field == "kind":
        return code, f"The kind of credentials must be one of {', '.join(KINDS)}."
    title = f"the {model.field_title(field)}" if model is not None and field in model.model_fields else f"'{field}'"
    what = title[0].upper() + title[1:]
    if kind == "missing":
        return code, f"{what} is missing."
    if kind == "extra_forbidden":
        part = f"part of {model.summary}" if model is not None else "a field of this request"
        return code, f"'{field}' is not {part}."
    if kind.startswith("string_too_long"):
        return code, f"{what} is too long."
    if kind in ("string_type", "str_type"):
        return code, f"{what} must be text."
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return code, f"{what} must be a whole number."
    if kind in ("bool_parsing", "bool_type"):
        return code, f"{what} must be true or false."
    return code, f"{what} is not valid."


def _not_an_object(body: Any) -> tuple[str, str]:
    if isinstance(body, bytes | str):
        try:
            json.loads(body)
        except ValueError:
            return "invalid_request", "the body is not valid JSON"
    return "invalid_request", "the body must be a JSON object"


def validation_error(errors: list[Any], body: Any = None) -> tuple[str, str]:
    """(code, message) of a request that does not fit the route's models; the first error with a named
    input wins. ``body``: the parsed JSON body, when there was one."""
    first = errors[0] if errors else {}
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return "invalid_request", "the body is not valid JSON"
    # the inputs with codes of their own first (a bad label is reported before a missing key)
    errors = sorted(errors, key=lambda e: _field_of(tuple(e.get("loc", ()))) not in _FIELD_CODES)
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if err.get("type") == NO_KIND:
            if not isinstance(body, dict):
                return _not_an_object(body)
            if body.get("kind") is not None:
                return "invalid_request", f"The kind of credentials must be one of {', '.join(KINDS)}."
            if body.get("exchange") is None:
                return "invalid_exchange", f"Say which exchange the account is on: one of {venue_names()}."
            return "invalid_exchange", f"The exchange must be one of {venue_names()}."
        if err.get("type") == "union_tag_invalid":
            return "invalid_request", f"The kind of credentials must be one of {', '.join(KINDS)}."
        field = _field_of(loc)
        if field is not None:
            return _field_message(field, str(err.get("type", "")), _kind_of(loc), body)
    return "invalid_request", "the body must be a JSON object"
