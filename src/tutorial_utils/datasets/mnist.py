"""MNIST: the files, torchvision's dataset objects or plain arrays, and its pictures.

The four IDX files are verified by the SHA-256 of their *uncompressed* bytes, which do not depend
on how a ``.gz`` copy was compressed, and cached uncompressed in ``MNIST/raw/``, where
``torchvision.datasets.MNIST`` looks for them. The PyTorch chapter uses :func:`load_mnist`
(torchvision's dataset objects), the TensorFlow chapter :func:`load_mnist_arrays` (NumPy, no torch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..arguments import positive_int
from .fetch import CorruptDataError, RemoteFile, cache_dir, fetch, sha256_verifier

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_BASE_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
#: name -> (SHA-256 of the uncompressed file, its size in bytes)
_FILES = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47_040_016),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60_008),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7_840_016),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10_008),
}
MNIST_FILES = {
    name: RemoteFile(
        target=f"MNIST/raw/{name}",
        mirror_path=f"mnist/{name}.gz",
        urls=tuple(f"{base}{name}.gz" for base in _BASE_URLS),
        verify=sha256_verifier(sha256),
        max_bytes=size,
        sha256=sha256,
        gunzip=True,
    )
    for name, (sha256, size) in _FILES.items()
}


def mnist_root() -> Path:
    """Ensure the four verified MNIST files are cached and return the ``root`` torchvision expects."""
    for remote in MNIST_FILES.values():
        fetch(remote)
    return cache_dir()


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file of unsigned bytes (MNIST's format) as a NumPy ``uint8`` array.

    Raises:
        CorruptDataError: naming the file, if its header does not describe its content.
    """
    data = Path(path).read_bytes()
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise CorruptDataError(f"{path} is not an IDX file of unsigned bytes (header {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + math.prod(shape):
        raise CorruptDataError(f"{path}: the header announces shape {shape}, but the file holds {len(data) - header} bytes of data")
    try:
        return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    except ValueError as error:  # more dimensions than a NumPy array can have (MNIST's files have 1 or 3)
        raise CorruptDataError(f"{path}: the header announces {ndim} dimensions, more than a NumPy array can have ({error})") from None


def load_mnist_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST as NumPy arrays: ``(X_train, y_train, X_test, y_test)``, images ``uint8`` of shape ``(N, 28, 28)``."""
    root = mnist_root() / "MNIST" / "raw"
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    X_train, y_train, X_test, y_test = (read_idx(root / name) for name in names)
    return X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64)


def load_mnist(transform: Callable | None = None) -> tuple[Any, Any]:
    """MNIST as torchvision ``datasets.MNIST`` objects ``(train, test)``.

    Args:
        transform: applied to each PIL image; defaults to ``transforms.ToTensor()``.
    """
    from torchvision import datasets, transforms

    root = mnist_root()
    transform = transform if transform is not None else transforms.ToTensor()
    train = datasets.MNIST(root, train=True, transform=transform, download=False)
    test = datasets.MNIST(root, train=False, transform=transform, download=False)
    return train, test


def mnist_to_tensors(dataset: Any, device: Any = None, flatten: bool = True) -> tuple[Any, Any]:
    """All images and labels of a torchvision MNIST-style dataset as two tensors.

    The images become ``float32`` in ``[0, 1]`` (``uint8 / 255``, the values ``ToTensor`` gives),
    shaped ``(N, H*W)`` when ``flatten`` is true, else ``(N, 1, H, W)`` like ``ToTensor``'s
    output; the labels become ``int64``. The dataset's ``transform`` is not applied.

    Args:
        dataset: an object with ``data`` (``uint8`` tensor ``(N, H, W)``) and ``targets``.
        device: where to put both tensors (default: the CPU).
        flatten: one row of ``H*W`` pixels per image.

    Raises:
        ValueError: if ``data`` is not a ``uint8`` tensor of shape ``(N, H, W)``, or the targets
            are not one integer label per image.
    """
    import torch

    data = getattr(dataset, "data", None)
    targets = getattr(dataset, "targets", None)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 3:
        described = f"{data.dtype} tensor of shape {tuple(data.shape)}" if isinstance(data, torch.Tensor) else type(data).__name__
        raise ValueError(f"dataset.data must be a uint8 tensor of shape (N, H, W), got {described}")
    targets = torch.as_tensor(targets)
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool or targets.dim() != 1:
        raise ValueError(f"dataset.targets must be one integer label per image, got {targets.dtype} of shape {tuple(targets.shape)}")
    if len(targets) != len(data):
        raise ValueError(f"dataset has {len(data)} images but {len(targets)} targets")
    images = data.to(device=device, dtype=torch.float32).div(255)
    images = images.reshape(len(data), -1) if flatten else images.unsqueeze(1)
    return images, targets.to(device=device, dtype=torch.int64)


def _as_array(values: Any) -> np.ndarray:
    """A NumPy array from an array, a list, or a tensor of any framework on any device."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
    return np.asarray(values)


def confusion_matrix(targets: Any, predictions: Any, num_classes: int) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as class ``j`` (``int64``).

    Takes NumPy arrays or tensors of either framework.

    Raises:
        ValueError: if the inputs are not 1-D integer labels of equal length in ``0 .. num_classes - 1``.
    """
    num_classes = positive_int(num_classes, "num_classes")
    targets, predictions = _as_array(targets), _as_array(predictions)
    for name, labels in (("targets", targets), ("predictions", predictions)):
        if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"{name} must be 1-D integer labels, got {labels.dtype} of shape {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} hold labels outside 0..{num_classes - 1}: min {labels.min()}, max {labels.max()}")
    if len(targets) != len(predictions):
        raise ValueError(f"targets and predictions must have the same length, got {len(targets)} and {len(predictions)}")
    flat = targets.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def plot_image_grid(
    images: Any,
    titles: Sequence[str] | None = None,
    ncols: int = 10,
    image_shape: tuple[int, int] = (28, 28),
    cmap: str = "gray_r",
    symmetric: bool = False,
    panel_size: float = 1.2,
) -> Figure:
    """Show images side by side, ``ncols`` per row, each with an optional title.

    Args:
        images: ``N`` images as ``(N, H, W)``, ``(N, 1, H, W)`` or flattened ``(N, H*W)`` rows
            (an array or a tensor).
        titles: one title per image, or ``None``.
        ncols: images per row (fewer if there are fewer images).
        image_shape: ``(H, W)`` used to unflatten rows.
        cmap: matplotlib colour map.
        symmetric: centre the colour scale on zero (for weights, which can be negative).
        panel_size: width and height of one image in inches.

    Raises:
        ValueError: if there are no images, they cannot be shaped to ``image_shape``, hold NaN or
            infinity, the number of titles differs from the number of images, or ``ncols`` is not positive.
    """
    import matplotlib.pyplot as plt

    ncols = positive_int(ncols, "ncols")
    array = _as_array(images).astype(np.float64)
    if array.ndim == 0 or len(array) == 0:
        raise ValueError("plot_image_grid needs at least one image")
    height, width = image_shape
    if array[0].size != height * width:
        raise ValueError(f"each image must hold {height}x{width} = {height * width} values, got shape {array.shape[1:]}")
    if not np.all(np.isfinite(array)):
        raise ValueError("the images hold NaN or infinite values")
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


def plot_confusion_matrix(matrix: Any, class_names: Sequence[str] | None = None, title: str = "Confusion matrix") -> Figure:
    """Draw a square count matrix (rows: true class, columns: predicted class) with its numbers.

    Raises:
        ValueError: if the matrix is not square, holds negative counts, or ``class_names`` has the wrong length.
    """
    import matplotlib.pyplot as plt

    counts = _as_array(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"a confusion matrix must be square, got shape {counts.shape}")
    if counts.size and (not np.all(np.isfinite(counts)) or counts.min() < 0):
        raise ValueError("a confusion matrix holds counts: no negative, NaN or infinite values")
    k = counts.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"got {len(names)} class names for a {k}x{k} matrix")
    fig, ax = plt.subplots(figsize=(0.55 * k + 1.5, 0.55 * k + 1.0))
    shade = np.log1p(counts)
    ax.imshow(shade, cmap="Blues")
    threshold = shade.max() / 2
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7, color="white" if shade[i, j] > threshold else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=names, yticklabels=names,
           xlabel="predicted class", ylabel="true class", title=title)
    fig.tight_layout()
    return fig
