"""Character-level GRU on A Tale of Two Cities: the original per-character loop against fast training.

Every contender is timed until its validation loss first reaches the same target (time to
target), validated every ``CHECK_EVERY_CHARACTERS`` (32,000) training characters on both sides:

1. the original loop, one random 200-character portion per iteration, the GRU stepped per
   character, one thread. ``--full`` trains it for all 20,000 iterations with three seeds (and
   once more given the recipe's start and schedule), two runs at a time, recording the
   validation loss every 160 iterations, in ``benchmarks/results/char_rnn_full.json`` (about 40
   minutes). Its time to a target is its first check at or below it, times its time per
   iteration measured in the default run: the median over the seeds, with the range;
2. chapter 6's fast recipe: chapter 6's ``train_fast`` (64 x 25 characters, truncated BPTT, a
   schedule of 700 iterations, the read-out's bias started at the characters' log-frequencies,
   one thread) with ``stop_at_loss``; the same recipe with the GRU stepped per character (the
   same updates, the loop's implementation); and the fastest recipe found here, with three
   options: the GRU's time loop in C++ (``fused_gru.py``), Adam's fused update, two threads.
   Each runs ``REPEATS`` (5) times, taking turns with the others; its time is the median;
3. the ratios of the loop's time to theirs at targets from 2.0 down to the loop's plateau (the
   headline), each the product of fewer characters and more characters per second; the time
   with the validations too; and every contender's arithmetic rate against a large matrix
   product's in the same run. Written to ``benchmarks/results/char_rnn.json``.

``--levers`` measures the things tried on the way to the fastest recipe, each one change away
from its baseline (fewer characters to the target: from the recipe chapter 6 used before; more
arithmetic per second: from chapter 6's recipe), and writes
``benchmarks/results/char_rnn_levers.json``. Training time always excludes the validation
pauses.

    python benchmarks/char_rnn_benchmark.py --full        # once, in the background
    python benchmarks/char_rnn_benchmark.py               # the comparison
    python benchmarks/char_rnn_benchmark.py --levers      # the levers table
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
import multiprocessing
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

import tutorial_utils as tu
from tutorial_utils.charrnn import (
    CharRNN,
    bits_per_char,
    consecutive_batch,
    cosine_lr,
    init_unigram_bias,
    random_training_pair,
    split_train_validation,
    tbptt_step,
    train_fast,
    train_step_loop,
    validation_loss,
)
from tutorial_utils.results import machine_description, read_result, write_result

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fused_gru.py, provenance.py
from provenance import code_fingerprint  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEVICE = torch.device("cpu")  # set by main() from TUTORIAL_DEVICE / CUDA availability
FULL_ITERATIONS = 20_000
SEED = 123
LOOP_SEEDS = (123, 124, 125)  # the full runs of the loop
LOOP_LR = 0.005  # the original loop's learning rate
LOOP_RECIPE_WARMUP = 20  # the loop given the recipe: its warm-up
#: characters in one iteration of the original loop: one portion of 200
LOOP_CHARACTERS_PER_ITERATION = 200
#: both sides validate every this many training characters
CHECK_EVERY_CHARACTERS = 32_000
FULL_EVAL_EVERY = CHECK_EVERY_CHARACTERS // LOOP_CHARACTERS_PER_ITERATION  # the loop's: 160 iterations
LOOP_TIMING_ITERATIONS = 100  # iterations of the loop per timing in the default run (--loop-iterations)
REPEATS = 5  # timings of every fast recipe and of the loop, and of the matrix product; the medians count


@dataclass(frozen=True)
class Recipe:
    """A way of training chapter 6's model with ``train_fast``; the model itself never changes.

    The defaults are chapter 6's recipe."""

    name: str
    batch_size: int = 64
    seq_len: int = 25
    peak_lr: float = 0.01
    iterations: int = 700  # the length the schedule is planned for; training stops at the target
    warmup: int = 20
    clip_norm: float = 1.0
    unigram_bias: bool = True  # the read-out's bias starts at the log-frequencies of the characters
    threads: int = 1
    fused_gru: bool = False
    fused_adam: bool = False
    bf16: bool = False
    compiled: bool = False
    per_character: bool = False  # the GRU called once per character while training, as the original loop does

    @property
    def characters_per_iteration(self) -> int:
        return self.batch_size * self.seq_len

    @property
    def eval_every(self) -> int:
        """Iterations between validations: every ``CHECK_EVERY_CHARACTERS`` training characters, as the loop."""
        if CHECK_EVERY_CHARACTERS % self.characters_per_iteration:
            raise ValueError(f"{self.name}: {self.characters_per_iteration} characters per iteration do not divide "
                             f"CHECK_EVERY_CHARACTERS ({CHECK_EVERY_CHARACTERS}); choose a batch shape that does")
        return CHECK_EVERY_CHARACTERS // self.characters_per_iteration

    def describe(self) -> str:
        extras = [label for flag, label in ((self.unigram_bias, "unigram bias"), (self.fused_gru, "GRU time loop in C++"),
                                            (self.per_character, "GRU stepped per character in Python"),
                                            (self.fused_adam, "fused Adam"), (self.bf16, "bfloat16 autocast"),
                                            (self.compiled, "torch.compile")) if flag]
        return (f"{self.batch_size} x {self.seq_len} chars, peak lr {self.peak_lr}, warm-up {self.warmup}, "
                f"schedule {self.iterations}, clip {self.clip_norm:g}, {self.threads} thread(s)"
                + "".join(f", {e}" for e in extras))


