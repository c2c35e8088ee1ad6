"""Accounts: the exchange's own identity (one exchange account stored once) and three JSON documents.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("identity", sa.String(200), nullable=True))
        batch.add_column(sa.Column("server_profile", sa.Text, nullable=True))
        batch.add_column(sa.Column("verification", sa.Text, nullable=True))
        batch.add_column(sa.Column("exchange_report", sa.Text, nullable=True))
        batch.create_unique_constraint("uq_accounts_exchange_identity", ["exchange", "identity"])


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_constraint("uq_accounts_exchange_identity", type_="unique")
        for column in ("exchange_report", "verification", "server_profile", "identity"):
            batch.drop_column(column)
