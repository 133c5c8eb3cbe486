"""Character-level GRU on A Tale of Two Cities: the original per-character loop against fast training.

Every contender is timed until its validation loss first reaches the same target (time to
target), side by side in one process:

1. the original loop's time per iteration over ``--loop-iterations`` iterations (one CPU thread,
   its fastest setting). Its time to a target is the first iteration of its recorded full run
   (``benchmarks/results/char_rnn_full.json``, a validation every 250 iterations) at or below the
   target, times that time per iteration;
2. chapter 6's fast recipe: chapter 6's ``train_fast`` (64 x 25 characters, truncated BPTT, a
   schedule of 700 iterations, the read-out's bias started at the characters' log-frequencies,
   one thread) with ``stop_at_loss``, a validation every ``EVAL_EVERY`` (10) iterations;
3. the fastest recipe found here, the same ``train_fast`` and model with three options: the GRU's
   time loop in C++ (``fused_gru.py``), Adam's fused update, two threads;
4. the ratios of the loop's time to theirs at three targets: the loop's loss at the end of its
   20,000-iteration schedule (the headline), 1.70, and the median of the loop's last five
   validations; and the arithmetic rate of the fastest recipe against a large matrix product's.
   Written to ``benchmarks/results/char_rnn.json``.

``--levers`` measures the things tried on the way to the fastest recipe, each one change away
from its baseline (fewer characters to the target: from the recipe chapter 6 used before; more
arithmetic per second: from chapter 6's recipe), and writes ``benchmarks/results/char_rnn_levers.json``. ``--full`` trains
the original loop for all 20,000 iterations (about 20 to 40 minutes), recording the validation
loss every ``--eval-every`` iterations, and writes ``benchmarks/results/char_rnn_full.json``.
Training time always excludes the validation pauses.

    python benchmarks/char_rnn_benchmark.py --full        # once, in the background
    python benchmarks/char_rnn_benchmark.py               # the comparison
    python benchmarks/char_rnn_benchmark.py --levers      # the levers table
"""

from __future__ import annotations

import argparse
import dataclasses
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
EVAL_EVERY = 10  # iterations between the fast recipes' validations
FULL_EVAL_EVERY = 250  # iterations between the full run's validations (--eval-every)
LOOP_TIMING_ITERATIONS = 200  # iterations of the loop timed in the default run (--loop-iterations)


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

    def describe(self) -> str:
        extras = [label for flag, label in ((self.unigram_bias, "unigram bias"), (self.fused_gru, "GRU time loop in C++"),
                                            (self.fused_adam, "fused Adam"), (self.bf16, "bfloat16 autocast"),
                                            (self.compiled, "torch.compile")) if flag]
        return (f"{self.batch_size} x {self.seq_len} chars, peak lr {self.peak_lr}, warm-up {self.warmup}, "
                f"schedule {self.iterations}, clip {self.clip_norm:g}, {self.threads} thread(s)"
                + "".join(f", {e}" for e in extras))


CHAPTER = Recipe("chapter 6's fast recipe")
FASTEST = dataclasses.replace(CHAPTER, name="fastest recipe", threads=2, fused_gru=True, fused_adam=True)
#: the recipe chapter 6 used before the levers that cut the characters to the target
EARLIER = Recipe("the earlier recipe", batch_size=16, seq_len=100, iterations=1500, unigram_bias=False)


#: the columns of a validation-loss curve
CURVE_COLUMNS = {"iteration": "iteration", "training_seconds": "training time (s)", "validation_loss": "validation loss (nats/char)"}

#: the columns of the default run's table: one row per way of training, each timed to the headline target
VERSION_COLUMNS = {"version": "version", "ms_per_iteration": "time per iteration (ms)", "iterations": "iterations to the target",
                   "characters_to_target": "characters to the target (millions)",
                   "characters_per_second": "characters per second (thousands)",
                   "training_seconds": "time to the target (s)", "validation_loss": "validation loss there (nats/char)",
                   "bits_per_char": "bits per char", "time_ratio": "loop's time / this one's"}
