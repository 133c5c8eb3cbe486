# ---
# jupyter:
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
# # Data-parallel training with `torch.distributed`
#
# Chapter 6 trained the character-level GRU in one process. When one process is not enough, the
# usual next step is *data parallelism*: start several processes, give each a full copy of the
# model and a different part of every batch, and average their gradients before each update, so
# that all copies take the same step and stay identical. PyTorch's engine for this is
# `torch.distributed` with `DistributedDataParallel` (DDP), launched by `torchrun`; it speaks
# *gloo* between CPU processes and *NCCL* between GPUs. In this chapter we
#
# 1. run a minimal DDP training loop, one short file, on two processes and
#    see the two copies of the model end bit for bit identical;
# 2. write a training script for chapter 6's model, training step and
#    learning-rate schedule, written to run unchanged on one process or many,
#    on CPUs or GPUs, on one machine or several (the book runs it on the CPU of
#    one machine);
# 3. launch it with `torchrun --standalone --nproc_per_node=2` and check that
#    the two copies of the model end bit for bit identical, and that two
#    processes agree with one process at the same global batch to within
#    $10^{-5}$ after 30 updates;
# 4. measure what two processes gain on a small CPU, and what too many threads
#    cost;
# 5. checkpoint at one world size and resume at another;
# 6. survive a killed worker with `torchrun --max-restarts`, and fail fast when a rank dies.
#
# ## How data parallelism works
#
# Each of the $W$ processes (*ranks*) holds a replica of the model. For one update, the global
# batch of $B$ sequences is split into $W$ shards of $B/W$; rank $r$ computes the loss $L_r$ of its
# shard and its gradient. DDP then *all-reduces* the gradients: every rank receives their mean,
#
# $$\bar g = \frac{1}{W}\sum_{r=0}^{W-1} \nabla L_r = \nabla \Big(\frac{1}{W}\sum_{r} L_r\Big),$$
#
# which, with equal shards, is in exact arithmetic the gradient of the mean loss
# over the whole global batch: the update one process would make on all $B$
# sequences (in floating point, up to rounding; measured below).
# Every rank applies the same update to the same parameters, so the replicas
# never drift apart. The figure draws one update on two ranks.

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

# %% tags=["hide-input"]
# The figure: drawing it is bookkeeping; what it shows is in the text
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch


def draw_ddp(ax) -> None:
    """Two ranks: shards, replicas, gradients, the all-reduce, the steps."""

    def box(x, y, width, text, colour, height=2.0):
        outline = FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle="round,pad=0.08",
            facecolor=colour,
            edgecolor="0.3",
        )
        ax.add_patch(outline)
        middle = (x + width / 2, y + height / 2)
        ax.text(*middle, text, ha="center", va="center", linespacing=1.5)

    def arrow(x0, x1, y):
        ax.add_patch(
            FancyArrowPatch(
                (x0, y), (x1, y), arrowstyle="-|>", mutation_scale=14
            )
        )

    step = "step with $\\bar g$:\nidentical\nparameters"
    for rank, (y, colour) in enumerate([(4.4, "#cfe2f3"), (1.0, "#fce5cd")]):
        shard = f"shard {rank}:\n$B/2$ of the\nglobal batch"
        gradient = f"forward and\nbackward:\ngradient $g_{rank}$"
        box(0.0, y, 2.5, shard, colour)
        box(3.2, y, 2.5, f"rank {rank}:\nreplica of\nthe model", colour)
        box(6.4, y, 2.7, gradient, colour)
        box(12.7, y, 2.5, step, colour)
        for x0, x1 in [(2.6, 3.1), (5.8, 6.3), (9.2, 9.7), (12.0, 12.6)]:
            arrow(x0, x1, y + 1.0)
    mean = "$\\bar g = \\dfrac{g_0 + g_1}{2}$"
    all_reduce = f"all-reduce:\n\n{mean}\n\non every\nrank"
    box(9.8, 1.0, 2.1, all_reduce, "#d9ead3", height=5.4)
    ax.text(
        7.6,
        0.1,
        "Only the shards' data differ: every update starts from, and ends"
        " with, identical replicas.",
        ha="center",
    )
    ax.set_xlim(-0.15, 15.35)
    ax.set_ylim(-0.1, 6.6)
    ax.axis("off")


fig, ax = plt.subplots(figsize=(8, 3.8))
fig.subplots_adjust(left=0, right=1, bottom=0, top=0.92)
draw_ddp(ax)
ax.set_title("One update of DistributedDataParallel on two ranks")
plt.show()

# %% [markdown]
# The shards are cut by the training script; DDP itself never splits a batch,
# it only averages the gradients (`torch/nn/parallel/distributed.py`). For a
# large model it groups the gradients into buckets and, from the second
# iteration on (the first builds the buckets), all-reduces each bucket as soon
# as its gradients are ready, overlapping communication with the rest of the
# backward pass. This
# chapter's model is too small for that: its 80,700 gradients, 323 kB in
# float32, fit in DDP's first bucket, which holds up to 1 MiB, so one
# all-reduce per backward pass carries them all (a folded cell counts them),
# and it starts only once the backward pass has produced the last of them.

# %% tags=["hide-input"]
# Checks of the text: the model's 80,700 gradients take 322,800 bytes, less
# than DDP's first bucket (1 MiB); a process group of one rank in this kernel
# counts the all-reduces of two backward passes with a communication hook:
# one each, carrying every parameter's gradient
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import (
    allreduce_hook,
)
from torch.nn.parallel import DistributedDataParallel

from tutorial_utils.charrnn import CharRNN

probe_model = CharRNN()
gradient_bytes = [
    p.numel() * p.element_size() for p in probe_model.parameters()
]
assert sum(p.numel() for p in probe_model.parameters()) == 80_700
assert sum(gradient_bytes) == 322_800 < dist._DEFAULT_FIRST_BUCKET_BYTES
assert dist._DEFAULT_FIRST_BUCKET_BYTES == 2**20
all_reduces = []


def counted(state, bucket):
    all_reduces.append(len(bucket.parameters()))
    return allreduce_hook(None, bucket)  # None: the default process group


dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
try:
    probe_ddp = DistributedDataParallel(probe_model)
    probe_ddp.register_comm_hook(None, counted)
    codes = torch.arange(8 * 21).view(8, 21) % probe_model.vocab_size
    for _ in range(2):
        logits, _ = probe_ddp(codes[:, :-1])
        targets = codes[:, 1:].flatten()
        F.cross_entropy(logits.flatten(0, 1), targets).backward()
finally:
    dist.destroy_process_group()
assert all_reduces == [len(gradient_bytes)] * 2

