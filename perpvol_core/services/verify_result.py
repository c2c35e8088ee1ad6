"""The outcome of a self-check (``services.verify``): each window read again, the account's result, the
``verification`` document stored on the account and the texts people read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perpvol_core import timeutil
from perpvol_core.services.verify_advice import advice

#: days named in texts; the document keeps every day
DAYS_SHOWN = 5
#: prefix of the account error a disagreeing check sets (cleared by a later check that agrees)
ERROR_PREFIX = "self-check disagreed"

Key = tuple[str, str]


def day_text(ms: int) -> str:
    return timeutil.date_of_ms(ms).isoformat()


@dataclass
class WindowCheck:
    """One window ``[start_ms, end_ms)`` read again: how many fills each side holds and what differs."""

    start_ms: int
    end_ms: int
    exchange_fills: int = 0
    stored_fills: int = 0
    missing: list[Key] = field(default_factory=list)  # listed by the exchange, absent from the store
    extra: list[Key] = field(default_factory=list)  # in the store, not listed by the exchange
    changed: list[Key] = field(default_factory=list)  # same identity, other time/price/size
    days: list[str] = field(default_factory=list)  # UTC days of every difference
    #: the oldest fill time the exchange listed here (None: none), and the time of each extra fill
    oldest_listed_ms: int | None = None
    extra_ts: list[int] = field(default_factory=list)
    #: stored fills older than everything a retention-capped venue still lists (kept, never "not listed")
    unserved: int = 0

    def forget_unserved(self, served_from_ms: int) -> None:
        """Drop the extra fills at or before ``served_from_ms``: a venue that serves only its newest fills
        (a count cap, moving as new fills arrive) cannot list them again, and perpvol keeps what it saw."""
        keep = [(key, ts) for key, ts in zip(self.extra, self.extra_ts, strict=True) if ts > served_from_ms]
        self.unserved += len(self.extra) - len(keep)
        self.extra = [key for key, _ in keep]
        self.extra_ts = [ts for _, ts in keep]
        self.days = sorted({day_text(ts) for ts in self.extra_ts} | self._listed_days)

    _listed_days: set[str] = field(default_factory=set)  # days of the missing and changed fills

    @property
    def agrees(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "exchange_fills": self.exchange_fills,
            "stored_fills": self.stored_fills,
            "missing": len(self.missing),
            "extra": len(self.extra),
            "changed": len(self.changed),
            "days": self.days,
        }


@dataclass
class VerifyResult:
    """Outcome of a check. ``ok`` is None when the check could not run (``error`` says why)."""

    label: str
    exchange: str
    full: bool
    ok: bool | None
    checked_ms: int
    covered_from_ms: int | None = None
    covered_to_ms: int | None = None
    windows: list[WindowCheck] = field(default_factory=list)
    windows_total: int = 0
    requests: int = 0
    error: str | None = None
    #: fills an earlier disagreeing check's windows brought when read again before this check
    repaired: int = 0
    #: the range read again (the whole stored range, live fills included, less the newest minutes)
    checked_from_ms: int | None = None
    checked_to_ms: int | None = None
    #: the account's stored fills when the check ended (a full check compares all but the newest minutes')
    stored_total: int | None = None

    @property
    def days(self) -> list[str]:
        """UTC days on which the exchange and the store disagree, sorted."""
        return sorted({d for w in self.windows for d in w.days})

    @property
    def state(self) -> str:
        return "error" if self.ok is None else ("agrees" if self.ok else "disagrees")

    def counts(self) -> dict[str, int]:
        return {
            "missing": sum(len(w.missing) for w in self.windows),
            "extra": sum(len(w.extra) for w in self.windows),
            "changed": sum(len(w.changed) for w in self.windows),
            "exchange_fills": sum(w.exchange_fills for w in self.windows),
            "stored_fills": sum(w.stored_fills for w in self.windows),
        }

    def summary(self) -> str:
        """One line for people: what was checked and what was found."""
        scope = "full check" if self.full else "self-check"
        if self.ok is None:
            return f"{scope} could not run: {self.error}"
        n = len(self.windows)
        c = self.counts()
        compared = f"{c['stored_fills']} stored compared with {c['exchange_fills']} listed"
        left = (self.stored_total or 0) - c["stored_fills"]
        if self.ok:
            note = f"; {left} stored not compared (newer than the check's end or no longer listed by the venue)"
            return f"{scope} agrees: {n} of {self.windows_total} window(s), {compared}, fill for fill" + (
                note if self.full and left > 0 else ""
            )
        days = self.days
        shown = ", ".join(days[:DAYS_SHOWN]) + (f" and {len(days) - DAYS_SHOWN} more" if len(days) > DAYS_SHOWN else "")
        return (
            f"{ERROR_PREFIX} with the exchange on {len(days)} day(s): {shown} "
            f"({c['missing']} fill(s) missing from perpvol, {c['extra']} not listed by the exchange, "
            f"{c['changed']} different; {compared}); totals of those days are not complete — {advice(c, self.label)}"
        )

    def as_doc(self) -> dict[str, Any]:
        """The account's ``verification`` document (JSON)."""
        return {
            "state": self.state,
            "full": self.full,
            "checked_ms": self.checked_ms,
            "covered_from_ms": self.covered_from_ms,
            "covered_to_ms": self.covered_to_ms,
            "checked_from_ms": self.checked_from_ms,
            "checked_to_ms": self.checked_to_ms,
            "stored_total": self.stored_total,
            "windows_checked": len(self.windows),
            "windows_total": self.windows_total,
            "requests": self.requests,
            "days": self.days,
            "counts": self.counts(),
            "windows": [w.as_dict() for w in self.windows if not w.agrees][:50],
            "summary": self.summary(),
            "error": self.error,
            "repaired": self.repaired,
        }


def pending_doc(now_ms: int) -> dict[str, Any]:
    """The ``verification`` document of a backfill not yet checked."""
    return {"state": "pending", "checked_ms": None, "since_ms": now_ms, "summary": "self-check pending", "days": []}


def coverage_note(doc: dict[str, Any] | None) -> str:
    """What the coverage statement adds for a ``verification`` document ('' when there is none)."""
    if not doc:
        return ""
    state = doc.get("state")
    if state == "agrees":
        return " (self-check agrees)"
    if state == "disagrees":
        days = list(doc.get("days") or [])
        shown = ", ".join(days[:DAYS_SHOWN]) + (" …" if len(days) > DAYS_SHOWN else "")
        return f" — NOT complete: the self-check disagreed with the exchange on {len(days)} day(s) ({shown})"
    if state == "error":
        return " — not yet confirmed: the self-check could not run (it is retried on the next sync)"
    return " — not yet confirmed (self-check pending)"
