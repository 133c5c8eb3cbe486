import hashlib
import os
import random
from pathlib import Path

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
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint_00000009.pt", "checkpoint_00000010.pt"]  # no temporary files left


def test_truncated_checkpoint_is_rejected_and_previous_one_survives(tmp_path):
    model, optimizer, step = tiny_setup()
    train_resumable(model, optimizer, step, 6, tmp_path, checkpoint_every=3)
    good, newest = checkpoint_path(tmp_path, 3), checkpoint_path(tmp_path, 6)
    good_hash = sha(good)
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])

    with pytest.raises(CheckpointError, match=r"checkpoint_00000006\.pt is truncated or corrupt"):
        load_checkpoint(newest, model, optimizer)
    model, optimizer, step = tiny_setup()
    with pytest.raises(CheckpointError, match=r"previous checkpoint .*checkpoint_00000003\.pt may be intact"):
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
    with pytest.raises(CheckpointError, match=r"pickle\.pt holds an object that safe loading refuses \(the file itself is readable, not damaged\)"):
        load_checkpoint(tmp_path / "pickle.pt", model)


def test_rng_state_round_trip():
    seed_all(5)
    state = get_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_all(6)
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


@pytest.mark.parametrize(("argument", "value"), [("checkpoint_every", 0), ("checkpoint_every", 2.5), ("keep", 0), ("num_iterations", -1), ("num_iterations", True)])
def test_bad_arguments(tmp_path, argument, value):
    model, optimizer, step = tiny_setup()
    arguments = {"num_iterations": 5, "checkpoint_every": 2, "keep": 2, argument: value}
    with pytest.raises(ValueError, match=f"{argument} must be a"):
        train_resumable(model, optimizer, step, checkpoint_dir=tmp_path, **arguments)


@pytest.mark.parametrize(("extra", "where"), [
    ({"best": np.float64(0.25)}, r"extra\['best'\] is a numpy.float64.*float\(\)"),
    ({"curve": np.zeros(3)}, r"extra\['curve'\] is a numpy.ndarray"),
    ({"folder": Path("runs")}, r"extra\['folder'\] is a pathlib.*Path"),
    ({"history": [1.0, {"at": object()}]}, r"extra\['history'\]\[1\]\['at'\] is a builtins.object"),
    ({3: "three"}, "has the key 3 of type int"),
])
def test_extra_that_a_safe_load_could_not_read_is_refused_when_saving(tmp_path, extra, where):
    model, optimizer, _ = tiny_setup()
    with pytest.raises(TypeError, match=where):
        save_checkpoint(tmp_path / "checkpoint_00000001.pt", model, optimizer, 1, extra=extra)
    assert not any(tmp_path.iterdir())
    save_checkpoint(tmp_path / "ok.pt", model, optimizer, 1, extra={"best": 0.25, "curve": torch.zeros(3), "folder": "runs", "n": None})
    assert load_checkpoint(tmp_path / "ok.pt", model, optimizer)["extra"]["folder"] == "runs"


def test_a_checkpoint_of_another_model_loads_nothing(tmp_path):
    seed_all(0)
    small = CharRNN(vocab_size=50, embedding_size=8, hidden_size=8)
    save_checkpoint(tmp_path / "small.pt", small, torch.optim.Adam(small.parameters()), 1)
    model, optimizer, _ = tiny_setup()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"small\.pt does not fit this model and optimizer, so nothing was loaded: embedding.weight: checkpoint \(50, 8\), model \(100, 8\)"):
        load_checkpoint(tmp_path / "small.pt", model, optimizer)
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())


def test_an_adam_state_does_not_load_into_sgd(tmp_path):
    model, optimizer, step = tiny_setup()
    step(0)  # Adam now holds exp_avg and exp_avg_sq
    save_checkpoint(tmp_path / "adam.pt", model, optimizer, 1)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(CheckpointError, match="holds a Adam state, the optimizer is a SGD"):
        load_checkpoint(tmp_path / "adam.pt", model, sgd)
    assert sgd.state_dict()["state"] == {}


