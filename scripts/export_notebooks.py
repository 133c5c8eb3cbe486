"""Copy the code cells tagged ``export`` from the chapters into the modules of tutorial_utils.

A chapter defines the code it teaches in its own cells, with the prose around it. The cells that
later chapters, the benchmarks or the tests need carry the tag ``export`` (in the percent script:
``# %% tags=["export"]``); this script writes them, in order, into the chapter's module, under a
header that names the notebook. The modules are generated: edit the notebook, then run

    python scripts/export_notebooks.py           # or: make export
    python scripts/export_notebooks.py --check   # exit status 1 if a module differs from its notebook

``tests/test_package.py`` runs the check, so a module edited by hand, or a notebook edited without
exporting, fails the tests.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import jupytext
from notebook_cells import tagged_sources

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tutorial_utils"
TAG = "export"
#: module of tutorial_utils -> the notebooks whose exported cells it receives, in order (a chapter
#: in several section pages gives one module: a later section imports what an earlier one defined)
EXPORTS: dict[str, tuple[str, ...]] = {
    "logreg": ("01_logreg_manual",),
    "softmax": ("05_softmax_mnist",),
    "softmax_tf": ("05_softmax_mnist_tensorflow",),
    "charrnn": ("06_char_rnn", "06_2_recurrent_networks", "06_3_backprop_through_time",
                "06_4_truncated_bptt", "06_5_how_much_faster", "06_7_checkpoints"),
    "charrnn_tf": ("06_char_rnn_tensorflow",),
    "ddp_charrnn": ("07_char_rnn_ddp",),
    "transformer": ("08_char_transformer",),
}


def _is_imports(source: str) -> bool:
    """A cell of nothing but import statements (comments aside)."""
    body = ast.parse(source).body
    return bool(body) and all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)


def _import_group(statement: str) -> int:
    """isort's sections: the standard library, third-party packages, then the book's own."""
    top = statement.split()[1].split(".")[0]
    if top == "tutorial_utils":
        return 2
    return 0 if top in sys.stdlib_module_names else 1


def _merged_imports(cells: list[str]) -> str:
    """The import statements of several sections' import cells, each once, in isort's sections."""
    statements: list[str] = []
    for cell in cells:
        for node in ast.parse(cell).body:
            statement = ast.get_source_segment(cell, node)
            if statement not in statements:
                statements.append(statement)
    groups: list[list[str]] = [[], [], []]
    for statement in statements:
        groups[_import_group(statement)].append(statement)
    return "\n\n".join("\n".join(sorted(group, key=lambda s: (s.startswith("from"), s)))
                        for group in groups if group)


def module_source(module: str) -> str:
    """The text of ``src/tutorial_utils/<module>.py``, generated from the notebooks of :data:`EXPORTS`."""
    stems = EXPORTS[module]
    paths = [ROOT / "notebooks" / f"{stem}.py" for stem in stems]
    cells = [cell for path in paths for cell in tagged_sources(path, TAG)]
    imports = [cell for cell in cells if _is_imports(cell)]
    code = [cell for cell in cells if not _is_imports(cell)]
    first = jupytext.read(paths[0]).cells
    title = next((c.source.lstrip("# ").splitlines()[0] for c in first if c.cell_type == "markdown"), stems[0])
    if len(stems) == 1:
        header = (
            f'"""{title}: the code of chapter {int(stems[0][:2])}, for later chapters, benchmarks and tests.\n\n'
            f"Generated from notebooks/{stems[0]}.py (its cells tagged {TAG!r}) by scripts/export_notebooks.py:\n"
            'edit the notebook and run `make export`, not this file.\n"""'
        )
        return "\n\n\n".join([header, *cells]) + "\n"
    sources = ", ".join(f"notebooks/{stem}.py" for stem in stems)
    header = (
        f'"""{title.split(":")[0]}: the code of chapter {int(stems[0][:2])}, for later chapters, benchmarks and tests.\n\n'
        f"Generated from {sources}\n(their cells tagged {TAG!r}) by scripts/export_notebooks.py: "
        'edit the notebooks and run `make export`,\nnot this file.\n"""'
    )
    parts = [header, *([_merged_imports(imports)] if imports else []), *code]
    return "\n\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for module, stems in EXPORTS.items():
        path = PACKAGE / f"{module}.py"
        source = module_source(module)
        named = " and ".join(f"notebooks/{stem}.py" for stem in stems)
        if args.check:
            if not path.exists() or path.read_text() != source:
                stale.append(f"src/tutorial_utils/{module}.py differs from the cells tagged {TAG!r} in {named}")
        elif not path.exists() or path.read_text() != source:
            path.write_text(source)
            print(f"{named} -> src/tutorial_utils/{module}.py")
    for message in stale:
        print(f"{message}: edit the notebook, then run `make export`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
