import numpy as np
import pytest
import torch

from tutorial_utils import custom_where, iterate_minibatches


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


def test_custom_where_rejects_non_tensor():
    with pytest.raises(TypeError):
        custom_where([True, False], 1, 0)


def test_minibatches_cover_rows_in_order_and_drop_the_rest():
    X, y = np.arange(10).reshape(5, 2), np.arange(5)
    batches = list(iterate_minibatches((X, y), batch_size=2))
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3]]
    assert np.array_equal(batches[1][0], X[2:4])


def test_minibatches_shuffle_is_seeded_and_keeps_rows_aligned():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    first = list(iterate_minibatches((X, y), batch_size=5, shuffle=True, seed=123))
    second = list(iterate_minibatches((X, y), batch_size=5, shuffle=True, seed=123))
    order = np.concatenate([b[1] for b in first])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, second))
    for xb, yb in first:
        assert np.array_equal(xb, X[yb])
    expected = np.arange(10)
    np.random.RandomState(123).shuffle(expected)
    assert order.tolist() == expected.tolist()


def test_minibatches_work_on_tensors():
    X, y = torch.arange(12.0).view(6, 2), torch.arange(6)
    (xb, yb), = list(iterate_minibatches((X, y), batch_size=4, shuffle=True, seed=0))[:1]
    assert torch.equal(xb, X[yb])


def test_minibatches_reject_unequal_lengths():
    with pytest.raises(ValueError, match=r"same length.*\[5, 4\]"):
        list(iterate_minibatches((np.zeros(5), np.zeros(4)), batch_size=2))


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_minibatches_reject_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="positive integer"):
        list(iterate_minibatches((np.zeros(5),), batch_size=batch_size))


def test_minibatches_reject_empty_and_single_array():
    with pytest.raises(ValueError, match="at least one"):
        list(iterate_minibatches((), batch_size=1))
    with pytest.raises(TypeError, match="sequence of arrays"):
        list(iterate_minibatches(np.zeros((4, 2)), batch_size=1))
