"""Fills: an index on the exchange's fill identity, so a fill stored under two labels is found (and counted once).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_fills_key", "fills", ["fill_id", "exchange", "fill_type"])


def downgrade() -> None:
    op.drop_index("ix_fills_key", table_name="fills")
