# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,jupytext,accelerator,colab
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Softmax regression on MNIST
#
# *This chapter follows the blog post "Deep learning models implemented in
# pytorch and TF" (2024), which follows Sebastian Raschka's
# [deeplearning-models](https://github.com/rasbt/deeplearning-models)
# notebooks; "the original post" below means that post.*
#
# *The TensorFlow twin of this chapter: [Softmax regression on MNIST, in TensorFlow and Keras](05_softmax_mnist_tensorflow.ipynb). The
# [side-by-side page](../book/softmax_comparison.md) shows the two next to each other.*
#
# Logistic regression separates two classes with one weighted sum and a sigmoid. *Softmax
# regression* (multinomial logistic regression) is the same idea for $K$ classes: one weighted
# sum per class, and the softmax function turns the $K$ scores into a probability distribution.
# In this chapter we
#
# 1. load the 70,000 handwritten digits of MNIST through torchvision,
# 2. write down softmax, the cross-entropy cost and its gradient, and see why PyTorch's loss
#    wants the raw scores (logits) rather than probabilities,
# 3. train the model of the original post (a `Linear(784, 10)` layer started at zero, SGD with
#    learning rate 0.1, batch size 256, 10 epochs) and track training and test accuracy,
# 4. look at what it learned: the weights as images, a confusion matrix and its mistakes.
#
# The notebook runs on the CPU in well under a minute, and on a GPU when there is one. Opened in
# Colab it asks for a GPU runtime; if none is free, it runs on the CPU unchanged.

# %% tags=["hide-cell"]
# Colab, Kaggle, Binder or a Jupyter outside the book's repository:
# install the book's helper package (where it is installed, this does nothing).
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("tutorial_utils") is None:
    package = (
        "tutorial-utils @ git+https://github.com/deep-learning-models-book/"
        "deep-learning-models-book@main"
    )
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", package], check=True)
    importlib.invalidate_caches()

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import tutorial_utils as tu

device = tu.get_device()
if device.type == "cpu":
    torch.set_num_threads(1)  # see below
print(
    "PyTorch",
    torch.__version__,
    "| running on",
    device.type,
    "| CPU threads:",
    torch.get_num_threads(),
)

# %% [markdown]
# On the CPU the notebook uses a single thread. The model is so small that splitting its
# matrix products over several threads saves little, and on a busy machine threads that wait
# for each other can make training many times slower; one thread also makes the results
# independent of the number of cores. (The `CPU threads` count printed on a GPU machine is
# irrelevant there: the model runs on the GPU.)
#
# The settings of the original post:

# %%
random_seed = 123
learning_rate = 0.1
num_epochs = 10
batch_size = 256
num_features = 28 * 28
num_classes = 10

# %% [markdown]
# ## The data
#
# `tu.load_mnist()` returns the training and test sets as torchvision `datasets.MNIST` objects
# (it copies the four files from the local mirror or downloads them once, and verifies their
# checksums). Each item is a `(image, label)` pair; the default transform `ToTensor()` turns the
# 28x28 grey-scale image into a `float32` tensor of shape `(1, 28, 28)` with values in $[0, 1]$.

# %%
train_dataset, test_dataset = tu.load_mnist()
image, label = train_dataset[0]
n_train, n_test = len(train_dataset), len(test_dataset)
print(f"training images: {n_train} | test images: {n_test}")
print(
    f"one image: shape {tuple(image.shape)}, dtype {image.dtype}, "
    f"values {image.min():.1f} to {image.max():.1f}, label {label}"
)
print("training images per digit:")
print(torch.bincount(train_dataset.targets).tolist())

# %% [markdown]
# The first twenty training digits and their labels:

# %%
sample_images = torch.stack([train_dataset[i][0] for i in range(20)])
sample_labels = [train_dataset[i][1] for i in range(20)]
tu.plot_image_grid(
    sample_images, titles=[f"label {y}" for y in sample_labels], ncols=10
)
plt.show()

