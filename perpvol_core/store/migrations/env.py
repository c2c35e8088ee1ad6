"""Alembic environment: always run programmatically by ``Store`` on an open connection.

``Store`` passes the connection (already inside its transaction and, on PostgreSQL, holding an
advisory lock) through ``config.attributes["connection"]``; nothing here opens its own engine.
"""

from __future__ import annotations

from alembic import context

from perpvol_core.store import models

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guard against the alembic CLI without a store
    raise RuntimeError("perpvol migrations run through perpvol_core.store.Store, not the alembic CLI")

context.configure(connection=connection, target_metadata=models.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
