"""Counted perp volume per account, exchange, UTC day or hour and liquidity (``store/volume_totals.py``),
kept in the ingest transaction so volume reads never scan the fills. Filled from the stored fills: day rows
for every fill, hour rows for the last 32 days (the rolling windows reach back 30).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

from perpvol_core.store import volume_totals
from perpvol_core.store.models import Money

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volume_totals",
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("exchange", sa.String(20), nullable=False),
        sa.Column("span_ms", sa.Integer, nullable=False),
        sa.Column("start_ms", sa.BigInteger, nullable=False),
        sa.Column("liquidity", sa.String(10), nullable=False),
        sa.Column("notional", Money, nullable=False),
        sa.Column("fees", Money, nullable=False),
        sa.Column("fills", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(*volume_totals.TOTALS_KEY, name="pk_volume_totals"),
    )
    op.create_index("ix_volume_totals_span_start", "volume_totals", ["span_ms", "start_ms"])
    since = int(time.time() * 1000) - 32 * volume_totals.MS_PER_DAY
    volume_totals.rebuild(op.get_bind(), since_ms=since - since % volume_totals.MS_PER_HOUR)


def downgrade() -> None:
    op.drop_index("ix_volume_totals_span_start", table_name="volume_totals")
    op.drop_table("volume_totals")