# %% [markdown]
# ## The model: one linear layer and a softmax
#
# Each image is flattened into a vector $\mathbf{x} \in \mathbb{R}^{784}$. The model computes one
# score per class, the *logits* $\mathbf{z} = W\mathbf{x} + \mathbf{b}$, with a $10 \times 784$
# weight matrix $W$ and a bias vector $\mathbf{b} \in \mathbb{R}^{10}$, and the softmax turns them
# into probabilities:
#
# $$p_k = P(y = k \mid \mathbf{x}) = \operatorname{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{j=1}^{10} e^{z_j}}, \qquad k = 1, \dots, 10.$$
#
# The $p_k$ are positive and sum to one; adding the same constant to every logit leaves them
# unchanged. With two classes, softmax reduces to the sigmoid of chapter 1, with
# $z = z_2 - z_1$.
#
# ## The cost: cross-entropy
#
# Training maximises the probability the model gives to the correct labels. For a mini-batch of
# $n$ examples the cost is the mean negative log-probability of the true class $y^{(i)}$, the
# *cross-entropy* between the one-hot labels and the predictions:
#
# $$L = -\frac{1}{n}\sum_{i=1}^{n} \log p^{(i)}_{y^{(i)}} = \frac{1}{n}\sum_{i=1}^{n} \Big( \log \sum_{j} e^{z^{(i)}_j} - z^{(i)}_{y^{(i)}} \Big).$$
#
# Its gradient with respect to the logits has the same simple form as in logistic regression,
# predicted minus true probabilities:
#
# $$\frac{\partial L}{\partial z^{(i)}_k} = \frac{1}{n}\big(p^{(i)}_k - [k = y^{(i)}]\big).$$
#
# With all weights at zero every class gets $p_k = 1/10$, so the first cost is
# $\ln 10 \approx 2.3026$: a useful check of any implementation.
#
# ## Why the loss takes logits, not probabilities
#
# The second form of $L$ never computes $p_k$: it needs $\log \sum_j e^{z_j}$, and the
# *log-sum-exp* trick evaluates that safely by factoring out the largest logit $m = \max_j z_j$,
#
# $$\log \sum_j e^{z_j} = m + \log \sum_j e^{z_j - m},$$
#
# where every exponent is at most 0, so nothing overflows and the sum is at least 1.
# `F.cross_entropy(logits, targets)` does exactly this (it is `F.log_softmax` followed by
# `F.nll_loss`). Computing the probabilities first and taking their logarithm
# afterwards fails once the true class's probability is too small for
# `float32`. A single example with three logits shows it, with each class in
# turn as the true one:

# %%
logits = torch.tensor([[100.0, 0.0, -100.0]])
probas = F.softmax(logits, dim=1)


def naive_cross_entropy(z, target):
    return -torch.log(F.softmax(z, dim=1)[0, target[0]])


def cost_and_gradient(loss_fn, true_class):
    z = logits.clone().requires_grad_()
    cost = loss_fn(z, torch.tensor([true_class]))
    cost.backward()
    return cost.item() + 0.0, z.grad[0] + 0.0  # + 0.0: no -0.0


def show(cost, gradient):
    values = ", ".join(f"{g:.1f}" for g in gradient.tolist())
    return f"{cost:9.4f} ({values})"


print("probabilities:", ", ".join(f"{p:.3e}" for p in probas[0].tolist()))
print("true class | -log(softmax(z))[y]       | F.cross_entropy(z, y)")
results = {}
for true_class in range(3):
    naive = cost_and_gradient(naive_cross_entropy, true_class)
    stable = cost_and_gradient(F.cross_entropy, true_class)
    results[true_class] = naive, stable
    print(f"{true_class:>10} | {show(*naive):<25} | {show(*stable)}")
by_hand = torch.logsumexp(logits, dim=1) - logits[0, 2]
print(f"log-sum-exp by hand, true class 2: {by_hand.item():.4f}")

# %% tags=["hide-input"]
# What the text below says about the table, and F.cross_entropy's definition.
(naive_0, _), (naive_1, _), (naive_2, _) = results.values()
assert probas[0, 2] == 0 and 0 < probas[0, 1] < 1e-43
assert naive_2[0] == float("inf") and naive_2[1].isnan().all()
assert naive_1[1][0] == float("inf") and naive_1[1][1:].isnan().all()
assert 99.9 < naive_1[0] < 99.99  # finite, but off
assert naive_0[0] == 0 and naive_0[1].isfinite().all()
for true_class, (_, (cost, gradient)) in results.items():
    one_hot = F.one_hot(torch.tensor(true_class), 3)
    assert cost == 100.0 * true_class  # 0, 100 and 200, exactly
    assert torch.equal(gradient, probas[0] - one_hot)
assert by_hand.item() == 200.0
private = torch.Generator().manual_seed(0)  # leaves the global one alone
some_logits = torch.randn(64, 10, generator=private)
some_labels = torch.randint(10, (64,), generator=private)
assert torch.equal(
    F.cross_entropy(some_logits, some_labels),
    F.nll_loss(F.log_softmax(some_logits, dim=1), some_labels),
)

