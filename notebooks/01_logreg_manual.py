# ---
# jupyter:
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
# # Logistic regression with hand-written gradients
#
# This first chapter builds a binary classifier from nothing but PyTorch tensors: no autograd,
# no `nn.Module`, no optimizer. We will
#
# 1. prepare a small two-feature problem from Fisher's Iris data,
# 2. write down the model, its cost and the gradient of that cost,
# 3. turn the equations into a dozen lines of tensor code and train for 10 epochs,
# 4. check the result on held-out data and look at the decision boundary.
#
# The later chapters replace one hand-written piece at a time with a library feature, on exactly
# the same data, so that every number here can be compared with theirs.

# %% tags=["hide-cell"]
# Colab, Kaggle, Binder or a Jupyter without this book's repository: install its helper package.
# (Where it is installed already, this does nothing.)
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("tutorial_utils") is None:
    package = "tutorial-utils @ git+https://github.com/deep-learning-models-book/deep-learning-models-book@main"
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", package], check=True)
    importlib.invalidate_caches()

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import tutorial_utils as tu

device = tu.get_device()
torch.manual_seed(
    0
)  # nothing here is random yet; seeding keeps later edits reproducible
print("PyTorch", torch.__version__, "| running on", device.type)

# %% [markdown]
# ## The data, step by step
#
# The UCI copy of the Iris data has 150 flowers, 50 of each species, with four measurements each.
# `tu.load_iris()` returns them (downloading and verifying the file on first use, or reading the
# local mirror; see the setup page).

# %%
features, labels = tu.load_iris()
print(
    "features:",
    features.shape,
    "| class counts:",
    np.bincount(labels).tolist(),
)
print("first row:", features[0].tolist(), "->", labels[0])

# %% [markdown]
# A binary problem needs two classes: the first 100 rows are *setosa* (label 0) and
# *versicolor* (label 1). Two features, sepal length and sepal width, let us draw the data and the
# decision boundary in the plane.
#
# (The UCI file keeps two transcription errors, in rows 35 and 38; row 38's sepal width is one of
# the values we use, and the published results of this tutorial depend on it.)

# %%
X, y = tu.binary_subset(features, labels)
print(
    "X:",
    X.shape,
    "| y:",
    y.shape,
    "| label counts:",
    np.bincount(y.astype(int)).tolist(),
)

# %% [markdown]
# Shuffle the rows with a fixed seed (`np.random.seed(1)`, as in the original post) and keep the
# first 25 shuffled rows aside as a test set.

# %%
X_train, y_train, X_test, y_test = tu.shuffle_split(X, y, n_test=25, seed=1)
print("train:", X_train.shape, "with", int(y_train.sum()), "versicolor")
print("test: ", X_test.shape, "with", int(y_test.sum()), "versicolor")

# %% [markdown]
# Finally, standardise both sets with the *training* mean and standard deviation. Gradient descent
# with one learning rate for all weights works best when features have similar scales, and using
# only training statistics keeps the test set unseen.

# %%
X_train, X_test, mean, std = tu.standardize(X_train, X_test)
print(
    "training mean:",
    np.round(mean, 4).tolist(),
    "| std:",
    np.round(std, 4).tolist(),
)
print(
    "after scaling: mean",
    (np.round(X_train.mean(axis=0), 6) + 0.0).tolist(),
    "| std",
    np.round(X_train.std(axis=0), 6).tolist(),
)

# %% [markdown]
# These four steps are what `tu.iris_binary_split()` does, and the next three notebooks call it
# instead of repeating them. Check that it agrees with what we just did:

# %%
split = tu.iris_binary_split()
assert np.array_equal(split.X_train, X_train) and np.array_equal(
    split.y_test, y_test
)
print("tu.iris_binary_split() reproduces the steps above")

# %% [markdown]
# For training, the four NumPy arrays become `float32` tensors on the chosen device:

# %%
X_train_t, y_train_t, X_test_t, y_test_t = split.tensors(device)
print(
    "X_train_t:",
    tuple(X_train_t.shape),
    str(X_train_t.dtype).replace("torch.", ""),
)

