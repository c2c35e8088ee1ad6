"""The registered venues as the command line shows them, read from the registry (:mod:`perpvol_core.exchanges`):
names, display names, and each venue's credential fields as options (``api_key`` -> ``--api-key``; a secret
field -> ``--<field>-stdin``, its value never on the command line)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perpvol_app.api_models import input_fields, secret_fields
from perpvol_app.api_models import kind_name as _kind_name
from perpvol_core import exchanges

__all__ = ["CredentialOption", "credential_options", "input_fields", "kind_name", "kinds", "secret_fields"]


def names() -> list[str]:
    """The registered venues' names, in the registry's order."""
    return list(exchanges.VENUES)


def display_name(name: str) -> str:
    return exchanges.display_name(name)


def display_names() -> str:
    """Every venue's display name as a sentence names them (``"A, B and C"``)."""
    shown = [exchanges.display_name(n) for n in names()]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def choices_text() -> str:
    """Every venue's name as a choice (``"a, b or c"``)."""
    ns = names()
    return ns[0] if len(ns) == 1 else f"{', '.join(ns[:-1])} or {ns[-1]}"


def simulator_module(name: str) -> str:
    """The module of venue ``name``'s simulator (the demo's rule: :func:`perpvol_app.serve.simulator_module`)."""
    from perpvol_app.serve import simulator_module as module_of

    return module_of(name)


def kinds(name: str) -> list[Any]:
    """The credential kinds (models) of venue ``name``, in the venue's order (the first is the default)."""
    return list(exchanges.credential_kinds(name).values())


def kind_name(model: Any) -> str:
    return _kind_name(model)


def kinds_text(name: str) -> str:
    """``"a … ; or a …"``: what the venue takes, in the kinds' own words."""
    return "; or ".join(str(m.summary) for m in kinds(name))




@dataclass(frozen=True)
class CredentialOption:
    """One credential field of a venue as a command-line option."""

    field: str
    title: str
    secret: bool
    #: the summaries of the kinds that take this field
    kinds: tuple[str, ...]
    description: str = ""

    @property
    def flag(self) -> str:
        """The option: ``--api-key``, or ``--api-secret-stdin`` for a secret (read from stdin)."""
        base = "--" + self.field.replace("_", "-")
        return f"{base}-stdin" if self.secret else base

    @property
    def help(self) -> str:
        what = f" ({self.description})" if self.description else ""
        return f"Read the {self.title} from stdin{what}." if self.secret else f"The {self.title}{what}."


def credential_options(name: str) -> list[CredentialOption]:
    """Every credential field of venue ``name`` once, in the order its kinds declare them."""
    seen: dict[str, CredentialOption] = {}
    for model in kinds(name):
        secrets = secret_fields(model)
        for field in input_fields(model):
            old = seen.get(field)
            summaries = (*(old.kinds if old else ()), str(model.summary))
            description = model.model_fields[field].description or ""
            seen[field] = CredentialOption(field, model.field_title(field), field in secrets, summaries, description)
    return list(seen.values())
