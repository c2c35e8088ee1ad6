"""The typer command line: every command and option explains itself, ``perpvol --help`` works, the documented
command tree parses to the right command with the right values, and the venue commands (``keys add <venue>``,
``sim <venue>``) exist for every registered venue with options from its credential kinds."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from perpvol_cli.main import command, main
from perpvol_cli.venues import credential_options
from perpvol_core.exchanges import KINDS, VENUES


def parse(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """(the command's path, every value parsed on the way) of a command line, without running it."""
    root = command()
    ctx = root.make_context("perpvol", list(argv))
    path: list[str] = []
    params = dict(ctx.params)
    cmd: Any = root
    while getattr(cmd, "commands", None) is not None:  # a group (typer's own click classes)
        name, sub, rest = cmd.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None and name is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        path.append(name)
        params.update(ctx.params)
        cmd = sub
    return " ".join(path), params


def _commands(cmd: Any, path: tuple[str, ...] = ()):  # noqa: ANN202
    yield path, cmd
    for name, sub in (getattr(cmd, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_option_and_argument_has_help() -> None:
    missing = []
    for path, cmd in _commands(command()):
        if path and not (cmd.help or "").strip():
            missing.append(" ".join(path))
        for param in cmd.params:
            if param.name != "help" and not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.name}")
    assert not missing, missing


def test_every_venue_has_its_commands() -> None:
    paths = {" ".join(p) for p, _ in _commands(command())}
    for name in VENUES:
        assert {f"keys add {name}", f"sim {name}"} <= paths


def test_help_runs_in_a_real_process() -> None:
    for argv in ([], ["keys", "add"], ["sync"], ["volume"], ["keys", "add", next(iter(VENUES))]):
        proc = subprocess.run([sys.executable, "-m", "perpvol_cli.main", *argv, "--help"], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0 and "Usage: perpvol" in proc.stdout, proc.stderr
        assert "design.md" not in proc.stdout  # no pointer to a document outside the repository


@pytest.mark.parametrize(
    ("argv", "path", "fields"),
    [
        (["keys", "list", "--json"], "keys list", {"json": True}),
        (["keys", "test", "L"], "keys test", {"label": "L"}),
        (["keys", "remove", "L"], "keys remove", {"label": "L"}),
        (["sync", "--label", "L", "--days", "7"], "sync", {"label": "L", "days": 7}),
        (["volume", "--json", "--daily", "--from", "2026-01-01", "--to", "2026-01-31"], "volume",
         {"json": True, "daily": True, "date_from": "2026-01-01", "date_to": "2026-01-31"}),
        (["export", "--format", "parquet", "--out", "f.parquet"], "export", {"out": "f.parquet"}),
        (["serve", "--port", "5007"], "serve", {"port": 5007, "address": "127.0.0.1", "no_worker": False}),
        (["demo", "--port", "5010"], "demo", {"port": 5010, "fills": 20000, "seed": 7}),
        (["-v", "worker"], "worker", {"verbose": True, "check": False}),
        (["embed", "create", "--name", "n"], "embed create", {"name": "n"}),
        (["embed", "revoke", "3"], "embed revoke", {"token_id": "3"}),
    ],
)  # fmt: skip
def test_documented_command_lines_parse_to_their_commands(argv: list[str], path: str, fields: dict) -> None:
    got_path, params = parse(argv)
    assert got_path == path
    assert {k: params[k] for k in fields} == fields


@pytest.mark.parametrize("venue", list(VENUES))
def test_keys_add_options_come_from_the_credential_kinds(venue: str) -> None:
    """``keys add <venue>``: a plain field is an option with its value; a secret field only a ``-stdin`` flag."""
    options = credential_options(venue)
    fields = {f for m in KINDS.values() if m.exchange == venue for f in m.model_fields if f != "kind"}
    assert {o.field for o in options} == fields
    argv = ["keys", "add", venue, "--label", "L", "--base-url", "http://127.0.0.1:9"]
    for o in options:
        argv += [o.flag] if o.secret else [o.flag, f"value-of-{o.field}"]
    path, params = parse(argv)
    assert path == f"keys add {venue}" and params["label"] == "L" and params["base_url"] == "http://127.0.0.1:9"
    for o in options:
        assert params[o.field] is True if o.secret else params[o.field] == f"value-of-{o.field}"
        if o.secret:  # a secret never as a value on the command line
            with pytest.raises(Exception) as refused:  # noqa: PT011 - typer's own (vendored) click UsageError
                parse(["keys", "add", venue, "--label", "L", o.flag.removesuffix("-stdin"), "s3cret"])
            assert getattr(refused.value, "exit_code", None) == 2


@pytest.mark.parametrize("venue", list(VENUES))
def test_sim_of_every_venue_parses(venue: str) -> None:
    path, params = parse(["sim", venue, "--port", "9000", "--live", "--fills", "10"])
    assert path == f"sim {venue}" and params["port"] == 9000 and params["live"] and params["fills"] == 10


@pytest.mark.parametrize(
    "argv",
    [["sync", "--days", "0"], ["sync", "--days", "-3"], ["volume", "--exchange", "kraken"],
     ["keys", "add", next(iter(VENUES))], ["keys", "add", "kraken", "--label", "x"],
     ["export", "--format", "xls", "--out", "x"], ["nope"], [], ["sim", "kraken", "--port", "9000"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_an_unknown_exchange_is_named_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "add", "kraken", "--label", "x"]) == 2
    err = capsys.readouterr().err
    assert "kraken" in err and all(name in err for name in VENUES)
