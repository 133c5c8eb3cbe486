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
# # Back-propagation through time, and the original loop
#
# *Section 3 of [chapter 6](06_char_rnn.ipynb). Before: [recurrent
# networks, by hand](06_2_recurrent_networks.ipynb). Next: [truncated BPTT
# and a training recipe](06_4_truncated_bptt.ipynb).*
#
# *"The original" is the chapter's source, the blog post "Deep learning
# models implemented in pytorch and TF" (2024), named in
# [section 1](06_char_rnn.ipynb).*
#
# A recurrent network is trained like any other network, by gradient
# descent on its loss; the only new thing is how the gradient flows back
# through the steps. In this section we will
#
# 1. unroll the network over a sequence and follow its gradient back
#    through time;
# 2. train the chapter's model as the original does: one random
#    200-character portion per iteration, the GRU stepped one character at
#    a time, and time it;
# 3. write the validation loss that scores every model of the chapter;
# 4. sample text at a temperature;
# 5. read the recorded full runs of the loop, and the *plateau* they
#    settle on: the target of everything that follows.

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
import random

import torch
import torch.nn.functional as F

import tutorial_utils as tu

# %%
import math
import statistics
import textwrap
import time

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch

from tutorial_utils.charrnn import (
    CharRNN,
    bits_per_char,
    split_train_validation,
)

device = tu.get_device()
if device.type == "cpu":
    torch.set_num_threads(1)  # results that do not depend on the cores
print(
    "PyTorch",
    torch.__version__,
    "| running on",
    device.type,
    "| CPU threads:",
    torch.get_num_threads(),
)
text = tu.clean_text(tu.load_novel_text())
train_data, valid_data = split_train_validation(tu.char_to_tensor(text))
train_data, valid_data = train_data.to(device), valid_data.to(device)

# %% [markdown]
# On the CPU the notebook uses one thread, so that its results do not
# depend on the number of cores. The model, its data split and
# `bits_per_char` come from sections 1 and 2.
#
# ## The network unrolled
#
# Fed a sequence $x_1, \dots, x_T$, the network applies the same step
# $T$ times. Drawn with one copy per step, it is an ordinary deep network
# of depth $T$ whose layers share their weights: the *unrolled* graph.
# Each step's state feeds the next step and a prediction; each prediction
# has a loss against the next character, and the training loss is their
# mean, $L = \frac{1}{T}\sum_t L_t$.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(8.5, 3.4))
steps = ["1", "2", "3", "T"]
for i, step in enumerate(steps):
    x = 1.6 + 2.0 * i
    ax.text(x, 0, f"$x_{step}$", ha="center", va="center", fontsize=12)
    ax.text(
        x,
        1.4,
        f"$h_{step}$",
        ha="center",
        va="center",
        fontsize=12,
        bbox=dict(boxstyle="round", facecolor="#d5ecc2"),
    )
    ax.text(
        x,
        2.8,
        f"$L_{step}$",
        ha="center",
        va="center",
        fontsize=12,
        bbox=dict(boxstyle="round", facecolor="#fde0c5"),
    )
    for start, end in (((x, 0.25), (x, 1.1)), ((x, 1.7), (x, 2.5))):
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12)
        )
    ax.add_patch(
        FancyArrowPatch(
            (x + 0.25, 2.5),
            (x + 0.25, 1.7),
            arrowstyle="-|>",
            mutation_scale=12,
            color="C3",
            linestyle="--",
        )
    )
ax.text(-0.4, 1.4, "$h_0 = 0$", ha="center", va="center", fontsize=12)
for i in range(len(steps)):
    start, end = -0.4 + 2.0 * i + (0.5 if i == 0 else 0.35), 1.6 + 2.0 * i
    label = "..." if i == len(steps) - 1 else ""
    ax.add_patch(
        FancyArrowPatch(
            (start, 1.4),
            (end - 0.35, 1.4),
            arrowstyle="-|>",
            mutation_scale=12,
        )
    )
    ax.add_patch(
        FancyArrowPatch(
            (end - 0.35, 1.2),
            (start, 1.2),
            arrowstyle="-|>",
            mutation_scale=12,
            color="C3",
            linestyle="--",
        )
    )
    ax.text((start + end) / 2 - 0.2, 1.6, label, ha="center")
ax.text(
    4.6,
    -0.75,
    "forward: black; the gradient flows back: red, dashed",
    ha="center",
)
ax.set_xlim(-1, 8.4)
ax.set_ylim(-1.1, 3.3)
ax.axis("off")
ax.set_title("The recurrent network unrolled over T steps")
plt.show()

