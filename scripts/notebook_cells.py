"""The source of a chapter's code cells that carry a tag: one reader for the exporter, the tabs and the benchmarks."""

from __future__ import annotations

from pathlib import Path

import jupytext


def tagged_sources(notebook: Path, tag: str) -> list[str]:
    """The source of every code cell of the percent script ``notebook`` tagged ``tag``, in order.

    Raises:
        SystemExit: naming the notebook and the tag, if no cell carries it.
    """
    cells = jupytext.read(notebook).cells
    sources = [cell.source.strip() for cell in cells if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])]
    if not sources:
        raise SystemExit(f"{notebook} has no code cell tagged {tag!r}")
    return sources


def code_lines(notebook: Path, tag: str) -> int:
    """Lines of code (not blank, not comments) in the code cells of ``notebook`` tagged ``tag``."""
    return sum(1 for source in tagged_sources(notebook, tag) for line in source.splitlines()
               if line.strip() and not line.strip().startswith("#"))
