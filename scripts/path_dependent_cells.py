"""List the notebook cells whose printed output nbval does not compare, and check each one.

A cell's output is *path-dependent* when its digits change with the floating-point path (the CPU's
vector units, the BLAS build, the thread count, a GPU): long training runs and sampling. Such a
cell carries the tag ``nbval-ignore-output``, starts with a comment that gives the reason, and
asserts the claims its numbers support. Every other cell is compared by nbval character by
character (after ``nbval_sanitize.cfg``).

    python scripts/path_dependent_cells.py      # prints the list; exit status 1 if a cell breaks a rule
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TAG = "nbval-ignore-output"
REASON_PREFIX = "# Path-dependent output (not compared by nbval): "
#: nbval markers that would exempt a cell some other way; only TAG is allowed.
OTHER_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "nbval-skip", "NBVAL_CHECK_OUTPUT", "PYTEST_VALIDATE_IGNORE_OUTPUT")


@dataclass(frozen=True)
class UncomparedCell:
    notebook: str
    number: int  # 1-based among code cells, as nbval's "Cell N" counts from 0
    reason: str
    assertions: int

    def problems(self) -> list[str]:
        found = []
        if not self.reason:
            found.append(f"its first line must start with {REASON_PREFIX!r} and give the reason")
        if not self.assertions:
            found.append("it asserts nothing: state the claim its numbers support and assert it")
        return found


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    notebook = nbformat.read(path, as_version=4)
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def uncompared_cells(path: Path) -> list[UncomparedCell]:
    found = []
    for number, cell in enumerate(code_cells(path), start=1):
        if TAG not in cell.metadata.get("tags", []):
            continue
        lines = cell.source.splitlines()
        reason = ""
        if lines and lines[0].startswith(REASON_PREFIX):
            leading = [line[2:] for line in lines[: next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))]]
            reason = " ".join(leading)[len(REASON_PREFIX) - 2 :].strip()
        try:
            assertions = sum(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(cell.source)))
        except SyntaxError:
            assertions = 0
        found.append(UncomparedCell(path.stem, number, reason, assertions))
    return found


def other_markers(path: Path) -> list[str]:
    """Cells exempted from comparison by anything but the tag: not allowed."""
    found = []
    for number, cell in enumerate(code_cells(path), start=1):
        tags = cell.metadata.get("tags", [])
        if any(marker in tags or marker in cell.source for marker in OTHER_MARKERS):
            found.append(f"{path.stem}, code cell {number}: use the tag {TAG!r} with a reason and assertions instead")
    return found


def main(notebooks: list[Path]) -> int:
    cells = [cell for path in notebooks for cell in uncompared_cells(path)]
    problems = [problem for path in notebooks for problem in other_markers(path)]
    print(f"{len(cells)} path-dependent cells (outputs not compared by nbval; each asserts its claims):")
    for cell in cells:
        print(f"  {cell.notebook}, code cell {cell.number}: {cell.assertions} assertion(s); {cell.reason[:90]}")
        problems += [f"{cell.notebook}, code cell {cell.number}: {problem}" for problem in cell.problems()]
    for problem in problems:
        print(f"ERROR {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main([Path(arg) for arg in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))))
