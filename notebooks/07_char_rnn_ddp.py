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
# Colab, Kaggle, Binder or a Jupyter without this book's repository: install its helper package.
# (Where it is installed already, this does nothing.)
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("tutorial_utils") is None:
    package = "tutorial-utils @ git+https://github.com/deep-learning-models-book/deep-learning-models-book@main"
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
# purpose.


# %% tags=["export"]
def positive(kind: type):
    """An argparse type: a number of `kind` above zero, with a message naming the value otherwise."""

    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(
                f"must be a positive {kind.__name__}, got {text}"
            )
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train chapter 6's character-level GRU with DistributedDataParallel."
    )
    parser.add_argument(
        "--batch-size",
        type=positive(int),
        default=32,
        help="global batch: sequences per update over all ranks",
    )
    parser.add_argument(
        "--seq-len",
        type=positive(int),
        default=50,
        help="characters per chunk of truncated BPTT",
    )
    parser.add_argument(
        "--iterations",
        type=positive(int),
        default=200,
        help="updates in the schedule",
    )
    parser.add_argument("--peak-lr", type=positive(float), default=0.01)
    parser.add_argument(
        "--threads",
        type=positive(int),
        default=1,
        help="CPU threads of each rank",
    )
    parser.add_argument(
        "--timeout",
        type=positive(float),
        default=60.0,
        help="seconds a rank waits for the others",
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=None,
        help="save here, and resume from the newest checkpoint",
    )
    parser.add_argument("--checkpoint-every", type=positive(int), default=10)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="rank 0 writes the run's results here (JSON)",
    )
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument(
        "--stop-after",
        type=positive(int),
        default=None,
        help="stop after this many updates (an interruption)",
    )
    parser.add_argument(
        "--fail-at",
        type=int,
        default=None,
        help="kill rank --fail-rank at this update, on the first attempt",
    )
    parser.add_argument("--fail-rank", type=int, default=1)
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
# The ranks find each other through a key-value store at `MASTER_ADDR:MASTER_PORT` (hosted by
# torchrun, or by rank 0 when the ranks are started by hand), where each rank publishes the
# address it listens on. We give every attempt of a run its own key prefix: after a restart,
# torchrun's workers can otherwise read the dead attempt's addresses and fail to connect
# (PyTorch issue 167288).


# %% tags=["export"]
def choose_device(
    local_rank: int, local_world: int
) -> tuple[torch.device, str]:
    """This rank's device and the process group's backend: a GPU per local rank with NCCL, else the CPU with gloo."""
    wanted = (
        tu.get_device()
    )  # raises if TUTORIAL_DEVICE names a device this machine does not have
    gpus = torch.cuda.device_count() if wanted.type == "cuda" else 0
    if gpus >= local_world:
        return torch.device("cuda", local_rank), "nccl"
    if gpus and os.environ.get(DEVICE_ENV_VAR):
        raise SystemExit(
            f"{DEVICE_ENV_VAR}={os.environ[DEVICE_ENV_VAR]!r} asks for GPUs, but this machine has {gpus} for "
            f"{local_world} local ranks: start at most {gpus} (--nproc_per_node), or unset {DEVICE_ENV_VAR}"
        )
    if gpus and local_rank == 0:
        print(
            f"{gpus} GPU(s) for {local_world} local ranks: training on the CPU with gloo",
            flush=True,
        )
    return torch.device("cpu"), "gloo"


