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
# 1. write a training script for chapter 6's model, training step and
#    learning-rate schedule, written to run unchanged on one process or many,
#    on CPUs or GPUs, on one machine or several (the book runs it on the CPU of
#    one machine);
# 2. launch it with `torchrun --standalone --nproc_per_node=2` and check that
#    the two copies of the model end bit for bit identical, and that two
#    processes agree with one process at the same global batch to within
#    $10^{-5}$ after 30 updates;
# 3. measure what two processes gain on a small CPU, and what too many threads
#    cost;
# 4. checkpoint at one world size and resume at another;
# 5. survive a killed worker with `torchrun --max-restarts`, and fail fast when a rank dies.
#
# ## How data parallelism works
#
# Each of the $W$ processes (*ranks*) holds a replica of the model. For one update, the global
# batch of $B$ sequences is split into $W$ shards of $B/W$; rank $r$ computes the loss $L_r$ of its
# shard and its gradient. DDP then *all-reduces* the gradients: every rank receives their mean,
#
# $$\bar g = \frac{1}{W}\sum_{r=1}^{W} \nabla L_r = \nabla \Big(\frac{1}{W}\sum_{r} L_r\Big),$$
#
# which, with equal shards, is exactly the gradient of the mean loss over the
# whole global batch: the update one process would make on all $B$ sequences.
# Every rank applies the same update to the same parameters, so the replicas
# never drift apart. The shards are cut by the training script; DDP itself
# never splits a batch, it only averages the gradients. For a large model it
# groups the gradients into buckets and all-reduces each bucket as soon as its
# gradients are ready, overlapping communication with the rest of the backward
# pass. This chapter's model is too small for that: its 80,700 gradients fit in
# one bucket (Exercise 3 counts one all-reduce per backward pass), so the
# all-reduce starts only once the backward pass has produced the last of them.
#
# **Does the learning rate change with the number of processes?** Not here. We keep the *global*
# batch fixed (`--batch-size` is the global batch, split over the ranks), so every update is the
# same as one process's update on the same batch, and so is the right learning rate. If instead
# each rank kept its own batch size and the global batch grew with $W$, each step would average
# over more data and the learning rate would usually be raised with it (linearly for SGD, more
# gently for Adam), with a longer warm-up.
#
# ## The training script
#
# The script is defined in the cells below, exported into the helper package as
# `tutorial_utils.ddp_charrnn` (by `make export`) and launched by `torchrun`, which starts one
# Python process per rank and tells each its `RANK`, `LOCAL_RANK` and `WORLD_SIZE`. It reuses
# chapter 6's model, chunked batches, schedule and validation loss from `tutorial_utils.charrnn`.

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
# to kill below 0 (one above the world size is refused when the ranks start);
# and a learning rate or timeout outside a sensible range (a timeout of 0
# would give up at once, one of years would overflow). The folded cell after
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
    add(
        "--fail-at", type=positive, help="kill a rank after this many updates"
    )
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
# The loop of chapter 6's `train_fast`: its `consecutive_batch`, its
# `cosine_lr` with a warm-up of 20 updates, and its `tbptt_step` with Adam and
# clipping at norm 1. Besides the checkpoints and the demonstrations' options,
# three things differ: the step gets the model wrapped in
# `DistributedDataParallel` (which all-reduces the gradients during
# `backward()`), each rank feeds it its own shard of the chunk, and the logged
# loss is the mean over the ranks (one more all-reduce, of a single number).
# Clipping needs no change: it runs after the all-reduce, on gradients that are
# identical on every rank. The defaults are not chapter 6's fast recipe: 32
# streams of 50 characters instead of 64 of 25, a schedule of 200 updates
# instead of 700, and no head start for the read-out's bias. The runs below are
# shorter still, 5 to 40 updates.


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
# localhost). The function below runs that command with the script's options,
# waits, and returns the results rank 0 wrote; the command's own output is kept
# for when something fails. It pins every run to the CPU
# (`TUTORIAL_DEVICE=cpu`): on a machine with one GPU, one rank would otherwise
# train on the GPU and two ranks on the CPU, and the comparisons below would
# compare devices instead of world sizes. So on any machine, with or without a
# GPU, this chapter runs the gloo path on the CPU; the GPU and multi-machine
# launches at the end are not run by the book.

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
    """Run the script on `nproc` ranks; returns what rank 0 wrote."""
    output = work / f"{name}.json"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        f"--max-restarts={max_restarts}",
        "-m",
        "tutorial_utils.ddp_charrnn",
        "--output",
        str(output),
        *options,
    ]
    # one thread per rank unless --threads says otherwise; CPU for all runs
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TUTORIAL_DEVICE": "cpu"}
    if max_restarts:  # a fresh store per attempt: see "When a worker dies"
        env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    if finished.returncode != 0:  # the ranks' messages come first: keep all
        raise RuntimeError(
            f"{' '.join(command[2:])} failed:\n{finished.stderr}"
        )
    return json.loads(output.read_text())


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
# machine's CPU cores (the book's stored outputs come from a machine with two). We measure the
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
# one after another, each a handful of small operations. Two ranks at 16
# sequences each share the arithmetic of one rank at 32, but each still runs
# all 50 steps and all their operations, and every update adds an all-reduce
# of 80,700 gradients. Whether that comes out ahead of one rank, and whether a
# second thread inside one rank helps or hurts, the table shows for its
# machine. One row is easier to foresee: two ranks with two threads each ask
# for four threads, and on a machine with fewer than four cores, such as the
# two-core one that stored these outputs, that row is the slowest; a folded
# cell checks it there.
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
# `init_process_group` needs no change. The function `torchrun` above sets it for
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
# Rank 0 waited out its five seconds (a folded cell asserts at least that long,
# and that gloo's message says it timed out) and stopped with the same message.
# (The tests in `tests/test_ddp.py` run, at a smaller size, the scenarios above
# but the speed table and the frozen rank: identical ranks, world sizes that
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
# ````{exercise} Gradient accumulation
# :label: ex-07-char-rnn-ddp-3
# To reach a global batch that does not fit in a rank's memory, each rank can
# accumulate the gradients of several micro-batches before every update.
# Split a batch of 32 sequences into four micro-batches of 8, accumulate
# their gradients in a model wrapped in `DistributedDataParallel`, once as
# they come and once with the first three backward passes inside
# `no_sync()`, and count DDP's all-reduces. Do the accumulated gradients
# equal the whole batch's?
# ````
#
# ````{solution-start} ex-07-char-rnn-ddp-3
# :class: dropdown
# ````
# Inside `no_sync()`, a backward pass only adds to the parameters' `.grad`;
# the first backward pass outside it all-reduces what has accumulated. So an
# update costs one all-reduce instead of one per micro-batch, and the
# gradient does not change: with each micro-batch's loss divided by their
# number, the sum of the four gradients is the gradient of the mean over all
# 32 sequences. What accumulation costs is time: the micro-batches run one
# after another.
#
# Counting the all-reduces needs no second process. A process group of one
# rank inside this kernel (with an in-memory `HashStore` in place of a TCP
# store) runs DDP's bookkeeping and its communication hook as with many
# ranks; a hook that counts, then calls PyTorch's own `allreduce_hook`,
# records every all-reduce (one per bucket of gradients: this model's
# gradients fit in one).

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the gradients' last digits
# depend on the floating-point path and on the order of the sums. The
# assertions check the counts, and the gradients to float32 rounding.
import contextlib

