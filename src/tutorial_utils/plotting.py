"""One look for every figure of the book."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

CLASS_COLORS = ("#1f77b4", "#ff7f0e")
CLASS_MARKERS = ("o", "s")


def plot_cost(costs: Sequence[float], ax: Axes | None = None, ylabel: str = "cost", xlabel: str = "epoch") -> Axes:
    """Plot a training curve: one value per epoch (or per logged step), starting at 1."""
    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
    values = np.asarray([float(c) for c in costs])
    ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, title="Training curve")
    ax.grid(alpha=0.3)
    return ax


def plot_decision_boundary(
    weights: Sequence[float],
    bias: float,
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    title: str = "Decision boundary",
    class_names: Sequence[str] = ("setosa", "versicolor"),
) -> Axes:
    """Scatter two-feature data by class and draw the line ``w1*x1 + w2*x2 + b = 0``."""
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
    """The chapter's standard figure: cost per epoch beside the decision boundary on the data."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    plot_cost(costs, ax=left)
    plot_decision_boundary(weights, bias, X, y, ax=right)
    fig.suptitle(title)
    fig.tight_layout()
