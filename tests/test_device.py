import pytest
import torch

from tutorial_utils import get_device


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
