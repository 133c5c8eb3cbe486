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
    headline = targets[-1]
    loop, loop_recipe, per_character, chapter, fastest = char_rnn["rows"]

    def factors(row: dict) -> str:
        fewer = loop["characters_to_target"] / row["characters_to_target"]
        faster = row["characters_per_second"] / loop["characters_per_second"]
        return f"{fewer:.1f}x fewer characters x {faster:.0f}x more characters per second"

    def spread(row: dict) -> str:
        return f"{row['training_seconds_min']:.1f}-{row['training_seconds_max']:.1f} s"

    machine = char_rnn["machine"].split(";")[0]
    chunk_over_step = chapter["characters_per_second"] / per_character["characters_per_second"]
    per_character_faster = per_character["characters_per_second"] / loop["characters_per_second"]
    return (
        f"Chapter 6's character-level GRU, timed to the same validation loss on both sides (`benchmarks/char_rnn_benchmark.py`, "
        f"{machine}, {char_rnn['date']}). The target is the original per-character loop's plateau, {headline['target']:.2f} "
        f"nats/char, a loss each of its {loop['repeats']} seeds reaches: their first checks at or below it came after "
        f"{headline['loop_iteration']:,} iterations (the median seed) of 20,000; at the loop's time per iteration measured "
        f"beside the fast recipes ({char_rnn['loop_ms_per_iteration']:.1f} ms) that is {loop['training_seconds']:.0f} s of "
        f"training ({spread(loop)} over the seeds). Chapter 6's fast recipe got there in {chapter['training_seconds']:.1f} s "
        f"(median of {chapter['repeats']} runs, {spread(chapter)}), **{chapter['time_ratio']:.1f}x less training time** "
        f"({factors(chapter)}), and the fastest recipe found for one CPU process in {fastest['training_seconds']:.1f} s "
        f"({spread(fastest)}), **{fastest['time_ratio']:.1f}x less** ({factors(fastest)}). Fewer characters come from the "
        "recipe as a whole (truncated BPTT, schedule, learning rate, head start for the read-out); the loop given "
        f"only the head start and a schedule needs {loop['characters_to_target'] / loop_recipe['characters_to_target']:.1f}x "
        f"fewer (one seed). Of the chapter's {chapter['characters_per_second'] / loop['characters_per_second']:.0f}x more "
        f"characters per second, {per_character_faster:.0f}x remain with the GRU stepped per character (batching: 64 "
        f"streams, the read-out, loss and Adam once per chunk); the GRU call per chunk adds {chunk_over_step:.2f}x. "
        f"Counting the validations too (one timed pass per check, every {char_rnn['check_every_characters']:,} characters "
        f"on both sides) the chapter's recipe is {loop['wall_seconds'] / chapter['wall_seconds']:.0f}x faster. At 2.0 "
        f"nats/char the ratios are {targets[0]['chapter_ratio']:.1f}x and {targets[0]['fastest_ratio']:.1f}x, their "
        "smallest; they are largest at the plateau. Validation time is excluded from the training times on both sides. "
        "The ratios belong to that machine. The performance appendix has every table.\n"
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
