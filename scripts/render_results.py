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
    tables = [f"\n**{table['title']}**\n\n{markdown_table(table['columns'], table['rows'])}" for table in result.get("tables", [])]
    return "\n".join([markdown_table(result["columns"], result["rows"]), *tables, meta, ""] + notes) + "\n"


README = ROOT / "README.md"
README_MARKERS = ("<!-- benchmark-start -->\n", "<!-- benchmark-end -->\n")


def readme_summary(char_rnn: dict) -> str:
    """The README's paragraph on the char-GRU comparison, from its result file."""
    targets = char_rnn["tables"][0]["rows"]
    headline, *others = targets
    machine = char_rnn["machine"].split(";")[0]
    also = "; ".join(f"{row['chapter_ratio']:.0f}x and {row['fastest_ratio']:.0f}x at {row['target']:.4g} ({row['meaning']})"
                     for row in others)
    return (
        f"Chapter 6's character-level GRU, timed to the same validation loss on both sides (`benchmarks/char_rnn_benchmark.py`, "
        f"{machine}, {char_rnn['date']}): the original per-character loop first reached its own final loss, "
        f"{headline['target']:.4f} nats/char, after {headline['loop_iteration']:,} of its 20,000 iterations, "
        f"{headline['loop_seconds']:.0f} s; chapter 6's fast recipe got there in {headline['chapter_seconds']:.1f} s, "
        f"{headline['chapter_ratio']:.0f}x less time, and the fastest recipe found for one CPU process in "
        f"{headline['fastest_seconds']:.1f} s, {headline['fastest_ratio']:.0f}x less. At the two other targets: {also}. "
        "The ratios belong to that machine: the loop's cost is per-call overhead and the fast recipes' is arithmetic, so "
        "a processor with quicker calls and slower arithmetic gives smaller ones. The performance appendix has every table.\n"
    )


def readme_with_summary(readme: str, summary: str) -> str:
    start, end = README_MARKERS
    before, rest = readme.split(start, 1)
    _, after = rest.split(end, 1)
    return before + start + summary + end + after


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
    readme = README.read_text()
    updated = readme_with_summary(readme, readme_summary(read_result(RESULTS / "char_rnn.json")))
    if updated != readme:
        README.write_text(updated)
        print("updated the benchmark paragraph of README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
