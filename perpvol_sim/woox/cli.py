"""``perpvol sim woox``: :data:`SIM_FLAGS` (the transactionHistory readings), :func:`reading_options`,
:func:`describe_reading` and :func:`cmd_sim`."""

from __future__ import annotations

from typing import Any

from perpvol_sim.history import History
from perpvol_sim.woox.app import WooxSim
from perpvol_sim.woox.config import LIMIT_OVER_CAP, PAGE_MODES, WooxSimConfig

#: ``perpvol sim woox`` flags of the readings (flag, dest, help); the CLI adds them to its ``sim`` parser
SIM_FLAGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--page-mode", "page_mode", {"choices": PAGE_MODES, "help": "woox: transactionHistory `page` honoured, "
                                  "ignored (always page 1) or rejected (-1004)"}),
    ("--page-cap", "page_cap", {"type": int, "help": "woox: largest page transactionHistory serves (default 500)"}),
    ("--limit-over-cap", "limit_over_cap", {"choices": LIMIT_OVER_CAP,
                                            "help": "woox: a limit above the cap is clamped or rejected"}),
    ("--no-meta", "no_meta", {"action": "store_true", "help": "woox: transactionHistory answers without meta"}),
    ("--symbol-required", "symbol_required", {"action": "store_true",
                                              "help": "woox: transactionHistory requires symbol"}),
    ("--order", "order", {"choices": ("asc", "desc"), "help": "woox: rows oldest-first (asc) or newest-first"}),
    ("--delisted", "delisted", {"action": "append", "help": "woox: a traded symbol absent from the instruments"}),
    ("--no-v3-stream", "no_v3_stream", {"action": "store_true", "help": "woox: serve only the v2 private stream"}),
)  # fmt: skip


def reading_options(args: Any) -> dict[str, Any]:
    """:class:`WooxSimConfig` fields from the ``SIM_FLAGS`` of ``args`` (absent flags: today's behaviour)."""
    out: dict[str, Any] = {}
    if getattr(args, "page_mode", None):
        out["page_mode"] = args.page_mode
    if getattr(args, "page_cap", None):
        out["page_size_cap"] = int(args.page_cap)
    if getattr(args, "limit_over_cap", None):
        out["limit_over_cap"] = args.limit_over_cap
    if getattr(args, "no_meta", False):
        out["meta"] = False
    if getattr(args, "symbol_required", False):
        out["symbol_required"] = True
    if getattr(args, "order", None):
        out["sort_order"] = args.order
    if getattr(args, "delisted", None):
        out["delisted_symbols"] = tuple(args.delisted)
    if getattr(args, "no_v3_stream", False):
        out["v3_private_stream"] = False
    return out


def describe_reading(config: WooxSimConfig) -> str:
    """One line naming the transactionHistory reading served."""
    return (f"page {config.page_mode}, page cap {config.page_size_cap} (limit above: {config.limit_over_cap}), "
            f"meta {'on' if config.meta else 'absent'}, symbol {'required' if config.symbol_required else 'optional'}, "
            f"rows {'newest' if config.sort_order == 'desc' else 'oldest'}-first")  # fmt: skip


def cmd_sim(args: Any) -> int:
    """``perpvol sim woox --port P [--seed N] [--fills N] [--format doc|live] [--live]`` plus the reading flags
    (``SIM_FLAGS``): serve until Ctrl-C."""
    response_format = getattr(args, "response_format", None) or "doc"
    history = History("woox", args.seed, args.fills)
    sim = WooxSim(history, host=args.host, port=args.port, response_format=response_format, **reading_options(args))
    base_url = sim.start()
    print(f"WOO X simulator on {base_url} ({len(history.fills)} fills, seed {args.seed}, format {response_format})")
    print(f"  private stream: {sim.ws_private_url}")
    print(f"  api key:        {sim.config.api_key}")
    print(f"  api secret:     {sim.config.api_secret}   (simulator demo credentials)")
    print(f"  application id: {sim.config.application_id}")
    print(f"  transactionHistory: {describe_reading(sim.config)}")
    return sim.serve_until_interrupted(live=getattr(args, "live", False))