def setup(args: argparse.Namespace) -> tuple[int, int, torch.device]:
    """Join the process group that torchrun set up; returns (rank, world size, device)."""
    if "RANK" not in os.environ:
        raise SystemExit(
            "start this script with torchrun, e.g. torchrun --standalone --nproc_per_node=2 -m tutorial_utils.ddp_charrnn"
        )
    local_rank, local_world = (
        int(os.environ["LOCAL_RANK"]),
        int(os.environ["LOCAL_WORLD_SIZE"]),
    )
    device, backend = choose_device(local_rank, local_world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.set_num_threads(args.threads)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    timeout = datetime.timedelta(seconds=args.timeout)
    hosted_by_torchrun = (
        os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    )
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world,
        is_master=rank == 0 and not hosted_by_torchrun,
        timeout=timeout,
    )
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    dist.init_process_group(
        backend,
        store=dist.PrefixStore(f"attempt-{attempt}", store),
        rank=rank,
        world_size=world,
        timeout=timeout,
    )
    if args.batch_size % dist.get_world_size():
        raise SystemExit(
            f"--batch-size {args.batch_size} must be a multiple of the {dist.get_world_size()} ranks: equal shards"
        )
    return dist.get_rank(), dist.get_world_size(), device


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
    """Rank 0 writes a checkpoint after `iteration` updates, with the whole batch's hidden state."""
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
    """The newest checkpoint, if any: (updates done, losses so far, this rank's hidden state)."""
    found = (
        tu.list_checkpoints(args.checkpoint_dir) if args.checkpoint_dir else []
    )
    if not found:
        return 0, [], None
    state = tu.load_checkpoint(found[-1], model, optimizer)
    extra = state["extra"]
    if "hidden" not in extra or extra.get("batch_size") != args.batch_size:
        raise SystemExit(
            f"{found[-1]} is not a checkpoint of this script at --batch-size {args.batch_size} "
            f"(it holds batch size {extra.get('batch_size')}): use another --checkpoint-dir"
        )
    if rank == 0:
        print(
            f"resuming from {found[-1].name} (update {state['iteration']}) with {world} rank(s)",
            flush=True,
        )
    return (
        state["iteration"],
        list(extra["losses"]),
        shard(extra["hidden"].transpose(0, 1), rank, world)
        .transpose(0, 1)
        .to(device),
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
    torch.manual_seed(
        args.seed
    )  # the same initial weights on every rank (DDP also broadcasts rank 0's)
    model = CharRNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.peak_lr)
    start, losses, hidden = resume(args, model, optimizer, rank, world, device)
    torch.manual_seed(
        args.seed + rank
    )  # from here on, each rank draws its own random numbers (see below)
    ddp = DistributedDataParallel(model)

    seconds, restarts = (
        0.0,
        int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")),
    )
    for iteration in range(start, args.iterations):
        if (
            iteration == args.fail_at
            and rank == args.fail_rank
            and restarts == 0
        ):
            os.kill(
                os.getpid(), signal.SIGKILL
            )  # a worker dies without a word, as on a crash or an out-of-memory kill
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
    sample_seed = int(
        torch.randint(2**31, ())
    )  # this rank's generator, seeded with seed + rank
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
    """Whether an error comes from the communication library, as when a peer died or stopped answering."""
    # gloo raises a lost peer as a plain RuntimeError whose message starts with its own source file
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
        rank = os.environ.get("RANK", "?")
        print(
            f"rank {rank}: lost contact with the other ranks ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            f"a worker died or stopped answering within --timeout {args.timeout:.0f} s. Restart the run (torchrun "
            "--max-restarts does it for you); it resumes from the newest checkpoint in --checkpoint-dir.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)


if (
    __name__ == "__main__" and __package__ == "tutorial_utils"
):  # torchrun -m tutorial_utils.ddp_charrnn; here, only defined
    main()

# %% [markdown]
# ## Launching it
#
# `torchrun --standalone --nproc_per_node=2 -m tutorial_utils.ddp_charrnn` starts two ranks on this
# machine (`--standalone` sets up the rendezvous on localhost). The helper below runs that command
# with the script's options, waits, and returns the results rank 0 wrote; the command's own output
# is kept for when something fails.

# %%
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

workspace = tempfile.TemporaryDirectory(
    prefix="ddp-"
)  # the runs' results and checkpoints, removed with the kernel
work = Path(workspace.name)


def torchrun(
    nproc: int, *options: str, max_restarts: int = 0, name: str = "run"
) -> dict:
    """Run the training script on `nproc` ranks with `options`; returns what rank 0 wrote."""
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
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    if finished.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[2:])} failed:\n{finished.stderr[-3000:]}"
        )
    return json.loads(output.read_text())


