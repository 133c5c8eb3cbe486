# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,jupytext,accelerator,colab
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # How much faster, and why
#
# *Section 5 of [chapter 6](06_char_rnn.ipynb), optional reading. Before:
# [truncated BPTT and a training recipe](06_4_truncated_bptt.ipynb).
# Next: [the levers](06_6_levers.ipynb).*
#
# *"The original" is the chapter's source, the blog post "Deep learning
# models implemented in pytorch and TF" (2024), named in
# [section 1](06_char_rnn.ipynb).*
#
# Section 4's recipe reached the loop's plateau in 700 iterations; the
# loop needed thousands. This section measures the difference fairly and
# takes it apart. We will
#
# 1. see what the recipe changes besides the schedule: one GRU call per
#    chunk, and 64 streams at once;
# 2. meet `train_fast`, the recipe's loop with a clock, validation checks
#    and a stop at a target, which the benchmark times;
# 3. read the benchmark's results: the time each version needs to reach
#    the plateau, as the product of two factors, fewer characters and more
#    characters per second, and how the speed-up changes with the target.
#
# The next section changes one thing at a time, to see what each bought.
#
# All of it reads results recorded by `benchmarks/char_rnn_benchmark.py`
# on one machine, named with each table; the ratios are properties of that
# machine.

# %% tags=["hide-cell"]
# Colab, Kaggle, Binder or a Jupyter outside the book's repository:
# install the book's helper package (where it is installed, this does nothing).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("tutorial_utils") is None:
    package = (
        "tutorial-utils @ git+https://github.com/deep-learning-models-book/"
        "deep-learning-models-book@main"
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", package], check=True)
    importlib.invalidate_caches()

# %% tags=["export"]
import math
import time
from dataclasses import dataclass, field

import torch

import tutorial_utils as tu

# %%
import statistics

import matplotlib.pyplot as plt
from torch import nn

from tutorial_utils.charrnn import (
    CharRNN,
    consecutive_batch,
    cosine_lr,
    init_unigram_bias,
    recorded_operations,
    split_train_validation,
    tbptt_step,
    train_tbptt,
    validation_loss,
)

device = tu.get_device()
if device.type == "cpu":
    torch.set_num_threads(1)  # results that do not depend on the cores
print("PyTorch", torch.__version__, "| running on", device.type)
text = tu.clean_text(tu.load_novel_text())
train_data, valid_data = split_train_validation(tu.char_to_tensor(text))
train_data, valid_data = train_data.to(device), valid_data.to(device)
fast_batch, fast_seq_len = 64, 25  # section 4's chunks

# %% tags=["hide-input"]
# The loop's recorded full runs and their plateau, as in section 3.
loop_curves = {}
for row in tu.benchmark_result("char_rnn_full")["rows"]:
    loop_curves.setdefault(row["seed"], []).append(row)
plateaus = [
    statistics.median(row["validation_loss"] for row in curve[-5:])
    for curve in loop_curves.values()
]
target_loss = math.ceil(round(max(plateaus) * 100, 6)) / 100

# %% [markdown]
# ## Where the loop's time goes
#
# The loop's work comes in 200 small GRU calls per iteration, each on
# one character, and a backward pass back through all of them. Besides the schedule and the head start, section 4's recipe
# changes *how* the same model runs:
#
# - **One GRU call per chunk.** `model(inputs)` with a `(batch, time)`
#   tensor runs all time steps in one Python call; PyTorch runs the time
#   loop in C++, as a chain of small operations per step on the CPU
#   (counted in the folded cell below) and in NVIDIA's cuDNN library on a
#   GPU.
# - **Mini-batches.** 64 streams at once: the matrix products get 64 rows
#   instead of one; the embedding, the read-out and the loss run once per
#   chunk of 1,600 characters instead of once per character, and the
#   backward pass and Adam once per chunk instead of once per 200
#   characters.

# %% tags=["hide-input"]
# The list above: one GRU call runs all 25 steps, on the CPU as more than
# ten recorded operations per step, on a GPU as one cuDNN operation.
outputs, _ = nn.GRU(100, 100, batch_first=True)(torch.randn(64, 25, 100))
assert len(recorded_operations(outputs)) > 10 * 25
if device.type == "cuda" and torch.backends.cudnn.is_available():
    layer = nn.GRU(100, 100, batch_first=True).to(device)
    outputs, _ = layer(torch.randn(64, 25, 100, device=device))
    assert "CudnnRnnBackward0" in recorded_operations(outputs)

# %% [markdown]
# ## The loop the benchmark times
#
# To time a recipe to a target, the benchmark needs more than section 4's
# `train_tbptt`: a clock that pauses while the validation loss is
# measured, a check every `eval_every` iterations, and a stop as soon as
# the loss reaches `stop_at_loss`. `train_fast` (folded below; the
# package exports it) is `train_tbptt` with those three added, and an
# `optimizer` argument, with which the benchmark passes Adam's fused
# version for the recipes that use it. It makes the same updates: the
# folded check after it trains both for 30 iterations and compares the
# weights.


# %% tags=["export", "hide-input"]
@dataclass
class FastHistory:
    """What `train_fast` measured: each validation, each iteration's loss."""

    iterations: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)