# %% [markdown]
# The probability of class 2 is $e^{-200} \approx 10^{-87}$, far below the
# smallest `float32` number, so it is stored as 0: with class 2 as the true
# class the naive cost is infinite and its gradient is not a number, which
# would destroy the weights in one step. The trouble starts before a
# probability reaches zero. Class 1's, $e^{-100} \approx 3.7 \times 10^{-44}$,
# is still stored, but only roughly, as the printed $3.784 \times 10^{-44}$:
# the naive cost is a little off, and its gradient, which divides by that
# probability, overflows to `inf` and `nan`. A probability that rounds to zero
# does no harm where it is not the true class's (with class 0 as the true
# class). The logit form gives the exact costs, 0, 100 and 200, and in every
# case the gradient $\mathbf{p} - \text{one-hot}(y)$, for class 2 $(1, 0, -1)$
# to the printed decimal. This is why the model below returns its logits for
# the loss and its probabilities only for predictions.
#
# The model of the original post: a `Linear(784, 10)` layer whose weights and bias are set to
# zero (the cost is convex, so no random start is needed), returning both outputs.

# %% tags=["export", "twin-model"]
import torch
import torch.nn.functional as F


class SoftmaxRegression(torch.nn.Module):
    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        self.linear = torch.nn.Linear(num_features, num_classes)
        self.linear.weight.detach().zero_()
        self.linear.bias.detach().zero_()

    def forward(self, x):
        logits = self.linear(x)
        probas = F.softmax(logits, dim=1)
        return logits, probas


# %% [markdown]
# ## The training loop of the original post
#
# One epoch visits every training image once, in mini-batches of 256, and
# takes one SGD step per batch; every 50 batches it logs the cost. Accuracy is
# measured by a second pass over a data set without gradients. The two
# functions below hold the original post's code, with these changes: its loop
# over an epoch's batches becomes `train_epoch`; `compute_accuracy` turns
# gradients off itself (the original turns them off around the call after
# each epoch, with `torch.set_grad_enabled(False)`, but not around its final
# call on the test set) and returns a Python number instead of a tensor; and
# the log shows the cost, read with `.item()`, to 3 decimals instead of 4.
# Another processor, or a GPU, adds the same float32 numbers in another order
# and can end a few rounding errors away; a logged cost that lies that close
# to a rounding boundary would print a different last digit there. At 3
# decimals the rounding boundaries lie ten times further apart. The functions
# work with any loader that yields `(features, targets)`.


# %% tags=["twin-step"]
def train_epoch(model, optimizer, data_loader, epoch):
    for batch_idx, (features, targets) in enumerate(data_loader):
        features = features.view(-1, 28 * 28).to(device)
        targets = targets.to(device)

        ### FORWARD AND BACK PROP
        logits, probas = model(features)
        cost = F.cross_entropy(logits, targets)
        optimizer.zero_grad()
        cost.backward()

        ### UPDATE MODEL PARAMETERS
        optimizer.step()

        ### LOGGING
        if not batch_idx % 50:
            print(
                "Epoch: %03d/%03d | Batch %03d/%03d | Cost: %.3f"
                % (
                    epoch + 1,
                    num_epochs,
                    batch_idx,
                    len(train_dataset) // batch_size,
                    cost.item(),
                )
            )


def compute_accuracy(model, data_loader):
    correct_pred, num_examples = 0, 0
    with torch.no_grad():
        for features, targets in data_loader:
            features = features.view(-1, 28 * 28).to(device)
            targets = targets.to(device)
            logits, probas = model(features)
            _, predicted_labels = torch.max(probas, 1)
            num_examples += targets.size(0)
            correct_pred += (predicted_labels == targets).sum().item()
    return correct_pred / num_examples * 100


# %% [markdown]
# ## An aside: where the batches come from
#
# The original feeds the model through `DataLoader`, which for every image of
# every epoch calls the dataset's `__getitem__` in Python: it builds a PIL image
# from the stored bytes, converts it with `ToTensor` and stacks 256 such
# tensors into a batch. For a model this small that work takes far longer than
# the model's own: 20 batches through `DataLoader` take more than five times
# as long as 20 training steps. The 60,000 training images take 188 MB as
# `float32`, so we convert them once with `tu.mnist_to_tensors` (dividing the
# bytes by 255, as `ToTensor` does) and cut the batches out of the tensors with
# `tu.TensorLoader`. Under the same seed, `TensorLoader` draws from PyTorch's
# generator exactly what `DataLoader` draws: it delivers the same batches in
# the same order and leaves the generator in the same state, so every result
# below is the one the `DataLoader` version gives. The book's tests check this
# batch by batch on a small data set, and a folded cell below on MNIST itself,
# for a shuffled pass over the training set and a pass over the test set. How
# much time the tensors save, for 20 batches (each loader is timed three
# times, and the best time counts):

