"""The account routes: ``GET /v3/account/info``, ``GET /v3/trade/tradingFee`` and ``POST /v3/account/listenKey``."""

from __future__ import annotations

import json

import tornado.web

from perpvol_sim.woox.config import EP_ACCOUNT_INFO, EP_LISTEN_KEY, EP_TRADING_FEE, FEE_UNITS
from perpvol_sim.woox.fills import _num
from perpvol_sim.woox.handlers import _Base, _ParamError


class AccountInfoHandler(_Base):
    endpoint = EP_ACCOUNT_INFO

    def get(self) -> None:
        cfg = self.state.config
        self.ok(
            {
                "data": {
                    "applicationId": cfg.application_id,
                    "account": "trader@example.com",
                    "alias": "trader@example.com",
                    "otpauth": True,
                    "accountMode": "FUTURES",
                    "positionMode": "ONE_WAY",
                    "leverage": 0,
                    # the account's rates in basis points (integers in the live sample)
                    "makerFeeRate": _num((self.state.history.profile.maker_rate * 10_000).normalize()),
                    "takerFeeRate": _num((self.state.history.profile.taker_rate * 10_000).normalize()),
                    "marginRatio": "10",
                    "openMarginRatio": "10",
                    "initialMarginRatio": "10",
                    "maintenanceMarginRatio": "0.03",
                    "totalCollateral": "165.55629469",
                    "freeCollateral": "165.55629469",
                    "totalAccountValue": "167.32418611",
                    "totalTradingValue": "167.32418611",
                    "totalVaultValue": "0",
                    "totalStakingValue": "0",
                    "totalLaunchpadValue": "0",
                    "totalEarnValue": "0",
                    "referrerID": None,
                    "accountType": "Main",
                }
            }
        )


class TradingFeeHandler(_Base):
    """``GET /v3/trade/tradingFee?symbol=``: the account's rates, as strings in ``config.fee_unit``."""

    endpoint = EP_TRADING_FEE

    def get(self) -> None:
        unit = self.state.config.fee_unit
        if unit is None:
            raise tornado.web.HTTPError(404)
        scale, profile = FEE_UNITS[unit], self.state.history.profile
        symbol = self.get_argument("symbol", "PERP_BTC_USDT")
        self.ok({"data": {"symbol": symbol, "takerFee": format((profile.taker_rate * scale).normalize(), "f"),
                          "makerFee": format((profile.maker_rate * scale).normalize(), "f")}})  # fmt: skip


class ListenKeyHandler(_Base):
    """``POST /v3/account/listenKey`` (§6.2): body ``{"type": "WEBSOCKET"}``; a key valid 24 h."""

    endpoint = EP_LISTEN_KEY

    def post(self) -> None:
        if not self.state.config.v3_private_stream:
            self.send_error_body(404, -1006, "The data is not found in the server.")
            return
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict) or str(body.get("type", "")).upper() != "WEBSOCKET":
            raise _ParamError("type")
        key, expiry = self.state.new_listen_key()
        self.ok({"data": {self.state.config.listen_key_field: key, "expiredTime": expiry}})