def train_fast(
    model: CharRNN,
    train_data: torch.Tensor,
    iterations: int,
    *,
    batch_size: int = 64,
    seq_len: int = 25,
    peak_lr: float = 0.01,
    warmup: int = 20,
    clip_norm: float = 1.0,
    valid_data: torch.Tensor | None = None,
    eval_every: int = 0,
    stop_at_loss: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> FastHistory:
    """Truncated BPTT with Adam, a cosine schedule and gradient clipping."""
    if not tu.is_count(iterations):  # the schedule needs a length
        raise ValueError(
            f"iterations must be an integer of 1 or more, got {iterations!r}"
        )
    if not tu.is_count(eval_every, 0):
        raise ValueError(
            "eval_every must be an integer, 0 (no validation) or more,"
            f" got {eval_every!r}"
        )
    if not (0 < peak_lr < math.inf and clip_norm > 0):
        raise ValueError(
            "peak_lr must be a finite number above 0 and clip_norm a number"
            f" above 0, got {peak_lr!r} and {clip_norm!r}"
        )
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=peak_lr)
    history = FastHistory()
    seconds, hidden = 0.0, None

    def reached_target(iteration: int) -> bool:
        if valid_data is None:
            return False
        loss = validation_loss(model, valid_data)
        history.iterations.append(iteration)
        history.seconds.append(seconds)
        history.validation.append(loss)
        return stop_at_loss is not None and loss <= stop_at_loss

    if reached_target(0):
        return history
    model.train()
    for iteration in range(iterations):
        tu.synchronize(train_data.device)
        start = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(
            train_data, batch_size, seq_len, iteration
        )
        lr = cosine_lr(iteration, iterations, peak_lr, warmup)
        loss, hidden = tbptt_step(
            model,
            optimizer,
            inputs,
            targets,
            None if fresh else hidden,
            lr,
            clip_norm,
        )
        history.train_losses.append(loss.item())
        tu.synchronize(train_data.device)
        seconds += time.perf_counter() - start
        done = iteration + 1
        if (eval_every and done % eval_every == 0) or done == iterations:
            if reached_target(done):
                break
    return history


# %% tags=["hide-input"]
# The text above: train_fast (with its checks) and train_tbptt make the
# same updates; on the CPU the weights come out exactly equal.
twins = []
for train in (train_fast, train_tbptt):
    torch.manual_seed(123)
    twin = init_unigram_bias(CharRNN().to(device), train_data)
    if train is train_fast:
        train(
            twin, train_data, 30, valid_data=valid_data[:2000], eval_every=10
        )
    else:
        train(twin, train_data, 30)
    twins.append(twin)
for a, b in zip(*(twin.state_dict().values() for twin in twins)):
    assert (
        torch.equal(a, b)
        if device.type == "cpu"
        else torch.allclose(a, b, atol=1e-5)
    )

# %% [markdown]
# ## Timed to the same loss
#
# A fair answer to "how much faster?" times both sides to the same
# quality: each version trains until its validation loss first reaches the
# same target, and the clock stops there. The benchmark script
# `benchmarks/char_rnn_benchmark.py` does this on one machine:
#
# - Both sides are validated every 32,000 training characters: the loop
#   every 160 iterations of its recorded full runs (section 3), the fast
#   recipes every 20 iterations of `train_fast`. A run's time to a target
#   is its first check at or below it.
# - The loop's time is that check's iteration times the loop's time per
#   iteration, measured in the same run as the fast recipes; the median of
#   its three seeds counts. Each fast recipe ran five times, taking turns
#   with the others, and its median counts.
# - Two more rows take the difference partly apart: the recipe with the
#   GRU stepped one character at a time, as the loop steps it (`stepping`
#   "per-character": the same updates, so it reaches the target at the
#   same check), and the loop given the recipe's head start and a schedule
#   planned for its 20,000 iterations (one seed, from the full runs).
#
# The run's output, `benchmarks/results/char_rnn.json`:

