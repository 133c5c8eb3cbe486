"""Turning text into integer tensors and back, for the character-level language model."""

from __future__ import annotations

import re
import string

import torch

#: The vocabulary of the character-level model: the 100 characters of ``string.printable``.
PRINTABLE: str = string.printable

_START_MARKER = re.compile(r"\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK[^\n]*\n", re.IGNORECASE)
_END_MARKER = re.compile(r"\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK", re.IGNORECASE)


def char_to_tensor(text: str, vocabulary: str = PRINTABLE) -> torch.Tensor:
    """Encode ``text`` as a 1-D ``torch.long`` tensor of indices into ``vocabulary``.

    Raises:
        ValueError: naming the first character that is not in ``vocabulary`` and its position.
    """
    lookup = {char: index for index, char in enumerate(vocabulary)}
    try:
        return torch.tensor([lookup[char] for char in text], dtype=torch.long)
    except KeyError:
        position = next(i for i, char in enumerate(text) if char not in lookup)
        char = text[position]
        raise ValueError(
            f"character {char!r} (U+{ord(char):04X}) at position {position} is not in the vocabulary; "
            "transliterate the text to ASCII first (see clean_text)"
        ) from None


def tensor_to_text(indices: torch.Tensor, vocabulary: str = PRINTABLE) -> str:
    """Decode a 1-D tensor of indices back into text: the inverse of :func:`char_to_tensor`.

    Raises:
        ValueError: if the tensor is not 1-D integers or an index is outside the vocabulary.
    """
    if indices.dim() != 1 or indices.is_floating_point() or indices.is_complex():
        raise ValueError(f"expected a 1-D integer tensor, got dtype {indices.dtype} with shape {tuple(indices.shape)}")
    values = indices.tolist()
    bad = [(i, v) for i, v in enumerate(values) if not 0 <= v < len(vocabulary)]
    if bad:
        position, value = bad[0]
        raise ValueError(f"index {value} at position {position} is outside the vocabulary of {len(vocabulary)} characters")
    return "".join(vocabulary[v] for v in values)


def strip_gutenberg_boilerplate(text: str) -> str:
    """Return the book's body: the text between Project Gutenberg's START and END markers.

    Text without the markers (an already stripped copy) is returned unchanged.
    """
    start = _START_MARKER.search(text)
    if start:
        text = text[start.end() :]
    end = _END_MARKER.search(text)
    if end:
        text = text[: end.start()]
    return text


def clean_text(text: str) -> str:
    """Prepare raw novel text for the character model.

    Strips the Gutenberg header and footer, transliterates to ASCII with ``unidecode``
    (curly quotes become straight ones), turns Windows line ends into ``\\n`` and
    collapses runs of spaces. Every character of the result is in ``string.printable``.
    """
    from unidecode import unidecode

    body = strip_gutenberg_boilerplate(text)
    ascii_text = unidecode(body).replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(" +", " ", ascii_text).strip() + "\n"
