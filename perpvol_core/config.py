"""Configuration from the environment, exactly the variables of design.md.

The environment is read by ``pydantic-settings`` (prefix ``PERPVOL_``, exact case, an empty value counts as
unset); :class:`Settings` is the resolved, immutable result that the rest of the code and the tests use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from perpvol_core.security.redaction import Secret


class ConfigError(Exception):
    """A configuration value is missing, unreadable or invalid; the message says which and why."""


class _Environment(BaseSettings):
    """The ``PERPVOL_*`` variables as given (``None`` when unset or empty)."""

    model_config = SettingsConfigDict(env_prefix="PERPVOL_", case_sensitive=True, env_ignore_empty=True, extra="ignore")

    HOME: Path | None = None
    DATABASE_URL: str | None = None
    MASTER_KEY_FILE: Path | None = None
    MASTER_KEY: str | None = None
    API_TOKEN: str | None = None
    PASSWORD: str | None = None
    REDIS_URL: str | None = None
    TRUSTED_PROXIES: str | None = None


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` or one passed by a caller)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(_Environment)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


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
    #: ``PERPVOL_TRUSTED_PROXIES`` as given: the reverse proxies whose ``X-Forwarded-*`` headers count (none)
    trusted_proxies: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``); unset or empty variables take their defaults.

        Every variable is text (or a path), so reading never fails; a bad value (an unreadable key file, a
        malformed master key or URL) raises ``ConfigError``/``StoreError`` where it is used.
        """
        raw = _Environment.model_validate(_MappingSource(os.environ if env is None else env)())
        home = (raw.HOME or Path.home() / ".perpvol").expanduser()
        return cls(
            home=home,
            database_url=raw.DATABASE_URL or f"sqlite:///{home / 'perpvol.db'}",
            master_key_file=raw.MASTER_KEY_FILE.expanduser() if raw.MASTER_KEY_FILE else None,
            master_key=Secret(raw.MASTER_KEY) if raw.MASTER_KEY else None,
            api_token=Secret(raw.API_TOKEN) if raw.API_TOKEN else None,
            password=Secret(raw.PASSWORD) if raw.PASSWORD else None,
            redis_url=raw.REDIS_URL or None,
            trusted_proxies=raw.TRUSTED_PROXIES or None,
        )

    def ensure_home(self) -> Path:
        """Create ``home`` (mode 0700) when missing and return it."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.home

    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """``PERPVOL_TRUSTED_PROXIES`` (comma-separated IP addresses or CIDR networks) checked; () when unset.

        Only a request whose peer is one of these may say, in ``X-Forwarded-For``/``-Proto``, who the client
        is and whether it came over TLS. Raises: ConfigError naming the entry that is not an address/network.
        """
        networks = []
        for entry in (self.trusted_proxies or "").split(","):
            if not entry.strip():
                continue
            try:
                networks.append(ip_network(entry.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"PERPVOL_TRUSTED_PROXIES: {entry.strip()[:60]!r} is not an IP address or a CIDR network "
                    "(give the reverse proxy's addresses, e.g. 127.0.0.1 or 10.0.0.0/24, separated by commas)"
                ) from None
        return tuple(networks)

    @property
    def default_key_file(self) -> Path:
        return self.home / "master.key"
