"""The GPU check: it stops at once without a GPU, and its report reads glued values (tu.glue), not printed text."""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tutorial_utils.record import notebook_glue

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(os.path.exists("/dev/nvidia0"), reason="this machine has a GPU")
def test_gpu_check_stops_without_a_gpu(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no nvidia-smi on this PATH
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "nvidia-smi" in result.stdout + result.stderr
    assert not (tmp_path / "out" / "gpu_check.json").exists()


def test_the_plugin_records_what_a_notebook_glues_under_nbval(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import tutorial_utils as tu\ntu.glue('accuracy', round(91.85, 2))\ntu.glue('label', 'fast')\nprint('done')"
    )]
    NotebookClient(notebook, kernel_name="python3").execute()
    path = tmp_path / "demo.ipynb"
    nbformat.write(notebook, path)
    glue_file = tmp_path / "glue.json"
    env = {**os.environ, "GPU_CHECK_GLUE": str(glue_file), "PYTHONPATH": str(ROOT / "scripts")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "gpu_report", "--nbval", "--nbval-current-env", str(path)],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(glue_file.read_text()) == {"accuracy": 91.85, "label": "fast"}

    assert notebook_glue(notebook) == {"accuracy": 91.85, "label": "fast"}
    from myst_nb.ext.glue import extract_glue_data_cell  # the book's renderer reads the same outputs

    assert [key for key, _ in extract_glue_data_cell(notebook.cells[0])] == ["accuracy", "label"]


def test_the_report_sets_gpu_results_beside_the_stored_cpu_ones(tmp_path):
    suite = '<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="0" tests="20" time="12.5"></testsuite></testsuites>'
    (tmp_path / "nbval_01_logreg_manual.xml").write_text(suite)
    (tmp_path / "glue_01_logreg_manual.json").write_text(json.dumps({"test_accuracy": 100.0, "bias": 0.0995}))
    (tmp_path / "char_rnn.json").write_bytes((ROOT / "benchmarks" / "results" / "char_rnn.json").read_bytes())
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gpu_report
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert gpu_report.main(tmp_path) == 1  # a failed cell fails the check
    rows = {row["what"]: row for row in json.loads((tmp_path / "gpu_check.json").read_text())["rows"]}
    assert rows["nbval 01_logreg_manual"]["gpu"] == "19 cells passed, 1 FAILED in 12.5 s"
    assert rows["01_logreg_manual: bias"] == {"what": "01_logreg_manual: bias", "cpu": 0.0994, "gpu": 0.0995}
    assert any(what.startswith("char-GRU") for what in rows) and (tmp_path / "gpu_check.md").exists()
