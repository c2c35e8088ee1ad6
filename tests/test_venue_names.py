"""A venue is one package: no venue's name appears in the product outside its own packages.

Every key of the registry (``perpvol_core.exchanges.VENUES``) is searched for, case-insensitively and at
the start of a word (``"name"``, ``name_x``, ``NameConnector``, ``api.name.io``), in every text file of
``perpvol_core``, ``perpvol_app``, ``perpvol_cli`` and ``perpvol_sim``. Allowed: the venue's own packages
``perpvol_core/exchanges/<name>/`` and ``perpvol_sim/<name>/``, and the registry's one list of packages.
A venue added to the registry is checked without editing this test.
"""

from __future__ import annotations

import re
from pathlib import Path

from perpvol_core.exchanges import VENUES

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("perpvol_core", "perpvol_app", "perpvol_cli", "perpvol_sim")
TEXT_SUFFIXES = {".py", ".html", ".j2", ".jinja", ".js", ".css", ".json", ".toml", ".md", ".ipynb", ".txt", ".yaml"}
REGISTRY = Path("perpvol_core/exchanges/__init__.py")
REGISTRY_LIST = re.compile(r"^VENUE_PACKAGES: tuple\[str, \.\.\.\] = \(")


def _allowed(path: Path) -> bool:
    parts = path.parts
    if parts[:2] == ("perpvol_core", "exchanges") and len(parts) > 3 and parts[2] in VENUES:
        return True
    return parts[0] == "perpvol_sim" and len(parts) > 2 and parts[1] in VENUES


def _leaks() -> list[str]:
    pattern = re.compile(r"(?i)(?<![A-Za-z0-9])(" + "|".join(map(re.escape, VENUES)) + ")")
    found = []
    for top in PRODUCT:
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT)
            if not path.is_file() or path.suffix not in TEXT_SUFFIXES or "__pycache__" in rel.parts or _allowed(rel):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if rel == REGISTRY and REGISTRY_LIST.match(line):
                    continue
                for match in pattern.finditer(line):
                    found.append(f"{rel}:{number}: {match.group(1)!r} in {line.strip()[:100]!r}")
    return found


def test_the_search_finds_a_name_where_it_is() -> None:
    # the search itself: it would report a name written in any of the forms it looks for
    pattern = re.compile(r"(?i)(?<![A-Za-z0-9])(" + "|".join(map(re.escape, VENUES)) + ")")
    for name in VENUES:
        for text in (f'"{name}"', f"{name.capitalize()}Connector", f"{name.upper()}_FILL", f"api.{name}.io"):
            assert pattern.search(text), text
        assert not pattern.search(f"x{name}")


def test_no_venue_name_outside_its_packages() -> None:
    leaks = _leaks()
    files = sorted({leak.split(":", 1)[0] for leak in leaks})
    assert not leaks, (
        f"{len(leaks)} venue name(s) in {len(files)} file(s) outside the venue packages: {', '.join(files)}\n"
        + "\n".join(leaks[:200])
    )
