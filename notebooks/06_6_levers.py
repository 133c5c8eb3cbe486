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
# # The levers: one change at a time
#
# *Section 6 of [chapter 6](06_char_rnn.ipynb), optional reading. Before:
# [how much faster, and why](06_5_how_much_faster.ipynb). Next:
# [checkpoints](06_7_checkpoints.ipynb).*
#
# Section 5 measured how much faster this chapter's recipe reaches the
# loop's plateau. Here we ask which of its parts bought what, and what
# else could: the benchmark's *levers*, each a single change to a recipe,
# timed to the same target in one run. We will read the table, picture
# it, and check every claim against it; the exercises try an LSTM and
# three shapes of chunk.

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

# %%
import math
import time

import matplotlib.pyplot as plt
import torch

import tutorial_utils as tu
from tutorial_utils.charrnn import (
    CharRNN,
    consecutive_batch,
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

# %% tags=["hide-input"]
# The headline run of section 5, for the comparisons below.
benchmark = tu.benchmark_result("char_rnn")
_, _, _, chapter_row, fastest_row = benchmark["rows"]

# %% [markdown]
# ## Two ways to be faster
#
# A recipe's time to a target is the characters it needs times its time
# per character, so a recipe gets faster by needing fewer characters or by
# processing them faster. The benchmark's `--levers` mode tries both, one
# change at a time, in one run. The first group of rows changes one thing
# in a plainer recipe, "the earlier recipe" (16 streams of 100 characters,
# a schedule of 1,500 iterations, the default bias; checked against the
# file's `recipe` column below), looking for fewer characters; this
# chapter's recipe combines three of those changes. The second group
# changes one thing in this chapter's recipe, looking for more characters
# per second. Three columns say how fast each row was:
#
# - `seconds_to_target`: one training run of `train_fast` to the target,
#   as in the headline benchmark, a single measurement; with it
#   `characters_to_target`.
# - `speed_vs_baseline`: five short timings, each right after one of its
#   baseline (the earlier recipe for the first group, this chapter's
#   recipe for the second); the median of the five ratios of characters
#   per second (the earlier recipe, timed against itself, need not get
#   exactly 1).
# - `kchars_per_second`: the same short timings taken alone, their median
#   in thousands of characters per second, and from it the arithmetic
#   rate.
#
# Timings of the same recipe differ from run to run, so where the
# differences are small the columns can disagree: claims about speed below
# read the paired column, claims about time the training runs. This run is
# separate from section 5's (the cell below prints its date) and trained
# every recipe anew: the headline ratios come from that run, the
# comparisons between levers from this one.
# `benchmarks/results/char_rnn_levers.json`:

# %%
print(
    tu.result_table(
        "char_rnn_levers",
        {
            "lever": "lever",
            "characters_to_target": "M chars",
            "speed_vs_baseline": "speed",
            "seconds_to_target": "time, s",
        },
        {
            "lever": lambda lever: lever.split(":")[0][:44],
            "speed_vs_baseline": "{:.2f}x",
            "seconds_to_target": "{:.1f}",
        },
    )
)

# %% tags=["hide-input"]
levers = tu.benchmark_result("char_rnn_levers")
rows = {row["lever"]: row for row in levers["rows"]}
earlier = rows["the earlier recipe (baseline)"]
first_group = [
    row for row in levers["rows"] if row["baseline"] == earlier["baseline"]
]
chapter = first_group[-1]  # it combines three of the changes before it
second_group = [
    row for row in levers["rows"] if row["baseline"] != earlier["baseline"]
]
# The text above: the earlier recipe is 16 x 100 characters with a schedule of
# 1,500 iterations and the default bias; the first group changes it, the
# second group changes this chapter's recipe, the last of the first group.
assert earlier["recipe"].startswith("16 x 100 chars,")
assert "schedule 1500," in earlier["recipe"]
assert "unigram" not in earlier["recipe"]
assert first_group + second_group == levers["rows"]
assert {row["baseline"] for row in second_group} == {"chapter 6's recipe"}
assert chapter["lever"].startswith(second_group[0]["baseline"] + ":")
assert chapter["recipe"] in chapter_row["version"]

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.5), sharey=False)
for ax, shown, column, line, label in (
    (
        left,
        [row for row in first_group if row["characters_to_target"]],
        "characters_to_target",
        first_group[0]["characters_to_target"],
        "million characters",
    ),
    (
        right,
        second_group,
        "speed_vs_baseline",
        1.0,
        "characters per second, times this chapter's recipe's",
    ),
):
    ax.barh(
        [row["lever"].split(":")[0] for row in shown],
        [row[column] for row in shown],
    )
    ax.axvline(line, color="gray", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.set_xlabel(label)
left.set_title("Characters to the target")
right.set_title("Speed (paired timings)")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the first group: a bar shorter than the dashed line (the earlier
# recipe) is a lever that needs fewer characters; the two schedules that never
# reached the target are left out. On the right, the second group: a bar
# longer than the dashed line (this chapter's recipe, speed 1) is a lever that
# computes faster. The folded cells below print the numbers that the claims
# after them rest on, and check the claims against the table.

# %% tags=["hide-input"]
# The numbers behind the claims below, from the table and the headline run.
fastest = levers["rows"][-1]


def fewer_characters(name: str) -> float:
    """How many times fewer characters than the earlier recipe."""
    return earlier["characters_to_target"] / rows[name]["characters_to_target"]


def training_ms_per_iteration(row: dict) -> float:
    """Its training run's time per iteration, in milliseconds."""
    return 1000 * row["seconds_to_target"] / row["iterations_to_target"]


head_start_row = rows["read-out bias at the unigram log-frequencies"]
head_start = fewer_characters(head_start_row["lever"])
short_chunks = rows["batch 64 x 25 characters"]
print(
    f"unigram bias: {head_start:.1f}x fewer characters"
    f" ({earlier['iterations_to_target']} -> "
    f"{head_start_row['iterations_to_target']} iterations)"
)
print(
    f"64 x 25: speed {short_chunks['speed_vs_baseline']:.2f}x,"
    f" {fewer_characters(short_chunks['lever']):.2f}x fewer characters"
)
print(
    "earlier recipe -> chapter's recipe:"
    f" {earlier['seconds_to_target']:.1f} s ->"
    f" {chapter['seconds_to_target']:.1f} s\nfastest:"
    f" {fastest['seconds_to_target']:.1f} s at {fastest['gflops']:.0f}"
    f" GFLOP/s, {fastest['percent_of_matmul']}% of a matrix product's rate"
)
print(
    "the same recipes in the headline run:"
    f" {chapter_row['training_seconds']:.1f} s and"
    f" {fastest_row['training_seconds']:.1f} s,\n"
    f" {fastest_row['percent_of_matmul']}% of its matrix product's rate"
)
print(
    "chapter's recipe, ms per iteration:"
    f" {chapter['ms_per_iteration']:.1f} (short timings),\n"
    f"{training_ms_per_iteration(chapter):.1f} (its training run here),"
    f" {chapter_row['ms_per_iteration']:.1f} (the headline run)"
)
print(
    "GFLOP/s of the fastest recipe (short timings):"
    f" {fastest['gflops']:.1f} here,\n{fastest_row['gflops']:.1f} in the"
    " headline run; of the matrix product on 1 and 2 threads:\n"
    f" {levers['matmul_gflops']['1']:.0f} and"
    f" {levers['matmul_gflops']['2']:.0f} here,"
    f" {benchmark['matmul_gflops']['1']:.0f} and"
    f" {benchmark['matmul_gflops']['2']:.0f} there"
)

# %% tags=["hide-input"]
# The text above and the list below, checked against the table.


def characters_to(name: str) -> float | None:
    return rows[name]["characters_to_target"]


per_iteration = (
    chapter["ms_per_iteration"],
    training_ms_per_iteration(chapter),
    chapter_row["ms_per_iteration"],
)
assert len({round(ms, 1) for ms in per_iteration}) > 1, per_iteration
assert chapter_row["training_seconds"] != chapter["seconds_to_target"]
assert fastest_row["training_seconds"] != fastest["seconds_to_target"]
firsts = [row for row in first_group[1:-1] if row["characters_to_target"]]
# the head start needs fewer characters than any other single change (those
# of the second group need at least the chapter's recipe's)
assert all(
    head_start > fewer_characters(row["lever"])
    for row in firsts
    if row is not head_start_row
)
assert all(
    row["characters_to_target"] >= chapter["characters_to_target"]
    for row in second_group[:-1]
)


def time_factor(row: dict) -> float:
    """How many times less time to the target than its baseline needed."""
    baseline = earlier if row["baseline"] == "the earlier recipe" else chapter
    return baseline["seconds_to_target"] / row["seconds_to_target"]


# the summary: of the single changes, the head start cut the time to the
# target by the largest factor
singles = [
    row
    for row in levers["rows"]
    if row not in (earlier, chapter, fastest, head_start_row)
    and row["seconds_to_target"] is not None
]
assert all(time_factor(head_start_row) > time_factor(row) for row in singles)
# 64 x 25: the same characters, faster; 64 x 100: about as fast per
# character (paired speeds within 10% of each other), four times the
# characters per step, about twice the characters to the target, and the
# longest of the three training runs
wide = rows["batch 64 x 100 characters"]
assert short_chunks["characters_to_target"] == earlier["characters_to_target"]
assert short_chunks["speed_vs_baseline"] > 1.3
assert 1.3 < wide["speed_vs_baseline"]
assert (
    abs(wide["speed_vs_baseline"] / short_chunks["speed_vs_baseline"] - 1)
    < 0.1
)
per_step = {
    row["lever"]: row["characters_to_target"] / row["iterations_to_target"]
    for row in (earlier, wide)
}
assert math.isclose(
    per_step[wide["lever"]] / per_step[earlier["lever"]], 4, rel_tol=0.02
)
assert (
    1.7 < wide["characters_to_target"] / earlier["characters_to_target"] < 2.2
)
assert wide["seconds_to_target"] > earlier["seconds_to_target"]
assert wide["seconds_to_target"] > short_chunks["seconds_to_target"]
# the schedules: 700 and 400 never reach the target (the only rows that the
# figure's left panel leaves out), the chapter's does; a larger peak needs
# more characters, a longer warm-up fewer, clipping at 5 the same
never = [rows[f"schedule planned for {n} iterations"] for n in (700, 400)]
assert [row for row in first_group if not row["characters_to_target"]] == (
    never
)
assert chapter["iterations_to_target"] < 700
baseline_characters = earlier["characters_to_target"]
assert characters_to("peak learning rate 0.02") > baseline_characters
assert characters_to("warm-up of 100 iterations") < baseline_characters
assert characters_to("clipping at norm 5") == baseline_characters
# the second group: a second thread and bfloat16 gain most by the paired
# speed, torch.compile and fused Adam nothing beyond the noise (within 5% of
# 1), and both of those training runs took longer than the chapter's recipe's
speeds = {row["lever"]: row["speed_vs_baseline"] for row in second_group[:-1]}
most = sorted(speeds, key=speeds.get)[-2:]
assert set(most) == {"two threads", "bfloat16 autocast"}, speeds
for name in ("torch.compile of the model", "fused Adam update"):
    assert abs(speeds[name] - 1) < 0.05, speeds
    assert rows[name]["seconds_to_target"] > chapter["seconds_to_target"]
assert speeds["GRU time loop in C++"] > 1.05
# the fastest recipe: the shortest time to the target of all rows, and the
# largest paired speed
assert fastest["lever"].startswith(
    "the fastest recipe: C++ time loop + fused Adam + two threads"
)
assert all(
    fastest["seconds_to_target"] < row["seconds_to_target"]
    for row in levers["rows"][:-1]
    if row["seconds_to_target"] is not None
)
assert fastest["speed_vs_baseline"] > max(speeds.values())
assert chapter["seconds_to_target"] < earlier["seconds_to_target"] / 2
# the arithmetic rates: the percentages from each file's own measurements,
# by the same protocol; the two runs disagree on the fastest recipe's, and
# their matrix products differ
for result in (levers, benchmark):
    for row in result["rows"]:
        label = row.get("recipe") or row["version"]
        threads = "2" if "2 thread(s)" in label else "1"
        rate = 100 * row["gflops"] / result["matmul_gflops"][threads]
        assert abs(row["percent_of_matmul"] - rate) <= 0.1
assert abs(fastest["percent_of_matmul"] - fastest_row["percent_of_matmul"]) > 5
assert levers["matmul_gflops"]["2"] != benchmark["matmul_gflops"]["2"]
# (the matrix product moved by more than 10%, the recipe's own rate by less)
matmul_moved = levers["matmul_gflops"]["2"] / benchmark["matmul_gflops"]["2"]
recipe_moved = fastest["gflops"] / fastest_row["gflops"]
assert abs(matmul_moved - 1) > 0.1 > abs(recipe_moved - 1)
assert levers["date"] == benchmark["date"]  # the same day
wide_batch = rows["batch 128 x 25 characters"]
assert wide_batch["characters_to_target"] > chapter["characters_to_target"]
tu.glue("levers_head_start", round(head_start, 1))
tu.glue("short_chunks_speed", short_chunks["speed_vs_baseline"])
tu.glue("wide_chunks_speed", wide["speed_vs_baseline"])
tu.glue("chapter_iterations_to_target", chapter["iterations_to_target"])
tu.glue("compile_speed", speeds["torch.compile of the model"])
tu.glue("fused_adam_speed", speeds["fused Adam update"])
tu.glue("wide_batch_speed", speeds["batch 128 x 25 characters"])
tu.glue("fastest_speed", fastest["speed_vs_baseline"])
tu.glue("two_threads_speed", speeds["two threads"])
tu.glue("bf16_speed", speeds["bfloat16 autocast"])
tu.glue("cpp_loop_speed", speeds["GRU time loop in C++"])
tu.glue("chapter_percent_of_matmul", chapter["percent_of_matmul"])
tu.glue("fastest_percent_of_matmul", fastest["percent_of_matmul"])
tu.glue("headline_fastest_percent", fastest_row["percent_of_matmul"])

# %% [markdown]
# - **The head start** cuts the characters to the target by a factor of
#   {glue:text}`levers_head_start`, more than any other single change: the
#   early hundreds of steps that Adam spent walking the biases to the
#   characters' frequencies are simply gone.
# - **Short chunks of many streams** (64 x 25) need the same characters as
#   16 x 100 but process them faster (speed {glue:text}`short_chunks_speed`),
#   with a quarter of the sequential steps. A batch of 64 x 100 is about as
#   fast per character (speed {glue:text}`wide_chunks_speed`), but it needs
#   about twice the characters, so its training run took the longest of the
#   three shapes. Each of its iterations holds four times the characters of
#   16 x 100, so it takes four times fewer steps for the same text, and with
#   Adam the number of steps matters.
# - **A schedule planned for fewer iterations**, 700 or 400, decays before the
#   recipe reaches the target; with the head start, this chapter's
#   schedule of 700 gets there at iteration
#   {glue:text}`chapter_iterations_to_target`. A larger peak learning rate
#   needs more characters; a longer warm-up fewer; clipping at 5 instead of 1
#   needs exactly the same characters.
# - **More characters per second**, the second group: a second thread (speed
#   {glue:text}`two_threads_speed`) and bfloat16 autocast
#   ({glue:text}`bf16_speed`) gain most; a GRU layer whose time loop is fused
#   in C++ (`benchmarks/fused_gru.py`, the row "GRU time loop in C++": `nn.GRU`
#   runs its loop in C++ too, but as more than ten separate operations per
#   step, where this layer does one matrix product and a few fused passes)
#   gains {glue:text}`cpp_loop_speed`; a batch of 128 x 25 gains
#   {glue:text}`wide_batch_speed` and needs more characters. `torch.compile`
#   ({glue:text}`compile_speed`) and Adam's fused update
#   ({glue:text}`fused_adam_speed`) gain nothing beyond the noise of the
#   timings.
# - **The fastest recipe** combines the fused C++ time loop, Adam's fused
#   update and two threads. Its training run reached the target in less time
#   than any other row's, and its paired speed, {glue:text}`fastest_speed`,
#   is the largest of the second group.
#
# By the arithmetic-rate protocol of both files (the median of five short
# timings against the median of five large matrix products in the same run),
# the fastest recipe computes at {glue:text}`fastest_percent_of_matmul`% of
# the rate of a large matrix product on the same two threads in this run, and
# this chapter's recipe at {glue:text}`chapter_percent_of_matmul`% on one
# (column `percent_of_matmul`). The headline run, the same day, measured
# {glue:text}`headline_fastest_percent`% for the fastest recipe; the folded
# cell above prints why they disagree: the matrix product's rate on two
# threads moved between the runs by more than a tenth, the recipe's own rate
# by less.
#
# Why so far below a large product? Not because of the recurrent product
# itself: one step's 64 x 100 by 100 x 300 product alone runs close to the
# large product's rate (the headline run's notes give both). Around it sit
# the gates' element-wise operations, which do little arithmetic per byte
# they move, and the 25 steps of an iteration depend on each other; this
# page does not measure how the time splits between them. Doubling the
# independent work per step, with a batch of 128 x 25, raised the speed only
# to {glue:text}`wide_batch_speed` times this chapter's recipe's. The next
# chapter spreads the work over several processes instead.

# %% [markdown]
# ## Summary
#
# - A recipe's time to a target is the characters it needs times its time
#   per character. Of the single changes tried, the head start, which cuts
#   the characters, shortened the time to the target by the largest
#   factor, more than any change that raises the speed.
# - Short chunks of many streams are faster per character and need no
#   more characters; a second thread, bfloat16 and a fused C++ time loop
#   raise the speed, `torch.compile` and fused Adam did not here.
# - A percentage of a matrix product's rate is only as steady as that
#   reference, which moved by more than a tenth between two runs on the
#   same day.
#
# ## Exercises
#
# ````{exercise} LSTM against GRU
# :label: ex-06-6-levers-1
# `CharRNN(cell="lstm")` swaps the GRU for an LSTM, which has a cell state
# besides the hidden state and four gate blocks in its weights where the GRU
# has three. Train both with `train_tbptt` for the same number of iterations:
# which reaches the lower validation loss, and which takes longer per
# iteration?
# ````
#
# ````{solution-start} ex-06-6-levers-1
# :class: dropdown
# ````
# 150 iterations each, with the chapter's recipe planned for 150 (a short run, so that the
# solution stays quick; the ranking can change with longer training):

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): two short training runs.
# The assertions check the claims.
short_runs = {}
for cell in ("gru", "lstm"):
    torch.manual_seed(123)
    cell_model = init_unigram_bias(CharRNN(cell=cell).to(device), train_data)
    train_tbptt(cell_model, train_data, 150)
    short_runs[cell] = validation_loss(cell_model, valid_data)
    print(f"{cell}: validation loss {short_runs[cell]:.3f}")
assert all(loss < 2.3 for loss in short_runs.values())
assert short_runs["gru"] < short_runs["lstm"]

# %% [markdown]
# Both learn, and after 150 iterations the GRU is a little ahead. One short
# run each is no fair test of speed, though: its time depends on what else
# the machine is doing and on which run came first. Three rounds of 20
# iterations each, in alternation:


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): timings. The folded cell
# after the text compares them; this one checks that each was measured.
def ms_per_iteration(cell: str, iterations: int = 20) -> float:
    """The time per `tbptt_step` of a fresh model, after 3 warm-up steps."""
    torch.manual_seed(123)
    net = CharRNN(cell=cell).to(device)
    adam = torch.optim.Adam(net.parameters(), lr=0.01)
    state = None
    for i in range(iterations + 3):
        if i == 3:
            tu.synchronize(device)
            start = time.perf_counter()
        x, y, new_pass = consecutive_batch(train_data, 64, 25, i)
        _, state = tbptt_step(
            net, adam, x, y, None if new_pass else state, 0.01
        )
    tu.synchronize(device)
    return 1000 * (time.perf_counter() - start) / iterations


