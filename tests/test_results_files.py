"""The benchmark result format: written by benchmarks/results_file.py, rendered by scripts/render_results.py."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


results_file = load(ROOT / "benchmarks" / "results_file.py")
render_results = load(ROOT / "scripts" / "render_results.py")


def test_written_result_renders_as_a_table(tmp_path):
    path = tmp_path / "demo.json"
    results_file.write_result(
        path, benchmark="demo", title="Demo", command="python demo.py",
        columns=["name", "ms | per step", "ratio"], rows=[["a", 1.5, None], ["b", 3.0, 2.0]], notes=["a note"],
        curve={"rows": []},
    )
    result = json.loads(path.read_text())
    assert result["benchmark"] == "demo" and result["curve"] == {"rows": []} and result["date"]
    assert [p.name for p in tmp_path.iterdir()] == ["demo.json"]
    table = render_results.render(result, "demo.json").splitlines()
    assert table[0] == "| name | ms \\| per step | ratio |"
    assert table[2:4] == ["| a | 1.5 | – |", "| b | 3.0 | 2.0 |"]
    assert "- a note" in table and any("python demo.py" in line for line in table)


def test_rows_must_fit_the_columns(tmp_path):
    with pytest.raises(ValueError, match="needs 2 values"):
        results_file.write_result(tmp_path / "x.json", benchmark="x", title="x", command="x",
                                  columns=["a", "b"], rows=[[1]], notes=[])
    assert not any(tmp_path.iterdir())


def test_committed_results_render():
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        result = json.loads(path.read_text())
        assert render_results.render(result, path.name).count("\n| ") == len(result["rows"]) + 1
