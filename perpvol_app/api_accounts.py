"""``/api/v1/accounts``: list, add (tested against the exchange, encrypted), remove, test; all through the
one account path (:mod:`perpvol_core.services.accounts`), errors via ``map_exception``."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from perpvol_app import views
from perpvol_app.api_context import ApiContext, Ctx, run
from perpvol_app.api_models import Account as AccountModel
from perpvol_app.api_models import AccountCreate, AccountList, AccountTest, input_fields, secret_fields
from perpvol_app.api_routing import secured_router, validate_label
from perpvol_app.frontdoor import API_PREFIX
from perpvol_core.exchanges import KINDS
from perpvol_core.security.redaction import Secret, redact
from perpvol_core.services import accounts

router = secured_router()


def _account_request(body: Any) -> accounts.AccountRequest:
    """The one account path's request from a validated body (one ``AccountCreate<Kind>``); secrets as Secret."""
    model = KINDS[body.kind]
    secrets = secret_fields(model)
    fields = {f: getattr(body, f) for f in input_fields(model)}
    credentials = {"kind": body.kind, **{f: Secret(v) if f in secrets and v is not None else v
                                         for f, v in fields.items()}}  # fmt: skip
    return accounts.AccountRequest(model.exchange, body.label, base_url=body.base_url, credentials=credentials)


def _add_account(ctx: ApiContext, body: Any) -> Any:
    """Validate, test against the exchange, encrypt bound to the account, save; returns the ``Account``.

    Raises AccountInputError, DuplicateAccount, AccountExists, ExchangeError subclasses, VaultError.
    """
    return accounts.add_account(ctx.store, ctx.vault, _account_request(body))


def _test_account(ctx: ApiContext, label: str) -> tuple[Any, str]:
    """Ask the exchange who the stored credentials are; returns (account, identity text)."""
    result = accounts.test_account(ctx.store, ctx.vault, label)
    return ctx.store.get_account(result.label), redact(result.text)


@router.get("/accounts", response_model=AccountList)
async def list_accounts(ctx: Ctx) -> dict[str, Any]:
    return {"accounts": await run(views.accounts_payload, ctx.store)}


@router.post("/accounts", response_model=AccountModel, status_code=201)
async def create_account(ctx: Ctx, body: AccountCreate, response: Response) -> dict[str, Any]:  # type: ignore[valid-type]
    acc = await run(_add_account, ctx, body)
    response.headers["Location"] = f"{API_PREFIX}/accounts/{acc.label}"
    return views.account_view(acc)


@router.delete("/accounts/{label}", status_code=204, response_class=Response)
async def delete_account(ctx: Ctx, label: str) -> Response:
    validate_label(label)
    await run(accounts.remove_account, ctx.store, label)
    return Response(status_code=204)


@router.post("/accounts/{label}/test", response_model=AccountTest)
async def test_account(ctx: Ctx, label: str) -> dict[str, Any]:
    validate_label(label)
    acc, identity = await run(_test_account, ctx, label)
    return {"label": acc.label, "exchange": acc.exchange, "ok": True, "hint": acc.hint, "identity": identity}