# %%
X_train, y_train = tu.mnist_to_tensors(train_dataset, device)
X_test, y_test = tu.mnist_to_tensors(test_dataset, device)
image, label = train_dataset[1234]
assert (
    torch.equal(image.view(-1), X_train[1234].cpu())
    and label == y_train[1234].item()
)
megabytes = X_train.nelement() * X_train.element_size() / 1e6
print(f"X_train: {tuple(X_train.shape)} {X_train.dtype}, {megabytes:.0f} MB")
print(f"X_test:  {tuple(X_test.shape)} {X_test.dtype}")

train_loader = tu.TensorLoader(
    X_train, y_train, batch_size=batch_size, shuffle=True
)
test_loader = tu.TensorLoader(
    X_test, y_test, batch_size=batch_size, shuffle=False
)


def seconds_for_batches(loader, count=20, repeats=3):
    """Seconds for the first `count` batches: the best of `repeats` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _, (features, targets) in zip(range(count), loader):
            features.to(device), targets.to(device)
        tu.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


pipeline_seconds = seconds_for_batches(
    DataLoader(train_dataset, batch_size=batch_size, shuffle=True)
)
tensor_seconds = seconds_for_batches(train_loader)
speedup = pipeline_seconds / tensor_seconds
print(f"20 batches through DataLoader + ToTensor: {pipeline_seconds:.3f} s")
print(
    f"20 batches from tensors: {tensor_seconds:.4f} s ({speedup:.0f}x faster)"
)


# %% tags=["hide-input"]
# The text above: DataLoader takes more than five times as long as the tensors
# and as 20 training steps (each the best of three timings), and TensorLoader
# gives DataLoader's batches and leaves the generator as DataLoader does (the
# state decides the next pass).
def seconds_for_steps(count=20, repeats=3):
    net = SoftmaxRegression(num_features, num_classes).to(device)
    sgd = torch.optim.SGD(net.parameters(), lr=learning_rate)

    def step(i):
        rows = slice(i * batch_size, (i + 1) * batch_size)
        cost = F.cross_entropy(net(X_train[rows])[0], y_train[rows])
        sgd.zero_grad()
        cost.backward()
        sgd.step()

    step(0)  # the first step also sets things up
    tu.synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(count):
            step(i)
        tu.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


assert speedup > 5 and pipeline_seconds > 5 * seconds_for_steps()


def one_pass_each(train, test):
    """Flat features and targets, on the CPU, of a training and a test pass."""
    torch.manual_seed(random_seed)
    for loader in (train, test):
        for features, targets in loader:
            yield features.view(len(features), -1).cpu(), targets.cpu()


by_dataloader = list(
    one_pass_each(
        DataLoader(train_dataset, batch_size=batch_size, shuffle=True),
        DataLoader(test_dataset, batch_size=batch_size, shuffle=False),
    )
)
state_after_dataloader = torch.get_rng_state()
count = 0
for (features, targets), (features_dl, targets_dl) in zip(
    one_pass_each(train_loader, test_loader), by_dataloader, strict=True
):
    assert torch.equal(features, features_dl)
    assert torch.equal(targets, targets_dl)
    count += 1
assert count == len(train_loader) + len(test_loader) == 235 + 40
assert torch.equal(torch.get_rng_state(), state_after_dataloader)
del by_dataloader

# %% [markdown]
# ## Training
#
# The loop of the original post, seeded right before training as there, with
# two additions: after each epoch it also reports the accuracy on the test set
# (in its stored order, without shuffling), and at the end it prints the
# training time. The test images are never used for training, but the extra
# pass changes the batch order. Every pass of a loader draws a number from
# PyTorch's generator as it starts, shuffled or not (`DataLoader` draws it for
# its worker processes, and `TensorLoader` does the same), so from the second
# epoch on the batches come in another order than in the original post.

# %%
model = SoftmaxRegression(
    num_features=num_features, num_classes=num_classes
).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
torch.manual_seed(random_seed)  # fixes the loader's batch order

train_accuracies, test_accuracies = [], []
start = time.perf_counter()
for epoch in range(num_epochs):
    train_epoch(model, optimizer, train_loader, epoch)
    train_accuracies.append(compute_accuracy(model, train_loader))
    test_accuracies.append(compute_accuracy(model, test_loader))
    print(
        "Epoch: %03d/%03d training accuracy: %.2f%% | test accuracy: %.2f%%"
        % (epoch + 1, num_epochs, train_accuracies[-1], test_accuracies[-1])
    )
tu.synchronize(device)
print(f"Training time: {(time.perf_counter() - start) / 60:.2f} min")

# %% tags=["hide-input"]
# Starting a pass over the test set, unshuffled, draws from the global
# generator: DataLoader does, and TensorLoader draws the same.
state = torch.get_rng_state()
states_after = []
for loader in (DataLoader(test_dataset, batch_size=batch_size), test_loader):
    torch.set_rng_state(state)
    iter(loader)
    states_after.append(torch.get_rng_state())
torch.set_rng_state(state)
assert not torch.equal(states_after[0], state)
assert torch.equal(states_after[0], states_after[1])

# %% [markdown]
# ## Evaluation
#
# The cost starts at $\ln 10 \approx 2.303$ as predicted, and the accuracy
# climbs quickly in the first epoch, to more than 85%, and by less than five
# points in the nine epochs after it. The final test accuracy must be at least
# 91.5%; the cell fails otherwise.

# %%
test_accuracy = compute_accuracy(model, test_loader)
print(
    f"Final training accuracy: {train_accuracies[-1]:.2f}% | "
    f"final test accuracy: {test_accuracy:.2f}%"
)
assert test_accuracy >= 91.5, (
    f"test accuracy {test_accuracy:.2f}% is below 91.5%"
)

# %% tags=["hide-input"]
# The first epoch's climb and the slow one after it, as the text says.
assert train_accuracies[0] > 85
assert train_accuracies[-1] - train_accuracies[0] < 5
tu.glue("test_accuracy", round(test_accuracy, 2))
tu.glue("train_accuracy", round(train_accuracies[-1], 2))

# %%
fig, ax = plt.subplots(figsize=(5.5, 3.5))
epochs = range(1, num_epochs + 1)
ax.plot(
    epochs, train_accuracies, marker="o", markersize=3, label="training set"
)
ax.plot(epochs, test_accuracies, marker="s", markersize=3, label="test set")
ax.set(
    xlabel="epoch",
    ylabel="accuracy (%)",
    title="Softmax regression on MNIST",
    xticks=list(epochs),
)
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

# %% tags=["hide-input"]
# In every epoch the test accuracy is higher than the training accuracy, by
# less than a point; the model has 784 x 10 weights and 10 biases.
assert all(
    0 < test - train < 1
    for train, test in zip(train_accuracies, test_accuracies)
)
assert sum(p.numel() for p in model.parameters()) == 7_850

# %% [markdown]
# Training and test accuracy stay within a percentage point of each other in
# every epoch (here the test accuracy is even slightly higher): a linear model
# with 7,850 parameters has little room to overfit 60,000 images. What limits
# it is its capacity, not the amount of data.
#
# ## What the model learned
#
# Each row of $W$ holds 784 weights, one per pixel, for one digit. Drawn as a 28x28 image (red:
# ink on that pixel raises the digit's score, blue: it lowers it), several rows resemble blurred
# templates: the ring of the 0 with blue in its empty centre, the vertical stroke of the 1, the
# loop of the 6. Blue marks places where *other* digits tend to have ink.

# %%
weights = model.linear.weight.detach()
print(
    f"weights: {tuple(weights.shape)} | "
    f"range {weights.min().item():.3f} to {weights.max().item():.3f}"
)
tu.plot_image_grid(
    weights,
    titles=[f"digit {k}" for k in range(num_classes)],
    ncols=5,
    cmap="RdBu_r",
    symmetric=True,
    panel_size=1.6,
)
plt.show()

# %% [markdown]
# ## Where it goes wrong
#
# The confusion matrix counts, for every true digit (row), how often each digit was predicted
# (column); the diagonal holds the correct predictions.

# %%
with torch.no_grad():
    test_logits, test_probas = model(X_test)
test_predictions = test_probas.argmax(dim=1)
matrix = tu.confusion_matrix(y_test, test_predictions, num_classes=num_classes)

print("true \\ predicted" + "".join(f"{k:>6d}" for k in range(num_classes)))
for k in range(num_classes):
    print(
        f"{k:>16d}" + "".join(f"{count:>6d}" for count in matrix[k].tolist())
    )
per_class = 100 * matrix.diagonal() / matrix.sum(axis=1)
print("accuracy (%)".rjust(16) + "".join(f"{a:>6.1f}" for a in per_class))
off_diagonal = matrix - np.diag(matrix.diagonal())
true_k, predicted_k = divmod(int(off_diagonal.argmax()), num_classes)
print(
    f"most frequent mistake: {true_k} predicted as {predicted_k} "
    f"({off_diagonal.max()} times)"
)
assert matrix.trace() == round(test_accuracy * len(y_test) / 100)

# %%
tu.plot_confusion_matrix(matrix, title="Test set: true vs predicted digit")
plt.show()

# %% [markdown]
# Finally, some of the misclassified test digits (the first ten in the test set's order), with
# the probability the model gave to its (wrong) prediction and to the true digit:

# %%
wrong = torch.nonzero(test_predictions != y_test).view(-1)[:10]
n_wrong = int((test_predictions != y_test).sum())
print(f"misclassified test digits: {n_wrong} of {len(y_test)}")
print(
    "index | true | predicted | P(predicted) | P(true) | "
    "three most likely digits"
)
titles = []
for i in wrong.tolist():
    p = test_probas[i]
    true, predicted = y_test[i].item(), test_predictions[i].item()
    p_predicted, p_true = p[predicted].item(), p[true].item()
    top = torch.topk(p, 3)
    ranking = ", ".join(
        f"{k}: {v:.2f}"
        for k, v in zip(top.indices.tolist(), top.values.tolist())
    )
    print(
        f"{i:>5d} | {true:>4d} | {predicted:>9d} | {p_predicted:>12.3f} | "
        f"{p_true:>7.3f} | {ranking}"
    )
    titles.append(
        f"true {true}, pred {predicted}\nP={p_predicted:.2f} vs {p_true:.2f}"
    )
tu.plot_image_grid(X_test[wrong], titles=titles, ncols=5, panel_size=1.7)
plt.show()

# %% [markdown]
# Some of these are hard even for a person; others are clear digits drawn off-centre, slanted or
# thick, which a single template per class cannot match: each class score is a weighted sum of
# pixels, so the model has no notion of shape or position.
#
# ## Summary
#
# - Softmax regression scores each class with its own linear function and turns the scores into
#   probabilities with the softmax; the cross-entropy cost has the gradient
#   $\mathbf{p} - \text{one-hot}(y)$, as in logistic regression.
# - The loss is computed from logits with the log-sum-exp trick:
#   `F.cross_entropy(logits, y)`, never `-log(softmax(...))`, which returns
#   `inf` or `nan` once the true class's probability is too small for
#   `float32`.
# - On MNIST, ten epochs of SGD from zero weights reach
#   {glue:text}`test_accuracy`% test accuracy ({glue:text}`train_accuracy`% on
#   the training set), with training and test accuracy within a point of each
#   other; the learned weights look like digit templates, and the mistakes are
#   digits that no single template fits.
# - For a model this small the input pipeline is the bottleneck: MNIST
#   converted once to tensors on the device gives batches more than five times
#   faster than `DataLoader` + `ToTensor`, and a loader that draws the random
#   numbers as `DataLoader` does gives the same batches, and so the same
#   results.
#
# ## Exercises
#
# ````{exercise} Probabilities instead of logits
# :label: ex-05-softmax-mnist-1
# Pass the probabilities instead of the logits to `F.cross_entropy` (a
# common bug: it applies the softmax a second time) and train one epoch.
# What is the first cost, how low can the cost go at all, and what happens
# to the test accuracy?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-1
# :class: dropdown
# ````
# `F.cross_entropy` takes whatever it gets for logits. Probabilities lie in
# $[0, 1]$, so these "logits" differ by at most 1, and even a perfect,
# one-hot prediction costs $\log(e + 9) - 1$ instead of 0. The first cost
# gives nothing away: with zero weights every probability is $1/10$, and the
# softmax of ten equal numbers is uniform again, so both versions start at
# $\ln 10$. The helper `one_epoch` trains one epoch in the chapter's batch
# order; the solutions to exercises 2 and 4 use it too.


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): accuracies after 235 SGD
# steps, whose last digits depend on the floating-point path. The
# assertions check the claims with margins far wider than that.
def one_epoch(model, X=X_train, lr=learning_rate, use_probas=False):
    """One epoch of SGD in the chapter's batch order; the batch costs."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    torch.manual_seed(random_seed)
    costs = []
    for features, targets in tu.TensorLoader(
        X, y_train, batch_size=batch_size, shuffle=True
    ):
        logits, probas = model(features)
        cost = F.cross_entropy(probas if use_probas else logits, targets)
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
        costs.append(cost.item())
    return costs


