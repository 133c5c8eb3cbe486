"""The benchmark result format: written and read by tutorial_utils.results, rendered by scripts/render_results.py."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tutorial_utils.results import ResultFileError, markdown_table, read_result, result_table, text_table, write_result

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


render_results = _load("render_results", ROOT / "scripts" / "render_results.py")
provenance = _load("provenance", ROOT / "benchmarks" / "provenance.py")

COLUMNS = {"name": "name", "ms": "ms | per step", "ratio": "ratio"}


def test_a_written_result_is_read_by_name_and_renders_as_a_table(tmp_path):
    path = tmp_path / "demo.json"
    write_result(path, benchmark="demo", title="Demo", command="python demo.py", code_fingerprint="f", columns=COLUMNS,
                 rows=[{"name": "a", "ms": 1.5, "ratio": None}, {"name": "b", "ms": 3.0, "ratio": 2.0}],
                 notes=["a note"], curve={"rows": []})
    result = read_result(path)
    assert result["rows"][1]["ratio"] == 2.0 and result["curve"] == {"rows": []} and result["date"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]
    table = render_results.render(result, "demo.json").splitlines()
    assert table[0] == "| name | ms \\| per step | ratio |"
    assert table[2:4] == ["| a | 1.5 | – |", "| b | 3.0 | 2.0 |"]
    assert "- a note" in table and any("python demo.py" in line for line in table)


@pytest.mark.parametrize("row", [{"name": "a", "ms": 1.0}, {"name": "a", "ms": 1.0, "ratio": 1, "extra": 2}])
def test_rows_must_have_exactly_the_named_fields(tmp_path, row):
    with pytest.raises(ResultFileError, match="row 1: fields missing"):
        write_result(tmp_path / "x.json", benchmark="x", title="x", command="x", code_fingerprint="f", columns=COLUMNS, rows=[row])
    assert not any(tmp_path.iterdir())


def test_a_file_that_is_not_a_result_is_named(tmp_path):
    (tmp_path / "bad.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ResultFileError, match=r"bad\.json is not a result file"):
        read_result(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ResultFileError, match=r"cannot read the result file .*broken\.json"):
        read_result(tmp_path / "broken.json")


def test_committed_results_read_and_render():
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        result = read_result(path)
        assert markdown_table(result["columns"], result["rows"]).count("\n| ") == len(result["rows"]) + 1


def test_extra_tables_are_checked_and_rendered(tmp_path):
    path = tmp_path / "demo.json"
    write_result(path, benchmark="demo", title="Demo", command="x", code_fingerprint="f", columns=COLUMNS, rows=[],
                 tables=[{"title": "Second", "columns": {"a": "A"}, "rows": [{"a": 1}]}])
    assert "**Second**\n\n| A |\n| --- |\n| 1 |" in render_results.render(read_result(path), "demo.json")
    broken = json.loads(path.read_text())
    broken["tables"][0]["rows"] = [{"b": 1}]
    path.write_text(json.dumps(broken))
    with pytest.raises(ResultFileError, match="table 'Second', row 1: fields missing"):
        read_result(path)


def test_a_text_table_aligns_text_left_numbers_right_and_writes_none_as_a_dash():
    rows = [{"name": "loop", "ms": 61.25, "ratio": None}, {"name": "fast", "ms": 3.0, "ratio": 20.4}]
    table = text_table(rows, COLUMNS, {"ms": "{:.1f}", "ratio": lambda value: f"{value:.0f}x"})
    assert table.splitlines() == [
        "name  ms | per step  ratio",
        "----  -------------  -----",
        "loop           61.2      –",
        "fast            3.0    20x",
    ]


def test_a_text_table_names_a_missing_field_and_refuses_to_be_too_wide():
    with pytest.raises(ResultFileError, match=r"row 2 has no field 'ratio'; it has \['ms', 'name'\]"):
        text_table([{"name": "a", "ms": 1, "ratio": 1}, {"name": "b", "ms": 2}], COLUMNS)
    wide_row = [{"name": "x" * 15, "ms": 1, "ratio": 1}]
    with pytest.raises(ResultFileError, match="the table is 37 characters wide, more than 36: shorten"):
        text_table(wide_row, COLUMNS, width=36)
    assert max(map(len, text_table(wide_row, COLUMNS, width=37).splitlines())) == 37


def test_a_result_table_is_one_call_that_names_where_and_when_it_was_measured():
    result = read_result(ROOT / "benchmarks" / "results" / "char_rnn_levers.json")
    table = result_table("char_rnn_levers", {"lever": "lever", "ms_per_iteration": "ms"}).splitlines()
    assert table[0] == f"measured on {result['machine'].split(';')[0]}, {result['date']}"
    assert len(table) == len(result["rows"]) + 3
    with pytest.raises(ResultFileError, match=r"char_rnn_levers has \d+ further tables .*got table=99"):
        result_table("char_rnn_levers", {}, table=99)
    with pytest.raises(ResultFileError, match="no benchmark result named 'nothing'"):
        result_table("nothing", {})


def _char_rnn() -> tuple[dict, dict, list[dict]]:
    results = ROOT / "benchmarks" / "results"
    full = read_result(results / "char_rnn_full.json")
    curves: dict[int, list[dict]] = {}
    for row in full["rows"]:
        curves.setdefault(row["seed"], []).append(row)
    return full, curves, read_result(results / "char_rnn.json")


def _first_at_or_below(curve: list[dict], target: float) -> dict:
    return next(check for check in curve if check["validation_loss"] <= target)


def test_the_loop_ran_three_seeds_to_the_end_checked_every_32000_characters():
    full, curves, result = _char_rnn()
    spacing = result["check_every_characters"]
    assert spacing == 32_000 and sorted(curves) == [123, 124, 125]
    for curve in [*curves.values(), full["loop_with_recipe"]["rows"]]:
        assert [row["iteration"] for row in curve] == list(range(0, 20_001, spacing // 200))
    for name in ("fast_curve", "fastest_curve", "per_character_curve"):  # 64 x 25 characters an iteration
        checks = [row["iteration"] for row in result[name]["rows"]]
        assert checks == list(range(0, checks[-1] + 1, spacing // (64 * 25))), name


def test_the_headline_target_is_the_loop_plateau_that_every_seed_reaches():
    import math
    import statistics

    _, curves, result = _char_rnn()
    plateau = max(statistics.median(row["validation_loss"] for row in curve[-5:]) for curve in curves.values())
    assert result["headline_target"] == math.ceil(round(plateau * 100, 6)) / 100 == result["tables"][0]["rows"][-1]["target"]
    for curve in curves.values():
        assert sum(row["validation_loss"] <= result["headline_target"] for row in curve[-5:]) >= 3


def test_the_char_rnn_comparison_times_both_sides_to_their_first_crossing():
    """The loop is charged its time to the target, not its whole schedule: first recorded crossing x time per iteration,
    the median of its seeds; each fast recipe its first check at or below the target, the median of its repeats."""
    import statistics

    full, curves, result = _char_rnn()
    loop, loop_recipe, per_character, chapter, fastest = result["rows"]
    ms = result["loop_ms_per_iteration"]
    targets = result["tables"][0]["rows"]
    assert [row["target"] for row in targets[:5]] == [2.0, 1.9, 1.8, 1.75, 1.7] and len(targets) >= 6
    for row in targets:
        seconds = sorted(_first_at_or_below(curve, row["target"])["iteration"] * ms / 1000 for curve in curves.values())
        recorded = (row["loop_seconds_min"], row["loop_seconds"], row["loop_seconds_max"])
        assert recorded == pytest.approx(seconds, rel=2e-4, abs=0.01)  # the file rounds ms per iteration to 0.01
        for recipe in ("chapter", "fastest"):
            assert row[f"{recipe}_ratio"] == round(row["loop_seconds"] / row[f"{recipe}_seconds"], 1)
    headline = targets[-1]
    assert loop["training_seconds"] == headline["loop_seconds"] and loop["repeats"] == 3
    assert loop["iterations"] == statistics.median(_first_at_or_below(c, headline["target"])["iteration"] for c in curves.values())
    assert loop_recipe["iterations"] == _first_at_or_below(full["loop_with_recipe"]["rows"], headline["target"])["iteration"]
    for row, curve, name in ((chapter, "fast_curve", "chapter"), (fastest, "fastest_curve", "fastest"),
                             (per_character, "per_character_curve", None)):
        crossing = _first_at_or_below(result[curve]["rows"], headline["target"])
        assert crossing is result[curve]["rows"][-1], "the run stops at its first crossing"
        assert row["iterations"] == crossing["iteration"] and row["validation_loss"] <= headline["target"]
        assert row["training_seconds_min"] <= crossing["training_seconds"] <= row["training_seconds_max"]
        assert row["training_seconds_min"] <= row["training_seconds"] <= row["training_seconds_max"] and row["repeats"] >= 5
        if name:
            assert row["training_seconds"] == headline[f"{name}_seconds"] and row["time_ratio"] == headline[f"{name}_ratio"]
    assert [row["stepping"] for row in result["rows"]] == ["per-character"] * 3 + ["per-chunk"] * 2


def test_wall_time_adds_one_validation_pass_per_check_on_both_sides():
    """Checks every 32,000 characters on both sides, the untrained one included, each one pass of the validation."""
    _, _, result = _char_rnn()
    loop, loop_recipe, per_character, chapter, fastest = result["rows"]
    passes = result["validation_seconds"]
    spacing = result["check_every_characters"]
    for row, seconds in ((loop, passes["chapter 6's fast recipe"]), (loop_recipe, passes["chapter 6's fast recipe"]),
                         (per_character, passes["chapter 6's recipe, stepped per character"]),
                         (chapter, passes["chapter 6's fast recipe"]), (fastest, passes["fastest recipe"])):
        checks = round(row["characters_to_target"] * 1e6 / spacing) + 1
        assert row["wall_seconds"] == pytest.approx(row["training_seconds"] + checks * seconds, abs=0.05 + checks * 5e-4), row["version"]


@pytest.mark.parametrize("seq_len", [1, 8, 25])
def test_the_flop_count_follows_from_the_model_shapes(seq_len):
    """The benchmark's count of one character's FLOP against PyTorch's own count of a forward and backward pass."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tutorial_utils.charrnn import CharRNN

    benchmark = _load("char_rnn_benchmark", ROOT / "benchmarks" / "char_rnn_benchmark.py")
    model = CharRNN()
    inputs = torch.randint(0, 100, (4, seq_len))
    with FlopCounterMode(display=False) as counter:
        logits, _ = model(inputs)
        logits.sum().backward()
    assert benchmark.flops_per_character(model, seq_len) == counter.get_total_flops() / inputs.numel()


