"""Opening the store for a command that only reads: never creates a home, a database file or a key as a side effect.

``Store.open`` creates ``PERPVOL_HOME`` and the SQLite file (right for ``keys add``, ``sync``, ``serve``,
``demo``). A reading command (``keys list``, ``volume``, ``export``, ``verify``) uses :func:`open_existing`
instead: when the configured SQLite file does not exist there is no data, the command says so and where it
looked (:func:`no_data_text`), and nothing is written. A server database (PostgreSQL) is opened as before.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from perpvol_core.config import Settings
from perpvol_core.store.store import Store, _sqlite_file


def database_file(settings: Settings) -> Path | None:
    """The SQLite file of ``settings`` (None for a server database or an in-memory one)."""
    return _sqlite_file(settings.database_url)


def has_data(settings: Settings) -> bool:
    """Whether the configured database exists (a server database always counts as existing)."""
    path = database_file(settings)
    return path is None or path.exists()


def open_existing(settings: Settings) -> Store | None:
    """``Store.open(settings)`` when the database exists, else None (nothing created)."""
    return Store.open(settings) if has_data(settings) else None


def where(settings: Settings) -> str:
    """Where the data is looked for, for people (a server URL without its password)."""
    path = database_file(settings)
    if path is not None:
        return str(path)
    return sa.engine.make_url(settings.database_url).render_as_string(hide_password=True)


def no_data_text(settings: Settings) -> str:
    """What a reading command says on a home with no data yet."""
    return (
        f"no perpvol data yet: looked in {where(settings)} (PERPVOL_HOME={settings.home}); "
        "add an account with `perpvol keys add …`, or run `make demo` to see simulated data"
    )