rounds = {"gru": [], "lstm": []}
for _ in range(3):
    for cell, times in rounds.items():
        times.append(ms_per_iteration(cell))
medians = {cell: sorted(times)[1] for cell, times in rounds.items()}
for cell, ms in medians.items():
    print(f"{cell}: median {ms:.1f} ms per iteration")
assert all(len(times) == 3 and min(times) > 0 for times in rounds.values())

# %% [markdown]
# On the CPU, with a PyTorch build that has the oneDNN library, the LSTM is
# the faster of the two, although its recurrent layer does a third more
# arithmetic per step (four gate blocks against three, so exactly 4/3 of the
# GRU layer's weights). The reason is the library: such builds run an LSTM
# layer on the CPU as one fused oneDNN operation, a single
# `MkldnnRnnLayerBackward0` node in the autograd graph, but have no such
# operation for the GRU, which runs as more than ten separate operations per
# time step. On a GPU both run in cuDNN.

# %% tags=["hide-input"]
# The text above: on the CPU with oneDNN the LSTM took less time per
# iteration; its layer has 4/3 of the GRU layer's weights; on the CPU it is
# one oneDNN operation and the GRU more than ten per step; on a GPU both are
# cuDNN operations.
onednn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
if device.type == "cpu" and onednn:
    assert medians["lstm"] < medians["gru"]
