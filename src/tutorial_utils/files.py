"""Writing files so that a crash never leaves a half-written one under the real name."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def default_file_mode() -> int:
    """The mode a new file gets under the process's umask (``0o644`` under the usual ``022``).

    ``tempfile.mkstemp`` creates files readable by their owner only; a file renamed into place
    from it is given this mode instead, so that a shared cache stays readable by its group.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(destination: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(stream)`` on a temporary file beside ``destination``, then rename it into place.

    The rename is atomic on one file system: readers see either the old file or the complete
    new one. If ``write`` or the rename fails, the temporary file is removed and ``destination``
    keeps its previous content. The new file gets the mode of :func:`default_file_mode`.
    """
    destination = Path(destination)
    if destination.is_dir():  # checked first: the rename would fail only after the whole write
        raise IsADirectoryError(f"{destination} is a folder, not a file: give the path of a file to write")
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, default_file_mode())
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return destination
