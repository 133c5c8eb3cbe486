"""Checkpoints that survive interruption: atomic writes, safe loading, exact resumption.

A checkpoint holds everything a training loop needs to carry on as if it had never stopped:
the model's and optimizer's state, the Python, NumPy and torch random-number generator states
and the iteration count. Files are written to a temporary name and renamed into place, so a crash
while saving never leaves a half-written checkpoint under the real name, and they are read with
``torch.load(..., weights_only=True)``, which unpickles tensors and plain containers only.

Loading checks the whole checkpoint against the model and the optimizer first and changes
nothing unless everything fits. It reads every tensor to the CPU and lets the model and the
optimizer place their own on their device, so a checkpoint written on one device resumes on another.
Every way a file can fail to be a checkpoint (text, random or damaged bytes, another pickle,
entries of another form) is reported as a :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .arguments import non_negative_int, positive_int
from .files import write_atomically

#: The names checkpoint_path gives: the iteration zero-padded to 8 digits, or longer without padding.
_NAME = re.compile(r"^checkpoint_(\d{8}|[1-9]\d{8,})\.pt$")
#: What torch's safe unpickler says of a well-formed pickle that names a class it does not allow.
_REFUSED = re.compile(r"GLOBAL|allowlist")
_REQUIRED = ("iteration", "model", "optimizer", "optimizer_class", "rng", "extra")
_PLAIN = (str, int, float, bool, type(None))


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used: missing, damaged, not a checkpoint, or not for this model."""


def checkpoint_path(directory: str | os.PathLike, iteration: int) -> Path:
    """The file name of the checkpoint taken after ``iteration`` iterations (8 digits or more).

    Raises:
        ValueError: if ``iteration`` is not a non-negative integer.
    """
    return Path(directory) / f"checkpoint_{non_negative_int(iteration, 'iteration'):08d}.pt"


def _iteration_of(path: str | os.PathLike) -> int | None:
    """The iteration in a name that :func:`checkpoint_path` gives, else ``None``."""
    match = _NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_checkpoints(directory: str | os.PathLike) -> list[Path]:
    """The checkpoint files in ``directory``, oldest (lowest iteration) first.

    Only regular files named as :func:`checkpoint_path` names them count: temporary files, other
    names and folders are ignored.
    """
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{folder} is a file, not a folder of checkpoints: choose another checkpoint_dir")
    if not folder.is_dir():
        return []
    found = [path for path in folder.iterdir() if _iteration_of(path) is not None and path.is_file()]
    return sorted(found, key=_iteration_of)


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
    """Restore the generator states captured by :func:`get_rng_state` (CPU tensors, as saved)."""
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
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]][: torch.cuda.device_count()])


