"""Data-parallel training with `torch.distributed`: the code of chapter 7, for later chapters, benchmarks and tests.

Generated from notebooks/07_char_rnn_ddp.py (its cells tagged 'export') by scripts/export_notebooks.py:
edit the notebook and run `make export`, not this file.
"""


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


def shard(tensor: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank `rank`'s equal share of the first (stream) dimension."""
    size = tensor.shape[0] // world
    return tensor[rank * size : (rank + 1) * size]


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
