"""Fills keep a builder fee apart from the fee; sync state records from which UTC day an account's stored
history is complete (a venue that serves only recent fills makes it later than the synced window's start).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from perpvol_core.store.models import Money

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch:
        batch.add_column(sa.Column("builder_fee", Money, nullable=True))
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("complete_from_ms", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("complete_from_ms")
    with op.batch_alter_table("fills") as batch:
        batch.drop_column("builder_fee")
