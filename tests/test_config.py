"""Settings from the environment: the variables of design.md, defaults, empty means unset."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from perpvol_core.config import Settings


def test_defaults_when_nothing_is_set() -> None:
    s = Settings.from_env({"HOME_UNRELATED": "x"})
    assert s.home == Path.home() / ".perpvol"
    assert s.database_url == f"sqlite:///{Path.home() / '.perpvol' / 'perpvol.db'}"
    assert (s.master_key_file, s.master_key, s.api_token, s.password, s.redis_url) == (None,) * 5


def test_every_variable(tmp_path: Path) -> None:
    env = {
        "PERPVOL_HOME": str(tmp_path / "h"),
        "PERPVOL_DATABASE_URL": "postgresql+psycopg://u@127.0.0.1/db",
        "PERPVOL_MASTER_KEY_FILE": "~/keys/master.key",
        "PERPVOL_MASTER_KEY": "a2V5",
        "PERPVOL_API_TOKEN": "tok",
        "PERPVOL_PASSWORD": "pw",
        "PERPVOL_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    s = Settings.from_env(env)
    assert s.home == tmp_path / "h"
    assert s.database_url == env["PERPVOL_DATABASE_URL"]
    assert s.master_key_file == Path.home() / "keys" / "master.key"
    assert s.master_key is not None and s.master_key.reveal() == "a2V5"
    assert s.api_token is not None and s.api_token.reveal() == "tok"
    assert s.password is not None and s.password.reveal() == "pw"
    assert s.redis_url == env["PERPVOL_REDIS_URL"]
    assert "a2V5" not in repr(s) and "tok" not in repr(s) and "pw" not in repr(s)
    assert s.default_key_file == tmp_path / "h" / "master.key"


def test_empty_means_unset_and_names_are_exact(tmp_path: Path) -> None:
    s = Settings.from_env(
        {"PERPVOL_HOME": str(tmp_path), "PERPVOL_DATABASE_URL": "", "PERPVOL_API_TOKEN": "", "perpvol_password": "x"}
    )
    assert s.database_url == f"sqlite:///{tmp_path / 'perpvol.db'}"
    assert s.api_token is None
    assert s.password is None  # lower-case names are not ours


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERPVOL_HOME", str(tmp_path))
    monkeypatch.delenv("PERPVOL_DATABASE_URL", raising=False)
    assert Settings.from_env().database_url == f"sqlite:///{tmp_path / 'perpvol.db'}"


def test_explicit_values_ignore_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PERPVOL_API_TOKEN", "from-env")
    s = Settings(home=tmp_path, database_url="sqlite://")
    assert s.api_token is None
    assert dataclasses.replace(s, redis_url="redis://x").redis_url == "redis://x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.home = tmp_path / "other"  # type: ignore[misc]  # frozen is the point
