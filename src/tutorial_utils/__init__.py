"""Helpers shared by the notebooks of the book, and the code that chapters export for later ones.

``import tutorial_utils as tu`` is cheap: it loads neither torch, TensorFlow nor matplotlib. Each
name below is imported from its module the first time it is used (PEP 562), so a chapter loads
only the libraries it uses (chapter 4, in TensorFlow, never loads PyTorch) and a data loader
never imports a plotting library.

Modules: ``datasets.iris``, ``datasets.mnist``, ``datasets.novel`` and ``datasets.fetch`` (the
data sets); ``batches``, ``device``, ``checkpoint``, ``plots``, ``record``, ``results``, ``files``,
``arguments`` and ``tensorflow_setup`` (shared infrastructure); ``logreg``, ``softmax``,
``softmax_tf``, ``charrnn``, ``charrnn_tf``, ``ddp_charrnn`` and ``transformer`` (exported from
the chapters by ``make export``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: Every public name of the package, and the module that defines it: the one list to keep.
_PUBLIC: dict[str, str] = {
    # the data sets and how they are fetched
    "CorruptDataError": "datasets.fetch",
    "DataError": "datasets.fetch",
    "DataSettingError": "datasets.fetch",
    "DataUnavailableError": "datasets.fetch",
    "cache_dir": "datasets.fetch",
    "mirror_dir": "datasets.fetch",
    "Split": "datasets.iris",
    "binary_subset": "datasets.iris",
    "iris_binary_split": "datasets.iris",
    "load_iris": "datasets.iris",
    "plot_decision_boundary": "datasets.iris",
    "plot_training_summary": "datasets.iris",
    "shuffle_split": "datasets.iris",
    "standardize": "datasets.iris",
    "confusion_matrix": "datasets.mnist",
    "load_mnist": "datasets.mnist",
    "load_mnist_arrays": "datasets.mnist",
    "mnist_to_tensors": "datasets.mnist",
    "plot_confusion_matrix": "datasets.mnist",
    "plot_image_grid": "datasets.mnist",
    "PRINTABLE": "datasets.novel",
    "char_to_tensor": "datasets.novel",
    "clean_text": "datasets.novel",
    "decode_text": "datasets.novel",
    "encode_text": "datasets.novel",
    "load_novel_text": "datasets.novel",
    "tensor_to_text": "datasets.novel",
    # shared infrastructure
    "is_count": "arguments",
    "TensorLoader": "batches",
    "iterate_minibatches": "batches",
    "CheckpointError": "checkpoint",
    "checkpoint_path": "checkpoint",
    "list_checkpoints": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "train_resumable": "checkpoint",
    "get_device": "device",
    "synchronize": "device",
    "glue": "record",
    "plot_cost": "plots",
    "benchmark_result": "results",
    "read_result": "results",
    "result_table": "results",
    "text_table": "results",
    "import_tensorflow": "tensorflow_setup",
    # exported from the chapters (make export)
    "custom_where": "logreg",
    "SoftmaxRegression": "softmax",
    "CharRNN": "charrnn",
    "FastHistory": "charrnn",
    "bits_per_char": "charrnn",
    "consecutive_batch": "charrnn",
    "cosine_lr": "charrnn",
    "random_training_batch": "charrnn",
    "random_training_pair": "charrnn",
    "sample_text": "charrnn",
    "split_train_validation": "charrnn",
    "train_fast": "charrnn",
    "train_step_batched": "charrnn",
    "train_step_loop": "charrnn",
    "validation_loss": "charrnn",
    "CharTransformer": "transformer",
    "causal_attention": "transformer",
    "sample_transformer": "transformer",
    "train_transformer": "transformer",
    "window_validation_loss": "transformer",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'tutorial_utils' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