#: characters in one iteration of the original loop: one portion of 200 (``run_full``)
LOOP_CHARACTERS_PER_ITERATION = 200
#: the columns of the default run's second table: one row per target
TARGET_COLUMNS = {"target": "target (nats/char)", "meaning": "the target is", "loop_iteration": "loop: first check at or below",
                  "loop_seconds": "loop (s)", "chapter_seconds": "chapter's recipe (s)", "chapter_ratio": "loop / chapter's recipe",
                  "fastest_seconds": "fastest recipe (s)", "fastest_ratio": "loop / fastest"}
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


def make_model(recipe: Recipe, train: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(SEED)
    model = CharRNN()
    if recipe.unigram_bias:
        init_unigram_bias(model, train)
    if recipe.fused_gru:
        from fused_gru import FusedGRU

        model.rnn = FusedGRU(model.rnn)
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
                         peak_lr=recipe.peak_lr, warmup=recipe.warmup, clip_norm=recipe.clip_norm, valid_data=valid, eval_every=EVAL_EVERY, stop_at_loss=target,
                         optimizer=make_optimizer(model, recipe))
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


def flops_per_character(model: CharRNN) -> float:
    """Multiply-adds of one character's forward pass (GRU products and read-out), times 2, times 3 for the backward."""
    gru, fc = model.rnn, model.fc
    forward = 2 * (gru.input_size * 3 * gru.hidden_size + gru.hidden_size * 3 * gru.hidden_size + fc.in_features * fc.out_features)
    return 3 * forward


def loop_curve() -> list[dict]:
    """The loop's recorded full run: its validation checks, the last at iteration 20,000."""
    rows = read_result(RESULTS / "char_rnn_full.json")["rows"]
    if not rows or rows[-1]["iteration"] != FULL_ITERATIONS:
        raise SystemExit(f"{RESULTS / 'char_rnn_full.json'} is incomplete: finish the --full run first")
    return rows


def loop_targets(curve: list[dict]) -> list[tuple[float, str]]:
    """The three targets: the loop's final loss (the headline), 1.70, and the median of its last five checks."""
    return [(curve[-1]["validation_loss"], f"the loop's loss after {FULL_ITERATIONS:,} iterations"),
            (1.70, "a round value above the loop's plateau"),
            (round(statistics.median(row["validation_loss"] for row in curve[-5:]), 5), "the median of the loop's last five checks")]


def targets_for(args: argparse.Namespace) -> tuple[list[tuple[float, str]], list[str]]:
    """The targets to reach, and a note saying so when ``--target-loss`` replaced the loop's."""
    if args.target_loss is None:
        return loop_targets(loop_curve()), []
    return [(args.target_loss, "--target-loss")], [
        f"Trial run: the target is --target-loss {args.target_loss}, not the loop's recorded losses; "
        "the ratios are not comparable to the full benchmark."]