# %%
SHORT_NAMES = {
    "original loop": "the loop",
    "original loop with the recipe's start and schedule": (
        "loop + head start, schedule"
    ),
    "chapter 6's recipe, stepped per character": "recipe, per character",
    "chapter 6's fast recipe": "this chapter's recipe",
    "fastest recipe": "fastest recipe",
}
print(
    tu.result_table(
        "char_rnn",
        {
            "version": "version",
            "characters_to_target": "M chars",
            "characters_per_second": "k chars/s",
            "training_seconds": "median s",
            "training_seconds_min": "from",
            "training_seconds_max": "to",
        },
        {
            "version": lambda version: SHORT_NAMES[version.split(" (")[0]],
            "characters_per_second": "{:.1f}",
            "training_seconds": "{:.1f}",
            "training_seconds_min": "{:.1f}",
            "training_seconds_max": "{:.1f}",
        },
    )
)

# %% tags=["hide-input"]
benchmark = tu.benchmark_result("char_rnn")
versions = benchmark["rows"]
loop_row, loop_recipe_row, per_character_row, chapter_row, fastest_row = (
    versions
)
targets = benchmark["tables"][0]["rows"]
headline = targets[-1]
# The text above and below, checked against the result files: the first
# crossing on both sides, the checks every 32,000 characters, the median of
# three seeds and of five repeats, the headline target at the plateau, and
# the two factors that multiply to each ratio.
assert benchmark["headline_target"] == headline["target"] == target_loss
crossings = sorted(
    next(r for r in curve if r["validation_loss"] <= target_loss)["iteration"]
    for curve in loop_curves.values()
)
assert loop_row["iterations"] == crossings[1]  # the median seed
ms = benchmark["loop_ms_per_iteration"]
# (the file rounds the time per iteration to 0.01 ms)
assert math.isclose(
    loop_row["training_seconds"], crossings[1] * ms / 1000, rel_tol=2e-4
)
assert loop_row["repeats"] == 3
assert all(row["repeats"] == 5 for row in versions[2:])
assert crossings[-1] < 10_000  # every seed, long before the end
for row in versions[1:]:
    fewer = loop_row["characters_to_target"] / row["characters_to_target"]
    faster = row["characters_per_second"] / loop_row["characters_per_second"]
    # (the file rounds the ratio to 0.1)
    product = fewer * faster
    assert abs(product - row["time_ratio"]) <= 0.05 + 5e-3 * product
for name in ("fast_curve", "fastest_curve", "per_character_curve"):
    checks = [row["iteration"] for row in benchmark[name]["rows"]]
    assert checks == list(range(0, checks[-1] + 1, 20))
    spacing = benchmark["check_every_characters"]
    assert 20 * fast_batch * fast_seq_len == 160 * 200 == spacing == 32_000
    crossing = next(
        r
        for r in benchmark[name]["rows"]
        if r["validation_loss"] <= target_loss
    )
    assert crossing is benchmark[name]["rows"][-1]  # it stopped there
assert f"({fast_batch} x {fast_seq_len} chars," in chapter_row["version"]
# the same updates per character stepped: the same check reaches the target
assert per_character_row["iterations"] == chapter_row["iterations"]
assert per_character_row["stepping"] == loop_row["stepping"]
assert chapter_row["stepping"] == "per-chunk"


def factors(row: dict) -> tuple[float, float]:
    """Fewer characters than the loop, and more characters per second."""
    return (
        loop_row["characters_to_target"] / row["characters_to_target"],
        row["characters_per_second"] / loop_row["characters_per_second"],
    )


for name, row in (
    ("chapter", chapter_row),
    ("fastest", fastest_row),
    ("per_character", per_character_row),
    ("loop_recipe", loop_recipe_row),
):
    fewer, faster = factors(row)
    tu.glue(f"{name}_ratio", row["time_ratio"])  # to 0.1, as in the file
    tu.glue(f"{name}_fewer_characters", round(fewer, 1))
    tu.glue(f"{name}_faster_per_character", round(faster, 1))