right = SoftmaxRegression(num_features, num_classes).to(device)
wrong = SoftmaxRegression(num_features, num_classes).to(device)
right_costs, wrong_costs = one_epoch(right), one_epoch(wrong, use_probas=True)
right_accuracy = compute_accuracy(right, test_loader)
wrong_accuracy = compute_accuracy(wrong, test_loader)
floor = np.log(np.e + 9) - 1  # the cost of a one-hot probability vector
one_hot = F.one_hot(torch.tensor([0]), num_classes).float()
print("                    from logits | from probabilities")
print(f"first cost          {right_costs[0]:11.3f} | {wrong_costs[0]:18.3f}")
print(
    f"lowest cost         {min(right_costs):11.3f} | {min(wrong_costs):18.3f}"
)
print(f"test accuracy (%)   {right_accuracy:11.2f} | {wrong_accuracy:18.2f}")
print(f"lowest possible cost from probabilities: {floor:.3f}")
assert abs(F.cross_entropy(one_hot, torch.tensor([0])).item() - floor) < 1e-6
assert abs(right_costs[0] - np.log(10)) < 1e-6
assert abs(wrong_costs[0] - np.log(10)) < 1e-6
assert min(wrong_costs) > floor
assert 50 < wrong_accuracy < right_accuracy - 5  # learns, but slowly

