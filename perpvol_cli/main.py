"""``perpvol`` command line: the argument tree of design.md; each command lives in its own module.

Secrets are read only from stdin or a prompt, never from arguments.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from perpvol_core.security.redaction import redact

# command -> "module:function"; each handler takes the parsed args and returns an exit code.
_HANDLERS = {
    "keys.add": "perpvol_cli.keys:cmd_keys_add",
    "keys.list": "perpvol_cli.keys:cmd_keys_list",
    "keys.test": "perpvol_cli.sync:cmd_keys_test",
    "keys.remove": "perpvol_cli.keys:cmd_keys_remove",
    "keys.rotate-master": "perpvol_cli.keys:cmd_keys_rotate_master",
    "sync": "perpvol_cli.sync:cmd_sync",
    "volume": "perpvol_cli.volume:cmd_volume",
    "export": "perpvol_cli.volume:cmd_export",
    "serve": "perpvol_app.serve:cmd_serve",
    "demo": "perpvol_app.serve:cmd_demo",
    "worker": "perpvol_cli.worker:cmd_worker",
    "sim.woox": "perpvol_sim.woox:cmd_sim",
    "sim.paradex": "perpvol_sim.paradex:cmd_sim",
    "embed.create": "perpvol_cli.embed:cmd_embed_create",
    "embed.list": "perpvol_cli.embed:cmd_embed_list",
    "embed.revoke": "perpvol_cli.embed:cmd_embed_revoke",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="perpvol", description="Your perpetual-futures volume on WOO X and Paradex.")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    keys = sub.add_parser("keys", help="manage exchange credentials (stored encrypted)")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    add = ksub.add_parser("add", help="add read-only credentials (tested against the exchange first)")
    add.add_argument("exchange", choices=["woox", "paradex"])
    add.add_argument("--label", required=True)
    add.add_argument("--api-key", help="WOO X API key (public part)")
    add.add_argument("--api-secret-stdin", action="store_true", help="read the WOO X API secret from stdin")
    add.add_argument("--token-stdin", action="store_true", help="read a Paradex read-only token from stdin")
    add.add_argument("--account", help="Paradex account address (0x…) for an L2 key or subkey")
    add.add_argument("--l2-key-stdin", action="store_true", help="read a Paradex L2 private key from stdin")
    add.add_argument("--base-url", help="exchange base URL (testnet, staging or a local simulator)")
    add.add_argument("--replace", action="store_true", help="replace the credentials of an existing label")
    add.add_argument("--no-test", action="store_true", help=argparse.SUPPRESS)
    lst = ksub.add_parser("list", help="list accounts with a masked hint")
    lst.add_argument("--json", action="store_true")
    tst = ksub.add_parser("test", help="test stored credentials against the exchange")
    tst.add_argument("label")
    rm = ksub.add_parser("remove", help="remove an account, its fills and its encrypted credentials")
    rm.add_argument("label")
    rot = ksub.add_parser("rotate-master", help="re-encrypt every credential under a new master key")
    rot.add_argument("--new-key-file", help="write the new key here (default: replace the current key file)")

    sync = sub.add_parser("sync", help="pull fills from the exchanges (backfill, then incremental)")
    sync.add_argument("--label")
    sync.add_argument("--days", type=int, default=730)

    vol = sub.add_parser("volume", help="show volume totals (and the daily series)")
    vol.add_argument("--json", action="store_true")
    vol.add_argument("--daily", action="store_true")
    vol.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    vol.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    vol.add_argument("--exchange", choices=["woox", "paradex"])

    exp = sub.add_parser("export", help="export fills")
    exp.add_argument("--format", choices=["csv", "parquet"], required=True)
    exp.add_argument("--out", required=True)

    for name in ("serve", "demo"):
        sp = sub.add_parser(name, help="serve the dashboard" if name == "serve" else "simulators + dashboard")
        sp.add_argument("--port", type=int, default=5006)
        sp.add_argument("--address", default="127.0.0.1")
        sp.add_argument("--no-worker", action="store_true", help=argparse.SUPPRESS)
        if name == "demo":
            sp.add_argument("--fills", type=int, default=20000, help="fills per simulated exchange")
            sp.add_argument("--seed", type=int, default=7)
    wk = sub.add_parser("worker", help="run sync and the live feed without serving")
    wk.add_argument("--check", action="store_true", help="exit 0 if a running worker's heartbeat is fresh")

    sim = sub.add_parser("sim", help="run a local exchange simulator")
    sim.add_argument("exchange", choices=["woox", "paradex"])
    sim.add_argument("--port", type=int, required=True)
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--fills", type=int, default=5000)
    sim.add_argument("--format", dest="response_format", default=None, help="woox: doc|live")
    sim.add_argument("--live", action="store_true", help="keep producing new fills")

    emb = sub.add_parser("embed", help="read-only embed links")
    esub = emb.add_subparsers(dest="embed_command", required=True)
    ec = esub.add_parser("create")
    ec.add_argument("--name", default="embed")
    esub.add_parser("list")
    er = esub.add_parser("revoke")
    er.add_argument("token_id")
    return p


def _handler_key(args: argparse.Namespace) -> str:
    for group in ("keys", "embed"):
        if args.command == group:
            return f"{group}.{getattr(args, group + '_command')}"
    if args.command == "sim":
        return f"sim.{args.exchange}"
    return args.command


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module_name, func_name = _HANDLERS[_handler_key(args)].split(":")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: a clear, redacted message, never a traceback with secrets
        if args.verbose:
            logging.exception("perpvol failed")
        print(f"perpvol: error: {redact(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
