"""Vault: round trip, key sources, wrong key, tampering, rotation and its crash safety."""

from __future__ import annotations

import base64
import dataclasses
import stat
from pathlib import Path

import pytest

from perpvol_core.config import ConfigError, Settings
from perpvol_core.exchanges.paradex.credentials import ParadexL2Credentials, ParadexTokenCredentials
from perpvol_core.exchanges.woox.credentials import WooxCredentials
from perpvol_core.security.redaction import Secret
from perpvol_core.security.vault import (
    CHECK_META_KEY,
    LEGACY_PREFIX,
    VERSION_PREFIX,
    Binding,
    CredentialsMismatch,
    TamperedCiphertext,
    Vault,
    VaultError,
    WrongMasterKey,
    encode_key,
    generate_key,
    pending_key_path,
    rotate_master_key,
    write_key_file,
)
from perpvol_core.store import Store

CREDS = [
    WooxCredentials(api_key="AbCdEf123456", api_secret=Secret("woox-secret-0123456789")),
    ParadexTokenCredentials(token=Secret("eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiIweDEifQ.c2lnbmF0dXJl")),
    ParadexL2Credentials(account="0x1a2b3c", l2_key=Secret("0x543b6cf6c91817a87174aaea4fb370ac1c694e86")),
]


def _env_settings(base: Settings, key: bytes) -> Settings:
    return dataclasses.replace(base, master_key=Secret(encode_key(key)))


def _seed(settings: Settings) -> tuple[Store, Vault]:
    store = Store.open(settings)
    vault = Vault.open(settings, store)
    for i, creds in enumerate(CREDS):
        store.add_account(f"acc{i}", creds.exchange, None, vault.encrypt(creds, label=f"acc{i}", base_url=None),
                          creds.hint)
    return store, vault


def _snapshot(store: Store) -> tuple:
    return tuple((a.label, a.credentials) for a in store.list_accounts()), store.get_meta(CHECK_META_KEY)


def test_round_trip_and_default_key_file(settings: Settings) -> None:
    store, vault = _seed(settings)
    key_file = settings.default_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for account, creds in zip(store.list_accounts(), CREDS, strict=True):
        blob = account.credentials
        assert blob.startswith(VERSION_PREFIX)
        for secret in ("woox-secret-0123456789", "eyJhbGciOiJFUzM4NCJ9", "0x543b6cf6c91817a8"):
            assert secret.encode() not in blob
        assert vault.decrypt_account(account) == creds
    reopened = Vault.open(settings, store)  # the same key file, not a new one
    assert [reopened.decrypt_account(a) for a in store.list_accounts()] == CREDS
    assert settings.default_key_file.read_text().strip() not in repr(reopened)


def test_wrong_key_is_refused_and_changes_nothing(settings: Settings) -> None:
    store, _ = _seed(settings)
    before = _snapshot(store)
    key_before = settings.default_key_file.read_bytes()
    with pytest.raises(WrongMasterKey, match="does not match this database"):
        Vault.open(_env_settings(settings, generate_key()), store)
    other_file = settings.home / "other.key"
    write_key_file(other_file, generate_key())
    with pytest.raises(WrongMasterKey):
        Vault.open(dataclasses.replace(settings, master_key_file=other_file), store)
    assert _snapshot(store) == before and settings.default_key_file.read_bytes() == key_before


def test_bad_key_sources_are_errors_never_new_keys(sqlite_settings: Settings) -> None:
    store = Store.open(sqlite_settings)
    missing = sqlite_settings.home / "missing.key"
    with pytest.raises(ConfigError, match="cannot read master key file"):
        Vault.open(dataclasses.replace(sqlite_settings, master_key_file=missing), store)
    assert not missing.exists()
    bad = sqlite_settings.home / "bad.key"
    bad.write_text("not a key")
    bad.chmod(0o600)
    with pytest.raises(ConfigError, match="not valid base64"):
        Vault.open(dataclasses.replace(sqlite_settings, master_key_file=bad), store)
    short = sqlite_settings.home / "short.key"
    short.write_text(base64.b64encode(b"x" * 16).decode())
    short.chmod(0o600)
    with pytest.raises(ConfigError, match="32 bytes"):
        Vault.open(dataclasses.replace(sqlite_settings, master_key_file=short), store)
    with pytest.raises(ConfigError):
        Vault.open(dataclasses.replace(sqlite_settings, master_key=Secret("%%%%")), store)
    assert not sqlite_settings.default_key_file.exists() and store.get_meta(CHECK_META_KEY) is None


