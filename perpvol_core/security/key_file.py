"""The master key's file: where the key comes from (:class:`KeySource`), and reading, creating and writing the key
file (mode 0600, written atomically, fsynced; refused when group or others may read it) and its rotation's
staged ``<key file>.new``.

Kept apart from the vault (``vault``), which imports this module and re-exports its names: these are file and
encoding chores with no cipher work, so the vault reads as the encryption and the rotation's transaction. This
module never imports the vault (no cycle between the two), so the one staged-key step that needs the cipher,
finishing an interrupted rotation (does ``.new`` open the check value?), stays in the vault.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets as _random
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from perpvol_core.config import ConfigError, Settings

log = logging.getLogger(__name__)

_KEY_LEN = 32
#: a key file is 45 bytes (base64 of 32 bytes and a newline); reading stops well past that
_MAX_KEY_FILE = 4096


@dataclass(frozen=True)
class KeySource:
    """Where the master key comes from: the environment, or a file (given or default)."""

    from_env: bool
    path: Path | None

    def describe(self) -> str:
        return "PERPVOL_MASTER_KEY" if self.from_env else f"key file {self.path}"


def generate_key() -> bytes:
    """A fresh random 32-byte master key."""
    return AESGCM.generate_key(bit_length=256)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """Decode a base64 master key. Raises: ConfigError naming ``where`` (never echoing the value)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{where} is not valid base64 (expected base64 of 32 random bytes)") from exc
    if len(key) != _KEY_LEN:
        raise ConfigError(f"{where} decodes to {len(key)} bytes; a master key is 32 bytes of base64")
    return key


def write_key_file(path: Path, key: bytes) -> None:
    """Write ``key`` to ``path`` atomically with mode 0600 (temp file, fsync, rename, fsync the folder).

    Raises: OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{_random.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (encode_key(key) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _create_key_file_once(path: Path) -> bytes:
    """Create ``path`` with a fresh key unless another process just did; returns the key in the file.

    The key is written to a temp file and hard-linked into place, which fails when ``path`` exists, so
    two first runs at once agree on one key instead of the later silently replacing the earlier.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{_random.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (encode_key(generate_key()) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        _fsync_dir(path.parent)
        log.info("created master key file %s", path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key_file(path)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_key_file(path: Path) -> bytes:
    """The key in ``path``, refused (as ssh refuses a private key) when group or others may use the file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO named as the key never hangs us
    except OSError as exc:
        raise ConfigError(f"cannot read master key file {path}: {exc.strerror or exc}") from exc
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)  # the file we read, not whatever the path names later
        if mode & 0o077:
            raise ConfigError(
                f"master key file {path} is open to group or others (mode {mode:04o}), so perpvol will not use "
                f"it; only its owner may read it: run `chmod 600 {shlex.quote(str(path))}` and start again"
            )
        with os.fdopen(os.dup(fd), "rb") as fh:
            text = fh.read(_MAX_KEY_FILE).decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read master key file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    finally:
        os.close(fd)
    return decode_key(text, f"master key file {path}")


def pending_key_path(path: Path) -> Path:
    """Where a rotation stages the new key before the database commit."""
    return path.with_name(path.name + ".new")


def key_source(settings: Settings) -> KeySource:
    if settings.master_key is not None:
        return KeySource(from_env=True, path=None)
    return KeySource(from_env=False, path=settings.master_key_file or settings.default_key_file)


def _discard_stale_pending(path: Path) -> None:
    """A ``.new`` key that does not open the database is from a rotation that never committed."""
    pending = pending_key_path(path)
    if pending.exists():
        pending.unlink()
        log.warning("discarded %s: its rotation never committed", pending)
