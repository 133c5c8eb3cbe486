"""Character-level GRU on A Tale of Two Cities: the original per-character loop against fast training.

Default mode (one run, everything measured side by side in this process):

1. the original loop's time per iteration over ``--loop-iterations`` iterations (one CPU thread,
   its fastest setting); times 20,000 it is the time of the original's full schedule;
2. chapter 6's fast recipe (16 x 100 characters, truncated BPTT, one thread) trained until its
   validation loss reaches the loop's loss after 20,000 iterations, read from
   ``benchmarks/results/char_rnn_full.json``;
3. the fastest recipe found here, the same model and target: the GRU's time loop in C++
   (``fused_gru.py``), Adam's fused update, two threads;
4. the ratios of the loop's time to theirs, and the arithmetic rate of the fastest recipe against
   the rate of a large matrix product on this machine; written to ``benchmarks/results/char_rnn.json``.

``--levers`` measures each thing tried on the way to the fastest recipe, one at a time, and writes
``benchmarks/results/char_rnn_levers.json``. ``--full`` trains the original loop for all 20,000
iterations (about 30 to 75 minutes), recording the validation loss every 1,000 iterations, and writes
``benchmarks/results/char_rnn_full.json``. Training time always excludes the validation pauses.

    python benchmarks/char_rnn_benchmark.py --full        # once, in the background
    python benchmarks/char_rnn_benchmark.py               # the comparison
    python benchmarks/char_rnn_benchmark.py --levers      # the levers table
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import tutorial_utils as tu
from tutorial_utils.charrnn import (
    CharRNN,
    bits_per_char,
    consecutive_batch,
    cosine_lr,
    random_training_pair,
    split_train_validation,
    train_step_loop,
    validation_loss,
)
from tutorial_utils.results import machine_description, read_result, write_result

RESULTS = Path(__file__).resolve().parent / "results"
DEVICE = torch.device("cpu")  # set by main() from TUTORIAL_DEVICE / CUDA availability
FULL_ITERATIONS = 20_000
SEED = 123


@dataclass(frozen=True)
class Recipe:
    """A way of training chapter 6's model with truncated BPTT; the model itself never changes."""

    name: str
    batch_size: int = 16
    seq_len: int = 100
    peak_lr: float = 0.01
    iterations: int = 1500  # the length the schedule is planned for; training stops at the target
    threads: int = 1
    fused_gru: bool = False
    fused_adam: bool = False
    bf16: bool = False
    compiled: bool = False

    def describe(self) -> str:
        extras = [label for flag, label in ((self.fused_gru, "GRU time loop in C++"), (self.fused_adam, "fused Adam"),
                                            (self.bf16, "bfloat16 autocast"), (self.compiled, "torch.compile")) if flag]
        return f"{self.batch_size} x {self.seq_len} chars, peak lr {self.peak_lr}, {self.threads} thread(s)" + "".join(f", {e}" for e in extras)


CHAPTER = Recipe("chapter 6's fast recipe")
FASTEST = Recipe("fastest recipe", threads=2, fused_gru=True, fused_adam=True)


#: the columns of a validation-loss curve
CURVE_COLUMNS = {"iteration": "iteration", "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)"}

#: the columns of the default run's table: one row per way of training
VERSION_COLUMNS = {"version": "version", "ms_per_iteration": "time per iteration (ms)", "iterations": "iterations",
                   "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)",
                   "bits_per_char": "bits per char", "time_ratio": "time ratio"}
#: the columns of the levers table: one row per lever
LEVER_COLUMNS = {"lever": "lever", "recipe": "recipe", "ms_per_iteration": "time per iteration (ms)",
                 "kchars_per_second": "thousand characters per second", "speed_vs_baseline": "speed vs baseline",
                 "time_to_target": "training time to the loop's 20,000-iteration loss", "note": "note"}


