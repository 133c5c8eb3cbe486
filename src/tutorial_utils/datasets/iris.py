"""Fisher's Iris data, and the binary problem of the logistic-regression chapters (1-4).

Notebook 01 walks through each preparation step; the other notebooks call :func:`iris_binary_split`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .fetch import CorruptDataError, RemoteFile, fetch

if TYPE_CHECKING:
    from matplotlib.axes import Axes

IRIS_CLASSES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")
#: SHA-256 of the parsed data (float64 features, then int64 labels): the UCI values, including the
#: two transcription errors in rows 35 and 38 that the book's published results depend on. Line
#: ends and blank lines, which the UCI file has changed over the years, do not enter it.
PARSED_SHA256 = "d2712b028401f0400cb671cb99d85387a1c721d41262f30ecb7b90f029d20a90"


def parse_iris(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse UCI ``iris.data``: 150 rows of 4 measurements in centimetres and a class name.

    Any line ends, blank lines and a leading UTF-8 byte-order mark are accepted.

    Returns:
        features as a ``(150, 4)`` float64 array and labels as class indices 0, 1, 2
        in the order of :data:`IRIS_CLASSES`.

    Raises:
        CorruptDataError: naming the line, if a row is not 4 finite measurements between 0 and
            100 and a class name, or if the file is not 150 rows, 50 of each class.
    """
    try:
        text = content.decode("utf-8-sig")  # a byte-order mark, which some editors write, is not data
    except UnicodeDecodeError as error:
        raise CorruptDataError(f"not UTF-8 text: {error}") from None
    rows = [line.strip() for line in text.splitlines() if line.strip()]
    if len(rows) != 150:
        raise CorruptDataError(f"expected 150 rows, found {len(rows)}")
    features, labels = [], []
    for number, row in enumerate(rows, start=1):
        fields = row.split(",")
        try:
            if len(fields) != 5:
                raise ValueError
            values = [float(value) for value in fields[:4]]
            if not all(math.isfinite(v) and 0 < v < 100 for v in values):
                raise ValueError
            labels.append(IRIS_CLASSES.index(fields[4]))
        except ValueError:
            raise CorruptDataError(f"line {number} is not 4 measurements (0-100 cm) and an Iris class name: {row[:60]!r}") from None
        features.append(values)
    counts = np.bincount(labels, minlength=3).tolist()
    if counts != [50, 50, 50]:
        raise CorruptDataError(f"expected 50 rows per class, found class counts {counts}")
    return np.array(features, dtype=np.float64), np.array(labels, dtype=np.int64)


def verify_iris(content: bytes) -> None:
    """Accept exactly the UCI Iris values (see :data:`PARSED_SHA256`), whatever the line ends."""
    features, labels = parse_iris(content)
    digest = hashlib.sha256(features.tobytes() + labels.tobytes()).hexdigest()
    if digest != PARSED_SHA256:
        raise CorruptDataError(f"150 well-formed rows, but not the UCI values (digest {digest[:12]}..., expected {PARSED_SHA256[:12]}...)")


IRIS = RemoteFile(
    target="iris/iris.data",
    mirror_path="iris/iris.data",
    urls=("https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data",),
    verify=verify_iris,
    max_bytes=64 * 1024,
)


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's Iris data (UCI version): ``(150, 4)`` float64 features and labels 0, 1, 2."""
    return parse_iris(fetch(IRIS).read_bytes())


