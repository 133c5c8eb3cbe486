import string

import pytest
import torch

from tutorial_utils import char_to_tensor, clean_text, strip_gutenberg_boilerplate, tensor_to_text


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
    with pytest.raises(ValueError, match="1-D integer"):
        tensor_to_text(torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="1-D integer"):
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