def save_result(args: argparse.Namespace, mode: str, **fields: Any) -> None:
    """Write the result of one mode ("" for the default run) to ``--output`` or its file in benchmarks/results."""
    name = f"char_rnn_{mode}" if mode else "char_rnn"
    command = "python benchmarks/char_rnn_benchmark.py" + (f" --{mode}" if mode else "")
    write_result(args.output or RESULTS / f"{name}.json", benchmark=name, command=command, **fields)


def log(message: str) -> None:
    print(message, flush=True)


def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    encoded = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
    train, valid = split_train_validation(encoded, 0.1)
    return train.to(DEVICE), valid.to(DEVICE)


def make_model(recipe: Recipe) -> CharRNN:
    torch.manual_seed(SEED)
    model = CharRNN()
    if recipe.fused_gru:
        from fused_gru import FusedGRU

        model.rnn = FusedGRU(model.rnn)
    return model.to(DEVICE)


def make_step(model: CharRNN, recipe: Recipe) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, float], tuple[float, torch.Tensor]]:
    """One truncated-BPTT update, as chapter 6's ``train_fast`` does it, with the recipe's levers."""
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.peak_lr, fused=recipe.fused_adam or None)

    def forward_backward(inputs, targets, hidden):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.bf16):
            logits, hidden = model(inputs, hidden)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))
        loss.backward()
        return loss.detach(), hidden.detach()

    run = torch.compile(forward_backward) if recipe.compiled else forward_backward

    def step(inputs, targets, hidden, lr):
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        loss, hidden = run(inputs, targets, hidden)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss), hidden

    return step


def time_to_target(recipe: Recipe, train: torch.Tensor, valid: torch.Tensor, target: float, eval_every: int = 25) -> dict:
    """Train until the validation loss first reaches ``target`` (checked every ``eval_every`` iterations)."""
    torch.set_num_threads(recipe.threads)
    model = make_model(recipe)
    step = make_step(model, recipe)
    curve = [{"iteration": 0, "training_seconds": 0.0, "validation_loss": round(validation_loss(model, valid), 5)}]
    seconds, hidden = 0.0, None
    for iteration in range(recipe.iterations):
        tu.synchronize(DEVICE)
        start = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(train, recipe.batch_size, recipe.seq_len, iteration)
        _, hidden = step(inputs, targets, None if fresh else hidden, cosine_lr(iteration, recipe.iterations, recipe.peak_lr, warmup=20))
        tu.synchronize(DEVICE)
        seconds += time.perf_counter() - start
        if (iteration + 1) % eval_every == 0:
            loss = validation_loss(model, valid)
            curve.append({"iteration": iteration + 1, "training_seconds": round(seconds, 2), "validation_loss": round(loss, 5)})
            if loss <= target:
                break
    reached = curve[-1]["validation_loss"] <= target
    log(f"{recipe.name} ({recipe.describe()}): {'reached' if reached else 'DID NOT reach'} {target:.4f} "
        f"after {curve[-1]['iteration']} iterations, {seconds:.1f} s of training")
    return {"reached": reached, "seconds": seconds, "iterations": curve[-1]["iteration"], "loss": curve[-1]["validation_loss"], "curve": curve}


def ms_per_iteration(recipe: Recipe, train: torch.Tensor, count: int = 20) -> float:
    """Time per training iteration after a few warm-up iterations (compilation excluded)."""
    torch.set_num_threads(recipe.threads)
    step = make_step(make_model(recipe), recipe)
    hidden = None
    for iteration in range(count + 3):
        if iteration == 3:
            start = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(train, recipe.batch_size, recipe.seq_len, iteration)
        _, hidden = step(inputs, targets, None if fresh else hidden, recipe.peak_lr)
    tu.synchronize(DEVICE)
    return (time.perf_counter() - start) / count * 1000


