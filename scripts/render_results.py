"""Render every benchmarks/results/*.json into a Markdown table under book/_generated/.

The book's comparison and performance pages include these files, so every measured number in
their tables comes from a benchmark's result file; counts that follow from the code (the
logistic-regression chapters' lines of code) are computed here from the notebooks instead of
being recorded. Run by `make book` and `make test` before the build.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tutorial_utils.results import markdown_table, read_result

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GENERATED = ROOT / "book" / "_generated"


def with_line_counts(result: dict) -> dict:
    """The logistic-regression table with its lines-of-code column, counted in the notebooks now."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from logreg_compare import line_counts

    counts = line_counts()
    columns = dict(result["columns"])
    columns = {"implementation": columns.pop("implementation"), "lines": "lines (model + training)", **columns}
    rows = [{"implementation": row["implementation"], "lines": counts[row["implementation"]],
             **{key: value for key, value in row.items() if key not in ("implementation", "lines")}} for row in result["rows"]]
    return {**result, "columns": columns, "rows": rows}


#: columns that are computed from the tree when the book is built, never recorded
COMPUTED_COLUMNS = {"logreg_compare": with_line_counts}


def render(result: dict, source: str) -> str:
    """The table of one result file, with where and how it was measured, and its notes."""
    result = COMPUTED_COLUMNS.get(result["benchmark"], lambda result: result)(result)
    meta = (f"*Measured on {result['machine']}, {result['date']}, by `{result['command']}` (source: `{source}`, "
            f"code fingerprint `{result['code_fingerprint']}`).*")
    notes = [f"- {note}" for note in result["notes"]]
    tables = [f"\n**{table['title']}**\n\n{markdown_table(table['columns'], table['rows'])}" for table in result.get("tables", [])]
    return "\n".join([markdown_table(result["columns"], result["rows"]), *tables, meta, ""] + notes) + "\n"


README = ROOT / "README.md"
README_MARKERS = ("<!-- benchmark-start -->\n", "<!-- benchmark-end -->\n")


def readme_summary(char_rnn: dict) -> str:
    """The README's paragraph on the char-GRU comparison, from its result file."""
    targets = char_rnn["tables"][0]["rows"]
    headline, *others = targets
    loop, chapter, fastest = char_rnn["rows"]

    def factors(row: dict) -> str:
        fewer = loop["characters_to_target"] / row["characters_to_target"]
        faster = row["characters_per_second"] / loop["characters_per_second"]
        return f"{fewer:.1f}x fewer characters x {faster:.0f}x more characters per second"

    machine = char_rnn["machine"].split(";")[0]
    also = "; ".join(f"{row['chapter_ratio']:.0f}x and {row['fastest_ratio']:.0f}x at {row['target']:.4g} ({row['meaning']})"
                     for row in others)
    return (
        f"Chapter 6's character-level GRU, timed to the same validation loss on both sides (`benchmarks/char_rnn_benchmark.py`, "
        f"{machine}, {char_rnn['date']}): the original per-character loop first reached its own final loss, "
        f"{headline['target']:.4f} nats/char, at its check after iteration {headline['loop_iteration']:,} of 20,000 "
        f"({loop['ms_per_iteration']:.1f} ms per iteration, so {headline['loop_seconds']:.0f} s); chapter 6's fast recipe got there in {headline['chapter_seconds']:.1f} s, "
        f"{headline['chapter_ratio']:.0f}x less training time ({factors(chapter)}), and the fastest recipe found for one CPU "
        f"process in {headline['fastest_seconds']:.1f} s, {headline['fastest_ratio']:.0f}x less ({factors(fastest)}). "
        f"At the two other targets: {also}. Fewer characters come from the recipe's schedule, learning rate and head start "
        "for the read-out; more characters per second from the batch shape and the implementation (64 streams per step, "
        "one GRU call per chunk instead of one call per character). The loop's time is its first check at or below the target in its recorded full run times "
        "its time per iteration measured beside the fast recipes; validation time is excluded on both sides. The ratios "
        "belong to that machine. The performance appendix has every table.\n"
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
