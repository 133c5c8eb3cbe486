"""Write the first code cell of every notebook: install the book's helper package when it is missing.

A notebook opened in Colab, Kaggle, Binder or any Jupyter outside this repository has no
``tutorial_utils``; its first code cell installs it from the book's repository, whose URL and
branch come from ``_config.yml`` (``repository.url``, ``repository.branch``). Where the package is
installed already (``make lab``, nbval, the book's build) the cell does nothing and prints nothing.
On the website it is collapsed (tag ``hide-cell``).

    python scripts/setup_cells.py           # or: make setup-cells (after a fork changed _config.yml)
    python scripts/setup_cells.py --check   # exit status 1 if a notebook's cell differs from the configuration

Rewriting keeps each notebook's stored outputs: only the cell's source changes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIRST_LINE = "# Colab, Kaggle, Binder or a Jupyter outside the book's repository:"
WIDTH = 79  # the cell fits the book's code column, like every other cell
TAG = "hide-cell"


def install_url(config_path: Path | None = None) -> str:
    """The pip requirement that installs the package from the repository and branch of ``_config.yml``."""
    repository = yaml.safe_load((config_path or ROOT / "_config.yml").read_text())["repository"]
    url, branch = repository["url"].rstrip("/"), repository.get("branch", "main")
    if not url.startswith("https://"):
        raise SystemExit(f"_config.yml: repository.url must be an https URL, got {url!r}")
    return f"tutorial-utils @ git+{url}@{branch}"


def _pieces(text: str, width: int) -> list[str]:
    """``text`` in pieces of at most ``width`` characters, cut after slashes where it can be."""
    pieces: list[str] = []
    for part in re.split(r"(?<=/)", text):
        if pieces and len(pieces[-1]) + len(part) <= width:
            pieces[-1] += part
            continue
        while len(part) > width:
            pieces.append(part[:width])
            part = part[width:]
        pieces.append(part)
    return pieces


def cell_source(requirement: str) -> str:
    indent = " " * 8
    literal = "\n".join(f'{indent}"{piece}"' for piece in _pieces(requirement, WIDTH - len(indent) - 2))
    return f'''{FIRST_LINE}
# install the book's helper package (where it is installed, this does nothing).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("tutorial_utils") is None:
    package = (
{literal}
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", package], check=True)
    importlib.invalidate_caches()'''


def _update(notebook: nbformat.NotebookNode, source: str) -> bool:
    """Put ``source`` into the notebook's setup cell, inserting one before the first code cell if needed."""
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    # Recognised by what it does, so that a cell in an older wording is replaced, not kept.
    if code and 'find_spec("tutorial_utils")' in notebook.cells[code[0]].source:
        cell = notebook.cells[code[0]]
        changed = cell.source != source or TAG not in cell.metadata.get("tags", [])
        cell.source = source
        cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {TAG})
        return changed
    notebook.cells.insert(code[0] if code else len(notebook.cells), nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]}))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    source = cell_source(install_url())
    stale = []
    for script in sorted((ROOT / "notebooks").glob("*.py")):
        paired = script.with_suffix(".ipynb")
        readers_writers = (
            (script, jupytext.read, lambda notebook, path: jupytext.write(notebook, path, fmt="py:percent")),
            (paired, lambda path: nbformat.read(path, as_version=4), nbformat.write),
        )
        for path, reader, writer in readers_writers:
            if not path.exists():
                continue
            notebook = reader(path)
            if _update(notebook, source):
                stale.append(path)
                if not args.check:
                    writer(notebook, path)
                    print(f"updated the setup cell of {path.relative_to(ROOT)}")
    if args.check and stale:
        for path in stale:
            print(f"{path.relative_to(ROOT)}: its setup cell does not install {install_url()}: run `make setup-cells`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