def test_each_arithmetic_rate_is_its_gflops_over_the_same_runs_matrix_product():
    results = ROOT / "benchmarks" / "results"
    for name in ("char_rnn", "char_rnn_levers"):
        result = read_result(results / f"{name}.json")
        matmul = result["matmul_gflops"]
        for row in result["rows"]:
            label = row.get("version") or row["recipe"]
            threads = "2" if "2 thread(s)" in label else "1"
            assert row["gflops"] is not None, (name, label)
            assert row["percent_of_matmul"] == pytest.approx(100 * row["gflops"] / matmul[threads], abs=0.2), (name, label)


def test_every_char_rnn_result_names_its_validation_text_and_threads(data_copy, monkeypatch):
    import hashlib

    import tutorial_utils as tu
    from tutorial_utils.charrnn import split_train_validation

    monkeypatch.setenv("TUTORIAL_DATA_MIRROR", str(data_copy))
    valid = split_train_validation(tu.char_to_tensor(tu.clean_text(tu.load_novel_text())), 0.1)[1]
    text = tu.tensor_to_text(valid)
    for name in ("char_rnn", "char_rnn_full", "char_rnn_levers"):
        result = read_result(ROOT / "benchmarks" / "results" / f"{name}.json")
        assert result["validation_characters"] == len(text) == 75_680, name
        assert result["validation_sha256"] == hashlib.sha256(text.encode()).hexdigest(), name
        assert result["threads"]["cpu_count"] >= 1, name