CHAPTER = Recipe("chapter 6's fast recipe")
FASTEST = dataclasses.replace(CHAPTER, name="fastest recipe", threads=2, fused_gru=True, fused_adam=True)
#: chapter 6's recipe with the GRU stepped per character: the same updates, the loop's implementation
PER_CHARACTER = dataclasses.replace(CHAPTER, name="chapter 6's recipe, stepped per character", per_character=True)
#: the recipe chapter 6 used before the levers that cut the characters to the target
EARLIER = Recipe("the earlier recipe", batch_size=16, seq_len=100, iterations=1500, unigram_bias=False)


#: the columns of a validation-loss curve
CURVE_COLUMNS = {"iteration": "iteration", "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)"}

#: the columns of the default run's table: one row per way of training, each timed to the headline target
VERSION_COLUMNS = {"version": "version", "stepping": "GRU stepped", "ms_per_iteration": "time per iteration (ms)",
                   "iterations": "iterations to the target",
                   "characters_to_target": "characters to the target (millions)",
                   "characters_per_second": "characters per second (thousands)",
                   "training_seconds": "time to the target (s), median", "training_seconds_min": "fastest (s)",
                   "training_seconds_max": "slowest (s)", "repeats": "runs (the loop: seeds; the others: repeats)",
                   "wall_seconds": "time with the validations (s)",
                   "validation_loss": "validation loss there (nats/char)",
                   "bits_per_char": "bits per char", "gflops": "GFLOP/s", "percent_of_matmul": "% of a matrix product's rate",
                   "time_ratio": "loop's time / this one's"}
#: the columns of the default run's second table: one row per target
TARGET_COLUMNS = {"target": "target (nats/char)", "meaning": "the target is", "loop_iteration": "loop: first check at or below",
                  "loop_seconds": "loop (s)", "loop_seconds_min": "loop, fastest seed (s)",
                  "loop_seconds_max": "loop, slowest seed (s)", "chapter_seconds": "chapter's recipe (s)",
                  "chapter_ratio": "loop / chapter's recipe",
                  "fastest_seconds": "fastest recipe (s)", "fastest_ratio": "loop / fastest"}
#: the round targets of the table, above the loop's plateau
ROUND_TARGETS = (2.0, 1.9, 1.8, 1.75, 1.7, 1.68, 1.66)
#: the columns of the levers table: one row per lever
LEVER_COLUMNS = {"lever": "lever (one change from the baseline)", "baseline": "baseline", "recipe": "recipe",
                 "ms_per_iteration": "time per iteration (ms)",
                 "kchars_per_second": "thousand characters per second", "speed_vs_baseline": "speed vs baseline",
                 "gflops": "GFLOP/s", "percent_of_matmul": "% of a matrix product's rate",
                 "iterations_to_target": "iterations to the target",
                 "characters_to_target": "characters to the target (millions)", "seconds_to_target": "time to the target (s)",
                 "note": "note"}


def save_result(args: argparse.Namespace, mode: str, **fields: Any) -> None:
    """Write the result of one mode ("" for the default run) to ``--output`` or its file in benchmarks/results."""
    name = f"char_rnn_{mode}" if mode else "char_rnn"
    command = "python benchmarks/char_rnn_benchmark.py" + (f" --{mode}" if mode else "")
    write_result(args.output or RESULTS / f"{name}.json", benchmark=name, command=command,
                 code_fingerprint=code_fingerprint(name), **fields)


def log(message: str) -> None:
    print(message, flush=True)


def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    encoded = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
    train, valid = split_train_validation(encoded, 0.1)
    return train.to(DEVICE), valid.to(DEVICE)


