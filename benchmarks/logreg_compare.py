"""The four logistic-regression chapters side by side, measured in one run.

Each notebook is executed top to bottom in a fresh kernel, one after the other. For every
implementation the table gives the parameters and test accuracy the notebook glued (myst-nb's
named results) and the time per epoch of its training cell (tagged ``impl-<name>`` and ``timed``).
That time is measured inside a notebook kernel that has run the notebook up to and including that
cell, and nothing after it: the training cell is run again ``--repeats`` times under
``time.perf_counter`` with its printing discarded, and the median is divided by the glued number
of epochs. No cross-check runs inside the timed cells. The lines of code in the cells tagged
``impl-<name>`` (the model and its training) are not recorded: they are counted from the
notebooks when the book is built (:func:`line_counts`).

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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import code_fingerprint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from notebook_cells import code_lines  # noqa: E402


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


def line_counts() -> dict[str, int]:
    """Implementation -> lines of code in its cells tagged ``impl-<name>``, counted in the notebooks now."""
    return {impl.label: code_lines(ROOT / "notebooks" / f"{impl.notebook}.py", impl.tag) for impl in IMPLEMENTATIONS}


def run_cells(notebook: nbformat.NotebookNode, stop_after: int | None = None) -> None:
    """Execute the notebook's cells in a fresh kernel, all of them or up to and including ``stop_after``."""
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells[: None if stop_after is None else stop_after + 1]):
            client.execute_cell(cell, index)


def execute(stem: str, repeats: int) -> nbformat.NotebookNode:
    """Run a notebook to read what it glued; then time the training cell of each of its implementations.

    Each training cell is timed in a fresh kernel that has run the notebook up to and including that
    cell and nothing after it, so the later cells (exercises that rebind the names the training cell
    uses, such as ``optimizer`` or ``cost``) cannot change what is timed.
    """
    notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    run_cells(notebook)
    for impl in (impl for impl in IMPLEMENTATIONS if impl.notebook == stem):
        timed = [index for index, c in enumerate(notebook.cells)
                 if c.cell_type == "code" and {impl.tag, "timed"} <= set(c.metadata.get("tags", []))]
        if len(timed) != 1:
            raise SystemExit(f"{stem}: expected one cell tagged {impl.tag} and timed, found {len(timed)}")
        prefix = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        name = f"seconds_{impl.tag}"
        prefix.cells.insert(timed[0] + 1, nbformat.v4.new_code_cell(
            TIMING_CELL.format(repeats=repeats, source=prefix.cells[timed[0]].source, name=name)))
        run_cells(prefix, stop_after=timed[0] + 1)
        notebook.cells.append(prefix.cells[timed[0] + 1])  # its glued time, read with the notebook's values
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "logreg_compare.json")
    parser.add_argument("--repeats", type=int, default=21, help="runs of each training cell; the median is reported")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    executed = {}
    rows = []
    per_epoch = {}  # implementation -> seconds per epoch, unrounded
    for impl in IMPLEMENTATIONS:
        if impl.notebook not in executed:
            print(f"executing {impl.notebook} ...", flush=True)
            executed[impl.notebook] = execute(impl.notebook, args.repeats)
        notebook = executed[impl.notebook]
        values = notebook_glue(notebook)
        parameters = values["weights"] + [values["bias"]] if impl.parameters == "weights+bias" else values[impl.parameters]
        seconds = values[f"seconds_{impl.tag}"]
        per_epoch[impl.label] = seconds / values["num_epochs"]
        rows.append({
            "implementation": impl.label,
            "library_does": impl.library_does,
            "parameters": f"({parameters[0]:.4f}, {parameters[1]:.4f}), {parameters[2]:.4f}",
            "test_accuracy": f"{values[impl.accuracy]:.1f}%",
            "ms_per_epoch": round(seconds / values["num_epochs"] * 1000, 3),
        })
    for row in rows:
        row["time_ratio"] = round(per_epoch[row["implementation"]] / per_epoch[rows[0]["implementation"]], 1)  # unrounded
        print(f"{row['implementation']:<45} | {row['ms_per_epoch']:8.3f} ms/epoch | {row['time_ratio']:.1f}x")
    write_result(
        args.output,
        benchmark="logreg_compare",
        code_fingerprint=code_fingerprint("logreg_compare"),
        title="The five implementations of logistic regression of chapters 1-4, measured in one run",
        command="python benchmarks/logreg_compare.py",
        columns={"implementation": "implementation", "library_does": "what the library does",
                 "parameters": "weights, bias", "test_accuracy": "test accuracy", "ms_per_epoch": "ms per epoch",
                 "time_ratio": "time vs hand-written"},
        rows=rows,
        notes=[
            "Chapters 1-3 train 10 full-batch epochs (lr 0.1); chapter 4 trains 15 epochs of 7 mini-batches (lr 0.05), hence other parameters.",
            f"Time per epoch: the median over {args.repeats} runs of each implementation's training cell, timed with "
            "time.perf_counter in a notebook kernel that ran the notebook up to that cell and no further, divided by the epochs. Each epoch includes "
            "what its cell does per epoch: chapters 1-3 one full-batch update, the cost and the training accuracy; the TF1 graph "
            "a Session.run for the training and the test accuracy and one per mini-batch (9 calls), inside a new Session; TF2 "
            "one tf.function call per mini-batch (7) and two accuracy evaluations. The tf.function is traced before the timing.",
        ],
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