def test_each_char_rnn_ratio_is_fewer_characters_times_more_characters_per_second():
    """The headline ratio decomposes into the recipe's factor and the implementation's."""
    loop, *fast = read_result(ROOT / "benchmarks" / "results" / "char_rnn.json")["rows"]
    assert loop["characters_to_target"] == pytest.approx(loop["iterations"] * 200 / 1e6)
    assert loop["characters_per_second"] == pytest.approx(loop["characters_to_target"] * 1e3 / loop["training_seconds"], rel=1e-3)
    for row in fast:
        fewer = loop["characters_to_target"] / row["characters_to_target"]
        faster = row["characters_per_second"] / loop["characters_per_second"]
        assert fewer * faster == pytest.approx(row["time_ratio"], rel=5e-3, abs=0.05), row["version"]  # ratios to 0.1
        assert row["characters_per_second"] == pytest.approx(row["characters_to_target"] * 1e3 / row["training_seconds"], rel=1e-3)


def test_the_logreg_table_counts_its_lines_from_the_notebooks_now():
    result = read_result(ROOT / "benchmarks" / "results" / "logreg_compare.json")
    assert all("lines" not in row for row in result["rows"]), "line counts are computed, never recorded"
    rendered = render_results.with_line_counts(result)
    assert list(rendered["columns"])[:2] == ["implementation", "lines"]
    # counted here independently: the code lines of chapter 1's cells tagged impl-manual
    import jupytext

    cells = jupytext.read(ROOT / "notebooks" / "01_logreg_manual.py").cells
    tagged = [cell.source for cell in cells if cell.cell_type == "code" and "impl-manual" in cell.metadata.get("tags", [])]
    expected = sum(1 for source in tagged for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    assert rendered["rows"][0]["lines"] == expected and expected > 20


def test_the_logreg_page_reads_its_table_right():
    """The page says the TensorFlow rows are the slower ones on this small problem."""
    rows = read_result(ROOT / "benchmarks" / "results" / "logreg_compare.json")["rows"]
    pytorch, tensorflow = rows[:3], rows[3:]
    assert [row["implementation"].startswith("TensorFlow") for row in rows] == [False] * 3 + [True] * 2
    assert min(row["ms_per_epoch"] for row in tensorflow) > max(row["ms_per_epoch"] for row in pytorch)


def test_the_levers_change_one_thing_each():
    levers = read_result(ROOT / "benchmarks" / "results" / "char_rnn_levers.json")["rows"]
    chapter = next(row for row in levers if row["lever"].startswith("chapter 6's recipe"))
    baselines = {"the earlier recipe": levers[0]["recipe"], "chapter 6's recipe": chapter["recipe"]}
    assert {row["baseline"] for row in levers} == set(baselines)
    for row in levers[1:]:
        items = set(row["recipe"].split(", ")) ^ set(baselines[row["baseline"]].split(", "))
        if ": " in row["lever"]:  # a combination names its parts after a colon: three changes
            assert 4 <= len(items) <= 6, row["lever"]
        else:
            assert len(items) in (1, 2), row["lever"]  # one item changed (2), or one added (1)


def test_the_readme_quotes_the_committed_char_rnn_result():
    readme = (ROOT / "README.md").read_text()
    summary = render_results.readme_summary(read_result(ROOT / "benchmarks" / "results" / "char_rnn.json"))
    assert render_results.readme_with_summary(readme, summary) == readme, "README.md is stale: run `make results`"


def _valid_result() -> dict:
    return {"benchmark": "demo", "title": "Demo", "command": "x", "machine": "m", "date": "2026-01-01", "code_fingerprint": "f",
            "columns": {"a": "A"}, "rows": [{"a": 1}], "notes": []}


@pytest.mark.parametrize(("changes", "problem"), [
    ({"rows": 5}, "'rows' must be a list of records, got int"),
    ({"rows": [1, 2]}, "row 1 must be a record of named fields, got int"),
    ({"rows": "ab"}, "'rows' must be a list of records, got str"),
    ({"columns": ["a"]}, "'columns' must map field names to column labels, got list"),
    ({"columns": {"a": 1}}, "'columns' must map field names to column labels"),
    ({"tables": 5}, "'tables' must be a list of tables, got int"),
    ({"tables": [{"title": "T", "columns": {"a": "A"}, "rows": 5}]}, "table 'T': 'rows' must be a list of records"),
    ({"notes": "one note"}, "'notes' must be a list of strings"),
    ({"title": 5}, "'title' must be a string"),
    ({"code_fingerprint": None}, "'code_fingerprint' must be a string"),
])
def test_entries_of_the_wrong_type_are_named_with_the_file(tmp_path, changes, problem):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({**_valid_result(), **changes}))
    with pytest.raises(ResultFileError) as caught:
        read_result(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_a_deeply_nested_file_is_a_result_file_error(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000)
    with pytest.raises(ResultFileError, match=r"cannot read the result file .*deep\.json"):
        read_result(tmp_path / "deep.json")


@pytest.mark.parametrize("path", sorted((ROOT / "benchmarks" / "results").glob("*.json")), ids=lambda path: path.name)
def test_every_result_was_measured_on_the_code_as_it_is_now(path):
    """A recorded result describes the code it ran: once that code changes, the result must be measured again."""
    result = read_result(path)
    assert result["benchmark"] == path.stem
    now = provenance.code_fingerprint(path.stem)
    assert result["code_fingerprint"] == now, (
        f"{path.relative_to(ROOT)} was measured on other code than the tree holds now (fingerprint "
        f"{result['code_fingerprint']}, now {now}; the sources are listed under {path.stem!r} in "
        f"benchmarks/provenance.py): measure it again with `{result['command']}`")


def test_a_fingerprint_ignores_layout_comments_and_docstrings_but_not_code(tmp_path):
    files = {"m.py": 'def f(x):\n    """Doc."""\n    return x + 1  # one\n\n\ndef g():\n    pass\n'}
    read = files.__getitem__
    provenance.MEASURED["demo"] = ("m.py::f", "pins::torch")
    files["requirements.txt"] = "torch==2.0\nnumpy==1.0\n"
    try:
        base = provenance.code_fingerprint("demo", read)
        files["m.py"] = "def f(x): return (x\n    + 1)\n\ndef g():\n    return 2\n"  # layout, and another function
        assert provenance.code_fingerprint("demo", read) == base
        files["m.py"] = "def f(x):\n    return x + 2\n"
        assert provenance.code_fingerprint("demo", read) != base
        files["m.py"] = "def f(x):\n    return x + 1\n"
        files["requirements.txt"] = "torch==2.1\n"
        assert provenance.code_fingerprint("demo", read) != base
        files["m.py"] = "def h(x):\n    return x + 1\n"
        with pytest.raises(provenance.FingerprintError, match="m.py has no top-level definition of f"):
            provenance.code_fingerprint("demo", read)
    finally:
        del provenance.MEASURED["demo"]
    with pytest.raises(provenance.FingerprintError, match="no sources are listed for the result 'nothing'"):
        provenance.code_fingerprint("nothing")


def test_a_fingerprint_is_the_same_on_every_python_and_leaves_out_guards_and_prose():
    # written out field by field, without the fields that Python versions add or drop
    assert provenance.python_code("def f(x):\n    return x + 1\n") == (
        "Module(body=[FunctionDef(name='f', args=arguments(args=[arg(arg='x')]), body=[Return(value=BinOp("
        "left=Name(id='x', ctx=Load()), op=Add(), right=Constant(value=1)))])])")
    base = provenance.python_code("def f(x):\n    write(x, title='A', notes=['a'])\n    return x + 1\n")
    guarded = ("def f(x):\n    if x < 0:\n        raise ValueError(f'x must be >= 0, got {x}')\n"
               "    write(x, title='B', notes=['b', 'c'])\n    return x + 1\n")
    assert provenance.python_code(guarded) == base
    handled = "def f(x):\n    if x < 0:\n        x = 0\n    write(x, title='A', notes=['a'])\n    return x + 1\n"
    assert provenance.python_code(handled) != base  # an if that changes a value is code
    assert provenance.python_code("def f(x):\n    write(x, out='A')\n    return x + 1\n") != base


def test_a_changed_measured_notebook_cell_changes_the_fingerprint():
    notebook = (ROOT / "notebooks" / "01_logreg_manual.py").read_text()
    read = {"notebooks/01_logreg_manual.py": notebook}.get
    provenance.MEASURED["demo"] = ("notebooks/01_logreg_manual.py#impl-",)
    try:
        base = provenance.code_fingerprint("demo", read)
        marker = '# %% tags=["impl-manual"'
        assert marker in notebook
        head, tail = notebook.split(marker, 1)
        cell_end = tail.index("\n# %%")
        edited = head + marker + tail[:cell_end] + "\nextra_line = 1\n" + tail[cell_end:]
        read = {"notebooks/01_logreg_manual.py": edited}.get
        assert provenance.code_fingerprint("demo", read) != base
    finally:
        del provenance.MEASURED["demo"]


def test_a_written_file_cell_is_fingerprinted_by_its_code_and_its_name():
    def notebook(body: str) -> str:
        return f"# %%\n# %%writefile {body}\n# %%\nx = 1\n"

    def code(text: str) -> str:
        return provenance._notebook_cells(text, "*", "demo.py")

    base = code(notebook("loop.py\nimport os\nprint(os.sep)"))
    assert code(notebook("loop.py\nimport os\n\nprint( os.sep )  # layout")) == base
    assert code(notebook("loop.py\nimport os\nprint(os.pathsep)")) != base
    assert code(notebook("other.py\nimport os\nprint(os.sep)")) != base
