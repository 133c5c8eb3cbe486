"""The figures every chapter shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def plot_cost(costs: Sequence[float], ax: Axes | None = None) -> Axes:
    """Plot a training curve: one cost per epoch, epochs counted from 1.

    Raises:
        ValueError: if there are no costs.
    """
    import matplotlib.pyplot as plt

    if len(costs) == 0:
        raise ValueError("plot_cost needs at least one cost")
    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]
    values = np.asarray([float(c) for c in costs])
    ax.plot(np.arange(1, len(values) + 1), values, marker="o", markersize=3)
    ax.set(xlabel="epoch", ylabel="cost", title="Training curve")
    ax.grid(alpha=0.3)
    return ax
