#!/usr/bin/env python3
"""Strip outputs, execution counts and run metadata from notebooks (they are committed clean).

    python scripts/strip_notebook_outputs.py                  # strip notebooks/*.ipynb in place
    python scripts/strip_notebook_outputs.py --check [PATHS]  # exit 1 and list notebooks that are not clean

Outputs may hold data from a real store (volumes, account labels), so they never go into git.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
#: Notebook-level metadata written by a run, never by the author.
RUN_METADATA = ("widgets", "varInspector", "toc", "execution")
#: Cell-level metadata written by a run.
CELL_RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def problems(nb: Any) -> list[str]:
    """What makes ``nb`` unclean: one line per cell with outputs or an execution count."""
    found: list[str] = []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {i}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: execution_count {cell['execution_count']}")
        run_meta = [k for k in CELL_RUN_METADATA if k in cell.get("metadata", {})]
        if run_meta:
            found.append(f"cell {i}: run metadata {run_meta}")
    run_meta = [k for k in RUN_METADATA if k in nb.get("metadata", {})]
    if run_meta:
        found.append(f"notebook: run metadata {run_meta}")
    return found


def strip(nb: Any) -> bool:
    """Clean ``nb`` in place; True when something changed."""
    changed = False
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            cell["outputs"] = []
            changed = True
        if cell.get("execution_count") is not None:
            cell["execution_count"] = None
            changed = True
        for key in CELL_RUN_METADATA:
            if key in cell.get("metadata", {}):
                del cell["metadata"][key]
                changed = True
    for key in RUN_METADATA:
        if key in nb.get("metadata", {}):
            del nb["metadata"][key]
            changed = True
    return changed


def notebook_paths(paths: Sequence[str]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 when a notebook is not clean")
    parser.add_argument("paths", nargs="*", help="notebooks (default: notebooks/*.ipynb)")
    args = parser.parse_args(argv)
    dirty = 0
    for path in notebook_paths(args.paths):
        nb = nbformat.read(path, as_version=4)
        if args.check:
            found = problems(nb)
            if found:
                dirty += 1
                print(f"{path}: not stripped: " + "; ".join(found))
        elif strip(nb):
            nbformat.validate(nb)
            nbformat.write(nb, path)
            print(f"stripped {path}")
    if args.check and dirty:
        print(f"{dirty} notebook(s) have outputs; run: python scripts/strip_notebook_outputs.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
