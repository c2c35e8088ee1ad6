"""Configuration from the environment, exactly the variables of design.md."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from perpvol_core.security.redaction import Secret


class ConfigError(Exception):
    """A configuration value is missing, unreadable or invalid; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :meth:`from_env`; tests pass explicit values."""

    home: Path
    database_url: str
    master_key_file: Path | None = None
    master_key: Secret | None = field(default=None, repr=False)
    api_token: Secret | None = field(default=None, repr=False)
    password: Secret | None = field(default=None, repr=False)
    redis_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("PERPVOL_HOME") or Path.home() / ".perpvol").expanduser()
        db = env.get("PERPVOL_DATABASE_URL") or f"sqlite:///{home / 'perpvol.db'}"
        key_file = env.get("PERPVOL_MASTER_KEY_FILE")
        key = env.get("PERPVOL_MASTER_KEY")
        token = env.get("PERPVOL_API_TOKEN")
        password = env.get("PERPVOL_PASSWORD")
        return cls(
            home=home,
            database_url=db,
            master_key_file=Path(key_file).expanduser() if key_file else None,
            master_key=Secret(key) if key else None,
            api_token=Secret(token) if token else None,
            password=Secret(password) if password else None,
            redis_url=env.get("PERPVOL_REDIS_URL") or None,
        )

    def ensure_home(self) -> Path:
        """Create ``home`` (mode 0700) when missing and return it."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.home

    @property
    def default_key_file(self) -> Path:
        return self.home / "master.key"
