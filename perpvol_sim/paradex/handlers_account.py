"""Private routes (bearer token): ``/v1/fills``, ``/v1/account``, ``/v1/account/info``, ``/v1/account/history``,
``/v1/account/subaccounts`` and ``/v1/account/tokens``."""

from __future__ import annotations

import json
from decimal import Decimal

from perpvol_core.money import plain_decimal
from perpvol_sim.history import SimFill
from perpvol_sim.paradex import figures as sim_figures
from perpvol_sim.paradex.config import _TABLES, ASSET_KINDS, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from perpvol_sim.paradex.fills import FillFilter, decode_cursor, encode_cursor, fill_to_json
from perpvol_sim.paradex.handlers import _Handler
from perpvol_sim.paradex.handlers_system import _tier_fee_rates, _tier_of


class FillsHandler(_Handler):
    """``GET /v1/fills`` (§3.1): filters, page_size 1..5000, opaque base64-JSON cursors."""

    route = "/v1/fills"
    access = "private"

    def get(self) -> None:
        state = self.state
        page_size = self.query_int("page_size")
        if page_size is None:
            page_size = PAGE_SIZE_DEFAULT
        if not 1 <= page_size <= PAGE_SIZE_MAX:
            self.reject(400, "VALIDATION_ERROR", f"page_size must be between 1 and {PAGE_SIZE_MAX}")
        account = self.account_for()
        cursor = self.get_query_argument("cursor", None)
        marker: tuple[int, str, str, int] | None = None
        initial_marker = None
        if cursor:
            try:
                data = decode_cursor(cursor)
                flt = FillFilter.from_cursor(data["filter"])
                position = data["marker"]
                marker = (
                    int(data["time"]) // 1_000_000,
                    str(position["marker"]),
                    str(position.get("fill_type", "FILL")),
                    int(position["direction"]),
                )
                initial_marker = data.get("initial_marker")
                if data["filter"].get("Account") not in (None, "", hex(account)):
                    raise ValueError("cursor of another account")
            except (ValueError, KeyError, TypeError):
                self.reject(400, "INVALID_REQUEST_PARAMETER", "invalid cursor")
        else:
            asset_kind = self.get_query_argument("asset_kind", None) or None
            if asset_kind is not None and asset_kind not in ASSET_KINDS:
                self.reject(400, "VALIDATION_ERROR", f"asset_kind must be one of {', '.join(ASSET_KINDS)}")
            flt = FillFilter(
                market=self.get_query_argument("market", None) or None,
                asset_kind=asset_kind,
                start_at=self.query_int("start_at"),
                end_at=self.query_int("end_at"),
            )
        if not state.owns_fills(account):
            self.send_json({"next": None, "prev": None, "results": []})
            return
        visible = state.visible_until_ms()
        book = sim_figures.book_for(state, account)
        fills, more_after, more_before = book.page(flt, page_size, state.config, marker, visible)
        if state.faults is not None and state.faults.skip_page(self.request.path):
            # injected fault: silently answer with the page after this one (a pagination bug)
            if fills and more_after:
                last = fills[-1]
                skip_marker = (last.ts_ms, last.fill_id, last.fill_type, 0)
                fills, more_after, _ = book.page(flt, page_size, state.config, skip_marker, visible)
            else:
                fills, more_after = [], False
        if initial_marker is None and fills:
            initial_marker = fills[0].fill_id

        def make_cursor(fill: SimFill, direction: int) -> str:
            return encode_cursor(
                {
                    "filter": flt.as_cursor(account, page_size),
                    "time": fill.ts_ms * 1_000_000,
                    "marker": {"marker": fill.fill_id, "direction": direction, "fill_type": fill.fill_type},
                    "initial_marker": initial_marker,
                }
            )

        self.send_json(
            {
                "next": make_cursor(fills[-1], 0) if fills and more_after else None,
                "prev": make_cursor(fills[0], 1) if fills and more_before else None,
                "results": [fill_to_json(f, account, state.config) for f in fills],
            }
        )


class AccountHandler(_Handler):
    route = "/v1/account"
    access = "private"

    def get(self) -> None:
        account = self.account_for()
        now_ms = self.state.now_ms()
        self.send_json(
            {
                "account": hex(account),
                "account_value": "10000",
                "free_collateral": "9000",
                "initial_margin_requirement": "1000",
                "maintenance_margin_requirement": "500",
                "margin_cushion": "9500",
                "seq_no": now_ms * 1000,
                "settlement_asset": "USDC",
                "status": "ACTIVE",
                "total_collateral": "10000",
                "updated_at": now_ms,
            }
        )


