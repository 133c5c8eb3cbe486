"""Benchmark result files: one JSON format, written atomically, read by name, rendered as tables.

A result file holds a table whose rows are records with named fields, the labels of those fields,
and where, when and how it was measured::

    {"benchmark": "char_rnn", "title": "...",
     "command": "python benchmarks/...", "machine": "...",
     "date": "2026-11-30", "code_fingerprint": "2fa987557215a6e3",
     "columns": {"ms_per_iteration": "time per iteration (ms)", ...},
     "rows": [{"ms_per_iteration": 99.6, ...}, ...], "notes": ["..."],
     "tables": [{"title": "...", "columns": {...}, "rows": [...]}],
     ...further entries...}

``tables`` (optional) holds further tables that the book renders below the first.
``code_fingerprint`` is a hash of the code that was measured (``benchmarks/provenance.py``
computes it, and the tests compare it with the code as it is now), so a result cannot outlive
the code it describes unnoticed.

Benchmarks write them with :func:`write_result`; notebooks and scripts read them with
:func:`read_result` and pick values by field name; the book renders them with :func:`markdown_table`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .files import write_atomically


class ResultFileError(ValueError):
    """A result file or table does not have the format described in this module."""


def machine_description() -> str:
    """Processor (and GPU, when torch sees one), core count, and the versions of the frameworks in use."""
    name = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        name = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    where = f"{name}, {os.cpu_count()} cores"
    parts = [f"Python {platform.python_version()}"]
    torch = sys.modules.get("torch")
    if torch is not None:
        if torch.cuda.is_available():
            where = f"{torch.cuda.get_device_name()} ({where})"
        threads = torch.get_num_threads()
        parts.append(f"torch {torch.__version__} ({threads} CPU thread{'' if threads == 1 else 's'})")
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None:
        parts.append(f"TensorFlow {tensorflow.__version__}")
    return f"{where}; {', '.join(parts)}"


def _described(value: object) -> str:
    return f"{type(value).__name__} {value!r:.60}"


def check_table(columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]], what: str = "table") -> None:
    """Raise :class:`ResultFileError` unless ``columns`` maps field names to labels (all strings) and
    ``rows`` is a sequence of records, each with exactly the fields named in ``columns``."""
    if not isinstance(columns, Mapping) or not all(isinstance(key, str) and isinstance(label, str) for key, label in columns.items()):
        raise ResultFileError(f"{what}: 'columns' must map field names to column labels, got {_described(columns)}; names and labels are strings")
    if not columns:
        raise ResultFileError(f"{what}: no columns")
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise ResultFileError(f"{what}: 'rows' must be a list of records, got {_described(rows)}")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ResultFileError(f"{what}, row {number} must be a record of named fields, got {_described(row)}")
        if set(row) != set(columns):
            missing, unknown = sorted(set(columns) - set(row)), sorted(set(row) - set(columns))
            raise ResultFileError(f"{what}, row {number}: fields missing {missing}, fields not in the columns {unknown}")


def write_result(
    path: str | os.PathLike,
    *,
    benchmark: str,
    title: str,
    command: str,
    columns: Mapping[str, str],
    rows: Sequence[Mapping[str, Any]],
    code_fingerprint: str,
    notes: Sequence[str] = (),
    **extra: Any,
) -> Path:
    """Write one result file atomically (an interrupted run never leaves a half-written table).

    Args:
        code_fingerprint: the hash of the measured code (``benchmarks/provenance.py``).
        columns: field name -> column label, in the order the table shows them.
        rows: one record per table row, each with exactly the fields of ``columns``.
        extra: further JSON-serialisable entries, e.g. a learning curve as its own columns and rows.

    Raises:
        ResultFileError: if a row's fields differ from the columns.
    """
    check_table(columns, rows, benchmark)
    if not isinstance(code_fingerprint, str) or not code_fingerprint:
        raise ResultFileError(f"{benchmark}: code_fingerprint must be a non-empty string, got {_described(code_fingerprint)}")
    payload = {
        "benchmark": benchmark,
        "title": title,
        "command": command,
        "machine": machine_description(),
        "date": datetime.date.today().isoformat(),
        "code_fingerprint": code_fingerprint,
        "columns": dict(columns),
        "rows": [dict(row) for row in rows],
        "notes": list(notes),
        **extra,
    }
    text = json.dumps(payload, indent=1) + "\n"
    return write_atomically(path, lambda stream: stream.write(text.encode()))


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a result file written by :func:`write_result`.

    Raises:
        ResultFileError: naming the file, if it is not JSON or not in this format.
    """
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ResultFileError(f"cannot read the result file {path}: {error}") from error
    required = ("benchmark", "title", "command", "machine", "date", "code_fingerprint", "columns", "rows", "notes")
    if not isinstance(result, dict) or any(key not in result for key in required):
        raise ResultFileError(f"{path} is not a result file: it needs the entries {list(required)}")
    for key in required[:6]:
        if not isinstance(result[key], str):
            raise ResultFileError(f"{path}: {key!r} must be a string, got {_described(result[key])}")
    if not isinstance(result["notes"], list) or not all(isinstance(note, str) for note in result["notes"]):
        raise ResultFileError(f"{path}: 'notes' must be a list of strings, got {_described(result['notes'])}")
    check_table(result["columns"], result["rows"], str(path))
    tables = result.get("tables", [])
    if not isinstance(tables, list):
        raise ResultFileError(f"{path}: 'tables' must be a list of tables, got {_described(tables)}")
    for number, table in enumerate(tables, start=1):
        if not isinstance(table, dict) or any(key not in table for key in ("title", "columns", "rows")) or not isinstance(table["title"], str):
            raise ResultFileError(f"{path}: entry {number} of 'tables' needs a title (a string), columns and rows")
        check_table(table["columns"], table["rows"], f"{path}, table {table['title']!r}")
    return result


