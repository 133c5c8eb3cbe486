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


def shard(tensor: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank `rank`'s equal share of the first (stream) dimension."""
    size = tensor.shape[0] // world
    return tensor[rank * size : (rank + 1) * size]


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