# %% [markdown]
# ## The model
#
# Logistic regression computes a weighted sum of the features, the *net input*
# $z = \mathbf{w}^\top \mathbf{x} + b$, and squashes it into a probability with the logistic sigmoid
#
# $$\sigma(z) = \frac{1}{1 + e^{-z}}, \qquad p = P(y = 1 \mid \mathbf{x}) = \sigma(\mathbf{w}^\top \mathbf{x} + b).$$
#
# It predicts class 1 when $p \ge 0.5$, that is when $z \ge 0$: the decision boundary is the line
# $\mathbf{w}^\top \mathbf{x} + b = 0$.
#
# ## The cost and its gradient
#
# Training maximises the likelihood of the labels, or equivalently minimises the summed
# cross-entropy over the $n$ training examples:
#
# $$J(\mathbf{w}, b) = -\sum_{i=1}^{n} \Big[ y^{(i)} \log p^{(i)} + \big(1 - y^{(i)}\big) \log\big(1 - p^{(i)}\big) \Big].$$
#
# Because $\sigma'(z) = \sigma(z)\,(1 - \sigma(z))$, the chain rule collapses to a strikingly simple
# result: the gradient is the features weighted by the errors $y^{(i)} - p^{(i)}$,
#
# $$-\frac{\partial J}{\partial \mathbf{w}} = \sum_{i} \big(y^{(i)} - p^{(i)}\big)\,\mathbf{x}^{(i)} = X^\top (\mathbf{y} - \mathbf{p}),
# \qquad -\frac{\partial J}{\partial b} = \sum_{i} \big(y^{(i)} - p^{(i)}\big).$$
#
# Gradient descent with learning rate $\eta$ therefore *adds* $\eta\,X^\top(\mathbf{y} - \mathbf{p})$ to
# the weights and $\eta \sum_i (y^{(i)} - p^{(i)})$ to the bias, once per epoch over all 75 examples.
#
# ## From probabilities to labels, with arithmetic
#
# The model predicts class 1 where $p \ge 0.5$. To turn that boolean test into labels 1 and 0 we
# use a selection written with arithmetic only: `cond * x_1 + (1 - cond) * x_2` takes `x_1` where
# `cond` is 1 and `x_2` where it is 0. It is `torch.where(cond, x_1, x_2)` spelled out, and it
# shows how a selection becomes a blend of two tensors. The later chapters reuse it as
# `tu.custom_where`.

# %% tags=["export"]
import torch


def custom_where(
    cond: torch.Tensor,
    x_1: torch.Tensor | float | list,
    x_2: torch.Tensor | float | list,
) -> torch.Tensor:
    """`torch.where(cond, x_1, x_2)` written as `cond * x_1 + (1 - cond) * x_2`, for a `cond` of 0s and 1s."""
    if not isinstance(cond, torch.Tensor):
        raise TypeError(
            f"cond must be a torch.Tensor, got {type(cond).__name__}"
        )
    if cond.dtype != torch.bool and not bool(
        ((cond == 0) | (cond == 1)).all()
    ):
        raise ValueError(
            "cond must be boolean or hold only 0 and 1; threshold probabilities first (p >= 0.5)"
        )
    x_1, x_2 = (
        x
        if isinstance(x, torch.Tensor)
        else torch.as_tensor(x, device=cond.device)
        for x in (x_1, x_2)
    )
    mask = cond.to(torch.result_type(x_1, x_2))
    return mask * x_1 + (1 - mask) * x_2


# %%
cond = torch.tensor([True, False, True])
print(
    "custom_where:",
    custom_where(
        cond, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, -2.0, -3.0])
    ).tolist(),
)
print(
    "torch.where: ",
    torch.where(
        cond, torch.tensor([1.0, 2.0, 3.0]), torch.tensor([-1.0, -2.0, -3.0])
    ).tolist(),
)
with_infinity = torch.tensor([1.0, float("inf"), 3.0])
print(
    "with inf where cond is False:",
    custom_where(cond, with_infinity, 0.0).tolist(),
    "vs",
    torch.where(cond, with_infinity, 0.0).tolist(),
)

# %% [markdown]
# The two agree, except where the branch that is *not* taken holds an infinity (or a NaN):
# $0 \cdot \infty$ is NaN in floating point, so the blend is NaN where `torch.where` simply
# returns the other branch. Our labels select between the constants 1 and 0, so the difference
# never bites here; but the same $0 \cdot \infty$ is why `torch.where(x > 0, torch.log(x), 0)`
# gives a NaN *gradient* at $x = 0$: backward multiplies the untaken branch's infinite derivative
# by zero.
#
# ## The model in code


