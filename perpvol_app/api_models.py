"""The API's pydantic models (the OpenAPI document is generated from these), venue parts from the registry.

The account request is one model per credential kind of every registered venue (``AccountCreate<Kind>``:
the label, the optional base URL, the venue, the ``kind`` and that kind's fields, secrets write-only), in a
union discriminated by ``kind``. A body without ``kind`` names its ``exchange`` and the fields of one kind,
as before kinds existed; :func:`credential_tag` picks the kind those fields belong to. The models check
only the shape of the body (text, bounded); what a label, a URL or a credential must look like is checked
once, by :mod:`perpvol_core.services.accounts` and the venue's credential models, in their words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from perpvol_core.exchanges import KINDS, VENUES, credential_kinds
from perpvol_core.services.accounts import LABEL_PATTERN

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
#: the longest text any credential field may be (each kind's own limits are checked by its model)
FIELD_MAX = 20_000
DecimalStr = Annotated[str, Field(pattern=DECIMAL_PATTERN, description="exact decimal (USD), never a float")]
#: the registered venues (``Literal["<name>", …]``, from the registry; a plain str to the type checker)
if TYPE_CHECKING:
    Exchange = str
else:
    Exchange = Literal[tuple(VENUES)]
Ms = Annotated[int, Field(description="UTC epoch milliseconds")]
Day = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="UTC day (YYYY-MM-DD)")]
#: the error type of a body whose kind of credentials cannot be told (no ``kind``, no known ``exchange``)
NO_KIND = "credential_kind_unknown"
#: the request fields that are not credential fields
COMMON_FIELDS = ("label", "exchange", "base_url", "kind")


def kind_name(model: Any) -> str:
    return str(model.model_fields["kind"].default)


def input_fields(model: Any) -> list[str]:
    """A credential kind's fields (``kind`` aside), in declaration order."""
    return [f for f in model.model_fields if f != "kind"]


def secret_fields(model: Any) -> set[str]:
    """The secret fields of a credential kind (the model's own ``secret_fields()``: its ``SecretText`` fields)."""
    return set(model.secret_fields())


def credential_tag(body: Any) -> str | None:
    """The credential kind of a request body: its ``kind``, or the kind of its ``exchange`` whose fields it
    gives (the venue's first kind when it gives none, or fields of several). None: no kind can be told."""
    if isinstance(body, BaseModel):
        return str(getattr(body, "kind", "")) or None
    if not isinstance(body, dict):
        return None
    kind = body.get("kind")
    if kind is not None:
        return kind if isinstance(kind, str) else None
    exchange = body.get("exchange")
    if not isinstance(exchange, str) or exchange not in VENUES:
        return None
    given = {k for k, v in body.items() if k not in COMMON_FIELDS and v not in (None, "")}
    kinds = credential_kinds(exchange)
    fits = [name for name, model in kinds.items() if given <= set(input_fields(model))]
    return fits[0] if fits else next(iter(kinds))


def _camel(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _create_model(model: Any) -> type[BaseModel]:
    kind = kind_name(model)
    secrets = secret_fields(model)
    fields: dict[str, Any] = {
        "label": (Annotated[str, Field(pattern=LABEL_PATTERN, description="your name for the account")], ...),
        "exchange": (Literal[model.exchange] | None,
                     Field(default=None, description="the venue (optional: the kind names it)")),
        "base_url": (Annotated[str, Field(max_length=2000)] | None,
                     Field(default=None, description="http(s) URL (a venue's own host, or a local simulator)")),
        "kind": (Literal[kind], Field(default=kind, description="the kind of credentials")),
    }  # fmt: skip
    for name in input_fields(model):
        info = model.model_fields[name]
        extra = {"writeOnly": True, "format": "password"} if name in secrets else None
        text = Annotated[str, Field(max_length=FIELD_MAX, title=info.title, description=info.description,
                                    json_schema_extra=extra)]  # fmt: skip
        fields[name] = (text, ...) if info.is_required() else (text | None, None)
    doc = f"Add an account with {model.summary}: tested against the exchange before saving, never echoed."
    return create_model(
        f"AccountCreate{_camel(kind)}", __config__=ConfigDict(extra="forbid", title=f"AccountCreate{_camel(kind)}"),
        __doc__=doc, **fields,
    )


#: kind -> its request model
CREATE_MODELS: dict[str, type[BaseModel]] = {kind: _create_model(model) for kind, model in KINDS.items()}
_MEMBERS = tuple(Annotated[m, Tag(kind)] for kind, m in CREATE_MODELS.items())
#: the account request: one model per credential kind, told apart by ``kind`` (or inferred, see credential_tag)
AccountCreate = (
    Annotated[Union[_MEMBERS], Discriminator(  # noqa: UP007
        credential_tag, custom_error_type=NO_KIND, custom_error_message="no kind of credentials can be told")]
    if len(_MEMBERS) > 1 else next(iter(CREATE_MODELS.values()))
)  # fmt: skip


class ErrorBody(BaseModel):
    error: str
    message: str


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "error"]
    worker: str | None
    time_ms: Ms
    version: str


class Account(BaseModel):
    label: str
    exchange: Exchange
    base_url: str | None = None
    hint: str = Field(description="masked hint; never a secret")
    status: Literal["new", "ok", "syncing", "error"]
    last_error: str | None = None
    created_ms: Ms
    display_name: str | None = None
    fills: int | None = Field(default=None, description="fills stored for the account (the one count)")
    coverage: str | None = None
    last_success_ms: Ms | None = None
    identity: str | None = Field(default=None, description="the exchange's own id of the account")
    complete_from: Day | None = Field(
        default=None, description="the first UTC day from which the stored history is complete (earlier days: "
        "not covered, never zero); None before the first sync",
    )  # fmt: skip