def loop_ms_per_iteration(train: torch.Tensor, iterations: int) -> float:
    """The original per-character loop's time per iteration (one thread, after a short warm-up)."""
    torch.set_num_threads(1)
    random.seed(SEED)
    torch.manual_seed(SEED)
    model = CharRNN().to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for _ in range(5):
        train_step_loop(model, optimizer, *random_training_pair(train, 200))
    tu.synchronize(DEVICE)
    start = time.perf_counter()
    for _ in range(iterations):
        train_step_loop(model, optimizer, *random_training_pair(train, 200))
    tu.synchronize(DEVICE)
    return (time.perf_counter() - start) / iterations * 1000


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """The arithmetic rate of a large float32 matrix product: what this machine's CPU threads can do."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_character(model: CharRNN) -> float:
    """Multiply-adds of one character's forward pass (GRU products and read-out), times 2, times 3 for the backward."""
    gru, fc = model.rnn, model.fc
    forward = 2 * (gru.input_size * 3 * gru.hidden_size + gru.hidden_size * 3 * gru.hidden_size + fc.in_features * fc.out_features)
    return 3 * forward


def full_run_target() -> float:
    """The loop's validation loss after 20,000 iterations, from the recorded full run."""
    rows = read_result(RESULTS / "char_rnn_full.json")["rows"]
    if not rows or rows[-1]["iteration"] != FULL_ITERATIONS:
        raise SystemExit(f"{RESULTS / 'char_rnn_full.json'} is incomplete: finish the --full run first")
    return rows[-1]["validation_loss"]


def target_loss(args: argparse.Namespace) -> tuple[float, list[str]]:
    """The validation loss to reach, and a note saying so when ``--target-loss`` replaced the loop's recorded one."""
    if args.target_loss is None:
        return full_run_target(), []
    return args.target_loss, [f"Trial run: the target is --target-loss {args.target_loss}, not the loop's recorded "
                              f"20,000-iteration loss {full_run_target():.4f}; the ratios are not comparable to the full benchmark."]