# %% tags=["impl-manual"]
class LogisticRegressionManual:
    """Logistic regression whose parameters are plain tensors updated by hand."""

    def __init__(self, num_features: int, device: torch.device):
        self.weights = torch.zeros(
            num_features, 1, dtype=torch.float32, device=device
        )
        self.bias = torch.zeros(1, dtype=torch.float32, device=device)

    def forward(self, x):
        net_input = x @ self.weights + self.bias
        return torch.sigmoid(net_input).view(-1)

    def errors(self, probas, y):
        return y - probas

    def predict_labels(self, x):
        return custom_where(self.forward(x) >= 0.5, 1, 0)

    def accuracy(self, x, y):
        return (self.predict_labels(x) == y).float().mean().item()

    def cost(self, x, y):
        probas = self.forward(x)
        return (
            -(y * torch.log(probas) + (1 - y) * torch.log(1 - probas))
            .sum()
            .item()
        )

    def train(
        self, x, y, num_epochs: int, learning_rate: float
    ) -> list[float]:
        costs = []
        for epoch in range(num_epochs):
            errors = self.errors(self.forward(x), y)
            negative_grad = x.T @ errors.view(-1, 1)
            self.weights += learning_rate * negative_grad
            self.bias += learning_rate * errors.sum()

            costs.append(self.cost(x, y))
            print(
                f"Epoch: {epoch + 1:03d} | Train ACC: {self.accuracy(x, y):.3f} | Cost: {costs[-1]:.3f}"
            )
        return costs


# %% [markdown]
# ## Training
#
# Ten epochs of full-batch gradient descent with learning rate 0.1, starting from all-zero
# parameters. Each line shows the training accuracy and the cost *after* that epoch's update.

# %% tags=["impl-manual", "timed"]
num_epochs = 10
model = LogisticRegressionManual(num_features=2, device=device)
costs = model.train(
    X_train_t, y_train_t, num_epochs=num_epochs, learning_rate=0.1
)

# %% [markdown]
# ## Evaluation
#
# The test set has not been touched so far.

# %%
test_acc = model.accuracy(X_test_t, y_test_t)
weights = model.weights.view(-1).tolist()
bias = model.bias.item()
print(f"Test accuracy: {test_acc * 100:.2f}%")
print(f"Weights: ({weights[0]:.4f}, {weights[1]:.4f}) | Bias: {bias:.4f}")
tu.glue("test_accuracy", round(test_acc * 100, 2))
tu.glue("weights", [round(w, 4) for w in weights])
tu.glue("bias", round(bias, 4))
tu.glue("num_epochs", num_epochs)

# %% [markdown]
# The original post reports test accuracy 100.00%, weights (4.2267, -2.9613) and bias 0.0994;
# the cell below fails if this notebook ever stops reproducing them.

# %%
assert round(test_acc, 4) == 1.0
assert (
    np.allclose(weights, [4.2267, -2.9613], atol=5e-5)
    and abs(bias - 0.0994) < 5e-5
)
print("matches the original post")

# %% [markdown]
# The cost fell quickly in the first epochs, and the boundary separates the two species in the
# training data (left: cost after each epoch; right: the training data and the learned line).

# %%
tu.plot_training_summary(
    costs,
    weights,
    bias,
    X_train,
    y_train,
    title="Hand-written gradients: training set",
)
plt.show()

# %% [markdown]
# And on the 25 test flowers:

# %%
tu.plot_decision_boundary(weights, bias, X_test, y_test, title="Test set")
plt.show()

# %% [markdown]
# ## Summary
#
# - Logistic regression is a linear model followed by a sigmoid; its decision boundary is a line.
# - For the summed cross-entropy the gradient is simply $X^\top(\mathbf{y} - \mathbf{p})$, so a
#   full training step is two matrix products and an in-place update.
# - On standardised sepal measurements ten epochs reach 100% training and test accuracy.
#
# ## Exercises
#
# 1. Replace the summed cost by the mean cost (divide by $n$). Which learning rate gives the same
#    trajectory as before, and why?
# 2. Train on the raw, unstandardised features with the same learning rate. What happens to the
#    cost, and how many epochs do you need now?
# 3. Verify the gradient formula numerically: perturb one weight by $\pm 10^{-3}$ and compare the
#    finite difference of `model.cost` with the corresponding entry of $-X^\top(\mathbf{y}-\mathbf{p})$
#    (use `float64` tensors).
# 4. Use petal length and petal width instead (columns 2 and 3). Why is the problem easier?
