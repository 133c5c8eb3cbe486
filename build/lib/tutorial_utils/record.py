"""Recording a notebook's results as named values, for the book's pages to quote.

The format is myst-nb's ``glue`` (a hidden display output under ``application/papermill.record/``,
with the name in its metadata): the book quotes a value with ``{glue:text}`name``` on the same
page or ``{glue:text}`path/to/notebook.ipynb::name``` on another, and scripts read it from the
notebook by name. Writing it here spares the reader's kernel an install of myst-nb and Sphinx.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

_PREFIX = "application/papermill.record/"


def glue(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` in the current cell's outputs, without showing it.

    Record rounded values (``round(loss, 4)``): the stored text is compared with the next run's.

    Raises:
        ValueError: if ``name`` is not a non-empty string without spaces or ``::`` (the book quotes
            it as ``notebook::name``).
    """
    if not isinstance(name, str) or not name or any(c.isspace() for c in name) or "::" in name:
        raise ValueError(f"a glue name must be a non-empty string without spaces or '::', got {name!r}")
    from IPython.core.formatters import format_display_data
    from IPython.display import display

    bundle, metadata = format_display_data(value)
    metadata["scrapbook"] = {"name": name, "mime_prefix": _PREFIX}
    display({_PREFIX + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)


def glued_values(outputs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The values glued into these cell outputs, by name: the inverse of :func:`glue`.

    Reads the repr that glue stored as ``text/plain`` back into a Python value (numbers, strings,
    lists, ...); a repr that is not a literal is returned as its text.
    """
    values: dict[str, Any] = {}
    for output in outputs:
        name = output.get("metadata", {}).get("scrapbook", {}).get("name")
        text = next((data for mime, data in output.get("data", {}).items() if mime.endswith("text/plain")), None)
        if name and text is not None:
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text
    return values


def notebook_glue(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """Every value a notebook (as nbformat reads it) glued, by name."""
    return glued_values(output for cell in notebook["cells"] for output in cell.get("outputs", []))
