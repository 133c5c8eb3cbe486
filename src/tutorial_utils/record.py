"""Recording a notebook's results as named values, for the book's pages to quote.

The format is myst-nb's ``glue`` (a hidden display output under ``application/papermill.record/``,
with the name in its metadata): the book quotes a value with ``{glue:text}`name``` on the same
page or ``{glue:text}`path/to/notebook.ipynb::name``` on another, and scripts read it from the
notebook by name. Writing it here spares the reader's kernel an install of myst-nb and Sphinx.

A value is stored as its ``repr``, which :func:`glued_values` reads back: numbers, strings, ``None``,
and lists, tuples and str-keyed dicts of them. NumPy scalars are stored as the Python values they
hold (``np.float64(0.25)`` as ``0.25``); anything else is refused when it is glued.
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Iterable, Mapping
from typing import Any

_PREFIX = "application/papermill.record/"


def storable(value: Any, name: str = "value") -> Any:
    """``value`` as the plain Python value that glue stores and :func:`glued_values` reads back.

    NumPy scalars become the Python numbers, bools and strings they hold; lists, tuples and
    dicts are converted item by item.

    Raises:
        TypeError: naming ``name`` and the type, for anything else than numbers, strings, ``None``
            and lists, tuples and str-keyed dicts of them.
        ValueError: naming ``name``, for NaN and infinities (their text reads back as no number).
    """
    numpy = sys.modules.get("numpy")  # a NumPy scalar exists only once NumPy is imported
    if numpy is not None and isinstance(value, numpy.generic):
        value = value.item()
    if type(value) in (str, int, bool, type(None)):
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise ValueError(f"glue {name!r}: {value!r} cannot be stored (its text reads back as no number): glue a finite number, or a string")
        return value
    if type(value) in (list, tuple):
        return type(value)(storable(item, name) for item in value)
    if type(value) is dict:
        for key in value:
            if type(key) is not str:
                raise TypeError(f"glue {name!r}: a dict with the key {key!r} of type {type(key).__name__} cannot be stored: use str keys")
        return {key: storable(item, name) for key, item in value.items()}
    raise TypeError(
        f"glue {name!r}: a {type(value).__module__}.{type(value).__qualname__} cannot be stored: glue numbers, strings, None, "
        "and lists, tuples and str-keyed dicts of them (convert it with float(), int(), str() or .tolist())"
    )


def glue_output(name: str, value: Any) -> dict[str, Any]:
    """The display output, in nbformat's form, that :func:`glue` adds to the cell.

    Raises:
        ValueError, TypeError: as :func:`glue` does.
    """
    if not isinstance(name, str) or not name or any(c.isspace() for c in name) or "::" in name:
        raise ValueError(f"a glue name must be a non-empty string without spaces or '::', got {name!r}")
    plain = storable(value, name)
    try:
        text = repr(plain)
    except ValueError as error:  # an int longer than Python writes as text (sys.set_int_max_str_digits)
        raise ValueError(f"glue {name!r}: {error}") from None
    metadata = {"scrapbook": {"name": name, "mime_prefix": _PREFIX}}
    return {"output_type": "display_data", "data": {_PREFIX + "text/plain": text}, "metadata": metadata}


def glue(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` in the current cell's outputs, without showing it.

    Record rounded values (``round(loss, 4)``): the stored text is compared with the next run's.

    Raises:
        ValueError: if ``name`` is not a non-empty string without spaces or ``::`` (the book quotes
            it as ``notebook::name``), or ``value`` is NaN or infinite.
        TypeError: if ``value`` is not a number, a string, ``None``, or a list, tuple or str-keyed
            dict of them (see :func:`storable`).
    """
    output = glue_output(name, value)
    from IPython.display import display

    display(output["data"], raw=True, metadata=output["metadata"])


def glued_values(outputs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The values glued into these cell outputs, by name: the inverse of :func:`glue`.

    Reads the repr that glue stored as ``text/plain`` back into a Python value (numbers, strings,
    lists, ...); a text that is not a literal is returned as it is. Outputs of another form are skipped.
    """
    values: dict[str, Any] = {}
    for output in outputs:
        metadata, data = (output.get(key) if isinstance(output, Mapping) else None for key in ("metadata", "data"))
        scrapbook = metadata.get("scrapbook") if isinstance(metadata, Mapping) else None
        name = scrapbook.get("name") if isinstance(scrapbook, Mapping) else None
        text = next((text for mime, text in data.items() if str(mime).endswith("text/plain")), None) if isinstance(data, Mapping) else None
        if isinstance(text, list) and all(isinstance(line, str) for line in text):
            text = "".join(text)  # nbformat's JSON may split a text into lines
        if isinstance(name, str) and name and isinstance(text, str):
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                values[name] = text
    return values


def notebook_glue(notebook: Mapping[str, Any]) -> dict[str, Any]:
    """Every value a notebook (as nbformat reads it) glued, by name."""
    return glued_values(output for cell in notebook["cells"] for output in cell.get("outputs", []))
