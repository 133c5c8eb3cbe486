"""Importing TensorFlow without its start-up log lines, and so that PyTorch can still be used beside it.

TensorFlow's C++ runtime writes messages such as ``cudart_stub.cc ... Could not find cuda
drivers`` straight to file descriptor 2 while it is imported, before its own log-level setting
takes effect. They carry timestamps and process ids and differ from machine to machine, so in a
notebook they would make the stored outputs unstable. This module silences that one moment.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType


def import_tensorflow(log_level: str = "3") -> ModuleType:
    """Import and return ``tensorflow`` with its import-time C++ log lines discarded.

    Sets ``TF_CPP_MIN_LOG_LEVEL`` (unless already set; the default 3 hides everything below
    fatal messages) so that later C++ log lines stay hidden too. Python exceptions raised by the import still propagate.

    Where Triton is installed (it comes with PyTorch's CUDA builds, and PyTorch's compiler loads it
    when an optimizer is first created), it is imported first: loaded after TensorFlow, in the same
    process, its native library crashes the interpreter with a segmentation fault; loaded before,
    both work.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", log_level)
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        if "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
            import triton  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery logs too; do it while silenced
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
    return tf