# %% [markdown]
# The double softmax still learns, but slowly: the outer softmax flattens
# the gradient, the cost never falls below its floor, and after one epoch the
# test accuracy is more than five points behind.
#
# ````{solution-end}
# ````
#
# ````{exercise} Standardised pixels
# :label: ex-05-softmax-mnist-2
# Standardise the pixels: subtract the mean of all training pixels and
# divide by their standard deviation (one number each, from the training set
# only). Train one epoch with learning rates 0.01, 0.1 and 0.5, on raw and on
# standardised pixels. Which learning rate is best for each, and why does it
# change?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-2
# :class: dropdown
# ````
# Standardising shifts every pixel and multiplies it by $1/\sigma$. A
# gradient step on $W$ is proportional to the inputs, and the step acts on
# the logits through the inputs again, so with inputs $1/\sigma$ times larger
# the same learning rate changes the logits about $1/\sigma^2$ times more. For
# MNIST's pixels $\sigma$ is about 0.31 and $1/\sigma^2$ about ten: on
# standardised pixels each learning rate acts like one about ten times larger
# on raw pixels, and the best one moves down.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): accuracies after one epoch
# of SGD, whose last digits depend on the floating-point path. The
# assertions check the claims with margins far wider than that.
mean, std = X_train.mean(), X_train.std()  # the training pixels only
X_train_std, X_test_std = (X_train - mean) / std, (X_test - mean) / std
test_std_loader = tu.TensorLoader(X_test_std, y_test, batch_size=batch_size)
print(f"pixels: mean {mean:.4f}, std {std:.4f}, 1/std^2 {1 / std**2:.1f}")
print("learning rate | raw pixels | standardised")
accuracies = {}
for lr in (0.01, 0.1, 0.5):
    raw = SoftmaxRegression(num_features, num_classes).to(device)
    standardised = SoftmaxRegression(num_features, num_classes).to(device)
    one_epoch(raw, lr=lr)
    one_epoch(standardised, X=X_train_std, lr=lr)
    accuracies[lr] = (
        compute_accuracy(raw, test_loader),
        compute_accuracy(standardised, test_std_loader),
    )
    print(f"{lr:13} | {accuracies[lr][0]:9.2f}% | {accuracies[lr][1]:11.2f}%")
