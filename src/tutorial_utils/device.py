"""Choosing where tensors live, so that every notebook runs on CPU and CUDA unchanged."""

from __future__ import annotations

import os

import torch

#: Environment variable that overrides the automatic choice, e.g. ``cpu`` or ``cuda:1``.
DEVICE_ENV_VAR = "TUTORIAL_DEVICE"


def get_device() -> torch.device:
    """Return ``$TUTORIAL_DEVICE`` if set, else CUDA when available, else the CPU.

    Raises:
        RuntimeError: if the variable asks for CUDA on a machine without a usable GPU.
        ValueError: if the variable does not name a device.
    """
    requested = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if not requested:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise ValueError(f"{DEVICE_ENV_VAR}={requested!r} is not a device name such as 'cpu' or 'cuda'") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{DEVICE_ENV_VAR}={requested!r} asks for CUDA, but torch sees no CUDA device")
    return device
