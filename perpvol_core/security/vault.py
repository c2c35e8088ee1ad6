"""The vault: the one place where exchange credentials are encrypted and decrypted (AES-256-GCM).

Ciphertext = ``b"pv2:" + 12-byte nonce + AES-GCM(ciphertext || tag)``, with the account's label, exchange and
base URL as associated data (:class:`Binding`): a row edited in the database (say ``base_url`` pointed at
another host) no longer decrypts, so its credential can never be sent there. ``pv1:`` blobs (no binding)
are re-encrypted bound to their row by :meth:`Vault.open`, once. The master key lives outside
the database: ``PERPVOL_MASTER_KEY`` (base64 of 32 bytes), ``PERPVOL_MASTER_KEY_FILE``, or a key file
created once (mode 0600) at ``$PERPVOL_HOME/master.key``. An encrypted check value in the store's
``meta`` table detects a wrong key before anything is decrypted or changed.

Rotation of a key file is crash-safe: the new key is first written to ``<key file>.new`` (0600), then
every credential and the check value are re-encrypted in ONE database transaction, then the new file
is renamed over the old one. If the process dies after the commit but before the rename,
:meth:`Vault.open` notices that the check value only opens with the pending key and finishes the rename.

The key file itself (its source, reading, creating, writing, the staged ``.new``) is handled in ``key_file``;
its names are re-exported here.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from perpvol_core.config import Settings
from perpvol_core.exchanges import stored_credentials
from perpvol_core.security.credentials import Credentials, credentials_to_dict
from perpvol_core.security.key_file import (  # noqa: F401  (re-exported: importers name the vault)
    _KEY_LEN,
    KeySource,
    _create_key_file_once,
    _discard_stale_pending,
    _fsync_dir,
    _read_key_file,
    decode_key,
    encode_key,
    generate_key,
    key_source,
    pending_key_path,
    write_key_file,
)
from perpvol_core.store import Store

log = logging.getLogger(__name__)

VERSION_PREFIX = b"pv2:"
#: unbound blobs of the first release; only :meth:`Vault.open` reads them, to bind them to their row.
LEGACY_PREFIX = b"pv1:"
_NONCE_LEN = 12
_AAD = b"perpvol-vault-v1"  # the check value's and the legacy blobs' associated data
CHECK_META_KEY = "vault_check"
_CHECK_PLAINTEXT = b"perpvol vault check v1"


class VaultError(Exception):
    """The vault cannot be used (missing, unreadable or malformed key, ...); the message says why."""


class WrongMasterKey(VaultError):
    """The master key does not open this database's credentials."""


class TamperedCiphertext(VaultError):
    """A ciphertext failed authentication (modified, truncated, or of an unknown version)."""


class CredentialsMismatch(TamperedCiphertext):
    """An account's credentials do not open for its stored label, exchange and base URL (the row was edited)."""


@dataclass(frozen=True)
class Binding:
    """What one credential blob is bound to (AES-GCM associated data): the account's label, exchange, base URL."""

    label: str
    exchange: str
    base_url: str | None

    @classmethod
    def of(cls, account: Any) -> Binding:
        """The binding of a stored account (anything with ``label``, ``exchange`` and ``base_url``)."""
        return cls(account.label, account.exchange, account.base_url)

    def aad(self) -> bytes:
        # JSON of a list: unambiguous (no separator an attacker could move), and None == "" (exchange default)
        return json.dumps(["perpvol-vault-v2", self.label, self.exchange, self.base_url or ""]).encode("utf-8")


def _seal(key: bytes, plaintext: bytes, aad: bytes = _AAD, prefix: bytes = VERSION_PREFIX) -> bytes:
    nonce = os.urandom(_NONCE_LEN)
    return prefix + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes = _AAD, prefix: bytes = VERSION_PREFIX) -> bytes:
    blob = bytes(blob)
    if not blob.startswith(prefix):
        raise TamperedCiphertext("ciphertext has an unknown version prefix (not written by this vault)")
    body = blob[len(prefix) :]
    if len(body) < _NONCE_LEN + 16:
        raise TamperedCiphertext("ciphertext is truncated")
    try:
        return AESGCM(key).decrypt(body[:_NONCE_LEN], body[_NONCE_LEN:], aad)
    except InvalidTag as exc:
        raise TamperedCiphertext("ciphertext failed authentication (tampered, or another master key)") from exc


def _check_value(key: bytes) -> str:
    return base64.b64encode(_seal(key, _CHECK_PLAINTEXT, prefix=LEGACY_PREFIX)).decode("ascii")


