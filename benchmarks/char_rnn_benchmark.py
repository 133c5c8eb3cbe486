"""Character-level GRU on A Tale of Two Cities: the original per-character loop against a batched version.

Default mode (one run, both measured side by side on this machine):

1. the original loop's time per iteration over ``--loop-iterations`` iterations (300 by default);
   times 20,000 it is the time of the original's full schedule;
2. the fast, batched version trained until its validation loss reaches the loop's validation loss
   after 20,000 iterations, read from ``benchmarks/results/char_rnn_full.json``;
3. the ratio of the two times, written to ``benchmarks/results/char_rnn.json``.

``--full`` mode trains the original loop for all 20,000 iterations (about an hour on a 2-core
CPU), recording the validation loss against training time every 1,000 iterations, and writes
``benchmarks/results/char_rnn_full.json``, which the default mode reads.

Training time excludes the pauses for measuring the validation loss.

    python benchmarks/char_rnn_benchmark.py --full --threads 1   # once, in the background
    python benchmarks/char_rnn_benchmark.py                      # the comparison
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import torch

import tutorial_utils as tu
from tutorial_utils.results import machine_description, read_result, write_result
from tutorial_utils.charrnn import (
    CharRNN,
    bits_per_char,
    random_training_pair,
    split_train_validation,
    train_fast,
    train_step_loop,
    validation_loss,
)

RESULTS = Path(__file__).resolve().parent / "results"
FULL_JSON = RESULTS / "char_rnn_full.json"
MAIN_JSON = RESULTS / "char_rnn.json"
FULL_ITERATIONS = 20_000
SEED = 123
#: The fast version's recipe (shared with notebook 06 through these defaults).
FAST = {"batch_size": 16, "seq_len": 100, "peak_lr": 0.01, "warmup": 20, "clip_norm": 1.0, "iterations": 1500}


def load_data(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
    train, valid = split_train_validation(encoded, 0.1)
    return train.to(device), valid.to(device)


def log(message: str) -> None:
    print(message, flush=True)


def run_full(args: argparse.Namespace, device: torch.device) -> None:
    train, valid = load_data(device)
    random.seed(SEED)
    torch.manual_seed(SEED)
    model = CharRNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    rows: list[dict[str, float | None]] = []
    seconds, recent = 0.0, []

    def record(iteration: int) -> None:
        loss = validation_loss(model, valid)
        mean_train = round(sum(recent) / len(recent), 5) if recent else None
        rows.append({"iteration": iteration, "training_seconds": round(seconds, 2), "validation_loss": round(loss, 5),
                     "bits_per_char": round(bits_per_char(loss), 5), "mean_training_loss": mean_train})
        recent.clear()
        done = iteration == FULL_ITERATIONS
        log(f"iteration {iteration:6d} | {seconds:8.1f} s training | validation {loss:.4f} nats/char | train {mean_train}")
        write_result(
            args.output or FULL_JSON,
            benchmark="char_rnn_full",
            title="Character-level GRU, the original per-character loop: validation loss during its full schedule",
            command="python benchmarks/char_rnn_benchmark.py --full" + (f" --threads {args.threads}" if args.threads else ""),
            columns={"iteration": "iteration", "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)",
                     "bits_per_char": "bits per char", "mean_training_loss": "mean training loss since previous row"},
            rows=rows,
            notes=[
                "Original recipe: one random 200-character portion per iteration (Python random, seed 123), "
                "GRU stepped one character at a time, Adam lr 0.005, zero initial state; torch.manual_seed(123).",
                "Validation: the last 10% of the cleaned text, read as one stream (see tutorial_utils.charrnn.validation_loss).",
                "Training time excludes the validation pauses."
                + (" Run in the background with nice -n 15." if args.nice_note else ""),
                "complete" if done else f"INCOMPLETE: stopped after iteration {iteration} of {FULL_ITERATIONS}",
            ],
        )

    record(0)
    for iteration in range(1, FULL_ITERATIONS + 1):
        start = time.perf_counter()
        inputs, targets = random_training_pair(train, 200)
        recent.append(train_step_loop(model, optimizer, inputs, targets))
        seconds += time.perf_counter() - start
        if iteration % args.eval_every == 0:
            record(iteration)


def full_run_target() -> tuple[float, float]:
    """The loop's validation loss after 20,000 iterations and its training time, from the recorded full run."""
    if not FULL_JSON.exists():
        raise SystemExit(f"{FULL_JSON} is missing: record the full run first with --full")
    rows = read_result(FULL_JSON)["rows"]
    if not rows or rows[-1]["iteration"] != FULL_ITERATIONS:
        raise SystemExit(f"{FULL_JSON} is incomplete (last row {rows[-1] if rows else None}): finish the --full run first")
    return rows[-1]["validation_loss"], rows[-1]["training_seconds"]


