"""Render every benchmarks/results/*.json into a Markdown table under book/_generated/.

The book's comparison and performance pages include these files, so every number they show
comes from a benchmark script's output file. Run by `make book` and `make test` before the build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = ROOT / "book" / "_generated"


def cell(value: object) -> str:
    if value is None:
        return "–"
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(result: dict, source: str) -> str:
    columns = result["columns"]
    lines = [
        "| " + " | ".join(cell(c) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    for row in result["rows"]:
        if len(row) != len(columns):
            raise ValueError(f"{source}: a row has {len(row)} values for {len(columns)} columns")
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    meta = f"*Measured on {result['machine']}, {result['date']}, by `{result['command']}` (source: `{source}`).*"
    notes = [f"- {note}" for note in result.get("notes", [])]
    return "\n".join(lines + ["", meta, ""] + notes) + "\n"


def main() -> int:
    GENERATED.mkdir(parents=True, exist_ok=True)
    for stale in GENERATED.glob("*.md"):
        stale.unlink()
    sections = []
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        source = str(path.relative_to(ROOT))
        table = render(result, source)
        (GENERATED / f"{path.stem}.md").write_text(table)
        sections.append(f"## {result['title']}\n\n{table}")
        print(f"rendered {source} -> book/_generated/{path.stem}.md")
    (GENERATED / "all_results.md").write_text("\n".join(sections) if sections else "No benchmark results yet.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