gru_layer, lstm_layer = CharRNN().rnn, CharRNN(cell="lstm").rnn
weights = {
    layer: sum(p.numel() for p in layer.parameters())
    for layer in (gru_layer, lstm_layer)
}
assert 3 * weights[lstm_layer] == 4 * weights[gru_layer]
x = torch.randn(64, 25, 100)
assert len(recorded_operations(gru_layer(x)[0])) > 10 * 25
if onednn:
    lstm_operations = recorded_operations(lstm_layer(x)[0])
    assert lstm_operations.count("MkldnnRnnLayerBackward0") == 1
if device.type == "cuda" and torch.backends.cudnn.is_available():
    for layer in (gru_layer, lstm_layer):
        outputs, _ = layer.to(device)(x.to(device))
        assert "CudnnRnnBackward0" in recorded_operations(outputs)

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} Sequence length
# :label: ex-06-6-levers-2
# Train with `seq_len` 25, 50 and 100, with `batch_size` 64, 32 and 16, so that every
# iteration sees 1,600 characters. How do the characters needed to reach the loop's loss and
# the characters per second change? Why does carrying the hidden state matter more for short
# chunks?
# ````
#
# ````{solution-start} ex-06-6-levers-2
# :class: dropdown
# ````
# The benchmark's levers table ran exactly these three, with the schedule of
# 1,500 iterations and the default bias, to the loop's plateau; the speed is
# the paired one, against 16 x 100 (which, timed against itself, need not be
# exactly 1):

