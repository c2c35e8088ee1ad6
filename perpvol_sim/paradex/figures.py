"""What the simulated Paradex reports about the account's volume, from the fills it holds (§3.3, §9).

* ``GET /v1/account/history?type=volume``: the volume series, granularity UNCONFIRMED, served under the
  reading ``config.volume_series``: ``daily`` (30 points at UTC midnights, each that day's volume),
  ``hourly`` (the last 7 × 24 hourly points, each that hour's volume) or ``cumulative`` (30 daily points,
  each the running total of every counted fill up to the end of that day).
* ``GET /v1/account/subaccounts``: the account's subaccount when ``config.subaccount_fills`` > 0. Its own
  fills (the last 13 days) count in the account's tier-window volume (``/account/info``), as Paradex says
  the tier window counts the main account and all its subaccounts. The subaccount is an account of its own
  (:func:`subaccount_token`): ``/fills``, ``/account`` and its volume series are its own, its
  ``/account/info`` tier volume is the group's.

Options that make the venue disagree with a full sync (for the reconciliation's tests): ``withheld_day``
(``YYYY-MM-DD``: ``/fills`` never lists that day's fills, the figures still count them),
``figures_include_spot`` (the figures count spot fills too) and ``subaccount_fills`` (above).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from perpvol_core.fill import MS_PER_DAY
from perpvol_core.money import plain_decimal
from perpvol_sim.history import History, utc_day

if TYPE_CHECKING:
    from perpvol_sim.paradex import ParadexState

SERIES_READINGS = ("daily", "hourly", "cumulative")
_COUNTED = frozenset({"FILL", "LIQUIDATION", "RPI", "BLOCK_TRADE"})
HOUR_MS = 3_600_000
#: the simulated subaccount's address (simulator only)
SUBACCOUNT_ADDRESS = 0x5AB0_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0001


#: ``perpvol sim paradex`` flags of the figures (flag, dest, argparse keywords); :func:`options_of` reads them
SIM_FLAGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--volume-series", "volume_series", {"choices": SERIES_READINGS,
                                          "help": "paradex: granularity of /account/history?type=volume"}),
    ("--withheld-day", "withheld_day", {"metavar": "YYYY-MM-DD",
                                        "help": "paradex: /fills never lists this UTC day; the figures count it"}),
    ("--figures-include-spot", "figures_include_spot", {"action": "store_true",
                                                        "help": "paradex: the reported figures count spot fills"}),
    ("--subaccount-fills", "subaccount_fills", {"type": int, "metavar": "N",
                                                "help": "paradex: a subaccount with N fills (its token is printed)"}),
)


def options_of(args: Any) -> dict[str, Any]:
    """:class:`~perpvol_sim.paradex.ParadexSimConfig` fields from the ``SIM_FLAGS`` given in ``args``."""
    out: dict[str, Any] = {}
    for _flag, dest, _kw in SIM_FLAGS:
        value = getattr(args, dest, None)
        if value not in (None, False):
            out[dest] = value
    return out


def withheld(config: Any, ts_ms: int) -> bool:
    """A fill ``/fills`` does not list (its UTC day is ``config.withheld_day``)."""
    return bool(config.withheld_day) and utc_day(ts_ms) == config.withheld_day


def counts_in_figures(config: Any, market: str, fill_type: str, types: frozenset[str]) -> bool:
    """A fill the reported figures count: a perp fill of ``types``, or a spot fill when they include spot."""
    if market.endswith("-PERP"):
        return fill_type in types
    return bool(config.figures_include_spot) and market.count("-") == 1


def subaccount_history(state: ParadexState) -> History | None:
    """The subaccount's own fills (made once, seeded), or None when the account has no subaccount."""
    n = state.config.subaccount_fills
    if n <= 0:
        return None
    sub = getattr(state, "_subaccount_history", None)
    if sub is None or len(sub.fills) != n:
        sub = History("paradex", 4242, n, now_ms=state.history.now_ms, days=13)
        state._subaccount_history = sub  # type: ignore[attr-defined]
        state._subaccount_book = None  # type: ignore[attr-defined]
        if not state.registry.is_registered(SUBACCOUNT_ADDRESS):
            state.registry.register(SUBACCOUNT_ADDRESS, state.registry.main_key(state.primary_account) or 1)
    return sub


def is_subaccount(state: ParadexState, account: int) -> bool:
    return account == SUBACCOUNT_ADDRESS and subaccount_history(state) is not None


def book_for(state: ParadexState, account: int) -> Any:
    """The fills ``/fills`` lists for ``account``: the subaccount's own, else the primary account's."""
    sub = subaccount_history(state) if account == SUBACCOUNT_ADDRESS else None
    if sub is None:
        return state.book
    book = getattr(state, "_subaccount_book", None)
    if book is None:
        from perpvol_sim.paradex import FillBook

        book = state._subaccount_book = FillBook(sub)  # type: ignore[attr-defined]
    return book


def subaccount_token(state: ParadexState, name: str = "perpvol-sub") -> str:
    """A read-only token of the subaccount (simulator credentials); raises ValueError when there is none."""
    if subaccount_history(state) is None:
        raise ValueError("the simulator has no subaccount (subaccount_fills=0)")
    return state.mint_read_only_token(SUBACCOUNT_ADDRESS, name)[0]


def subaccount_notional(state: ParadexState, start_ms: int, end_ms: int) -> Decimal:
    sub = subaccount_history(state)
    if sub is None:
        return Decimal(0)
    return sum((f.price * f.size for f in sub.snapshot() if start_ms <= f.ts_ms < end_ms
                and counts_in_figures(state.config, f.market, f.fill_type, _COUNTED)), Decimal(0))  # fmt: skip


def volume_series(state: ParadexState, account: int | None = None) -> tuple[list[str], list[int]]:
    """(values, timestamps in ms) of ``account``'s volume series under ``config.volume_series``."""
    reading = state.config.volume_series
    now = state.now_ms()
    today = now - now % MS_PER_DAY
    sub = subaccount_history(state) if account == SUBACCOUNT_ADDRESS else None

    def volume(start: int, end: int) -> Decimal:
        if sub is None:
            return state.counted_notional(start, end)
        return sum((f.price * f.size for f in sub.snapshot() if start <= f.ts_ms < end
                    and counts_in_figures(state.config, f.market, f.fill_type, _COUNTED)), Decimal(0))  # fmt: skip

    if reading == "hourly":
        hour = now - now % HOUR_MS
        stamps = [hour - k * HOUR_MS for k in range(7 * 24 - 1, -1, -1)]
        return [plain_decimal(volume(t, min(t + HOUR_MS, now + 1))) for t in stamps], stamps
    stamps = [today - k * MS_PER_DAY for k in range(29, -1, -1)]
    if reading == "cumulative":
        return [plain_decimal(volume(0, min(d + MS_PER_DAY, now + 1))) for d in stamps], stamps
    return [plain_decimal(volume(d, min(d + MS_PER_DAY, now + 1))) for d in stamps], stamps


def subaccounts_answer(state: ParadexState, account: int) -> dict[str, Any]:
    """``GET /v1/account/subaccounts``: ``{"results": [AccountInfoResponse]}`` (the subaccount, if any)."""
    if subaccount_history(state) is None or account != state.primary_account:
        return {"results": []}
    return {"results": [{"account": hex(SUBACCOUNT_ADDRESS), "kind": "subaccount", "parent_account": hex(account),
                         "derivation_path": "m/44'/9004'/0'/0/1", "created_at": 1_700_000_000_000}]}  # fmt: skip