def run_default(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    target, trial_note = target_loss(args)
    loop_ms = loop_ms_per_iteration(train, args.loop_iterations)
    loop_total = loop_ms / 1000 * FULL_ITERATIONS
    log(f"original loop: {loop_ms:.1f} ms per iteration -> {loop_total:.0f} s for {FULL_ITERATIONS} iterations")
    recipes = (CHAPTER, FASTEST) if DEVICE.type == "cpu" else (CHAPTER,)  # the fastest recipe's levers are the CPU's
    if FASTEST in recipes:
        from fused_gru import extension

        log(f"C++ extension ready ({extension()[1]:.1f} s to build or load; not part of the training time)")
    runs = {recipe.name: time_to_target(recipe, train, valid, target) for recipe in recipes}
    fastest = runs[recipes[-1].name]
    achieved = flops_per_character(CharRNN()) * FASTEST.batch_size * FASTEST.seq_len * fastest["iterations"] / fastest["seconds"] / 1e9
    notes = [
        f"The loop's time is its measured time per iteration over {args.loop_iterations} iterations times {FULL_ITERATIONS}; "
        f"its validation loss, the target, comes from the recorded full run (char_rnn_full.json).",
        "The fast recipes stop at the first validation (every 25 iterations) at or below the target; the same model, "
        "Adam with warm-up and cosine decay, clipping at norm 1. Training time excludes the validation pauses.",
        "All versions ran in this one process.",
        *trial_note,
    ]
    if DEVICE.type == "cpu":
        peak = matmul_gflops(recipes[-1].threads)
        log(f"{recipes[-1].name}: {achieved:.1f} GFLOP/s, {100 * achieved / peak:.0f}% of a large matrix product's {peak:.0f} GFLOP/s")
        notes.insert(2, f"{recipes[-1].name.capitalize()}: {achieved:.1f} GFLOP/s of model arithmetic ({flops_per_character(CharRNN()) / 1e3:.0f} "
                        f"kFLOP per character, forward and backward), {100 * achieved / peak:.0f}% of the {peak:.0f} GFLOP/s of a "
                        f"2048 x 2048 float32 matrix product on {recipes[-1].threads} thread(s): 100 sequential time steps of (16 x 100) "
                        "by (100 x 300) products leave most of the machine idle.")

    rows = [{"version": "original loop (1 x 200 chars, the GRU stepped per character, 1 thread)", "ms_per_iteration": round(loop_ms, 2),
             "iterations": FULL_ITERATIONS, "training_seconds": round(loop_total, 1), "validation_loss": round(target, 5),
             "bits_per_char": round(bits_per_char(target), 5), "time_ratio": 1.0}]
    for recipe in recipes:
        run = runs[recipe.name]
        rows.append({"version": f"{recipe.name} ({recipe.describe()})", "ms_per_iteration": round(run["seconds"] / run["iterations"] * 1000, 2),
                     "iterations": run["iterations"], "training_seconds": round(run["seconds"], 1), "validation_loss": run["loss"],
                     "bits_per_char": round(bits_per_char(run["loss"]), 5), "time_ratio": round(loop_total / run["seconds"], 1)})
        log(f"{recipe.name}: {loop_total / run['seconds']:.1f}x less time than the loop")
    save_result(
        args, "",
        title="Character-level GRU: the original per-character loop against fast training, to the same validation loss",
        columns=VERSION_COLUMNS,
        rows=rows,
        notes=notes,
        fast_curve={"columns": CURVE_COLUMNS, "rows": runs[CHAPTER.name]["curve"]},
        fastest_curve={"columns": CURVE_COLUMNS, "rows": fastest["curve"]},
        device=DEVICE.type,
    )


LEVERS = [
    ("the chapter's recipe (baseline)", CHAPTER, True),
    ("two threads", Recipe("two threads", threads=2), True),
    ("batch 64 x 100, hotter schedule", Recipe("batch 64", batch_size=64, peak_lr=0.02, iterations=600, threads=2), True),
    ("batch 128 x 50, hotter schedule", Recipe("batch 128", batch_size=128, seq_len=50, peak_lr=0.02, iterations=800, threads=2), True),
    ("batch 256 x 50, hotter schedule", Recipe("batch 256", batch_size=256, seq_len=50, peak_lr=0.03, iterations=500, threads=2), True),
    ("shorter schedule (planned for 600 iterations)", Recipe("short schedule", iterations=600, threads=2), True),
    ("bfloat16 autocast", Recipe("bf16", bf16=True), False),
    ("bfloat16 autocast, batch 256 x 50", Recipe("bf16 256", batch_size=256, seq_len=50, threads=2, bf16=True), False),
    ("torch.compile of forward and backward", Recipe("compiled", compiled=True), False),
    ("fused Adam update", Recipe("fused Adam", fused_adam=True), False),
    ("GRU time loop in C++", Recipe("C++ loop", fused_gru=True), True),
    ("GRU time loop in C++, fused Adam, two threads (the fastest)", FASTEST, True),
]


def run_levers(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    target, trial_note = target_loss(args)
    from fused_gru import extension

    build_seconds = extension()[1]
    baseline = LEVERS[0][1]
    rows = []
    for label, recipe, to_target in LEVERS:
        # The machine's speed drifts over minutes: each lever is timed in 3 rounds, each right after
        # the baseline, and its speed is the median of the paired ratios.
        rounds, setup = [], 0.0
        for _ in range(3):
            reference = ms_per_iteration(baseline, train)
            start = time.perf_counter()
            ms = ms_per_iteration(recipe, train)
            setup = max(setup, time.perf_counter() - start - ms * 20 / 1000)
            rounds.append((ms, reference / ms))
        ms, speed = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
        run = time_to_target(recipe, train, valid, target) if to_target else None
        rows.append({
            "lever": label, "recipe": recipe.describe(), "ms_per_iteration": round(ms, 1),
            "kchars_per_second": round(recipe.batch_size * recipe.seq_len / ms, 1),
            "speed_vs_baseline": round(speed, 2),
            "time_to_target": (f"{run['seconds']:.1f} s ({run['iterations']} iterations)" if run["reached"] else
                               f"not reached in {run['iterations']} iterations") if run else "–",
            "note": f"compilation up to {setup:.0f} s, excluded" if recipe.compiled else
                    (f"C++ extension built once ({build_seconds:.0f} s to build or load here), excluded" if recipe.fused_gru else ""),
        })
        log(f"{label}: {ms:.1f} ms per iteration, {speed:.2f}x the baseline")
    save_result(
        args, "levers",
        title="Character-level GRU: every lever tried on the way to the fastest recipe, measured in one run",
        columns=LEVER_COLUMNS,
        rows=rows,
        notes=[
            "The model never changes (embedding 100, GRU 100, linear read-out); every row trains it with truncated BPTT, Adam, "
            "warm-up and cosine decay, clipping at norm 1, from the same seed. Time per iteration: median of 3 rounds of 20 "
            "iterations after 3 warm-up ones; speed vs baseline: median of the 3 ratios to the baseline timed just before each "
            "round. Time to target: training until the validation loss, checked every 25 iterations, first reaches the "
            f"loop's loss after 20,000 iterations ({target:.4f} nats/char); '–' where the per-iteration time already rules the lever out.",
            "Larger batches process more characters per second but need more characters to reach the target; bfloat16 and "
            "torch.compile leave the many small per-step operations of the GRU as they are; the C++ time loop removes most of them.",
            *trial_note,
        ],
    )


def run_full(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    random.seed(SEED)
    torch.manual_seed(SEED)
    model = CharRNN().to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    rows: list[dict] = []
    seconds, recent = 0.0, []

    def record(iteration: int) -> None:
        loss = validation_loss(model, valid)
        mean_train = round(sum(recent) / len(recent), 5) if recent else None
        rows.append({"iteration": iteration, "training_seconds": round(seconds, 2), "validation_loss": round(loss, 5),
                     "bits_per_char": round(bits_per_char(loss), 5), "mean_training_loss": mean_train})
        recent.clear()
        log(f"iteration {iteration:6d} | {seconds:8.1f} s training | validation {loss:.4f} nats/char | train {mean_train}")
        save_result(
            args, "full",
            title="Character-level GRU, the original per-character loop: validation loss during its full schedule",
            columns={**CURVE_COLUMNS, "bits_per_char": "bits per char", "mean_training_loss": "mean training loss since previous row"},
            rows=rows,
            notes=[
                "Original recipe: one random 200-character portion per iteration (Python random, seed 123), GRU stepped one "
                "character at a time, Adam lr 0.005, zero initial state; torch.manual_seed(123); one CPU thread.",
                "Validation: the last 10% of the cleaned text, read as one stream (chapter 6's validation_loss).",
                "Training time excludes the validation pauses.",
                "complete" if iteration == FULL_ITERATIONS else f"INCOMPLETE: stopped after iteration {iteration} of {FULL_ITERATIONS}",
            ],
        )

    torch.set_num_threads(1)
    record(0)
    for iteration in range(1, FULL_ITERATIONS + 1):
        start = time.perf_counter()
        recent.append(train_step_loop(model, optimizer, *random_training_pair(train, 200)))
        seconds += time.perf_counter() - start
        if iteration % args.eval_every == 0:
            record(iteration)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="train the original loop for 20,000 iterations")
    mode.add_argument("--levers", action="store_true", help="measure every lever tried on the way to the fastest recipe")
    parser.add_argument("--eval-every", type=int, default=1000, help="--full: iterations between validation measurements")
    parser.add_argument("--loop-iterations", type=int, default=200, help="iterations of the loop to time")
    parser.add_argument("--target-loss", type=float, default=None, help="a target instead of the full run's (short trial runs)")
    parser.add_argument("--output", type=Path, default=None, help="result file (default: benchmarks/results/<name>.json)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # fused_gru.py
    global DEVICE
    DEVICE = tu.get_device()
    train, valid = load_data()
    log(f"{machine_description()}")
    if args.full:
        run_full(args, train, valid)
    elif args.levers:
        run_levers(args, train, valid)
    else:
        run_default(args, train, valid)


if __name__ == "__main__":
    main(sys.argv[1:])
