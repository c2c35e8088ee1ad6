"""What every API router shares: the error responses each route documents, the bearer scheme the OpenAPI
document shows (the front door checks the token), the two router kinds, and the checks of path and query
inputs (a label, a ``from``/``to`` day range, no unknown query parameter)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.security import HTTPBearer

from perpvol_app.api_errors import ApiError, map_exception
from perpvol_app.api_models import ErrorBody
from perpvol_app.frontdoor import API_PREFIX
from perpvol_core import bounds
from perpvol_core.services import accounts

ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ErrorBody} for s in (400, 401, 404, 409, 413, 422, 424, 429)}
_bearer = HTTPBearer(auto_error=False, description="PERPVOL_API_TOKEN (checked by the front door)")


def public_router() -> APIRouter:
    """A router under ``/api/v1`` whose routes need no token."""
    return APIRouter(prefix=API_PREFIX, responses=ERRORS)


def secured_router() -> APIRouter:
    """A router under ``/api/v1`` whose routes show the bearer scheme (the front door checks the token)."""
    return APIRouter(prefix=API_PREFIX, responses=ERRORS, dependencies=[Depends(_bearer)])


def validate_label(label: str) -> str:
    """An account label from a path, checked by the one account path (a 4xx when it is not one)."""
    try:
        return accounts.validate_label(label)
    except accounts.AccountInputError as exc:
        raise map_exception(exc) from exc


DateParam = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="UTC day YYYY-MM-DD")]


def dates(start: str | None, end: str | None) -> tuple[date | None, date | None]:
    """``from``/``to`` checked in the one place (``perpvol_core.bounds``): days in 2009..2100, from <= to."""
    try:
        return bounds.day_range(start, end, names=("from", "to"))
    except bounds.InputError as exc:
        raise ApiError(400, "invalid_date", str(exc)) from None


def no_unknown_query(params: Any, known: set[str]) -> None:
    """A 400 naming the query parameters a route does not take."""
    unknown = sorted(set(params) - known)
    if unknown:
        raise ApiError(400, "invalid_request", f"unknown query parameter(s): {', '.join(unknown)[:200]}")