# %% [markdown]
# Thirty updates of a global batch of 32 sequences of 50 characters, once with one rank and once
# with two (16 sequences each):

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the losses' last digits depend on the floating-point
# path, and the two runs add their gradients in different orders. The assertions check the claims.
one = torchrun(1, "--iterations", "30", name="one")
two = torchrun(2, "--iterations", "30", name="two")
print(
    f"world size 1: losses {np.round(one['losses'][:3], 3).tolist()} ... {np.round(one['losses'][-3:], 3).tolist()}"
)
print(
    f"world size 2: losses {np.round(two['losses'][:3], 3).tolist()} ... {np.round(two['losses'][-3:], 3).tolist()}"
)
print(
    f"backend {two['backend']} on {two['device']}; parameters of the two ranks: {two['parameter_sha256'][0][:16]}... and {two['parameter_sha256'][1][:16]}..."
)
print("each rank's own sample:", two["samples"])
loss_gap = np.abs(np.subtract(one["losses"], two["losses"])).max()
parameter_gap = np.abs(np.subtract(one["parameters"], two["parameters"])).max()
print(
    f"largest difference between the two runs: losses {loss_gap:.1e}, parameters {parameter_gap:.1e}"
)

assert len(set(two["parameter_sha256"])) == 1, "the ranks' parameters differ"
assert len(set(two["samples"])) == 2, "the ranks drew the same random numbers"
assert loss_gap <= 1e-4 and parameter_gap <= 1e-4, (
    "one and two ranks must compute the same updates, to float32 rounding"
)

# %% [markdown]
# The two ranks end with parameters that are identical bit for bit: the same start, and the same
# averaged gradient at every update; from those identical models their own seeds draw different
# samples. And one rank at batch 32 computes what two ranks at 16 each
# compute: the losses and parameters agree to about $10^{-6}$, the size of float32 rounding when
# the sums run in another order (the gradient of 32 sequences at once, or the mean of two
# gradients of 16). The assertion allows $10^{-4}$, a hundred times that and far below what a
# mistake in the sharding or the averaging would cause.
#
# ## What two processes gain on a small CPU
#
# Data parallelism pays when each rank brings its own hardware. Here the ranks share this
# machine's CPU cores (the book's stored outputs come from a machine with two). We measure the
# training throughput (40 updates, the validation excluded) with one and two ranks, one and two
# threads per rank:

# %%
rows = []
for nproc, threads in ((1, 1), (1, 2), (2, 1), (2, 2)):
    run = torchrun(
        nproc,
        "--iterations",
        "40",
        "--threads",
        str(threads),
        name=f"speed-{nproc}-{threads}",
    )
    rows.append((nproc, threads, run["characters_per_second"]))
base = rows[0][2]
for nproc, threads, speed in rows:
    print(
        f"{nproc} rank(s) x {threads} thread(s) = {nproc * threads} threads on {os.cpu_count()} cores: {speed / 1000:.0f} thousand characters per second, "
        f"{speed / base:.2f}x one rank with one thread"
    )

