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
# 1. write a training script for chapter 6's model and fast recipe that runs unchanged on one
#    process or many, on CPUs or GPUs, on one machine or several;
# 2. launch it with `torchrun --standalone --nproc_per_node=2` and check that the two copies of
#    the model end bit for bit identical, and that two processes compute what one process computes
#    at the same global batch;
# 3. measure what two processes gain on a two-core CPU, and what too many threads cost;
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
# which, with equal shards, is exactly the gradient of the mean loss over the whole global batch:
# the update one process would make on all $B$ sequences. Every rank applies the same update to the
# same parameters, so the replicas never drift apart. DDP overlaps the all-reduce with the
# backward pass, bucket by bucket, as gradients become ready.
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
# The options. `--batch-size` is the global batch; `--threads` the CPU threads of *each* rank;
# `--timeout` how long a rank waits for the others before it gives up (gloo's default is 30
# minutes). The last three options exist for the demonstrations: stop early, or kill one rank on
# purpose. The script checks only what PyTorch would not: counts of zero, which would divide by
# zero later (Adam refuses a negative learning rate and `torch.set_num_threads` a thread count
# below one by themselves).


# %% tags=["export"]
def positive(text: str) -> int:
    """An argparse type: an integer above zero (0 would divide by zero)."""
    if int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train chapter 6's GRU with DistributedDataParallel."
    )
    add = parser.add_argument
    add("--batch-size", type=positive, default=32, help="over all ranks")
    add("--seq-len", type=positive, default=50, help="characters per chunk")
    add("--iterations", type=positive, default=200, help="updates planned")
    add("--peak-lr", type=float, default=0.01)
    add("--threads", type=int, default=1, help="CPU threads of each rank")
    add("--timeout", type=float, default=60.0, help="seconds to wait")
    add("--checkpoint-dir", type=Path, help="save here, resume from here")
    add("--checkpoint-every", type=positive, default=10)
    add("--output", type=Path, help="rank 0 writes the results here (JSON)")
    add("--seed", type=int, default=123)
    add("--stop-after", type=positive, help="stop after this many updates")
    add("--fail-at", type=int, help="kill a rank at this update, once")
    add("--fail-rank", type=int, default=1, help="the rank --fail-at kills")
    return parser.parse_args(argv)


# %% [markdown]
# ### One process group, on CPUs or GPUs
#
# The backend follows the device. With a GPU for every local rank, each rank takes GPU
# `LOCAL_RANK` and the ranks talk over NCCL; otherwise they run on the CPU and talk over gloo,
# and rank 0 says so. When `TUTORIAL_DEVICE=cuda` asks for GPUs explicitly and there are fewer
# than ranks, the script stops with a message instead. Nothing else in the script depends on the
# device.
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
    if args.batch_size % world:  # unequal shards would skew the mean
        raise SystemExit(
            f"--batch-size {args.batch_size}: not a multiple of {world} ranks;"
            f" use a multiple of {world}, such as {world * 16}"
        )
    return rank, world, device


# %% [markdown]
# ### Each rank its own streams
#
# Chapter 6 cut the training text into `batch_size` contiguous streams and took the next chunk of
# every stream per update. Here the global batch's streams are split into equal contiguous shards:
# rank $r$ trains on streams $r \cdot B/W$ to $(r + 1) \cdot B/W - 1$ and carries their hidden
# states. With equal shards every rank does the same amount of work per update, so none waits for
# another at the all-reduce for longer than the noise of its own timing. Chunk `index` is the same
# for every world size: one process at batch 32 and two at 16 each see exactly the same characters.
#
# Training draws no random numbers here (the chunks are consecutive). Whatever a rank does draw
# at random, though, it must draw from its own seed: ranks that share a seed draw the *same*
# "random" numbers, a classic bug of data-parallel code with random batches or augmentations. The
# script seeds every rank alike to build the model (identical replicas), then reseeds each with
# `seed + rank`. At the end each rank draws the seed of a short text sample from that generator,
# so the ranks' samples differ only if their generators do.


