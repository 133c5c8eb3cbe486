"""Small array helpers used by several chapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np
import torch

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def custom_where(cond: torch.Tensor, x_1: torch.Tensor | float, x_2: torch.Tensor | float) -> torch.Tensor:
    """Pick ``x_1`` where ``cond`` is true and ``x_2`` elsewhere, using arithmetic only.

    This is ``torch.where`` written as ``cond * x_1 + (1 - cond) * x_2`` so that the
    notebooks can show how a selection becomes a differentiable blend of two tensors.

    Args:
        cond: a boolean tensor, or a numeric tensor holding only 0s and 1s.
        x_1: value(s) taken where ``cond`` is true; broadcast against ``cond``.
        x_2: value(s) taken where ``cond`` is false; broadcast against ``cond``.

    Raises:
        ValueError: if ``cond`` holds values other than 0 and 1 (a probability passed
            by mistake would otherwise blend the two inputs silently).
    """
    if not isinstance(cond, torch.Tensor):
        raise TypeError(f"cond must be a torch.Tensor, got {type(cond).__name__}")
    if cond.dtype != torch.bool:
        if not bool(((cond == 0) | (cond == 1)).all()):
            raise ValueError("cond must be boolean or hold only 0 and 1; threshold probabilities first")
        cond = cond.bool()
    dtype = torch.result_type(torch.as_tensor(x_1), torch.as_tensor(x_2))
    mask = cond.to(dtype)
    return (mask * x_1) + ((1 - mask) * x_2)


def iterate_minibatches(
    arrays: Sequence[ArrayT],
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
) -> Iterator[tuple[ArrayT, ...]]:
    """Yield aligned mini-batches from arrays that share their first dimension.

    The order is fixed by ``seed``: each call draws one permutation from a fresh
    ``np.random.RandomState(seed)``, so every epoch that calls this with the same seed
    sees the batches in the same order (the behaviour the TensorFlow chapter reproduces).
    A last batch smaller than ``batch_size`` is dropped.

    Args:
        arrays: NumPy arrays or tensors with equal length along axis 0.
        batch_size: number of rows per batch, a positive integer.
        shuffle: draw a random order of rows instead of the stored order.
        seed: seed of the permutation used when ``shuffle`` is true.

    Raises:
        ValueError: if no arrays are given, their lengths differ, or ``batch_size`` is not positive.
    """
    if isinstance(arrays, (np.ndarray, torch.Tensor)):
        raise TypeError("arrays must be a sequence of arrays, e.g. (X, y), not a single array")
    if len(arrays) == 0:
        raise ValueError("iterate_minibatches needs at least one array")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"arrays must have the same length along axis 0, got lengths {lengths}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")

    indices = np.arange(lengths[0])
    if shuffle:
        np.random.RandomState(seed).shuffle(indices)
    for start in range(0, len(indices) - batch_size + 1, batch_size):
        batch = indices[start : start + batch_size]
        yield tuple(a[torch.from_numpy(batch)] if isinstance(a, torch.Tensor) else a[batch] for a in arrays)
