"""The one format of benchmarks/results/*.json, which scripts/render_results.py turns into the book's tables."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any


def machine_description() -> str:
    """Processor (or GPU) model, core count, torch version and CPU threads, for the table's caption."""
    import torch

    name = platform.processor() or platform.machine()
    try:
        name = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    where = f"{name}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        where = f"{torch.cuda.get_device_name()} ({where})"
    return f"{where}; Python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)"


def write_result(
    path: Path,
    *,
    benchmark: str,
    title: str,
    command: str,
    columns: list[str],
    rows: list[list[Any]],
    notes: list[str],
    **extra: Any,
) -> None:
    """Write one result file atomically, so an interrupted run never leaves a half-written table."""
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"{benchmark}: every row needs {len(columns)} values")
    payload = {
        "benchmark": benchmark,
        "title": title,
        "command": command,
        "machine": machine_description(),
        "date": datetime.date.today().isoformat(),
        "columns": columns,
        "rows": rows,
        "notes": notes,
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(temporary, path)
    print(f"wrote {path}")
