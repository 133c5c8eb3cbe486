"""Chapter 7's training script on two gloo processes: identical ranks, world sizes that agree,
checkpoints across world sizes, a restart after a killed worker, and a fast failure without one."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("data_copy")
SMALL = ["--batch-size", "8", "--seq-len", "20", "--iterations", "10"]


def environment() -> dict[str, str]:
    mirror = os.environ.get("TUTORIAL_DATA_MIRROR") or str(Path(__file__).resolve().parents[2] / "shared" / "data")
    return {**os.environ, "OMP_NUM_THREADS": "1", "TUTORIAL_DATA_MIRROR": mirror}


def torchrun(tmp_path: Path, nproc: int, *options: str, name: str, max_restarts: int = 0) -> dict:
    output = tmp_path / f"{name}.json"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", f"--max-restarts={max_restarts}",
               "-m", "tutorial_utils.ddp_charrnn", "--output", str(output), *SMALL, *options]
    env = environment()
    if max_restarts:  # a fresh store for every attempt, as chapter 7 explains
        env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(output.read_text())


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    return torchrun(tmp_path_factory.mktemp("ddp"), 2, name="two")


def test_the_ranks_stay_identical_and_one_rank_computes_what_two_do(tmp_path, uninterrupted):
    one = torchrun(tmp_path, 1, name="one")
    assert uninterrupted["world_size"] == 2 and uninterrupted["backend"] == "gloo"
    assert len(uninterrupted["parameter_sha256"]) == 2 and len(set(uninterrupted["parameter_sha256"])) == 1
    assert len(set(uninterrupted["samples"])) == 2  # each rank draws from its own seed
    assert np.abs(np.subtract(one["losses"], uninterrupted["losses"])).max() <= 1e-4
    assert np.abs(np.subtract(one["parameters"], uninterrupted["parameters"])).max() <= 1e-4


def test_a_checkpoint_of_two_ranks_resumes_on_one(tmp_path, uninterrupted):
    folder = str(tmp_path / "checkpoints")
    torchrun(tmp_path, 2, "--checkpoint-dir", folder, "--checkpoint-every", "3", "--stop-after", "6", name="first")
    resumed = torchrun(tmp_path, 1, "--checkpoint-dir", folder, "--checkpoint-every", "3", name="resumed")
    assert resumed["resumed_at"] == 6 and resumed["updates"] == 10
    assert np.abs(np.subtract(resumed["parameters"], uninterrupted["parameters"])).max() <= 1e-4


def test_torchrun_restarts_after_a_killed_worker_and_the_result_is_unchanged(tmp_path, uninterrupted):
    folder = str(tmp_path / "checkpoints")
    restarted = torchrun(tmp_path, 2, "--checkpoint-dir", folder, "--checkpoint-every", "3", "--fail-at", "7", name="restarted", max_restarts=1)
    assert restarted["restarts"] == 1 and restarted["resumed_at"] == 6
    assert restarted["parameters"] == uninterrupted["parameters"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dead_rank_makes_the_survivor_fail_fast_with_a_clear_message(tmp_path):
    """Two ranks started by hand, as on two machines without torchrun's supervision; rank 1 dies at update 3."""
    port = free_port()
    processes = []
    for rank in (0, 1):
        env = {**environment(), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": "2"}
        command = [sys.executable, "-m", "tutorial_utils.ddp_charrnn", *SMALL, "--fail-at", "3", "--timeout", "15"]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    start = time.monotonic()
    _, survivor_errors = processes[0].communicate(timeout=60)
    elapsed = time.monotonic() - start
    processes[1].communicate(timeout=10)
    assert processes[1].returncode == -9  # killed, as planned
    assert processes[0].returncode == 1 and "rank 0: lost contact with the other ranks" in survivor_errors, survivor_errors[-2000:]
    assert elapsed < 45, f"the survivor took {elapsed:.0f} s to give up"


def test_only_errors_of_the_communication_library_are_reported_as_lost_peers(monkeypatch):
    from tutorial_utils import ddp_charrnn

    gloo = RuntimeError("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:545] Read error: Connection reset by peer")
    assert ddp_charrnn.lost_peers(gloo)
    assert not ddp_charrnn.lost_peers(RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x20 and 100x300)"))

    def shape_bug(args):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (8x20 and 100x300)")

    monkeypatch.setattr(ddp_charrnn, "train", shape_bug)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        ddp_charrnn.main([])


def test_cuda_asked_for_with_fewer_gpus_than_ranks_stops_and_unasked_falls_back_with_a_word(monkeypatch, capsys):
    import torch

    from tutorial_utils import ddp_charrnn

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv("TUTORIAL_DEVICE", "cuda")
    with pytest.raises(SystemExit, match="'cuda' asks for GPUs, but this machine has 1 for 2 local ranks: start at most 1"):
        ddp_charrnn.choose_device(0, 2)
    assert ddp_charrnn.choose_device(0, 1) == (torch.device("cuda", 0), "nccl")
    monkeypatch.delenv("TUTORIAL_DEVICE")
    assert ddp_charrnn.choose_device(0, 2) == (torch.device("cpu"), "gloo")
    assert "1 GPU(s) for 2 local ranks: training on the CPU" in capsys.readouterr().out


@pytest.mark.parametrize("option, value", [("--batch-size", "0"), ("--batch-size", "-4"), ("--seq-len", "0"),
                                           ("--checkpoint-every", "0"), ("--iterations", "-1"), ("--stop-after", "0")])
def test_the_script_refuses_counts_below_one_naming_them(option, value, capsys):
    from tutorial_utils import ddp_charrnn

    with pytest.raises(SystemExit):
        ddp_charrnn.parse_args([option, value])
    assert f"argument {option}: must be positive, got {value}" in capsys.readouterr().err


def test_the_script_started_without_torchrun_says_how_to_start_it(monkeypatch):
    from tutorial_utils import ddp_charrnn

    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit, match="torchrun --standalone --nproc_per_node=2 -m tutorial_utils.ddp_charrnn"):
        ddp_charrnn.setup(ddp_charrnn.parse_args([]))