class AccountInfoHandler(_Handler):
    """``volume_tiers`` = counted perp notional of the last 14 days (the tier window of the fees doc)."""

    route = "/v1/account/info"
    access = "private"

    def get(self) -> None:
        state = self.state
        account = self.account_for()
        start, end = state.volume_window()
        volume = (
            state.counted_notional(start, end, state.config.volume_fill_types)
            + sim_figures.subaccount_notional(state, start, end)
            if state.owns_fills(account)
            else Decimal(0)
        )
        kinds = state.config.volume_tier_kinds or ("retail",)
        volume_tiers = {k: {"tier": _TABLES[k][_tier_of(k, volume)][0], "volume": plain_decimal(volume)} for k in kinds}
        fee_rates = _tier_fee_rates(_tier_of(kinds[0], volume), kinds[0])
        self.send_json(
            {
                "results": [
                    {
                        "account": hex(account),
                        "created_at": 1_700_000_000_000,
                        "derivation_path": "",
                        "kind": "main",
                        "parent_account": "",
                        "public_key": hex(state.registry.main_key(account) or 0),
                        "username": "",
                        "isolated_market": "",
                        "has_ecosystem_nft": False,
                        "fees": {**fee_rates, "commission_rate": "0", "discount_rate": "0"},
                        "volume_tiers": volume_tiers,
                    }
                ]
            }
        )


class AccountHistoryHandler(_Handler):
    """``GET /v1/account/history?type=…`` — shape only: 30 daily points (UTC midnights, ms)."""

    route = "/v1/account/history"
    access = "private"
    _TYPES = ("pnl", "value", "volume", "fee_savings")

    def get(self) -> None:
        kind = self.get_query_argument("type", None)
        if kind not in self._TYPES:
            self.reject(400, "VALIDATION_ERROR", f"type must be one of {', '.join(self._TYPES)}")
        state = self.state
        values, days = sim_figures.volume_series(state, self.account_for())
        if kind != "volume" or not state.owns_fills(self.account_for()):
            values = ["0"] * len(days)
        # Numbers (spec) written from Decimal text, never through float.
        self.send_json(None, raw=f'{{"data":[{",".join(values)}],"timestamps":[{",".join(map(str, days))}]}}')


class SubaccountsHandler(_Handler):
    """``GET /v1/account/subaccounts`` (perpvol_sim/paradex/figures.py)."""

    route = "/v1/account/subaccounts"
    access = "private"

    def get(self) -> None:
        self.send_json(sim_figures.subaccounts_answer(self.state, self.account_for()))


class TokensHandler(_Handler):
    """``GET/POST /v1/account/tokens`` (§2.1): list and create read-only tokens."""

    route = "/v1/account/tokens"
    access = "private"

    def get(self) -> None:
        tokens = self.state.registry.tokens_of(self.account_for())
        with_invalid = self.get_query_argument("with_invalid", "false") == "true"
        now = self.state.now()
        self.send_json(
            {
                "results": [
                    t.as_api() for t in tokens if with_invalid or (t.revoked_at_s is None and t.expiry_at_s > now)
                ]
            }
        )

    def post(self) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            ttl = int(body.get("expiry_duration", self.state.config.read_only_ttl_s))
        except (ValueError, TypeError, json.JSONDecodeError):
            self.reject(400, "VALIDATION_ERROR", "invalid body")
        if not 60 <= ttl <= 365 * 86_400:
            self.reject(400, "VALIDATION_ERROR", "expiry_duration must be between 60 s and 1 year")
        token, token_id = self.state.mint_read_only_token(self.account_for(), str(body.get("name", "token")), ttl)
        record = self.state.registry.token(token_id)
        assert record is not None
        self.send_json({"token": token, "api_token": record.as_api()})


class TokenHandler(_Handler):
    route = "/v1/account/tokens/{lookup_id}"
    access = "private"

    def delete(self, lookup_id: str) -> None:
        owned = {t.lookup_id for t in self.state.registry.tokens_of(self.account_for())}
        if lookup_id not in owned or not self.state.registry.revoke(lookup_id, int(self.state.now())):
            self.reject(404, "NOT_FOUND", "token not found")
        self.send_json({})