def test_missing_default_key_with_existing_data_is_an_error(sqlite_settings: Settings) -> None:
    store, _ = _seed(sqlite_settings)
    sqlite_settings.default_key_file.unlink()
    with pytest.raises(VaultError, match="missing"):
        Vault.open(sqlite_settings, store)
    assert not sqlite_settings.default_key_file.exists()


def test_tampered_ciphertext(sqlite_settings: Settings) -> None:
    _, vault = _seed(sqlite_settings)
    blob = vault.encrypt(CREDS[0], label="acc0", base_url=None)
    binding = Binding("acc0", CREDS[0].exchange, None)
    assert vault.decrypt(blob, binding) == CREDS[0]
    for bad in (
        blob[:-1] + bytes([blob[-1] ^ 1]),
        blob[:20] + bytes([blob[20] ^ 0x80]) + blob[21:],
        b"pv0:" + blob[4:],
        blob[:10],
        b"",
    ):
        with pytest.raises(TamperedCiphertext):
            vault.decrypt(bad, binding)
    other = Vault(generate_key())
    with pytest.raises(TamperedCiphertext):
        other.decrypt(blob, binding)


def test_rotate_key_file(settings: Settings) -> None:
    store, _ = _seed(settings)
    old_key = settings.default_key_file.read_text()
    path, count = rotate_master_key(settings, store)
    assert path == settings.default_key_file and count == len(CREDS)
    assert settings.default_key_file.read_text() != old_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and not pending_key_path(path).exists()
    vault = Vault.open(settings, store)
    assert [vault.decrypt_account(a) for a in store.list_accounts()] == CREDS
    with pytest.raises(WrongMasterKey):
        Vault.open(dataclasses.replace(settings, master_key=Secret(old_key.strip())), store)


def test_rotation_crash_after_commit_is_finished_on_open(sqlite_settings: Settings) -> None:
    store, vault = _seed(sqlite_settings)
    key_file = sqlite_settings.default_key_file
    new_key = generate_key()
    # the first two steps of rotate_master_key, then "crash" before the rename
    write_key_file(pending_key_path(key_file), new_key)
    vault.rotate(store, new_key)
    reopened = Vault.open(sqlite_settings, store)
    assert key_file.read_text().strip() == encode_key(new_key) and not pending_key_path(key_file).exists()
    assert [reopened.decrypt_account(a) for a in store.list_accounts()] == CREDS


def test_rotation_crash_before_commit_keeps_old_key(sqlite_settings: Settings) -> None:
    store, _ = _seed(sqlite_settings)
    key_file = sqlite_settings.default_key_file
    old = key_file.read_text()
    before = _snapshot(store)
    write_key_file(pending_key_path(key_file), generate_key())  # staged, the database never committed
    vault = Vault.open(sqlite_settings, store)
    assert key_file.read_text() == old and not pending_key_path(key_file).exists() and _snapshot(store) == before
    assert [vault.decrypt_account(a) for a in store.list_accounts()] == CREDS


def test_rotate_with_env_key_needs_a_new_key_file(sqlite_settings: Settings, tmp_path: Path) -> None:
    env_settings = _env_settings(sqlite_settings, generate_key())
    store, _ = _seed(env_settings)
    before = _snapshot(store)
    with pytest.raises(VaultError, match="--new-key-file"):
        rotate_master_key(env_settings, store)
    assert _snapshot(store) == before
    new_file = tmp_path / "new.key"
    path, count = rotate_master_key(env_settings, store, new_file)
    assert path == new_file and count == len(CREDS) and stat.S_IMODE(new_file.stat().st_mode) == 0o600
    with pytest.raises(WrongMasterKey):
        Vault.open(env_settings, store)
    vault = Vault.open(dataclasses.replace(sqlite_settings, master_key_file=new_file), store)
    assert [vault.decrypt_account(a) for a in store.list_accounts()] == CREDS


