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
import sys
from pathlib import Path

import jupytext
from notebook_cells import tagged_sources

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "tutorial_utils"
TAG = "export"
#: notebook stem -> module of tutorial_utils that receives its exported cells
EXPORTS = {
    "01_logreg_manual": "logreg",
    "05_softmax_mnist": "softmax",
    "05_softmax_mnist_tensorflow": "softmax_tf",
    "06_char_rnn": "charrnn",
    "06_char_rnn_tensorflow": "charrnn_tf",
    "07_char_rnn_ddp": "ddp_charrnn",
}


def module_source(stem: str) -> str:
    """The text of the module generated from ``notebooks/<stem>.py``."""
    path = ROOT / "notebooks" / f"{stem}.py"
    cells = tagged_sources(path, TAG)
    title = next((c.source.lstrip("# ").splitlines()[0] for c in jupytext.read(path).cells if c.cell_type == "markdown"), stem)
    header = (
        f'"""{title}: the code of chapter {int(stem[:2])}, for later chapters, benchmarks and tests.\n\n'
        f"Generated from notebooks/{stem}.py (its cells tagged {TAG!r}) by scripts/export_notebooks.py:\n"
        'edit the notebook and run `make export`, not this file.\n"""'
    )
    return "\n\n\n".join([header, *cells]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for stem, module in EXPORTS.items():
        path = PACKAGE / f"{module}.py"
        source = module_source(stem)
        if args.check:
            if not path.exists() or path.read_text() != source:
                stale.append(f"src/tutorial_utils/{module}.py differs from the cells tagged {TAG!r} in notebooks/{stem}.py")
        elif not path.exists() or path.read_text() != source:
            path.write_text(source)
            print(f"notebooks/{stem}.py -> src/tutorial_utils/{module}.py")
    for message in stale:
        print(f"{message}: edit the notebook, then run `make export`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
