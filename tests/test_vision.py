import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from tutorial_utils import TensorLoader, confusion_matrix, mnist_to_tensors, plot_confusion_matrix, plot_image_grid  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


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
        mnist_to_tensors(FakeMNIST(torch.zeros(3, 4, 5, dtype=torch.uint8), torch.zeros(2)))


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
    with pytest.raises(ValueError, match=r"predictions holds labels outside 0\.\.2"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 3]), num_classes=3)
    with pytest.raises(ValueError, match="integer labels"):
        confusion_matrix(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), num_classes=3)
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), num_classes=0)


@pytest.mark.parametrize(("count", "ncols", "grid"), [(7, 3, (3, 3)), (4, 10, (1, 4)), (10, 5, (2, 5))])
def test_image_grid_shape_and_hidden_cells(count, ncols, grid):
    images = torch.rand(count, 784)
    fig = plot_image_grid(images, titles=[str(i) for i in range(count)], ncols=ncols)
    axes = np.array(fig.axes).reshape(grid)
    assert axes.shape == grid
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
