import hashlib
import random

import numpy as np
import pytest
import torch

from tutorial_utils.charrnn import CharRNN, random_training_batch, random_training_pair, train_step_loop
from tutorial_utils.checkpoint import (
    CheckpointError,
    checkpoint_path,
    get_rng_state,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
    train_resumable,
)

DATA = torch.randint(0, 100, (400,), generator=torch.Generator().manual_seed(0))


pytestmark = pytest.mark.usefixtures("one_thread")


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tiny_setup(seed=123):
    seed_all(seed)
    model = CharRNN(embedding_size=8, hidden_size=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(iteration):
        # Uses all three generators: Python (the original's sampling), torch and NumPy.
        for group in optimizer.param_groups:
            group["lr"] = 0.01 * (0.5 + np.random.rand())
        inputs, targets = random_training_pair(DATA, 12)
        extra_inputs, _ = random_training_batch(DATA, 2, 12)
        return train_step_loop(model, optimizer, inputs, (targets + extra_inputs[0]) % 100)

    return model, optimizer, step


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_interrupted_and_resumed_run_equals_uninterrupted_run_bit_for_bit(tmp_path):
    model, optimizer, step = tiny_setup()
    expected_losses = train_resumable(model, optimizer, step, 10, tmp_path / "straight", checkpoint_every=3)
    expected = {name: value.clone() for name, value in model.state_dict().items()}

    model, optimizer, step = tiny_setup()

    def interrupted(iteration):
        if iteration == 7:
            raise KeyboardInterrupt
        return step(iteration)

    with pytest.raises(KeyboardInterrupt):
        train_resumable(model, optimizer, interrupted, 10, tmp_path / "resumed", checkpoint_every=3)
    assert list_checkpoints(tmp_path / "resumed")[-1] == checkpoint_path(tmp_path / "resumed", 6)

    # A fresh process: different initial weights and generator states, restored from the checkpoint.
    model, optimizer, step = tiny_setup(seed=999)
    losses = train_resumable(model, optimizer, step, 10, tmp_path / "resumed", checkpoint_every=3)

    assert losses == expected_losses and len(losses) == 10
    for name, value in model.state_dict().items():
        assert torch.equal(value, expected[name]), name


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    model, optimizer, step = tiny_setup()
    train_resumable(model, optimizer, step, 10, tmp_path, checkpoint_every=3, keep=2)
    assert [path.name for path in list_checkpoints(tmp_path)] == ["checkpoint_00000009.pt", "checkpoint_00000010.pt"]
    assert not [path for path in tmp_path.iterdir() if path.name.endswith(".tmp")]


def test_truncated_checkpoint_is_rejected_and_previous_one_survives(tmp_path):
    model, optimizer, step = tiny_setup()
    train_resumable(model, optimizer, step, 6, tmp_path, checkpoint_every=3)
    good, newest = checkpoint_path(tmp_path, 3), checkpoint_path(tmp_path, 6)
    good_hash = sha(good)
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])

    with pytest.raises(CheckpointError, match=r"checkpoint_00000006\.pt is truncated or corrupt"):
        load_checkpoint(newest, model, optimizer)
    model, optimizer, step = tiny_setup()
    with pytest.raises(CheckpointError, match=r"previous checkpoint .*checkpoint_00000003\.pt is intact"):
        train_resumable(model, optimizer, step, 9, tmp_path, checkpoint_every=3)

    assert sha(good) == good_hash
    assert load_checkpoint(good, model, optimizer)["iteration"] == 3
    newest.unlink()  # as the error message suggests: training then resumes from the good one
    assert len(train_resumable(model, optimizer, step, 9, tmp_path, checkpoint_every=3)) == 9


def test_a_crash_while_saving_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    model, optimizer, _ = tiny_setup()
    path = save_checkpoint(tmp_path / "checkpoint_00000001.pt", model, optimizer, 1)
    before = sha(path)

    def crash(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, optimizer, 2)
    assert sha(path) == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_files_that_are_not_checkpoints_are_rejected(tmp_path):
    model, optimizer, _ = tiny_setup()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt", model)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match=r"other\.pt is not a checkpoint"):
        load_checkpoint(tmp_path / "other.pt", model)
    torch.save({"iteration": 1, "model": {}, "optimizer": {}, "rng": {}, "extra": random.Random()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match=r"pickle\.pt is truncated or corrupt"):  # weights_only refuses arbitrary objects
        load_checkpoint(tmp_path / "pickle.pt", model)


def test_rng_state_round_trip():
    seed_all(5)
    state = get_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_all(6)
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_bad_arguments():
    model, optimizer, step = tiny_setup()
    with pytest.raises(ValueError, match="checkpoint_every >= 1"):
        train_resumable(model, optimizer, step, 5, "unused", checkpoint_every=0)
