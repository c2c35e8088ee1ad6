"""A master key file that group or others may read is refused, as ssh refuses such a private key.

The refusal names the exact ``chmod 600 <path>`` that fixes it and never echoes the key; a file only its
owner can read opens. Checked on the vault itself and through ``perpvol keys add`` as a subprocess.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from perpvol_core.config import ConfigError, Settings
from perpvol_core.security.vault import CHECK_META_KEY, Vault, generate_key, write_key_file
from perpvol_core.store import Store
from tests.cli.test_cli_foundation import API_KEY, SECRET, make_env, run


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_open_to_group_or_others_is_refused_with_the_fix(sqlite_settings: Settings, mode: int) -> None:
    key_file = sqlite_settings.home / "keys" / "master.key"
    write_key_file(key_file, generate_key())
    key_file.chmod(mode)
    store = Store.open(sqlite_settings)
    try:
        with pytest.raises(ConfigError) as refused:
            Vault.open(dataclasses.replace(sqlite_settings, master_key_file=key_file), store)
        message = str(refused.value)
        assert f"`chmod 600 {key_file}`" in message and "group or others" in message and f"{mode:04o}" in message
        assert key_file.read_text().strip() not in message
        assert store.get_meta(CHECK_META_KEY) is None  # nothing recorded from a refused key
    finally:
        store.close()


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_key_file_only_its_owner_reads_opens(sqlite_settings: Settings, mode: int) -> None:
    key_file = sqlite_settings.home / "keys" / "master.key"
    write_key_file(key_file, generate_key())
    key_file.chmod(mode)
    store = Store.open(sqlite_settings)
    try:
        Vault.open(dataclasses.replace(sqlite_settings, master_key_file=key_file), store)
        assert store.get_meta(CHECK_META_KEY)
    finally:
        store.close()


def test_perpvol_refuses_a_0644_key_file_and_says_the_command(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    write_key_file(key_file, generate_key())
    key_file.chmod(0o644)
    env = make_env(tmp_path / "home", PERPVOL_MASTER_KEY_FILE=str(key_file))
    add = ["keys", "add", "woox", "--label", "x", "--api-key", API_KEY, "--api-secret-stdin", "--no-test"]
    refused = run(env, *add, stdin=SECRET + "\n")
    assert refused.returncode != 0 and f"chmod 600 {key_file}" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert json.loads(run(env, "keys", "list", "--json").stdout) == []  # nothing was added
    key_file.chmod(0o600)  # the command the message gave
    added = run(env, *add, stdin=SECRET + "\n")
    assert added.returncode == 0, added.stderr
