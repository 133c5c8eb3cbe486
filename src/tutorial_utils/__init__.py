"""Helpers shared by the notebooks of the book: data, devices, batching, text, plots."""

from .core import custom_where, iterate_minibatches
from .data import (
    CorruptDataError,
    DataError,
    DataUnavailableError,
    cache_dir,
    fetch,
    load_iris,
    load_mnist,
    load_novel_text,
    mirror_dir,
)
from .device import get_device
from .iris import Split, binary_subset, iris_binary_split, shuffle_split, standardize
from .plotting import plot_cost, plot_decision_boundary, plot_training_summary
from .text import PRINTABLE, char_to_tensor, clean_text, strip_gutenberg_boilerplate, tensor_to_text

__all__ = [
    "PRINTABLE",
    "CorruptDataError",
    "DataError",
    "DataUnavailableError",
    "Split",
    "binary_subset",
    "cache_dir",
    "char_to_tensor",
    "clean_text",
    "custom_where",
    "fetch",
    "get_device",
    "iris_binary_split",
    "iterate_minibatches",
    "load_iris",
    "load_mnist",
    "load_novel_text",
    "mirror_dir",
    "plot_cost",
    "plot_decision_boundary",
    "plot_training_summary",
    "shuffle_split",
    "standardize",
    "strip_gutenberg_boilerplate",
    "tensor_to_text",
]
