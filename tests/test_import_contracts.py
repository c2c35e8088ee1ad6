"""The import-linter contracts (pyproject ``[tool.importlinter]``) cover every package: the acyclic contract lists
each package of the four (a new package must be added to it), type-only imports count (a cycle hidden behind
``TYPE_CHECKING`` is still a cycle), and every registered venue is in the venue contracts. ``lint-imports`` itself
runs in ``make lint`` and the landing check."""

from __future__ import annotations

import tomllib
from pathlib import Path

from perpvol_core.exchanges import VENUE_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
ROOTS = ("perpvol_core", "perpvol_cli", "perpvol_app", "perpvol_sim")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _contract(kind: str) -> dict:
    (found,) = [c for c in _config()["contracts"] if c["type"] == kind]
    return found


def packages() -> set[str]:
    """Every package (a folder with ``__init__.py``) of the four root packages."""
    out = set()
    for root in ROOTS:
        for init in (ROOT / root).rglob("__init__.py"):
            out.add(".".join(init.parent.relative_to(ROOT).parts))
    return out


def test_the_acyclic_contract_lists_every_package() -> None:
    found = packages()
    assert {"perpvol_core.store", "perpvol_core.exchanges.woox", "perpvol_sim"} <= found  # the walk finds them
    listed = set(_contract("acyclic_siblings")["ancestors"])
    assert found - listed == set(), "packages missing from the acyclic contract"
    assert listed - found == set(), "the acyclic contract names packages that do not exist"


def test_type_only_imports_count() -> None:
    assert _config()["exclude_type_checking_imports"] is False
    assert sorted(_config()["root_packages"]) == sorted(ROOTS)


def test_every_venue_is_in_the_venue_contracts() -> None:
    venues = {f"perpvol_core.exchanges.{name}" for name in VENUE_PACKAGES}
    assert venues <= set(_contract("independence")["modules"])
    assert venues <= set(_contract("acyclic_siblings")["ancestors"])