def check_extra(value: Any, where: str = "extra") -> None:
    """Raise unless ``value`` holds only what a safe load can read back: tensors, numbers, strings,
    ``None``, and lists, tuples and string-keyed dicts of them.

    Raises:
        TypeError: naming the entry and its type, and what to convert it to.
    """
    if isinstance(value, torch.Tensor) or (isinstance(value, _PLAIN) and type(value) in _PLAIN):
        return
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        for index, item in enumerate(value):
            check_extra(item, f"{where}[{index}]")
        return
    if isinstance(value, dict) and type(value) is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r} of type {type(key).__name__}: checkpoint dicts need str keys")
            check_extra(item, f"{where}[{key!r}]")
        return
    hint = " (convert it with float(), int() or torch.as_tensor())" if type(value).__module__ == "numpy" else ""
    raise TypeError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which a checkpoint cannot hold{hint}: "
        "use tensors, numbers, strings, None, and lists, tuples and str-keyed dicts of them"
    )


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    iteration: int,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically: to a temporary file in the same folder, then renamed to ``path``.

    ``extra`` holds anything else to restore (the losses so far, say); it is checked first, so a
    value that a safe load could not read back is refused now, not when resuming.

    Raises:
        TypeError: if ``extra`` holds something else than tensors, numbers, strings, ``None`` and
            lists, tuples and str-keyed dicts of them.
        ValueError: if ``iteration`` is not a non-negative integer.
        CheckpointError: if ``path`` is a folder.
    """
    iteration = non_negative_int(iteration, "iteration")
    if Path(path).is_dir():  # the rename into place would fail after the whole write
        raise CheckpointError(
            f"{path} is a folder, not a checkpoint file: save to a file in it, such as {checkpoint_path(path, iteration)}"
        )
    check_extra(extra or {})
    payload = {
        "iteration": int(iteration),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "optimizer_class": type(optimizer).__name__,
        "rng": get_rng_state(),
        "extra": extra or {},
    }
    return write_atomically(path, lambda stream: torch.save(payload, stream))


def _read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The entries of the checkpoint file ``path``, checked to have the form :func:`save_checkpoint` writes.

    The one reader of checkpoint bytes: :func:`load_checkpoint` and :func:`train_resumable` go
    through it. It changes nothing (no model, no generator).

    Raises:
        CheckpointError: naming the file, if it is missing, not a checkpoint (text, random or
            damaged bytes, another pickle) or holds entries of another form.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        with warnings.catch_warnings():  # random bytes can look like a pickle of an unknown protocol
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if _REFUSED.search(str(error)):
            raise CheckpointError(
                f"{path} holds an object that safe loading refuses (the file itself is readable, not damaged); "
                f"if you wrote it and trust it, read it with torch.load({str(path)!r}, weights_only=False). Details: {str(error)[:300]}"
            ) from None
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt and cannot be read (UnpicklingError: {str(error)[:300]})") from error
    except Exception as error:  # the unpickler meets damaged bytes with KeyError, IndexError, struct.error, ...
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt and cannot be read ({type(error).__name__}: {str(error)[:300]})") from error
    if not isinstance(payload, dict) or any(key not in payload for key in _REQUIRED):
        raise CheckpointError(f"{path} is not a checkpoint written by save_checkpoint: expected the keys {list(_REQUIRED)}")
    wrong = _entries_of_another_form(payload)
    if wrong:
        raise CheckpointError(f"{path} is not a checkpoint written by save_checkpoint: its entries {wrong} have another form")
    return payload


def _entries_of_another_form(payload: dict[str, Any]) -> list[str]:
    """The entries of ``payload`` that do not have the types save_checkpoint writes."""
    iteration, model, optimizer, rng = payload["iteration"], payload["model"], payload["optimizer"], payload["rng"]
    fits = {
        "iteration": type(iteration) is int and iteration >= 0,
        "model": isinstance(model, dict)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) and v.layout == torch.strided and not v.is_quantized for k, v in model.items()),
        "optimizer": isinstance(optimizer, dict)
        and isinstance(optimizer.get("state"), dict)
        and all(isinstance(state, dict) for state in optimizer["state"].values())
        and isinstance(optimizer.get("param_groups"), list)
        and all(
            isinstance(group, dict) and isinstance(group.get("params"), list) and all(type(i) is int for i in group["params"])
            for group in optimizer["param_groups"]
        ),
        "optimizer_class": isinstance(payload["optimizer_class"], str),
        "rng": isinstance(rng, dict) and all(key in rng for key in ("python", "numpy", "torch", "cuda")),
        "extra": isinstance(payload["extra"], dict),
    }
    return [key for key, fine in fits.items() if not fine]


def _model_mismatches(saved: Mapping[str, torch.Tensor], model: torch.nn.Module) -> list[str]:
    expected = model.state_dict()
    problems = [f"{key}: missing from the checkpoint" for key in expected if key not in saved]
    problems += [f"{key}: in the checkpoint, not in the model" for key in saved if key not in expected]
    problems += [
        f"{key}: checkpoint {tuple(saved[key].shape)}, model {tuple(value.shape)}"
        for key, value in expected.items()
        if key in saved and tuple(saved[key].shape) != tuple(value.shape)
    ]
    return problems


def _optimizer_mismatches(saved: Mapping[str, Any], saved_class: str, optimizer: torch.optim.Optimizer) -> list[str]:
    if saved_class != type(optimizer).__name__:
        return [f"the checkpoint holds a {saved_class} state, the optimizer is a {type(optimizer).__name__}"]
    groups = [len(group["params"]) for group in saved["param_groups"]]
    ours = [len(group["params"]) for group in optimizer.param_groups]
    if groups != ours:
        return [f"the checkpoint's parameter groups hold {groups} parameters, the optimizer's {ours}"]
    shapes = [p.shape for group in optimizer.param_groups for p in group["params"]]
    problems = []
    for index, state in saved["state"].items():
        if type(index) is not int or not 0 <= index < len(shapes):
            problems.append(f"the checkpoint holds optimizer state for parameter {index!r}, the optimizer has parameters 0 to {len(shapes) - 1}")
            continue
        for name, value in state.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != shapes[int(index)]:
                problems.append(f"optimizer state {name!r} of parameter {index}: checkpoint {tuple(value.shape)}, model {tuple(shapes[int(index)])}")
    return problems


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> dict[str, Any]:
    """Load a checkpoint into ``model`` (and ``optimizer``) and restore the random generators.

    Everything is checked before anything is changed: a checkpoint of another model (other
    names or shapes) or another optimizer loads nothing. Tensors are read to the CPU and placed
    by ``load_state_dict`` on the device of the model's and optimizer's parameters.

    Returns the checkpoint's ``iteration`` and ``extra`` entries.

    Raises:
        CheckpointError: naming the file and the problem, if it is missing, damaged, not a
            checkpoint, or does not fit the model or the optimizer.
    """
    path = Path(path)
    return _apply(path, _read_checkpoint(path), model, optimizer)


def _apply(path: Path, payload: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """Load what :func:`_read_checkpoint` read into the model, the optimizer and the generators, or nothing."""
    problems = _model_mismatches(payload["model"], model)
    if optimizer is not None and not problems:
        problems = _optimizer_mismatches(payload["optimizer"], payload["optimizer_class"], optimizer)
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise CheckpointError(f"{path} does not fit this model and optimizer, so nothing was loaded: {shown}")
    # Generators and optimizer first: they can still refuse entries of another form (an Adam
    # state without "step", say), and are put back if they do. The model, checked above, comes last.
    previous_rng = get_rng_state()
    previous_optimizer = optimizer.state_dict() if optimizer is not None else None
    try:
        with warnings.catch_warnings():  # entries of another form can draw torch's indexing warnings first
            warnings.simplefilter("ignore")
            set_rng_state(payload["rng"])
        if optimizer is not None:
            optimizer.load_state_dict(payload["optimizer"])
    except Exception as error:
        set_rng_state(previous_rng)
        if optimizer is not None:
            optimizer.load_state_dict(previous_optimizer)
        raise CheckpointError(
            f"{path} holds generator or optimizer states that cannot be restored, so nothing was loaded "
            f"({type(error).__name__}: {str(error)[:200]})"
        ) from error
    model.load_state_dict(payload["model"])
    return {"iteration": payload["iteration"], "extra": payload["extra"]}


def _check_resumable(path: Path, payload: dict[str, Any], iteration: int) -> None:
    """Raise unless ``payload`` is what train_resumable writes as ``path``: its iteration, and a loss per iteration."""
    if payload["iteration"] != iteration:
        raise CheckpointError(f"{path} holds iteration {payload['iteration']}, not the {iteration} of its name: rename or delete it")
    losses = payload["extra"].get("losses", [])
    if not isinstance(losses, list) or not all(type(loss) in (int, float) for loss in losses):
        raise CheckpointError(f"{path} is not a checkpoint of train_resumable: its extra['losses'] is not a list of numbers")


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
        CheckpointError: if the newest checkpoint cannot be used (older ones are left untouched),
            or it is further along than ``num_iterations``.
        ValueError: if an argument is not a positive integer (``num_iterations`` may be 0).
    """
    num_iterations = non_negative_int(num_iterations, "num_iterations")
    checkpoint_every = positive_int(checkpoint_every, "checkpoint_every")
    keep = positive_int(keep, "keep")
    losses: list[float] = []
    start = 0
    existing = list_checkpoints(checkpoint_dir)
    if existing:
        newest = _iteration_of(existing[-1])
        if newest > num_iterations:  # checked before loading: a refused run changes nothing
            raise CheckpointError(
                f"the newest checkpoint in {checkpoint_dir} is at iteration {newest}, beyond num_iterations={num_iterations}: "
                f"ask for at least {newest} iterations, or use another checkpoint_dir for a shorter run"
            )
        try:
            payload = _read_checkpoint(existing[-1])
            _check_resumable(existing[-1], payload, newest)
            state = _apply(existing[-1], payload, model, optimizer)
        except CheckpointError as error:
            hint = f"; the previous checkpoint {existing[-2]} may be intact: delete the damaged file to resume from it" if len(existing) > 1 else ""
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
