#!/usr/bin/env python3
"""Fail when what the code imports and what the project declares disagree (``make lint`` runs it).

    python scripts/check_deps.py [--root DIR]

Checks, with the settings of ``[tool.perpvol.check-deps]`` in ``pyproject.toml``:

* every third-party module the product imports (``product``) comes from a distribution declared in
  ``[project.dependencies]`` or in an extra of an optional surface (``product-extras``); every one the
  tests, benchmarks and scripts import (``dev``) from any declared group;
* every runtime dependency is imported by the product, or named in ``used-without-import`` with why
  (a database driver, a backend another library loads);
* ``pyproject.toml`` states compatible ranges (a lower bound, never ``==``); ``constraints.txt`` alone holds
  the exact lock: one ``name==version`` a line, every declared package pinned there within its range.

Imports are read from the source (``ast``: top-level, in functions and under ``TYPE_CHECKING`` alike);
which distribution provides a module comes from the installed environment (``make install``).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections.abc import Iterable, Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;#]+)$")


def norm(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(paths: Iterable[Path], first_party: set[str]) -> dict[str, set[str]]:
    """Top-level third-party module -> the files importing it (relative imports, stdlib, first party left out)."""
    found: dict[str, set[str]] = {}
    for path in paths:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError) as exc:
            raise SystemExit(f"check_deps: cannot read {path}: {exc}") from None
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in first_party:
                    continue
                found.setdefault(top, set()).add(str(path))
    return found


def python_files(root: Path, dirs: Iterable[str]) -> Iterator[Path]:
    for name in dirs:
        base = root / name
        if base.is_dir():
            yield from sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def requirements(items: Iterable[str], where: str, problems: list[str]) -> list[Requirement]:
    out = []
    for text in items:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            problems.append(f"pyproject.toml {where}: {text!r} is not a requirement ({exc})")
            continue
        specs = list(req.specifier)
        if any(s.operator in ("==", "===") for s in specs):
            problems.append(f"pyproject.toml {where}: {text!r} pins an exact version; state a compatible range "
                            "(the exact lock belongs in constraints.txt)")
        elif not any(s.operator in (">=", ">", "~=") for s in specs):
            problems.append(f"pyproject.toml {where}: {text!r} has no lower bound")
        out.append(req)
    return out


def read_lock(path: Path, problems: list[str]) -> dict[str, Version]:
    lock: dict[str, Version] = {}
    if not path.is_file():
        problems.append(f"{path.name} is missing (the exact lock)")
        return lock
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match is None:
            problems.append(f"{path.name}:{number}: {line!r} is not an exact name==version pin")
            continue
        try:
            version = Version(match["version"])
        except InvalidVersion:
            problems.append(f"{path.name}:{number}: {line!r} has an invalid version")
            continue
        if norm(match["name"]) in lock:
            problems.append(f"{path.name}:{number}: {match['name']} is pinned twice")
        lock[norm(match["name"])] = version
    return lock


def check(root: Path) -> list[str]:
    """Every disagreement found under ``root`` (a project directory), one line each."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    settings = pyproject.get("tool", {}).get("perpvol", {}).get("check-deps", {})
    product, dev = list(settings.get("product", [])), list(settings.get("dev", []))
    product_extras = list(settings.get("product-extras", []))
    without_import = {norm(k): v for k, v in settings.get("used-without-import", {}).items()}
    problems: list[str] = []

    runtime = requirements(project.get("dependencies", []), "dependencies", problems)
    extras = {name: requirements(reqs, f"[{name}]", problems)
              for name, reqs in project.get("optional-dependencies", {}).items()}  # fmt: skip
    runtime_names = {norm(r.name) for r in runtime}
    product_names = runtime_names | {norm(r.name) for name in product_extras for r in extras.get(name, [])}
    every_name = runtime_names | {norm(r.name) for reqs in extras.values() for r in reqs}

    lock = read_lock(root / "constraints.txt", problems)
    for req in runtime + [r for reqs in extras.values() for r in reqs]:
        pinned = lock.get(norm(req.name))
        if pinned is None:
            problems.append(f"constraints.txt: {req.name} is declared but not pinned")
        elif not req.specifier.contains(pinned, prereleases=True):
            problems.append(f"constraints.txt: {req.name}=={pinned} is outside the declared range {req}")

    provider = {module: [norm(d) for d in dists] for module, dists in packages_distributions().items()}
    first_party = {*product, *dev, "conftest"}
    for dirs, allowed, what in ((product, product_names, "the dependencies" + "".join(
            f" or [{e}]" for e in product_extras)), (dev, every_name, "any group of pyproject.toml")):
        for module, files in sorted(imported_modules(python_files(root, dirs), first_party).items()):
            dists = provider.get(module)
            where = ", ".join(sorted(Path(f).relative_to(root).as_posix() for f in files)[:3])
            if not dists:
                problems.append(f"{module} (imported by {where}) is installed by no distribution: install the "
                                "project (make install) or declare what provides it")
            elif not set(dists) & allowed:
                problems.append(f"{module} (imported by {where}) comes from {', '.join(dists)}, not declared in {what}")

    used = {d for module in imported_modules(python_files(root, product), first_party)
            for d in provider.get(module, [])}  # fmt: skip
    for req in runtime:
        name = norm(req.name)
        if name not in used and name not in without_import:
            problems.append(f"pyproject.toml dependencies: {req.name} is declared but never imported by the product "
                            "(remove it, or say why it is needed in [tool.perpvol.check-deps.used-without-import])")
    for name in sorted(set(without_import) - runtime_names):
        problems.append(f"[tool.perpvol.check-deps.used-without-import]: {name} is not a declared dependency")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the project directory (default: this checkout)")
    args = parser.parse_args(argv)
    problems = check(args.root.resolve())
    for line in problems:
        print(f"check_deps: {line}", file=sys.stderr)
    if not problems:
        print("check_deps: every import is declared, every dependency used, ranges in pyproject, the lock exact")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