def _key_opens_check(key: bytes, stored_check: str) -> bool:
    try:
        return _open(key, base64.b64decode(stored_check), prefix=LEGACY_PREFIX) == _CHECK_PLAINTEXT
    except (TamperedCiphertext, binascii.Error, ValueError):
        return False


class Vault:
    """Encrypts and decrypts credentials with one master key. Build with :meth:`open`."""

    def __init__(self, key: bytes, source: KeySource | None = None) -> None:
        if len(key) != _KEY_LEN:
            raise VaultError("a master key is 32 bytes")
        self._key = bytes(key)
        self.source = source or KeySource(from_env=True, path=None)

    def __repr__(self) -> str:
        return f"Vault({self.source.describe()})"

    @classmethod
    def open(cls, settings: Settings, store: Store) -> Vault:
        """Load the master key and verify it against the store's check value.

        On first use (no check value yet) the check value is written; without any configured key a key
        file is created once at ``settings.default_key_file``, but never when the database already holds
        encrypted data (that would silently orphan it). A rotation interrupted after its database commit
        is finished here.

        Raises:
            ConfigError: a configured key (env or file) is unreadable or malformed.
            WrongMasterKey: the key does not open this database (nothing is changed).
            VaultError: the default key file is missing but the database has encrypted credentials.
        """
        source = key_source(settings)
        stored_check = store.get_meta(CHECK_META_KEY)
        if source.from_env:
            assert settings.master_key is not None
            key = decode_key(settings.master_key.reveal(), "PERPVOL_MASTER_KEY")
        else:
            assert source.path is not None
            key = cls._file_key(settings, source.path, store, stored_check)
        if stored_check is None:
            stored_check = store.set_meta_if_absent(CHECK_META_KEY, _check_value(key))
        if _key_opens_check(key, stored_check):
            if source.path is not None:
                _discard_stale_pending(source.path)
            return cls(key, source)._bind_legacy(store)
        if source.path is not None:
            finished = _finish_pending_rotation(source.path, stored_check)
            if finished is not None:
                return cls(finished, source)._bind_legacy(store)
        raise WrongMasterKey(
            f"the master key ({source.describe()}) does not match this database "
            f"({store!r}): its credentials were encrypted with another key. Point PERPVOL_MASTER_KEY or "
            "PERPVOL_MASTER_KEY_FILE at the right key; nothing was changed."
        )

    @staticmethod
    def _file_key(settings: Settings, path: Path, store: Store, stored_check: str | None) -> bytes:
        if path.exists() or settings.master_key_file is not None:
            return _read_key_file(path)  # a configured file that is missing is an error, never a new key
        pending = pending_key_path(path)
        if stored_check is not None or store.list_accounts():
            if pending.exists():  # crash after a rotation's commit AND after the old file vanished
                return _read_key_file(pending)
            raise VaultError(
                f"master key file {path} is missing but the database holds encrypted credentials; "
                "restore the key file or set PERPVOL_MASTER_KEY_FILE"
            )
        return _create_key_file_once(path)

    # -- the one choke point ----------------------------------------------------------------------

    def encrypt(self, creds: Credentials, *, label: str, base_url: str | None) -> bytes:
        """Encrypt credentials for the account ``label`` at ``base_url`` (the exchange is ``creds.exchange``).

        The blob opens only for that label, exchange and base URL: changing any of them means encrypting again.
        """
        plaintext = json.dumps(credentials_to_dict(creds), separators=(",", ":")).encode("utf-8")
        return _seal(self._key, plaintext, Binding(label, creds.exchange, base_url).aad())

    def decrypt(self, blob: bytes, binding: Binding) -> Credentials:
        """Decrypt a stored blob bound to ``binding``. Raises: TamperedCiphertext (never returns garbage)."""
        plaintext = _open(self._key, blob, binding.aad())
        try:
            creds = stored_credentials(json.loads(plaintext))
        except (ValueError, KeyError, TypeError) as exc:
            raise TamperedCiphertext("decrypted credentials are malformed") from exc
        if creds.exchange != binding.exchange:  # cannot happen without the key; checked anyway
            raise TamperedCiphertext("decrypted credentials belong to another exchange")
        return creds

    def decrypt_account(self, account: Any) -> Credentials:
        """The credentials of a stored account (``label``, ``exchange``, ``base_url``, ``credentials``).

        Raises:
            CredentialsMismatch: the blob does not open for this row's label, exchange and base URL (the row
                was edited outside perpvol, or the cell is corrupt); the message names the account only.
        """
        try:
            return self.decrypt(account.credentials, Binding.of(account))
        except TamperedCiphertext as exc:
            raise CredentialsMismatch(
                f"the stored credentials of account {account.label!r} do not open for its label, exchange and "
                f"base URL ({exc}); its row was changed outside perpvol or is corrupt: add the key again "
                "(`perpvol keys add ... --replace`)"
            ) from None

    def _bind_legacy(self, store: Store) -> Vault:
        """Re-encrypt every ``pv1:`` (unbound) blob bound to its row, in one transaction; returns ``self``.

        A legacy blob that does not open is left as it is: only its own account fails (on decrypt).
        """

        def bind(row: Any, blob: bytes) -> bytes:
            if not blob.startswith(LEGACY_PREFIX):
                return blob
            try:
                plaintext = _open(self._key, blob, prefix=LEGACY_PREFIX)
            except TamperedCiphertext:
                log.warning("credentials of account %r do not open; left as they are", row.label)
                return blob
            return _seal(self._key, plaintext, Binding.of(row).aad())

        accounts = store.list_accounts()
        if any(bytes(a.credentials).startswith(LEGACY_PREFIX) for a in accounts):
            count = store.rewrite_credentials(bind)
            log.info("bound the credentials of %d account(s) to their label, exchange and base URL", count)
        return self

    # -- rotation ------------------------------------------------------------------------------------

    def rotate(self, store: Store, new_key: bytes) -> int:
        """Re-encrypt every credential and the check value under ``new_key`` in ONE transaction.

        Afterwards this vault uses the new key. Returns the number of credentials re-encrypted.
        Raises: TamperedCiphertext naming the account whose blob does not open (nothing is changed).
        """
        if len(new_key) != _KEY_LEN:
            raise VaultError("a master key is 32 bytes")

        def reencrypt(row: Any, blob: bytes) -> bytes:
            aad = Binding.of(row).aad()
            try:
                return _seal(new_key, _open(self._key, blob, aad), aad)
            except TamperedCiphertext as exc:
                raise TamperedCiphertext(f"account {row.label!r}: {exc}; remove or re-add it, then rotate") from None

        count = store.rewrite_credentials(reencrypt, {CHECK_META_KEY: _check_value(new_key)})
        self._key = bytes(new_key)
        return count