# %% tags=["export"]
def shard(tensor: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank `rank`'s equal share of the first (stream) dimension."""
    size = tensor.shape[0] // world
    return tensor[rank * size : (rank + 1) * size]


# %% [markdown]
# ### Checkpoints across world sizes
#
# The parameters and the optimizer's state are the same on every rank, so rank 0 alone saves them,
# with `tu.save_checkpoint` (atomic writes, safe loading; chapter 6). The hidden states of the
# streams are the one thing each rank holds a different part of: they are gathered to rank 0 and
# saved as the whole batch's state, so that any world size that divides the global batch can take
# its own shards back. Every rank loads the checkpoint when it starts.


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
# The loop of chapter 6's fast recipe, calling chapter 6's `tbptt_step`, with three differences:
# the step gets the model wrapped in `DistributedDataParallel` (which all-reduces the gradients
# during `backward()`), each rank feeds it its own shard of the chunk, and the logged loss is the
# mean over the ranks (one more all-reduce, of a single number). Clipping needs no change: it
# runs after the all-reduce, on gradients that are identical on every rank.


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
# A rank that loses its peers raises an error at its next collective operation: at once when a
# peer's connection closes, or after `--timeout` seconds when a peer stops answering. `main`
# turns that into one clear message and a non-zero exit, instead of a hang or a page of C++ traces.
# Only errors of the communication library get that message; any other error (a wrong shape, a
# tensor on the wrong device) keeps its own traceback.


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
            f" or stopped answering within --timeout {args.timeout:.0f} s."
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
# `torchrun --standalone --nproc_per_node=2 -m tutorial_utils.ddp_charrnn` starts two ranks on this
# machine (`--standalone` sets up the rendezvous on localhost). The function below runs that command
# with the script's options, waits, and returns the results rank 0 wrote; the command's own output
# is kept for when something fails.

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
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if max_restarts:  # a fresh store per attempt: see "When a worker dies"
        env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    if finished.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[2:])} failed:\n{finished.stderr[-3000:]}"
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
assert loss_gap <= 1e-4 and parameter_gap <= 1e-4, (
    "one and two ranks must compute the same updates, to float32 rounding"
)
assert max(loss_gap, parameter_gap) < 1e-5  # "about 1e-6" in the text
assert two["global_batch"] == 32 and two["updates"] == 30

# %% [markdown]
# The two ranks end with parameters that are identical bit for bit: the same start, and the same
# averaged gradient at every update; from those identical models their own seeds draw different
# samples. And one rank at batch 32 computes what two ranks at 16 each
# compute: the losses and parameters agree to about $10^{-6}$, the size of float32 rounding when
# the sums run in another order (the gradient of 32 sequences at once, or the mean of two
# gradients of 16). The assertion allows $10^{-4}$, a hundred times that and far below what a
# mistake in the sharding or the averaging would cause. Drawn update by update, the two training
# losses lie on top of each other: the same updates.

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
# machine and on what else runs on it. The assertion checks the one claim
# that holds on any machine with fewer than four cores.
rows = []
for nproc, threads in ((1, 1), (1, 2), (2, 1), (2, 2)):
    run = torchrun(
        nproc,
        *("--iterations", "40", "--threads", str(threads)),
        name=f"speed-{nproc}-{threads}",
    )
    rows.append((nproc, threads, run["characters_per_second"]))
base = rows[0][2]
print(f"on {os.cpu_count()} cores:")
print("ranks | threads per rank | thousand characters/s | vs 1 x 1")
for nproc, threads, speed in rows:
    print(
        f"{nproc:5} | {threads:16} | {speed / 1000:21.0f} |"
        f" {speed / base:7.2f}x"
    )
