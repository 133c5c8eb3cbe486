"""Run the four logistic-regression notebooks in one process and compare them side by side.

For each implementation: lines of code in the notebook cells tagged ``impl-<name>`` (the model and
its training loop), the final parameters, test accuracy and the time per epoch that the notebook
measured around its training loop (logging included). Writes benchmarks/results/logreg_compare.json.

    python benchmarks/logreg_compare.py
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import sys
from pathlib import Path

import jupytext
from tutorial_utils.results import write_result

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "logreg_compare.json"

# (label, notebook stem, implementation tag, what the library does, names of results in the notebook namespace)
IMPLEMENTATIONS = [
    ("PyTorch tensors, hand-written gradients", "01_logreg_manual", "impl-manual", "tensor arithmetic only", "seconds_per_epoch", "manual"),
    ("PyTorch autograd", "02_logreg_autograd", "impl-autograd", "gradients (backward)", "seconds_per_epoch", "autograd"),
    ("PyTorch nn.Module + optim", "03_logreg_module", "impl-module", "parameters, loss, update", "seconds_per_epoch", "module"),
    ("TensorFlow 1 graph (tf.compat.v1)", "04_logreg_tensorflow", "impl-tf1-graph", "graph, gradients, update; Session runs it", "seconds_per_epoch", "tf1"),
    ("TensorFlow 2 (GradientTape + tf.function)", "04_logreg_tensorflow", "impl-tf2", "gradients, update, graph compilation", "eager_seconds_per_epoch", "tf2"),
]


def implementation_lines(stem: str, tag: str) -> int:
    notebook = jupytext.read(ROOT / "notebooks" / f"{stem}.py")
    lines = [
        line
        for cell in notebook.cells
        if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])
        for line in cell.source.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    return len(lines)


def final_parameters(namespace: dict, key: str) -> list[float]:
    if key == "tf1":
        return namespace["graph_params"]
    if key == "tf2":
        return namespace["eager_params"]
    return list(namespace["weights"]) + [namespace["bias"]]


def test_accuracy(namespace: dict, key: str) -> float:
    if key == "tf1":
        return float(namespace["graph_test_acc"])
    if key == "tf2":
        return namespace["accuracy_tf2"](namespace["X_test"], namespace["y_test"])
    return float(namespace["test_acc"])


def main() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(ROOT / "notebooks")
    namespaces: dict[str, dict] = {}
    rows = []
    for label, stem, tag, library_does, time_key, key in IMPLEMENTATIONS:
        if stem not in namespaces:
            with contextlib.redirect_stdout(io.StringIO()):
                namespaces[stem] = runpy.run_path(str(ROOT / "notebooks" / f"{stem}.py"), run_name="__main__")
        namespace = namespaces[stem]
        params = final_parameters(namespace, key)
        rows.append([
            label,
            implementation_lines(stem, tag),
            library_does,
            f"({params[0]:.4f}, {params[1]:.4f}), {params[2]:.4f}",
            f"{test_accuracy(namespace, key) * 100:.1f}%",
            round(namespace[time_key] * 1000, 2),
        ])
    baseline = rows[0][5]
    for row in rows:
        row.append(round(row[5] / baseline, 1))

    keys = ["implementation", "lines", "library_does", "parameters", "test_accuracy", "ms_per_epoch", "time_ratio"]
    labels = ["implementation", "lines (model + training)", "what the library does", "weights, bias", "test accuracy", "ms per epoch", "time vs hand-written"]
    columns = dict(zip(keys, labels))
    width = max(len(r[0]) for r in rows)
    print(f"{'implementation':<{width}} | lines | ms/epoch | ratio")
    for row in rows:
        print(f"{row[0]:<{width}} | {row[1]:5d} | {row[5]:8.2f} | {row[6]:.1f}x")
    write_result(
        RESULTS,
        benchmark="logreg_compare",
        title="Four implementations of logistic regression, measured in one run",
        command="python benchmarks/logreg_compare.py",
        columns=columns,
        rows=[dict(zip(keys, row)) for row in rows],
        notes=[
            "Chapters 1-3 train 10 full-batch epochs (lr 0.1); chapter 4 trains 15 epochs of 7 mini-batches (lr 0.05), hence other parameters.",
            "Time per epoch includes each notebook's logging and accuracy evaluation; the TF2 row includes tracing the tf.function on the first epoch.",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
