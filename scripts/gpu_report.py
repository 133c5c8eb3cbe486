"""Helper of scripts/gpu_check.sh: environment facts, notebook execution, benchmarks, the report.

Subcommands (all paths are explicit; nothing here writes into the repository):

    gpu_report.py env WORK                      device, driver and versions -> WORK/env.json
    gpu_report.py execute NOTEBOOK OUT.ipynb    run a notebook top to bottom with nbclient
    gpu_report.py bench-logreg OUT.json         benchmarks/logreg_compare.py, PyTorch rows only
    gpu_report.py bench-charrnn OUT.json ARGS   benchmarks/char_rnn_benchmark.py with ARGS
    gpu_report.py report WORK OUT_DIR           WORK/steps.tsv + outputs -> gpu_check.{md,json}

Final metrics of each notebook are read from its printed text with the regexes of METRICS and
compared between the stored (CPU) outputs and a fresh run on this machine, within the tolerances
given there. Notebooks checked by nbval in lax mode rely on these comparisons.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Metric:
    """A number printed by a notebook, compared between the stored CPU run and this run.

    Attributes:
        name: what the number is, as the report shows it.
        pattern: regex whose first group is the number, searched in the notebook's printed text.
        tolerance: largest accepted absolute difference (0: the printed text must be identical).
        occurrence: ``"last"`` (final value) or ``"first"``.
    """

    name: str
    pattern: str
    tolerance: float
    occurrence: str = "last"


_LOGREG = [
    Metric("test accuracy (%)", r"Test accuracy: ([\d.]+)%", 0.0),
    Metric("weight 1", r"Weights: \((-?[\d.]+), -?[\d.]+\)", 0.0),
    Metric("weight 2", r"Weights: \(-?[\d.]+, (-?[\d.]+)\)", 0.0),
    Metric("bias", r"\| Bias: (-?[\d.]+)", 0.0),
    Metric("last epoch cost", r"Epoch: \d+ \| Train ACC: [\d.]+ \| Cost: ([\d.]+)", 0.0),
]

#: Key numbers per notebook. Strict notebooks (nbval compares every output) list them with
#: tolerance 0, for the side-by-side table only. Lax notebooks depend on these tolerances:
#: float32 sums run in another order on the GPU (cuBLAS/cuDNN kernels versus the CPU's), so the
#: last printed digits of long training runs may legitimately differ.
METRICS: dict[str, list[Metric]] = {
    "01_logreg_manual": _LOGREG,
    "02_logreg_autograd": _LOGREG,
    "03_logreg_module": _LOGREG[:4],
    "05_softmax_mnist": [
        # zero-initialised weights: the first cost is exactly ln 10 on any device
        Metric("first logged cost", r"Batch 000/\d+ \| Cost: ([\d.]+)", 0.0001, "first"),
        Metric("last logged cost", r"Batch \d+/\d+ \| Cost: ([\d.]+)", 0.02),
        Metric("final training accuracy (%)", r"Final training accuracy: ([\d.]+)%", 0.3),
        Metric("final test accuracy (%)", r"final test accuracy: ([\d.]+)%", 0.3),
        Metric("misclassified test digits", r"misclassified test digits: (\d+) of", 30),
    ],
    "06_char_rnn": [
        Metric("loop: validation loss after its short run", r"iterations: validation loss ([\d.]+) nats/char", 0.02),
        # the untrained model's loss depends only on the seeded initialisation
        Metric("fast: validation loss at iteration 0", r"iteration +\d+ \| validation loss ([\d.]+) nats/char", 0.001, "first"),
        Metric("fast: final validation loss", r"iteration +\d+ \| validation loss ([\d.]+) nats/char", 0.03),
        Metric("fast at least as good as the full loop", r"at least as good as the full loop: (\w+)", 0.0),
        Metric("resumed run identical to uninterrupted", r"identical to the uninterrupted run: (\w+)", 0.0),
    ],
}


def printed_text(notebook_path: Path) -> str:
    """All stream and text/plain outputs of a notebook, in order, as one string."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    parts: list[str] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
            elif "data" in output and "text/plain" in output["data"]:
                parts.append(output["data"]["text/plain"] + "\n")
            elif output.get("output_type") == "error":
                parts.append(f"{output.get('ename')}: {output.get('evalue')}\n")
    return "".join(parts)


def find_metric(text: str, metric: Metric) -> str | None:
    """The printed value of ``metric`` in ``text`` (first or last occurrence), or ``None``."""
    matches = re.findall(metric.pattern, text)
    if not matches:
        return None
    value = matches[0] if metric.occurrence == "first" else matches[-1]
    return value[0] if isinstance(value, tuple) else value


