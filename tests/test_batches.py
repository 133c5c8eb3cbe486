"""Mini-batches: iterate_minibatches (seeded order, aligned rows) and TensorLoader (DataLoader's order)."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from tutorial_utils import TensorLoader, iterate_minibatches


def toy_data(n=23):
    features = torch.arange(n * 3, dtype=torch.float32).view(n, 3)
    targets = torch.arange(n) * 10
    return features, targets


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_matches_dataloader_batches_and_rng_use(shuffle, drop_last):
    features, targets = toy_data()
    reference = DataLoader(TensorDataset(features, targets), batch_size=5, shuffle=shuffle, drop_last=drop_last)
    ours = TensorLoader(features, targets, batch_size=5, shuffle=shuffle, drop_last=drop_last)
    torch.manual_seed(123)
    expected = [list(reference) for _ in range(2)]  # two passes: the order changes between epochs
    after_reference = torch.rand(3)
    torch.manual_seed(123)
    got = [list(ours) for _ in range(2)]
    after_ours = torch.rand(3)
    assert len(ours) == len(reference)
    for epoch_expected, epoch_got in zip(expected, got):
        assert len(epoch_got) == len(epoch_expected)
        for (xe, ye), (xg, yg) in zip(epoch_expected, epoch_got):
            assert torch.equal(xe, xg) and torch.equal(ye, yg)
    assert torch.equal(after_reference, after_ours), "the global generator must be left in the same state"
    if shuffle:
        first, second = (torch.cat([y for _, y in epoch]) for epoch in got)
        assert not torch.equal(first, second)


def test_loader_keeps_rows_aligned_and_covers_every_row_once():
    features, targets = toy_data()
    torch.manual_seed(0)
    batches = list(TensorLoader(features, targets, batch_size=4, shuffle=True))
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == targets.tolist() and seen.tolist() != targets.tolist()
    for xb, yb in batches:
        assert torch.equal(xb, features[yb // 10])


def test_loader_keeps_or_drops_the_short_last_batch():
    features, targets = toy_data(23)
    kept = list(TensorLoader(features, targets, batch_size=5))
    dropped = list(TensorLoader(features, targets, batch_size=5, drop_last=True))
    assert [len(y) for _, y in kept] == [5, 5, 5, 5, 3]
    assert [len(y) for _, y in dropped] == [5, 5, 5, 5]
    assert len(TensorLoader(features, targets, batch_size=5)) == 5
    assert len(TensorLoader(features, targets, batch_size=5, drop_last=True)) == 4
    assert torch.equal(kept[-1][1], targets[20:])


def test_loader_rejects_unequal_lengths():
    with pytest.raises(ValueError, match="same length, got 5 and 4"):
        TensorLoader(torch.zeros(5, 2), torch.zeros(4), batch_size=2)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_loader_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        TensorLoader(torch.zeros(5, 2), torch.zeros(5), batch_size=batch_size)


def test_loader_rejects_tensors_on_different_devices():
    with pytest.raises(ValueError, match="same device, got meta and cpu"):
        TensorLoader(torch.zeros(5, 2, device="meta"), torch.zeros(5), batch_size=2)


def test_loader_rejects_scalars_and_non_tensors():
    with pytest.raises(ValueError, match="targets must have a first dimension"):
        TensorLoader(torch.zeros(5, 2), torch.tensor(1), batch_size=2)
    with pytest.raises(TypeError, match="features must be a torch.Tensor"):
        TensorLoader(np.zeros((5, 2)), torch.zeros(5), batch_size=2)


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


@pytest.mark.parametrize("seed", [1.5, "7", True, -1, 2**32, [1, 2]])
def test_minibatches_name_a_bad_seed(seed):
    with pytest.raises(ValueError, match=r"seed must be None or an integer from 0 to 2\*\*32 - 1, got"):
        iterate_minibatches((np.zeros(5),), batch_size=2, shuffle=True, seed=seed)


def test_minibatches_accept_numpy_integer_seeds():
    X = np.arange(10)
    assert [b[0].tolist() for b in iterate_minibatches((X,), 5, shuffle=True, seed=np.int64(3))] == \
           [b[0].tolist() for b in iterate_minibatches((X,), 5, shuffle=True, seed=3)]


def test_minibatches_name_an_array_that_is_not_one():
    with pytest.raises(TypeError, match=r"arrays\[1\] must be a NumPy array or tensor with a first dimension, got list"):
        iterate_minibatches((np.zeros(5), [0, 1, 2, 3, 4]), batch_size=2)


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_draws_when_dataloader_draws(shuffle):
    """DataLoader draws its worker base seed in iter() and the sampler's seed at the first next():
    code that draws random numbers in between sees the same numbers with either loader."""
    features, targets = toy_data()

    def run(loader):
        torch.manual_seed(7)
        batches = iter(loader)
        between = torch.rand(3)
        first = next(batches)
        after_first = torch.rand(3)
        rest = list(batches)
        return [between, *first, after_first, *(t for batch in rest for t in batch), torch.rand(3)]

    expected = run(DataLoader(TensorDataset(features, targets), batch_size=5, shuffle=shuffle))
    got = run(TensorLoader(features, targets, batch_size=5, shuffle=shuffle))
    assert len(got) == len(expected) and all(torch.equal(e, g) for e, g in zip(expected, got))
