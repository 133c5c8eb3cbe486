"""Choosing where tensors live, so that every notebook runs on CPU and CUDA unchanged."""

from __future__ import annotations

import os
from typing import Any

#: Environment variable that overrides the automatic choice, e.g. ``cpu`` or ``cuda:1``.
DEVICE_ENV_VAR = "TUTORIAL_DEVICE"


def get_device() -> Any:
    """Return ``$TUTORIAL_DEVICE`` if set, else CUDA when available, else the CPU (a ``torch.device``).

    Raises:
        ValueError: if the variable does not name a device, or names one this book does not run on.
        RuntimeError: if it names a device that this machine does not have.
    """
    import torch

    requested = os.environ.get(DEVICE_ENV_VAR, "").strip()
    if not requested:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise ValueError(f"{DEVICE_ENV_VAR}={requested!r} is not a device name such as 'cpu' or 'cuda'") from error
    if device.type == "cpu":
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise RuntimeError(f"{DEVICE_ENV_VAR}={requested!r} asks for Apple's MPS, which this machine does not have")
        return device
    if device.type != "cuda":
        raise ValueError(f"{DEVICE_ENV_VAR}={requested!r}: the notebooks run on 'cpu', 'cuda' or 'mps', not {device.type!r}")
    if not torch.cuda.is_available():
        raise RuntimeError(f"{DEVICE_ENV_VAR}={requested!r} asks for CUDA, but torch sees no CUDA device; unset it to use the CPU")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(f"{DEVICE_ENV_VAR}={requested!r}: this machine has {torch.cuda.device_count()} CUDA device(s), numbered from 0")
    return device


def synchronize(device: Any) -> None:
    """Wait until the device has finished its queued work, so that a clock around it measures the work.

    CUDA and Apple's MPS run kernels asynchronously; on the CPU this does nothing.
    """
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
