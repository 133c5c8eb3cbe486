"""Mini-batches: of NumPy arrays or tensors in a seeded order, and of tensors in DataLoader's order.

:func:`iterate_minibatches` serves chapter 4 (logistic regression in TensorFlow); :class:`TensorLoader`
serves the MNIST chapter, where it replaces ``torch.utils.data.DataLoader`` over a dataset by
slices of tensors that already sit on the training device, drawing the same batch order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .arguments import optional_seed, positive_int


def iterate_minibatches(arrays: Sequence[Any], batch_size: int, shuffle: bool = False, seed: int | None = None) -> Iterator[tuple[Any, ...]]:
    """Yield aligned mini-batches from arrays (or tensors) that share their first dimension.

    The order is fixed by ``seed``: each call draws one permutation from a fresh
    ``np.random.RandomState(seed)``, so every epoch that calls this with the same seed sees the
    batches in the same order (the behaviour the TensorFlow chapter reproduces). A last batch
    smaller than ``batch_size`` is dropped.

    The arguments are checked when it is called, before the first batch is asked for.

    Args:
        arrays: NumPy arrays or tensors with equal length along axis 0, e.g. ``(X, y)``.
        batch_size: rows per batch, a positive integer no larger than the number of rows.
        shuffle: draw a random order of rows instead of the stored order.
        seed: seed of the permutation used when ``shuffle`` is true: ``None`` or an integer
            from 0 to 2**32 - 1.

    Raises:
        TypeError: if ``arrays`` is a single array instead of a sequence of them, or holds
            something else than arrays and tensors with a first dimension.
        ValueError: if no arrays are given, their lengths differ, ``batch_size`` is not a
            positive integer or exceeds the number of rows (no batch could be formed), or
            ``seed`` is not ``None`` or an integer from 0 to 2**32 - 1.
    """
    if hasattr(arrays, "shape") or not isinstance(arrays, Sequence):
        raise TypeError(f"arrays must be a sequence of arrays, e.g. (X, y), not a single {type(arrays).__name__}")
    if len(arrays) == 0:
        raise ValueError("iterate_minibatches needs at least one array")
    for number, array in enumerate(arrays):
        if len(getattr(array, "shape", ())) == 0:
            raise TypeError(f"arrays[{number}] must be a NumPy array or tensor with a first dimension, got {type(array).__name__}")
    lengths = [int(a.shape[0]) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"arrays must have the same length along axis 0, got lengths {lengths}")
    batch_size = positive_int(batch_size, "batch_size")
    if batch_size > lengths[0]:
        raise ValueError(f"batch_size {batch_size} is larger than the {lengths[0]} rows: not one batch could be formed")
    seed = optional_seed(seed, "seed")
    return _minibatches(arrays, lengths[0], batch_size, bool(shuffle), seed)


def _minibatches(arrays: Sequence[Any], rows: int, batch_size: int, shuffle: bool, seed: int | None) -> Iterator[tuple[Any, ...]]:
    indices = np.arange(rows)
    if shuffle:
        np.random.RandomState(seed).shuffle(indices)
    for start in range(0, rows - batch_size + 1, batch_size):
        batch = indices[start : start + batch_size]
        yield tuple(a[_index_for(a, batch)] for a in arrays)


def _index_for(array: Any, batch: np.ndarray) -> Any:
    """Index a torch tensor with a tensor on its device; anything else with the NumPy indices."""
    if type(array).__module__.startswith("torch"):
        import torch

        return torch.from_numpy(batch).to(array.device)
    return batch


def _draw_seed() -> int:
    """One 64-bit draw from the global CPU generator, as ``DataLoader`` and ``RandomSampler`` make it."""
    import torch

    return int(torch.empty((), dtype=torch.int64).random_().item())


class TensorLoader:
    """Mini-batches ``(features[idx], targets[idx])`` of two aligned tensors, in DataLoader's order.

    Iterating draws from the global CPU generator exactly as a single-process
    ``DataLoader(TensorDataset(features, targets), batch_size, shuffle, drop_last)`` with the
    default sampler does, and when it does: one draw for the (unused) worker base seed when
    ``iter()`` is called, plus, when shuffling, one draw at the first ``next()`` that seeds a
    private generator whose ``torch.randperm`` is the order.
    Batches therefore come in the same order, and code that draws random numbers after a pass
    sees the same numbers, whichever of the two loaders it uses (``tests/test_batches.py`` checks
    this against a real ``DataLoader``).

    Args:
        features: tensor whose first dimension indexes examples (any device).
        targets: tensor with the same first dimension, on the same device.
        batch_size: examples per batch, a positive integer.
        shuffle: draw a new random order on every pass instead of the stored order.
        drop_last: drop a last batch smaller than ``batch_size`` (kept by default, like DataLoader).

    Raises:
        TypeError: if ``features`` or ``targets`` is not a tensor.
        ValueError: if the lengths differ, the tensors are on different devices, a tensor has
            no first dimension, or ``batch_size`` is not a positive integer.
    """

    def __init__(self, features: Any, targets: Any, batch_size: int, shuffle: bool = False, drop_last: bool = False) -> None:
        import torch

        for name, tensor in (("features", features), ("targets", targets)):
            if not isinstance(tensor, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
            if tensor.dim() == 0:
                raise ValueError(f"{name} must have a first dimension that indexes examples, got a scalar")
        if len(features) != len(targets):
            raise ValueError(f"features and targets must have the same length, got {len(features)} and {len(targets)}")
        if features.device != targets.device:
            raise ValueError(f"features and targets must be on the same device, got {features.device} and {targets.device}")
        self.features = features
        self.targets = targets
        self.batch_size = positive_int(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)

    def __len__(self) -> int:
        """Number of batches per pass, as ``len(DataLoader)`` counts them."""
        n = len(self.targets)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        _draw_seed()  # DataLoader's iterator draws its worker base seed when it is created
        return self._batches()

    def _batches(self) -> Iterator[tuple[Any, Any]]:
        import torch

        n = len(self.targets)
        if self.shuffle:  # DataLoader's RandomSampler draws the seed of its order at the first next()
            generator = torch.Generator()
            generator.manual_seed(_draw_seed())
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        order = order.to(self.features.device)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.features[index], self.targets[index]
