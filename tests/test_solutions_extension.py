"""``hide_solutions`` in ``_config.yml`` builds the book with or without the exercises' solutions.

A scratch book with one notebook (an exercise, then a gated solution holding an executed code
cell) is built twice with the book's own ``sphinx`` settings from ``_config.yml``: with
``hide_solutions: false`` the solution's text and its cell's output are on the page, with
``true`` they are gone, and the exercise stays in both. Warnings are errors, as in
``make book-strict``.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))

EXERCISE_TEXT = "Double the learning rate and train again."
SOLUTION_TEXT = "The loss falls twice as fast at first."
SOLUTION_OUTPUT = "solution output 42"  # printed by the cell; its source does not contain it
AFTER_TEXT = "This line follows the solution."
LABEL = "ex-scratch-1"


def _markdown(number: int, source: str) -> dict:
    return {"cell_type": "markdown", "id": f"text-{number}", "metadata": {}, "source": source}


def scratch_notebook() -> dict:
    """One chapter in the book's convention: an exercise and its gated solution, with one executed cell."""
    code = {
        "cell_type": "code", "id": "solution-code", "execution_count": 1, "metadata": {}, "source": 'print("solution", "output", 6 * 7)',
        "outputs": [{"output_type": "stream", "name": "stdout", "text": [f"{SOLUTION_OUTPUT}\n"]}],
    }
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                     "language_info": {"name": "python"}},
        "cells": [
            _markdown(1, "# Scratch chapter\n\nSome teaching."),
            _markdown(2, f"## Exercises\n\n````{{exercise}} Learning rate\n:label: {LABEL}\n{EXERCISE_TEXT}\n````\n\n"
                      f"````{{solution-start}} {LABEL}\n:class: dropdown\n````\n{SOLUTION_TEXT}"),
            code,
            _markdown(3, "What the output shows.\n\n````{solution-end}\n````"),
            _markdown(4, AFTER_TEXT),
        ],
    }


def scratch_config(hide: bool) -> dict:
    """The book's own parse and sphinx settings (local extensions and static files found from here), hiding or not."""
    sphinx = copy.deepcopy(CONFIG["sphinx"])
    sphinx["local_extensions"] = {name: str((ROOT / path).resolve())
                                  for name, path in sphinx.get("local_extensions", {}).items()}
    config = sphinx.setdefault("config", {})
    config["hide_solutions"] = hide
    config["html_static_path"] = [str((ROOT / path).resolve()) for path in config.get("html_static_path", [])]
    return {"title": "Scratch", "only_build_toc_files": True, "execute": {"execute_notebooks": "off"},
            "parse": CONFIG.get("parse", {}), "sphinx": sphinx}


def build(folder: Path, hide: bool) -> str:
    folder.mkdir()
    (folder / "_config.yml").write_text(yaml.safe_dump(scratch_config(hide)), encoding="utf-8")
    (folder / "_toc.yml").write_text("format: jb-book\nroot: chapter\n", encoding="utf-8")
    (folder / "chapter.ipynb").write_text(json.dumps(scratch_notebook()), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
         "build", str(folder), "--warningiserror", "--quiet"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"the scratch book (hide_solutions: {hide}) did not build:\n{result.stdout}\n{result.stderr}"
    return (folder / "_build" / "html" / "chapter.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[bool, str]:
    base = tmp_path_factory.mktemp("scratch_books")
    return {hide: build(base / f"hide_{str(hide).lower()}", hide) for hide in (False, True)}


def test_the_book_loads_the_extension_and_shows_solutions():
    assert "solutions" in CONFIG["sphinx"]["extra_extensions"]
    assert CONFIG["sphinx"]["config"]["hide_solutions"] is False, "the published book shows its solutions"


def test_solutions_are_shown_by_default(pages):
    missing = [text for text in (EXERCISE_TEXT, SOLUTION_TEXT, SOLUTION_OUTPUT, AFTER_TEXT) if text not in pages[False]]
    assert not missing, f"missing from the page with hide_solutions: false: {missing}"


def test_hide_solutions_removes_the_gated_solution_and_its_cells(pages):
    lost = [text for text in (EXERCISE_TEXT, AFTER_TEXT) if text not in pages[True]]
    assert not lost, f"missing from the page with hide_solutions: true (only solutions may go): {lost}"
    kept = [text for text in (SOLUTION_TEXT, SOLUTION_OUTPUT, "What the output shows.") if text in pages[True]]
    assert not kept, f"still on the page with hide_solutions: true: {kept}"
