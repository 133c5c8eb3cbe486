import string

import numpy as np
import pytest
import torch

from tutorial_utils import CorruptDataError, char_to_tensor, clean_text, decode_text, encode_text, tensor_to_text
from tutorial_utils.datasets.novel import strip_gutenberg_boilerplate, verify_novel


def test_round_trip_over_every_printable_character():
    encoded = char_to_tensor(string.printable)
    assert encoded.dtype == torch.long and encoded.tolist() == list(range(100))
    assert tensor_to_text(encoded) == string.printable


def test_unknown_character_is_named_with_its_position():
    with pytest.raises(ValueError, match=r"'é' \(U\+00E9\) at position 3"):
        char_to_tensor("Caf\u00e9 au lait")


def test_tensor_to_text_rejects_out_of_range_and_bad_shapes():
    with pytest.raises(ValueError, match="index 100 at position 1"):
        tensor_to_text(torch.tensor([0, 100]))
    with pytest.raises(ValueError, match="1-D array of integer"):
        tensor_to_text(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="1-D array of integer"):
        tensor_to_text(torch.tensor([1.0]))


def test_empty_text():
    assert char_to_tensor("").numel() == 0 and tensor_to_text(torch.tensor([], dtype=torch.long)) == ""


def test_gutenberg_boilerplate_is_stripped():
    raw = (
        "The Project Gutenberg eBook\r\n*** START OF THE PROJECT GUTENBERG EBOOK A TALE OF TWO CITIES ***\r\n"
        "A TALE OF TWO CITIES\r\nbody\r\n*** END OF THE PROJECT GUTENBERG EBOOK A TALE OF TWO CITIES ***\r\nlicence"
    )
    assert strip_gutenberg_boilerplate(raw).strip() == "A TALE OF TWO CITIES\r\nbody"
    assert strip_gutenberg_boilerplate("no markers") == "no markers"


def test_clean_text_is_printable_ascii():
    cleaned = clean_text("\u201cIt is a far,   far better thing\u201d\r\n\u00e9t\u00e9")
    assert cleaned == '"It is a far, far better thing"\nete\n'
    char_to_tensor(cleaned)


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f"])
def test_clean_text_drops_control_characters_outside_printable(control):
    cleaned = clean_text(f"It was{control} the best")
    assert cleaned == "It was the best\n" and set(cleaned) <= set(string.printable)


def test_encode_and_decode_with_numpy():
    encoded = encode_text("Th")
    assert encoded.dtype == np.int64 and decode_text(encoded) == "Th"
    with pytest.raises(ValueError, match="1-D array of integer indices"):
        decode_text(np.array([1.5]))
    with pytest.raises(TypeError, match="text must be a str"):
        encode_text(b"bytes")


def test_a_fragment_is_not_the_novel():
    fragment = "A TALE OF TWO CITIES\n...than I have ever known.\n"
    with pytest.raises(CorruptDataError, match=r"the body has \d+ characters; the novel has 700,000"):
        verify_novel(fragment.encode())


def test_a_long_text_without_the_landmarks_is_not_the_novel():
    impostor = "A TALE OF TWO CITIES\n" + "word " * 150_000 + "than I have ever known.\n"
    with pytest.raises(CorruptDataError, match="lacks 'It was the best of times"):
        verify_novel(impostor.encode())


def test_the_novel_passes_with_or_without_gutenbergs_wrapper(data_copy):
    body = (data_copy / "gutenberg" / "98-0.txt").read_bytes()
    verify_novel(body)
    wrapped = b"The Project Gutenberg eBook\r\n*** START OF THE PROJECT GUTENBERG EBOOK 98 ***\r\n" + body + b"\r\n*** END OF THE PROJECT GUTENBERG EBOOK 98 ***\r\nlicence"
    verify_novel(wrapped)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_the_header_goes_whatever_the_line_ends(end):
    raw = end.join(["The Project Gutenberg eBook", "*** START OF THE PROJECT GUTENBERG EBOOK 98 ***", "A TALE OF TWO CITIES", "body", ""])
    assert clean_text(raw) == "A TALE OF TWO CITIES\nbody\n"


def test_a_start_marker_on_the_last_line_leaves_no_header():
    assert clean_text("The Project Gutenberg eBook\n*** START OF THE PROJECT GUTENBERG EBOOK 98 ***") == "\n"
    assert strip_gutenberg_boilerplate("header\r\n*** START OF THIS PROJECT GUTENBERG EBOOK 98 ***") == ""


def test_a_byte_order_mark_is_dropped():
    assert clean_text("\ufeffA TALE OF TWO CITIES\n") == "A TALE OF TWO CITIES\n"
