"""A connector that observes what its server does (a reading of the venue's unconfirmed behaviour) and keeps it
per account: the stored profile comes in with the sync's facts (``use_facts``), the connector updates
``server_profile`` while it reads, and the sync stores what ``observed_profile()`` returns after each page.
Venues whose server has nothing to observe use :class:`Connector` itself."""

from __future__ import annotations

import copy
from typing import Any

from perpvol_core.exchanges._facts import StoredFacts
from perpvol_core.exchanges._http import Connector


class ProfiledConnector(Connector):
    #: what this account's server was seen to do (the venue's own JSON document; None: nothing yet)
    server_profile: dict[str, Any] | None = None

    def use_facts(self, facts: StoredFacts) -> None:
        super().use_facts(facts)
        stored = facts.server_profile
        self.server_profile = copy.deepcopy(dict(stored)) if stored is not None else None

    def observed_profile(self) -> dict[str, Any] | None:
        return self.server_profile