# %% [markdown]
# **Does the learning rate change with the number of processes?** Not here. We keep the *global*
# batch fixed (`--batch-size` is the global batch, split over the ranks), so every update is the
# same as one process's update on the same batch, and so is the right learning rate. If instead
# each rank kept its own batch size and the global batch grew with $W$, each step would average
# over more data, and the learning rate would need tuning again: a common
# starting point raises it with the batch, with a longer warm-up (this chapter
# does not test that).
#
# ## A minimal DDP training loop
#
# The whole mechanism fits in one short file. Every rank runs all of it:
#
# - it picks its device and backend: a GPU of its own and NCCL where the
#   machine has a GPU for each of its ranks, otherwise the CPU and gloo;
# - `dist.init_process_group` joins the other ranks, at the address that
#   torchrun passes to every rank in its environment;
# - the same seed on every rank builds the same model, chapter 6's `CharRNN`,
#   which `DistributedDataParallel` wraps;
# - `batch.chunk(world)[rank]` takes the rank's own shard of one global batch,
#   the novel's first 8 sequences of 21 characters (4 per rank on two ranks);
# - three SGD steps, each rank noting the loss of its own shard;
# - at the end `dist.all_gather` hands every rank all ranks' parameters, which
#   it compares with its own bit for bit (`torch.equal`); the ranks print
#   their results in turn, one rank at a time, since lines that several
#   processes print at the same moment can mix; rank 0 saves the parameters,
#   since one copy is all there is.
#
# IPython's `%%writefile`, the first line of the cell below, writes the file,
# `minimal_ddp.py` (the book writes it into a scratch folder, so that the
# runs' files stay out of the book's repository).

# %% tags=["hide-cell"]
# The book's scratch folder, removed with the kernel: the minimal loop's file
# and the parameters it saves go there, not into the repository
import os
import tempfile

scratch = tempfile.TemporaryDirectory(prefix="ddp-minimal-")
os.chdir(scratch.name)

# %%
# %%writefile minimal_ddp.py
import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import tutorial_utils as tu
from tutorial_utils.charrnn import CharRNN

# a GPU for each of this machine's ranks: NCCL; otherwise the CPU and gloo
local_rank = int(os.environ["LOCAL_RANK"])
on_gpus = torch.cuda.device_count() >= int(os.environ["LOCAL_WORLD_SIZE"])
device = torch.device("cuda", local_rank) if on_gpus else torch.device("cpu")
if on_gpus:
    torch.cuda.set_device(device)
dist.init_process_group("nccl" if on_gpus else "gloo")  # torchrun's env://
rank, world = dist.get_rank(), dist.get_world_size()

text = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
batch = text[: 8 * 21].view(8, 21).to(device)  # the same on every rank
mine = batch.chunk(world)[rank]  # this rank's shard
torch.manual_seed(0)  # the same initial weights on every rank
model = DistributedDataParallel(CharRNN().to(device))
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
losses = []
for _ in range(3):
    logits, _ = model(mine[:, :-1])
    loss = F.cross_entropy(logits.flatten(0, 1), mine[:, 1:].flatten())
    optimizer.zero_grad()
    loss.backward()  # DDP all-reduces the gradients: every rank gets the mean
    optimizer.step()
    losses.append(round(loss.item(), 3))

flat = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
copies = [torch.empty_like(flat) for _ in range(world)]
dist.all_gather(copies, flat)
same = all(torch.equal(copy, flat) for copy in copies)
for turn in range(world):  # one rank at a time, or their lines could mix
    if rank == turn:
        print(f"rank {rank}: losses of its shard {losses}", flush=True)
        print(f"  parameters identical on every rank: {same}", flush=True)
    dist.barrier()
if rank == 0:  # the same on every rank: one copy will do
    torch.save(flat.cpu(), "parameters.pt")
dist.destroy_process_group()

# %% [markdown]
# From a terminal, `torchrun --standalone --nproc_per_node=2 minimal_ddp.py`
# runs the file on two ranks. From the notebook, the function `launch` runs
# the same command (`torchrun` is a shortcut for `python -m
# torch.distributed.run`), waits, and returns what the ranks printed; when
# they fail, it raises an error with their messages. It starts every run on
# the CPU, so that the chapter's comparisons compare world sizes, not devices:
# the minimal loop sees no GPU (`CUDA_VISIBLE_DEVICES` empty), and the
# chapter's script below reads `TUTORIAL_DEVICE=cpu`.


# %%
import subprocess
import sys


