"""Helpers shared by the notebooks of the book: data, devices, batching, text, plots."""

from .charrnn import (
    CharRNN,
    FastHistory,
    bits_per_char,
    consecutive_batch,
    cosine_lr,
    random_training_batch,
    random_training_pair,
    sample_text,
    split_train_validation,
    train_fast,
    train_step_batched,
    train_step_loop,
    validation_loss,
)
from .checkpoint import CheckpointError, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint, train_resumable
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
from .results import read_result
from .plotting import plot_cost, plot_decision_boundary, plot_training_summary
from .text import PRINTABLE, char_to_tensor, clean_text, strip_gutenberg_boilerplate, tensor_to_text
from .vision import TensorLoader, confusion_matrix, mnist_to_tensors, plot_confusion_matrix, plot_image_grid

__all__ = [
    "PRINTABLE",
    "CharRNN",
    "CheckpointError",
    "FastHistory",
    "bits_per_char",
    "consecutive_batch",
    "cosine_lr",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "random_training_batch",
    "random_training_pair",
    "sample_text",
    "save_checkpoint",
    "split_train_validation",
    "train_fast",
    "train_resumable",
    "train_step_batched",
    "train_step_loop",
    "validation_loss",
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
    "TensorLoader",
    "confusion_matrix",
    "mnist_to_tensors",
    "plot_confusion_matrix",
    "plot_image_grid",
    "read_result",
]
