"""MNIST helpers: tensors from torchvision's dataset, the confusion matrix, and the pictures."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tutorial_utils import CorruptDataError, confusion_matrix, mnist_to_tensors, plot_confusion_matrix, plot_image_grid  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class FakeMNIST:
    def __init__(self, data, targets):
        self.data, self.targets = data, targets


def test_mnist_to_tensors_scales_like_to_tensor():
    from torchvision import transforms
    from PIL import Image

    data = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    images, labels = mnist_to_tensors(FakeMNIST(data, torch.tensor([7, 1, 2])))
    assert images.shape == (3, 20) and images.dtype == torch.float32 and labels.dtype == torch.int64
    to_tensor = transforms.ToTensor()(Image.fromarray(data[1].numpy()))
    assert torch.equal(images[1], to_tensor.view(-1))
    unflat, _ = mnist_to_tensors(FakeMNIST(data, [7, 1, 2]), flatten=False)
    assert unflat.shape == (3, 1, 4, 5) and torch.equal(unflat[1], to_tensor)


def test_mnist_to_tensors_rejects_bad_datasets():
    with pytest.raises(ValueError, match="uint8 tensor of shape"):
        mnist_to_tensors(FakeMNIST(torch.zeros(3, 4, 5), torch.zeros(3)))
    with pytest.raises(ValueError, match="3 images but 2 targets"):
        mnist_to_tensors(FakeMNIST(torch.zeros(3, 4, 5, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64)))


def test_confusion_matrix_counts_a_tiny_example():
    targets = torch.tensor([0, 0, 1, 2, 2, 2])
    predictions = torch.tensor([0, 1, 1, 2, 0, 2])
    expected = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    matrix = confusion_matrix(targets, predictions, num_classes=3)
    assert matrix.tolist() == expected
    assert int(matrix.sum()) == len(targets) and int(matrix.trace()) == 4
    assert confusion_matrix(targets, predictions, num_classes=4).shape == (4, 4)


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        confusion_matrix(torch.tensor([0, 1, 2]), torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match=r"predictions hold labels outside 0\.\.2"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 3]), num_classes=3)
    with pytest.raises(ValueError, match="integer labels"):
        confusion_matrix(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), num_classes=0)


@pytest.mark.parametrize(("count", "ncols", "grid"), [(7, 3, (3, 3)), (4, 10, (1, 4)), (10, 5, (2, 5))])
def test_image_grid_shape_and_hidden_cells(count, ncols, grid):
    images = torch.rand(count, 784)
    fig = plot_image_grid(images, titles=[str(i) for i in range(count)], ncols=ncols)
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes} == {grid} and len(fig.axes) == grid[0] * grid[1]
    visible = [ax for ax in fig.axes if ax.images]
    assert len(visible) == count
    assert visible[2].get_title() == "2"
    assert visible[0].images[0].get_array().shape == (28, 28)


def test_image_grid_accepts_channel_images_and_symmetric_scale():
    weights = torch.linspace(-2, 1, 2 * 16).view(2, 1, 4, 4)
    fig = plot_image_grid(weights, image_shape=(4, 4), symmetric=True, cmap="RdBu")
    assert fig.axes[0].images[0].get_clim() == (-2.0, 2.0)


def test_image_grid_rejects_bad_input():
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        plot_image_grid(torch.rand(3, 784), titles=["a", "b"])
    with pytest.raises(ValueError, match="28x28 = 784 values"):
        plot_image_grid(torch.rand(3, 100))
    with pytest.raises(ValueError, match="at least one image"):
        plot_image_grid(torch.rand(0, 784))
    with pytest.raises(ValueError, match="ncols must be a positive integer"):
        plot_image_grid(torch.rand(2, 784), ncols=0)


def test_plot_confusion_matrix_checks_shape_and_names():
    fig = plot_confusion_matrix(torch.tensor([[3, 1], [0, 4]]), class_names=["a", "b"])
    assert [t.get_text() for t in fig.axes[0].texts] == ["3", "1", "0", "4"]
    with pytest.raises(ValueError, match="must be square"):
        plot_confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="3 class names for a 2x2"):
        plot_confusion_matrix(np.zeros((2, 2)), class_names=["a", "b", "c"])


def test_mnist_to_tensors_refuses_float_labels_instead_of_truncating_them():
    with pytest.raises(ValueError, match="integer label per image, got torch.float32"):
        mnist_to_tensors(FakeMNIST(torch.zeros(2, 4, 5, dtype=torch.uint8), torch.tensor([1.7, 2.2])))


def test_read_idx_checks_the_header_against_the_size(tmp_path):
    from tutorial_utils.datasets.mnist import read_idx

    good = tmp_path / "good"
    good.write_bytes(b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6)))
    assert read_idx(good).tolist() == [[0, 1, 2], [3, 4, 5]]
    short = tmp_path / "short"
    short.write_bytes(good.read_bytes()[:-1])
    with pytest.raises(CorruptDataError, match=r"announces shape \(2, 3\), but the file holds 5 bytes"):
        read_idx(short)
    with pytest.raises(CorruptDataError, match="not an IDX file"):
        read_idx(tmp_path.joinpath("text").write_bytes(b"hello") and tmp_path / "text")


def test_plots_refuse_nan_and_negative_counts():
    with pytest.raises(ValueError, match="NaN or infinite"):
        plot_image_grid(np.full((1, 784), np.nan))
    with pytest.raises(ValueError, match="no negative"):
        plot_confusion_matrix(np.array([[1, -1], [0, 2]]))


def test_real_mirror_files_verify_and_load_both_ways(tmp_path, monkeypatch, data_copy):
    from tutorial_utils import load_mnist, load_mnist_arrays

    monkeypatch.setenv("TUTORIAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TUTORIAL_DATA_MIRROR", str(data_copy))
    X_train, y_train, X_test, y_test = load_mnist_arrays()
    assert X_train.shape == (60_000, 28, 28) and X_test.shape == (10_000, 28, 28) and X_train.dtype == np.uint8
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4] and y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    train, test = load_mnist()
    assert torch.equal(train.data, torch.from_numpy(X_train.copy())) and len(test) == 10_000


def test_an_idx_header_with_more_dimensions_than_an_array_can_have_is_named(tmp_path):
    from tutorial_utils.datasets.mnist import read_idx

    path = tmp_path / "odd-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\xc8" + (1).to_bytes(4, "big") * 200 + b"\x07")
    with pytest.raises(CorruptDataError, match=r"odd-idx1-ubyte: the header announces 200 dimensions, more than a NumPy array can have"):
        read_idx(path)