def launch(nproc: int, *arguments: str, max_restarts: int = 0) -> str:
    """torchrun on `nproc` ranks, with `arguments`; what the ranks printed."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        f"--max-restarts={max_restarts}",
        *arguments,
    ]
    # one thread per rank unless --threads says otherwise; CPU for all runs
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TUTORIAL_DEVICE": "cpu",
        "CUDA_VISIBLE_DEVICES": "",
    }
    if max_restarts:  # a fresh store per attempt: see "When a worker dies"
        env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    if finished.returncode != 0:  # the ranks' messages come first: keep all
        raise RuntimeError(
            f"{' '.join(command[2:])} failed:\n{finished.stderr}"
        )
    return finished.stdout


# %% [markdown]
# Two ranks, each with its own half of the batch:

# %%
printout = launch(2, "minimal_ddp.py")
print(printout, end="")

# %% tags=["hide-input"]
# Checks of the run: 4 of the 8 sequences per rank; three losses per rank,
# different on the two shards and falling at every step; both ranks found
# every rank's parameters equal to their own (torch.equal); rank 0 saved all
# 80,700 of them. And the torchrun command is torch.distributed.run
import ast
import re
from importlib.metadata import entry_points

(torchrun_command,) = entry_points(group="console_scripts", name="torchrun")
assert torchrun_command.value == "torch.distributed.run:main"
assert [len(part) for part in torch.zeros(8, 21).chunk(2)] == [4, 4]
found = re.findall(r"rank (\d): losses of its shard (\[.*\])", printout)
assert [rank for rank, _ in found] == ["0", "1"]
shard_losses = [ast.literal_eval(losses) for _, losses in found]
assert [len(losses) for losses in shard_losses] == [3, 3]
assert shard_losses[0][0] != shard_losses[1][0]
assert all(a > b > c for a, b, c in shard_losses)
assert printout.count("parameters identical on every rank: True") == 2
assert torch.load("parameters.pt").shape == (80_700,)

# %% [markdown]
# The two ranks computed different losses, each on its own shard, and both
# losses fell at every step; yet after the three steps the two copies of the
# model are identical, bit for bit (a folded cell checks what the ranks
# printed). They started equal, from the same seed, and `loss.backward()`
# left the same averaged gradient on both, so both took the same steps.
# Nothing in the file tells a rank what the other rank's data were or how to
# combine gradients: the wrapper's all-reduce does that. On a machine with a
# GPU for every rank, the file is written to train on the GPUs over NCCL
# without a change (the book does not run that).
#
# ## The training script
#
# The full script does what the minimal loop does, with chapter 6's training
# step and schedule, and adds what a real run needs: options, validation,
# checkpoints, and clear failures. It is defined in the cells below, exported
# into the helper package as `tutorial_utils.ddp_charrnn` (by `make export`)
# and launched by `torchrun`, which starts one Python process per rank and
# tells each its `RANK`, `LOCAL_RANK` and `WORLD_SIZE`. It reuses chapter 6's
# model, chunked batches, schedule and validation loss from
# `tutorial_utils.charrnn`.

# %% tags=["export"]
import argparse
import datetime
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import tutorial_utils as tu
from tutorial_utils.charrnn import (
    CharRNN,
    consecutive_batch,
    cosine_lr,
    sample_text,
    split_train_validation,
    tbptt_step,
    validation_loss,
)
from tutorial_utils.device import DEVICE_ENV_VAR

# %% [markdown]
# The options. `--batch-size` is the global batch; `--threads` the CPU threads
# of *each* rank; `--timeout` how long a rank waits for the others before it
# gives up (gloo's default is 30 minutes). The last three options exist for the
# demonstrations: stop early, or kill one rank on purpose. The script checks
# its counts, rates and times when it parses them, so that a mistake stops it
# at once with the option's name, not later, far from the cause: counts and
# thread counts below one, which would divide by zero or mean nothing; a rank
# to kill below 0 (with `--fail-at`, a rank of the world size or more is
# refused when the ranks start); and a learning rate or timeout outside a
# sensible range (a timeout of 0 would give up at once). The folded cell after
# the options checks a few refusals and gloo's default.


# %% tags=["export"]
def positive(text: str) -> int:
    """An argparse type: a count, an integer above zero."""
    if int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return int(text)


def non_negative(text: str) -> int:
    """An argparse type: an integer of 0 or more (a rank)."""
    if int(text) < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return int(text)


def between(what: str, low: float, high: float):
    """An argparse type: a number from `low` to `high`, `what` in its error."""

    def number(text: str) -> float:
        if not low <= float(text) <= high:  # nan fails too
            message = f"must be {what} from {low:g} to {high:g}, got {text}"
            raise argparse.ArgumentTypeError(message)
        return float(text)

    return number


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train chapter 6's GRU with DistributedDataParallel."
    )
    add = parser.add_argument
    add("--batch-size", type=positive, default=32, help="over all ranks")
    add("--seq-len", type=positive, default=50, help="characters per chunk")
    add("--iterations", type=positive, default=200, help="updates planned")
    add("--peak-lr", type=between("a learning rate", 1e-8, 10), default=0.01)
    add("--threads", type=positive, default=1, help="CPU threads per rank")
    add("--timeout", type=between("seconds", 0.1, 86_400), default=60.0)
    add("--checkpoint-dir", type=Path, help="save here, resume from here")
    add("--checkpoint-every", type=positive, default=10)
    add("--output", type=Path, help="rank 0 writes the results here (JSON)")
    add("--seed", type=int, default=123)
    add("--stop-after", type=positive, help="stop after this many updates")
    add("--fail-at", type=positive, help="kill a rank after this many updates")
    add("--fail-rank", type=non_negative, default=1, help="the rank to kill")
    return parser.parse_args(argv)


# %% tags=["hide-input"]
# The text above: the options are checked when parsed; and the default that
# --timeout replaces, 30 minutes for every backend but NCCL
import contextlib
import io

import torch.distributed.constants as dist_defaults

for option, value in [("--threads", "0"), ("--timeout", "0")]:
    with (
        contextlib.redirect_stderr(io.StringIO()) as error,
        contextlib.suppress(SystemExit),
    ):
        parse_args([option, value])
    assert f"argument {option}: must be" in error.getvalue(), option
assert dist_defaults.default_pg_timeout.total_seconds() == 30 * 60

# %% [markdown]
# ### One process group, on CPUs or GPUs
#
# The backend follows the device. With a GPU for every local rank, each rank
# takes GPU `LOCAL_RANK` and the ranks talk over NCCL; otherwise they run on
# the CPU and talk over gloo (where a machine has some GPUs but fewer than its
# ranks, its local rank 0 says so). When `TUTORIAL_DEVICE=cuda` asks for GPUs
# explicitly and there are fewer than ranks, the script stops with a message
# instead. Nothing else in the script depends on the device.
#
# The ranks find each other through a key-value store at
# `MASTER_ADDR:MASTER_PORT`, where each rank publishes the address it listens
# on. `dist.init_process_group(backend, timeout=...)` with no other argument
# reads all of it from the environment that torchrun sets (`RANK`,
# `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`: the `env://` method), connects to
# the store that torchrun hosts, or, where nobody hosts one (ranks started by
# hand), has rank 0 host it.


# %% tags=["export"]
def choose_device(
    local_rank: int, local_world: int
) -> tuple[torch.device, str]:
    """This rank's device and backend: a GPU each and NCCL, or CPU and gloo."""
    # tu.get_device raises if TUTORIAL_DEVICE names a device that is missing
    wanted = tu.get_device()
    gpus = torch.cuda.device_count() if wanted.type == "cuda" else 0
    if gpus >= local_world:
        return torch.device("cuda", local_rank), "nccl"
    if gpus and os.environ.get(DEVICE_ENV_VAR):
        raise SystemExit(
            f"{DEVICE_ENV_VAR}={os.environ[DEVICE_ENV_VAR]!r} asks for GPUs,"
            f" but this machine has {gpus} for {local_world} local ranks:"
            f" start at most {gpus} (--nproc_per_node) or unset it"
        )
    if gpus and local_rank == 0:
        print(
            f"{gpus} GPU(s) for {local_world} local ranks:"
            " training on the CPU with gloo",
            flush=True,
        )
    return torch.device("cpu"), "gloo"