class TrainingAutocast(torch.nn.Module):
    """A model whose forward pass runs under bfloat16 autocast while training; validation stays in float32."""

    def __init__(self, model: CharRNN) -> None:
        super().__init__()
        self.model = model

    def init_hidden(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.model.init_hidden(*args, **kwargs)

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(DEVICE.type, dtype=torch.bfloat16, enabled=self.training):
            logits, hidden = self.model(inputs, hidden)
        return logits.float(), hidden.float()


class PerCharacterGRU(torch.nn.Module):
    """The same ``nn.GRU`` called once per character while training, as the original loop calls it;
    validation calls it once per chunk (the same function, computed faster)."""

    def __init__(self, gru: torch.nn.GRU) -> None:
        super().__init__()
        self.gru = gru

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.training:
            return self.gru(inputs, hidden)
        outputs = []
        for step in range(inputs.shape[1]):
            output, hidden = self.gru(inputs[:, step : step + 1], hidden)
            outputs.append(output)
        return torch.cat(outputs, dim=1), hidden


def make_model(recipe: Recipe, train: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(SEED)
    model = CharRNN()
    if recipe.unigram_bias:
        init_unigram_bias(model, train)
    if recipe.fused_gru:
        from fused_gru import FusedGRU

        model.rnn = FusedGRU(model.rnn)
    if recipe.per_character:
        model.rnn = PerCharacterGRU(model.rnn)
    model = model.to(DEVICE)
    if recipe.bf16:
        model = TrainingAutocast(model)
    return torch.compile(model) if recipe.compiled else model


def make_optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    return torch.optim.Adam(model.parameters(), lr=recipe.peak_lr, fused=recipe.fused_adam or None)


def first_crossing(curve: list[dict], target: float) -> dict | None:
    """The first row of a validation curve at or below ``target``, or None."""
    return next((row for row in curve if row["validation_loss"] <= target), None)


def time_to_target(recipe: Recipe, train: torch.Tensor, valid: torch.Tensor, target: float) -> dict:
    """Chapter 6's ``train_fast`` with the recipe's options, until the validation loss first reaches ``target``."""
    torch.set_num_threads(recipe.threads)
    model = make_model(recipe, train)
    history = train_fast(model, train, recipe.iterations, batch_size=recipe.batch_size, seq_len=recipe.seq_len,
                         peak_lr=recipe.peak_lr, warmup=recipe.warmup, clip_norm=recipe.clip_norm, valid_data=valid,
                         eval_every=recipe.eval_every, stop_at_loss=target, optimizer=make_optimizer(model, recipe))
    curve = [{"iteration": i, "training_seconds": round(s, 2), "validation_loss": round(v, 5)}
             for i, s, v in zip(history.iterations, history.seconds, history.validation)]
    reached = first_crossing(curve, target)
    log(f"{recipe.name} ({recipe.describe()}): " + (f"reached {target:.4f} after {reached['iteration']} iterations, "
        f"{reached['training_seconds']:.1f} s of training" if reached else f"DID NOT reach {target:.4f} in {recipe.iterations} iterations"))
    return {"reached": reached, "curve": curve}


def ms_per_iteration(recipe: Recipe, train: torch.Tensor, count: int = 20) -> float:
    """Time per ``tbptt_step`` iteration after a few warm-up iterations (compilation excluded)."""
    torch.set_num_threads(recipe.threads)
    model = make_model(recipe, train)
    optimizer = make_optimizer(model, recipe)
    hidden = None
    for iteration in range(count + 3):
        if iteration == 3:
            tu.synchronize(DEVICE)
            start = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(train, recipe.batch_size, recipe.seq_len, iteration)
        _, hidden = tbptt_step(model, optimizer, inputs, targets, None if fresh else hidden, recipe.peak_lr, recipe.clip_norm)
    tu.synchronize(DEVICE)
    return (time.perf_counter() - start) / count * 1000


def loop_ms_per_iteration(train: torch.Tensor, iterations: int, with_recipe: bool = False) -> float:
    """The original per-character loop's time per iteration (one thread, after a short warm-up);
    ``with_recipe``: with the unigram bias and a learning rate set before every step, as ``loop_run``."""
    torch.set_num_threads(1)
    random.seed(SEED)
    torch.manual_seed(SEED)
    model = CharRNN().to(DEVICE)
    if with_recipe:
        init_unigram_bias(model, train)
    optimizer = torch.optim.Adam(model.parameters(), lr=LOOP_LR)
    for _ in range(5):
        train_step_loop(model, optimizer, *random_training_pair(train, LOOP_CHARACTERS_PER_ITERATION))
    tu.synchronize(DEVICE)
    start = time.perf_counter()
    for iteration in range(iterations):
        if with_recipe:
            lr = cosine_lr(iteration, FULL_ITERATIONS, LOOP_LR, LOOP_RECIPE_WARMUP)
            for group in optimizer.param_groups:
                group["lr"] = lr
        train_step_loop(model, optimizer, *random_training_pair(train, LOOP_CHARACTERS_PER_ITERATION))
    tu.synchronize(DEVICE)
    return (time.perf_counter() - start) / iterations * 1000


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 10, rows: int | None = None) -> float:
    """The arithmetic rate of a float32 matrix product: ``size`` x ``size`` squared by default (what this
    machine's CPU threads can do), or (``rows`` x 100) by (100 x 300), one recurrent step's product."""
    torch.set_num_threads(threads)
    if rows is not None:
        a, b, repeats = torch.randn(rows, 100), torch.randn(100, 300), 2000
    else:
        a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] * repeats / (time.perf_counter() - start) / 1e9


def reference_rates(thread_counts: set[int]) -> dict[int, float]:
    """The rate protocol's reference: the median of ``REPEATS`` large matrix products per thread count."""
    return {threads: statistics.median(matmul_gflops(threads) for _ in range(REPEATS)) for threads in sorted(thread_counts)}


def arithmetic_rate(characters_per_second: float, seq_len: int, threads: int, reference: dict[int, float]) -> dict[str, float]:
    """The rate protocol: the model's FLOP per character times the characters per second of the median
    of ``REPEATS`` timings, against the reference product on as many threads, measured in the same run."""
    gflops = flops_per_character(CharRNN(), seq_len) * characters_per_second / 1e9
    return {"gflops": round(gflops, 1), "percent_of_matmul": round(100 * gflops / reference[threads], 1)}


