"""The typer command line: every command and option explains itself, ``perpvol --help`` works, and the
documented command tree of design.md parses to the handlers' namespaces."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from perpvol_cli.main import _HANDLERS, _handler_key, app, parse_args


def _commands(command, path=()):  # noqa: ANN001, ANN202
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_option_and_argument_has_help() -> None:
    missing = []
    for path, command in _commands(typer.main.get_command(app)):
        if path and not (command.help or "").strip():
            missing.append(" ".join(path))
        for param in command.params:
            if param.name != "help" and not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {param.name}")
    assert not missing, missing


def test_help_runs_in_a_real_process() -> None:
    for argv in ([], ["keys", "add"], ["sync"], ["volume"]):
        proc = subprocess.run([sys.executable, "-m", "perpvol_cli.main", *argv, "--help"], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 0 and "Usage: perpvol" in proc.stdout, proc.stderr


@pytest.mark.parametrize(
    ("argv", "key", "fields"),
    [
        (["keys", "add", "woox", "--label", "L", "--api-key", "K", "--api-secret-stdin"], "keys.add",
         {"exchange": "woox", "label": "L", "api_key": "K", "api_secret_stdin": True, "replace": False}),
        (["keys", "add", "paradex", "--label", "L", "--account", "0x1", "--l2-key-stdin", "--base-url", "http://x"],
         "keys.add", {"account": "0x1", "l2_key_stdin": True, "base_url": "http://x"}),
        (["keys", "list", "--json"], "keys.list", {"json": True}),
        (["keys", "test", "L"], "keys.test", {"label": "L"}),
        (["keys", "remove", "L"], "keys.remove", {"label": "L"}),
        (["sync", "--label", "L", "--days", "7"], "sync", {"label": "L", "days": 7}),
        (["volume", "--json", "--daily", "--from", "2026-01-01", "--to", "2026-01-31", "--exchange", "paradex"],
         "volume", {"json": True, "daily": True, "date_from": "2026-01-01", "date_to": "2026-01-31",
                    "exchange": "paradex"}),
        (["export", "--format", "parquet", "--out", "f.parquet"], "export", {"format": "parquet", "out": "f.parquet"}),
        (["serve", "--port", "5007"], "serve", {"port": 5007, "address": "127.0.0.1", "no_worker": False}),
        (["demo", "--port", "5010"], "demo", {"port": 5010, "fills": 20000, "seed": 7}),
        (["-v", "worker"], "worker", {"verbose": True}),
        (["sim", "woox", "--port", "9000", "--format", "doc", "--live"], "sim.woox",
         {"exchange": "woox", "port": 9000, "response_format": "doc", "live": True, "fills": 5000}),
        (["embed", "create", "--name", "n"], "embed.create", {"name": "n"}),
        (["embed", "revoke", "3"], "embed.revoke", {"token_id": "3"}),
    ],
)  # fmt: skip
def test_documented_command_lines_parse_to_their_handlers(argv: list[str], key: str, fields: dict) -> None:
    args = parse_args(argv)
    assert _handler_key(args) == key and key in _HANDLERS
    assert {k: getattr(args, k) for k in fields} == fields


@pytest.mark.parametrize(
    "argv",
    [["sync", "--days", "0"], ["sync", "--days", "-3"], ["volume", "--exchange", "kraken"], ["keys", "add", "woox"],
     ["export", "--format", "xls", "--out", "x"], ["nope"], []],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as err:
        parse_args(argv)
    assert err.value.code == 2
