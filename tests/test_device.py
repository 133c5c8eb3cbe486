import pytest
import torch

from tutorial_utils import get_device, synchronize


def test_default_follows_cuda_availability(monkeypatch):
    monkeypatch.delenv("TUTORIAL_DEVICE", raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_environment_override(monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_cuda_requested_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        get_device()


def test_nonsense_device_name(monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "gpu please")
    with pytest.raises(ValueError, match="not a device name"):
        get_device()


@pytest.mark.parametrize("name", ["xla", "ipu", "meta"])
def test_devices_the_notebooks_do_not_run_on_are_refused(monkeypatch, name):
    monkeypatch.setenv("TUTORIAL_DEVICE", name)
    with pytest.raises(ValueError, match=f"run on 'cpu', 'cuda' or 'mps', not '{name}'"):
        get_device()


def test_mps_is_checked_before_it_is_used(monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Apple's MPS, which this machine does not have"):
        get_device()


def test_a_cuda_index_beyond_the_machine_is_an_error(monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "cuda:3")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(RuntimeError, match="1 CUDA device"):
        get_device()


def test_synchronize_waits_for_cuda_and_for_nothing_on_the_cpu(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", waited.append)
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append("mps"))
    synchronize("cpu")
    synchronize(torch.device("cuda", 1))
    synchronize("mps")
    assert waited == [torch.device("cuda", 1), "mps"]