best_raw = max(accuracies, key=lambda lr: accuracies[lr][0])
best_std = max(accuracies, key=lambda lr: accuracies[lr][1])
print(f"best learning rate: {best_raw} (raw), {best_std} (standardised)")
assert 0.3 < std < 0.32 and 9 < 1 / std**2 < 11
assert best_raw == 0.5 and best_std == 0.1
assert accuracies[0.01][1] > accuracies[0.01][0] + 3
assert abs(accuracies[best_raw][0] - accuracies[best_std][1]) < 1

# %% [markdown]
# At 0.01 the standardised pixels are several points ahead, at 0.5 they
# overshoot, and each version at its own best rate ends the epoch within a
# point of the other: for this model, standardising is mostly a change of the
# learning rate.
#
# ````{solution-end}
# ````
#
# ````{exercise} Worker processes
# :label: ex-05-softmax-mnist-3
# Time 50 batches through
# `DataLoader(train_dataset, batch_size=256, shuffle=True, num_workers=2)`.
# How much of the gap to `TensorLoader` do the two worker processes close on
# your machine? Does the batch order still match `TensorLoader`'s?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-3
# :class: dropdown
# ````
# The workers decode and convert the images in parallel, so with free cores
# they can at best divide the time per batch by their number, and starting
# them costs time at every epoch (unless the loader is made with
# `persistent_workers=True`). Converting the data set once removes the work
# instead of sharing it out. The order does not change: the sampler that
# draws it runs in the main process, from the same seed.


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the times depend on the
# machine, and DataLoader warns where fewer than two cores are free. The
# assertions check the order and that the tensors stay ahead.
def first_batches(loader, count=50):
    """Seconds for the first `count` batches, and the batches (on the CPU)."""
    torch.manual_seed(random_seed)
    start = time.perf_counter()
    batches = [
        (features.view(len(features), -1).cpu(), targets.cpu())
        for _, (features, targets) in zip(range(count), loader)
    ]
    return time.perf_counter() - start, batches


