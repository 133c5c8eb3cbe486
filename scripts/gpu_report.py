"""The report of scripts/gpu_check.sh, and the pytest plugin that collects what it compares.

As a pytest plugin (``-p gpu_report``), it records the values each notebook glues (myst-nb's
named results) during the nbval run into ``$GPU_CHECK_GLUE``. As a script, it writes
``gpu_check.json`` (the result format of ``tutorial_utils.results``, which the performance appendix
renders) and ``gpu_check.md`` into OUT_DIR: the device, driver and versions, nbval's verdict and
time per notebook, each glued value beside the one stored from the CPU run, and the char-GRU
benchmark beside the committed CPU result.

    python scripts/gpu_report.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat

from tutorial_utils.record import glued_values, notebook_glue

ROOT = Path(__file__).resolve().parents[1]
_GLUED: dict[str, object] = {}


def pytest_runtest_teardown(item) -> None:
    _GLUED.update(glued_values(getattr(item, "test_outputs", None) or []))


def pytest_sessionfinish(session) -> None:
    if os.environ.get("GPU_CHECK_GLUE"):
        Path(os.environ["GPU_CHECK_GLUE"]).write_text(json.dumps(_GLUED, indent=1))


def nbval_rows(out: Path) -> list[dict]:
    rows = []
    for junit in sorted(out.glob("nbval_*.xml")):
        suite = ElementTree.parse(junit).getroot().find("testsuite")
        failed = int(suite.get("failures")) + int(suite.get("errors"))
        verdict = f"{int(suite.get('tests')) - failed} cells passed" + (f", {failed} FAILED" if failed else "")
        stem = junit.stem.removeprefix("nbval_")
        rows.append({"what": f"nbval {stem}", "cpu": "passes in `make test`", "gpu": f"{verdict} in {float(suite.get('time')):.1f} s"})
        glue_file = out / f"glue_{stem}.json"
        fresh = json.loads(glue_file.read_text()) if glue_file.exists() else {}
        stored = notebook_glue(nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4))
        rows += [{"what": f"{stem}: {name}", "cpu": value, "gpu": fresh.get(name)} for name, value in stored.items()]
    return rows


def benchmark_rows(out: Path) -> list[dict]:
    from tutorial_utils.results import read_result

    if not (out / "char_rnn.json").exists():
        return [{"what": "char-GRU benchmark", "cpu": "", "gpu": "did not run"}]
    cpu, gpu = (read_result(path)["rows"] for path in (ROOT / "benchmarks" / "results" / "char_rnn.json", out / "char_rnn.json"))
    fields = {"ms_per_iteration": "time per iteration (ms)", "training_seconds": "training time (s)",
              "validation_loss": "validation loss", "time_ratio": "time ratio"}
    return [{"what": f"char-GRU, {c['version'].split(' (')[0]}: {label}", "cpu": c[key], "gpu": g[key]}
            for c, g in zip(cpu, gpu) for key, label in fields.items()]


def main(out: Path) -> int:
    import torch

    from tutorial_utils.results import markdown_table, write_result

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from provenance import code_fingerprint

    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip() if shutil.which("nvidia-smi") else "not found"
    rows = nbval_rows(out) + benchmark_rows(out)
    columns = {"what": "what", "cpu": "CPU (stored outputs, committed results)", "gpu": "GPU (this run)"}
    notes = [f"nvidia-smi: {smi}", f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}",
             "Notebooks run with TUTORIAL_DEVICE=cuda under nbval, as `make test` runs them on the CPU; "
             "TensorFlow notebooks are checked on the CPU only."]
    write_result(out / "gpu_check.json", benchmark="gpu_check", title="The book on a GPU", command="bash scripts/gpu_check.sh",
                 code_fingerprint=code_fingerprint("gpu_check"), columns=columns, rows=rows, notes=notes)
    (out / "gpu_check.md").write_text("# The book on a GPU\n\n" + markdown_table(columns, rows) + "\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    failed = any("FAILED" in str(row["gpu"]) or row["gpu"] == "did not run" for row in rows)
    return 1 if failed or not rows else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