@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter")
def test_a_checkpoint_resumes_on_another_device(tmp_path):
    """Written on the CPU, loaded into a model on another device ("meta" stands in for a GPU here):
    the generator states must stay CPU tensors, the parameters go where the model is."""
    model, optimizer, step = tiny_setup()
    step(0)
    save_checkpoint(tmp_path / "c.pt", model, optimizer, 1)
    moved = CharRNN(embedding_size=8, hidden_size=8).to("meta")
    state = load_checkpoint(tmp_path / "c.pt", moved, torch.optim.Adam(moved.parameters(), lr=0.01))
    assert state["iteration"] == 1 and next(moved.parameters()).device.type == "meta"


def test_a_resumed_run_never_trains_longer_than_asked(tmp_path):
    model, optimizer, step = tiny_setup()
    train_resumable(model, optimizer, step, 6, tmp_path, checkpoint_every=3)
    with pytest.raises(CheckpointError, match=r"at iteration 6, beyond num_iterations=4: ask for at least 6"):
        train_resumable(model, optimizer, step, 4, tmp_path, checkpoint_every=3)
    assert len(train_resumable(model, optimizer, step, 6, tmp_path, checkpoint_every=3)) == 6


def test_a_file_where_the_checkpoint_folder_belongs_is_named(tmp_path):
    model, optimizer, step = tiny_setup()
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(CheckpointError, match="is a file, not a folder of checkpoints"):
        train_resumable(model, optimizer, step, 3, tmp_path / "runs", checkpoint_every=1)


def test_checkpoints_follow_the_umask(tmp_path):
    model, optimizer, _ = tiny_setup()
    previous = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "c.pt", model, optimizer, 1)
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("content", [b"hello world\n", b"\x85\xf3", b"h\x05", b'{"a": 1}', b"\x80\x02j\x87j@", b""],
                         ids=["text", "pop-from-empty-stack", "unknown-memo", "json", "short-binget", "empty"])
def test_text_and_random_bytes_are_named_as_damaged_files(tmp_path, content):
    model, optimizer, step = tiny_setup()
    path = tmp_path / "checkpoint_00000001.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"checkpoint_00000001\.pt is truncated or corrupt"):
        load_checkpoint(path, model, optimizer)
    with pytest.raises(CheckpointError, match=r"checkpoint_00000001\.pt is truncated or corrupt"):
        train_resumable(model, optimizer, step, 3, tmp_path, checkpoint_every=1)


def _payload(net, opt, **changes):
    payload = {"iteration": 1, "model": net.state_dict(), "optimizer": opt.state_dict(),
               "optimizer_class": type(opt).__name__, "rng": get_rng_state(), "extra": {}}
    return {**payload, **changes}


@pytest.mark.parametrize("changes", [
    {"model": 5}, {"model": {"weight": [1.0]}}, {"optimizer": []}, {"optimizer": {"state": {}, "param_groups": 3}},
    {"optimizer_class": None}, {"iteration": -4}, {"iteration": "7"}, {"extra": [1]},
    {"rng": {"python": 1, "numpy": {}, "torch": torch.zeros(3), "cuda": []}}, {"rng": []},
], ids=lambda changes: "-".join(f"{key}={value!r:.20}" for key, value in changes.items()))
def test_a_checkpoint_with_entries_of_another_form_is_refused_and_loads_nothing(tmp_path, changes):
    model, optimizer, step = tiny_setup()
    torch.save(_payload(model, optimizer, **changes), tmp_path / "checkpoint_00000001.pt")
    before = {name: value.clone() for name, value in model.state_dict().items()}
    generators = (random.getstate(), torch.get_rng_state())
    with pytest.raises(CheckpointError, match=r"checkpoint_00000001\.pt"):
        load_checkpoint(tmp_path / "checkpoint_00000001.pt", model, optimizer)
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    assert random.getstate() == generators[0] and torch.equal(torch.get_rng_state(), generators[1])
    with pytest.raises(CheckpointError, match=r"checkpoint_00000001\.pt"):
        train_resumable(model, optimizer, step, 3, tmp_path, checkpoint_every=1)


