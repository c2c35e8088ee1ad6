"""Embed tokens: read-only embed links, of which only the token's hash is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from perpvol_core import timeutil
from perpvol_core.store import models as m
from perpvol_core.store.db import Database
from perpvol_core.store.errors import StoreError


@dataclass(frozen=True)
class EmbedToken:
    """A read-only embed link; only the hash of its token is stored."""

    id: int
    name: str
    token_hash: str
    created_ms: int
    revoked_ms: int | None


def _embed(row: Any) -> EmbedToken:
    return EmbedToken(row.id, row.name, row.token_hash, row.created_ms, row.revoked_ms)


class EmbedTokenRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, name: str, token_hash: str) -> EmbedToken:
        """Record a new embed token by its hash. Raises: StoreError when the hash already exists."""
        t = m.embed_tokens
        try:
            with self.db.write() as conn:
                token_id = conn.execute(
                    t.insert().values(name=name, token_hash=token_hash, created_ms=timeutil.now_ms()).returning(t.c.id)
                ).scalar_one()
        except sa.exc.IntegrityError as exc:
            raise StoreError("an embed token with this hash already exists") from exc
        with self.db.read() as conn:
            return _embed(conn.execute(sa.select(t).where(t.c.id == token_id)).one())

    def all(self, include_revoked: bool = True) -> list[EmbedToken]:
        q = sa.select(m.embed_tokens).order_by(m.embed_tokens.c.id)
        if not include_revoked:
            q = q.where(m.embed_tokens.c.revoked_ms.is_(None))
        with self.db.read() as conn:
            return [_embed(r) for r in conn.execute(q)]

    def revoke(self, token_id: int) -> bool:
        """Revoke a token; False when it does not exist or was already revoked."""
        t = m.embed_tokens
        with self.db.write() as conn:
            res = conn.execute(
                t.update().where(t.c.id == token_id, t.c.revoked_ms.is_(None)).values(revoked_ms=timeutil.now_ms())
            )
            return res.rowcount > 0

    def find(self, token_hash: str) -> EmbedToken | None:
        """The active (not revoked) token with this hash, if any."""
        t = m.embed_tokens
        with self.db.read() as conn:
            row = conn.execute(sa.select(t).where(t.c.token_hash == token_hash, t.c.revoked_ms.is_(None))).first()
        return _embed(row) if row else None
