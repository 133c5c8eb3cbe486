"""Checkpoints that survive interruption: atomic writes, safe loading, exact resumption.

A checkpoint holds everything a training loop needs to carry on as if it had never stopped:
the model's and optimizer's state, the Python, NumPy and torch random-number generator states
and the iteration count. Files are written to a temporary name and renamed into place, so a crash
while saving never leaves a half-written checkpoint under the real name, and they are read with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .files import write_atomically

_NAME = re.compile(r"^checkpoint_(\d{8})\.pt$")
_REQUIRED = ("iteration", "model", "optimizer", "rng", "extra")


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used: truncated, corrupt or not a checkpoint."""


def checkpoint_path(directory: str | os.PathLike, iteration: int) -> Path:
    """The file name of the checkpoint taken after ``iteration`` iterations."""
    return Path(directory) / f"checkpoint_{iteration:08d}.pt"


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The checkpoint files in ``directory``, oldest (lowest iteration) first; temporary files are ignored."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if _NAME.match(path.name))


def get_rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators, as tensors and plain values."""
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generator states captured by :func:`get_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    iteration: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically: to a temporary file in the same folder, then renamed to ``path``.

    ``extra`` holds anything else to restore (losses so far, say): tensors, numbers, strings,
    lists, tuples and dicts of them. If writing fails, ``path`` keeps its previous content.
    """
    path = Path(path)
    payload = {
        "iteration": int(iteration),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": get_rng_state(),
        "extra": extra or {},
    }
    write_atomically(path, lambda stream: torch.save(payload, stream))
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Load a checkpoint into ``model`` (and ``optimizer``) and restore the generators.

    Returns the checkpoint's ``iteration`` and ``extra`` entries.

    Raises:
        CheckpointError: naming the file, if it is missing, truncated, corrupt or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    location = next(model.parameters()).device if any(True for _ in model.parameters()) else "cpu"
    try:
        payload = torch.load(path, map_location=location, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt and cannot be read ({type(error).__name__}: {error})") from error
    if not isinstance(payload, dict) or any(key not in payload for key in _REQUIRED):
        raise CheckpointError(f"{path} is not a checkpoint written by save_checkpoint: expected the keys {list(_REQUIRED)}")
    model.load_state_dict(payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    set_rng_state(payload["rng"])
    return {"iteration": payload["iteration"], "extra": payload["extra"]}


def train_resumable(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: Callable[[int], float],
    num_iterations: int,
    checkpoint_dir: str | os.PathLike,
    checkpoint_every: int,
    keep: int = 2,
) -> list[float]:
    """Run ``step(iteration)`` for ``iteration`` in ``range(num_iterations)``, checkpointing as it goes.

    Every ``checkpoint_every`` iterations (and after the last) a checkpoint is written to
    ``checkpoint_dir`` and all but the newest ``keep`` are deleted. If the folder already holds a
    checkpoint, training resumes from the newest one: model, optimizer, generators and the losses
    so far are restored, so an interrupted and resumed run ends exactly where an uninterrupted
    one would. Returns the loss of every iteration.

    Raises:
        CheckpointError: if the newest checkpoint cannot be read; older ones are left untouched.
    """
    if num_iterations < 0 or checkpoint_every < 1 or keep < 1:
        raise ValueError(
            f"need num_iterations >= 0, checkpoint_every >= 1 and keep >= 1, got {num_iterations}, {checkpoint_every}, {keep}"
        )
    losses: list[float] = []
    start = 0
    existing = list_checkpoints(checkpoint_dir)
    if existing:
        try:
            state = load_checkpoint(existing[-1], model, optimizer)
        except CheckpointError as error:
            hint = f"; the previous checkpoint {existing[-2]} is intact: delete the damaged file to resume from it" if len(existing) > 1 else ""
            raise CheckpointError(f"{error}{hint}") from error
        start, losses = state["iteration"], list(state["extra"].get("losses", []))
    for iteration in range(start, num_iterations):
        losses.append(float(step(iteration)))
        done = iteration + 1
        if done % checkpoint_every == 0 or done == num_iterations:
            save_checkpoint(checkpoint_path(checkpoint_dir, done), model, optimizer, done, extra={"losses": losses})
            for old in list_checkpoints(checkpoint_dir)[:-keep]:
                old.unlink()
    return losses
