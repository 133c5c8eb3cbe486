import numpy as np
import pytest

from tutorial_utils import binary_subset, shuffle_split, standardize


def test_binary_subset_keeps_two_classes_and_sepal_columns():
    features = np.arange(600, dtype=float).reshape(150, 4)
    labels = np.repeat([0, 1, 2], 50)
    X, y = binary_subset(features, labels)
    assert X.shape == (100, 2) and np.array_equal(X, features[:100, :2])
    assert y.tolist() == [0.0] * 50 + [1.0] * 50


def test_shuffle_split_is_seeded_and_disjoint():
    X, y = np.arange(200.0).reshape(100, 2), np.arange(100.0)
    X_train, y_train, X_test, y_test = shuffle_split(X, y, n_test=25, seed=1)
    assert len(y_test) == 25 and len(y_train) == 75
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == y.tolist()
    assert np.array_equal(X_test[:, 1], 2 * y_test + 1)
    assert np.array_equal(shuffle_split(X, y, seed=1)[3], y_test)
    assert not np.array_equal(shuffle_split(X, y, seed=2)[3], y_test)


def test_split_rejects_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        shuffle_split(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="n_test"):
        shuffle_split(np.zeros((5, 2)), np.zeros(5), n_test=5)


def test_standardize_uses_training_statistics_only():
    train, test = np.array([[0.0, 10.0], [2.0, 30.0]]), np.array([[4.0, 20.0]])
    train_s, test_s, mean, std = standardize(train, test)
    assert mean.tolist() == [1.0, 20.0] and std.tolist() == [1.0, 10.0]
    assert test_s.tolist() == [[3.0, 0.0]] and train_s.std(axis=0).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="constant"):
        standardize(np.ones((3, 2)), test)


def test_split_tensors_keep_values_and_order():
    import torch

    from tutorial_utils import Split

    split = Split(np.array([[1.0, 2.0]]), np.array([1.0]), np.array([[3.0, 4.0]]), np.array([0.0]), np.zeros(2), np.ones(2))
    X_train, y_train, X_test, y_test = split.tensors()
    assert X_train.dtype == torch.float32 and X_test.tolist() == [[3.0, 4.0]] and y_train.tolist() == [1.0]
    assert split.tensors(dtype=torch.float64)[3].dtype == torch.float64