def flops_per_character(model: CharRNN, seq_len: int) -> float:
    """FLOP of one character's forward and backward pass over sequences of ``seq_len``: the GRU's and the
    read-out's products, 2 per multiply-add, three times (forward; gradients of the inputs and of the
    weights), less the gradient into a sequence's initial state, which needs none (zero, or detached)."""
    gru, fc = model.rnn, model.fc
    recurrent = 2 * gru.hidden_size * 3 * gru.hidden_size
    forward = 2 * gru.input_size * 3 * gru.hidden_size + recurrent + 2 * fc.in_features * fc.out_features
    return 3 * forward - recurrent / seq_len


def validation_seconds(recipe: Recipe, train: torch.Tensor, valid: torch.Tensor) -> float:
    """One validation pass of the recipe's model on its threads."""
    torch.set_num_threads(recipe.threads)
    model = make_model(recipe, train)
    start = time.perf_counter()
    validation_loss(model, valid)
    return time.perf_counter() - start


def loop_curves() -> dict[int, list[dict]]:
    """The loop's recorded full runs, one validation curve per seed, each ending at iteration 20,000."""
    full = read_result(RESULTS / "char_rnn_full.json")
    curves = {seed: [row for row in full["rows"] if row["seed"] == seed] for seed in LOOP_SEEDS}
    curves[-1] = full["loop_with_recipe"]["rows"]  # the loop given the recipe's start and schedule
    for seed, curve in curves.items():
        if not curve or curve[-1]["iteration"] != FULL_ITERATIONS:
            raise SystemExit(f"{RESULTS / 'char_rnn_full.json'} is incomplete for seed {seed}: finish the --full run first")
    return curves


def headline_target(curves: dict[int, list[dict]]) -> float:
    """The loop's plateau: the highest of its seeds' medians of their last five checks, rounded up to 0.01.

    Every seed's curve has at least three of its last five checks at or below it, so every seed reaches it."""
    plateau = max(statistics.median(row["validation_loss"] for row in curves[seed][-5:]) for seed in LOOP_SEEDS)
    return math.ceil(round(plateau * 100, 6)) / 100


def loop_targets(curves: dict[int, list[dict]]) -> list[tuple[float, str]]:
    """The targets, from 2.0 down to the headline: round values above the plateau, then the plateau."""
    headline = headline_target(curves)
    return [*((target, "a round value above the loop's plateau") for target in ROUND_TARGETS if target > headline),
            (headline, "the loop's plateau (the headline): every seed's median of its last five checks, at most, "
                       "rounded up to 0.01")]


def targets_for(args: argparse.Namespace) -> tuple[list[tuple[float, str]], list[str]]:
    """The targets to reach, the headline last, and a note saying so when ``--target-loss`` replaced the loop's."""
    if args.target_loss is None:
        return loop_targets(loop_curves()), []
    return [(args.target_loss, "--target-loss")], [
        f"Trial run: the target is --target-loss {args.target_loss}, not the loop's plateau; "
        "the ratios are not comparable to the full benchmark."]