gradients = sum(p.numel() for p in CharRNN().parameters())
print(f"every update all-reduces {gradients:,} gradients")
assert gradients == 80_700
if os.cpu_count() < 4:  # four threads on fewer cores: the slowest row
    assert rows[-1][2] == min(speed for *_, speed in rows)

# %% [markdown]
# What to expect, and why. An update of this GRU is 50 sequential time steps of small matrix
# products, and at 16 or 32 sequences a step costs about the same: the time goes into running
# many small operations one after another, not into arithmetic (chapter 6 measured this). So
# halving a rank's share of the batch hardly shortens its update, and two ranks at 16 sequences
# each take nearly as long per update as one rank at 32; on top of that they all-reduce 80,700
# gradients per update. Two ranks therefore fall short of the doubling a second core promises,
# and so does a second thread inside one rank, for the same reason (the table shows by how much
# on the machine that ran it). On two cores, two ranks with two threads each ask for four
# threads and are far slower: each rank's threads wait for each other at every small operation
# while the other rank's threads hold the cores. (With more cores than threads, that last row
# looks like the others.)
#
# Data parallelism pays off when each rank's share is large enough to keep its own hardware
# busy: long batches on a GPU per rank, or many cores per rank. The same script then scales the
# same way, with NCCL over NVLink or the network in place of gloo over local sockets.
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
    f"one rank resumed at update {resumed['resumed_at']}"
    f" and finished {resumed['updates']}"
)
gap = np.abs(np.subtract(resumed["parameters"], two["parameters"])).max()
print(f"largest parameter difference to the two-rank run: {gap:.1e}")
assert resumed["resumed_at"] == 20 and resumed["updates"] == 30
assert resumed["losses"][:20] == interrupted["losses"]
assert gap <= 1e-4, "the resumed run must end where the uninterrupted run ends"

# %% [markdown]
# The checkpoint holds the whole batch's hidden state, so one rank can carry all 32 streams on
# where two ranks left them, and the run ends where the uninterrupted one ended, to float32
# rounding (the ten updates after the checkpoint sum their gradients in another order).
#
# ## When a worker dies
#
# With `--max-restarts=1`, torchrun watches its workers: when one dies, it stops the others and
# starts the whole group again, up to once. Because the script resumes from its newest checkpoint,
# a crash costs only the updates since that checkpoint. Here rank 1 is killed at update 15
# (`SIGKILL`, as an out-of-memory killer would do it) on the first attempt:

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
    f" at update {restarted['resumed_at']}"
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
# Without a supervisor that restarts them, the surviving ranks must not wait for a dead one
# forever. Here we start the two ranks by hand, as they would run on two machines (each with
# `RANK`, `WORLD_SIZE` and the store's address, which torchrun would otherwise set), and rank 1
# dies at update 5. Rank 0's next all-reduce fails, and the script's `main` turns that into one
# clear message and exit status 1:

# %%
import socket

import torch.distributed.constants as dist_defaults