workers = DataLoader(
    train_dataset, batch_size=batch_size, shuffle=True, num_workers=2
)
worker_seconds, worker_batches = first_batches(workers)
tensor_seconds, tensor_batches = first_batches(train_loader)
for _ in range(2):  # the best of three runs counts
    worker_seconds = min(worker_seconds, first_batches(workers)[0])
    tensor_seconds = min(tensor_seconds, first_batches(train_loader)[0])
per_batch = {
    "DataLoader": pipeline_seconds / 20,
    "DataLoader, 2 workers": worker_seconds / 50,
    "TensorLoader": tensor_seconds / 50,
}
for name, seconds in per_batch.items():
    print(f"{name + ':':<22} {1000 * seconds:.2f} ms per batch")
same = len(worker_batches) == len(tensor_batches) == 50 and all(
    torch.equal(a, c) and torch.equal(b, d)
    for (a, b), (c, d) in zip(worker_batches, tensor_batches)
)
print("the same batches in the same order:", same)
assert same
assert 5 * tensor_seconds < worker_seconds

# %% [markdown]
# The in-memory tensors stay far ahead of the workers (more than five times
# faster, at the best of three runs each), and both loaders deliver the same
# 50 batches.
#
# ````{solution-end}
# ````
#
# ````{exercise} A random start
# :label: ex-05-softmax-mnist-4
# Start from PyTorch's default random weights instead of zeros (call
# `model.linear.reset_parameters()` after building the model) and train one
# epoch. Why does the accuracy hardly change, whereas a network with a hidden
# layer could not be trained from all-zero weights? Try that too: replace
# `model.linear` by `Linear(784, 32)`, `Sigmoid()` and `Linear(32, 10)` in a
# `torch.nn.Sequential`, set all its parameters to zero, and train one epoch.
# ````
#
# ````{solution-start} ex-05-softmax-mnist-4
# :class: dropdown
# ````
# The cost of softmax regression is convex in $W$ and $\mathbf{b}$: it has no
# minima but the global ones, and SGD heads there from any start, which only
# changes the first steps. A hidden layer makes the cost non-convex and adds a
# symmetry: with all weights at zero every hidden unit computes the same value
# and gets the same gradient, so the units stay identical for ever and 32 of
# them act as one. Random starting weights break that symmetry. The zero
# start of softmax regression is the chapter's own first epoch, in the same
# batch order.


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): accuracies after one epoch
# of SGD, whose last digits depend on the floating-point path. The
# assertions check the claims with margins far wider than that.
def with_hidden_layer(zero_start):
    net = SoftmaxRegression(num_features, num_classes)
    net.linear = torch.nn.Sequential(
        torch.nn.Linear(num_features, 32),
        torch.nn.Sigmoid(),
        torch.nn.Linear(32, num_classes),
    )
    if zero_start:
        for parameter in net.parameters():
            torch.nn.init.zeros_(parameter)
    return net.to(device)


torch.manual_seed(random_seed)
random_start = SoftmaxRegression(num_features, num_classes).to(device)
random_start.linear.reset_parameters()
hidden_zero, hidden_random = with_hidden_layer(True), with_hidden_layer(False)
results = {"softmax regression, zero start": test_accuracies[0]}
for name, net in [
    ("softmax regression, random start", random_start),
    ("hidden layer, zero start", hidden_zero),
    ("hidden layer, random start", hidden_random),
]:
    one_epoch(net)
    results[name] = compute_accuracy(net, test_loader)
for name, accuracy in results.items():
    print(f"{name + ':':<34} {accuracy:.2f}% test accuracy")
W1 = hidden_zero.linear[0].weight.detach()
largest = W1.abs().max().item()
identical = torch.equal(W1, W1[0].expand_as(W1))  # bit for bit
print(f"zero start: every hidden unit has the same weights: {identical}")
print(f"(the largest of them moved from 0 to {largest:.4f})")
zero, random, zero_hidden, random_hidden = results.values()
assert largest > 0 and identical
assert zero == right_accuracy  # the first epoch, as one_epoch trains it
assert abs(random - zero) < 0.5
assert zero_hidden < 20 and random_hidden > 60

# %% [markdown]
# Softmax regression ends the epoch within half a point of the zero start.
# The hidden layer started at zero has moved its weights, but all 32 units
# still have the same ones, bit for bit, and the network has learned next to
# nothing; the same network from random weights learns.
#
# ````{solution-end}
# ````