def crossing_summary(crossings: list[dict | None], characters_per_iteration: int) -> dict[str, Any] | None:
    """The median (with the range) of several runs' first crossings of one target; None if one never got there."""
    if not crossings or None in crossings:
        return None
    seconds = [row["training_seconds"] for row in crossings]
    middle = sorted(crossings, key=lambda row: row["training_seconds"])[(len(crossings) - 1) // 2]
    iteration = statistics.median_low(row["iteration"] for row in crossings)
    median_seconds = statistics.median(seconds)
    return {"iterations": iteration, "characters_to_target": round(iteration * characters_per_iteration / 1e6, 4),
            "characters_per_second": round(iteration * characters_per_iteration / median_seconds / 1e3, 2),
            "training_seconds": round(median_seconds, 2), "training_seconds_min": round(min(seconds), 2),
            "training_seconds_max": round(max(seconds), 2), "repeats": len(crossings),
            "wall_seconds": round(statistics.median(row["wall_seconds"] for row in crossings), 1),
            "validation_loss": middle["validation_loss"], "bits_per_char": round(bits_per_char(middle["validation_loss"]), 5)}


def crossing(curve: list[dict], target: float, seconds_per_iteration: float | None, validation_pass: float) -> dict | None:
    """One run's first check at or below ``target``: its training time (from ``seconds_per_iteration`` when
    given, else the curve's clock) and its time with the validations, one pass per check up to that one."""
    row = first_crossing(curve, target)
    if row is None:
        return None
    seconds = row["iteration"] * seconds_per_iteration if seconds_per_iteration else row["training_seconds"]
    return {"iteration": row["iteration"], "training_seconds": seconds, "validation_loss": row["validation_loss"],
            "wall_seconds": seconds + (curve.index(row) + 1) * validation_pass}


def run_default(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    targets, trial_note = targets_for(args)
    curves = loop_curves()
    recipes = (PER_CHARACTER, CHAPTER, FASTEST) if DEVICE.type == "cpu" else (PER_CHARACTER, CHAPTER)
    if FASTEST in recipes:
        from fused_gru import extension

        log(f"C++ extension ready ({extension()[1]:.1f} s to build or load; not part of the training time)")
    reference = reference_rates({1} | {recipe.threads for recipe in recipes})
    log("matrix product: " + ", ".join(f"{gflops:.0f} GFLOP/s on {t} thread(s)" for t, gflops in reference.items()))
    # The machine's speed drifts over minutes: the contenders take turns, REPEATS rounds of each.
    loop_ms: dict[bool, list[float]] = {False: [], True: []}
    fast_ms: dict[str, list[float]] = {recipe.name: [] for recipe in recipes}
    runs: dict[str, list[dict]] = {recipe.name: [] for recipe in recipes}
    lowest = min(target for target, _ in targets)
    passes: dict[str, list[float]] = {recipe.name: [] for recipe in recipes}
    for round_ in range(REPEATS):
        for with_recipe in (False, True):
            loop_ms[with_recipe].append(loop_ms_per_iteration(train, args.loop_iterations, with_recipe))
        for recipe in recipes:
            passes[recipe.name].append(validation_seconds(recipe, train, valid))
            fast_ms[recipe.name].append(ms_per_iteration(recipe, train))
            runs[recipe.name].append(time_to_target(recipe, train, valid, lowest))
        log(f"round {round_ + 1} of {REPEATS}: loop {loop_ms[False][-1]:.1f} ms per iteration")
    validation = {name: statistics.median(seconds) for name, seconds in passes.items()}
    loop_validation = validation[CHAPTER.name]  # the same model, thread and text as the chapter's recipe's
    loop_seconds = {with_recipe: statistics.median(times) / 1000 for with_recipe, times in loop_ms.items()}

    def loop_at(target: float, seeds: tuple[int, ...] = LOOP_SEEDS, with_recipe: bool = False) -> dict | None:
        return crossing_summary([crossing(curves[seed], target, loop_seconds[with_recipe], loop_validation)
                                 for seed in seeds], LOOP_CHARACTERS_PER_ITERATION)

    def fast_at(target: float, recipe: Recipe) -> dict | None:
        return crossing_summary([crossing(run["curve"], target, None, validation[recipe.name]) for run in runs[recipe.name]],
                                recipe.characters_per_iteration)

    def ratio(loop: dict | None, fast: dict | None) -> float | None:
        return round(loop["training_seconds"] / fast["training_seconds"], 1) if loop and fast else None

    target_rows = []
    for target, meaning in targets:
        loop = loop_at(target)
        chapter, fastest = fast_at(target, CHAPTER), FASTEST in recipes and fast_at(target, FASTEST) or None
        target_rows.append({"target": target, "meaning": meaning, "loop_iteration": loop and loop["iterations"],
                            "loop_seconds": loop and loop["training_seconds"],
                            "loop_seconds_min": loop and loop["training_seconds_min"],
                            "loop_seconds_max": loop and loop["training_seconds_max"],
                            "chapter_seconds": chapter and chapter["training_seconds"], "chapter_ratio": ratio(loop, chapter),
                            "fastest_seconds": fastest and fastest["training_seconds"], "fastest_ratio": ratio(loop, fastest)})
        log(f"target {target:.5f}: loop {loop and loop['training_seconds']} s; "
            f"chapter's recipe {ratio(loop, chapter)}x, fastest {ratio(loop, fastest)}x")

    headline, _ = targets[-1]
    loop = loop_at(headline)
    contenders = [
        ("original loop (1 x 200 chars, constant lr 0.005, 1 thread)", "per-character", loop, 1, loop_seconds[False],
         LOOP_CHARACTERS_PER_ITERATION),
        (f"original loop with the recipe's start and schedule (unigram bias, {LOOP_RECIPE_WARMUP}-iteration warm-up, "
         f"cosine over {FULL_ITERATIONS:,}; seed {SEED})", "per-character", loop_at(headline, (-1,), True), 1,
         loop_seconds[True], LOOP_CHARACTERS_PER_ITERATION),
        *((f"{recipe.name} ({recipe.describe()})", "per-character" if recipe.per_character else "per-chunk",
           fast_at(headline, recipe), recipe.threads, statistics.median(fast_ms[recipe.name]) / 1000 / recipe.characters_per_iteration
           * LOOP_CHARACTERS_PER_ITERATION, recipe.seq_len) for recipe in recipes),
    ]
    rows = []
    for version, stepping, reached, threads, seconds_per_200, seq_len in contenders:
        empty = dict.fromkeys(["iterations", "characters_to_target", "characters_per_second", "training_seconds",
                               "training_seconds_min", "training_seconds_max", "repeats", "wall_seconds",
                               "validation_loss", "bits_per_char"])
        rate = arithmetic_rate(LOOP_CHARACTERS_PER_ITERATION / seconds_per_200, seq_len, threads, reference)
        ms = reached and round(reached["training_seconds"] / reached["iterations"] * 1000, 2)
        rows.append({"version": version, "stepping": stepping, "ms_per_iteration": ms, **(reached or empty), **rate,
                     "time_ratio": ratio(loop, reached)})
    step = statistics.median(matmul_gflops(1, rows=CHAPTER.batch_size) for _ in range(REPEATS))
    notes = [
        f"Time to target on both sides, validated every {CHECK_EVERY_CHARACTERS:,} training characters on both: the loop "
        f"every {FULL_EVAL_EVERY} iterations of its recorded full runs (char_rnn_full.json, seeds "
        f"{', '.join(map(str, LOOP_SEEDS))}), the fast recipes every {CHAPTER.eval_every} iterations of chapter 6's "
        "train_fast with stop_at_loss. A run's time to a target is its first check at or below it; the loop's is that "
        "iteration times its time per iteration measured here, the median of its seeds' (with the fastest and slowest); "
        f"the fast recipes' is the median of {REPEATS} repeats of the same run (with the fastest and slowest).",
        f"The headline target is the loop's plateau: the highest of its {len(LOOP_SEEDS)} seeds' medians of their last five "
        "checks, rounded up to 0.01, a loss every seed reaches at least three times in its last five checks. A median "
        "of the last checks does not move with one check's noise, as one seed's final check does; the table gives the "
        "ratios at round targets above it too.",
        "A row's time per iteration and characters per second come from its runs to the target; its GFLOP/s from the "
        "short timings of the rate protocol below, so the two need not agree.",
        "Each time ratio is the product of two factors, both in the table: the loop's characters to the target over this "
        "version's (the recipe) times this version's characters per second over the loop's (the implementation). "
        + "; ".join(f"{row['version'].split(' (')[0]}: {rows[0]['characters_to_target'] / row['characters_to_target']:.2f}x "
                    f"fewer characters x {row['characters_per_second'] / rows[0]['characters_per_second']:.1f}x more "
                    f"characters per second = {row['time_ratio']:.1f}x" for row in rows[1:] if row["time_ratio"])
        + ". The ratios are properties of this machine.",
        "Training time excludes the validation pauses; wall_seconds adds one validation pass per check up to and "
        "including the crossing (checks at the same spacing in characters on both sides), a pass timed here for each "
        f"recipe's model and threads (the median of {REPEATS}, one in each round): "
        + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in validation.items())
        + "; the loop's pass is the chapter's recipe's (the same model, text and thread).",
        f"Arithmetic rate: {flops_per_character(CharRNN(), CHAPTER.seq_len) / 1e3:.1f} kFLOP per character (forward and "
        f"backward, chunks of {CHAPTER.seq_len}; the loop's 200: {flops_per_character(CharRNN(), 200) / 1e3:.1f}) times "
        f"the characters per second of the median of {REPEATS} short timings (20 tbptt_step iterations each; the loop: "
        f"{args.loop_iterations} iterations), against the median of {REPEATS} 2048 x 2048 float32 matrix products on as "
        "many threads in this run (matmul_gflops). One recurrent step's (64 x 100) by (100 x 300) product alone runs at "
        f"{step:.0f} GFLOP/s on one thread here.",
        "The contenders took turns in this one process, one round of each after another; the loop's crossings come from "
        "its full runs.",
        *trial_note,
    ]
    def time_at_lowest(run: dict) -> float:
        reached = first_crossing(run["curve"], lowest)
        return reached["training_seconds"] if reached else math.inf

    median_run = {recipe.name: sorted(runs[recipe.name], key=time_at_lowest)[(REPEATS - 1) // 2]["curve"]
                  for recipe in recipes}
    save_result(
        args, "",
        title="Character-level GRU: the original per-character loop against fast training, each timed to the same validation loss",
        columns=VERSION_COLUMNS,
        rows=rows,
        notes=notes,
        tables=[{"title": "Time to target, from 2.0 down to the loop's plateau", "columns": TARGET_COLUMNS,
                 "rows": target_rows}],
        fast_curve={"columns": CURVE_COLUMNS, "rows": median_run[CHAPTER.name]},
        **({"fastest_curve": {"columns": CURVE_COLUMNS, "rows": median_run[FASTEST.name]}} if FASTEST in recipes else {}),
        per_character_curve={"columns": CURVE_COLUMNS, "rows": median_run[PER_CHARACTER.name]},
        headline_target=headline,
        check_every_characters=CHECK_EVERY_CHARACTERS,
        loop_ms_per_iteration=round(loop_seconds[False] * 1000, 2),
        matmul_gflops={str(t): round(g, 1) for t, g in reference.items()},
        validation_seconds={name: round(seconds, 3) for name, seconds in validation.items()},
        device=DEVICE.type,
        **provenance_fields(valid, threads={"loop": 1, **{recipe.name: recipe.threads for recipe in recipes}}),
    )


def lever(label: str, baseline: Recipe, **change: Any) -> tuple[str, Recipe, Recipe]:
    """A row of the levers table: ``baseline`` with one change."""
    return label, dataclasses.replace(baseline, name=label, **change), baseline


#: Fewer characters to the target, each one change from the earlier recipe; then more arithmetic
#: per second, each one change from chapter 6's recipe (which combines three of the first group).
LEVERS = [
    ("the earlier recipe (baseline)", EARLIER, EARLIER),
    lever("schedule planned for 700 iterations", EARLIER, iterations=700),
    lever("schedule planned for 400 iterations", EARLIER, iterations=400),
    lever("read-out bias at the unigram log-frequencies", EARLIER, unigram_bias=True),
    lever("batch 64 x 25 characters", EARLIER, batch_size=64, seq_len=25),
    lever("batch 32 x 50 characters", EARLIER, batch_size=32, seq_len=50),
    lever("batch 64 x 100 characters", EARLIER, batch_size=64),
    lever("peak learning rate 0.02", EARLIER, peak_lr=0.02),
    lever("warm-up of 100 iterations", EARLIER, warmup=100),
    lever("clipping at norm 5", EARLIER, clip_norm=5.0),
    ("chapter 6's recipe: unigram bias + 64 x 25 + schedule 700", CHAPTER, EARLIER),
    lever("two threads", CHAPTER, threads=2),
    lever("batch 128 x 25 characters", CHAPTER, batch_size=128),
    lever("bfloat16 autocast", CHAPTER, bf16=True),
    lever("torch.compile of the model", CHAPTER, compiled=True),
    lever("fused Adam update", CHAPTER, fused_adam=True),
    lever("GRU time loop in C++", CHAPTER, fused_gru=True),
    ("the fastest recipe: C++ time loop + fused Adam + two threads", FASTEST, CHAPTER),
]


def run_levers(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    targets, trial_note = targets_for(args)
    target = targets[-1][0]  # the headline target: the loop's plateau
    from fused_gru import extension

    build_seconds = extension()[1]
    peak = reference_rates({r.threads for _, r, _ in LEVERS})
    log("matrix product: " + ", ".join(f"{gflops:.0f} GFLOP/s on {t} thread(s)" for t, gflops in peak.items()))
    flops = flops_per_character(CharRNN(), CHAPTER.seq_len)
    names = {EARLIER: "the earlier recipe", CHAPTER: "chapter 6's recipe"}
    rows = []
    for label, recipe, baseline in LEVERS:
        # The machine's speed drifts over minutes: each lever is timed in REPEATS rounds, each right
        # after its baseline, and its speed is the median of the paired ratios.
        rounds, setup = [], 0.0
        for _ in range(REPEATS):
            reference = ms_per_iteration(baseline, train) / (baseline.batch_size * baseline.seq_len)
            start = time.perf_counter()
            ms = ms_per_iteration(recipe, train)
            setup = max(setup, time.perf_counter() - start - ms * 20 / 1000)
            rounds.append((ms, reference * recipe.batch_size * recipe.seq_len / ms))
        ms, speed = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
        reached = time_to_target(recipe, train, valid, target)["reached"]
        chars_per_second = recipe.batch_size * recipe.seq_len / ms * 1000
        rows.append({
            "lever": label, "baseline": names[baseline], "recipe": recipe.describe(), "ms_per_iteration": round(ms, 1),
            "kchars_per_second": round(chars_per_second / 1000, 1),
            "speed_vs_baseline": round(speed, 2),
            **arithmetic_rate(chars_per_second, recipe.seq_len, recipe.threads, peak),
            "iterations_to_target": reached["iteration"] if reached else None,
            "characters_to_target": round(reached["iteration"] * recipe.batch_size * recipe.seq_len / 1e6, 2) if reached else None,
            "seconds_to_target": reached["training_seconds"] if reached else None,
            "note": "; ".join(note for note, applies in (
                (f"did not reach the target in its {recipe.iterations} iterations", not reached),
                (f"compilation up to {setup:.0f} s, excluded", recipe.compiled),
                (f"C++ extension built once ({build_seconds:.0f} s to build or load here), excluded", recipe.fused_gru)) if applies),
        })
        log(f"{label}: {ms:.1f} ms per iteration, {speed:.2f}x the baseline's characters per second, "
            f"to target: {rows[-1]['characters_to_target']} M chars, {rows[-1]['seconds_to_target']} s")
    save_result(
        args, "levers",
        title="Character-level GRU: every lever tried on the way to the fastest recipe, one change at a time, measured in one run",
        columns=LEVER_COLUMNS,
        rows=rows,
        notes=[
            "The model never changes (embedding 100, GRU 100, linear read-out). The first rows change one thing in the "
            "recipe chapter 6 used before (16 x 100 characters of truncated BPTT, Adam peaking at 0.01 with a 20-iteration "
            "warm-up and cosine decay planned for 1,500 iterations, clipping at norm 1, default initialisation, one thread, "
            "the same seed), to need fewer characters to the target. Chapter 6's recipe combines three of them; the rows "
            "after it change one thing in chapter 6's recipe, to compute faster; the last row combines three of those.",
            f"Time per iteration: median of {REPEATS} rounds of 20 tbptt_step iterations after 3 warm-up ones; speed vs "
            "baseline: characters per second against the baseline's, timed just before each round, median of the "
            f"{REPEATS} ratios. Arithmetic rate, the protocol of char_rnn.json: the FLOP per character at the lever's "
            f"chunk length ({flops / 1e3:.1f} kFLOP at 25, forward and backward) times the characters per second of the median time per iteration, against the median "
            f"of {REPEATS} 2048 x 2048 float32 matrix products on as many threads in this run ("
            + ", ".join(f"{gflops:.0f} GFLOP/s on {t}" for t, gflops in peak.items()) + "). "
            "Time to the target: chapter 6's train_fast until the validation loss, checked every "
            f"{CHECK_EVERY_CHARACTERS:,} training characters, first reaches the loop's plateau ({target:.2f} nats/char, "
            "the headline target of char_rnn.json), the validation pauses excluded; one run per lever.",
            *trial_note,
        ],
        matmul_gflops={str(t): round(g, 1) for t, g in peak.items()},
        **provenance_fields(valid, threads={"per_lever": "its recipe's thread(s)"}),
    )


def loop_run(seed: int, with_recipe: bool, eval_every: int) -> list[dict]:
    """The original loop for ``FULL_ITERATIONS`` iterations on one thread, validated every ``eval_every``.

    ``with_recipe``: the same loop given the recipe's start and schedule, the read-out's bias at the
    characters' log-frequencies and the learning rate warmed up over ``LOOP_RECIPE_WARMUP`` iterations,
    then cosine-decayed over the whole schedule, from the loop's own 0.005."""
    torch.set_num_threads(1)
    train, valid = load_data()
    random.seed(seed)
    torch.manual_seed(seed)
    model = CharRNN().to(DEVICE)
    if with_recipe:
        init_unigram_bias(model, train)
    optimizer = torch.optim.Adam(model.parameters(), lr=LOOP_LR)
    rows: list[dict] = []
    seconds, recent = 0.0, []

    def record(iteration: int) -> None:
        loss = validation_loss(model, valid)
        mean_train = round(sum(recent) / len(recent), 5) if recent else None
        rows.append({"seed": seed, "iteration": iteration, "training_seconds": round(seconds, 2),
                     "validation_loss": round(loss, 5), "bits_per_char": round(bits_per_char(loss), 5),
                     "mean_training_loss": mean_train})
        recent.clear()
        if iteration % (10 * eval_every) == 0:
            log(f"{'recipe ' if with_recipe else ''}seed {seed} | iteration {iteration:6d} | {seconds:7.1f} s training"
                f" | validation {loss:.4f} nats/char | train {mean_train}")

    record(0)
    for iteration in range(1, FULL_ITERATIONS + 1):
        start = time.perf_counter()
        if with_recipe:
            lr = cosine_lr(iteration - 1, FULL_ITERATIONS, LOOP_LR, LOOP_RECIPE_WARMUP)
            for group in optimizer.param_groups:
                group["lr"] = lr
        recent.append(train_step_loop(model, optimizer, *random_training_pair(train, LOOP_CHARACTERS_PER_ITERATION)))
        seconds += time.perf_counter() - start
        if iteration % eval_every == 0:
            record(iteration)
    return rows


def run_full(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    jobs = [(seed, False, args.eval_every) for seed in LOOP_SEEDS] + [(SEED, True, args.eval_every)]
    # Each run is one thread and its losses do not depend on the clock: run them side by side.
    with multiprocessing.get_context("spawn").Pool(min(args.jobs, len(jobs))) as pool:
        curves = pool.starmap(loop_run, jobs)
    columns = {"seed": "seed", **CURVE_COLUMNS, "bits_per_char": "bits per char",
               "mean_training_loss": "mean training loss since previous row"}
    save_result(
        args, "full",
        title="Character-level GRU, the original per-character loop: validation loss during its full schedule, three seeds",
        columns=columns,
        rows=[row for curve in curves[:-1] for row in curve],
        notes=[
            f"Original recipe: one random {LOOP_CHARACTERS_PER_ITERATION}-character portion per iteration (Python random, "
            f"seeded), GRU stepped one character at a time, Adam lr {LOOP_LR}, zero initial state; random.seed and "
            f"torch.manual_seed set to the row's seed ({', '.join(map(str, LOOP_SEEDS))}); one CPU thread.",
            f"A validation every {args.eval_every} iterations ({args.eval_every * LOOP_CHARACTERS_PER_ITERATION:,} "
            "characters): the last 10% of the cleaned text, read as one stream (chapter 6's validation_loss).",
            f"Training time excludes the validation pauses; {min(args.jobs, len(jobs))} runs shared the machine at a time, "
            "so it is slower than the loop alone (the default run times the loop on its own).",
            f"loop_with_recipe: seed {SEED} given the read-out's unigram bias and a schedule planned for its "
            f"{FULL_ITERATIONS:,} iterations ({LOOP_RECIPE_WARMUP}-iteration warm-up to lr {LOOP_LR}, cosine decay to 5%).",
        ],
        loop_with_recipe={"columns": columns, "rows": curves[-1]},
        **provenance_fields(valid, threads={"per_run": 1, "runs_at_once": min(args.jobs, len(jobs))}),
    )


def provenance_fields(valid: torch.Tensor, threads: dict[str, Any]) -> dict[str, Any]:
    """What a result file records of its data and threads: the validation text's length and hash."""
    text = tu.tensor_to_text(valid.cpu())
    return {"validation_characters": len(text), "validation_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "threads": {**threads, "cpu_count": os.cpu_count()}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="train the original loop for 20,000 iterations")
    mode.add_argument("--levers", action="store_true", help="measure every lever tried on the way to the fastest recipe")
    parser.add_argument("--eval-every", type=int, default=FULL_EVAL_EVERY, help="--full: iterations between validation measurements")
    parser.add_argument("--jobs", type=int, default=2, help="--full: runs at once, one thread each")
    parser.add_argument("--loop-iterations", type=int, default=LOOP_TIMING_ITERATIONS, help="iterations of the loop to time")
    parser.add_argument("--target-loss", type=float, default=None, help="a target instead of the full run's (short trial runs)")
    parser.add_argument("--output", type=Path, default=None, help="result file (default: benchmarks/results/<name>.json)")
    args = parser.parse_args(argv)
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
