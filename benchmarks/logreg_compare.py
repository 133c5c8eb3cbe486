"""The four logistic-regression chapters side by side, measured in one run.

Each notebook is executed top to bottom in a fresh kernel, one after the other. For every
implementation the table gives the lines of code in the cells tagged ``impl-<name>`` (the model and
its training), the parameters and test accuracy the notebook glued (myst-nb's named results), and
the time per epoch of its training cell (tagged ``impl-<name>`` and ``timed``). That time is
measured inside the notebook's own kernel, once the notebook has run: the training cell is run
again ``--repeats`` times under ``time.perf_counter`` with its printing discarded, and the median is
divided by the glued number of epochs. No cross-check runs inside the timed cells.

    python benchmarks/logreg_compare.py [--output benchmarks/results/logreg_compare.json]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tutorial_utils.record import notebook_glue
from tutorial_utils.results import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from notebook_cells import tagged_sources  # noqa: E402


@dataclass(frozen=True)
class Implementation:
    label: str
    notebook: str
    tag: str
    library_does: str
    parameters: str  # glued names of the final parameters
    accuracy: str  # glued name of the test accuracy (%)


IMPLEMENTATIONS = [
    Implementation("PyTorch tensors, hand-written gradients", "01_logreg_manual", "impl-manual", "tensor arithmetic only", "weights+bias", "test_accuracy"),
    Implementation("PyTorch autograd", "02_logreg_autograd", "impl-autograd", "gradients (backward)", "weights+bias", "test_accuracy"),
    Implementation("PyTorch nn.Module + optim", "03_logreg_module", "impl-module", "parameters, loss, update", "weights+bias", "test_accuracy"),
    Implementation("TensorFlow 1 graph (tf.compat.v1)", "04_logreg_tensorflow", "impl-tf1-graph", "graph, gradients, update; Session runs it",
                   "graph_parameters", "graph_test_accuracy"),
    Implementation("TensorFlow 2 (GradientTape + tf.function)", "04_logreg_tensorflow", "impl-tf2", "gradients, update, graph compilation",
                   "eager_parameters", "eager_test_accuracy"),
]


#: run in the notebook's kernel after the notebook: the median time of a training cell's source
TIMING_CELL = """
import contextlib, io, statistics, time
_times = []
for _ in range({repeats}):
    with contextlib.redirect_stdout(io.StringIO()):
        _start = time.perf_counter()
        exec({source!r}, globals())
        _times.append(time.perf_counter() - _start)
tu.glue({name!r}, statistics.median(_times))
"""


def tagged_lines(stem: str, tag: str) -> int:
    """Lines of code (not blank, not comments) in the cells of ``notebooks/<stem>.py`` tagged ``tag``."""
    sources = tagged_sources(ROOT / "notebooks" / f"{stem}.py", tag)
    return sum(1 for source in sources for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def execute(stem: str, repeats: int) -> nbformat.NotebookNode:
    """Run a notebook, then, in the same kernel, time the training cell of each of its implementations."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        for impl in (impl for impl in IMPLEMENTATIONS if impl.notebook == stem):
            timed = [c.source for c in notebook.cells if c.cell_type == "code" and {impl.tag, "timed"} <= set(c.metadata.get("tags", []))]
            if len(timed) != 1:
                raise SystemExit(f"{stem}: expected one cell tagged {impl.tag} and timed, found {len(timed)}")
            notebook.cells.append(nbformat.v4.new_code_cell(TIMING_CELL.format(repeats=repeats, source=timed[0], name=f"seconds_{impl.tag}")))
            client.execute_cell(notebook.cells[-1], len(notebook.cells) - 1)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "logreg_compare.json")
    parser.add_argument("--repeats", type=int, default=21, help="runs of each training cell; the median is reported")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    executed = {}
    rows = []
    for impl in IMPLEMENTATIONS:
        if impl.notebook not in executed:
            print(f"executing {impl.notebook} ...", flush=True)
            executed[impl.notebook] = execute(impl.notebook, args.repeats)
        notebook = executed[impl.notebook]
        values = notebook_glue(notebook)
        parameters = values["weights"] + [values["bias"]] if impl.parameters == "weights+bias" else values[impl.parameters]
        seconds = values[f"seconds_{impl.tag}"]
        rows.append({
            "implementation": impl.label,
            "lines": tagged_lines(impl.notebook, impl.tag),
            "library_does": impl.library_does,
            "parameters": f"({parameters[0]:.4f}, {parameters[1]:.4f}), {parameters[2]:.4f}",
            "test_accuracy": f"{values[impl.accuracy]:.1f}%",
            "ms_per_epoch": round(seconds / values["num_epochs"] * 1000, 2),
        })
    for row in rows:
        row["time_ratio"] = round(row["ms_per_epoch"] / rows[0]["ms_per_epoch"], 1)
        print(f"{row['implementation']:<45} | {row['lines']:3d} lines | {row['ms_per_epoch']:8.2f} ms/epoch | {row['time_ratio']:.1f}x")
    write_result(
        args.output,
        benchmark="logreg_compare",
        title="Four implementations of logistic regression, measured in one run",
        command="python benchmarks/logreg_compare.py",
        columns={"implementation": "implementation", "lines": "lines (model + training)", "library_does": "what the library does",
                 "parameters": "weights, bias", "test_accuracy": "test accuracy", "ms_per_epoch": "ms per epoch",
                 "time_ratio": "time vs hand-written"},
        rows=rows,
        notes=[
            "Chapters 1-3 train 10 full-batch epochs (lr 0.1); chapter 4 trains 15 epochs of 7 mini-batches (lr 0.05), hence other parameters.",
            f"Time per epoch: the median over {args.repeats} runs of each implementation's training cell, timed with "
            "time.perf_counter inside the notebook's kernel after the notebook ran, divided by the epochs. Each epoch includes "
            "what its cell does per epoch: chapters 1-3 one full-batch update, the cost and the training accuracy; the TF1 graph "
            "a Session.run for the training and the test accuracy and one per mini-batch (9 calls), inside a new Session; TF2 "
            "one tf.function call per mini-batch (7) and two accuracy evaluations. The tf.function is traced before the timing.",
        ],
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
