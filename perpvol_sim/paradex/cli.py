"""``perpvol sim paradex``: :data:`SIM_FLAGS` (the reported figures' readings) and :func:`cmd_sim`."""

from __future__ import annotations

import threading
from typing import Any

from perpvol_core.exchanges.paradex import starknet as sa
from perpvol_sim.history import History
from perpvol_sim.paradex import figures as sim_figures
from perpvol_sim.paradex.app import ParadexSim, demo_subkey_private_key
from perpvol_sim.paradex.config import DEMO_L2_PRIVATE_KEY

#: ``perpvol sim paradex`` flags (the reported figures' readings and disagreements)
SIM_FLAGS = sim_figures.SIM_FLAGS


def cmd_sim(args: Any) -> int:
    """``perpvol sim paradex --port P [--seed N] [--fills N] [--live]``: serve until Ctrl-C."""
    history = History("paradex", args.seed, args.fills)
    subkey = demo_subkey_private_key(args.seed)
    sim = ParadexSim(history, host=getattr(args, "host", "127.0.0.1"), port=args.port,
                     **sim_figures.options_of(args))  # fmt: skip
    sim.add_subkey(sim.account, sa.public_key_from_private(subkey))
    sim.start()
    token = sim.mint_read_only_token("demo")
    if getattr(args, "live", False):
        history.start_live(5.0)
    # Simulator credentials only (the main key is paradex-py's public test key): fine to print.
    print(f"Paradex simulator on {sim.base_url}  (REST {sim.api_url}, WebSocket {sim.ws_url})")
    print(f"account address : {hex(sim.account)}")
    print(f"L2 main key     : {hex(DEMO_L2_PRIVATE_KEY)}")
    print(f"L2 subkey       : {hex(subkey)}  (POST /v1/auth/{hex(sa.public_key_from_private(subkey))})")
    print(f"read-only token : {token}")
    if sim_figures.subaccount_history(sim.state) is not None:
        print(
            f"subaccount      : {hex(sim_figures.SUBACCOUNT_ADDRESS)}  "
            f"(read-only token {sim_figures.subaccount_token(sim.state, 'demo-sub')})"
        )
    if sim_figures.options_of(args):
        print(f"figures         : {sim_figures.options_of(args)}")
    print(f"fills           : {len(history.fills)}  (seed {args.seed})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        if getattr(args, "live", False):
            history.stop_live()
        sim.stop()
    return 0
