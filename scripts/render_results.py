"""Render every benchmarks/results/*.json into a Markdown table under book/_generated/.

The book's comparison and performance pages include these files, so every number they show
comes from a benchmark's result file. Run by `make book` and `make test` before the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tutorial_utils.results import markdown_table, read_result

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = ROOT / "book" / "_generated"


def render(result: dict, source: str) -> str:
    """The table of one result file, with where and how it was measured, and its notes."""
    meta = f"*Measured on {result['machine']}, {result['date']}, by `{result['command']}` (source: `{source}`).*"
    notes = [f"- {note}" for note in result["notes"]]
    return "\n".join([markdown_table(result["columns"], result["rows"]), meta, ""] + notes) + "\n"


def main() -> int:
    GENERATED.mkdir(parents=True, exist_ok=True)
    for stale in GENERATED.glob("*.md"):
        if not stale.name.startswith("tabs_"):  # those are render_tabs.py's
            stale.unlink()
    sections = []
    for path in sorted(RESULTS.glob("*.json")):
        result = read_result(path)
        source = str(path.relative_to(ROOT))
        table = render(result, source)
        (GENERATED / f"{path.stem}.md").write_text(table)
        sections.append(f"## {result['title']}\n\n{table}")
        print(f"rendered {source} -> book/_generated/{path.stem}.md")
    (GENERATED / "all_results.md").write_text("\n".join(sections) if sections else "No benchmark results yet.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