# %% [markdown]
# What to expect, and why. An update of this GRU is 50 sequential time steps of small matrix
# products, and at 16 or 32 sequences a step costs about the same: the time goes into running
# many small operations one after another, not into arithmetic (chapter 6 measured this). So
# halving a rank's share of the batch hardly shortens its update, and two ranks at 16 sequences
# each take nearly as long per update as one rank at 32; on top of that they all-reduce 80,700
# gradients per update. Two ranks therefore gain little, and a second thread inside one rank
# gains little for the same reason. On two cores, two ranks with two threads each ask for four
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
# Path-dependent output (not compared by nbval): the last digits depend on the floating-point path.
# The assertion checks the claim: the resumed run ends where the uninterrupted one does.
folder = work / "checkpoints"
interrupted = torchrun(
    2,
    "--iterations",
    "30",
    "--checkpoint-dir",
    str(folder),
    "--stop-after",
    "20",
    name="interrupted",
)
print(
    f"two ranks stopped after {interrupted['updates']} updates; checkpoints: {[p.name for p in sorted(folder.iterdir())]}"
)
resumed = torchrun(
    1, "--iterations", "30", "--checkpoint-dir", str(folder), name="resumed"
)
print(
    f"one rank resumed at update {resumed['resumed_at']} and finished {resumed['updates']}"
)
gap = np.abs(np.subtract(resumed["parameters"], two["parameters"])).max()
print(
    f"largest parameter difference to the uninterrupted two-rank run: {gap:.1e}"
)
assert (
    resumed["resumed_at"] == 20
    and resumed["updates"] == 30
    and resumed["losses"][:20] == interrupted["losses"]
)
assert gap <= 1e-4, (
    "the resumed run must end where the uninterrupted run ends, to float32 rounding"
)

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
    "--iterations",
    "30",
    "--checkpoint-dir",
    str(folder),
    "--fail-at",
    "15",
    max_restarts=1,
    name="restarted",
)
print(
    f"restarts: {restarted['restarts']}; the second attempt resumed at update {restarted['resumed_at']}"
)
print(
    f"largest parameter difference to the uninterrupted run: {np.abs(np.subtract(restarted['parameters'], two['parameters'])).max():.1e}"
)
assert restarted["restarts"] == 1 and restarted["resumed_at"] == 10
assert restarted["parameters"] == two["parameters"], (
    "the same ranks, the same updates: the result must be identical"
)

# %% [markdown]
# The restarted run is bit for bit the uninterrupted one: the same two ranks redid updates 11 to
# 15 from the same state.
#
# Without a supervisor that restarts them, the surviving ranks must not wait for a dead one
# forever. Here we start the two ranks by hand, as they would run on two machines (each with
# `RANK`, `WORLD_SIZE` and the store's address, which torchrun would otherwise set), and rank 1
# dies at update 5. Rank 0's next all-reduce fails, and the script's `main` turns that into one
# clear message and exit status 1:

# %%
import socket

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
        "-m",
        "tutorial_utils.ddp_charrnn",
        "--iterations",
        "30",
        "--fail-at",
        "5",
        "--timeout",
        "20",
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
print(
    f"rank 1 exited with status {ranks[1].returncode} (killed); rank 0 with status {ranks[0].returncode}, after {waited:.1f} s"
)
message = survivor_says.strip().splitlines()[-1]
print(
    "rank 0 said:",
    message[: message.index(" (")],
    "(...);",
    message[message.index("a worker died") :],
)
assert (
    ranks[1].returncode == -9
    and ranks[0].returncode == 1
    and "lost contact with the other ranks" in survivor_says
)

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
# - `torchrun --max-restarts` plus resuming from the newest checkpoint survives a dead worker; a
#   collective timeout makes the survivors fail fast when nobody restarts them.
#
# ## Exercises
#
# 1. Run with `--batch-size 30` on 4 ranks. What happens, and why does the script insist on equal
#    shards?
# 2. Double the global batch with two ranks and keep the learning rate. Does the loss after 200
#    updates get better or worse than one rank at half the batch? Try raising the learning rate.
# 3. Measure the all-reduce: time `dist.all_reduce` of a tensor of 80,700 floats between two ranks,
#    and compare it with the time of one update.
# 4. Replace `DistributedDataParallel` by a manual all-reduce of every parameter's gradient after
#    `backward()`. Check that the parameters stay identical across ranks; what does DDP do better?