def benchmark_result(name: str) -> dict[str, Any]:
    """A committed benchmark result by name: ``"char_rnn"`` is ``benchmarks/results/char_rnn.json``.

    Read from the repository when the package runs from a checkout, else from the copy that
    travels inside the installed package (a notebook opened in Colab has no checkout).

    Raises:
        ResultFileError: if there is no such result.
    """
    here = Path(__file__).resolve().parent
    folders = (here.parents[1] / "benchmarks" / "results", here / "benchmark_results")
    for folder in folders:
        if (folder / f"{name}.json").is_file():
            return read_result(folder / f"{name}.json")
    available = sorted({path.stem for folder in folders if folder.is_dir() for path in folder.glob("*.json")})
    raise ResultFileError(f"no benchmark result named {name!r}; there are {available}")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of ``rows`` with the labels of ``columns`` as its header (``None`` shows as a dash)."""
    check_table(columns, rows)
    lines = ["| " + " | ".join(_cell(label) for label in columns.values()) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(row[key]) for key in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


#: how a field's values are written in a text table: a format spec ("{:.2f}") or a function
Formatter = str | Callable[[Any], str]


def text_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Mapping[str, str],
    formats: Mapping[str, Formatter] | None = None,
    width: int = 79,
) -> str:
    """``rows`` as a plain-text table that fits ``width`` columns, for a notebook to print.

    Args:
        rows: records with named fields, e.g. the ``rows`` of a result file.
        columns: field name -> header, in the order the table shows them.
        formats: field name -> a format spec such as ``"{:.1f}"`` or a function of the value;
            other fields are written with ``str`` (``None`` as a dash). Text is aligned left,
            numbers right.
        width: the longest line allowed.

    Raises:
        ResultFileError: if a row lacks a field of ``columns``, or a line would be wider than
            ``width`` (shorten the headers or format the values more briefly).
    """
    formats = formats or {}
    for number, row in enumerate(rows, start=1):
        missing = [key for key in columns if key not in row]
        if missing:
            raise ResultFileError(f"row {number} has no field {missing[0]!r}; it has {sorted(row)}")

    def written(key: str, value: Any) -> str:
        if value is None:
            return "–"
        spec = formats.get(key, "{}")
        return spec(value) if callable(spec) else spec.format(value)

    cells = [[written(key, row[key]) for key in columns] for row in rows]
    numeric = [all(isinstance(row[key], (int, float)) or row[key] is None for row in rows) for key in columns]
    widths = [max([len(header), *(len(line[i]) for line in cells)]) for i, header in enumerate(columns.values())]

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.rjust(w) if right else value.ljust(w)
                         for value, w, right in zip(values, widths, numeric)).rstrip()

    lines = [line(list(columns.values())), line(["-" * w for w in widths]), *(line(values) for values in cells)]
    too_wide = max(len(text) for text in lines)
    if too_wide > width:
        raise ResultFileError(f"the table is {too_wide} characters wide, more than {width}: "
                              "shorten its headers or format its values more briefly")
    return "\n".join(lines)


def result_table(
    name: str,
    columns: Mapping[str, str],
    formats: Mapping[str, Formatter] | None = None,
    table: int | None = None,
) -> str:
    """A committed result's table as text: its ``rows``, or entry ``table`` of its ``tables``.

    One call reads the file (:func:`benchmark_result`) and writes the named fields with
    :func:`text_table`, with the machine and date of the measurement above them.

    Raises:
        ResultFileError: if there is no such result or table, or a field is missing.
    """
    result = benchmark_result(name)
    tables = result.get("tables", [])
    if table is None:
        rows = result["rows"]
    elif isinstance(table, int) and 0 <= table < len(tables):
        rows = tables[table]["rows"]
    else:
        raise ResultFileError(f"{name} has {len(tables)} further tables (0 to {len(tables) - 1}), "
                              f"got table={table!r}")
    machine = result["machine"].split(";")[0]
    return f"measured on {machine}, {result['date']}\n" + text_table(rows, columns, formats)
