"""custom_where, exported from chapter 1."""

import pytest
import torch

from tutorial_utils import custom_where


def test_custom_where_matches_torch_where():
    cond = torch.tensor([True, False, True])
    x_1, x_2 = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, -2.0, -3.0])
    assert torch.equal(custom_where(cond, x_1, x_2), torch.where(cond, x_1, x_2))


def test_custom_where_accepts_scalars_and_01_tensors():
    assert custom_where(torch.tensor([1, 0, 1]), 1, 0).tolist() == [1, 0, 1]
    assert custom_where(torch.tensor([0.3, 0.7]) >= 0.5, 1, 0).tolist() == [0, 1]


def test_custom_where_rejects_probabilities():
    with pytest.raises(ValueError, match="only 0 and 1"):
        custom_where(torch.tensor([0.3, 0.7]), 1, 0)


def test_custom_where_takes_a_list_as_cond():
    assert custom_where([True, False], 1, 0).tolist() == [1, 0]
