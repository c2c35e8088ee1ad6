"""What one account's sync reads: the *runs* (time ranges), resumed from the stored cursor or planned anew,
and the coverage the pages read so far establish (``covered_from``/``covered_to``, ``complete_from``).

Pure values and functions: no store, no connector I/O (the connector is asked only for its constants).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perpvol_core.exchanges import VENUES, Connector, FillPage
from perpvol_core.fill import MS_PER_DAY
from perpvol_core.timeutil import date_of_ms, day_floor_ms, display_utc


@dataclass
class Run:
    """One time range to read. ``kind`` "back" extends coverage down to ``start``; "fwd" extends it up to
    ``end`` when done. ``position`` is the connector's resume position inside the range."""

    start: int
    end: int
    kind: str
    position: dict | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "kind": self.kind, "position": self.position}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return cls(int(data["start"]), int(data["end"]), str(data["kind"]), data.get("position"))

    @property
    def span(self) -> int:
        return max(1, self.end - self.start)


def resumed_runs(cursor: dict[str, Any] | None) -> list[Run]:
    """The runs an interrupted sync left in its cursor (none when it finished)."""
    return [Run.from_dict(r) for r in (cursor or {}).get("runs", [])]


def plan(state: Any, days: int, now: int, connector: Connector) -> list[Run]:
    """The runs that bring an account with sync state ``state`` up to ``now`` over ``days`` days: one backfill
    on a first sync; then a forward run from the covered end (with the connector's overlap), plus a deeper
    backfill when more days are asked than are covered."""
    want_from = now - days * MS_PER_DAY
    if connector.max_history_ms is not None:
        want_from = max(want_from, now - connector.max_history_ms)
    if state.covered_to_ms is None or state.covered_from_ms is None:
        return [Run(want_from, now, "back")]
    runs = [Run(max(state.covered_to_ms - connector.incremental_overlap_ms, want_from), now, "fwd")]
    if state.covered_from_ms > want_from + 1000:
        runs.append(Run(want_from, state.covered_from_ms, "back"))
    return runs


def cursor(rest: list[Run], days: int) -> dict[str, Any] | None:
    """The stored cursor for the runs still to read (None: nothing left)."""
    return {"runs": [r.as_dict() for r in rest], "days": days} if rest else None


def complete_from_after(
    complete_from_ms: int | None, covered_from_ms: int | None, history_starts_ms: int | None, *, gap: bool = False
) -> int | None:
    """The first UTC midnight from which an account's stored history is complete, after one more page.

    Without a retention cap it is the covered range's start, rounded up to a day; with one
    (``history_starts_ms``: the venue serves nothing older) the first day at or after the cap. It only moves
    earlier: fills once stored are kept, so a cap that moves on later leaves the history complete as it was.
    ``gap``: the venue could not serve the start of a forward run (fills were lost between two syncs), so the
    history is complete only from the cap on.
    """
    if covered_from_ms is None:
        return complete_from_ms
    start = covered_from_ms if history_starts_ms is None else max(covered_from_ms, history_starts_ms)
    candidate = -(-start // MS_PER_DAY) * MS_PER_DAY
    if gap and history_starts_ms is not None:
        return max(candidate, complete_from_ms or candidate)
    return candidate if complete_from_ms is None else min(complete_from_ms, candidate)


@dataclass
class Coverage:
    """The range an account's stored fills cover completely, as the pages of a sync extend it."""

    covered_from: int | None
    covered_to: int | None
    complete_from: int | None
    #: a page of this sync reported the venue's retention cap
    capped: bool = False

    @classmethod
    def of(cls, state: Any) -> Coverage:
        return cls(state.covered_from_ms, state.covered_to_ms, state.complete_from_ms)

    def advance(self, run: Run, page: FillPage) -> None:
        """Take in one page of ``run`` (its ``position`` already set from the page)."""
        run_done = page.position is None
        if page.history_starts_ms is not None and run_done and run.kind == "back":
            # nothing older than history_starts_ms is served: the run's range is as complete as it will ever
            # be, and is not planned again
            self.covered_from = run.start if self.covered_from is None else min(self.covered_from, run.start)
            self.covered_to = run.end if self.covered_to is None else self.covered_to
        if page.window_done_ms is not None and run.kind == "back":
            done = page.window_done_ms
            self.covered_from = done if self.covered_from is None else min(self.covered_from, done)
            if self.covered_to is None:
                self.covered_to = run.end
        if run_done and run.kind == "fwd":
            self.covered_to = max(self.covered_to or run.end, run.end)
        if page.history_starts_ms is not None:  # the venue's retention cap, as it stands now
            self.capped = True
            gap = run.kind == "fwd" and page.history_starts_ms > run.start
            self.complete_from = complete_from_after(self.complete_from, self.covered_from, page.history_starts_ms,
                                                     gap=gap)  # fmt: skip
        elif not self.capped and self.covered_from is not None and (
            self.complete_from is None or (run.kind == "back" and page.window_done_ms is not None)
        ):  # the covered range grew back in time (or was recorded before complete_from existed)
            self.complete_from = complete_from_after(self.complete_from, self.covered_from, None)


def coverage_text(
    exchange: str, covered_from_ms: int | None, covered_to_ms: int | None, days: int | None = None,
    server_profile: dict[str, Any] | None = None, complete_from_ms: int | None = None,
) -> str:  # fmt: skip
    """Plain statement of which time range is complete (plus what the exchange cannot serve, and the notes of
    the server profile, e.g. that delisted symbols cannot be enumerated when ``symbol`` is required).

    ``complete_from_ms`` later than the first whole day read: the venue served less than the range read (a
    retention cap), and the statement starts there."""
    if covered_from_ms is None or covered_to_ms is None:
        text = "nothing synced yet"
    elif complete_from_ms is not None and complete_from_ms > day_floor_ms(covered_from_ms) + MS_PER_DAY:
        day = date_of_ms(complete_from_ms).isoformat()
        text = (f"complete from {day} to {display_utc(covered_to_ms)} (read from {display_utc(covered_from_ms)}; "
                f"the days before {day} are not covered)")  # fmt: skip
    else:
        text = f"complete from {display_utc(covered_from_ms)} to {display_utc(covered_to_ms)}"
    spec = VENUES.get(exchange)
    if spec is not None and spec.history_note:  # always said: a trader must know nothing older can be fetched
        text += ". " + spec.history_note
    for note in (server_profile or {}).get("notes") or []:
        text += f" Note: {note}."
    return text
