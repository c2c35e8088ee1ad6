"""The Alembic migrations and the SQLAlchemy models describe the same schema (no drift), on both dialects."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import perpvol_core.store.store as store_module
from perpvol_core.store import Store, models

_OPTS = {"compare_type": True, "compare_server_default": True}


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(store_module.__file__).with_name("migrations")))
    return cfg


def _diff(engine: sa.Engine, metadata: sa.MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=_OPTS), metadata)


def test_every_migration_in_turn_then_no_drift_from_the_models(db_url: str) -> None:
    cfg = _config()
    revisions = [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]
    assert revisions[0] == "0001" and len(revisions) >= 2
    engine = sa.create_engine(db_url)
    try:
        for revision in revisions:  # a fresh database, one migration at a time
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            with engine.connect() as conn:
                assert MigrationContext.configure(conn).get_current_revision() == revision
        assert _diff(engine, models.metadata) == []
    finally:
        engine.dispose()
    Store(db_url).close()  # the store opens the migrated database as it is (nothing left to upgrade)


def test_the_comparison_sees_drift(db_url: str) -> None:
    """A model column the migrations do not create is reported: the check above can fail."""
    store = Store(db_url)
    store.close()
    drifted = sa.MetaData()
    for table in models.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["accounts"].append_column(sa.Column("nickname", sa.Text, nullable=True))
    engine = sa.create_engine(db_url)
    try:
        diff = _diff(engine, drifted)
    finally:
        engine.dispose()
    assert [(d[0], d[3].name) for d in diff if d[0] == "add_column"] == [("add_column", "nickname")]