class AccountList(BaseModel):
    accounts: list[Account]


class AccountTest(BaseModel):
    label: str
    exchange: Exchange
    ok: bool
    hint: str
    identity: str


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: Annotated[str, Field(max_length=200, description=f"one account's label ({LABEL_PATTERN})")] | None = None


class SyncStarted(BaseModel):
    status: Literal["started"]
    label: str | None


class SyncAccount(BaseModel):
    label: str
    exchange: Exchange
    status: str
    last_error: str | None
    fills: int | None = None
    coverage: str | None = None
    complete_from: Day | None = None
    sync: dict[str, Any]


class SyncStatus(BaseModel):
    generated_at: str
    accounts: list[SyncAccount]
    worker: dict[str, Any] | None


class Periods(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    h24: DecimalStr = Field(alias="24h")
    d7: DecimalStr = Field(alias="7d")
    d30: DecimalStr = Field(alias="30d")
    all: DecimalStr


class PartialPeriods(BaseModel):
    """Per period: True when its figure is only a lower bound (a venue does not cover the whole period)."""

    model_config = ConfigDict(populate_by_name=True)
    h24: bool = Field(alias="24h")
    d7: bool = Field(alias="7d")
    d30: bool = Field(alias="30d")
    all: bool


class NotePeriods(BaseModel):
    """Per period: "partial: <venue> not covered before <day>", or "" when the period is covered."""

    model_config = ConfigDict(populate_by_name=True)
    h24: str = Field(alias="24h")
    d7: str = Field(alias="7d")
    d30: str = Field(alias="30d")
    all: str


class CoverageAccount(BaseModel):
    label: str
    complete_from: Day | None = Field(description="first UTC day its stored history is complete (None: not synced)")
    read_from: Day | None = Field(description="first whole UTC day its sync read")
    partial: bool = Field(description="the venue served less than the sync read, or nothing synced yet")
    ours_all_time: DecimalStr = Field(description="counted perp volume stored for the account")
    reported_all_time: DecimalStr | None = Field(description="the venue's own all-time perp volume, if reported")
    reported_at: str | None = Field(description="when the venue's figure was fetched (UTC)")


class CoverageVenue(BaseModel):
    display_name: str
    complete_from: Day | None = Field(description="the latest complete_from of its accounts (earlier days: "
                                      "not covered, never zero)")  # fmt: skip
    partial: PartialPeriods
    ours_all_time: DecimalStr
    reported_all_time: DecimalStr | None = Field(description="the venue's own all-time perp volume, summed over "
                                                 "its accounts when every one reports it")  # fmt: skip
    reported_at: str | None = Field(default=None, description="when the oldest of those figures was fetched (UTC)")
    accounts: list[CoverageAccount]


class CoverageRange(BaseModel):
    partial: bool
    note: str
    not_covered: dict[str, Day | None] = Field(description="venue -> its first covered day (None: not synced)")


class Coverage(BaseModel):
    """What the stored history covers: a figure over days before a venue's complete_from is a lower bound."""

    history_start: Day | None = Field(description='first day of "all time": the earliest whole day synced')
    partial: PartialPeriods
    note: NotePeriods
    venues: dict[str, CoverageVenue] = Field(description="every venue with an account")
    range: CoverageRange | None = None


class Summary(BaseModel):
    generated_at: str
    totals: Periods
    by_exchange: dict[str, Periods]
    coverage: Coverage


class Window(BaseModel):
    start_ms: Ms
    end_ms: Ms


class Current(BaseModel):
    generated_at: str
    as_of_ms: Ms
    window: Window
    volume_usd: DecimalStr
    by_exchange: dict[str, DecimalStr]
    totals: Periods
    coverage: Coverage


class DailyRow(BaseModel):
    date: Day
    exchange: Exchange
    volume_usd: DecimalStr
    maker_usd: DecimalStr
    taker_usd: DecimalStr
    fees_usd: DecimalStr
    fills: Annotated[int, Field(ge=0)]
    covered: bool = Field(default=True, description="False for a day before the venue's complete_from: its "
                          "figures are only what is stored (the venue no longer serves the rest), never a full day")


class Daily(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from")
    to: str | None
    exchange: str | None
    market: str | None
    daily: list[DailyRow]
    coverage: Coverage


class RangeCell(BaseModel):
    volume_usd: DecimalStr
    maker_usd: DecimalStr
    taker_usd: DecimalStr
    fees_usd: DecimalStr
    fills: int


class VolumeRange(BaseModel):
    """Counted perp totals of the UTC days ``from``..``to`` (inclusive), in total and per exchange."""

    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from", description="first UTC day (YYYY-MM-DD)")
    to: str = Field(description="last UTC day (YYYY-MM-DD)")
    days: int
    totals: RangeCell
    by_exchange: dict[str, RangeCell]
    coverage: Coverage


class EmbedPayload(BaseModel):
    generated_at: str
    totals: Periods
    by_exchange: dict[str, Periods]
    partial: PartialPeriods | None = Field(default=None, description="per period: the total is only a lower bound")
    note: str = Field(default="", description='"partial: <venue> not covered before <day>", or ""')