@dataclass(frozen=True)
class Split:
    """Standardised train/test split of a two-feature binary problem (float64 NumPy arrays)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def tensors(self, device: Any = "cpu", dtype: Any = None) -> tuple[Any, ...]:
        """``(X_train, y_train, X_test, y_test)`` as PyTorch tensors (float32 by default) on ``device``."""
        import torch

        dtype = dtype if dtype is not None else torch.float32
        arrays = (self.X_train, self.y_train, self.X_test, self.y_test)
        return tuple(torch.tensor(a, dtype=dtype, device=device) for a in arrays)


def binary_subset(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first 100 rows (setosa and versicolor) and the two sepal measurements.

    Returns features of shape ``(100, 2)`` and float labels 0.0 (setosa) / 1.0 (versicolor).

    Raises:
        ValueError: if the inputs cannot be the Iris layout: fewer than 100 rows or 2 features, labels
            of another length, or classes other than exactly 0 and 1 in the first 100 rows.
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if features.ndim != 2 or features.shape[1] < 2 or len(features) != len(labels) or len(labels) < 100:
        raise ValueError(f"expected Iris features (150, 4) and 150 labels, got shapes {features.shape} and {labels.shape}")
    X = features[:100, :2].astype(np.float64)
    y = labels[:100].astype(np.float64)
    if set(np.unique(y)) != {0.0, 1.0}:
        raise ValueError("the first 100 rows must hold exactly the classes 0 and 1, as the UCI file orders them")
    return X, y


def shuffle_split(X: np.ndarray, y: np.ndarray, n_test: int = 25, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Shuffle rows with ``np.random.seed(seed)`` and take the first ``n_test`` as the test set.

    Returns ``(X_train, y_train, X_test, y_test)``.

    Raises:
        ValueError: if ``X`` and ``y`` differ in length or ``n_test`` leaves an empty set.
    """
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} != {len(y)}")
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or not 0 < n_test < len(y):
        raise ValueError(f"n_test must be an integer from 1 to {len(y) - 1}, got {n_test!r}")
    # The global seed, as in the original post, so that its published numbers reproduce.
    np.random.seed(seed)
    order = np.arange(len(y))
    np.random.shuffle(order)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Scale both sets with the training set's per-column mean and standard deviation.

    Returns ``(train_scaled, test_scaled, mean, std)``; the test set never influences the scaling.

    Raises:
        ValueError: if a training column is constant or holds NaN or infinity.
    """
    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(test))):
        raise ValueError("the data hold NaN or infinite values: remove or impute them before standardising")
    mean, std = train.mean(axis=0), train.std(axis=0)
    if np.any(std == 0):
        raise ValueError(f"training column(s) {np.flatnonzero(std == 0).tolist()} are constant: they cannot be standardised")
    return (train - mean) / std, (test - mean) / std, mean, std


def iris_binary_split(seed: int = 1, n_test: int = 25) -> Split:
    """The whole preparation: load Iris, binary subset, shuffle split, standardise."""
    X, y = binary_subset(*load_iris())
    X_train, y_train, X_test, y_test = shuffle_split(X, y, n_test=n_test, seed=seed)
    X_train, X_test, mean, std = standardize(X_train, X_test)
    return Split(X_train, y_train, X_test, y_test, mean, std)


CLASS_COLORS = ("#1f77b4", "#ff7f0e")
CLASS_MARKERS = ("o", "s")


def plot_decision_boundary(
    weights: Sequence[float],
    bias: float,
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    title: str = "Decision boundary",
    class_names: Sequence[str] = ("setosa", "versicolor"),
) -> Axes:
    """Scatter the two standardised sepal features by class and draw the line ``w1*x1 + w2*x2 + b = 0``."""
    import matplotlib.pyplot as plt

    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape != (2,):
        raise ValueError(f"expected two weights, got shape {w.shape}")
    X, y = np.asarray(X), np.asarray(y).reshape(-1)
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} != {len(y)}")
    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
    for label, name in enumerate(class_names):
        rows = y == label
        ax.scatter(X[rows, 0], X[rows, 1], c=CLASS_COLORS[label], marker=CLASS_MARKERS[label], label=name, s=25)
    x1 = np.array([X[:, 0].min() - 0.5, X[:, 0].max() + 0.5])
    if w[1] != 0:
        ax.plot(x1, -(w[0] * x1 + float(bias)) / w[1], color="black", lw=1.5, label="boundary")
    elif w[0] != 0:
        ax.axvline(-float(bias) / w[0], color="black", lw=1.5, label="boundary")
    ax.set(xlabel="sepal length (standardised)", ylabel="sepal width (standardised)", title=title)
    ax.set_ylim(X[:, 1].min() - 0.5, X[:, 1].max() + 0.5)
    ax.legend(loc="upper right", fontsize=8)
    return ax


def plot_training_summary(costs: Sequence[float], weights: Sequence[float], bias: float, X: np.ndarray, y: np.ndarray, title: str) -> None:
    """The chapters' standard figure: cost per epoch beside the decision boundary on the data."""
    import matplotlib.pyplot as plt

    from ..plots import plot_cost

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    plot_cost(costs, ax=left)
    plot_decision_boundary(weights, bias, X, y, ax=right)
    fig.suptitle(title)
    fig.tight_layout()
