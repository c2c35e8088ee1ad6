"""Shared fixtures: a real database (SQLite and PostgreSQL), settings in a temporary home, free ports."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perpvol_core.config import Settings
from perpvol_sim.server import free_port as _free_port

PG_ADMIN_URL = os.environ.get(
    "PERPVOL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_admin():
    import sqlalchemy as sa

    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        eng = _pg_admin()
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return str(exc)


@pytest.fixture(scope="session")
def pg_reason() -> str | None:
    return _pg_available()


def make_pg_database(pg_reason: str | None) -> tuple[str, str]:
    """Create a fresh PostgreSQL database; returns (url, name). Skips locally, fails in CI, when down."""
    import sqlalchemy as sa

    if pg_reason:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {pg_reason}")
        pytest.skip(f"PostgreSQL unreachable: {pg_reason}")
    name = f"perpvol_test_{uuid.uuid4().hex[:12]}"
    eng = _pg_admin()
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_pg_database(name: str) -> None:
    import sqlalchemy as sa

    eng = _pg_admin()
    with eng.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_reason: str | None) -> Iterator[str]:
    """A fresh, empty database on each dialect (the store and sync suites run on both)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'perpvol.db'}"
        return
    url, name = make_pg_database(pg_reason)
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'perpvol.db'}"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    return Settings(home=home, database_url=db_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    return Settings(home=home, database_url=f"sqlite:///{home / 'perpvol.db'}")


@pytest.fixture
def free_port() -> int:
    return _free_port()


def pinned_midday_ms() -> int:
    """12:00 UTC of the most recent past midday (0-24 h ago): a fixed "now" for tests whose data and
    expectations depend on where the UTC day boundary falls. It is hours from any boundary whatever the
    wall clock says, and never in the future (signed requests and tokens still use the real clock)."""
    import time as _time

    from perpvol_core.fill import MS_PER_DAY

    half_day = MS_PER_DAY // 2
    earlier = int(_time.time() * 1000) - half_day
    return earlier - earlier % MS_PER_DAY + half_day


#: the folders whose files run longest (browsers, served apps, end-to-end CLI runs), scheduled first: with
#: ``--dist loadfile`` the workers take files in collection order, and a long file taken last keeps one worker
#: busy while the other has nothing left
_LONG_FIRST = ("tests/ui/", "tests/cli/", "tests/services/", "tests/trust/", "tests/api/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(_LONG_FIRST) if path.startswith(prefix)), len(_LONG_FIRST))

    items.sort(key=rank)  # stable: each file's tests stay together and in order
