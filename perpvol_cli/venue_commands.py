"""The commands with one sub-command per registered venue: ``keys add <venue>`` and ``sim <venue>``.

Both are generated from the registry, so a venue added to it gets its command-line options without a line
here (typer commands whose parameters are built at import, as ``inspect.Signature`` objects):

* ``keys add <venue>``: ``--label``, ``--base-url``, ``--replace``, and one option per field of the venue's
  credential kinds (``api_key`` -> ``--api-key``); a secret field is only a flag, ``--<field>-stdin``, its
  value read from stdin or a hidden prompt, never from the command line. The options given select the kind.
* ``sim <venue>``: the options every simulator takes; a simulator's own options (``SIM_FLAGS`` of its
  package, argparse-style ``(flag, dest, options)``) follow them and are read once that simulator is
  imported (simulators are heavy: they load only when run; ``--sim-help`` lists them).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from perpvol_cli import venues

Finish = Callable[[Callable[[], int | None]], NoReturn]
_SETTINGS = {"help_option_names": ["-h", "--help"]}


class VenueGroup(TyperGroup):
    """A group of one command per venue: an unknown venue is a usage error naming the ones perpvol reads."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and name not in self.commands:
            ctx.fail(f"perpvol does not read an exchange called {name[:40]!r}; choose {venues.choices_text()}.")
        return super().resolve_command(ctx, args)


def _command(run: Callable[..., Any], params: list[inspect.Parameter]) -> Callable[..., Any]:
    """``run`` with the typer parameters ``params`` as its signature (typer reads the signature)."""
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {}
    return run


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


# -- keys add <venue> -----------------------------------------------------------------------------------


def keys_add_app(finish: Finish) -> typer.Typer:
    """``perpvol keys add <venue>``, one command per registered venue."""
    add = typer.Typer(
        help="Add read-only credentials (tested against the exchange first): "
        f"perpvol keys add {'|'.join(venues.names())} --label NAME …",
        no_args_is_help=True, context_settings=_SETTINGS, cls=VenueGroup,
    )  # fmt: skip
    for name in venues.names():
        add.command(name, help=f"Add a {venues.display_name(name)} account: {venues.kinds_text(name)}.")(
            _keys_add(name, finish)
        )
    return add


def _keys_add(venue: str, finish: Finish) -> Callable[..., Any]:
    params = [_option("label", Annotated[str, typer.Option("--label", help="Your name for the account "
                                                          "(letters, digits, . _ -).")], inspect.Parameter.empty)]
    options = venues.credential_options(venue)
    for opt in options:
        if opt.secret:
            params.append(_option(opt.field, Annotated[bool, typer.Option(opt.flag, help=opt.help)], False))
        else:
            params.append(_option(opt.field, Annotated[str | None, typer.Option(opt.flag, help=opt.help)], None))
    params += [
        _option("base_url", Annotated[str | None, typer.Option(
            "--base-url", help="Exchange base URL (testnet, staging or a local simulator).")], None),
        _option("replace", Annotated[bool, typer.Option(
            "--replace", help="Replace the credentials of an existing label.")], False),
        _option("no_test", Annotated[bool, typer.Option(
            "--no-test", hidden=True, help="Save without testing (tests only).")], False),
    ]  # fmt: skip
    fields = [opt.field for opt in options]

    def run(**values: Any) -> None:
        from perpvol_cli import keys

        given = {f: values[f] for f in fields}
        finish(lambda: keys.cmd_keys_add(venue, label=values["label"], fields=given, base_url=values["base_url"],
                                         replace=values["replace"], no_test=values["no_test"]))  # fmt: skip

    return _command(run, params)


# -- sim <venue> ------------------------------------------------------------------------------------------


def sim_app(finish: Finish) -> typer.Typer:
    """``perpvol sim <venue>``, one command per registered venue."""
    sim = typer.Typer(help="Run a local exchange simulator.", no_args_is_help=True, context_settings=_SETTINGS,
                      cls=VenueGroup)  # fmt: skip
    for name in venues.names():
        sim.command(
            name, help=f"Serve a {venues.display_name(name)} simulator until Ctrl-C. Its own options follow "
            "the common ones (--sim-help lists them).",
            context_settings={**_SETTINGS, "allow_extra_args": True, "ignore_unknown_options": True},
        )(_sim(name, finish))  # fmt: skip
    return sim


def _sim(venue: str, finish: Finish) -> Callable[..., Any]:
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        _option("port", Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")],
                inspect.Parameter.empty),
        _option("host", Annotated[str, typer.Option("--host", help="Address to bind.")], "127.0.0.1"),
        _option("seed", Annotated[int, typer.Option("--seed", help="Seed of the simulated history.")], 1),
        _option("fills", Annotated[int, typer.Option("--fills", min=0, help="Fills in the simulated history.")], 5000),
        _option("response_format", Annotated[str | None, typer.Option(
            "--format", help="The simulator's response format, where it serves several (e.g. doc or live).")], None),
        _option("live", Annotated[bool, typer.Option("--live", help="Keep producing new fills.")], False),
    ]  # fmt: skip

    def run(ctx: typer.Context, **values: Any) -> None:
        module = importlib.import_module(venues.simulator_module(venue))
        parser = simulator_parser(venue, module)
        args = parser.parse_args(list(ctx.args), namespace=argparse.Namespace(exchange=venue, **values))
        if args.sim_help:
            parser.print_help()
            raise typer.Exit(0)
        finish(lambda: module.cmd_sim(args))

    return _command(run, params)


def simulator_parser(venue: str, module: Any) -> argparse.ArgumentParser:
    """The parser of a simulator's own options (``SIM_FLAGS``); a bad one exits 2 with argparse's usage."""
    parser = argparse.ArgumentParser(prog=f"perpvol sim {venue} --port P [common options]", add_help=False,
                                     description=f"The {venues.display_name(venue)} simulator's own options.")
    parser.add_argument("--sim-help", action="store_true", help="List these options and exit.")
    for flag, dest, options in getattr(module, "SIM_FLAGS", ()):
        parser.add_argument(flag, dest=dest, **options)
    return parser
