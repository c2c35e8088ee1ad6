"""Account payloads from the venue's own (whole, unretained) history: ``userFees`` (§4.1, §5), ``portfolio``
(§4.2), ``userRateLimit`` (§4.3), ``subAccounts`` (§2.2), ``userRole`` and ``extraAgents`` (§2.1).

Readings: F21 (``dailyUserVlm`` length, today present), F22 (spot not at all / once / twice; sub-accounts
included), F23 (portfolio "day" rolling 24 h or the UTC day).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from perpvol_core.timeutil import MS_PER_DAY
from perpvol_sim.history import SimFill, utc_day
from perpvol_sim.hyperliquid.market import clearinghouse_state
from perpvol_sim.hyperliquid.state import HyperliquidState
from perpvol_sim.hyperliquid.wire import digest, num

#: §5: (14-day weighted volume cutoff, taker, maker, spot taker, spot maker); the perp rows as the notes give them
VIP_TIERS = (
    ("5000000.0", "0.0004", "0.00012", "0.0006", "0.0003"),
    ("25000000.0", "0.00035", "0.00008", "0.0005", "0.0002"),
    ("100000000.0", "0.0003", "0.00004", "0.0004", "0.0001"),
    ("500000000.0", "0.00028", "0.0", "0.00035", "0.0"),
    ("2000000000.0", "0.00026", "0.0", "0.0003", "0.0"),
    ("7000000000.0", "0.00024", "0.0", "0.00025", "0.0"),
)
BASE_RATES = ("0.00045", "0.00015", "0.0007", "0.0004")
MM_TIERS = (("0.005", "-0.00001"), ("0.015", "-0.00002"), ("0.03", "-0.00003"))
STAKING_TIERS = (("0.0", "0.0"), ("0.0001", "0.05"), ("0.001", "0.1"), ("0.01", "0.15"), ("0.1", "0.2"),
                 ("1.0", "0.3"), ("5.0", "0.4"))  # fmt: skip
_SPOT_FACTOR = {"none": 0, "once": 1, "double": 2}


def _fills(state: HyperliquidState, address: str | None, with_subs: bool) -> list[SimFill]:
    if address is None or address not in state.histories:
        return []
    out = state.histories[address].snapshot()
    if with_subs and address == state.address:
        for sub in state.subs.values():
            out.extend(sub.snapshot())
    return out


def _is_spot(state: HyperliquidState, fill: SimFill) -> bool:
    return state.history.profile.kind_of(fill.market) == "spot"


def _tier(weighted: Decimal) -> tuple[str, str, str, str]:
    rates = BASE_RATES
    for cutoff, cross, add, spot_cross, spot_add in VIP_TIERS:
        if weighted > Decimal(cutoff):
            rates = (cross, add, spot_cross, spot_add)
    return rates


def user_fees(state: HyperliquidState, address: str | None) -> dict[str, Any]:
    config = state.config
    now = state.now_ms()
    today = now // MS_PER_DAY
    last_day = today if config.daily_today else today - 1
    first_day = last_day - config.daily_days + 1
    spot_factor = _SPOT_FACTOR[config.daily_spot]
    days: dict[int, list[Decimal]] = {d: [Decimal(0), Decimal(0)] for d in range(first_day, last_day + 1)}
    weighted = Decimal(0)  # the fee tier's 14 whole UTC days before today: perps + 2 x spot (§5)
    for fill in _fills(state, address, config.vlm_includes_subs):
        if fill.ts_ms > now:
            continue
        day = fill.ts_ms // MS_PER_DAY
        spot = _is_spot(state, fill)
        if today - 14 <= day < today:
            weighted += fill.notional * (2 if spot else 1)
        row = days.get(day)
        if row is not None:
            first = fill.liquidity == "TAKER" if config.daily_meaning == "taker_maker" else fill.side == "BUY"
            row[0 if first else 1] += fill.notional * (spot_factor if spot else 1)
    daily = [{"date": utc_day(d * MS_PER_DAY), "userCross": num(v[0]), "userAdd": num(v[1]),
              "exchange": num(Decimal(5_000_000_000 + digest(f"day:{d}") % 3_000_000_000) / 10)}
             for d, v in sorted(days.items())]  # fmt: skip
    cross, add, spot_cross, spot_add = _tier(weighted)
    return {
        "dailyUserVlm": daily,
        "feeSchedule": {
            "cross": BASE_RATES[0], "add": BASE_RATES[1], "spotCross": BASE_RATES[2], "spotAdd": BASE_RATES[3],
            "tiers": {"vip": [{"ntlCutoff": c, "cross": x, "add": a, "spotCross": sx, "spotAdd": sa}
                              for c, x, a, sx, sa in VIP_TIERS],
                      "mm": [{"makerFractionCutoff": c, "add": a} for c, a in MM_TIERS]},
            "referralDiscount": "0.04",
            "stakingDiscountTiers": [{"bpsOfMaxSupply": b, "discount": d} for b, d in STAKING_TIERS],
        },
        "userCrossRate": cross, "userAddRate": add, "userSpotCrossRate": spot_cross, "userSpotAddRate": spot_add,
        "activeReferralDiscount": "0.0", "trial": None, "feeTrialEscrow": "0.0", "nextTrialAvailableTimestamp": None,
        "stakingLink": None, "activeStakingDiscount": {"bpsOfMaxSupply": "0.0", "discount": "0.0"},
    }  # fmt: skip


def _volume(fills: Iterable[SimFill], since: int | None, until: int, perps_only: bool, state: HyperliquidState) -> str:
    total = Decimal(0)
    for fill in fills:
        if (since is not None and fill.ts_ms < since) or fill.ts_ms > until:
            continue
        if perps_only and _is_spot(state, fill):
            continue
        total += fill.notional
    return num(total)


def portfolio(state: HyperliquidState, address: str | None) -> list[Any]:
    """The 8 periods; ``vlm`` of all markets (spot once) or of perps only (``perp*``, HIP-3 included)."""
    config = state.config
    now = state.now_ms()
    fills = _fills(state, address, config.vlm_includes_subs)
    day_start = now - MS_PER_DAY if config.portfolio_day == "rolling" else now // MS_PER_DAY * MS_PER_DAY
    starts: dict[str, int | None] = {"day": day_start, "week": now - 7 * MS_PER_DAY, "month": now - 30 * MS_PER_DAY,
                                     "allTime": None}  # fmt: skip
    value = "10000.0" if fills else "0.0"
    out: list[Any] = []
    for perps_only in (False, True):
        for period, since in starts.items():
            name = "perp" + period[0].upper() + period[1:] if perps_only else period
            first = since if since is not None else (fills[0].ts_ms if fills else now)
            points = [[first, value], [now, value]]
            out.append([name, {"accountValueHistory": points, "pnlHistory": [[t, "0.0"] for t, _ in points],
                               "vlm": _volume(fills, since, now, perps_only, state)}])  # fmt: skip
    return out


def user_rate_limit(state: HyperliquidState, address: str | None) -> dict[str, Any]:
    cum = sum((f.notional for f in _fills(state, address, False)), Decimal(0))
    return {"cumVlm": num(cum), "nRequestsUsed": 0, "nRequestsCap": 10_000 + int(cum), "nRequestsSurplus": 0}


def sub_accounts(state: HyperliquidState, address: str | None) -> list[Any] | None:
    """The master's sub-accounts, or ``null`` (NKTKAS) when it has none (or for any other address)."""
    if address != state.address or not state.subs:
        return None
    now = state.now_ms()
    return [{"name": f"sub-{i}", "subAccountUser": sub, "master": state.address,
             "clearinghouseState": clearinghouse_state(now, True), "spotState": {"balances": []}}
            for i, sub in enumerate(state.subs, start=1)]  # fmt: skip


def user_role(state: HyperliquidState, address: str | None) -> dict[str, Any]:
    if address == state.address:
        return {"role": "user"}
    if address == state.agent:
        return {"role": "agent", "data": {"user": state.address}}
    if address in state.subs:
        return {"role": "subAccount", "data": {"master": state.address}}
    return {"role": "missing"}


def extra_agents(state: HyperliquidState, address: str | None) -> list[dict[str, Any]]:
    if address != state.address:
        return []
    return [{"name": "perpvol-sim bot", "address": state.agent, "validUntil": state.now_ms() + 180 * MS_PER_DAY}]