import torch.nn.functional as F
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import (
    allreduce_hook,
)

text = tu.char_to_tensor(tu.clean_text(tu.load_novel_text()))
inputs, targets, _ = consecutive_batch(text, 32, 50, 0)
dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
torch.manual_seed(123)
ddp = DistributedDataParallel(CharRNN())
all_reduces = []


def counted(state, bucket):
    all_reduces.append(bucket.index())
    return allreduce_hook(None, bucket)  # None: the default process group


ddp.register_comm_hook(None, counted)


def accumulated(micro_batches: int, no_sync: bool):
    """The accumulated gradients, and the all-reduces they took."""
    ddp.zero_grad()
    all_reduces.clear()
    pairs = list(
        zip(inputs.chunk(micro_batches), targets.chunk(micro_batches))
    )
    for number, (x, y) in enumerate(pairs, 1):
        last = number == len(pairs)
        with (
            ddp.no_sync() if no_sync and not last else contextlib.nullcontext()
        ):
            logits, _ = ddp(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
            (loss / micro_batches).backward()
    return [p.grad.clone() for p in ddp.parameters()], len(all_reduces)


whole, whole_count = accumulated(1, no_sync=False)
each, each_count = accumulated(4, no_sync=False)
synced_once, once_count = accumulated(4, no_sync=True)
dist.destroy_process_group()
gap = max((a - b).abs().max().item() for a, b in zip(synced_once, whole))
largest = max(g.abs().max().item() for g in whole)
print(
    f"all-reduces: whole batch {whole_count}, four micro-batches {each_count},"
)
print(f"             four micro-batches with no_sync {once_count}")
print(
    f"largest gradient {largest:.1e}; largest gap to the whole batch {gap:.1e}"
)
assert (whole_count, each_count, once_count) == (1, 4, 1)
assert gap <= 1e-5 * largest  # float32 rounding of sums in another order

# %% [markdown]
# Four micro-batches cost four all-reduces as they come and one with
# `no_sync()`, and their accumulated gradient is the whole batch's up to
# float32 rounding: no entry differs by more than $10^{-5}$ times the largest
# gradient entry (the assertion). With many ranks and a large model, where an
# all-reduce can take as long as a backward pass, the all-reduces saved are
# what makes accumulation pay.
#
# ````{solution-end}
# ````