with socket.socket() as probe:  # a free port for the store
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
ranks = []
for rank in (0, 1):
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "RANK": str(rank),
        "WORLD_SIZE": "2",
        "LOCAL_RANK": str(rank),
        "LOCAL_WORLD_SIZE": "2",
    }
    command = [
        sys.executable,
        *("-m", "tutorial_utils.ddp_charrnn", "--iterations", "30"),
        *("--fail-at", "5", "--timeout", "20"),
    ]
    ranks.append(
        subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
started = time.perf_counter()
_, survivor_says = ranks[0].communicate()
waited = time.perf_counter() - started
ranks[1].communicate()
print(f"rank 1 exited with status {ranks[1].returncode} (killed)")
print(f"rank 0 with status {ranks[0].returncode}, after {waited:.1f} s")
message = survivor_says.strip().splitlines()[-1]
said = message[: message.index(" (")] + " (...); "
said += message[message.index("a worker died") :]
print("rank 0 said:")
print(textwrap.indent(textwrap.fill(said, 77, break_on_hyphens=False), "  "))
assert ranks[1].returncode == -9 and ranks[0].returncode == 1
assert "lost contact with the other ranks" in survivor_says
# the default that --timeout replaces: 30 minutes
assert dist_defaults.default_pg_timeout.total_seconds() == 30 * 60

# %% [markdown]
# Rank 0 noticed at once: the dead rank's connection closed, and its next all-reduce failed. A rank
# that stops answering without closing its connections (a frozen machine, a cut network) is caught
# by `--timeout` instead, here 20 seconds; gloo's default would wait 30 minutes. (The tests in
# `tests/test_ddp.py` run the same scenarios: identical ranks, world sizes that agree, a resume
# across world sizes, a restart, and a dead rank.)
#
# ## On several GPUs, and on several machines
#
# The script needs no change; the launch does.
#
# - **One machine with 8 GPUs:** `torchrun --standalone --nproc_per_node=8 -m tutorial_utils.ddp_charrnn`.
#   Each rank finds a GPU for every local rank, takes GPU `LOCAL_RANK` and the backend becomes
#   NCCL. With fewer GPUs than ranks it falls back to gloo on the CPU and says so, or stops
#   with a message when `TUTORIAL_DEVICE=cuda` asked for GPUs.
# - **Two machines with 8 GPUs each:** on both, run
#   `torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=host0:29500 --rdzv-id=job42 -m tutorial_utils.ddp_charrnn --checkpoint-dir /shared/run`.
#   The rendezvous on `host0:29500` assigns the 16 global ranks; `LOCAL_RANK` still picks the GPU.
#   Checkpoints must go to a folder every machine sees, since every rank loads them.
# - **What stays the same:** `--batch-size` is still the global batch, now split 16 ways (it must
#   be a multiple of the world size), so the learning rate stays the same too.
#
# ## Summary
#
# - DDP keeps a full replica per rank, splits each global batch into equal shards and all-reduces
#   the gradients during the backward pass; every rank then takes the same step, and the replicas
#   stay identical bit for bit.
# - At a fixed global batch, any number of ranks computes the same updates as one process, to
#   float32 rounding; the learning rate does not change.
# - `torchrun` starts the ranks; the backend follows the device (gloo on CPUs, NCCL on GPUs); the
#   same script runs on several GPUs and several machines.
# - Rank 0 saves, every rank loads; saving the whole batch's hidden state lets a run continue at
#   another world size.
# - `torchrun --max-restarts` (with a fresh store for every attempt,
#   `TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`) plus resuming from the newest checkpoint survives a dead worker; a
#   collective timeout makes the survivors fail fast when nobody restarts them.
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
# Both ranks stop in `setup`, right after joining the process group, with the
# script's one-line message; no update is made, so the run takes only the few
# seconds the ranks need to start. The check is there because DDP averages
# the ranks' gradients with equal weights $1/W$, and each rank's loss is the
# mean over its own $n_r$ sequences: a sequence on rank $r$ weighs
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
    # both ranks write it; their lines may interleave, so search, not split
    found = re.search(
        r"--batch-size 31: not a multiple.*?such as \d+", str(error)
    )
    refusal = found.group() if found else None
print("each rank said:")
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
# share this machine's cores); the claim does not depend on the number of
# updates.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the losses' last digits
# depend on the floating-point path, and one and three ranks add their
# gradients in different orders. The assertions check the claims, with the
# chapter's tolerance of a hundred times float32 rounding.
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
assert loss_gap <= 1e-4 and parameter_gap <= 1e-4

# %% [markdown]
# The losses agree to float32 rounding, and the three replicas end bit for
# bit identical, as the two did in the chapter.
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
# `no_sync()`, and their accumulated gradient is the whole batch's to float32
# rounding. With many ranks and a large model, where an all-reduce can take
# as long as a backward pass, the all-reduces saved are what makes
# accumulation pay.
#
# ````{solution-end}
# ````