def compare_metrics(stem: str, stored: Path, executed: Path | None) -> list[dict]:
    """One dict per metric: CPU (stored) value, GPU value, tolerance and verdict."""
    stored_text = printed_text(stored)
    executed_text = printed_text(executed) if executed is not None and executed.exists() else ""
    metrics = METRICS.get(stem)
    if not metrics:
        return [{"metric": "(none defined)", "cpu": None, "gpu": None, "tolerance": None, "ok": None,
                 "verdict": f"no metrics defined for {stem} in scripts/gpu_report.py METRICS"}]
    rows = []
    for metric in metrics:
        cpu, gpu = find_metric(stored_text, metric), find_metric(executed_text, metric)
        if cpu is None:
            ok, verdict = False, f"pattern not found in the stored notebook: fix METRICS[{stem!r}]"
        elif gpu is None:
            ok, verdict = False, "not printed by this run"
        elif metric.tolerance == 0:
            ok = cpu == gpu
            verdict = "identical" if ok else "DIFFERS"
        else:
            difference = abs(float(cpu) - float(gpu))
            ok = difference <= metric.tolerance
            verdict = f"|diff| {difference:.4g} {'<=' if ok else '>'} {metric.tolerance:g}"
        rows.append({"metric": metric.name, "cpu": cpu, "gpu": gpu, "tolerance": metric.tolerance, "ok": ok, "verdict": verdict})
    return rows


