"""Data sets of the book: download once, verify, cache; or copy from a local mirror.

Every file is looked for in this order:

1. the cache folder (``$TUTORIAL_DATA_DIR``, default ``data/`` at the repository root);
2. the mirror folder (``$TUTORIAL_DATA_MIRROR``), laid out like the project's offline
   copy: ``iris/iris.data``, ``mnist/*.gz``, ``gutenberg/98-0.txt``;
3. the original download locations.

A file reaches the cache only after it has been verified (MNIST by the SHA-256 of the
uncompressed IDX file, Iris and the novel by their content). It is written to a
temporary file beside its destination and renamed into place, so a failed or corrupt
download leaves the cache exactly as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .files import write_atomically

CACHE_ENV_VAR = "TUTORIAL_DATA_DIR"
MIRROR_ENV_VAR = "TUTORIAL_DATA_MIRROR"
DOWNLOAD_TIMEOUT_S = 60


class DataError(RuntimeError):
    """Base class of the data module's errors."""


class CorruptDataError(DataError):
    """A file's content failed verification."""


class DataUnavailableError(DataError):
    """A file is neither cached, nor in the mirror, nor downloadable."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set and how to obtain and check it.

    Attributes:
        target: path of the verified file inside the cache folder.
        mirror_path: path of the file as stored in a mirror folder.
        urls: original download locations, tried in order.
        verify: raises :class:`CorruptDataError` if the (decoded) bytes are wrong.
        gunzip: the source is gzip-compressed and the cache keeps it uncompressed.
    """

    target: str
    mirror_path: str
    urls: tuple[str, ...]
    verify: Callable[[bytes], None]
    gunzip: bool = False


def _sha256_verifier(expected: str) -> Callable[[bytes], None]:
    def verify(content: bytes) -> None:
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected:
            raise CorruptDataError(f"SHA-256 is {actual}, expected {expected}")

    return verify


IRIS_CLASSES = ("Iris-setosa", "Iris-versicolor", "Iris-virginica")


