"""``perpvol sim hyperliquid --port N [--seed N] [--fills N] [--live] [fork flags]``: serve until Ctrl-C.

Every :class:`~perpvol_sim.hyperliquid.config.HyperliquidSimConfig` field is a flag (``page_cap`` ->
``--page-cap``; yes/no for the booleans; ``none`` for an optional number), listed in ``SIM_FLAGS`` as
``(flag, dest, argparse keywords)`` for the CLI to add. :func:`run` takes the parsed flags as attributes of
``args`` or, unparsed, as the list ``args.sim_args``; ``python -m perpvol_sim.hyperliquid`` runs it alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Sequence
from typing import Any

from perpvol_sim.hyperliquid import config as cfg

_FIELD_HELP = {
    "page_cap": "F1 fills per userFillsByTime page (2000 or 500)",
    "window_pick": "F2 which fills of an over-full window",
    "end_inclusive": "F3 endTime inclusive",
    "number_style": "F4 time/oid/tid as JSON numbers, strings or mixed",
    "old_window": "F5 a window older than retention: [], an error object or a partial page",
    "retention_cap": "F6 only the newest N fills are served",
    "retention_days": "F6 and no fill older than N days (none: count cap only)",
    "retention_counts_spot": "F7 spot fills count toward the retention cap",
    "fee_includes_builder": "F8 fee already includes builderFee",
    "self_trade_tid": "F9 a self-trade's maker row has its own tid or the taker's",
    "self_trade_two_rows": "F10 a self-trade shows two rows (else only the taker row)",
    "hip3_mode": "F13 HIP-3 fills without `dex`",
    "mixed_case": "F14 a mixed-case user",
    "rate_limit_body": "F15 429 body",
    "retry_after_s": "F15 Retry-After seconds (none: no header)",
    "update_flag": "F17 streamed userFills isSnapshot false or absent",
    "snapshot_depth": "F18 fills in the WebSocket snapshot",
    "idle_timeout_s": "F19 WebSocket idle timeout in seconds (none: never)",
    "max_connection_s": "F19 forced WebSocket disconnect after N seconds (none: never)",
    "daily_days": "F21 dailyUserVlm entries",
    "portfolio_day": "F23 portfolio day: rolling 24 h or UTC day",
    "daily_meaning": "§4.1 dailyUserVlm userCross/userAdd: taker/maker or another split (by side)",
    "withheld_day": "a UTC day (YYYY-MM-DD) never served while userFees and portfolio count it",
    "extra_weight_per_items": "F25 extra weight per 20 fills returned",
}


def _yes_no(text: str) -> bool:
    if text not in ("yes", "no"):
        raise argparse.ArgumentTypeError("expected yes or no")
    return text == "yes"


#: ``none`` given for an optional number or text (an attribute that is None means "flag not given")
NONE = "none"


def _optional(kind: type) -> Any:
    def parse(text: str) -> Any:
        return NONE if text == NONE else kind(text)

    return parse


def _flags() -> tuple[tuple[str, str, dict[str, Any]], ...]:
    hints = typing.get_type_hints(cfg.HyperliquidSimConfig)
    choices = cfg.CHOICES
    out: list[tuple[str, str, dict[str, Any]]] = []
    for field in dataclasses.fields(cfg.HyperliquidSimConfig):
        hint = hints[field.name]
        kwargs: dict[str, Any] = {"help": "hyperliquid: " + _FIELD_HELP.get(field.name, field.name.replace("_", " "))}
        if field.name in choices:
            kwargs["choices"] = choices[field.name]
        elif hint is bool:
            kwargs.update(type=_yes_no, metavar="yes|no")
        elif hint is int or hint is float:
            kwargs["type"] = hint
        elif hint == int | None or hint == float | None:
            kwargs.update(type=_optional(int if hint == int | None else float), metavar="N|none")
        else:
            kwargs.update(type=_optional(str), metavar="TEXT|none")
        out.append(("--" + field.name.replace("_", "-"), field.name, kwargs))
    out.append(("--sub-accounts", "sub_accounts", {"type": int, "help": "hyperliquid: sub-accounts of the master"}))
    out.append(("--burst", "burst", {"type": int, "help": "hyperliquid: F26 one group of N fills in one ms"}))
    return tuple(out)


#: ``perpvol sim hyperliquid`` flags (flag, dest, argparse keywords)
SIM_FLAGS = _flags()


def parser(fork_flags_only: bool = False) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="perpvol sim hyperliquid", description=__doc__.split("\n")[0])
    if not fork_flags_only:
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--fills", type=int, default=5000)
        p.add_argument("--live", action="store_true")
    for flag, dest, kwargs in SIM_FLAGS:
        p.add_argument(flag, dest=dest, default=argparse.SUPPRESS, **kwargs)
    return p


def build(args: Any) -> Any:
    """The :class:`~perpvol_sim.hyperliquid.HyperliquidSim` the flags ask for (not started)."""
    from perpvol_sim.hyperliquid import HyperliquidSim, hyperliquid_history

    raw = getattr(args, "sim_args", None)
    if raw:
        extra = parser(fork_flags_only=True).parse_args(raw)
        args = argparse.Namespace(**{**vars(args), **vars(extra)})
    options: dict[str, Any] = {}
    for field in dataclasses.fields(cfg.HyperliquidSimConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            options[field.name] = None if value is NONE else value
    history = hyperliquid_history(args.seed, args.fills, burst=int(getattr(args, "burst", 0) or 0))
    return HyperliquidSim(history, host=getattr(args, "host", None) or "127.0.0.1", port=args.port,
                          sub_accounts=int(getattr(args, "sub_accounts", 0) or 0), **options)  # fmt: skip


def run(args: Any) -> int:
    """Serve until Ctrl-C (``args``: ``port``, ``seed``, ``fills``, optional ``host``, ``live``, fork flags)."""
    sim = build(args)
    history = sim.history
    sim.start()
    defaults = cfg.HyperliquidSimConfig()
    changed = {f.name: getattr(sim.config, f.name) for f in dataclasses.fields(defaults)
               if getattr(sim.config, f.name) != getattr(defaults, f.name)}  # fmt: skip
    print(f"Hyperliquid simulator on {sim.base_url}  (POST {sim.info_url}, WebSocket {sim.ws_url})")
    print(f"  address: {sim.address}  ({len(history.fills)} fills, seed {history.seed})")
    print(f"  API wallet (reads as empty): {sim.agent_address}")
    for sub in sim.sub_addresses:
        print(f"  sub-account: {sub}")
    print(f"  readings: {changed or 'the documented defaults'}")
    return sim.serve_until_interrupted(live=getattr(args, "live", False))


def main(argv: Sequence[str] | None = None) -> int:
    return run(parser().parse_args(argv))