# --------------------------------------------------------------------------- environment


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict:
    """Device name, driver, CUDA and package versions of this machine."""
    import torch

    info: dict = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cuda_available": torch.cuda.is_available(),
        "cpu_cores": os.cpu_count(),
    }
    for name in ("numpy", "torchvision", "matplotlib", "nbval", "nbclient", "ipykernel", "jupytext", "pytest"):
        info[name] = _version(name)
    smi = _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
        info["capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    else:
        cpu = platform.processor() or platform.machine()
        try:
            cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                       if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
        info["device"] = f"CPU only ({cpu})"
    info["nvidia_smi"] = smi or None
    info["driver"] = smi.split(",")[1].strip() if smi.count(",") >= 1 else None
    return info


# --------------------------------------------------------------------------- execution


def execute(notebook: Path, destination: Path, cell_timeout: int = 600) -> None:
    """Run ``notebook`` top to bottom in a fresh kernel (cwd notebooks/) and save it with outputs.

    The executed notebook is saved even when a cell fails, then the error is re-raised.
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    try:
        client.execute()
    finally:
        destination.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, destination)
    print(f"executed {notebook.name} -> {destination}")


def _load(path: Path) -> ModuleType:
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # the benchmarks import their shared results_file module
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_logreg(destination: Path) -> None:
    """benchmarks/logreg_compare.py restricted to its PyTorch rows (TensorFlow is not on the GPU machine)."""
    module = _load(ROOT / "benchmarks" / "logreg_compare.py")
    module.IMPLEMENTATIONS = [row for row in module.IMPLEMENTATIONS if not row[1].startswith("04_")]
    module.RESULTS = destination
    module.main()


def bench_charrnn(destination: Path, args: list[str]) -> None:
    """benchmarks/char_rnn_benchmark.py (default mode) writing its json to ``destination``."""
    module = _load(ROOT / "benchmarks" / "char_rnn_benchmark.py")
    module.MAIN_JSON = destination
    module.main(args)


# --------------------------------------------------------------------------- report


def _read_steps(work: Path) -> list[dict]:
    steps = []
    path = work / "steps.tsv"
    if path.exists():
        for line in path.read_text().splitlines():
            kind, name, mode, status, seconds, detail = (line.split("\t") + [""] * 6)[:6]
            steps.append({"kind": kind, "name": name, "mode": mode, "status": status,
                          "seconds": float(seconds) if seconds else None, "detail": detail})
    return steps


def _benchmark_rows(work: Path, steps: list[dict]) -> list[dict]:
    """GPU numbers of each benchmark next to the CPU numbers committed in benchmarks/results/."""
    rows = []
    logreg = work / "logreg_compare.json"
    cpu_logreg = RESULTS / "logreg_compare.json"
    if logreg.exists():
        gpu = json.loads(logreg.read_text())
        cpu = {r[0]: r for r in json.loads(cpu_logreg.read_text())["rows"]} if cpu_logreg.exists() else {}
        ms = gpu["columns"].index("ms per epoch")
        for row in gpu["rows"]:
            reference = cpu.get(row[0])
            cpu_ms = reference[ms] if reference else None
            ratio = f"GPU/CPU time {row[ms] / cpu_ms:.1f}x" if cpu_ms else ""
            rows.append({"item": f"logreg_compare: {row[0]}, ms per epoch", "gpu": row[ms], "cpu": cpu_ms, "check": ratio})
    charrnn = work / "char_rnn.json"
    cpu_charrnn = RESULTS / "char_rnn.json"
    if charrnn.exists():
        gpu = json.loads(charrnn.read_text())
        cpu_rows = json.loads(cpu_charrnn.read_text())["rows"] if cpu_charrnn.exists() else None
        labels = ("original loop", "fast version")
        columns = gpu["columns"]
        for index, label in enumerate(labels):
            for column in ("time per iteration (ms)", "training time (s)", "validation loss (nats/char)", "time ratio"):
                if column not in columns or index >= len(gpu["rows"]):
                    continue
                position = columns.index(column)
                cpu_value = cpu_rows[index][position] if cpu_rows and index < len(cpu_rows) else None
                rows.append({"item": f"char_rnn: {label}, {column}", "gpu": gpu["rows"][index][position], "cpu": cpu_value, "check": ""})
    return rows


def report(work: Path, out_dir: Path) -> int:
    """Write OUT_DIR/gpu_check.md and OUT_DIR/gpu_check.json; return 0 when every check passed."""
    env = json.loads((work / "env.json").read_text()) if (work / "env.json").exists() else {}
    steps = _read_steps(work)
    dry_run = os.environ.get("GPU_CHECK_DRY_RUN") == "1"
    failures: list[str] = []
    notebooks: list[dict] = []
    for step in steps:
        if step["kind"] != "nbval":
            continue
        stem = step["name"]
        execution = next((s for s in steps if s["kind"] == "execute" and s["name"] == stem), None)
        executed = work / "executed" / f"{stem}.ipynb"
        metrics = compare_metrics(stem, NOTEBOOKS / f"{stem}.ipynb", executed if executed.exists() else None)
        entry = {"notebook": stem, "mode": step["mode"], "nbval": step["status"], "nbval_seconds": step["seconds"],
                 "nbval_summary": step["detail"], "execute": execution["status"] if execution else "not run",
                 "execute_seconds": execution["seconds"] if execution else None, "metrics": metrics}
        notebooks.append(entry)
        if step["status"] != "passed":
            failures.append(f"{stem}: nbval {step['mode']} {step['status']} ({step['detail']})")
        if execution and execution["status"] != "passed":
            failures.append(f"{stem}: execution {execution['status']} ({execution['detail']})")
        if step["mode"] == "lax":
            failures += [f"{stem}: {m['metric']}: {m['verdict']}" for m in metrics if m["ok"] is not True]
    if not notebooks:
        failures.append("no notebook was checked")
    benchmarks = [s for s in steps if s["kind"] == "bench"]
    failures += [f"benchmark {s['name']}: {s['status']} ({s['detail']})" for s in benchmarks if s["status"] != "passed"]
    bench_rows = _benchmark_rows(work, steps)
    total = next((s["seconds"] for s in steps if s["kind"] == "total"), None)

    machine = (f"{env.get('device')}, driver {env.get('driver')}, CUDA {env.get('torch_cuda')}; "
               f"torch {env.get('torch')}, Python {env.get('python')}")
    title = "The PyTorch notebooks and benchmarks on a GPU: nbval results and CPU-vs-GPU numbers"
    notes = [
        f"Each notebook ran twice with TUTORIAL_DEVICE={os.environ.get('TUTORIAL_DEVICE', 'cuda')}: under nbval (strict: every printed output must match the "
        "stored CPU outputs after nbval_sanitize.cfg + scripts/nbval_sanitize_gpu.cfg; lax: only that it runs without "
        "error), and once more to read its final numbers, compared with the stored CPU outputs within the tolerances "
        "of scripts/gpu_report.py (lax notebooks must stay within them).",
        "04_logreg_tensorflow is not run here: TensorFlow cannot be carried to the GPU machine (over the 64 MiB limit); "
        "it stays checked on the CPU by `make test`.",
        "logreg_compare on the GPU runs its PyTorch rows only; CPU numbers come from benchmarks/results/*.json.",
        f"Total time of scripts/gpu_check.sh: {total:.0f} s." if total else "Total time not recorded.",
    ]
    if dry_run:
        title = "DRY RUN ON CPU (GPU_CHECK_ALLOW_CPU=1), NOT A GPU REPORT: " + title
        notes.insert(0, "This is a dry run of the pipeline on a machine without a GPU; do not commit it as a GPU result.")
    notes.append("All checks passed." if not failures else f"{len(failures)} check(s) failed: " + "; ".join(failures))

    columns = ["item", "GPU run", "CPU reference", "check", "time on GPU (s)"]
    rows: list[list] = []
    for entry in notebooks:
        rows.append([f"notebook {entry['notebook']}: nbval {entry['mode']}", f"{entry['nbval']} ({entry['nbval_summary']})",
                     "stored outputs", entry["nbval"], entry["nbval_seconds"]])
        for m in entry["metrics"]:
            rows.append([f"{entry['notebook']}: {m['metric']}", m["gpu"], m["cpu"],
                         m["verdict"] if entry["mode"] == "lax" else f"{m['verdict']} (informative; nbval decides)", ""])
    rows.append(["notebook 04_logreg_tensorflow", "not run: no TensorFlow on the GPU machine", "CPU-checked by make test", "", ""])
    for s in benchmarks:
        rows.append([f"benchmark {s['name']}", s["status"], "", s["detail"], s["seconds"]])
    for b in bench_rows:
        rows.append([b["item"], b["gpu"], b["cpu"], b["check"], ""])

    result = {
        "benchmark": "gpu_check",
        "title": title,
        "command": "scripts/gpu_check.sh (see README, 'On a GPU')",
        "machine": machine,
        "date": datetime.date.today().isoformat(),
        "columns": columns,
        "rows": rows,
        "notes": notes,
        "environment": env,
        "notebooks": notebooks,
        "failures": failures,
        "dry_run": dry_run,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(result, indent=1) + "\n")

    def cell(value: object) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = [f"# {title}", "", f"- machine: {machine}", f"- nvidia-smi: {env.get('nvidia_smi')}",
             "- versions: " + ", ".join(f"{k} {env.get(k)}" for k in ("numpy", "torchvision", "matplotlib", "nbval", "nbclient", "ipykernel", "jupytext", "pytest")),
             f"- date: {result['date']}", "", "## Notebooks", "",
             "| notebook | nbval mode | nbval | nbval time (s) | second run | time (s) |", "| --- | --- | --- | --- | --- | --- |"]
    for entry in notebooks:
        lines.append(f"| {entry['notebook']} | {entry['mode']} | {cell(entry['nbval'])}: {cell(entry['nbval_summary'])} | "
                     f"{cell(entry['nbval_seconds'])} | {cell(entry['execute'])} | {cell(entry['execute_seconds'])} |")
    lines.append("| 04_logreg_tensorflow | - | not run: TensorFlow is not on the GPU machine; CPU-checked by `make test` | | | |")
    lines += ["", "## Final numbers, CPU (stored outputs) against this run", "",
              "| notebook | number | CPU | this run | check |", "| --- | --- | --- | --- | --- |"]
    for entry in notebooks:
        for m in entry["metrics"]:
            lines.append(f"| {entry['notebook']} ({entry['mode']}) | {cell(m['metric'])} | {cell(m['cpu'])} | {cell(m['gpu'])} | {cell(m['verdict'])} |")
    lines += ["", "## Benchmarks", "", "| step | status | time (s) | detail |", "| --- | --- | --- | --- |"]
    lines += [f"| {s['name']} | {s['status']} | {cell(s['seconds'])} | {cell(s['detail'])} |" for s in benchmarks]
    lines += ["", "| number | this run | CPU (benchmarks/results) | note |", "| --- | --- | --- | --- |"]
    lines += [f"| {cell(b['item'])} | {cell(b['gpu'])} | {cell(b['cpu'])} | {cell(b['check'])} |" for b in bench_rows]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in notes] + [""]
    (out_dir / "gpu_check.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    if command == "env" and len(args) == 1:
        info = environment()
        Path(args[0], "env.json").write_text(json.dumps(info, indent=1) + "\n")
        print(json.dumps(info, indent=1))
        return 0
    if command == "execute" and len(args) in (2, 3):
        execute(Path(args[0]).resolve(), Path(args[1]).resolve(), int(args[2]) if len(args) == 3 else 600)
        return 0
    if command == "bench-logreg" and len(args) == 1:
        bench_logreg(Path(args[0]).resolve())
        return 0
    if command == "bench-charrnn" and args:
        bench_charrnn(Path(args[0]).resolve(), args[1:])
        return 0
    if command == "report" and len(args) == 2:
        return report(Path(args[0]), Path(args[1]))
    print(f"unknown command or wrong arguments: {' '.join(argv)}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