tu.glue("loop_first_crossing", f"{loop_row['iterations']:,}")
tu.glue("loop_crossing_range", f"{crossings[0]:,} to {crossings[-1]:,}")
chunk_over_step = (
    chapter_row["characters_per_second"]
    / per_character_row["characters_per_second"]
)
tu.glue("chunk_over_step", round(chunk_over_step, 2))
assert factors(per_character_row)[1] > chunk_over_step > 1
loop_recipe_final = tu.benchmark_result("char_rnn_full")["loop_with_recipe"]
loop_recipe_final = loop_recipe_final["rows"][-1]["validation_loss"]
assert loop_recipe_final < 1.542 - 0.02  # below the band of fast_loss
# it keeps learning after its crossing
assert loop_recipe_final < loop_recipe_row["validation_loss"] - 0.1
tu.glue("loop_recipe_final_loss", loop_recipe_final)
assert loop_recipe_row["repeats"] == 1
chapter_checks = len(benchmark["fast_curve"]["rows"])
validation_pass = benchmark["validation_seconds"]["chapter 6's fast recipe"]
assert chapter_checks * validation_pass > chapter_row["training_seconds"]
tu.glue(
    "chapter_wall_ratio",
    round(loop_row["wall_seconds"] / chapter_row["wall_seconds"]),
)
tu.glue(
    "chapter_range",
    f"{chapter_row['training_seconds_min']:.1f}"
    f" to {chapter_row['training_seconds_max']:.1f}",
)

# %% [markdown]
# On the machine named above, the loop's three seeds first reached the plateau
# after {glue:text}`loop_crossing_range` iterations (median
# {glue:text}`loop_first_crossing`), and this chapter's recipe got there in
# {glue:text}`chapter_ratio`x less training time (median of five runs, from
# {glue:text}`chapter_range` s); the fastest recipe (next section) in
# {glue:text}`fastest_ratio`x less. Each ratio is the product of two factors,
# both columns of the table:
#
# - **Fewer characters** (the recipe): this chapter's recipe needs
#   {glue:text}`chapter_fewer_characters`x fewer characters than the loop to
#   reach the target. This factor comes from the recipe as a whole: truncated
#   BPTT over contiguous streams, the schedule, the learning rate and the head
#   start for the read-out (the next section changes parts of a plainer
#   recipe one at a time).
# - **More characters per second** (batching and the implementation): it
#   processes {glue:text}`chapter_faster_per_character`x more characters per
#   second. The loop does nearly the same arithmetic per character (it is the
#   same model) one character of one stream at a time; the recipe's 64
#   streams give every product 64 rows instead of one, it runs the
#   embedding, the read-out and the loss once per chunk of 1,600 characters
#   instead of once per character, and Adam once per chunk instead of once
#   per 200 characters.
#
# The two extra rows take the factors partly apart. Stepped per character,
# the recipe is still
# {glue:text}`per_character_faster_per_character`x faster per character than
# the loop, and one GRU call per chunk adds only a factor of
# {glue:text}`chunk_over_step`: on a CPU most of the second factor comes from
# batching, not from calling the GRU once per chunk. The loop given the head
# start and a schedule over its 20,000 iterations (one seed) needs
# {glue:text}`loop_recipe_fewer_characters`x fewer characters than the plain
# loop's median seed and keeps learning where the plain loop hovers: it ends
# at {glue:text}`loop_recipe_final_loss` nats/char, below this chapter's
# recipe after its 700 iterations.
#
# Counting the validations too (one pass, timed in the benchmark, every
# 32,000 characters on both sides), this chapter's recipe is
# {glue:text}`chapter_wall_ratio`x faster (column `wall_seconds`): at this
# spacing its validations take longer than its training. The ratios hold
# for the machine of the benchmark run only; the
# [performance appendix](../book/performance.md) gives the full tables.
#
# How large is the speed-up at other targets? The file's second table times
# the loop, this chapter's recipe and the fastest to targets from 2.0 down to
# the plateau:

# %%
print(
    tu.result_table(
        "char_rnn",
        {
            "target": "target",
            "loop_seconds": "loop, s",
            "loop_seconds_min": "from",
            "loop_seconds_max": "to",
            "chapter_ratio": "recipe",
            "fastest_ratio": "fastest",
        },
        {
            "target": "{:.2f}",
            "loop_seconds": "{:.0f}",
            "loop_seconds_min": "{:.0f}",
            "loop_seconds_max": "{:.0f}",
            "chapter_ratio": "{:.1f}x",
            "fastest_ratio": "{:.1f}x",
        },
        table=0,
    )
)
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, label in (
    ("chapter", "this chapter's recipe"),
    ("fastest", "fastest recipe"),
):
    ratios = [row[f"{name}_ratio"] for row in targets]
    fast = [row[f"{name}_seconds"] for row in targets]
    low = [row["loop_seconds_min"] / s for row, s in zip(targets, fast)]
    high = [row["loop_seconds_max"] / s for row, s in zip(targets, fast)]
    x = [row["target"] for row in targets]
    ax.plot(x, ratios, "o-", label=label)
    ax.fill_between(x, low, high, alpha=0.2)
ax.invert_xaxis()
ax.set_xlabel("target validation loss (nats/char); lower is harder")
ax.set_ylabel("loop's time / recipe's")
ax.set_title("The speed-up depends on the target")
ax.legend()
plt.show()


# %% tags=["hide-input"]
# The text above and below: targets from 2.0 down to the plateau, at least
# six, and each ratio smallest at 2.0 and largest at the plateau.
assert targets[0]["target"] == 2.0 and len(targets) >= 6
assert [row["target"] for row in targets] == sorted(
    (row["target"] for row in targets), reverse=True
)
for name in ("chapter", "fastest"):
    ratios = [row[f"{name}_ratio"] for row in targets]
    assert ratios[0] == min(ratios) and ratios[-1] == max(ratios)
steps = [row["loop_iteration"] for row in targets[-3:]]
assert all(later - earlier > 1000 for earlier, later in zip(steps, steps[1:]))
tu.glue("chapter_ratio_at_2", round(targets[0]["chapter_ratio"]))

# %% [markdown]
# The shaded band spans the loop's fastest and slowest seed. At 2.0 this
# chapter's recipe is {glue:text}`chapter_ratio_at_2`x faster; both ratios are
# smallest there and largest at the loop's plateau, where the loop's curve
# flattens and each further step of 0.01 or 0.02 down costs it more than a
# thousand iterations. A
# headline ratio therefore depends on its target, and below the plateau it
# would depend on where the noise of one seed happened to dip.
#
# Validation loss against training time (logarithmic time axis). The fast
# recipes' curves come from the benchmark run (the run of median time of
# five); the loop's losses come from its recorded full runs, placed on the
# time axis at the time per iteration the benchmark measured for it beside
# the fast versions, so that all the curves share one machine's clock. A ring
# marks where each curve first reaches the dashed target.

# %%
curves = [
    (
        [row["iteration"] * ms / 1000 for row in curve],
        curve,
        f"original loop, seed {seed}",
    )
    for seed, curve in loop_curves.items()
]
for name, label in (
    ("fast_curve", "fast recipe (this chapter's)"),
    ("fastest_curve", "fastest recipe (next section)"),
):
    curve = benchmark[name]["rows"]
    seconds = [row["training_seconds"] for row in curve]
    curves.append((seconds, curve, label))
fig, ax = plt.subplots(figsize=(7, 4))
for seconds, curve, label in curves:
    losses = [row["validation_loss"] for row in curve]
    (line,) = ax.plot(seconds[1:], losses[1:], ".-", label=label)
    crossing = next(
        i for i, loss in enumerate(losses) if loss <= headline["target"]
    )
    ax.plot(
        seconds[crossing],
        losses[crossing],
        "o",
        markersize=12,
        markerfacecolor="none",
        color=line.get_color(),
    )
ax.axhline(
    headline["target"],
    color="gray",
    linestyle="--",
    linewidth=1,
    label="target: the loop's plateau",
)
ax.set_xscale("log")
ax.set_ylim(top=2.2)
ax.set_xlabel("training time (seconds, log scale)")
ax.set_ylabel("validation loss (nats/char)")
ax.legend()
ax.set_title("Same model, same data: validation loss vs training time")
plt.show()

# %% tags=["hide-input"]
# The text below: the loop keeps hovering around the target after it first
# reaches it, and the fast recipes' curves still fall at their last check.
for curve in loop_curves.values():
    first = next(
        i for i, r in enumerate(curve) if r["validation_loss"] <= target_loss
    )
    assert any(r["validation_loss"] > target_loss for r in curve[first:])