def run_default(args: argparse.Namespace, train: torch.Tensor, valid: torch.Tensor) -> None:
    targets, trial_note = targets_for(args)
    curve = loop_curve()
    loop_ms = round(loop_ms_per_iteration(train, args.loop_iterations), 2)  # the value recorded
    log(f"original loop: {loop_ms:.1f} ms per iteration")
    recipes = (CHAPTER, FASTEST) if DEVICE.type == "cpu" else (CHAPTER,)  # the fastest recipe's options are the CPU's
    if FASTEST in recipes:
        from fused_gru import extension

        log(f"C++ extension ready ({extension()[1]:.1f} s to build or load; not part of the training time)")
    lowest = min(target for target, _ in targets)
    runs = {recipe.name: time_to_target(recipe, train, valid, lowest) for recipe in recipes}

    def loop_at(target: float) -> dict | None:
        row = first_crossing(curve, target)
        return row and {"iteration": row["iteration"], "training_seconds": round(row["iteration"] * loop_ms / 1000, 1),
                        "validation_loss": row["validation_loss"]}

    def ratio(loop: dict | None, fast: dict | None) -> float | None:
        return round(loop["training_seconds"] / fast["training_seconds"], 1) if loop and fast else None

    target_rows = []
    for target, meaning in targets:
        loop = loop_at(target)
        fast = {recipe.name: first_crossing(runs[recipe.name]["curve"], target) for recipe in recipes}
        chapter, fastest = fast[CHAPTER.name], fast.get(FASTEST.name)
        target_rows.append({"target": target, "meaning": meaning, "loop_iteration": loop and loop["iteration"],
                            "loop_seconds": loop and loop["training_seconds"],
                            "chapter_seconds": chapter and chapter["training_seconds"], "chapter_ratio": ratio(loop, chapter),
                            "fastest_seconds": fastest and fastest["training_seconds"], "fastest_ratio": ratio(loop, fastest)})
        log(f"target {target:.5f} ({meaning}): loop {loop and loop['training_seconds']} s; "
            f"chapter's recipe {ratio(loop, chapter)}x, fastest {ratio(loop, fastest)}x")

    headline, _ = targets[0]
    loop = loop_at(headline)
    loop_characters = loop["iteration"] * LOOP_CHARACTERS_PER_ITERATION
    rows = [{"version": "original loop (1 x 200 chars, the GRU stepped per character, 1 thread)", "ms_per_iteration": round(loop_ms, 2),
             "iterations": loop["iteration"], "characters_to_target": round(loop_characters / 1e6, 4),
             "characters_per_second": round(loop_characters / loop["training_seconds"] / 1e3, 2),
             "training_seconds": loop["training_seconds"],
             "validation_loss": loop["validation_loss"], "bits_per_char": round(bits_per_char(loop["validation_loss"]), 5),
             "time_ratio": 1.0}]
    for recipe in recipes:
        reached = first_crossing(runs[recipe.name]["curve"], headline)
        characters = reached and reached["iteration"] * recipe.batch_size * recipe.seq_len
        rows.append({"version": f"{recipe.name} ({recipe.describe()})",
                     "ms_per_iteration": reached and round(reached["training_seconds"] / reached["iteration"] * 1000, 2),
                     "iterations": reached and reached["iteration"],
                     "characters_to_target": reached and round(characters / 1e6, 4),
                     "characters_per_second": reached and round(characters / reached["training_seconds"] / 1e3, 2),
                     "training_seconds": reached and reached["training_seconds"],
                     "validation_loss": reached and reached["validation_loss"],
                     "bits_per_char": reached and round(bits_per_char(reached["validation_loss"]), 5),
                     "time_ratio": ratio(loop, reached)})
    notes = [
        f"Time to target on both sides. The loop's time is the first iteration of its recorded full run (char_rnn_full.json, "
        f"a validation every {curve[1]['iteration']} iterations) at or below the target, times its time per iteration measured "
        f"here over {args.loop_iterations} iterations. The fast recipes run chapter 6's train_fast with stop_at_loss, a "
        f"validation every {EVAL_EVERY} iterations, and stop at the first at or below the target; training time excludes "
        "the validation pauses.",
        "Each time ratio is the product of two factors, both in the table: the loop's characters to the target over this "
        "version's (fewer characters: the recipe's schedule, learning rate and head start for the read-out) times this "
        "version's characters per second over the loop's (more characters per second: 64 streams per step and one GRU "
        "call per chunk instead of one per character, and for the fastest recipe its fused layer, fused Adam and a second "
        "thread). "
        + "; ".join(f"{row['version'].split(' (')[0]}: {rows[0]['characters_to_target'] / row['characters_to_target']:.2f}x "
                    f"fewer characters x {row['characters_per_second'] / rows[0]['characters_per_second']:.1f}x more "
                    f"characters per second = {row['time_ratio']:.1f}x" for row in rows[1:] if row["time_ratio"])
        + ". The ratios are properties of this machine.",
        "The loop's timing and both fast recipes ran in this one process; the loop's crossings come from its full run.",
        *trial_note,
    ]
    if FASTEST in recipes and runs[FASTEST.name]["reached"]:
        reached = runs[FASTEST.name]["reached"]
        achieved = (flops_per_character(CharRNN()) * FASTEST.batch_size * FASTEST.seq_len * reached["iteration"]
                    / reached["training_seconds"] / 1e9)
        peak = matmul_gflops(FASTEST.threads)
        step = matmul_gflops(FASTEST.threads, rows=FASTEST.batch_size)
        log(f"{FASTEST.name}: {achieved:.1f} GFLOP/s, {100 * achieved / peak:.0f}% of a large matrix product's {peak:.0f} GFLOP/s; "
            f"one step's product alone: {step:.0f} GFLOP/s")
        notes.insert(2, f"{FASTEST.name.capitalize()}: {achieved:.1f} GFLOP/s of model arithmetic ({flops_per_character(CharRNN()) / 1e3:.0f} "
                        f"kFLOP per character, forward and backward), {100 * achieved / peak:.0f}% of the {peak:.0f} GFLOP/s of a "
                        f"2048 x 2048 float32 matrix product on {FASTEST.threads} thread(s): {FASTEST.seq_len} sequential time steps "
                        f"of ({FASTEST.batch_size} x 100) by (100 x 300) products leave much of the machine idle: such a product "
                        f"alone runs at {step:.0f} GFLOP/s ({100 * step / peak:.0f}% of the large one's) on the same threads.")
    save_result(
        args, "",
        title="Character-level GRU: the original per-character loop against fast training, each timed to the same validation loss",
        columns=VERSION_COLUMNS,
        rows=rows,
        notes=notes,
        tables=[{"title": "Time to target at three targets", "columns": TARGET_COLUMNS, "rows": target_rows}],
        fast_curve={"columns": CURVE_COLUMNS, "rows": runs[CHAPTER.name]["curve"]},
        fastest_curve={"columns": CURVE_COLUMNS, "rows": runs[recipes[-1].name]["curve"]},
        loop_ms_per_iteration=round(loop_ms, 2),
        device=DEVICE.type,
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
    target = targets[0][0]  # the headline target: the loop's loss after its full schedule
    from fused_gru import extension

    build_seconds = extension()[1]
    peak = {threads: matmul_gflops(threads) for threads in sorted({r.threads for _, r, _ in LEVERS})}
    log("matrix product: " + ", ".join(f"{gflops:.0f} GFLOP/s on {t} thread(s)" for t, gflops in peak.items()))
    flops = flops_per_character(CharRNN())
    names = {EARLIER: "the earlier recipe", CHAPTER: "chapter 6's recipe"}
    rows = []
    for label, recipe, baseline in LEVERS:
        # The machine's speed drifts over minutes: each lever is timed in 3 rounds, each right after
        # its baseline, and its speed is the median of the paired ratios.
        rounds, setup = [], 0.0
        for _ in range(3):
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
            "gflops": round(flops * chars_per_second / 1e9, 1),
            "percent_of_matmul": round(100 * flops * chars_per_second / 1e9 / peak[recipe.threads]),
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
            "Time per iteration: median of 3 rounds of 20 tbptt_step iterations after 3 warm-up ones; speed vs baseline: "
            "characters per second against the baseline's, timed just before each round, median of the 3 ratios. "
            f"Arithmetic rate: {flops / 1e3:.0f} kFLOP per character (forward and backward) times the characters per "
            "second, against a 2048 x 2048 float32 matrix product's rate on the same number of threads ("
            + ", ".join(f"{gflops:.0f} GFLOP/s on {t}" for t, gflops in peak.items()) + "). "
            "Time to the target: chapter 6's train_fast "
            f"until the validation loss, checked every {EVAL_EVERY} iterations, first reaches the loop's loss after "
            f"{FULL_ITERATIONS:,} iterations ({target:.4f} nats/char), the validation pauses excluded.",
            *trial_note,
        ],
        matmul_gflops={str(t): round(g, 1) for t, g in peak.items()},
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
    parser.add_argument("--eval-every", type=int, default=FULL_EVAL_EVERY, help="--full: iterations between validation measurements")
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
