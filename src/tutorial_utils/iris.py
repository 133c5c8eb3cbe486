"""The binary Iris problem shared by the four logistic-regression notebooks.

Notebook 01 walks through each step; the other notebooks call :func:`iris_binary_split`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import load_iris


@dataclass(frozen=True)
class Split:
    """Standardised train/test split of a two-feature binary problem (float64 NumPy arrays)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def tensors(self, device: "torch.device | str" = "cpu", dtype: "torch.dtype | None" = None) -> tuple["torch.Tensor", ...]:
        """``(X_train, y_train, X_test, y_test)`` as PyTorch tensors (float32 by default) on ``device``."""
        import torch

        dtype = dtype if dtype is not None else torch.float32
        arrays = (self.X_train, self.y_train, self.X_test, self.y_test)
        return tuple(torch.tensor(a, dtype=dtype, device=device) for a in arrays)


def binary_subset(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first 100 rows (setosa and versicolor) and the two sepal measurements.

    Returns features of shape ``(100, 2)`` and float labels 0.0 (setosa) / 1.0 (versicolor).
    """
    if len(features) != len(labels):
        raise ValueError(f"features and labels differ in length: {len(features)} != {len(labels)}")
    X = features[:100, :2].astype(np.float64)
    y = labels[:100].astype(np.float64)
    if set(np.unique(y)) != {0.0, 1.0}:
        raise ValueError("the first 100 rows must hold exactly the classes 0 and 1")
    return X, y


def shuffle_split(X: np.ndarray, y: np.ndarray, n_test: int = 25, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Shuffle rows with ``np.random.seed(seed)`` and take the first ``n_test`` as the test set.

    Returns ``(X_train, y_train, X_test, y_test)``.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} != {len(y)}")
    if not 0 < n_test < len(y):
        raise ValueError(f"n_test must be between 1 and {len(y) - 1}, got {n_test}")
    # The global seed, as in the original post, so that its published numbers reproduce.
    np.random.seed(seed)
    order = np.arange(len(y))
    np.random.shuffle(order)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scale both sets with the training set's per-column mean and standard deviation.

    Returns ``(train_scaled, test_scaled, mean, std)``; the test set never influences the scaling.
    """
    mean, std = train.mean(axis=0), train.std(axis=0)
    if np.any(std == 0):
        raise ValueError("a training column is constant: it cannot be standardised")
    return (train - mean) / std, (test - mean) / std, mean, std


def iris_binary_split(seed: int = 1, n_test: int = 25) -> Split:
    """The whole preparation: load Iris, binary subset, shuffle split, standardise."""
    X, y = binary_subset(*load_iris())
    X_train, y_train, X_test, y_test = shuffle_split(X, y, n_test=n_test, seed=seed)
    X_train, X_test, mean, std = standardize(X_train, X_test)
    return Split(X_train, y_train, X_test, y_test, mean, std)
