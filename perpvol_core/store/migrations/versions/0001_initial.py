"""Initial schema: accounts, fills, rollups, sync_state, meta, embed_tokens.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from perpvol_core.store.models import Money

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine:
    # SQLite only auto-increments an INTEGER PRIMARY KEY
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("exchange", sa.String(20), nullable=False),
        sa.Column("base_url", sa.Text, nullable=True),
        sa.Column("credentials", sa.LargeBinary, nullable=False),
        sa.Column("hint", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("label", name="uq_accounts_label"),
    )
    op.create_table(
        "fills",
        sa.Column("id", _big_id(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("exchange", sa.String(20), nullable=False),
        sa.Column("fill_id", sa.String(200), nullable=False),
        sa.Column("fill_type", sa.String(40), nullable=False),
        sa.Column("market", sa.String(80), nullable=False),
        sa.Column("side", sa.String(20), nullable=False),
        sa.Column("liquidity", sa.String(10), nullable=False),
        sa.Column("price", Money, nullable=False),
        sa.Column("size", Money, nullable=False),
        sa.Column("notional", Money, nullable=False),
        sa.Column("fee", Money, nullable=False),
        sa.Column("fee_asset", sa.String(20), nullable=False),
        sa.Column("ts_ms", sa.BigInteger, nullable=False),
        sa.Column("is_perp", sa.Boolean, nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.UniqueConstraint("account_id", "exchange", "fill_id", "fill_type", name="uq_fills_identity"),
    )
    op.create_index("ix_fills_ts_ms", "fills", ["ts_ms"])
    op.create_index("ix_fills_account_ts", "fills", ["account_id", "ts_ms"])
    op.create_table(
        "rollups",
        sa.Column("id", _big_id(), primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("exchange", sa.String(20), nullable=False),
        sa.Column("day_ms", sa.BigInteger, nullable=False),
        sa.Column("market", sa.String(80), nullable=False),
        sa.Column("liquidity", sa.String(10), nullable=False),
        sa.Column("fill_type", sa.String(40), nullable=False),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("notional", Money, nullable=False),
        sa.Column("fees", Money, nullable=False),
        sa.Column("fills", sa.Integer, nullable=False),
        sa.UniqueConstraint(
            "account_id", "exchange", "day_ms", "market", "liquidity", "fill_type", "counted", name="uq_rollups_key"
        ),
    )
    op.create_index("ix_rollups_day", "rollups", ["day_ms"])
    op.create_table(
        "sync_state",
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("covered_from_ms", sa.BigInteger, nullable=True),
        sa.Column("covered_to_ms", sa.BigInteger, nullable=True),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("progress", sa.Float, nullable=True),
        sa.Column("eta_s", sa.Float, nullable=True),
        sa.Column("fills_seen", sa.BigInteger, nullable=True),
        sa.Column("last_success_ms", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_ms", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "embed_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("revoked_ms", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_embed_tokens_hash"),
    )


def downgrade() -> None:
    for table in ("embed_tokens", "meta", "sync_state", "rollups", "fills", "accounts"):
        op.drop_table(table)
