"""One dashboard built ahead for the next visitor of this server process.

A served page's HTML leaves the server only once its session's document is built, and about a third of that
is the :class:`~perpvol_app.ui.dashboard.Dashboard` itself (the Bokeh figure, the panes, the first reads).
So while the process is idle (after a page has loaded and its deferred sections are built, or at start) it
builds one more, off the event loop, and the next session takes it if it still shows the store as it is:
the same data version, coverage inputs and UTC day (otherwise it is dropped and the session builds its own).
What moves without a data change is read again at the take: the account rows (sync progress) and the
summary (its 24h window moves with the clock).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any

from perpvol_core.security.redaction import redact

log = logging.getLogger(__name__)


def stamp(store: Any) -> Hashable:
    """What a built dashboard's figures depend on besides the clock's second: the store's read state (the one
    the API's answers are kept by: data version and coverage inputs) and the UTC day."""
    from perpvol_app.views import read_state

    return read_state(store), dt.datetime.now(dt.UTC).date()


class SpareDashboard:
    """At most one built dashboard, waiting for the next session (``take``); ``refill`` builds it in a thread."""

    def __init__(self, store: Any, build: Callable[[], Any]) -> None:
        self._store = store
        self._build = build
        self._lock = threading.Lock()
        self._spare: tuple[Hashable, Any] | None = None
        self._building = False
        #: spares taken, dropped as out of date, built (the tests read them)
        self.stats = {"taken": 0, "dropped": 0, "built": 0}

    def take(self) -> Any | None:
        """The spare dashboard if it is current (it is then this caller's), else None."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            current = stamp(self._store) == spare[0]
        except Exception as exc:  # noqa: BLE001 - a failed check means "build a fresh one", never a broken page
            log.warning("checking the spare dashboard failed: %s", redact(exc))
            current = False
        with self._lock:
            self.stats["taken" if current else "dropped"] += 1
        return spare[1] if current else None

    def refill(self) -> None:
        """Build a spare in a background thread, unless one exists or is being built (bounded: one)."""
        with self._lock:
            if self._spare is not None or self._building:
                return
            self._building = True
        threading.Thread(target=self._refill, name="perpvol-spare-dashboard", daemon=True).start()

    def _refill(self) -> None:
        try:
            before = stamp(self._store)
            dashboard = self._build()
            with self._lock:  # stamped with the state read before the build: a change during it drops the spare
                self._spare = (before, dashboard)
                self.stats["built"] += 1
        except Exception as exc:  # noqa: BLE001 - a spare is an optimisation: sessions build their own
            log.warning("building the spare dashboard failed: %s", redact(exc))
        finally:
            with self._lock:
                self._building = False
