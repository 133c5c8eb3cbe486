"""Fetching the book's data sets: a verified copy in a cache folder, from a local mirror or the web.

The cache, the check of cached files against known SHA-256 digests and the atomic move of a new
file into place are `pooch <https://www.fatiando.org/pooch>`_'s. This module adds what pooch
lacks, as one pooch downloader (:class:`SourceChain`):

- a **mirror folder** (``$TUTORIAL_DATA_MIRROR``), tried before the web: the offline copy a
  classroom or a machine without network access uses;
- one or more **download locations** per file, tried in order, all of them ``https``;
- a **size cap** and a **total deadline** on every download, and a size cap on every decompression, so that a
  server that trickles bytes or a gzip bomb fails with a clear error instead of hanging or filling
  the memory;
- **verification of the content** before anything is written: MNIST by the SHA-256 of the
  *uncompressed* IDX files (the same however the ``.gz`` was compressed), Iris and the novel by
  what they contain (see their modules). A corrupt source is rejected and the next one is tried,
  and so is a download that ends before the length its server announced;
- **replacement, never deletion**, of a cached copy that fails its check: the new copy is
  written beside it and renamed over it, so another process reading the file meanwhile reads
  the old copy or the new one, never a missing file.

Settings (both must be absolute paths, so that they mean the same from every folder, the
notebooks' included):

``TUTORIAL_DATA_DIR``
    the cache folder; default: the user cache folder (``~/.cache/tutorial_utils`` on Linux).
``TUTORIAL_DATA_MIRROR``
    a folder laid out like the project's offline copy: ``iris/iris.data``, ``mnist/*.gz``,
    ``gutenberg/98-0.txt``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..files import default_file_mode, write_atomically

CACHE_ENV_VAR = "TUTORIAL_DATA_DIR"
MIRROR_ENV_VAR = "TUTORIAL_DATA_MIRROR"
#: Seconds one read from a server may take, and seconds one whole download may take.
READ_TIMEOUT_S = 30.0
DEADLINE_S = 300.0
_CHUNK = 1 << 16


class DataError(RuntimeError):
    """Base class of the data sets' errors."""


class CorruptDataError(DataError):
    """A file's content failed verification."""


class DataUnavailableError(DataError):
    """A file is neither cached, nor in the mirror, nor downloadable."""


class DataSettingError(DataError):
    """``TUTORIAL_DATA_DIR`` or ``TUTORIAL_DATA_MIRROR`` cannot be used as set."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: where it comes from, how it is stored, how it is checked.

    Attributes:
        target: path of the verified file inside the cache folder.
        mirror_path: path of the file inside a mirror folder.
        urls: download locations, tried in order.
        verify: raises :class:`CorruptDataError` unless the (decoded) bytes are the right file.
        max_bytes: the most bytes a source may deliver, and the most a decompression may produce.
        sha256: digest of the verified file, when the source is fixed (checked again on every fetch).
        gunzip: the sources are gzip-compressed; the cache keeps the file uncompressed.
    """

    target: str
    mirror_path: str
    urls: tuple[str, ...]
    verify: Callable[[bytes], None]
    max_bytes: int
    sha256: str | None = None
    gunzip: bool = False


