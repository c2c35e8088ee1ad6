"""A venue's fee schedule for one account: its tier tables and the account's own reported rates (typed).

Each venue's spec names a ``fee_schedule`` reader (``"module:function"``, ``(connector, report) -> dict``)
that asks the venue (or reuses the account's freshly fetched ``exchange_report``) and returns plain data in
the shape of :class:`FeeSchedule`; this module validates it, keeps the newest one per account (the store's
meta table, key ``fee_schedule:<account id>``) and refreshes it after a sync. Nothing here is ever used to
correct fills: the schedule is shown beside what the fills say (``tier_outlook``).

Rates are fractions of notional (``0.00045`` = 4.5 bps); volumes are USD over the table's rolling window.
A venue that publishes no table gives a :class:`FeeTable` with ``published=False`` and no tiers.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, ValidationError, WithJsonSchema

from perpvol_core.exchanges import VENUES, load
from perpvol_core.exchanges._errors import ExchangeError
from perpvol_core.money import canonical_decimal
from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)

#: a stored schedule younger than this is not fetched again after a sync
MAX_AGE_MS = 5 * 60_000
BPS = Decimal(10_000)
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
#: an exact decimal, a string on the wire (never a float), in the API's pattern
Exact = Annotated[
    Decimal,
    PlainSerializer(canonical_decimal, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "description": "exact decimal, never a float"}),
]


class FeeTier(BaseModel):
    """One rung: reached at ``min_volume`` over the window (exceeded when the table says ``above``)."""

    name: str
    min_volume: Exact
    #: the lower threshold for holders of the venue's NFT, where a venue publishes one
    nft_min_volume: Exact | None = None
    taker_rate: Exact | None = None
    maker_rate: Exact | None = None


class FeeTable(BaseModel):
    """One tier table of a venue (``kind``: retail, pro, vip …), ascending by volume."""

    kind: str
    window_days: int = Field(ge=1)
    #: False: the venue publishes no tier table (``tiers`` is empty and ``note`` says so)
    published: bool = True
    #: True when a tier needs volume strictly above its threshold ("> $5M"), False when reaching it is enough
    above: bool = False
    #: spot volume counts this many times towards the tier (perps once); None: spot does not count
    spot_weight: Exact | None = None
    tiers: list[FeeTier] = Field(default_factory=list)
    note: str = ""

    def tier_at(self, volume: Decimal) -> int | None:
        """Index of the tier ``volume`` reaches (None: below the first, or no table). A first tier from 0 is
        everyone's."""
        index = None
        for i, tier in enumerate(self.tiers):
            if volume > tier.min_volume or (volume == tier.min_volume and (not self.above or tier.min_volume == 0)):
                index = i
        return index


class FeeSchedule(BaseModel):
    """A venue's tables and what it reports of one account (its rates, its tier, its window volume)."""

    exchange: str
    #: the endpoints read
    source: str
    fetched_ms: int
    tables: list[FeeTable] = Field(default_factory=list)
    #: which table applies to the account (the venue's reported kind, else the first table)
    account_kind: str | None = None
    #: the tier the venue names for the account (None: not reported)
    reported_tier: str | None = None
    #: the account's own rates as the venue reports them
    taker_rate: Exact | None = None
    maker_rate: Exact | None = None
    #: the venue's own volume figure over the window (None: not reported)
    reported_volume: Exact | None = None
    #: how each ambiguous field was read (an UNCONFIRMED unit, a matched tier …)
    readings: list[str] = Field(default_factory=list)
    note: str = ""
    #: set when the last refresh failed (the previous figures are kept)
    error: str | None = None

    def table(self) -> FeeTable | None:
        """The table that applies to the account."""
        for table in self.tables:
            if table.kind == self.account_kind:
                return table
        return self.tables[0] if self.tables else None


def _key(account_id: int) -> str:
    return f"fee_schedule:{account_id}"


def stored(store: Any, account: Any) -> FeeSchedule | None:
    """The account's newest stored schedule (None: never fetched, or unreadable)."""
    raw = store.get_meta(_key(account.id))
    if not raw:
        return None
    try:
        return FeeSchedule.model_validate_json(raw)
    except ValidationError as exc:
        log.warning("stored fee schedule of account %s unreadable: %s", account.id, exc.error_count())
        return None


def save(store: Any, account: Any, schedule: FeeSchedule) -> None:
    store.set_meta(_key(account.id), schedule.model_dump_json())


def reader(exchange: str) -> Any | None:
    """The venue's ``fee_schedule`` function, or None when its spec names none."""
    spec = VENUES.get(exchange)
    if spec is None or spec.fee_schedule is None:
        return None
    return load(spec.fee_schedule)


def fetch(exchange: str, connector: Any, report: dict[str, Any] | None = None) -> FeeSchedule | None:
    """Ask the venue (through ``connector``) for the account's schedule. Raises ExchangeError, ValueError."""
    read = reader(exchange)
    if read is None:
        return None
    return FeeSchedule.model_validate({"exchange": exchange, **read(connector, report)})


def refresh(store: Any, account: Any, connector: Any, now_ms: int, *, force: bool = False) -> FeeSchedule | None:
    """Fetch and keep the account's schedule when due (older than :data:`MAX_AGE_MS`, or ``force``).

    Never raises for the venue: a failure keeps the previous figures with ``error`` set (redacted).
    """
    old = stored(store, account)
    if not force and old is not None and old.error is None and now_ms - old.fetched_ms < MAX_AGE_MS:
        return old
    report = account.exchange_report if isinstance(account.exchange_report, dict) else None
    if report is not None and (report.get("error") or now_ms - int(report.get("stored_ms") or 0) > MAX_AGE_MS):
        report = None  # only a fresh report stands in for asking the venue
    try:
        schedule = fetch(account.exchange, connector, report)
    except (ExchangeError, ValueError) as exc:
        text = redact(f"could not read the fee schedule: {exc}")
        log.info("%s: %s", account.label, text)
        if old is None:
            schedule = FeeSchedule(exchange=account.exchange, source="", fetched_ms=now_ms, error=text)
        else:
            schedule = old.model_copy(update={"error": text})
    if schedule is None:
        return None
    save(store, account, schedule)
    return schedule
