"""``perpvol`` command line (typer): the command tree of design.md; each command's body lives in its group module.

Secrets are read only from stdin or a prompt, never from arguments. Exit codes: 0 ok, 1 failure,
2 usage error (a malformed command line or input), 3 credentials refused by the exchange, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextvars
import importlib
import logging
import sys
from collections.abc import Sequence
from enum import Enum, StrEnum
from typing import Annotated, Any

import typer

from perpvol_core.security.redaction import redact

EXIT_USAGE = 2

# command -> "module:function"; each handler takes an argparse-style namespace and returns an exit code.
_HANDLERS = {
    "keys.add": "perpvol_cli.keys:cmd_keys_add",
    "keys.list": "perpvol_cli.keys:cmd_keys_list",
    "keys.test": "perpvol_cli.keys:cmd_keys_test",
    "keys.remove": "perpvol_cli.keys:cmd_keys_remove",
    "keys.rotate-master": "perpvol_cli.keys:cmd_keys_rotate_master",
    "sync": "perpvol_cli.sync:cmd_sync",
    "verify": "perpvol_cli.verify:cmd_verify",
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



class Exchange(StrEnum):
    woox = "woox"
    paradex = "paradex"


class PageMode(StrEnum):
    honoured = "honoured"
    ignored = "ignored"
    rejected = "rejected"


class LimitOverCap(StrEnum):
    clamp = "clamp"
    reject_1004 = "reject-1004"
    reject_1005 = "reject-1005"


class RowOrder(StrEnum):
    asc = "asc"
    desc = "desc"


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


_SETTINGS = {"help_option_names": ["-h", "--help"]}
_verbose: contextvars.ContextVar[bool] = contextvars.ContextVar("perpvol_verbose", default=False)
# set while parse_args() resolves a command line without running it
_parse_only: contextvars.ContextVar[bool] = contextvars.ContextVar("perpvol_parse_only", default=False)


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace) -> None:
        self.namespace = namespace


app = typer.Typer(
    name="perpvol",
    help="Your perpetual-futures volume on WOO X and Paradex.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=_SETTINGS,
)
keys_app = typer.Typer(help="Manage exchange credentials (stored encrypted).", no_args_is_help=True,
                       context_settings=_SETTINGS)  # fmt: skip
embed_app = typer.Typer(help="Read-only embed links.", no_args_is_help=True, context_settings=_SETTINGS)
app.add_typer(keys_app, name="keys")
app.add_typer(embed_app, name="embed")


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log more (debug messages, redacted).")] = False,
) -> None:
    _verbose.set(verbose)


def _dispatch(key: str, **params: Any) -> None:
    """Run the handler of ``key`` with the parsed options; ends the command with its exit code."""
    group, _, sub = key.partition(".")
    fields: dict[str, Any] = {"command": group, "verbose": _verbose.get()}
    if group in ("keys", "embed"):
        fields[f"{group}_command"] = sub
    values = {k: v.value if isinstance(v, Enum) else v for k, v in params.items()}
    namespace = argparse.Namespace(**fields, **values)
    if _parse_only.get():
        raise _Parsed(namespace)
    logging.basicConfig(
        level=logging.DEBUG if namespace.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    module_name, func_name = _HANDLERS[key].split(":")
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        code = int(handler(namespace) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # last resort: a clear, redacted message, never a traceback with secrets
        if namespace.verbose:
            logging.exception("perpvol failed")
        print(f"perpvol: error: {redact(exc)}", file=sys.stderr)
        code = 1
    raise typer.Exit(code)


# -- keys ---------------------------------------------------------------------------------------------


@keys_app.command("add", help="Add read-only credentials (tested against the exchange first).")
def _keys_add(
    exchange: Annotated[Exchange, typer.Argument(help="The exchange: woox or paradex.")],
    label: Annotated[str, typer.Option("--label", help="Your name for the account (letters, digits, . _ -).")],
    api_key: Annotated[str | None, typer.Option("--api-key", help="WOO X API key (the public part).")] = None,
    api_secret_stdin: Annotated[
        bool, typer.Option("--api-secret-stdin", help="Read the WOO X API secret from stdin.")
    ] = False,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read a Paradex read-only token from stdin.")
    ] = False,
    account: Annotated[
        str | None, typer.Option("--account", help="Paradex account address (0x…) for an L2 key or subkey.")
    ] = None,
    l2_key_stdin: Annotated[
        bool, typer.Option("--l2-key-stdin", help="Read a Paradex L2 private key from stdin.")
    ] = False,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Exchange base URL (testnet, staging or a local simulator).")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace the credentials of an existing label.")] = False,
    no_test: Annotated[bool, typer.Option("--no-test", hidden=True, help="Save without testing (tests only).")] = False,
) -> None:
    _dispatch("keys.add", exchange=exchange, label=label, api_key=api_key, api_secret_stdin=api_secret_stdin,
              token_stdin=token_stdin, account=account, l2_key_stdin=l2_key_stdin, base_url=base_url,
              replace=replace, no_test=no_test)  # fmt: skip


@keys_app.command("list", help="List accounts with a masked hint.")
def _keys_list(json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    _dispatch("keys.list", json=json)


@keys_app.command("test", help="Test stored credentials against the exchange.")
def _keys_test(label: Annotated[str, typer.Argument(help="The account's label.")]) -> None:
    _dispatch("keys.test", label=label)


@keys_app.command("remove", help="Remove an account, its fills and its encrypted credentials.")
def _keys_remove(label: Annotated[str, typer.Argument(help="The account's label.")]) -> None:
    _dispatch("keys.remove", label=label)


@keys_app.command("rotate-master", help="Re-encrypt every credential under a new master key.")
def _keys_rotate_master(
    new_key_file: Annotated[
        str | None,
        typer.Option("--new-key-file", help="Write the new key here (default: replace the current key file)."),
    ] = None,
) -> None:
    _dispatch("keys.rotate-master", new_key_file=new_key_file)


# -- data -----------------------------------------------------------------------------------------------


@app.command("sync", help="Pull fills from the exchanges (backfill, then incremental).")
def _sync(
    label: Annotated[str | None, typer.Option("--label", help="Sync only this account (default: all).")] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="How many days back to backfill (at least 1).")] = 730,
) -> None:
    _dispatch("sync", label=label, days=days)


@app.command("verify", help="Read every synced window again from the exchange and compare it fill for fill.")
def _verify(
    label: Annotated[str | None, typer.Option("--label", help="Check only this account (default: all).")] = None,
) -> None:
    _dispatch("verify", label=label)


@app.command("volume", help="Show volume totals (and the daily series).")
def _volume(
    json: Annotated[bool, typer.Option("--json", help="Print the JSON report of design.md.")] = False,
    daily: Annotated[bool, typer.Option("--daily", help="Add the daily series.")] = False,
    date_from: Annotated[
        str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="First UTC day (inclusive).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Last UTC day (inclusive).")] = None,
    exchange: Annotated[
        Exchange | None, typer.Option("--exchange", help="Only this exchange: woox or paradex.")
    ] = None,
) -> None:
    _dispatch("volume", json=json, daily=daily, date_from=date_from, date_to=date_to, exchange=exchange)


@app.command("export", help="Export fills.")
def _export(
    format: Annotated[ExportFormat, typer.Option("--format", help="csv or parquet.")],  # noqa: A002 - documented name
    out: Annotated[str, typer.Option("--out", help="The file to write (its folder must exist).")],
) -> None:
    _dispatch("export", format=format, out=out)


# -- serving --------------------------------------------------------------------------------------------

_PORT_HELP = "Port of the dashboard and API."
_ADDRESS_HELP = "Address to bind (127.0.0.1 keeps it on this machine)."
_NO_WORKER_HELP = "Do not run the sync worker in this process."


@app.command("serve", help="Serve the dashboard.")
def _serve(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help=_PORT_HELP)] = 5006,
    address: Annotated[str, typer.Option("--address", help=_ADDRESS_HELP)] = "127.0.0.1",
    no_worker: Annotated[bool, typer.Option("--no-worker", hidden=True, help=_NO_WORKER_HELP)] = False,
) -> None:
    _dispatch("serve", port=port, address=address, no_worker=no_worker)


@app.command("demo", help="Simulators + dashboard.")
def _demo(
    port: Annotated[int, typer.Option("--port", min=1, max=65533, help=_PORT_HELP + " The simulators use port+1 and port+2.")] = 5006,  # noqa: E501
    address: Annotated[str, typer.Option("--address", help=_ADDRESS_HELP)] = "127.0.0.1",
    no_worker: Annotated[bool, typer.Option("--no-worker", hidden=True, help=_NO_WORKER_HELP)] = False,
    fills: Annotated[int, typer.Option("--fills", min=1, help="Fills per simulated exchange.")] = 20000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated histories.")] = 7,
) -> None:
    _dispatch("demo", port=port, address=address, no_worker=no_worker, fills=fills, seed=seed)


@app.command("worker", help="Run sync and the live feed without serving.")
def _worker(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 0 if a running worker's heartbeat is fresh (health check).")
    ] = False,
) -> None:
    _dispatch("worker", check=check)


@app.command("sim", help="Run a local exchange simulator.")
def _sim(
    exchange: Annotated[Exchange, typer.Argument(help="The exchange to simulate: woox or paradex.")],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated history.")] = 1,
    fills: Annotated[int, typer.Option("--fills", min=0, help="Fills in the simulated history.")] = 5000,
    response_format: Annotated[
        str | None, typer.Option("--format", help="WOO X response format: doc or live.")
    ] = None,
    live: Annotated[bool, typer.Option("--live", help="Keep producing new fills.")] = False,
    # The WOO X readings of transactionHistory (woox-api.md §9); absent flags serve today's behaviour.
    page_mode: Annotated[
        PageMode | None,
        typer.Option("--page-mode", help="WOO X: transactionHistory `page` honoured, ignored (always page 1) "
                     "or rejected (-1004)."),
    ] = None,
    page_cap: Annotated[
        int | None, typer.Option("--page-cap", min=1, help="WOO X: largest page transactionHistory serves.")
    ] = None,
    limit_over_cap: Annotated[
        LimitOverCap | None,
        typer.Option("--limit-over-cap", help="WOO X: a limit above the cap is clamped or rejected."),
    ] = None,
    no_meta: Annotated[bool, typer.Option("--no-meta", help="WOO X: transactionHistory answers without meta.")] = False,
    symbol_required: Annotated[
        bool, typer.Option("--symbol-required", help="WOO X: transactionHistory requires symbol.")
    ] = False,
    order: Annotated[
        RowOrder | None, typer.Option("--order", help="WOO X: rows oldest-first (asc) or newest-first (desc).")
    ] = None,
    delisted: Annotated[
        list[str] | None,
        typer.Option("--delisted", help="WOO X: a traded symbol absent from the instrument list (repeatable)."),
    ] = None,
    no_v3_stream: Annotated[
        bool, typer.Option("--no-v3-stream", help="WOO X: serve only the v2 private stream.")
    ] = False,
) -> None:
    _dispatch(f"sim.{exchange.value}", exchange=exchange, port=port, host=host, seed=seed, fills=fills,
              response_format=response_format, live=live,
              page_mode=page_mode.value if page_mode else None, page_cap=page_cap,
              limit_over_cap=limit_over_cap.value if limit_over_cap else None, no_meta=no_meta,
              symbol_required=symbol_required, order=order.value if order else None, delisted=delisted or None,
              no_v3_stream=no_v3_stream)  # fmt: skip


# -- embed ----------------------------------------------------------------------------------------------


@embed_app.command("create", help="Create a read-only embed token (shown once).")
def _embed_create(
    name: Annotated[str, typer.Option("--name", help="A name to recognise the link by.")] = "embed",
) -> None:
    _dispatch("embed.create", name=name)


@embed_app.command("list", help="List embed tokens (never the tokens themselves).")
def _embed_list() -> None:
    _dispatch("embed.list")


@embed_app.command("revoke", help="Revoke an embed token: it stops working at once.")
def _embed_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (see `perpvol embed list`).")]) -> None:
    _dispatch("embed.revoke", token_id=token_id)


# -- entry points ---------------------------------------------------------------------------------------


def _run(argv: Sequence[str] | None) -> int:
    """The command line run by typer in its standalone mode: usage errors exit 2, like argparse did."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=args, prog_name="perpvol")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``perpvol`` with ``argv`` (default: the process's arguments); returns the exit code."""
    return _run(argv)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The namespace a command line gives its handler, without running it (deploy checks, tests).

    Raises SystemExit(2) for a command line ``perpvol`` would refuse.
    """
    token = _parse_only.set(True)
    try:
        code = _run(argv)
    except _Parsed as parsed:
        return parsed.namespace
    finally:
        _parse_only.reset(token)
    raise SystemExit(code or EXIT_USAGE)


class _Parser:
    """``build_parser().parse_args(argv)``: the argparse-era entry point kept for callers of it."""

    def parse_args(self, argv: Sequence[str]) -> argparse.Namespace:
        return parse_args(argv)


def build_parser() -> _Parser:
    return _Parser()


def _handler_key(args: argparse.Namespace) -> str:
    for group in ("keys", "embed"):
        if args.command == group:
            return f"{group}.{getattr(args, group + '_command')}"
    if args.command == "sim":
        return f"sim.{args.exchange}"
    return str(args.command)


if __name__ == "__main__":
    sys.exit(main())
