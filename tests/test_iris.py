import numpy as np
import pytest

from tutorial_utils import CorruptDataError, binary_subset, shuffle_split, standardize
from tutorial_utils.datasets.iris import IRIS_CLASSES, parse_iris, verify_iris


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


def iris_file(rows_per_class=50, bad_value=None):
    lines = [f"{5 + i / 100:.2f},{3 + c / 10:.1f},1.{c},0.{c + 1},{name}" for c, name in enumerate(IRIS_CLASSES) for i in range(rows_per_class)]
    if bad_value is not None:
        lines[7] = f"{bad_value},3.0,1.0,0.1,Iris-setosa"
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("bad_value", ["nan", "inf", "-1.0", "1e9", "abc"])
def test_parse_rejects_values_that_are_not_measurements(bad_value):
    with pytest.raises(CorruptDataError, match=r"line 8 is not 4 measurements"):
        parse_iris(iris_file(bad_value=bad_value))


def test_parse_rejects_wrong_counts_and_foreign_bytes():
    with pytest.raises(CorruptDataError, match="expected 150 rows, found 147"):
        parse_iris(iris_file(rows_per_class=49))
    with pytest.raises(CorruptDataError, match="not UTF-8"):
        parse_iris(b"\xff\xfe" + iris_file())


def test_well_formed_rows_with_other_values_are_not_the_uci_data():
    with pytest.raises(CorruptDataError, match="not the UCI values"):
        verify_iris(iris_file())


def test_the_uci_values_pass_whatever_the_line_ends(data_copy):
    content = (data_copy / "iris" / "iris.data").read_bytes()
    for variant in (content, content + b"\n\n", content.replace(b"\n", b"\r\n")):
        verify_iris(variant)
    features, _ = parse_iris(content)
    assert features[37].tolist() == [4.9, 3.1, 1.5, 0.1]  # the UCI copy's transcription error is kept


def test_standardize_rejects_nan():
    with pytest.raises(ValueError, match="NaN or infinite"):
        standardize(np.array([[1.0, np.nan], [2.0, 3.0]]), np.zeros((1, 2)))


def test_binary_subset_rejects_other_layouts():
    with pytest.raises(ValueError, match=r"expected Iris features \(150, 4\)"):
        binary_subset(np.zeros((10, 4)), np.zeros(10))


def test_a_byte_order_mark_and_any_line_ends_are_accepted():
    expected = parse_iris(iris_file())
    for variant in (b"\xef\xbb\xbf" + iris_file(), iris_file().replace(b"\n", b"\r"), b"\xef\xbb\xbf" + iris_file().replace(b"\n", b"\r\n")):
        features, labels = parse_iris(variant)
        assert np.array_equal(features, expected[0]) and np.array_equal(labels, expected[1])


def test_the_uci_values_pass_with_a_byte_order_mark(data_copy):
    verify_iris(b"\xef\xbb\xbf" + (data_copy / "iris" / "iris.data").read_bytes())