def test_an_optimizer_state_for_a_parameter_the_optimizer_lacks_is_refused(tmp_path):
    model, optimizer, step = tiny_setup()
    step(0)
    saved = optimizer.state_dict()
    saved["state"][99] = saved["state"][0]
    torch.save(_payload(model, optimizer, optimizer=saved), tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match=r"c\.pt does not fit .*parameter 99"):
        load_checkpoint(tmp_path / "c.pt", model, optimizer)


def test_train_resumable_refuses_a_checkpoint_whose_losses_or_iteration_do_not_fit(tmp_path):
    model, optimizer, step = tiny_setup()
    torch.save(_payload(model, optimizer, extra={"losses": 3}), tmp_path / "checkpoint_00000001.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint_00000001\.pt .*losses"):
        train_resumable(model, optimizer, step, 3, tmp_path, checkpoint_every=1)
    torch.save(_payload(model, optimizer, iteration=2, extra={"losses": [1.0, 2.0]}), tmp_path / "checkpoint_00000001.pt")
    with pytest.raises(CheckpointError, match=r"checkpoint_00000001\.pt holds iteration 2"):
        train_resumable(model, optimizer, step, 3, tmp_path, checkpoint_every=1)


def test_checkpoint_names_work_for_any_iteration(tmp_path):
    model, optimizer, step = tiny_setup()
    for iteration in (99_999_999, 100_000_000, 7):
        save_checkpoint(checkpoint_path(tmp_path, iteration), model, optimizer, iteration)
    assert [path.name for path in list_checkpoints(tmp_path)] == [
        "checkpoint_00000007.pt", "checkpoint_99999999.pt", "checkpoint_100000000.pt"]
    with pytest.raises(CheckpointError, match="at iteration 100000000, beyond num_iterations=5"):
        train_resumable(model, optimizer, step, 5, tmp_path, checkpoint_every=1)
    with pytest.raises(ValueError, match="iteration must be a non-negative integer, got -1"):
        checkpoint_path(tmp_path, -1)


def test_a_folder_named_like_a_checkpoint_is_not_one(tmp_path):
    model, optimizer, step = tiny_setup()
    (tmp_path / "checkpoint_00000005.pt").mkdir()
    (tmp_path / "checkpoint_000000001.pt").write_bytes(b"")  # not a name checkpoint_path gives
    assert list_checkpoints(tmp_path) == []
    assert len(train_resumable(model, optimizer, step, 2, tmp_path, checkpoint_every=1)) == 2
    assert [path.name for path in list_checkpoints(tmp_path)] == ["checkpoint_00000001.pt", "checkpoint_00000002.pt"]


def test_an_optimizer_state_the_optimizer_cannot_take_loads_nothing(tmp_path):
    model, optimizer, step = tiny_setup()
    step(0)
    saved = optimizer.state_dict()
    saved["state"][0] = {"exp_avg": saved["state"][0]["exp_avg"]}  # an Adam state without its "step"
    torch.save(_payload(model, optimizer, optimizer=saved), tmp_path / "c.pt")
    before = {name: value.clone() for name, value in model.state_dict().items()}
    steps = [state["step"].item() for state in optimizer.state.values()]
    with pytest.raises(CheckpointError, match=r"c\.pt holds generator or optimizer states that cannot be restored, so nothing was loaded"):
        load_checkpoint(tmp_path / "c.pt", model, optimizer)
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    assert [state["step"].item() for state in optimizer.state.values()] == steps
    step(1)  # the optimizer still works