def run_default(args: argparse.Namespace, device: torch.device) -> None:
    target, full_seconds = full_run_target() if args.target_loss is None else (args.target_loss, float("nan"))
    train, valid = load_data(device)

    # 1. The original loop, timed over a few hundred iterations (after a short warm-up).
    random.seed(SEED)
    torch.manual_seed(SEED)
    model = CharRNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for _ in range(5):
        train_step_loop(model, optimizer, *random_training_pair(train, 200))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(args.loop_iterations):
        train_step_loop(model, optimizer, *random_training_pair(train, 200))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    per_iteration = (time.perf_counter() - start) / args.loop_iterations
    loop_total = per_iteration * FULL_ITERATIONS
    log(f"original loop: {per_iteration * 1e3:.1f} ms per iteration -> {loop_total:.0f} s for {FULL_ITERATIONS} iterations")
    log(f"target: the loop's validation loss after {FULL_ITERATIONS} iterations, {target:.4f} nats/char")

    # 2. The fast version, until it reaches the target.
    torch.manual_seed(SEED)
    model = CharRNN().to(device)
    history = train_fast(
        model, train, FAST["iterations"], batch_size=FAST["batch_size"], seq_len=FAST["seq_len"], peak_lr=FAST["peak_lr"],
        warmup=FAST["warmup"], clip_norm=FAST["clip_norm"], valid_data=valid, eval_every=args.eval_every_fast, stop_at_loss=target,
    )
    for iteration, seconds, loss in zip(history.iterations, history.seconds, history.validation):
        log(f"fast: iteration {iteration:5d} | {seconds:6.1f} s | validation {loss:.4f}")
    reached = history.validation[-1] <= target
    fast_seconds, fast_loss, fast_iterations = history.seconds[-1], history.validation[-1], history.iterations[-1]
    ratio = loop_total / fast_seconds
    verdict = "reached" if reached else "DID NOT reach"
    log(f"fast version {verdict} {target:.4f} after {fast_iterations} iterations, {fast_seconds:.1f} s: "
        f"{ratio:.1f}x less time than the loop's {loop_total:.0f} s (goal: at least 40x)")

    write_result(
        args.output or MAIN_JSON,
        benchmark="char_rnn",
        title="Character-level GRU: the original per-character loop against the fast batched version",
        command="python benchmarks/char_rnn_benchmark.py" + (f" --threads {args.threads}" if args.threads else ""),
        columns={"version": "version", "ms_per_iteration": "time per iteration (ms)", "iterations": "iterations",
                 "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)",
                 "bits_per_char": "bits per char", "time_ratio": "time ratio"},
        rows=[
            {"version": "original loop (1 x 200 chars, per-character GRU steps)", "ms_per_iteration": round(per_iteration * 1e3, 2),
             "iterations": FULL_ITERATIONS, "training_seconds": round(loop_total, 1), "validation_loss": round(target, 5),
             "bits_per_char": round(bits_per_char(target), 5), "time_ratio": 1.0},
            {"version": f"fast ({FAST['batch_size']} x {FAST['seq_len']} chars, truncated BPTT, one GRU call)",
             "ms_per_iteration": round(fast_seconds / max(1, fast_iterations) * 1e3, 2), "iterations": fast_iterations,
             "training_seconds": round(fast_seconds, 1), "validation_loss": round(fast_loss, 5),
             "bits_per_char": round(bits_per_char(fast_loss), 5), "time_ratio": round(ratio, 1)},
        ],
        notes=[
            f"The loop's time is its measured time per iteration over {args.loop_iterations} iterations times {FULL_ITERATIONS}; "
            f"its validation loss comes from the recorded full run (char_rnn_full.json, {full_seconds:.0f} s of training there).",
            f"Fast recipe: {FAST}; Adam with warm-up and cosine decay, gradient clipping; stopped at the first validation "
            f"(every {args.eval_every_fast} iterations) at or below the target. {'Reached' if reached else 'Not reached'}.",
            "Training time excludes the validation pauses. Both versions ran in this one process.",
        ],
        fast_curve={
            "columns": {"iteration": "iteration", "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)"},
            "rows": [{"iteration": i, "training_seconds": round(t, 2), "validation_loss": round(v, 5)}
                     for i, t, v in zip(history.iterations, history.seconds, history.validation)],
        },
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="train the original loop for 20,000 iterations")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--eval-every", type=int, default=1000, help="--full: iterations between validation measurements")
    parser.add_argument("--loop-iterations", type=int, default=300, help="iterations of the loop to time")
    parser.add_argument("--eval-every-fast", type=int, default=100, help="iterations between the fast version's validations")
    parser.add_argument("--target-loss", type=float, default=None, help="testing only: a target instead of the full run's")
    parser.add_argument("--nice-note", action="store_true", help="note in the json that the run was niced")
    parser.add_argument("--output", type=Path, default=None, help=f"result file (default: {MAIN_JSON} or, with --full, {FULL_JSON})")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = tu.get_device()
    log(f"device: {device.type} | {machine_description()}")
    if args.full:
        run_full(args, device)
    else:
        run_default(args, device)


if __name__ == "__main__":
    main(sys.argv[1:])
