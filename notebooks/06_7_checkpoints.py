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
# # Checkpoints: training that survives interruption
#
# *Section 7 of [chapter 6](06_char_rnn.ipynb). Before: [the
# levers](06_6_levers.ipynb). Chapter 7 extends these checkpoints to
# several processes.*
#
# A run of 20,000 iterations is long enough to be killed by a reboot or a
# time limit. In this section we will save everything a run needs to go
# on, interrupt a run on purpose, resume it in what might be a new
# process, and check that, on the CPU, it ends with exactly the weights of
# a run that was never interrupted.

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
import torch
import torch.nn.functional as F
from torch import nn

import tutorial_utils as tu

# %%
import random
import tempfile
import textwrap
from pathlib import Path

from tutorial_utils.charrnn import CharRNN, split_train_validation

device = tu.get_device()
if device.type == "cpu":
    torch.set_num_threads(1)  # results that do not depend on the cores
print("PyTorch", torch.__version__, "| running on", device.type)
text = tu.clean_text(tu.load_novel_text())
train_data, _ = split_train_validation(tu.char_to_tensor(text))
train_data = train_data.to(device)

# %% [markdown]
# ## What a checkpoint holds
#
# `tu.train_resumable` calls a training step once per iteration and, every `checkpoint_every`
# iterations, saves a checkpoint: the model's and optimizer's state, the Python, NumPy and torch
# random-generator states, the iteration count and the losses so far. It writes to a temporary
# file and renames it into place, so a crash mid-write never leaves a broken file under the real
# name, and it reads checkpoints with `torch.load(..., weights_only=True)`, which refuses to
# unpickle anything but tensors, plain containers, primitive values and types explicitly allowed
# (PyTorch still advises never to load data from an untrusted source). It keeps the newest two
# checkpoints (`keep=2`) and deletes older ones. Started again on the same folder, it resumes from
# the newest checkpoint.
#
# The demonstration trains on mini-batches of random portions with one `GRU` call per batch:


# %% tags=["export"]
def random_training_batch(
    data: torch.Tensor, batch_size: int = 32, seq_len: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random portions: `(batch, seq_len)` inputs, targets.

    The starts come from torch's global CPU generator, so the batches are the
    same on every device.
    """
    if not (tu.is_count(batch_size) and tu.is_count(seq_len)):
        raise ValueError(
            "batch_size and seq_len must be integers of 1 or more,"
            f" got {batch_size!r} and {seq_len!r}"
        )
    if len(data) <= seq_len:
        raise ValueError(
            f"{len(data)} characters are too few for seq_len {seq_len}"
        )
    starts = torch.randint(0, len(data) - seq_len, (batch_size,)).to(
        data.device
    )
    chunks = data[
        starts[:, None] + torch.arange(seq_len + 1, device=data.device)
    ]
    return chunks[:, :-1], chunks[:, 1:]


def train_step_batched(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    clip_norm: float | None = None,
) -> float:
    """One update on a `(batch, time)` mini-batch, one GRU call for it."""
    optimizer.zero_grad()
    logits, _ = model(inputs)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    )
    loss.backward()
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.item()


# %% [markdown]
# One run is interrupted after 25 of 40 iterations and started again on the same folder, as a new
# process would be; another runs straight through.


# %%
def make_run(seed=123):
    random.seed(seed)
    torch.manual_seed(seed)
    run_model = CharRNN().to(device)
    optimizer = torch.optim.Adam(run_model.parameters(), lr=0.005)

    def step(iteration):
        return train_step_batched(
            run_model,
            optimizer,
            *random_training_batch(train_data, batch_size=16, seq_len=100),
            clip_norm=1.0,
        )

    return run_model, optimizer, step


class Interrupted(Exception):
    pass


with tempfile.TemporaryDirectory() as folder:
    run_model, optimizer, step = make_run()

    def step_then_crash(iteration):
        if iteration == 25:
            raise Interrupted
        return step(iteration)

    try:
        tu.train_resumable(
            run_model,
            optimizer,
            step_then_crash,
            40,
            Path(folder) / "run",
            checkpoint_every=10,
        )
    except Interrupted:
        print(
            "interrupted; on disk:",
            ", ".join(
                p.name for p in tu.list_checkpoints(Path(folder) / "run")
            ),
        )

    run_model, optimizer, step = make_run(
        seed=0
    )  # a new process: other weights, other generator states
    resumed_losses = tu.train_resumable(
        run_model,
        optimizer,
        step,
        40,
        Path(folder) / "run",
        checkpoint_every=10,
    )
    resumed = run_model

    straight, optimizer, step = make_run()
    straight_losses = tu.train_resumable(
        straight,
        optimizer,
        step,
        40,
        Path(folder) / "straight",
        checkpoint_every=10,
    )

print(
    f"resumed run: {len(resumed_losses)} losses, last {resumed_losses[-1]:.4f}"
)
identical = all(
    torch.equal(a, b)
    for a, b in zip(
        resumed.state_dict().values(), straight.state_dict().values()
    )
)
print(
    "parameters identical to the uninterrupted run:",
    identical and resumed_losses == straight_losses,
)
assert identical and resumed_losses == straight_losses

# %% [markdown]
# The resumed run continued from iteration 20, the newest checkpoint, with the generators in the
# state they had then, so it drew the same batches and, on this CPU run, ended with exactly the
# same weights. (On a GPU, some of cuDNN's and PyTorch's kernels are not deterministic, so a
# resumed run there can differ from an uninterrupted one in the last digits.)
#
# ## Summary
#
# - A checkpoint holds the model's and the optimizer's state, the random
#   generators' states, the iteration count and the losses so far.
# - Written to a temporary file and renamed into place, it is never half
#   written under its real name; read with `weights_only=True`, it loads
#   no arbitrary Python objects.
# - A run resumed from the newest checkpoint draws the same batches and,
#   on the CPU, ends with exactly the weights of an uninterrupted one.
#
# ## Exercises
#
# ````{exercise} A damaged checkpoint
# :label: ex-06-7-checkpoints-1
# Run 20 iterations with a checkpoint every 10, then cut the newest
# checkpoint file to half its size, as a crash in the middle of copying it
# might. What does `tu.train_resumable` say when asked to go on, and is the
# older checkpoint still usable?
# ````
#
# ````{solution-start} ex-06-7-checkpoints-1
# :class: dropdown
# ````

# %%
with tempfile.TemporaryDirectory() as folder:
    run_model, optimizer, step = make_run()
    tu.train_resumable(
        run_model, optimizer, step, 20, Path(folder), checkpoint_every=10
    )
    older, newest = tu.list_checkpoints(Path(folder))
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    before = [tensor.clone() for tensor in run_model.state_dict().values()]
    try:
        tu.train_resumable(
            run_model, optimizer, step, 30, Path(folder), checkpoint_every=10
        )
    except tu.CheckpointError as error:
        failure = str(error)
        first_sentence = failure.split(" (")[0].replace(folder, "<folder>")
        advice = failure.split("); ")[-1].replace(folder, "<folder>")
        print(textwrap.fill(f"{first_sentence} (...); {advice}", 79))
    after = list(run_model.state_dict().values())
    newest.unlink()
    run_model, optimizer, step = make_run(seed=0)
    losses = tu.train_resumable(
        run_model, optimizer, step, 30, Path(folder), checkpoint_every=10
    )
print(f"resumed from the older checkpoint: {len(losses)} losses")

# %% tags=["hide-input"]
# The text below: the error names the damaged file and the intact older
# one, and the run resumed from the older one went on to 30 iterations.
assert "truncated or corrupt" in failure and older.name in failure
assert newest.name in failure and len(losses) == 30
assert all(torch.equal(a, b) for a, b in zip(before, after))
assert older.name == tu.checkpoint_path(folder, 10).name

# %% [markdown]
# The error names the damaged file, says it is truncated or corrupt, and
# points at the previous checkpoint, which `keep=2` left in place; the
# model's weights were not changed by the damaged one. With it deleted, the run resumed from
# iteration 10 and went on to 30.
#
# ````{solution-end}
# ````
#
# ````{exercise} How often to save
# :label: ex-06-7-checkpoints-2
# A run that crashes at iteration 25 redoes the iterations since its
# newest checkpoint. How many does it redo with `checkpoint_every` 10, 5
# and 1, and what does saving that often cost? Count the checkpoints
# written over 40 iterations.
# ````
#
# ````{solution-start} ex-06-7-checkpoints-2
# :class: dropdown
# ````

# %%
for every in (10, 5, 1):
    with tempfile.TemporaryDirectory() as folder:
        run_model, optimizer, step = make_run()
        calls = []

        def counted(iteration):
            calls.append(iteration)
            if iteration == 25 and len(calls) == 26:  # the first time only
                raise Interrupted
            return step(iteration)

        for attempt in range(2):
            try:
                tu.train_resumable(
                    run_model, optimizer, counted, 40, Path(folder), every
                )
            except Interrupted:
                pass
        redone = len(calls) - 1 - 40  # the interrupted call did nothing
        written = len(range(every, 41, every))
    print(f"every {every:2d}: redid {redone} iterations, wrote {written}")

# %% [markdown]
# Interrupted as it starts iteration 25 (after 25 finished), the run
# resumed from its newest checkpoint: every 10, that was iteration 20, and
# 5 iterations were done twice; every 5 or every 1, none. Saving every
# iteration writes 40 checkpoints, each a full copy of the model and the
# optimizer's state; saving every 10 writes 4, and a crash just before a
# save redoes up to 9 iterations (10, if it strikes during the save). The
# right interval makes the time spent writing small beside the time a
# crash would cost.
#
# ````{solution-end}
# ````