def _edit_row(store: Store, which: str, **values: object) -> None:
    """What someone with write access to the database could do (outside perpvol)."""
    from perpvol_core.store import models as m

    with store._engine.begin() as conn:  # the raw edit is the point here
        conn.execute(m.accounts.update().where(m.accounts.c.label == which).values(**values))


def test_credentials_are_bound_to_label_exchange_and_base_url(settings: Settings) -> None:
    store, vault = _seed(settings)
    _edit_row(store, "acc1", base_url="https://attacker.example")
    edited = store.get_account("acc1")
    with pytest.raises(CredentialsMismatch, match="'acc1'.*outside perpvol") as info:
        vault.decrypt_account(edited)
    assert "eyJhbGci" not in str(info.value)
    # the other accounts still open; renaming a row or moving a blob to another row fails the same way
    assert vault.decrypt_account(store.get_account("acc0")) == CREDS[0]
    _edit_row(store, "acc1", base_url=None, label="renamed")
    with pytest.raises(CredentialsMismatch):
        vault.decrypt_account(store.get_account("renamed"))
    _edit_row(store, "acc2", credentials=store.get_account("acc0").credentials)
    with pytest.raises(CredentialsMismatch, match="'acc2'"):
        vault.decrypt_account(store.get_account("acc2"))
    # None and "" (the exchange default) are the same binding; any other URL is not
    blob = vault.encrypt(CREDS[0], label="x", base_url=None)
    assert vault.decrypt(blob, Binding("x", "woox", "")) == CREDS[0]
    with pytest.raises(TamperedCiphertext):
        vault.decrypt(blob, Binding("x", "woox", "http://127.0.0.1:1"))


def test_legacy_blobs_are_bound_to_their_row_on_open(sqlite_settings: Settings) -> None:
    """A database of the first release (``pv1:``, no associated data) is re-encrypted once, bound."""
    import json as _json

    from perpvol_core.security import vault as vault_mod
    from perpvol_core.security.credentials import credentials_to_dict

    store = Store.open(sqlite_settings)
    vault = Vault.open(sqlite_settings, store)
    key = vault._key
    for i, creds in enumerate(CREDS):
        plaintext = _json.dumps(credentials_to_dict(creds)).encode()
        legacy = vault_mod._seal(key, plaintext, prefix=LEGACY_PREFIX)  # what the first release wrote
        store.add_account(f"old{i}", creds.exchange, "https://api.example" if i else None, legacy, creds.hint)
    store.add_account("broken", "woox", None, LEGACY_PREFIX + b"\x00" * 40, "masked")
    reopened = Vault.open(sqlite_settings, store)
    accounts = {a.label: a for a in store.list_accounts()}
    for i, creds in enumerate(CREDS):
        assert accounts[f"old{i}"].credentials.startswith(VERSION_PREFIX)
        assert reopened.decrypt_account(accounts[f"old{i}"]) == creds
    # a corrupt cell fails only its own account, with a clear message, and is left untouched
    assert accounts["broken"].credentials == LEGACY_PREFIX + b"\x00" * 40
    with pytest.raises(CredentialsMismatch, match="'broken'"):
        reopened.decrypt_account(accounts["broken"])
    # after binding, a pv1 blob is never accepted again (no downgrade by pasting an old blob)
    _edit_row(store, "old0", credentials=vault_mod._seal(key, b"{}", prefix=LEGACY_PREFIX))
    with pytest.raises(CredentialsMismatch):
        reopened.decrypt_account(store.get_account("old0"))


def test_rotation_keeps_the_binding_and_names_a_corrupt_account(sqlite_settings: Settings) -> None:
    store, vault = _seed(sqlite_settings)
    vault.rotate(store, generate_key())
    assert [vault.decrypt_account(a) for a in store.list_accounts()] == CREDS
    _edit_row(store, "acc1", base_url="https://elsewhere.example")
    before = _snapshot(store)
    with pytest.raises(TamperedCiphertext, match="'acc1'"):
        vault.rotate(store, generate_key())
    assert _snapshot(store) == before