def _finish_pending_rotation(path: Path, stored_check: str) -> bytes | None:
    """If ``<path>.new`` opens the check value, the rotation committed: move it into place and return it."""
    pending = pending_key_path(path)
    if not pending.exists():
        return None
    key = _read_key_file(pending)
    if not _key_opens_check(key, stored_check):
        return None
    os.replace(pending, path)
    _fsync_dir(path.parent)
    log.warning("finished an interrupted master key rotation: %s now holds the new key", path)
    return key


def rotate_master_key(settings: Settings, store: Store, new_key_file: Path | None = None) -> tuple[Path, int]:
    """Rotate to a fresh master key, crash-safely. Returns (file holding the new key, credentials re-encrypted).

    With a key file (default or ``PERPVOL_MASTER_KEY_FILE``) and no ``new_key_file``, the file is replaced
    (staged as ``<file>.new``, database commit, atomic rename). With ``new_key_file`` the new key goes
    there and the old file is left alone. An environment key requires ``new_key_file``.

    Raises:
        VaultError: env key without ``new_key_file``, or ``new_key_file`` already exists.
        WrongMasterKey / ConfigError: as :meth:`Vault.open`.
    """
    vault = Vault.open(settings, store)
    new_key = generate_key()
    if new_key_file is not None:
        if new_key_file.exists():
            raise VaultError(f"{new_key_file} already exists; choose a new path for the new key")
        write_key_file(new_key_file, new_key)
        try:
            count = vault.rotate(store, new_key)
        except BaseException:
            new_key_file.unlink(missing_ok=True)  # the database still uses the old key
            raise
        return new_key_file, count
    if vault.source.from_env or vault.source.path is None:
        raise VaultError(
            "the master key comes from PERPVOL_MASTER_KEY; rotate with --new-key-file PATH, then set "
            "PERPVOL_MASTER_KEY_FILE=PATH (or PERPVOL_MASTER_KEY to its content) and unset the old value"
        )
    path = vault.source.path
    pending = pending_key_path(path)
    write_key_file(pending, new_key)
    try:
        count = vault.rotate(store, new_key)
    except BaseException:
        pending.unlink(missing_ok=True)
        raise
    os.replace(pending, path)
    _fsync_dir(path.parent)
    return path, count