def parse_iris(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse UCI ``iris.data``: 150 rows of 4 measurements and a class name.

    Returns:
        features as a ``(150, 4)`` float64 array and labels as class indices 0, 1, 2
        in the order of :data:`IRIS_CLASSES`.

    Raises:
        CorruptDataError: if the content is not 150 rows, 50 of each class.
    """
    rows = [line.strip() for line in content.decode("utf-8", errors="replace").splitlines() if line.strip()]
    features, labels = [], []
    for number, row in enumerate(rows, start=1):
        fields = row.split(",")
        try:
            if len(fields) != 5:
                raise ValueError
            features.append([float(value) for value in fields[:4]])
            labels.append(IRIS_CLASSES.index(fields[4]))
        except ValueError:
            raise CorruptDataError(f"line {number} is not 4 numbers and an Iris class name: {row[:60]!r}") from None
    counts = np.bincount(labels, minlength=3).tolist() if labels else [0, 0, 0]
    if len(rows) != 150 or counts != [50, 50, 50]:
        raise CorruptDataError(f"expected 150 rows, 50 per class; found {len(rows)} rows with class counts {counts}")
    return np.array(features, dtype=np.float64), np.array(labels, dtype=np.int64)


def _verify_iris(content: bytes) -> None:
    parse_iris(content)


NOVEL_FIRST_LINE = "A TALE OF TWO CITIES"
NOVEL_LAST_WORDS = "than I have ever known."


def _verify_novel(content: bytes) -> None:
    from .text import strip_gutenberg_boilerplate

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptDataError(f"not UTF-8 text: {error}") from None
    body = strip_gutenberg_boilerplate(text).lstrip("\ufeff").strip()
    if not body.startswith(NOVEL_FIRST_LINE) or NOVEL_LAST_WORDS not in body[-200:]:
        raise CorruptDataError(
            f"the text does not run from {NOVEL_FIRST_LINE!r} to {NOVEL_LAST_WORDS!r}: not A Tale of Two Cities"
        )


_MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IRIS = RemoteFile(
    target="iris/iris.data",
    mirror_path="iris/iris.data",
    urls=("https://archive.ics.uci.edu/ml/machine-learning-databases/iris/iris.data",),
    verify=_verify_iris,
)
NOVEL = RemoteFile(
    target="gutenberg/98-0.txt",
    mirror_path="gutenberg/98-0.txt",
    urls=("https://www.gutenberg.org/files/98/98-0.txt", "https://www.gutenberg.org/cache/epub/98/pg98.txt"),
    verify=_verify_novel,
)
MNIST_FILES = tuple(
    RemoteFile(
        target=f"MNIST/raw/{name}",
        mirror_path=f"mnist/{name}.gz",
        urls=tuple(f"{base}{name}.gz" for base in _MNIST_URLS),
        verify=_sha256_verifier(sha),
        gunzip=True,
    )
    for name, sha in _MNIST_SHA256.items()
)


def cache_dir() -> Path:
    """The folder that holds verified data: ``$TUTORIAL_DATA_DIR`` or ``data/`` at the repository root."""
    configured = os.environ.get(CACHE_ENV_VAR)
    if configured:
        return Path(configured).expanduser().resolve()
    package_root = Path(__file__).resolve().parents[2]
    if (package_root / "pyproject.toml").exists():
        return package_root / "data"
    return Path.home() / ".cache" / "tutorial_utils"


def mirror_dir() -> Path | None:
    """The local mirror folder named by ``$TUTORIAL_DATA_MIRROR``, or ``None``."""
    configured = os.environ.get(MIRROR_ENV_VAR)
    return Path(configured).expanduser().resolve() if configured else None


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 (fixed https URLs)
        return response.read()


def _decode_and_verify(raw: bytes, remote: RemoteFile) -> bytes:
    if remote.gunzip:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise CorruptDataError(f"not a valid gzip file: {error}") from None
    remote.verify(raw)
    return raw


def fetch(remote: RemoteFile) -> Path:
    """Return the path of a verified copy of ``remote`` in the cache, obtaining it if needed.

    Raises:
        DataUnavailableError: if neither the mirror nor any URL gave a verified copy; the
            message says which file is missing, where it comes from and where to put it.
    """
    destination = cache_dir() / remote.target
    problems: list[str] = []
    if destination.exists():
        try:
            remote.verify(destination.read_bytes())
            return destination
        except CorruptDataError as error:
            problems.append(f"cached copy {destination} failed verification ({error}); fetching it again")

    sources: list[tuple[str, Callable[[], bytes]]] = []
    mirror = mirror_dir()
    if mirror is not None:
        mirror_file = mirror / remote.mirror_path
        sources.append((f"mirror file {mirror_file}", mirror_file.read_bytes))
    sources.extend((url, lambda url=url: _download(url)) for url in remote.urls)

    for name, read in sources:
        try:
            content = _decode_and_verify(read(), remote)
        except CorruptDataError as error:
            problems.append(f"{name}: corrupt, rejected ({error})")
            continue
        except (OSError, urllib.error.URLError, ValueError) as error:
            problems.append(f"{name}: {error}")
            continue
        write_atomically(destination, lambda stream: stream.write(content))
        return destination

    suffix = ".gz, uncompressed" if remote.gunzip else ""
    raise DataUnavailableError(
        f"Data file {remote.target!r} is missing and could not be obtained.\n"
        + "".join(f"  - {problem}\n" for problem in problems)
        + f"Download it from {' or '.join(remote.urls)}{suffix} and save it as {destination},\n"
        f"or set {MIRROR_ENV_VAR} to a folder that holds it as {remote.mirror_path} "
        "(the layout of the project's offline data copy, e.g. ../shared/data)."
    )


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's Iris data (UCI version): ``(150, 4)`` float64 features and labels 0, 1, 2."""
    return parse_iris(fetch(IRIS).read_bytes())


def load_novel_text() -> str:
    """*A Tale of Two Cities* (Project Gutenberg #98) as stored: raw UTF-8 text, boilerplate included if present."""
    return fetch(NOVEL).read_text(encoding="utf-8")


def mnist_root() -> Path:
    """Ensure the four verified MNIST IDX files are cached and return the torchvision ``root``."""
    for remote in MNIST_FILES:
        fetch(remote)
    return cache_dir()


def load_mnist(transform: Callable | None = None):  # -> tuple[datasets.MNIST, datasets.MNIST]
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
