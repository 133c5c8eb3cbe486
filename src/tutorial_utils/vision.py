"""Image-classification helpers: MNIST as in-memory tensors, a fast batch loader, and pictures.

:class:`TensorLoader` iterates ``(features, targets)`` mini-batches of tensors that already sit
on the training device, like ``torch.utils.data.DataLoader`` over a dataset but without the
per-image Python work (PIL decoding, ``ToTensor``, collating). With ``shuffle=True`` it draws
exactly the batch order that a single-process ``DataLoader(..., shuffle=True)`` draws under the
same global seed, and it consumes the global random number generator the same way, so a
training loop gives the same numbers with either loader.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure


def _check_positive(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _draw_seed() -> int:
    """One 64-bit draw from the global CPU generator, as ``DataLoader`` and ``RandomSampler`` make it."""
    return int(torch.empty((), dtype=torch.int64).random_().item())


class TensorLoader:
    """Mini-batches ``(features[idx], targets[idx])`` of two aligned tensors, DataLoader-style.

    Iterating draws from the global CPU generator exactly as a single-process
    ``DataLoader(TensorDataset(features, targets), batch_size, shuffle, drop_last)`` with the
    default sampler does: one draw for the (unused) worker base seed on every pass, plus, when
    shuffling, one draw that seeds a private generator whose ``torch.randperm`` is the order.
    Batches therefore come in the same order, and code that draws random numbers after a pass
    sees the same numbers, whichever of the two loaders it uses.

    Args:
        features: tensor whose first dimension indexes examples (any device).
        targets: tensor with the same first dimension, on the same device.
        batch_size: examples per batch, a positive integer.
        shuffle: draw a new random order on every pass instead of the stored order.
        drop_last: drop a last batch smaller than ``batch_size`` (kept by default, like DataLoader).

    Raises:
        ValueError: if the lengths differ, the tensors are on different devices, a tensor has
            no first dimension, or ``batch_size`` is not a positive integer.
    """

    def __init__(
        self,
        features: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        drop_last: bool = False,
    ) -> None:
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
        self.batch_size = _check_positive(batch_size, "batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)

    def __len__(self) -> int:
        """Number of batches per pass, as ``len(DataLoader)`` counts them."""
        n = len(self.targets)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.targets)
        _draw_seed()  # DataLoader's iterator draws a worker base seed on every pass
        if self.shuffle:
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


def mnist_to_tensors(dataset, device: torch.device | str | None = None, flatten: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """All images and labels of a torchvision MNIST-style dataset as two tensors.

    The images become ``float32`` in ``[0, 1]`` (``uint8 / 255``, the values ``ToTensor`` gives),
    shaped ``(N, H*W)`` when ``flatten`` is true, else ``(N, 1, H, W)`` like ``ToTensor``'s
    output; the labels become ``int64``. The dataset's ``transform`` is not applied.

    Args:
        dataset: an object with ``data`` (``uint8`` tensor ``(N, H, W)``) and ``targets``.
        device: where to put both tensors (default: the CPU).
        flatten: one row of ``H*W`` pixels per image.

    Raises:
        ValueError: if ``data`` is not a ``uint8`` tensor of shape ``(N, H, W)`` or the number
            of targets differs from the number of images.
    """
    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 3:
        described = f"{data.dtype} tensor of shape {tuple(data.shape)}" if isinstance(data, torch.Tensor) else type(data).__name__
        raise ValueError(f"dataset.data must be a uint8 tensor of shape (N, H, W), got {described}")
    targets = torch.as_tensor(targets, dtype=torch.int64)
    if len(targets) != len(data):
        raise ValueError(f"dataset has {len(data)} images but {len(targets)} targets")
    images = data.to(device=device, dtype=torch.float32).div(255)
    images = images.reshape(len(data), -1) if flatten else images.unsqueeze(1)
    return images, targets.to(device)


def confusion_matrix(targets: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as class ``j`` (an ``int64`` CPU tensor).

    Raises:
        ValueError: if the inputs are not 1-D integer tensors of equal length, or hold a label
            outside ``0 .. num_classes - 1``.
    """
    num_classes = _check_positive(num_classes, "num_classes")
    targets, predictions = torch.as_tensor(targets).cpu(), torch.as_tensor(predictions).cpu()
    for name, tensor in (("targets", targets), ("predictions", predictions)):
        if tensor.dim() != 1 or tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
            raise ValueError(f"{name} must be a 1-D tensor of integer labels, got {tensor.dtype} of shape {tuple(tensor.shape)}")
        if len(tensor) and (int(tensor.min()) < 0 or int(tensor.max()) >= num_classes):
            raise ValueError(f"{name} holds labels outside 0..{num_classes - 1}: min {int(tensor.min())}, max {int(tensor.max())}")
    if len(targets) != len(predictions):
        raise ValueError(f"targets and predictions must have the same length, got {len(targets)} and {len(predictions)}")
    flat = targets.long() * num_classes + predictions.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def plot_image_grid(
    images: torch.Tensor | np.ndarray,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    image_shape: tuple[int, int] = (28, 28),
    cmap: str = "gray_r",
    symmetric: bool = False,
    panel_size: float = 1.2,
) -> Figure:
    """Show images side by side, ``ncols`` per row, each with an optional title.

    Args:
        images: ``N`` images as ``(N, H, W)``, ``(N, 1, H, W)`` or flattened ``(N, H*W)`` rows.
        titles: one title per image, or ``None``.
        ncols: images per row (fewer if there are fewer images).
        image_shape: ``(H, W)`` used to unflatten rows.
        cmap: matplotlib colour map.
        symmetric: centre the colour scale on zero (for weights, which can be negative).
        panel_size: width and height of one image in inches.

    Returns:
        The figure; its axes form a ``rows x columns`` grid, unused cells hidden.

    Raises:
        ValueError: if there are no images, they cannot be shaped to ``image_shape``, the
            number of titles differs from the number of images, or ``ncols`` is not positive.
    """
    ncols = _check_positive(ncols, "ncols")
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim == 0 or len(array) == 0:
        raise ValueError("plot_image_grid needs at least one image")
    height, width = image_shape
    if array[0].size != height * width:
        raise ValueError(f"each image must hold {height}x{width} = {height * width} values, got shape {array.shape[1:]}")
    array = array.reshape(len(array), height, width)
    if titles is not None and len(titles) != len(array):
        raise ValueError(f"got {len(titles)} titles for {len(array)} images")
    ncols = min(ncols, len(array))
    nrows = math.ceil(len(array) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.3 * (titles is not None)), squeeze=False)
    limit = float(np.abs(array).max()) or 1.0
    scale = {"vmin": -limit, "vmax": limit} if symmetric else {}
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index < len(array):
            ax.imshow(array[index], cmap=cmap, **scale)
            if titles is not None:
                ax.set_title(titles[index], fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: torch.Tensor | np.ndarray, class_names: Sequence[str] | None = None, title: str = "Confusion matrix") -> Figure:
    """Draw a square count matrix (rows: true class, columns: predicted class) with its numbers.

    Raises:
        ValueError: if the matrix is not square or ``class_names`` has the wrong length.
    """
    counts = matrix.detach().cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {counts.shape}")
    k = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"got {len(names)} class names for a {k}x{k} matrix")
    fig, ax = plt.subplots(figsize=(0.55 * k + 1.5, 0.55 * k + 1.0))
    ax.imshow(np.log1p(counts), cmap="Blues")
    threshold = np.log1p(counts).max() / 2
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if np.log1p(counts[i, j]) > threshold else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names,
           xlabel="predicted class", ylabel="true class", title=title)
    fig.tight_layout()
    return fig