for name, row in (("fast_curve", chapter_row), ("fastest_curve", fastest_row)):
    curve = benchmark[name]["rows"]
    assert curve[-1]["validation_loss"] < curve[-2]["validation_loss"]
    # the run of median time of five
    assert curve[-1]["training_seconds"] == row["training_seconds"]

# %% [markdown]
# The loop crosses the target long before its schedule ends and then hovers
# around it, rising above it again after its first crossing; the fast recipes
# stop at their first crossing, on curves that are still falling.

# %% [markdown]
# ## Summary
#
# - A fair comparison times each version until its validation loss first
#   reaches the same target, on one machine, with repeats; the ratio is a
#   property of that machine and of the target.
# - Timed to the loop's plateau, this chapter's recipe needed
#   {glue:text}`chapter_ratio`x less training time than the loop:
#   {glue:text}`chapter_fewer_characters`x fewer characters, each processed
#   {glue:text}`chapter_faster_per_character`x faster, mostly from batching
#   (64 streams; the read-out, loss and Adam once per chunk), not from the
#   GRU call per chunk.
# - The speed-up grows as the target gets harder, and counting the
#   validations shrinks it: a headline ratio names its target and what it
#   counts.
#
# ## Exercises
#
# ````{exercise} The fastest recipe's two factors
# :label: ex-06-5-faster-1
# From the result file's rows, compute the fastest recipe's two factors
# against the loop, fewer characters and more characters per second, and
# check that their product is its time ratio.
# ````
#
# ````{solution-start} ex-06-5-faster-1
# :class: dropdown
# ````

# %%
fewer, faster = factors(fastest_row)
print(f"{fewer:.2f}x fewer characters x {faster:.1f}x faster per character")
print(
    f"= {fewer * faster:.1f}x; the file's time ratio: "
    f"{fastest_row['time_ratio']}x"
)

# %% [markdown]
# The two factors multiply to the fastest recipe's time ratio up to the
# rounding of the stored factors (the loop's characters per second are
# stored to three figures, so the product can miss the ratio in its last
# digit); the folded check above asserts it for every row, to within
# 0.05 plus half a percent.
#
# ````{solution-end}
# ````
#
# ````{exercise} Validating less often
# :label: ex-06-5-faster-2
# Both sides validated every 32,000 characters, and at that spacing this
# chapter's recipe spent more time validating than training. Using the
# file's validation pass time (the same model reads the same text on both
# sides), estimate both sides' time with validations if they validated
# every 64,000 characters instead, and the ratio between them.
# ````
#
# ````{solution-start} ex-06-5-faster-2
# :class: dropdown
# ````

# %%
validation_pass = benchmark["validation_seconds"]["chapter 6's fast recipe"]
with_validations = {}
for spacing in (1, 2):  # times 32,000 characters
    recipe_checks = chapter_row["iterations"] // (20 * spacing) + 1
    loop_checks = loop_row["iterations"] // (160 * spacing) + 1
    recipe = chapter_row["training_seconds"] + recipe_checks * validation_pass
    loop = loop_row["training_seconds"] + loop_checks * validation_pass
    with_validations[spacing] = recipe, loop
    print(
        f"every {32 * spacing},000 characters: recipe {recipe:.1f} s,"
        f" loop {loop:.0f} s, ratio {loop / recipe:.0f}x"
    )

# %% tags=["hide-input"]
# The text below: at the recorded spacing the estimate is the file's
# wall_seconds; both first crossings lie on the sparser grid too; the
# recipe's time falls by more than a third, the loop's by less than a
# tenth, and the ratio rises.
(recipe_1, loop_1), (recipe_2, loop_2) = with_validations.values()
assert abs(recipe_1 - chapter_row["wall_seconds"]) <= 0.1
assert abs(loop_1 - loop_row["wall_seconds"]) <= 0.1
assert (
    chapter_row["iterations"] % 40 == 0 and loop_row["iterations"] % 320 == 0
)
assert recipe_2 < recipe_1 * 2 / 3 and loop_2 > loop_1 * 0.9
assert loop_2 / recipe_2 > loop_1 / recipe_1

# %% [markdown]
# At the recorded spacing the estimate reproduces the file's
# `wall_seconds`. Validating half as often cuts the recipe's time with
# validations by more than a third, because its validations outweigh its
# training, and the loop's by less than a tenth, because its training
# outweighs its validations: the ratio with validations rises. Both first
# crossings fall on checks that the sparser schedule makes too, so the
# estimate needs no guess about where a sparser run would have stopped.
#
# ````{solution-end}
# ````
