"""A simulator's live fills kept on disk, so a restarted demo serves what it served before.

The demo regenerates each venue's seeded history on every start (same seed, same "now": the same fills);
the live fills added while it ran are not part of that history. Without them a restarted simulator would
no longer list fills perpvol has stored, and a full ``verify`` would rightly call them "not listed by the
exchange". :class:`LiveJournal` appends each live fill to a JSON-lines file and replays the file into the
regenerated history before the simulator starts. It keeps at most ``max_fills`` (then it stops recording
and says so once): a demo is not meant to run for months.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from perpvol_sim.history import History, SimFill

log = logging.getLogger(__name__)

#: about three weeks of the demo's live pace per venue
MAX_FILLS = 500_000
_DECIMALS = ("price", "size", "fee")


def fill_to_json(fill: SimFill) -> str:
    row: dict[str, Any] = dataclasses.asdict(fill)
    for name in _DECIMALS:
        row[name] = str(row[name])
    return json.dumps(row, sort_keys=True)


def fill_from_json(text: str) -> SimFill:
    row = json.loads(text)
    for name in _DECIMALS:
        row[name] = Decimal(row[name])
    return SimFill(**row)


class LiveJournal:
    """The live fills of one simulated venue in ``path`` (created 0600; one JSON object a line)."""

    def __init__(self, path: Path, max_fills: int = MAX_FILLS) -> None:
        self.path = path
        self.max_fills = max_fills
        self._count = 0
        self._lock = threading.Lock()

    def attach(self, history: History) -> int:
        """Replay the journal into ``history`` (fills newer than its last one, in order), then record every
        live fill it gets from now on. Returns how many fills were replayed; an unreadable line ends the
        replay there (a crash mid-write leaves at most one)."""
        replayed: list[SimFill] = []
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        replayed.append(fill_from_json(line))
                    except (ValueError, TypeError, KeyError):
                        log.warning("demo journal %s: an unreadable line; later lines are ignored", self.path)
                        break
        restored = history.restore(replayed)
        self._count = len(replayed)
        history.subscribe(self._record)
        return restored

    def _record(self, fill: SimFill) -> None:
        with self._lock:
            if self._count >= self.max_fills:
                if self._count == self.max_fills:
                    log.warning("demo journal %s is full (%d fills): later live fills are not kept across "
                                "restarts", self.path, self.max_fills)  # fmt: skip
                    self._count += 1
                return
            new = not self.path.exists()
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(fill_to_json(fill) + "\n")
            if new:
                self.path.chmod(0o600)
            self._count += 1