def _absolute_setting(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute():
        raise DataSettingError(
            f"{name}={value!r} is a relative path, which would mean another folder from every working "
            f"directory (a notebook runs in notebooks/); set {name} to an absolute path, e.g. {str(Path(value).resolve())!r}"
        )
    return path


def cache_dir() -> Path:
    """The folder that holds verified data: ``$TUTORIAL_DATA_DIR``, else the user cache folder.

    Raises:
        DataSettingError: if ``TUTORIAL_DATA_DIR`` is relative or names a file.
    """
    import pooch

    configured = _absolute_setting(CACHE_ENV_VAR)
    folder = configured if configured is not None else pooch.os_cache("tutorial_utils")
    if folder.exists() and not folder.is_dir():
        raise DataSettingError(f"{CACHE_ENV_VAR}={str(folder)!r} is a file, not a folder: point {CACHE_ENV_VAR} at a folder")
    return folder


def mirror_dir() -> Path | None:
    """The mirror folder named by ``$TUTORIAL_DATA_MIRROR``, or ``None`` when it is not set.

    Raises:
        DataSettingError: if the setting is relative or does not name a folder.
    """
    mirror = _absolute_setting(MIRROR_ENV_VAR)
    if mirror is not None and not mirror.is_dir():
        raise DataSettingError(f"{MIRROR_ENV_VAR}={str(mirror)!r} is not a folder: point it at a copy of the data sets, or unset it")
    return mirror


def _read_url(url: str, limit: int, deadline_s: float) -> bytes:
    """Download ``url``: at most ``limit`` bytes, within ``deadline_s`` seconds in all."""
    start = time.monotonic()
    received = bytearray()
    with urllib.request.urlopen(url, timeout=READ_TIMEOUT_S) as response:  # noqa: S310 (https URLs of this module)
        announced = response.headers.get("Content-Length", "").strip()
        while chunk := response.read1(_CHUNK):
            received += chunk
            if len(received) > limit:
                raise DataUnavailableError(f"delivered more than the {limit:,} bytes this file can have; stopped")
            if time.monotonic() - start > deadline_s:
                raise DataUnavailableError(f"stalled: {len(received):,} bytes in {deadline_s:.0f} s, the time allowed for one download")
    # read1 returns what arrived before the connection closed, without complaint
    if announced.isdigit() and len(received) != int(announced):
        raise DataUnavailableError(f"cut short: {len(received):,} of the {int(announced):,} bytes the server announced")
    return bytes(received)


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Decompress gzip ``data``, refusing to produce more than ``limit`` bytes (a gzip bomb stops there).

    Raises:
        CorruptDataError: if ``data`` is not complete, valid gzip, or inflates past ``limit``.
    """
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        result = inflater.decompress(data, limit + 1)
    except zlib.error as error:
        raise CorruptDataError(f"not a valid gzip stream ({error})") from None
    if len(result) > limit:
        raise CorruptDataError(f"inflates past {limit:,} bytes, more than this file can have")
    if not inflater.eof or inflater.unused_data:
        raise CorruptDataError("the gzip stream is truncated or followed by other data")
    return result


def sha256_verifier(expected: str) -> Callable[[bytes], None]:
    """A ``verify`` function that accepts exactly the bytes whose SHA-256 is ``expected``."""

    def verify(content: bytes) -> None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise CorruptDataError(f"SHA-256 is {actual}, expected {expected}")

    return verify


class SourceChain:
    """A pooch downloader: the mirror copy, then each URL, until one gives verified content.

    Pooch calls it with a temporary file beside the destination and moves that file into place
    once it returns, so the cache only ever holds verified files.
    """

    def __init__(self, remote: RemoteFile) -> None:
        self.remote = remote

    def sources(self) -> list[tuple[str, Callable[[], bytes]]]:
        found: list[tuple[str, Callable[[], bytes]]] = []
        mirror = mirror_dir()
        if mirror is not None:
            path = mirror / self.remote.mirror_path
            found.append((f"mirror file {path}", path.read_bytes))
        # gzip adds a few bytes per block to data it cannot compress: allow for it in the download
        limit = self.remote.max_bytes + (self.remote.max_bytes // 1000 + 1024 if self.remote.gunzip else 0)
        for url in self.remote.urls:
            found.append((url, lambda url=url: _read_url(url, limit, DEADLINE_S)))
        return found

    def __call__(self, url: str, output_file: str, pooch: object = None, check_only: bool = False) -> bool | None:
        if check_only:
            return True
        content = self.obtain()
        Path(output_file).write_bytes(content)
        os.chmod(output_file, default_file_mode())
        return None

    def obtain(self) -> bytes:
        """The verified content from the first source that gives it.

        Raises:
            DataUnavailableError: listing what each source did, if none did.
        """
        problems = []
        for name, read in self.sources():
            try:
                if "://" in name:
                    print(f"Downloading {self.remote.target} from {name}", file=sys.stderr)
                content = read()
                if self.remote.gunzip:
                    content = gunzip_bounded(content, self.remote.max_bytes)
                elif len(content) > self.remote.max_bytes:
                    raise CorruptDataError(f"{len(content):,} bytes, more than the {self.remote.max_bytes:,} this file can have")
                self.remote.verify(content)
            except CorruptDataError as error:
                problems.append(f"{name}: corrupt, rejected ({error})")
                continue
            except (OSError, DataUnavailableError, urllib.error.URLError, http.client.HTTPException, ValueError) as error:
                problems.append(f"{name}: {error}")
                continue
            return content
        raise DataUnavailableError(_unavailable_message(self.remote, problems))


def _unavailable_message(remote: RemoteFile, problems: list[str]) -> str:
    destination = cache_dir() / remote.target
    how = " and decompress it (gunzip)" if remote.gunzip else ""
    return (
        f"Data file {remote.target!r} is missing and could not be obtained.\n"
        + "".join(f"  - {problem}\n" for problem in problems)
        + f"Download it from {' or '.join(remote.urls)}{how} and save it as {destination},\n"
        f"or set {MIRROR_ENV_VAR} to the absolute path of a folder that holds it as {remote.mirror_path} "
        "(the layout of the book's offline data copy)."
    )


def fetch(remote: RemoteFile) -> Path:
    """Return the path of a verified copy of ``remote`` in the cache, obtaining it if needed.

    A cached file is checked on every call (its SHA-256 where known, else its content) and
    obtained again if the check fails or the file cannot be read; the new copy is renamed over
    the old one, which is never deleted first (another process may be reading it).

    Raises:
        DataUnavailableError: if neither the mirror nor any URL gave a verified copy; the
            message lists what each source did, and says where to put the file by hand.
        DataSettingError: if ``TUTORIAL_DATA_DIR`` or ``TUTORIAL_DATA_MIRROR`` cannot be used.
    """
    import pooch

    folder = cache_dir()
    destination = folder / remote.target
    try:
        if destination.is_dir():
            raise DataSettingError(f"{destination} is a folder where the data file belongs: remove it, or set {CACHE_ENV_VAR} to another folder")
        if destination.exists() and not _cached_copy_is_good(destination, remote):
            content = SourceChain(remote).obtain()
            write_atomically(destination, lambda stream: stream.write(content))
            return destination
        destination.parent.mkdir(parents=True, exist_ok=True)  # before pooch, whose own check races another process's
        pooch.get_logger().setLevel("WARNING")  # SourceChain says where a download comes from
        store = pooch.Pooch(path=folder, base_url="", registry={remote.target: remote.sha256}, urls={remote.target: remote.urls[0]})
        return Path(store.fetch(remote.target, downloader=SourceChain(remote)))
    except PermissionError as error:
        raise DataSettingError(
            f"cannot use the data cache {folder} ({_os_error_text(error)}); set {CACHE_ENV_VAR} to a folder you can write to"
        ) from None
    except OSError as error:  # a file where a folder belongs, a name too long, a full or read-only disk, ...
        raise DataSettingError(f"cannot use the data cache {folder} ({_os_error_text(error)}); set {CACHE_ENV_VAR} to another folder") from None


def _os_error_text(error: OSError) -> str:
    """The system's words for ``error`` and the path it names, e.g. ``Permission denied: /data/x``.

    Pooch re-raises a refused write as a ``PermissionError`` of its own words only, without the
    system's: those are read from the error it was raised from.
    """
    if error.strerror is None and isinstance(error.__cause__, OSError):
        error = error.__cause__
    if error.strerror is None:
        return str(error)
    return f"{error.strerror}: {error.filename}" if error.filename is not None else error.strerror


def _cached_copy_is_good(path: Path, remote: RemoteFile) -> bool:
    """Whether a cached file can be read and, unless pooch checks its SHA-256, passes verification."""
    if not os.access(path, os.R_OK):
        return False
    if remote.sha256 is not None:
        return True
    try:
        content = path.read_bytes()
    except FileNotFoundError:  # removed by hand meanwhile
        return False
    try:
        if len(content) > remote.max_bytes:
            return False
        remote.verify(content)
    except CorruptDataError:
        return False
    return True
