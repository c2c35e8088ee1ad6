"""Where ``perpvol demo`` keeps its data: the one data home of every command, said out loud.

The demo stores its accounts in the configured home (``PERPVOL_HOME``, default ``~/.perpvol``), the same place
``perpvol keys list``, ``perpvol volume``, ``make voila`` and ``make lab`` read, so the README's next commands
show the demo's data. It never mixes simulated fills into a trader's own accounts: a home that already holds
other accounts is refused, with the command that runs the demo on a home of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from perpvol_core.config import Settings
from perpvol_core.store.existing import where

#: the home suggested when the configured one holds the user's own accounts
SEPARATE_HOME = "~/.perpvol-demo"


def refuse_mixing(store: Any, settings: Settings, demo_labels: Iterable[str]) -> str | None:
    """Why the demo must not run on this store (it holds accounts that are not the demo's), else None."""
    own = sorted(a.label for a in store.list_accounts() if a.label not in set(demo_labels))
    if not own:
        return None
    shown = ", ".join(own[:5]) + (" …" if len(own) > 5 else "")
    return (
        f"{where(settings)} holds your own accounts ({shown}); the demo does not mix simulated fills into them. "
        f"Run it on a home of its own: PERPVOL_HOME={SEPARATE_HOME} make demo "
        f"(and the same PERPVOL_HOME for perpvol, make voila and make lab to see its data)"
    )


def where_text(settings: Settings, *, stopped: bool = False) -> str:
    """The line the demo prints at start (and on exit): where its data is and which commands read it."""
    head = "perpvol demo stopped; its data stays in" if stopped else "perpvol demo: data in"
    return (
        f"{head} {where(settings)} (PERPVOL_HOME={settings.home}): `perpvol keys list`, `perpvol volume`, "
        f"`make voila` and `make lab` read it; `perpvol keys remove` {' / '.join(demo_labels())} "
        "before adding your own accounts"
    )


def demo_label(venue_name: str) -> str:
    """The label of the demo's account on venue ``venue_name``."""
    return f"demo-{venue_name}"


def demo_labels() -> list[str]:
    """The demo's account labels, one per registered venue."""
    from perpvol_core.exchanges import VENUES

    return [demo_label(name) for name in VENUES]