# %% [markdown]
# Back-propagation through this graph is *back-propagation through time*
# (BPTT): the gradient of each $L_t$ flows down into $h_t$ and then back
# along the chain of states to $h_1$, and since every step uses the same
# weights, each weight's gradient is the sum of its gradients at all
# steps. Autograd does it without being told: it records every step's
# operations (`recorded_operations` walks that record back from a result
# and lists it) and walks them back. The loss of the *last* step alone
# already reaches the embedding of the *first* character:


# %% tags=["export"]
def recorded_operations(tensor: torch.Tensor) -> list[str]:
    """The names of the operations autograd recorded to compute `tensor`."""
    seen, todo = set(), [tensor.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:
            seen.add(node)
            todo.extend(parent for parent, _ in node.next_functions)
    return [type(node).__name__ for node in seen]


# %%
torch.manual_seed(123)
model = CharRNN().to(device)
inputs = tu.char_to_tensor("It was the best of times").to(device)
logits, _ = model(inputs[:-1].view(1, -1))
last_loss = F.cross_entropy(logits[0, -1:], inputs[-1:])
last_loss.backward()
first_row = model.embedding.weight.grad[inputs[0]]
print(
    f"gradient reaching the first character's embedding:"
    f" {first_row.norm():.1e}"
)

# %% tags=["hide-input"]
# The text above: a gradient of the last step's loss reaches the first
# character, through 22 steps of the state.
assert first_row.norm() > 0 and len(inputs) - 2 == 22

# %% [markdown]
# It fades with distance, as in section 2, but it is there: BPTT
# carries credit back as far as the sequence goes, at the price of keeping
# every step's intermediate results in memory until the backward pass.
#
# ## Training as the original does it
#
# Each iteration picks a random 201-character portion of the training
# text (the original calls such a function but never defines it; ours
# draws the start with `random.randint(0, len(train_data) - 201)`, so
# every portion lies in the training text). Its first
# 200 characters are the inputs and its last 200 the targets: the target
# at each step is the next character.


# %% tags=["export"]
def random_training_pair(
    data: torch.Tensor, seq_len: int = 200, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random portion of `seq_len + 1` characters: inputs, targets."""
    if not tu.is_count(seq_len):
        raise ValueError(
            f"seq_len must be an integer of 1 or more, got {seq_len!r}"
        )
    if len(data) <= seq_len:
        raise ValueError(
            f"{len(data)} characters are too few for seq_len {seq_len}"
        )
    start = (rng or random).randint(0, len(data) - seq_len - 1)
    chunk = data[start : start + seq_len + 1]
    return chunk[:-1], chunk[1:]


# %%
random.seed(123)
inputs, targets = random_training_pair(train_data, seq_len=200)
print("inputs: ", repr(tu.tensor_to_text(inputs[:50])))
print("targets:", repr(tu.tensor_to_text(targets[:50])))

# %% [markdown]
# The original's training step starts from the zero state, feeds the 200
# characters one at a time, each through its own call of the GRU, adds up
# the per-step losses, divides by 200, back-propagates through all 200
# steps and lets the optimizer update the weights:


# %% tags=["export"]
def train_step_loop(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
) -> float:
    """One update as the original does it: the GRU stepped per character."""
    if len(inputs) < 1:  # the mean loss of no characters is 0/0
        raise ValueError(
            f"inputs must hold at least one character, got {len(inputs)}"
        )
    hidden = model.init_hidden(1, inputs.device)
    optimizer.zero_grad()
    loss = torch.zeros((), device=inputs.device)
    for step in range(len(inputs)):
        logits, hidden = model(inputs[step].view(1, 1), hidden)
        loss = loss + F.cross_entropy(
            logits.view(1, -1), targets[step].view(1)
        )
    loss = loss / len(inputs)
    loss.backward()
    optimizer.step()
    return loss.item()


# %% [markdown]
# The original trains for 20,000 iterations with Adam at learning rate
# 0.005. We train for 100 here and time them.

# %%
random.seed(123)
torch.manual_seed(123)
loop_model = CharRNN().to(device)
loop_optimizer = torch.optim.Adam(loop_model.parameters(), lr=0.005)
loop_iterations = 100
start = time.perf_counter()
for iteration in range(1, loop_iterations + 1):
    loss = train_step_loop(
        loop_model, loop_optimizer, *random_training_pair(train_data, 200)
    )
    if iteration % 25 == 0:
        print(f"iteration {iteration:3d} | training loss {loss:.3f}")
loop_seconds_per_iteration = (time.perf_counter() - start) / loop_iterations
print(f"time per iteration: {loop_seconds_per_iteration * 1000:.1f} ms")
full_minutes = loop_seconds_per_iteration * 20_000 / 60
print(
    f"the full schedule of 20,000 iterations would take {full_minutes:.1f} min"
)

# %% [markdown]
# Each iteration makes 200 separate GRU calls forward, each on a single
# character, so every matrix product of the forward pass has a single
# row, and the backward pass walks back through all 200 steps. (The
# losses are printed to 3 decimals, a precision at which the book's
# tests find the same digits on two floating-point paths.)
#
# ## The validation loss
#
# The yardstick for every network in this chapter reads the whole held-out
# text as one stream from the zero state, 5,000 characters per GRU call
# with the state carried over (as section 2 showed, continuing from the
# last state gives what one long call gives, to within 1e-6), and
# averages the cross-entropy
# of predicting every character from all those before it:


# %% tags=["export", "twin-loss"]
@torch.no_grad()
def validation_loss(
    model: CharRNN, data: torch.Tensor, chunk_len: int = 5000
) -> float:
    """Mean cross-entropy (nats/char) of each character given those before."""
    if data.dim() != 1 or len(data) < 2:  # one text, read as one stream
        raise ValueError(
            "data must be a 1-D text of at least 2 characters,"
            f" got shape {tuple(data.shape)}"
        )
    if not tu.is_count(chunk_len):  # below 1, no chunk would be scored
        raise ValueError(
            f"chunk_len must be an integer of 1 or more, got {chunk_len!r}"
        )
    was_training = model.training
    model.eval()
    hidden = model.init_hidden(1, data.device)
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    for start in range(0, len(data) - 1, chunk_len):
        inputs = data[start : min(start + chunk_len, len(data) - 1)]
        targets = data[start + 1 : start + 1 + len(inputs)]
        logits, hidden = model(inputs.view(1, -1), hidden)
        total += F.cross_entropy(
            logits.view(-1, logits.shape[-1]), targets, reduction="sum"
        ).double()
    model.train(was_training)
    return total.item() / (len(data) - 1)


# %%
loop_loss = validation_loss(loop_model, valid_data)
print(
    f"after {loop_iterations} iterations: validation loss {loop_loss:.4f}"
    f" nats/char = {bits_per_char(loop_loss):.3f} bits/char"
)


# %% tags=["hide-input"]
# The text below: better than section 1's bigram model, worse than its
# trigram model (add-one smoothing, as there).
def counting_loss(n: int) -> float:
    train, valid = train_data.cpu(), valid_data.cpu()
    runs = [train[k : len(train) - n + 1 + k] for k in range(n)]
    wanted = [valid[k : len(valid) - n + 1 + k] for k in range(n)]
    index = sum(run * 100 ** (n - 1 - k) for k, run in enumerate(runs))
    counts = torch.bincount(index, minlength=100**n).double() + 1
    counts = counts.view(-1, 100)
    p = counts / counts.sum(dim=1, keepdim=True)
    context = sum(w * 100 ** (n - 2 - k) for k, w in enumerate(wanted[:-1]))
    return -p[context, wanted[-1]].log().mean().item()


assert counting_loss(3) < loop_loss < counting_loss(2)
tu.glue("loop_100_validation_loss", round(loop_loss, 4))

# %% [markdown]
# After 100 iterations the model already predicts the held-out text
# better than section 1's bigram model, which looks one character back,
# and worse than its trigram model, which looks two back.
#
# ## Generating text
#
# To write, we prime the model with a string (`Th`), then repeatedly turn
# the last logits into probabilities, draw the next character, and feed it
# back in. A *temperature* $\tau$ divides the logits before the softmax,
# $p_c \propto \exp(\text{logit}_c / \tau)$: below 1 it sharpens the
# distribution towards the likeliest characters, above 1 it flattens it.
# The loop model's probabilities for the character after `Th`:

# %%
with torch.no_grad():
    logits, _ = loop_model(tu.char_to_tensor("Th").to(device).view(1, -1))
top = torch.softmax(logits[0, -1].double().cpu(), dim=0).topk(6).indices
fig, ax = plt.subplots(figsize=(7, 2.8))
for offset, temperature in zip((-0.27, 0, 0.27), (0.5, 1.0, 1.5)):
    p = torch.softmax(logits[0, -1].double().cpu() / temperature, dim=0)
    ax.bar(
        torch.arange(6) + offset,
        p[top],
        width=0.27,
        label=f"temperature {temperature}",
    )
ax.set_xticks(range(6), [repr(tu.PRINTABLE[i]) for i in top])
ax.set_ylabel("probability")
ax.set_title("The next character after 'Th', at three temperatures")
ax.legend()
plt.show()

# %% [markdown]
# The sampler draws with its own seeded generator on the CPU, so a given
# model with a given seed writes the same text each time it is asked
# (checked below, twice in a row).


# %% tags=["export"]
@torch.no_grad()
def sample_text(
    model: CharRNN,
    prime: str = "Th",
    length: int = 200,
    temperature: float = 0.8,
    seed: int = 123,
) -> str:
    """`prime` and `length` characters from `softmax(logits / temperature)`."""
    if not prime:  # the model needs at least one character to start from
        raise ValueError("prime must contain at least one character")
    if not tu.is_count(length, 0):
        raise ValueError(
            f"length must be an integer of 0 or more, got {length!r}"
        )
    if not temperature > 0:  # 0 would divide by zero: use 0.1 for near-greedy
        raise ValueError(f"temperature must be > 0, got {temperature}")
    was_training = model.training
    model.eval()
    device = model.fc.weight.device
    generator = torch.Generator().manual_seed(seed)
    logits, hidden = model(tu.char_to_tensor(prime).to(device).view(1, -1))
    drawn = []
    for _ in range(length):
        probabilities = torch.softmax(
            logits[0, -1].double().cpu() / temperature, dim=0
        )
        index = torch.multinomial(probabilities, 1, generator=generator)
        drawn.append(index)
        logits, hidden = model(index.to(device).view(1, 1), hidden)
    model.train(was_training)
    return prime + tu.tensor_to_text(
        torch.cat(drawn) if drawn else torch.zeros(0, dtype=torch.long)
    )


# %%
loop_sample = sample_text(
    loop_model, prime="Th", length=200, temperature=0.8, seed=123
)
print(textwrap.fill(loop_sample, 79))
assert sample_text(loop_model, "Th", 200, 0.8, seed=123) == loop_sample

# %% [markdown]
# After 100 iterations the model has learned frequent letters, spaces and
# a few short words.
#
# ## The loop's full run, and its plateau
#
# For the full 20,000-iteration schedule we do not wait here: the
# benchmark script `benchmarks/char_rnn_benchmark.py --full` ran it with
# three seeds and recorded the validation loss every 160 iterations
# (32,000 characters) in `benchmarks/results/char_rnn_full.json`. Its loss
# barely changes in the second half of the schedule (every check there
# within 0.03 of the median of its last five) and hovers, so no single check is *the* result. We take the
# loop's *plateau*: the highest of the three seeds' medians of their last
# five checks, rounded up to 0.01. At least three of every seed's last
# five checks lie at or below it, so every seed reaches it; it is the
# target of everything that follows.

# %%
loop_curves = {}
for row in tu.benchmark_result("char_rnn_full")["rows"]:
    loop_curves.setdefault(row["seed"], []).append(row)
medians = {
    seed: statistics.median(row["validation_loss"] for row in curve[-5:])
    for seed, curve in loop_curves.items()
}
target_loss = math.ceil(round(max(medians.values()) * 100, 6)) / 100
fig, ax = plt.subplots(figsize=(7, 3.5))
for seed, curve in loop_curves.items():
    ax.plot(
        [row["iteration"] for row in curve[1:]],
        [row["validation_loss"] for row in curve[1:]],
        label=f"seed {seed}: median of last five {medians[seed]:.4f}",
    )
ax.axhline(
    target_loss,
    color="gray",
    linestyle="--",
    label=f"the plateau, {target_loss:.2f} nats/char",
)
ax.set_ylim(1.55, 2.4)
ax.set_xlabel("iteration")
ax.set_ylabel("validation loss (nats/char)")
ax.set_title("The original loop, 20,000 iterations, three seeds")
ax.legend()
plt.show()

# %% tags=["hide-input"]
# The text above: three seeds, each to 20,000 iterations, checked every
# 160; at least three of every seed's last five checks at or below the
# plateau; every second-half check within 0.03 of the last five's median.
assert len(loop_curves) == 3
for curve in loop_curves.values():
    checks = [row["iteration"] for row in curve]
    assert checks == list(range(0, 20_001, 160))
    below = [r for r in curve[-5:] if r["validation_loss"] <= target_loss]
    assert len(below) >= 3
    last_five = statistics.median(r["validation_loss"] for r in curve[-5:])
    second_half = [r for r in curve if r["iteration"] >= 10_000]
    assert all(
        abs(r["validation_loss"] - last_five) < 0.03 for r in second_half
    )
assert target_loss == tu.benchmark_result("char_rnn")["headline_target"]
tu.glue("loop_plateau", target_loss)

# %% [markdown]
# The plateau, {glue:text}`loop_plateau` nats/char, is where 20,000
# iterations of the original recipe get. Section 4 trains the same model
# below it in 700 iterations, and section 5 times both.
#
# ## Summary
#
# - Unrolled over a sequence, a recurrent network is a deep network whose
#   layers share weights; back-propagation through time is ordinary
#   back-propagation on that graph, and it keeps every step in memory.
# - The original trains on one random 200-character portion per
#   iteration, stepping the GRU one character at a time: 200 small GRU
#   calls forward per iteration, and a backward pass through all of them.
# - The validation loss reads the held-out text as one stream; sampling
#   divides the logits by a temperature before drawing.
# - Over 20,000 iterations the loop settles on a plateau: the chapter's
#   target.
#
# ## Exercises
#
# ````{exercise} How many characters to choose from
# :label: ex-06-3-bptt-1
# The entropy $H = -\sum_c p_c \log p_c$ of a next-character
# distribution says how uncertain the model is; $e^H$ is the number of
# equally likely characters that would be as uncertain. Compute $e^H$ for
# the loop model's distribution after `Th` at temperatures 0.5, 1 and 1.5.
# ````
#
# ````{solution-start} ex-06-3-bptt-1
# :class: dropdown
# ````

# %%
effective = {}
for temperature in (0.5, 1.0, 1.5):
    log_p = torch.log_softmax(logits[0, -1].double().cpu() / temperature, 0)
    entropy = -(log_p.exp() * log_p).sum().item()
    effective[temperature] = math.exp(entropy)
    print(
        f"temperature {temperature}: like {effective[temperature]:.1f}"
        " equally likely characters"
    )

# %% tags=["hide-input"]
# The text below: the number rises with the temperature.
numbers = list(effective.values())
assert numbers == sorted(numbers) and len(set(numbers)) == 3

# %% [markdown]
# The number rises with the temperature: dividing the logits by a larger
# $\tau$ flattens the distribution, and at any $\tau$ above 0 it stays
# between 1 (all probability on one character) and 100 (a uniform guess).
# Sampling at a temperature is choosing how many characters, in effect,
# the model picks among.
#
# ````{solution-end}
# ````
#
# ````{exercise} The memory BPTT needs
# :label: ex-06-3-bptt-2
# Count the operations autograd records for one `train_step_loop`-style
# forward pass over 50, 100 and 200 characters (with
# `recorded_operations`). How does the count grow with the length?
# ````
#
# ````{solution-start} ex-06-3-bptt-2
# :class: dropdown
# ````


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the counts depend on the
# device (on a GPU, cuDNN records a GRU step as one operation). The
# assertion in the folded cell below checks the claim.
counts = {}
for length in (50, 100, 200):
    hidden, loss = loop_model.init_hidden(1, device), 0
    for step in range(length):
        logits, hidden = loop_model(inputs[step].view(1, 1), hidden)
        step_target = targets[step : step + 1]
        loss = loss + F.cross_entropy(logits.view(1, -1), step_target)
    counts[length] = len(recorded_operations(loss))
    print(f"{length} characters: {counts[length]:,} recorded operations")
assert counts[200] > counts[100] > counts[50]

# %% tags=["hide-input"]
# The text below: the count grows linearly, by the same number per
# character.
per_char = (counts[200] - counts[100]) / 100
assert per_char == (counts[100] - counts[50]) / 50 > 0

# %% [markdown]
# The count grows by the same number per character from 50 to 100
# characters as from 100 to 200: the graph, and
# the intermediate results it keeps for the backward pass, grow linearly
# with the length of the sequence. Back-propagating through a whole novel
# at once is out of the question; section 4 cuts the graph into pieces.
#
# ````{solution-end}
# ````