def setup(args: argparse.Namespace) -> tuple[int, int, torch.device]:
    """Join torchrun's process group; returns (rank, world size, device)."""
    if "RANK" not in os.environ:
        raise SystemExit(
            "start this script with torchrun, e.g. torchrun --standalone"
            " --nproc_per_node=2 -m tutorial_utils.ddp_charrnn"
        )
    local_rank = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ["LOCAL_WORLD_SIZE"])
    device, backend = choose_device(local_rank, local_world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.set_num_threads(args.threads)
    timeout = datetime.timedelta(seconds=args.timeout)
    dist.init_process_group(backend, timeout=timeout)  # env://
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.fail_at is not None and args.fail_rank >= world:
        raise SystemExit(
            f"--fail-rank {args.fail_rank}: there are only ranks 0 to"
            f" {world - 1}; name one of them"
        )
    if args.batch_size % world:  # unequal shards would skew the mean
        raise SystemExit(
            f"--batch-size {args.batch_size}: not a multiple of {world} ranks;"
            f" use a multiple of {world}, such as {world * 16}"
        )
    return rank, world, device


# %% [markdown]
# ### Each rank its own streams
#
# Chapter 6 cut the training text into `batch_size` contiguous streams and took
# the next chunk of every stream per update. Here the global batch's streams
# are split into equal contiguous shards: rank $r$ trains on streams
# $r \cdot B/W$ to $(r + 1) \cdot B/W - 1$ and carries their hidden states.
# With equal shards every rank has the same amount of work per update. Chunk
# `index` is the same for every world size: one process at batch 32 and two at
# 16 each see exactly the same characters.
#
# Training draws no random numbers here (the chunks are consecutive, and the
# model has no dropout). Whatever a rank does draw at random, though, it must
# draw from its own seed: ranks that share a seed draw the *same* "random"
# numbers, a classic bug of data-parallel code with random batches or
# augmentations. The script seeds every rank alike to build the model
# (identical replicas), then reseeds each rank's torch generator with
# `seed + rank`. It reseeds only torch's, because nothing in it draws from
# Python's `random` or NumPy's generator; a script that does must reseed those
# too, since a checkpoint restores rank 0's state of all three into every rank.
# At the end each rank draws the seed of a short text sample from its torch
# generator, so the ranks' samples differ only if their generators do.


# %% tags=["export"]
def shard(tensor: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank `rank`'s equal share of the first (stream) dimension."""
    size = tensor.shape[0] // world
    return tensor[rank * size : (rank + 1) * size]


# %% tags=["hide-input"]
# Checks of the text: two ranks' shards of a chunk are one rank's chunk,
# character for character, and a training step draws no random numbers
codes = torch.arange(20_000) % len(tu.PRINTABLE)
chunk, chunk_targets, _ = consecutive_batch(codes, 32, 50, 3)
halves = [shard(chunk, rank, 2) for rank in range(2)]
assert [half.shape[0] for half in halves] == [16, 16]
assert torch.equal(torch.cat(halves), chunk)
torch.manual_seed(0)
probe_model = CharRNN()
generator_state = torch.get_rng_state()
tbptt_step(
    probe_model,
    torch.optim.Adam(probe_model.parameters(), lr=0.01),
    halves[0],
    shard(chunk_targets, 0, 2),
    None,
    0.01,
)
assert torch.equal(torch.get_rng_state(), generator_state)

# %% [markdown]
# ### Checkpoints across world sizes
#
# The parameters and the optimizer's state are the same on every rank, so rank
# 0 alone saves them, with `tu.save_checkpoint` (atomic writes, safe loading;
# chapter 6). The hidden states of the streams are the one thing each rank
# holds a different part of: `dist.all_gather` hands every rank all the parts,
# and rank 0 saves them as the whole batch's state, so that any world size that
# divides the global batch can take its own shards back. Every rank loads the
# checkpoint when it starts.


# %% tags=["export"]
def save(
    args, model, optimizer, iteration, losses, hidden, rank, world
) -> None:
    """Rank 0 saves after `iteration` updates, with every hidden state."""
    parts = [torch.empty_like(hidden) for _ in range(world)]
    dist.all_gather(parts, hidden.contiguous())
    if rank == 0:
        extra = {
            "losses": losses,
            "hidden": torch.cat(parts, dim=1).cpu(),
            "batch_size": args.batch_size,
        }
        tu.save_checkpoint(
            tu.checkpoint_path(args.checkpoint_dir, iteration),
            model,
            optimizer,
            iteration,
            extra=extra,
        )
    dist.barrier()  # nobody goes on, or is killed, before the file is complete


def resume(
    args, model, optimizer, rank, world, device
) -> tuple[int, list[float], torch.Tensor | None]:
    """The newest checkpoint: (updates done, losses, this rank's hidden)."""
    found = (
        tu.list_checkpoints(args.checkpoint_dir) if args.checkpoint_dir else []
    )
    if not found:
        return 0, [], None
    state = tu.load_checkpoint(found[-1], model, optimizer)
    extra = state["extra"]
    if extra.get("batch_size") != args.batch_size:
        raise SystemExit(
            f"{found[-1]} is not a checkpoint of this script at --batch-size"
            f" {args.batch_size} (it holds {extra.get('batch_size')}):"
            " use another --checkpoint-dir"
        )
    if rank == 0:
        print(
            f"resuming after update {state['iteration']}, {world} rank(s)",
            flush=True,
        )
    hidden = extra["hidden"].transpose(0, 1)  # streams first, to shard them
    return (
        state["iteration"],
        list(extra["losses"]),
        shard(hidden, rank, world).transpose(0, 1).to(device),
    )


# %% [markdown]
# ### The training loop
#
# The loop of chapter 6's `train_tbptt` (section 6.4): its
# `consecutive_batch`, its `cosine_lr` with a warm-up of 20 updates, and its
# `tbptt_step` with Adam and clipping at norm 1. Besides the checkpoints, the
# demonstrations' options, a seed per rank and one validation at the end (on
# rank 0), three things differ: the step gets the model wrapped in
# `DistributedDataParallel` (which all-reduces the gradients during
# `backward()`), each rank feeds it its own shard of the chunk, and the logged
# loss is the mean over the ranks (one more all-reduce, of a single number).
# Clipping needs no change: it runs after the all-reduce, on gradients that are
# identical on every rank. The defaults are not chapter 6's fast recipe: 32
# streams of 50 characters instead of 64 of 25, a schedule of 200 updates
# instead of 700, and no head start for the read-out's bias. The runs below are
# shorter still, 2 to 40 updates.


# %% tags=["export"]
def train(args: argparse.Namespace) -> dict:
    rank, world, device = setup(args)
    text = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
    train_data, valid_data = split_train_validation(text, 0.1)
    train_data = train_data.to(device)
    # the same initial weights on every rank (DDP also broadcasts rank 0's)
    torch.manual_seed(args.seed)
    model = CharRNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.peak_lr)
    start, losses, hidden = resume(args, model, optimizer, rank, world, device)
    # from here on, each rank draws its own random numbers (see above)
    torch.manual_seed(args.seed + rank)
    ddp = DistributedDataParallel(model)

    seconds = 0.0
    restarts = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    for iteration in range(start, args.iterations):
        if (
            iteration == args.fail_at
            and rank == args.fail_rank
            and restarts == 0
        ):
            # a worker dies without a word, as on a crash or an OOM kill
            os.kill(os.getpid(), signal.SIGKILL)
        tu.synchronize(device)
        began = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(
            train_data, args.batch_size, args.seq_len, iteration
        )
        lr = cosine_lr(iteration, args.iterations, args.peak_lr, warmup=20)
        loss, hidden = tbptt_step(
            ddp,
            optimizer,
            shard(inputs, rank, world),
            shard(targets, rank, world),
            None if fresh else hidden,
            lr,
        )
        mean_loss = loss.clone()
        dist.all_reduce(mean_loss)
        losses.append(mean_loss.item() / world)
        tu.synchronize(device)
        seconds += time.perf_counter() - began
        done = iteration + 1
        if args.checkpoint_dir and (
            done % args.checkpoint_every == 0 or done == args.iterations
        ):
            save(args, model, optimizer, done, losses, hidden, rank, world)
        if args.stop_after == done:
            break

    flat = torch.cat(
        [p.detach().cpu().reshape(-1) for p in model.parameters()]
    )
    hashes, samples = [None] * world, [None] * world
    dist.all_gather_object(
        hashes, hashlib.sha256(flat.numpy().tobytes()).hexdigest()
    )
    # drawn from this rank's generator, seeded with seed + rank
    sample_seed = int(torch.randint(2**31, ()))
    dist.all_gather_object(
        samples,
        sample_text(model, "Th", 40, temperature=0.8, seed=sample_seed),
    )
    result = {
        "world_size": world,
        "backend": dist.get_backend(),
        "device": device.type,
        "threads": args.threads,
        "global_batch": args.batch_size,
        "updates": len(losses),
        "resumed_at": start,
        "restarts": restarts,
        "losses": losses,
        "parameter_sha256": hashes,
        "samples": samples,
        "seconds": seconds,
        "characters_per_second": (len(losses) - start)
        * args.batch_size
        * args.seq_len
        / seconds
        if seconds
        else None,
        "validation_loss": validation_loss(model, valid_data.to(device))
        if rank == 0
        else None,
        "parameters": flat.tolist() if rank == 0 else None,
    }
    if rank == 0 and args.output:
        args.output.write_text(json.dumps(result))
    dist.destroy_process_group()
    return result


# %% [markdown]
# A rank that loses its peers raises an error at its next collective operation:
# without waiting for `--timeout` when a peer's connection closes, or after
# `--timeout` seconds when a peer stops answering. `main` turns that into one
# clear message and a non-zero exit, instead of a hang or a page of C++ traces.
# Only errors of the communication library get that message; any other error (a
# wrong shape, a tensor on the wrong device) keeps its own traceback.


# %% tags=["export"]
def lost_peers(error: BaseException) -> bool:
    """Whether an error comes from the communication library (a lost peer)."""
    # gloo raises a lost peer as a plain RuntimeError whose message starts
    # with its own source file
    return isinstance(error, dist.DistError) or any(
        library in str(error) for library in ("gloo", "NCCL")
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        train(args)
    except RuntimeError as error:
        if not lost_peers(error):
            raise
        first_line = str(error).splitlines()[0][:200]
        print(
            f"rank {os.environ.get('RANK', '?')}: lost contact with the other"
            f" ranks ({type(error).__name__}: {first_line}); a worker died"
            f" or did not answer within --timeout {args.timeout:g} s."
            " Restart the run (torchrun --max-restarts does it for you); it"
            " resumes from the newest checkpoint in --checkpoint-dir.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)


# torchrun -m tutorial_utils.ddp_charrnn runs main(); here it is only defined
if __name__ == "__main__" and __package__ == "tutorial_utils":
    main()

# %% [markdown]
# ## Launching it
#
# `torchrun --standalone --nproc_per_node=2 -m tutorial_utils.ddp_charrnn`
# starts two ranks on this machine (`--standalone` sets up the rendezvous on
# localhost). It runs the package's exported copy of the script, the module
# `tutorial_utils.ddp_charrnn`, not the cells above: an edit to one of those
# cells has no effect on the launched runs until it is exported. To run your
# own edit of the script:
#
# - in the book's repository, `make export` rewrites the module from the
#   cells tagged `export`, and the launches below run the edited script;
# - anywhere else (Colab, say), write the script to a file, as the minimal
#   loop above was written with `%%writefile`, and launch that file:
#   `torchrun --standalone --nproc_per_node=2 my_ddp_charrnn.py`. The file
#   needs the script's cells from its imports to `main`, and a call of
#   `main()` at its end, since the last cell calls `main()` only in the
#   package's copy (a folded cell below runs such a file).
#
# The function `torchrun` below runs the package's copy with the script's
# options through `launch`, and returns the results rank 0 wrote; the ranks'
# messages are kept for when something fails. `launch` pins every run to the
# CPU (`TUTORIAL_DEVICE=cpu`): on a machine with one GPU, one rank would
# otherwise train on the GPU and two ranks on the CPU, and the comparisons
# below would compare devices instead of world sizes. So on any machine, with
# or without a GPU, this chapter runs the gloo path on the CPU; the GPU and
# multi-machine launches at the end are not run by the book.

# %%
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tutorial_utils.charrnn import CharRNN

# the runs' results and checkpoints, removed with the kernel
workspace = tempfile.TemporaryDirectory(prefix="ddp-")
work = Path(workspace.name)


def torchrun(
    nproc: int, *options: str, max_restarts: int = 0, name: str = "run"
) -> dict:
    """Run the package's script on `nproc` ranks; returns what rank 0 wrote."""
    output = work / f"{name}.json"
    script = ("-m", "tutorial_utils.ddp_charrnn", "--output", str(output))
    launch(nproc, *script, *options, max_restarts=max_restarts)
    return json.loads(output.read_text())


# %% tags=["hide-input"]
# Check of the text: the script's code (here the package's copy) in a file of
# its own, with a call of main() at its end, runs as a file under torchrun;
# without that call the file only defines the script, and runs nothing
import inspect

import tutorial_utils.ddp_charrnn as package_copy

source = inspect.getsource(package_copy)
Path("my_ddp_charrnn.py").write_text(source + "\nmain()\n")
as_file = work / "as-file.json"
small = ("--iterations", "2", "--batch-size", "8", "--seq-len", "10")
launch(2, "my_ddp_charrnn.py", *small, "--output", str(as_file))
assert json.loads(as_file.read_text())["updates"] == 2
Path("defines_only.py").write_text(source)
defines_only = subprocess.run(
    [sys.executable, "defines_only.py"],
    capture_output=True,
    text=True,
    check=False,  # the assertion reads the status
)
assert defines_only.returncode == 0 and defines_only.stdout == ""


# %% [markdown]
# Thirty updates of a global batch of 32 sequences of 50 characters, once with one rank and once
# with two (16 sequences each):

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the losses' last digits
# depend on the floating-point path, and the two runs add their gradients in
# different orders. The assertions check the claims.
one = torchrun(1, "--iterations", "30", name="one")
two = torchrun(2, "--iterations", "30", name="two")
for run in (one, two):
    losses = np.round(run["losses"], 3).tolist()
    print(
        f"world size {run['world_size']}:"
        f" losses {losses[:3]} ... {losses[-3:]}"
    )
print(f"backend {two['backend']} on {two['device']}")
for rank, (digest, sample) in enumerate(
    zip(two["parameter_sha256"], two["samples"])
):
    print(f"rank {rank}: parameters' SHA-256 {digest[:12]}...")
    print(f"        its sample: {sample!r}")
loss_gap = np.abs(np.subtract(one["losses"], two["losses"])).max()
parameter_gap = np.abs(np.subtract(one["parameters"], two["parameters"])).max()
print(
    f"largest difference between the two runs: losses {loss_gap:.1e},"
    f" parameters {parameter_gap:.1e}"
)
assert len(set(two["parameter_sha256"])) == 1, "the ranks' parameters differ"
assert len(set(two["samples"])) == 2, "the ranks drew the same random numbers"

# %% tags=["hide-input"]
# Checks of the runs: 30 updates at a global batch of 32, gloo on the CPU, and
# one and two ranks agree to within 1e-5 (losses and parameters)
assert two["global_batch"] == 32 and two["updates"] == 30
assert (one["device"], two["device"]) == ("cpu", "cpu")
assert two["backend"] == "gloo"
assert max(loss_gap, parameter_gap) < 1e-5

# %% [markdown]
# The two ranks end with parameters that are identical bit for bit: the same
# start, and the same averaged gradient at every update; from those identical
# models their own seeds draw different samples. And one rank at batch 32
# computes what two ranks at 16 each compute, up to float32 rounding: after
# these 30 updates the losses and parameters agree to within $10^{-5}$ (a
# folded cell asserts it; the printout's last line gives the gaps on the
# machine that ran it).
# They are not identical because the sums run in another order (the gradient of
# 32 sequences at once, or the mean of two gradients of 16). Each update starts
# from parameters that already differ by such rounding, so over a long run the
# gaps can grow: the tolerance holds for these 30 updates, not for any length
# of training. Drawn update by update, the two training losses lie on top of
# each other.

# %%
updates = range(1, len(one["losses"]) + 1)
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(updates, one["losses"], lw=4, alpha=0.4, label="1 rank, 32 sequences")
ax.plot(updates, two["losses"], "k--", label="2 ranks, 16 sequences each")
ax.set_xlabel("update")
ax.set_ylabel("training loss")
ax.set_title("One rank and two ranks at the same global batch")
ax.legend()
plt.show()

# %% [markdown]
# ## What two processes gain on a small CPU
#
# Data parallelism pays when each rank brings its own hardware. Here the ranks share this
# machine's CPU cores (the cell prints how many). We measure the
# training throughput (40 updates, the validation excluded) with one and two ranks, one and two
# threads per rank:

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the speeds depend on the
# machine and on what else runs on it. The assertion checks that every run
# timed its 40 updates.
# the cores this process may use (os.cpu_count() counts all the machine's)
cores = (
    len(os.sched_getaffinity(0))
    if hasattr(os, "sched_getaffinity")
    else os.cpu_count()
)
rows = []
for nproc, threads in ((1, 1), (1, 2), (2, 1), (2, 2)):
    run = torchrun(
        nproc,
        *("--iterations", "40", "--threads", str(threads)),
        name=f"speed-{nproc}-{threads}",
    )
    assert run["updates"] == 40 and run["seconds"] > 0
    rows.append((nproc, threads, run["characters_per_second"]))
base = rows[0][2]
print(f"on {cores} cores:")
print("ranks | threads per rank | thousand characters/s | vs 1 x 1")
for nproc, threads, speed in rows:
    print(
        f"{nproc:5} | {threads:16} | {speed / 1000:21.0f} |"
        f" {speed / base:7.2f}x"
    )
gradients = sum(p.numel() for p in CharRNN().parameters())
print(f"every update all-reduces {gradients:,} gradients")

# %% tags=["hide-input"]
# Checks of the table: the model's gradient count, and on fewer than four
# cores, the slowest row is two ranks of two threads (four threads)
assert gradients == 80_700
if cores < 4:
    assert rows[-1][2] == min(speed for *_, speed in rows)

# %% [markdown]
# The speeds depend on the machine and on what else runs on it, so the table
# speaks for the machine that ran it. An update of this GRU is 50 time steps
# one after another, each more than ten small operations. Two ranks at 16
# sequences each share the arithmetic of one rank at 32, but each still runs
# all 50 steps and all their operations, and every update adds an all-reduce
# of 80,700 gradients. Whether that comes out ahead of one rank, and whether a
# second thread inside one rank helps or hurts, the table shows for its
# machine. One row is easier to foresee: two ranks with two threads each ask
# for four threads, and on a machine with fewer than four cores (as the
# printed core count shows for the one that stored these outputs), that row is
# the slowest; a folded cell checks it there.
#
# Data parallelism pays off when each rank's share is large enough to keep its
# own hardware busy: long batches on a GPU per rank, or many cores per rank.
# The script is written for that case too, with NCCL over NVLink or the network
# in place of gloo over local sockets, though the book does not run it there.
#
# ## A checkpoint taken by two ranks, resumed by one
#
# We train for 20 of 30 updates with two ranks, saving every 10, as if the job were stopped
# there; then one rank resumes from the newest checkpoint and finishes. The result is compared
# with the uninterrupted two-rank run above.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the last digits depend on
# the floating-point path. The assertions check the claim: the resumed run
# ends where the uninterrupted one does.
folder = work / "checkpoints"
interrupted = torchrun(
    2,
    *("--iterations", "30", "--checkpoint-dir", str(folder)),
    *("--stop-after", "20"),
    name="interrupted",
)
print(f"two ranks stopped after {interrupted['updates']} updates")
print("checkpoints:", ", ".join(p.name for p in sorted(folder.iterdir())))
resumed = torchrun(
    1, "--iterations", "30", "--checkpoint-dir", str(folder), name="resumed"
)
print(
    f"one rank resumed after update {resumed['resumed_at']}"
    f" and finished {resumed['updates']}"
)
gap = np.abs(np.subtract(resumed["parameters"], two["parameters"])).max()
print(f"largest parameter difference to the two-rank run: {gap:.1e}")
assert resumed["resumed_at"] == 20 and resumed["updates"] == 30
assert resumed["losses"][:20] == interrupted["losses"]
assert gap <= 1e-4, "the resumed run must end where the uninterrupted run ends"

# %% [markdown]
# The checkpoint holds the whole batch's hidden state, so one rank can carry
# all 32 streams on where two ranks left them, and the run ends where the
# uninterrupted one ended, to within $10^{-4}$ (the assertion; the printout
# gives the gap): the ten updates after the checkpoint sum their gradients in
# another order, so the last digits may differ.
#
# ## When a worker dies
#
# With `--max-restarts=1`, torchrun watches its workers: when one dies, it
# stops the others and starts the whole group again, up to once. Because the
# script resumes from its newest checkpoint, a crash costs only the updates
# since that checkpoint. Here rank 1 is killed after 15 updates (`SIGKILL`, as
# an out-of-memory killer would do it) on the first attempt:

# %%
folder = work / "restart"
restarted = torchrun(
    2,
    *("--iterations", "30", "--checkpoint-dir", str(folder)),
    *("--fail-at", "15"),
    max_restarts=1,
    name="restarted",
)
print(
    f"restarts: {restarted['restarts']}; the second attempt resumed"
    f" after update {restarted['resumed_at']}"
)
gap = np.abs(np.subtract(restarted["parameters"], two["parameters"])).max()
print(f"largest parameter difference to the uninterrupted run: {gap:.1e}")
assert restarted["restarts"] == 1 and restarted["resumed_at"] == 10
assert restarted["parameters"] == two["parameters"], (
    "the same ranks, the same updates: the result must be identical"
)

# %% [markdown]
# The restarted run is bit for bit the uninterrupted one: the same two ranks redid updates 11 to
# 15 from the same state.
#
# The launch needed one setting more. By default torchrun hosts the ranks'
# key-value store itself and keeps it for the whole run, so the ranks of a
# second attempt can find the addresses that the first attempt's ranks
# published, and try to connect to processes that no longer exist
# ("Connection refused"; PyTorch issues
# [135712](https://github.com/pytorch/pytorch/issues/135712) and
# [167288](https://github.com/pytorch/pytorch/issues/167288)). With
# `TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1` in torchrun's environment, every
# attempt gets a fresh store, hosted by its own rank 0, and the script's plain
# `init_process_group` needs no change. The function `launch` above sets it for
# runs that may restart; from a shell, put it before the command:
# `TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 torchrun --max-restarts=1 ...`.
#
# Without a supervisor that restarts them, the surviving ranks must not wait
# for a dead one forever. Here we start the two ranks by hand, without
# torchrun, and set the variables it would have set: `RANK`, `WORLD_SIZE`,
# `LOCAL_RANK`, `LOCAL_WORLD_SIZE` and the store's address, `MASTER_ADDR` and
# `MASTER_PORT` (both ranks on this machine, so local ranks 0 and 1 of 2; on
# two machines each would be local rank 0 of 1). Rank 1 dies after 5 updates.
# Rank 0's next all-reduce fails, and the script's `main` turns that into one
# clear message and exit status 1:

# %%
import socket

script = [sys.executable, "-m", "tutorial_utils.ddp_charrnn"]


def by_hand(rank: int, port: int, command: list[str]) -> subprocess.Popen:
    """Start `command` as rank `rank` of 2, on the CPU, without torchrun."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TUTORIAL_DEVICE": "cpu",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(rank),
        "WORLD_SIZE": "2",
        "LOCAL_RANK": str(rank),
        "LOCAL_WORLD_SIZE": "2",
    }
    return subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def free_port() -> int:
    """A port on localhost that nothing listens on, for the store."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(processes: list[subprocess.Popen]) -> None:
    """Kill those of `processes` that still run, and wait for all of them."""
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


# %% tags=["hide-input"]
# Prints the script's message from a rank's stderr without gloo's own words,
# which name a port and a source line that change from run to run
def shortened(stderr: str) -> str:
    """The script's message, with the library's own words cut out."""
    lines = [line for line in stderr.splitlines() if "lost contact" in line]
    if not lines:
        raise ValueError(f"no message of the script in:\n{stderr[-3000:]}")
    message = lines[-1]
    said = message[: message.index(" (")] + " (...); "
    said += message[message.index("a worker died") :]
    filled = textwrap.fill(said, 77, break_on_hyphens=False)
    return textwrap.indent(filled, "  ")


# %%
port = free_port()
options = ("--iterations", "30", "--fail-at", "5", "--timeout", "20")
ranks = [by_hand(rank, port, [*script, *options]) for rank in (0, 1)]
try:
    ranks[1].wait(timeout=120)  # until rank 1 kills itself after 5 updates
    died = time.perf_counter()
    _, survivor_says = ranks[0].communicate(timeout=60)
    noticed = time.perf_counter() - died
finally:
    stop(ranks)
print(f"rank 1 exited with status {ranks[1].returncode} (killed)")
print(
    f"rank 0 with status {ranks[0].returncode},"
    f" {noticed:.1f} s after rank 1 died"
)
print("rank 0 said:")
print(shortened(survivor_says))

# %% tags=["hide-input"]
# Checks of the run: rank 1 was killed, and rank 0 exited with status 1 and
# the script's message before its 20-second timeout ran out
assert ranks[1].returncode == -9 and ranks[0].returncode == 1
assert "lost contact with the other ranks" in survivor_says
assert noticed < 20

# %% [markdown]
# Rank 0 did not wait for its timeout: it gave up less than 20 seconds after
# rank 1 died, before its `--timeout 20` ran out (a folded cell asserts it; the
# printout gives the time), because the dead rank's connection closed and the
# next all-reduce failed. A rank that stops answering without closing its
# connections (a frozen machine, a cut network) is caught by `--timeout`
# instead; gloo's default would wait 30 minutes. Here rank 1 joins the process
# group and then sleeps, a stand-in for a frozen rank, and rank 0 runs the
# script with `--timeout 5`:

# %%
port = free_port()
started = time.perf_counter()
survivor = by_hand(0, port, [*script, "--iterations", "30", "--timeout", "5"])
joins_then_sleeps = (
    "import time, torch.distributed as dist;"
    " dist.init_process_group('gloo'); time.sleep(600)"
)
frozen = by_hand(1, port, [sys.executable, "-c", joins_then_sleeps])
try:
    _, survivor_says = survivor.communicate(timeout=60)
    waited = time.perf_counter() - started
finally:
    stop([frozen, survivor])  # the frozen rank would not end by itself
print(f"rank 0 exited with status {survivor.returncode} after {waited:.1f} s")
print("rank 0 said:")
print(shortened(survivor_says))

# %% tags=["hide-input"]
# Checks of the run: rank 0 exited with status 1 and the script's message,
# gloo's part of it (not printed) says it timed out, and not before 5 s
assert survivor.returncode == 1
assert "lost contact with the other ranks" in survivor_says
assert "Timed out" in survivor_says
assert waited >= 5

# %% [markdown]
# Rank 0 waited out its timeout of five seconds (a folded cell asserts that
# gloo's message says it timed out, and that the run took at least that long)
# and stopped with the same message. (The book's tests, `tests/test_ddp.py`,
# run at a smaller size all the scenarios above except the speed table and the
# frozen rank: identical ranks, world sizes that
# agree, a resume across world sizes, a restart, and a dead rank.)
#
# ## On several GPUs, and on several machines
#
# The script is written to need no change there, only another launch. The book
# does not run these launches (its runs use the CPU of one machine), so they
# are the script's design, not something its outputs show.
#
# - **One machine with 8 GPUs:**
#   `torchrun --standalone --nproc_per_node=8 -m tutorial_utils.ddp_charrnn`.
#   The machine has a GPU for every local rank, so each rank takes GPU
#   `LOCAL_RANK` and the ranks talk over NCCL. With fewer GPUs than ranks the
#   script falls back to gloo on the CPU (local rank 0 says so), or stops with
#   a message when `TUTORIAL_DEVICE=cuda` asked for GPUs.
# - **Two machines with 8 GPUs each:** on both, run
#   `torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=host0:29500 --rdzv-id=job42 -m tutorial_utils.ddp_charrnn --checkpoint-dir /shared/run`.
#   The rendezvous on `host0:29500` assigns the 16 global ranks; `LOCAL_RANK` still picks the GPU.
#   Checkpoints must go to a folder every machine sees, since every rank loads them.
# - **What stays the same:** `--batch-size` is still the global batch, now split 16 ways (it must
#   be a multiple of the world size), so the learning rate stays the same too.
#
# ## Summary
#
# - A DDP training loop is a plain one plus a few lines: join the process
#   group (gloo on CPUs, NCCL on GPUs), build the same model from the same
#   seed on every rank, wrap it in `DistributedDataParallel`, and give each
#   rank its own shard; `torchrun` runs the file once per rank. `torchrun -m
#   tutorial_utils.ddp_charrnn` runs the package's exported copy of this
#   chapter's script, so an edit to its cells takes effect through
#   `make export`, or in a file of your own.
# - Each rank keeps a full replica and trains on its own equal shard of the
#   global batch (the script cuts the shards; DDP does not split inputs). DDP
#   all-reduces the gradients during the backward pass (for this small model,
#   in one bucket after the last gradient); every rank then takes the same
#   step, and the replicas stay identical bit for bit.
# - At a fixed global batch, two or three ranks compute the same updates as one
#   process up to float32 rounding: within $10^{-5}$ here, after 30 updates
#   with two ranks and 5 with three, a gap that can grow over a long run. The
#   learning rate does not change.
# - `torchrun` starts the ranks; the backend follows the device (gloo on CPUs,
#   NCCL on GPUs); the script is written to run on several GPUs and several
#   machines, which the book does not run.
# - Rank 0 saves, every rank loads; saving the whole batch's hidden state lets a run continue at
#   another world size.
# - `torchrun --max-restarts` (with a fresh store for every attempt,
#   `TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`) plus resuming from the newest
#   checkpoint survives a dead worker. When nobody restarts them, the survivors
#   stop with one clear message: before `--timeout` runs out when a dead peer's
#   connection closes, after it when a peer hangs.
#
# ## Exercises
#
# The exercises launch the package's copy of the script,
# `tutorial_utils.ddp_charrnn`, and the minimal loop's file. An edit of the
# script's cells reaches those launches only once it is exported (`make
# export` in the book's repository), or written to a file of your own and
# launched with torchrun (see "Launching it").
#
# ````{exercise} Shards of unequal size
# :label: ex-07-char-rnn-ddp-1
# Run the script on two ranks with a global batch of 31 sequences. What
# happens? With shards of 16 and 15 sequences, what weight would each
# sequence get in DDP's averaged gradient, and what weight does one process
# give it at batch 31? How could a script train on unequal shards correctly?
# ````
#
# ````{solution-start} ex-07-char-rnn-ddp-1
# :class: dropdown
# ````
# Each rank that reaches the check stops in `setup`, right after joining the
# process group, with the script's one-line message; no update is made, since
# the check comes before the model is built. The check is there because DDP
# averages the ranks' gradients with equal weights $1/W$, and each rank's loss
# is the mean over its own $n_r$ sequences: a sequence on rank $r$ weighs
# $1/(W n_r)$ in the update. Only equal shards, $n_r = B/W$, give every
# sequence the $1/B$ of one process. Multiplying each rank's loss by
# $W n_r / B$ before `backward()` would repair the weights; the ranks with
# the larger shard would still keep the others waiting at every all-reduce.

# %%
import re
from fractions import Fraction

try:
    torchrun(2, "--batch-size", "31", name="odd")
    refusal = None
except RuntimeError as error:  # torchrun() raises with the ranks' stderr
    # each rank that reaches the check writes it, and their lines may
    # interleave: search, not split
    found = re.search(
        r"--batch-size 31: not a multiple.*?such as \d+", str(error)
    )
    refusal = found.group() if found else None
print("the ranks' message:")
print(refusal)
assert refusal.startswith("--batch-size 31: not a multiple of 2 ranks;")

shards, world, batch = (16, 15), 2, 31
ddp_weights = [Fraction(1, world * n) for n in shards]
rescaled = [
    w * Fraction(world * n, batch) for w, n in zip(ddp_weights, shards)
]
print("DDP's weight of a sequence on rank 0, rank 1:", *ddp_weights)
print("one process at batch 31:", Fraction(1, batch))
print("with each rank's loss times W n_r / B:", *rescaled)
assert ddp_weights == [Fraction(1, 32), Fraction(1, 30)]
assert ddp_weights[1] / ddp_weights[0] == 1 + Fraction(1, 15)
assert rescaled == [Fraction(1, batch)] * 2

# %% [markdown]
# Unequal shards would tilt every update towards the smaller shard: here each
# of rank 1's sequences would weigh a fifteenth more than each of rank 0's
# ($1/30$ against $1/32$).
#
# ````{solution-end}
# ````
#
# ````{exercise} Three ranks
# :label: ex-07-char-rnn-ddp-2
# Train for five updates at a global batch of 30 sequences, once with one
# rank and once with three. Do the losses and the parameters agree, and do
# the three replicas end identical?
# ````
#
# ````{solution-start} ex-07-char-rnn-ddp-2
# :class: dropdown
# ````
# Thirty sequences make three equal shards of ten, so the mean of the three
# ranks' gradients is the gradient of the mean loss over all thirty, as for
# one rank: only the order of the sums changes, which moves the results by
# float32 rounding. Five updates keep the solution short (the three ranks
# share this machine's cores). Over a longer run each update starts from
# parameters that already differ by rounding, so the gaps can grow; the
# tolerance checked here is for five updates.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the losses' last digits
# depend on the floating-point path, and one and three ranks add their
# gradients in different orders. The assertions check the three replicas.
short = ("--batch-size", "30", "--iterations", "5")
alone = torchrun(1, *short, name="alone-30")
three = torchrun(3, *short, name="three-30")
loss_gap = np.abs(np.subtract(alone["losses"], three["losses"])).max()
parameter_gap = np.abs(
    np.subtract(alone["parameters"], three["parameters"])
).max()
print("one rank:   ", np.round(alone["losses"], 4).tolist())
print("three ranks:", np.round(three["losses"], 4).tolist())
print(f"largest gaps: losses {loss_gap:.1e}, parameters {parameter_gap:.1e}")
distinct = len(set(three["parameter_sha256"]))
print(f"distinct parameter hashes among the three ranks: {distinct}")
assert three["world_size"] == 3 and len(three["parameter_sha256"]) == 3
assert distinct == 1

# %% tags=["hide-input"]
# Check of the gaps: one and three ranks agree to within 1e-5 after five
# updates (losses and parameters)
assert max(loss_gap, parameter_gap) < 1e-5

# %% [markdown]
# After five updates the losses and parameters of one and three ranks agree
# to within $10^{-5}$ (a folded cell asserts it), and the three replicas end
# bit for bit identical, as the two did in the chapter.
#
# ````{solution-end}
# ````
#
# ````{exercise} Does the all-reduce average?
# :label: ex-07-char-rnn-ddp-3
# The minimal loop's file runs on one rank too; its shard is then the whole
# batch of 8 sequences. Launch it on one rank and compare its losses and the
# parameters that rank 0 saves with those of the two-rank run. How far apart
# are the two runs' parameters, next to how far the three steps moved them?
# And where would the two ranks have ended if DDP summed their gradients
# instead of averaging them?
# ````
#
# ````{solution-start} ex-07-char-rnn-ddp-3
# :class: dropdown
# ````
# On one rank, every step follows the gradient of the mean loss over all 8
# sequences. On two, each rank's gradient is that of the mean over its 4, and
# their average, which the all-reduce hands to both ranks, is again the
# gradient of the mean over all 8: the same three steps, up to the order of
# float32 sums. The losses show it first: at every step, the one rank's loss
# on the whole batch is the mean of the two ranks' losses on their halves,
# within the rounding of the printout.

# %%
two_ranks = torch.load("parameters.pt")  # saved by the two-rank run above
alone = launch(1, "minimal_ddp.py")
print(alone, end="")
one_rank = torch.load("parameters.pt")

# %% tags=["hide-input"]
# Check of the text: at each of the three steps, the one rank's loss is the
# mean of the two ranks' losses, within the printout's rounding (every
# printed loss is off by up to 0.0005, so the two sides by up to 0.001)
halves = [
    ast.literal_eval(losses)
    for _, losses in re.findall(r"rank (\d): losses of .* (\[.*\])", printout)
]
whole = ast.literal_eval(re.search(r"shard (\[.*\])", alone).group(1))
assert len(halves) == 2 and len(whole) == 3
for step, loss in enumerate(whole):
    assert abs(loss - (halves[0][step] + halves[1][step]) / 2) <= 1e-3 + 1e-9

# %% [markdown]
# At the first step, before any update, that is arithmetic: two equal halves'
# mean losses average to the whole batch's. At the second and the third it
# holds because the two runs made the same updates. Had DDP summed the two
# gradients instead, each SGD step of the two ranks would have been twice
# that of the one rank: the steps of one process at twice the learning rate,
# which this kernel can run without DDP.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the gaps' last digits depend
# on the floating-point path, and one and two ranks add their gradients in
# different orders. The assertions check the claims.
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector


def three_steps(lr: float) -> torch.Tensor:
    """The minimal loop's three steps in one process, without DDP."""
    text = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
    batch = text[: 8 * 21].view(8, 21)
    torch.manual_seed(0)
    model = CharRNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(3):
        logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return parameters_to_vector(model.parameters()).detach()


def gap(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest difference between two vectors of parameters."""
    return (a - b).abs().max().item()


torch.manual_seed(0)  # the minimal loop's initial weights
start = parameters_to_vector(CharRNN().parameters()).detach()
summed = three_steps(lr=2 * 0.5)  # a sum of two gradients is twice the mean
print(f"largest change in the three steps: {gap(one_rank, start):.1e}")
print(f"largest gap, one rank to two ranks: {gap(two_ranks, one_rank):.1e}")
print(f"largest gap, one rank to a sum: {gap(summed, one_rank):.1e}")
assert gap(two_ranks, one_rank) < 1e-6 and gap(one_rank, start) > 0.1
assert gap(summed, one_rank) > 0.1

# %% [markdown]
# The one-rank and two-rank parameters differ by float32 rounding, less than
# $10^{-6}$, while the three steps moved some parameters by more than $0.1$;
# summed gradients would have left the two ranks more than $0.1$ away (the
# assertions; the printout gives the values on the machine that ran it). So
# the all-reduce averages.
#
# ````{solution-end}
# ````
