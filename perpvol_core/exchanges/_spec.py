"""What one venue tells the rest of perpvol: its :class:`VenueSpec` and its :class:`StreamAdapter`.

A venue is one package, ``perpvol_core/exchanges/<name>/``, whose ``spec.py`` defines ``SPEC``; the registry
(``perpvol_core.exchanges``) lists the packages and nothing else knows a venue's name. Sync, live, accounts,
tiers, the API, the CLI, the dashboard and the demo read everything venue-specific from the spec:

* who it is: ``name``, ``display_name``, ``colour`` (charts and legends);
* where it lives: ``default_base_url`` and ``hosts`` (REST host -> private WebSocket host). A ``base_url``
  is accepted only on one of these hosts over https, or on a loopback address (the simulators);
* what the user gives: ``credential_kinds``, pydantic models, one per kind, each with a ``kind`` literal
  (the discriminator of the API's and the vault's union) and a ``hint`` property (never a secret);
* how fills are read: ``connector`` (``"module:Class"``, a :class:`~perpvol_core.exchanges._http.Connector`)
  and ``stream`` (``"module:Class"``, a :class:`StreamAdapter`), both imported lazily;
* what counts: ``is_perp(market)`` and ``counts(market, fill_type)``;
* how much history the venue serves: ``retention_limited`` (True when only part of it is served, so an
  account's ``complete_from`` can be later than the synced window's start);
* ``identity`` (``"module:function"``, ``(connector, credentials) -> str | None``, the venue's own id of
  the account), ``tier_source`` (``"module:function"`` or None) and ``simulator`` (the package under
  ``perpvol_sim`` that serves it offline).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from perpvol_core.fill import Fill
from perpvol_core.security.credentials import CredentialModel


def load(path: str) -> Any:
    """The object named by ``"package.module:attribute"`` (imported on first use)."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass(frozen=True)
class VenueSpec:
    """Everything the rest of perpvol knows of one venue."""

    name: str
    display_name: str
    #: chart and legend colour (hex), distinct from the other venues' and readable on black
    colour: str
    default_base_url: str
    #: REST host -> its private WebSocket host (documented production and staging hosts)
    hosts: Mapping[str, str]
    #: the credential kinds (pydantic models with a ``kind`` literal and a ``hint`` property)
    credential_kinds: tuple[type[CredentialModel], ...]
    #: "module:Class" of the REST connector
    connector: str
    #: "module:Class" of the stream adapter
    stream: str
    is_perp: Callable[[str], bool]
    counts: Callable[[str, str], bool]
    #: "module:function" -> the venue's own id of the account, ``(connector, credentials) -> str | None``
    identity: str
    #: package under ``perpvol_sim`` with this venue's simulator (``demo_venue(...)``, see below)
    simulator: str
    #: "module:function" -> the venue's fee-tier figures for an account, or None
    tier_source: str | None = None
    #: "module:function" -> the venue's tier tables and the account's reported rates,
    #: ``(connector, exchange_report | None) -> dict`` (``perpvol_core.analytics.fee_schedule.FeeSchedule``)
    fee_schedule: str | None = None
    #: True when the venue serves only part of an account's history (complete_from may be late)
    retention_limited: bool = False
    #: hosts that hold the same accounts as another host (legacy domains): host -> canonical host
    same_hosts: Mapping[str, str] = field(default_factory=dict)
    #: said with every coverage statement (what the venue can never serve), or ""
    history_note: str = ""
    #: "module:SOURCE" -> the venue's :class:`~perpvol_core.exchanges._figures.FigureSource` (the volume
    #: figures it reports, for the reconciliation), or None
    reported_figures: str | None = None


@dataclass
class StreamTarget:
    """Where to connect now. ``renew_at`` (``time.monotonic()``): replace the target then (a key expires)."""

    url: str
    renew_at: float | None = None
    #: the adapter's own tag of this target (e.g. a protocol version)
    kind: str = ""


class StreamConnection(Protocol):
    """The open WebSocket as the adapter sees it (the live service owns the socket and reconnects)."""

    async def send_json(self, message: Any) -> None: ...

    async def recv_message(self, timeout: float) -> Any:
        """The next message: parsed JSON (non-integers as ``Decimal``), or the raw text when not JSON."""
        ...


@dataclass
class StreamReply:
    """What one pushed message means: fills to store, messages to send back (pongs)."""

    fills: list[Fill] = field(default_factory=list)
    replies: list[Any] = field(default_factory=list)


class StreamAdapter(ABC):
    """One account's private fill stream on one venue: the wire, not the connection.

    The live service opens the socket at :meth:`target`, runs :meth:`handshake`, then feeds every message to
    :meth:`on_message`, sends :meth:`heartbeat` after ``heartbeat_s`` seconds without an outgoing message,
    reconnects with backoff and runs one incremental REST sync after every (re)connect.
    """

    #: seconds without an outgoing message after which :meth:`heartbeat` is sent (None: the venue needs none)
    heartbeat_s: float | None = None

    def __init__(self, credentials: Any, base_url: str | None, **options: Any) -> None:
        self.credentials = credentials
        self.base_url = base_url
        self.options = options

    @abstractmethod
    async def target(self) -> StreamTarget:
        """Where to connect (may call REST, e.g. for a listen key). Raises StreamAuthRefused, ExchangeError."""

    @abstractmethod
    async def handshake(self, conn: StreamConnection) -> None:
        """Authenticate and subscribe to the account's fills. Raises StreamAuthRefused, StreamProtocolError."""

    @abstractmethod
    def on_message(self, message: Any) -> StreamReply:
        """The fills in one pushed message and the replies it asks for. Raises ValueError on a bad fill."""

    def heartbeat(self) -> Any | None:
        """The message that keeps the connection open (None: none)."""
        return None

    def connect_failed(self, status: int | None) -> bool:
        """The server refused the connection with HTTP ``status``; True when :meth:`target` must be asked
        again (another protocol version, a new key) instead of retrying the same URL."""
        return False


# The simulator contract (perpvol_sim/<name>/__init__.py), used by the demo and the registry-driven tests:
#
#   def demo_venue(seed: int, n_fills: int, now_ms: int, days: int, port: int | None = None) -> SimVenue
#
# SimVenue: ``start() -> base_url``, ``stop()``, ``base_url`` (what an account is added with), ``history``
# (a perpvol_sim.history.History with expected_daily()/expected_total(), add_live_fill(), start_live()),
# ``credentials() -> dict`` (the fields of one of the venue's credential kinds, ``kind`` included) and
# ``live_interval_factor`` (the demo's live pace relative to the first venue's).