# %%
shapes = (
    "batch 64 x 25 characters",
    "batch 32 x 50 characters",
    "the earlier recipe (baseline)",
)
for name in shapes:
    row = rows[name]
    shape = row["recipe"].split(",")[0]
    print(
        f"{shape:>14}: {row['characters_to_target']:.2f} M chars to"
        f" the target, speed {row['speed_vs_baseline']:.2f}x"
    )

# %% tags=["hide-input"]
# The text above: the three shapes, each with the schedule of 1,500
# iterations and the default bias.
recipes = [rows[name]["recipe"] for name in shapes]
assert [recipe.split(",")[0] for recipe in recipes] == [
    "64 x 25 chars",
    "32 x 50 chars",
    "16 x 100 chars",
]
assert all("schedule 1500," in recipe for recipe in recipes)
assert not any("unigram" in recipe for recipe in recipes)
# The text below: by the paired speed and by the unpaired column, the
# shorter the chunks the faster; the characters to the target stay within 5%
# of each other.
shape_speeds = [rows[name]["speed_vs_baseline"] for name in shapes]
assert shape_speeds[0] > shape_speeds[1] > shape_speeds[2], shape_speeds
unpaired = [rows[name]["kchars_per_second"] for name in shapes]
assert unpaired[0] > unpaired[1] > unpaired[2], unpaired
needed = [rows[name]["characters_to_target"] for name in shapes]
assert max(needed) <= 1.05 * min(needed), needed

# %% [markdown]
# Shorter chunks of more streams are faster, by the paired speed and by the
# unpaired thousands of characters per second alike: the same 1,600
# characters take 25 sequential GRU steps instead of 100, each on a larger
# matrix. Gradients now reach back
# only 25 characters, but the carried state still brings in everything before
# the chunk, so the characters needed stay about the same. Without the carried
# state, a chunk of 25 would start from zero every time and the model could use
# at most 25 characters of context; for chunks of 100 that loss is smaller.
#
# ````{solution-end}
# ````
