"""*A Tale of Two Cities* (Project Gutenberg #98): the text, its cleaning, and its encoding as integers.

The vocabulary of the character-level models is the 100 characters of ``string.printable``.
:func:`encode_text` and :func:`decode_text` work with NumPy arrays (any framework);
:func:`char_to_tensor` and :func:`tensor_to_text` are their PyTorch forms.
"""

from __future__ import annotations

import re
import string
from typing import Any

import numpy as np

from .fetch import CorruptDataError, RemoteFile, fetch

#: The vocabulary of the character-level models: the 100 characters of ``string.printable``.
PRINTABLE: str = string.printable

#: The START marker's whole line, whatever ends it: ``\r\n``, ``\n``, an old Mac's ``\r``, or the end of the text.
_START_MARKER = re.compile(r"\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK[^\r\n]*(\r\n|\r|\n|\Z)", re.IGNORECASE)
_END_MARKER = re.compile(r"\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK", re.IGNORECASE)

NOVEL_FIRST_LINE = "A TALE OF TWO CITIES"
NOVEL_LAST_WORDS = "than I have ever known."
#: Sentences every edition holds (compared with white space folded), and bounds on the body's length
#: in characters: together they reject a fragment or another book, yet accept Gutenberg's re-issues.
NOVEL_LANDMARKS = (
    "It was the best of times, it was the worst of times",
    "Recalled to Life",
    "It is a far, far better thing that I do, than I have ever done",
)
NOVEL_LENGTH = (700_000, 900_000)


def strip_gutenberg_boilerplate(text: str) -> str:
    """Return the book's body: the text between Project Gutenberg's START and END markers.

    Text without the markers (an already stripped copy) is returned unchanged. The START marker's
    line goes whatever ends it (``\\r\\n``, ``\\n``, ``\\r``), even when it is the last line.
    """
    start = _START_MARKER.search(text)
    if start:
        text = text[start.end() :]
    end = _END_MARKER.search(text)
    if end:
        text = text[: end.start()]
    return text


def verify_novel(content: bytes) -> None:
    """Accept *A Tale of Two Cities*: UTF-8, from its title to its last words, with its landmark sentences.

    Raises:
        CorruptDataError: saying which check failed.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptDataError(f"not UTF-8 text: {error}") from None
    body = strip_gutenberg_boilerplate(text).lstrip("\ufeff").strip()
    if not NOVEL_LENGTH[0] <= len(body) <= NOVEL_LENGTH[1]:
        raise CorruptDataError(f"the body has {len(body):,} characters; the novel has {NOVEL_LENGTH[0]:,} to {NOVEL_LENGTH[1]:,}")
    if not body.startswith(NOVEL_FIRST_LINE) or NOVEL_LAST_WORDS not in body[-200:]:
        raise CorruptDataError(f"the text does not run from {NOVEL_FIRST_LINE!r} to {NOVEL_LAST_WORDS!r}: not A Tale of Two Cities")
    folded = " ".join(body.split())
    missing = [landmark for landmark in NOVEL_LANDMARKS if landmark not in folded]
    if missing:
        raise CorruptDataError(f"the text lacks {missing[0]!r}: not A Tale of Two Cities")


NOVEL = RemoteFile(
    target="gutenberg/98-0.txt",
    mirror_path="gutenberg/98-0.txt",
    urls=("https://www.gutenberg.org/files/98/98-0.txt", "https://www.gutenberg.org/cache/epub/98/pg98.txt"),
    verify=verify_novel,
    max_bytes=4 * 1024 * 1024,
)


def load_novel_text() -> str:
    """*A Tale of Two Cities* as stored: raw UTF-8 text, Gutenberg's header and licence included if present."""
    return fetch(NOVEL).read_text(encoding="utf-8")


def clean_text(text: str) -> str:
    """Prepare raw novel text for the character models.

    Strips the Gutenberg header and footer, transliterates to ASCII with ``unidecode`` (curly
    quotes become straight ones, a byte-order mark goes), turns Windows and old Mac line ends
    into ``\\n``, drops the control characters that are not in ``string.printable`` (``\\x00``,
    ``\\x1b``, ``\\x7f``, ...) and collapses runs of spaces. Every character of the result is
    in :data:`PRINTABLE`.
    """
    from unidecode import unidecode

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    body = strip_gutenberg_boilerplate(text)
    ascii_text = unidecode(body).replace("\r\n", "\n").replace("\r", "\n")
    printable = "".join(char for char in ascii_text if char in PRINTABLE)
    return re.sub(" +", " ", printable).strip() + "\n"


def encode_text(text: str, vocabulary: str = PRINTABLE) -> np.ndarray:
    """Encode ``text`` as a 1-D ``int64`` NumPy array of indices into ``vocabulary``.

    Raises:
        ValueError: naming the first character that is not in ``vocabulary``, its code point and position.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    lookup = {char: index for index, char in enumerate(vocabulary)}
    try:
        return np.fromiter((lookup[char] for char in text), dtype=np.int64, count=len(text))
    except KeyError:
        position = next(i for i, char in enumerate(text) if char not in lookup)
        char = text[position]
        raise ValueError(
            f"character {char!r} (U+{ord(char):04X}) at position {position} is not in the vocabulary; "
            "transliterate the text to ASCII first (see clean_text)"
        ) from None


def decode_text(indices: Any, vocabulary: str = PRINTABLE) -> str:
    """Decode a 1-D array (or tensor) of indices back into text: the inverse of :func:`encode_text`.

    Raises:
        ValueError: if the indices are not 1-D integers, or one is outside the vocabulary.
    """
    if hasattr(indices, "detach"):
        indices = indices.detach().cpu()
    values = np.asarray(indices)
    if values.ndim != 1 or not (np.issubdtype(values.dtype, np.integer) or values.size == 0):
        raise ValueError(f"expected a 1-D array of integer indices, got {values.dtype} with shape {values.shape}")
    bad = np.flatnonzero((values < 0) | (values >= len(vocabulary)))
    if bad.size:
        position = int(bad[0])
        raise ValueError(f"index {values[position]} at position {position} is outside the vocabulary of {len(vocabulary)} characters")
    return "".join(vocabulary[v] for v in values.tolist())


def char_to_tensor(text: str, vocabulary: str = PRINTABLE) -> Any:
    """Encode ``text`` as a 1-D ``torch.long`` tensor of indices into ``vocabulary`` (see :func:`encode_text`)."""
    import torch

    return torch.from_numpy(encode_text(text, vocabulary))


def tensor_to_text(indices: Any, vocabulary: str = PRINTABLE) -> str:
    """Decode a 1-D integer tensor back into text: the inverse of :func:`char_to_tensor`."""
    return decode_text(indices, vocabulary)
