"""``perpvol`` command line (typer): each command calls its group module's function with typed values.

Venue-specific parts (the exchange choices, ``keys add <venue>``'s options, ``sim <venue>``) come from the
venue registry (:mod:`perpvol_core.exchanges`); this module names no venue. Secrets are read only from
stdin or a prompt, never from arguments. Exit codes: 0 ok, 1 failure, 2 usage error (a malformed command
line or input), 3 credentials refused by the exchange, 130 Ctrl-C.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import typer

from perpvol_cli import reconcile, tiers, venue_commands, venues
from perpvol_core.security.redaction import redact

EXIT_USAGE = 2

#: the registered venues as a choice, from the registry
Exchange = StrEnum("Exchange", {name: name for name in venues.names()})  # type: ignore[misc]


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


_SETTINGS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="perpvol",
    help=f"Your perpetual-futures volume on {venues.display_names()}.",
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
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def finish(run: Callable[[], int | None]) -> NoReturn:
    """Run a command's body and end with its exit code; an unexpected error is one redacted line, never a
    traceback (``-v`` logs the traceback, redacted)."""
    try:
        code = int(run() or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # last resort: a clear, redacted message, never a traceback with secrets
        if logging.getLogger().isEnabledFor(logging.DEBUG):  # -v (the root callback set the level)
            logging.exception("perpvol failed")
        print(f"perpvol: error: {redact(exc)}", file=sys.stderr)
        code = 1
    raise typer.Exit(code)


# -- keys ---------------------------------------------------------------------------------------------


@keys_app.command("list", help="List accounts with a masked hint.")
def _keys_list(json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    from perpvol_cli import keys

    finish(lambda: keys.cmd_keys_list(json=json))


@keys_app.command("test", help="Test stored credentials against the exchange.")
def _keys_test(label: Annotated[str, typer.Argument(help="The account's label.")]) -> None:
    from perpvol_cli import keys

    finish(lambda: keys.cmd_keys_test(label=label))


@keys_app.command("remove", help="Remove an account, its fills and its encrypted credentials.")
def _keys_remove(label: Annotated[str, typer.Argument(help="The account's label.")]) -> None:
    from perpvol_cli import keys

    finish(lambda: keys.cmd_keys_remove(label=label))


@keys_app.command("rotate-master", help="Re-encrypt every credential under a new master key.")
def _keys_rotate_master(
    new_key_file: Annotated[
        str | None,
        typer.Option("--new-key-file", help="Write the new key here (default: replace the current key file)."),
    ] = None,
) -> None:
    from perpvol_cli import keys

    finish(lambda: keys.cmd_keys_rotate_master(new_key_file=new_key_file))


# -- data -----------------------------------------------------------------------------------------------


@app.command("sync", help="Pull fills from the exchanges (backfill, then incremental).")
def _sync(
    label: Annotated[str | None, typer.Option("--label", help="Sync only this account (default: all).")] = None,
    days: Annotated[int, typer.Option("--days", min=1, help="How many days back to backfill (at least 1).")] = 730,
) -> None:
    from perpvol_cli import sync

    finish(lambda: sync.cmd_sync(label=label, days=days))


@app.command("verify", help="Read every synced window again from the exchange and compare it fill for fill.")
def _verify(
    label: Annotated[str | None, typer.Option("--label", help="Check only this account (default: all).")] = None,
) -> None:
    from perpvol_cli import verify

    finish(lambda: verify.cmd_verify(label=label))


@app.command("volume", help="Show volume totals (and the daily series).")
def _volume(
    json: Annotated[
        bool, typer.Option("--json", help="Print the JSON report (totals, by_exchange and, with --daily, daily).")
    ] = False,
    daily: Annotated[bool, typer.Option("--daily", help="Add the daily series.")] = False,
    date_from: Annotated[
        str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="First UTC day (inclusive).")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Last UTC day (inclusive).")] = None,
    exchange: Annotated[
        Exchange | None, typer.Option("--exchange", help=f"Only this exchange: {venues.choices_text()}.")
    ] = None,
) -> None:
    from perpvol_cli import volume

    name = exchange.value if exchange else None
    finish(lambda: volume.cmd_volume(json=json, daily=daily, date_from=date_from, date_to=date_to, exchange=name))


@app.command("export", help="Export fills.")
def _export(
    format: Annotated[ExportFormat, typer.Option("--format", help="csv or parquet.")],  # noqa: A002 - documented name
    out: Annotated[str, typer.Option("--out", help="The file to write (its folder must exist).")],
) -> None:
    from perpvol_cli import volume

    finish(lambda: volume.cmd_export(format=format.value, out=out))


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
    from perpvol_app import serve

    finish(lambda: serve.cmd_serve(port=port, address=address, no_worker=no_worker))


@app.command("demo", help="Simulators + dashboard.")
def _demo(
    port: Annotated[
        int,
        typer.Option("--port", min=1, max=65535 - len(venues.names()),
                     help=_PORT_HELP + " The simulators use the next ports, one per exchange."),
    ] = 5006,
    address: Annotated[str, typer.Option("--address", help=_ADDRESS_HELP)] = "127.0.0.1",
    no_worker: Annotated[bool, typer.Option("--no-worker", hidden=True, help=_NO_WORKER_HELP)] = False,
    fills: Annotated[int, typer.Option("--fills", min=1, help="Fills per simulated exchange.")] = 20000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulated histories.")] = 7,
) -> None:
    from perpvol_app import serve

    finish(lambda: serve.cmd_demo(port=port, address=address, no_worker=no_worker, fills=fills, seed=seed))


@app.command("worker", help="Run sync and the live feed without serving.")
def _worker(
    check: Annotated[
        bool, typer.Option("--check", help="Exit 0 if a running worker's heartbeat is fresh (health check).")
    ] = False,
) -> None:
    from perpvol_cli import worker

    finish(lambda: worker.cmd_worker(check=check))


# -- embed ----------------------------------------------------------------------------------------------


@embed_app.command("create", help="Create a read-only embed token (shown once).")
def _embed_create(
    name: Annotated[str, typer.Option("--name", help="A name to recognise the link by.")] = "embed",
) -> None:
    from perpvol_cli import embed

    finish(lambda: embed.cmd_embed_create(name=name))


@embed_app.command("list", help="List embed tokens (never the tokens themselves).")
def _embed_list() -> None:
    from perpvol_cli import embed

    finish(lambda: embed.cmd_embed_list(json=False))


@embed_app.command("revoke", help="Revoke an embed token: it stops working at once.")
def _embed_revoke(token_id: Annotated[str, typer.Argument(help="The token's id (see `perpvol embed list`).")]) -> None:
    from perpvol_cli import embed

    finish(lambda: embed.cmd_embed_revoke(token_id=token_id))


# -- the venue commands (keys add <venue>, sim <venue>, from the registry) and the entry points ------------

keys_app.add_typer(venue_commands.keys_add_app(finish), name="add")
app.add_typer(venue_commands.sim_app(finish), name="sim")
tiers.register(app, finish)
reconcile.register(app, finish)


def command() -> Any:
    """The whole command tree as typer's click group (tests parse command lines with it)."""
    return typer.main.get_command(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``perpvol`` with ``argv`` (default: the process's arguments); returns the exit code.

    Usage errors exit 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command().main(args=args, prog_name="perpvol")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
