"""Schema of the store (SQLAlchemy Core tables) and the exact-money column type.

The tables mirror the Alembic migrations in ``migrations/versions``: queries use these objects, the
migrations own the DDL.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from perpvol_core.money import canonical_decimal


class Money(TypeDecorator):
    """Exact decimal: unconstrained NUMERIC on PostgreSQL, canonical decimal TEXT on SQLite.

    SQLite's REAL would round; TEXT affinity keeps every digit. Reading always yields ``Decimal``.
    """

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            if isinstance(value, float):
                raise TypeError("money must be Decimal, never float")
            value = Decimal(value)
        if dialect.name == "sqlite":
            return canonical_decimal(value)
        if not value.is_finite():
            raise ValueError(f"not a finite decimal: {value}")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:  # a hand-edited database: say which value
            raise ValueError(f"stored money value is not a decimal: {value!r}") from exc


metadata = sa.MetaData()

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("label", sa.String(100), nullable=False, unique=True),
    sa.Column("exchange", sa.String(20), nullable=False),
    sa.Column("base_url", sa.Text, nullable=True),
    sa.Column("credentials", sa.LargeBinary, nullable=False),
    sa.Column("hint", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    # The exchange's own identity of the account (its spec's ``identity``, e.g. a main address).
    sa.Column("identity", sa.String(200), nullable=True),
    # JSON documents, each owned by one service: what the server was seen to do (paging, page size,
    # order, symbol needed), the last self-check of the stored fills, and the exchange's own figures.
    sa.Column("server_profile", sa.Text, nullable=True),
    sa.Column("verification", sa.Text, nullable=True),
    sa.Column("exchange_report", sa.Text, nullable=True),
    sa.UniqueConstraint("exchange", "identity", name="uq_accounts_exchange_identity"),
)

fills = sa.Table(
    "fills",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
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
    # a fee paid to a third party on top of ``fee`` (a builder or front end), kept apart; None when none
    sa.Column("builder_fee", Money, nullable=True),
    sa.UniqueConstraint("account_id", "exchange", "fill_id", "fill_type", name="uq_fills_identity"),
    sa.Index("ix_fills_ts_ms", "ts_ms"),
    sa.Index("ix_fills_account_ts", "account_id", "ts_ms"),
    # finds the same exchange fill under another account (counted once across labels)
    sa.Index("ix_fills_key", "fill_id", "exchange", "fill_type"),
)

ROLLUP_KEY = ("account_id", "exchange", "day_ms", "market", "liquidity", "fill_type", "counted")

rollups = sa.Table(
    "rollups",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    sa.Column("exchange", sa.String(20), nullable=False),
    sa.Column("day_ms", sa.BigInteger, nullable=False),
    sa.Column("market", sa.String(80), nullable=False),
    sa.Column("liquidity", sa.String(10), nullable=False),
    sa.Column("fill_type", sa.String(40), nullable=False),
    sa.Column("counted", sa.Boolean, nullable=False),
    sa.Column("notional", Money, nullable=False),
    # fees paid in a USD-like asset (USDT/USDC/USD) only; other fee assets stay in the fills table
    sa.Column("fees", Money, nullable=False),
    sa.Column("fills", sa.Integer, nullable=False),
    sa.UniqueConstraint(*ROLLUP_KEY, name="uq_rollups_key"),
    sa.Index("ix_rollups_day", "day_ms"),
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("covered_from_ms", sa.BigInteger, nullable=True),
    sa.Column("covered_to_ms", sa.BigInteger, nullable=True),
    # UTC midnight from which the account's stored history is complete (never later once older fills are kept)
    sa.Column("complete_from_ms", sa.BigInteger, nullable=True),
    sa.Column("cursor", sa.Text, nullable=True),
    sa.Column("progress", sa.Float, nullable=True),
    sa.Column("eta_s", sa.Float, nullable=True),
    sa.Column("fills_seen", sa.BigInteger, nullable=True),
    sa.Column("last_success_ms", sa.BigInteger, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("updated_ms", sa.BigInteger, nullable=True),
)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

embed_tokens = sa.Table(
    "embed_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("revoked_ms", sa.BigInteger, nullable=True),
)
