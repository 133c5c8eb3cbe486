"""The benchmark result format: written and read by tutorial_utils.results, rendered by scripts/render_results.py."""

import importlib.util
import json
from pathlib import Path

import pytest

from tutorial_utils.results import ResultFileError, markdown_table, read_result, write_result

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("render_results", ROOT / "scripts" / "render_results.py")
render_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_results)

COLUMNS = {"name": "name", "ms": "ms | per step", "ratio": "ratio"}


def test_a_written_result_is_read_by_name_and_renders_as_a_table(tmp_path):
    path = tmp_path / "demo.json"
    write_result(path, benchmark="demo", title="Demo", command="python demo.py", columns=COLUMNS,
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
        write_result(tmp_path / "x.json", benchmark="x", title="x", command="x", columns=COLUMNS, rows=[row])
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
