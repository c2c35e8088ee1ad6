"""The public routes (counted per IP): ``GET /v3/public/systemInfo``, ``GET /v3/public/instruments``,
``GET /v1/public/token`` and ``GET /v1/public/token_network`` (the last two: what ccxt's ``load_markets`` asks for).
"""

from __future__ import annotations

from decimal import Decimal

from perpvol_sim.woox.config import EP_INSTRUMENTS, EP_SYSTEM_INFO, EP_TOKEN, EP_TOKEN_NETWORK
from perpvol_sim.woox.handlers import _Base
from perpvol_sim.woox.state import WooxState


class SystemInfoHandler(_Base):
    endpoint = EP_SYSTEM_INFO
    private = False

    def get(self) -> None:
        status = self.state.config.maintenance_status
        messages = {0: "System is functioning properly.", 1: "Trading maintenance.", 2: "System maintenance."}
        end = self.state.now_ms() + 3_600_000 if status else -1
        self.ok({"data": {"status": status, "msg": messages.get(status, ""), "estimatedEndTime": end}})


def _tick(dp: int) -> str:
    return "1" if dp <= 0 else "0." + "0" * (dp - 1) + "1"


def _decimals(value: Decimal) -> int:
    return max(0, -int(value.as_tuple().exponent))


class InstrumentsHandler(_Base):
    endpoint = EP_INSTRUMENTS
    private = False

    def get(self) -> None:
        # Every symbol of the history (with ticks from its fills) plus the usual majors.
        ticks: dict[str, tuple[int, int]] = {}
        for fill in self.state.history.fills[:5000]:
            pdp, sdp = ticks.get(fill.market, (0, 0))
            ticks[fill.market] = (max(pdp, _decimals(fill.price)), max(sdp, _decimals(fill.size)))
        for symbol in ("SPOT_BTC_USDT", "SPOT_ETH_USDT", "PERP_BTC_USDT", "PERP_ETH_USDT", *self.state.index.symbols()):
            ticks.setdefault(symbol, (2, 4))
        for symbol in self.state.config.delisted_symbols:  # delisted: traded once, no longer listed (§1)
            ticks.pop(symbol, None)
        rows = []
        for symbol in sorted(ticks):
            pdp, sdp = ticks[symbol]
            _, base, quote = symbol.split("_", 2)
            rows.append(
                {
                    "symbol": symbol,
                    "status": "TRADING",
                    "baseAsset": base,
                    "baseAssetMultiplier": 1,
                    "quoteAsset": quote,
                    "quoteMin": "0",
                    "quoteMax": "1000000",
                    "quoteTick": _tick(pdp),
                    "baseMin": _tick(sdp),
                    "baseMax": "1000000",
                    "baseTick": _tick(sdp),
                    "minNotional": "1",
                    "bidCapRatio": "1.1",
                    "bidFloorRatio": None,
                    "askCapRatio": None,
                    "askFloorRatio": "0.9",
                    "orderMode": "NORMAL",
                    "impactNotional": None,
                    "isAllowedRpi": False,
                    "tickGranularity": None,
                }
            )
        self.ok({"data": {"rows": rows}})


def _assets(state: WooxState) -> list[str]:
    names = {"USDT", "BTC", "ETH"}
    for fill in state.history.fills[:5000]:
        names.add(fill.market.split("_")[1])
        names.add(fill.fee_asset)
    return sorted(names)


class TokenHandler(_Base):
    """v1 ``public/token`` (ccxt's ``fetch_currencies``): top-level ``rows``, v1 style."""

    endpoint = EP_TOKEN
    private = False

    def get(self) -> None:
        rows = [
            {
                "token": asset,
                "fullname": asset,
                "network": "ETH",
                "decimals": "8",
                "delisted": False,
                "balance_token": asset,
                "created_time": "1710123394",
                "updated_time": "1746528481",
                "can_collateral": True,
                "can_short": True,
            }
            for asset in _assets(self.state)
        ]
        self.send_json({"rows": rows, "success": True})


class TokenNetworkHandler(_Base):
    endpoint = EP_TOKEN_NETWORK
    private = False

    def get(self) -> None:
        rows = [
            {
                "protocol": "ERC20",
                "network": "ETH",
                "token": asset,
                "name": "Ethereum (ERC20)",
                "minimum_withdrawal": "10.00000000",
                "withdrawal_fee": "2.00000000",
                "allow_deposit": "1",
                "allow_withdraw": "1",
            }
            for asset in _assets(self.state)
        ]
        self.send_json({"rows": rows, "success": True})
