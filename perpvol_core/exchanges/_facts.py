"""What the store knows of an account that a connector may use, handed to it as data before a sync.

The connectors never read the store (an import-linter contract); the sync engine reads these facts and
gives them to the connector (``connector.use_facts(facts)``) before each run. A connector that no sync runs
(``keys add``, a test) has none (``connector.facts is None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StoredFacts:
    """One account's stored knowledge, as a value.

    ``known_markets``: the markets of the account's stored fills (a venue that must name markets to read
    them reads these too, so a delisted market with stored fills is still read; a venue that warns about an
    empty account warns only when nothing is stored). ``fills``: how many fills are stored.
    ``last_fill_ms``: the time of the newest stored fill (None: none stored). ``server_profile``: what the
    venue's server was seen to do last time (a venue's own JSON document, kept per account; None when the
    venue observes nothing or nothing was observed yet).
    """

    known_markets: frozenset[str] = frozenset()
    fills: int = 0
    last_fill_ms: int | None = None
    server_profile: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def has_fills(self) -> bool:
        return self.fills > 0 or bool(self.known_markets)
