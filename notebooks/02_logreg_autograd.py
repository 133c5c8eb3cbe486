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
# # Logistic regression with autograd
#
# *This chapter follows the blog post "Deep learning models implemented in
# pytorch and TF" (2024), which follows Sebastian Raschka's
# [deeplearning-models](https://github.com/rasbt/deeplearning-models)
# notebooks; "the original post" below means that post.*
#
# In the previous chapter we derived the gradient of the cross-entropy by hand. Here PyTorch's
# automatic differentiation computes it for us. We keep everything else the same: the data split,
# the zero initialisation, the summed cost, 10 epochs with learning rate 0.1. Then we
#
# 1. mark the parameters with `requires_grad=True`, so PyTorch records how the cost is computed,
# 2. call `cost.backward()` to fill each parameter's `.grad`,
# 3. check, with assertions, that autograd's gradient agrees with the hand-written
#    $X^\top(\mathbf{p} - \mathbf{y})$ to within $10^{-5}$, and that training ends
#    where chapter 1 ended, to the four decimals it prints.

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
import matplotlib.pyplot as plt
import numpy as np
import torch

import tutorial_utils as tu

device = tu.get_device()
torch.manual_seed(0)
split = tu.iris_binary_split()
# float32 tensors on the device
X_train, y_train, X_test, y_test = split.tensors(device)
print("train:", tuple(X_train.shape), "| test:", tuple(X_test.shape))

# %% [markdown]
# ## How autograd works, in one cell
#
# Every operation on a tensor that requires gradients is recorded in a graph. `backward()` walks
# that graph from the output back to the leaves, applying the chain rule at each node. For
# $f(w) = (3w)^2$ at $w = 2$ the derivative is $18w = 36$:

# %%
w = torch.tensor(2.0, requires_grad=True)
f = (3 * w) ** 2
f.backward()
print("df/dw =", w.grad.item())
assert w.grad.item() == 36

# %% [markdown]
# ## The model
#
# The forward pass and the cost are written exactly as the equations of chapter 1:
#
# $$\mathbf{p} = \sigma(X\mathbf{w} + b), \qquad
# J = -\sum_i \big[y^{(i)} \log p^{(i)} + (1 - y^{(i)}) \log (1 - p^{(i)})\big].$$
#
# There is no hand-written gradient any more: it comes from `cost.backward()`. The update
# happens inside `torch.no_grad()`, because the update itself must not become part of the graph,
# and the gradients are zeroed afterwards, because PyTorch *accumulates* into `.grad`.


# %% tags=["impl-autograd"]
class LogisticRegressionAutograd:
    """Logistic regression with gradients from autograd, updated by hand."""

    def __init__(self, num_features: int, device: torch.device):
        self.weights = torch.zeros(
            num_features, 1, device=device, requires_grad=True
        )
        self.bias = torch.zeros(1, device=device, requires_grad=True)

    def forward(self, x):
        return torch.sigmoid(x @ self.weights + self.bias).view(-1)

    def cost(self, probas, y):
        return -(y * torch.log(probas) + (1 - y) * torch.log(1 - probas)).sum()

    def accuracy(self, x, y):
        with torch.no_grad():
            labels = tu.custom_where(self.forward(x) >= 0.5, 1, 0)
        return (labels == y).float().mean().item()

    def train_epoch(self, x, y, learning_rate: float) -> None:
        cost = self.cost(self.forward(x), y)
        cost.backward()
        with torch.no_grad():
            self.weights -= learning_rate * self.weights.grad
            self.bias -= learning_rate * self.bias.grad
        self.weights.grad.zero_()
        self.bias.grad.zero_()


# %% [markdown]
# ## Autograd's gradient agrees with the hand-written one
#
# Before training, compare the two gradients on the same parameters. To make the check
# meaningful we use non-zero parameters, where every term of the formula matters. Chapter 1 used
# the *negative* gradient $X^\top(\mathbf{y} - \mathbf{p})$; the gradient itself is its negation.


# %%
def hand_written_gradients(x, y, weights, bias):
    """The gradient derived in chapter 1: X^T (p - y) and sum(p - y)."""
    probas = torch.sigmoid(x @ weights + bias).view(-1)
    return x.T @ (probas - y).view(-1, 1), (probas - y).sum().view(1)


probe = LogisticRegressionAutograd(num_features=2, device=device)
with torch.no_grad():
    probe.weights.copy_(torch.tensor([[0.7], [-1.3]]))
    probe.bias.fill_(0.25)
probe.cost(probe.forward(X_train), y_train).backward()
grad_w, grad_b = hand_written_gradients(
    X_train, y_train, probe.weights.detach(), probe.bias.detach()
)

print(
    "autograd:     dJ/dw =",
    np.round(probe.weights.grad.view(-1).tolist(), 4).tolist(),
    "dJ/db =",
    round(probe.bias.grad.item(), 4),
)
print(
    "hand-written: dJ/dw =",
    np.round(grad_w.view(-1).tolist(), 4).tolist(),
    "dJ/db =",
    round(grad_b.item(), 4),
)
assert torch.allclose(
    probe.weights.grad, grad_w, rtol=0, atol=1e-5
) and torch.allclose(probe.bias.grad, grad_b, rtol=0, atol=1e-5)
print("the gradients agree to within 1e-5")

# %% [markdown]
# ## Training
#
# Ten epochs of full-batch gradient descent, as in chapter 1:

# %% tags=["impl-autograd", "timed"]
num_epochs = 10
model = LogisticRegressionAutograd(num_features=2, device=device)
costs = []
for epoch in range(num_epochs):
    model.train_epoch(X_train, y_train, learning_rate=0.1)
    with torch.no_grad():
        costs.append(model.cost(model.forward(X_train), y_train).item())
    train_acc = model.accuracy(X_train, y_train)
    print(
        f"Epoch: {epoch + 1:03d} | Train ACC: {train_acc:.3f}"
        f" | Cost: {costs[-1]:.3f}"
    )

# %% [markdown]
# ## The hand-written trajectory alongside
#
# Now the same ten epochs once more, with, in lock-step, a copy of chapter 1's parameters updated
# with the hand-written gradient. After every epoch the two must agree to within
# $10^{-6}$, and the run must end exactly (bit for bit) where the training above
# ended.

# %%
checked = LogisticRegressionAutograd(num_features=2, device=device)
hand_w = torch.zeros(2, 1, device=device)
hand_b = torch.zeros(1, device=device)
for epoch in range(num_epochs):
    grad_w, grad_b = hand_written_gradients(X_train, y_train, hand_w, hand_b)
    hand_w -= 0.1 * grad_w
    hand_b -= 0.1 * grad_b
    checked.train_epoch(X_train, y_train, learning_rate=0.1)
    assert torch.allclose(checked.weights, hand_w, rtol=0, atol=1e-6)
    assert torch.allclose(checked.bias, hand_b, rtol=0, atol=1e-6)
assert torch.equal(checked.weights, model.weights)
assert torch.equal(checked.bias, model.bias)
print(
    f"after each of the {num_epochs} epochs, autograd's parameters are"
    " within 1e-6\nof the hand-written ones"
)

# %% [markdown]
# ## Evaluation
#
# The parameters agree with chapter 1's to the four decimals printed, and so
# with the original post: weights (4.2267, -2.9613) and bias 0.0994.

# %%
weights = model.weights.detach().view(-1).tolist()
bias = model.bias.item()
test_acc = model.accuracy(X_test, y_test)
print(f"Test accuracy: {test_acc * 100:.2f}%")
print(f"Weights: ({weights[0]:.4f}, {weights[1]:.4f}) | Bias: {bias:.4f}")
assert np.allclose(
    weights + [bias], [4.2267, -2.9613, 0.0994], rtol=0, atol=5e-5
)

# %% tags=["hide-input"]
tu.glue("test_accuracy", round(test_acc * 100, 2))
tu.glue("weights", [round(w, 4) for w in weights])
tu.glue("bias", round(bias, 4))
tu.glue("num_epochs", num_epochs)

# %%
tu.plot_training_summary(
    costs,
    weights,
    bias,
    split.X_train,
    split.y_train,
    title="Autograd: training set",
)
plt.show()

# %% [markdown]
# ## Summary
#
# - `requires_grad=True` makes PyTorch record the computation; `backward()` applies the chain rule
#   and stores $\partial J / \partial \theta$ in each parameter's `.grad`.
# - Updates happen under `torch.no_grad()`, and gradients must be zeroed between steps because they
#   accumulate.
# - Autograd's gradient agrees with the hand-derived one to within $10^{-5}$,
#   and the parameters stay within $10^{-6}$ of chapter 1's after every epoch.
#
# ## Exercises
#
# ````{exercise} Forgetting to zero the gradients
# :label: ex-02-logreg-autograd-1
# Remove the two `grad.zero_()` calls from `train_epoch` and train for ten
# epochs. What happens to the cost, the parameters and the training
# accuracy, and why?
# ````
#
# ````{solution-start} ex-02-logreg-autograd-1
# :class: dropdown
# ````
# `backward()` adds to `.grad`, so without zeroing, the step of epoch $k$
# uses the sum of the first $k$ gradients. The first step is the same as
# before and the second one larger, so the cost falls faster at first. Then
# the steps keep growing, the net inputs grow until $\sigma(z)$ rounds to
# exactly 1.0, and the cost becomes `nan`. The gradient turns NaN too: for
# a saturated versicolor ($y = 1$, $p = 1$) the term $(1 - y) \log(1 - p)$
# sends the weight $1 - y = 0$ back into $\log(1 - p)$, whose backward pass
# divides it by $1 - p = 0$, and $0 / 0$ is NaN. From then on
# every parameter is NaN, `NaN >= 0.5` is false, and the model predicts
# setosa for every flower.


# %%
class WithoutZeroing(LogisticRegressionAutograd):
    def train_epoch(self, x, y, learning_rate):
        self.cost(self.forward(x), y).backward()
        with torch.no_grad():
            self.weights -= learning_rate * self.weights.grad
            self.bias -= learning_rate * self.bias.grad


unzeroed = WithoutZeroing(num_features=2, device=device)
unzeroed_costs = []
for epoch in range(num_epochs):
    unzeroed.train_epoch(X_train, y_train, learning_rate=0.1)
    with torch.no_grad():
        probas = unzeroed.forward(X_train)
        unzeroed_costs.append(unzeroed.cost(probas, y_train).item())
print("costs without zeroing:", np.round(unzeroed_costs[:4], 3).tolist())
print("costs with zeroing:   ", np.round(costs[:4], 3).tolist())
print("parameters:", unzeroed.weights.view(-1).tolist(), unzeroed.bias.item())
setosa_share = (y_train == 0).float().mean().item()
unzeroed_acc = unzeroed.accuracy(X_train, y_train)
print(f"train ACC {unzeroed_acc:.3f}, the share of setosa {setosa_share:.3f}")
assert unzeroed_costs[0] == costs[0] and unzeroed_costs[1] < costs[1]
assert np.isnan(unzeroed_costs[-1]) and unzeroed.weights.isnan().all()
assert unzeroed_acc == setosa_share
p = torch.tensor([1.0], requires_grad=True)  # a saturated versicolor, y = 1
(saturated_grad,) = torch.autograd.grad((1 - 1.0) * torch.log(1 - p), p)
print("d/dp of (1 - y) log(1 - p) at y = 1, p = 1:", saturated_grad.item())
assert saturated_grad.isnan()

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} The library's cross-entropy
# :label: ex-02-logreg-autograd-2
# Write the cost with `torch.nn.functional.binary_cross_entropy(probas, y,
# reduction="sum")` and confirm, at the parameters of the gradient check
# above, that autograd's gradients stay the same to within $10^{-5}$.
# ````
#
# ````{solution-start} ex-02-logreg-autograd-2
# :class: dropdown
# ````
# `binary_cross_entropy` computes the same summed cross-entropy, with two
# safeguards: its forward pass clamps each logarithm at $-100$, and its
# backward pass divides by $\max(p(1 - p), 10^{-12})$ rather than by
# $p(1 - p)$. Neither acts at these moderate probabilities (chapter 3 shows
# where they do), so the gradients agree to within $10^{-5}$.

# %%
library_probe = LogisticRegressionAutograd(num_features=2, device=device)
with torch.no_grad():
    library_probe.weights.copy_(probe.weights)
    library_probe.bias.copy_(probe.bias)
torch.nn.functional.binary_cross_entropy(
    library_probe.forward(X_train), y_train, reduction="sum"
).backward()
for name in ("weights", "bias"):
    ours = getattr(probe, name).grad.view(-1)
    library = getattr(library_probe, name).grad.view(-1)
    print(f"{name}: ours", np.round(ours.tolist(), 4).tolist(), end=" ")
    print("| library", np.round(library.tolist(), 4).tolist())
    assert torch.allclose(ours, library, rtol=0, atol=1e-5)

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} Gradients returned, not stored
# :label: ex-02-logreg-autograd-3
# Train the model for ten epochs with `torch.autograd.grad(cost, [weights,
# bias])` instead of `cost.backward()`. How are the gradients returned, what
# happens to `.grad`, and does the training still end at the chapter's
# parameters?
# ````
#
# ````{solution-start} ex-02-logreg-autograd-3
# :class: dropdown
# ````
# `torch.autograd.grad` returns the gradients as a tuple, one per input, and
# leaves `.grad` alone: it stays `None`. Nothing accumulates, so there is
# nothing to zero, and the steps are the chapter's, bit for bit.

# %%
returned = LogisticRegressionAutograd(num_features=2, device=device)
for epoch in range(num_epochs):
    cost = returned.cost(returned.forward(X_train), y_train)
    grad_w, grad_b = torch.autograd.grad(
        cost, [returned.weights, returned.bias]
    )
    with torch.no_grad():
        returned.weights -= 0.1 * grad_w
        returned.bias -= 0.1 * grad_b
print("gradient shapes:", tuple(grad_w.shape), tuple(grad_b.shape))
print(".grad after training:", returned.weights.grad, returned.bias.grad)
same = torch.equal(returned.weights, model.weights) and torch.equal(
    returned.bias, model.bias
)
print("the chapter's parameters, bit for bit:", same)
assert returned.weights.grad is None and returned.bias.grad is None
assert same

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} A NaN gradient from a selection
# :label: ex-02-logreg-autograd-4
# Compute the gradient of $f(\mathbf{x}) = \sum_i g(x_i)$ with
# $g(x) = \log x$ for $x > 0$ and $g(x) = 0$ otherwise, written as
# `torch.where(x > 0, torch.log(x), 0.0)`, at $\mathbf{x} = (0, 1)$. Why is
# the derivative at 0 NaN, although the branch taken there is a constant?
# Rewrite $g$ so that the derivative there is 0.
# ````
#
# ````{solution-start} ex-02-logreg-autograd-4
# :class: dropdown
# ````
# `torch.where` computes both branches for every element, and its backward
# pass sends a zero gradient into the branch that is not taken. The backward
# pass of `log` then divides that zero by $x = 0$, and $0 / 0$ is NaN: a
# relative of chapter 1's $0 \cdot \infty$, met in the backward pass. The fix keeps the untaken branch finite: take the
# logarithm of `torch.where(x > 0, x, 1.0)`.

# %%
x = torch.tensor([0.0, 1.0], requires_grad=True)
(naive,) = torch.autograd.grad(torch.where(x > 0, torch.log(x), 0.0).sum(), x)
safe_log = torch.log(torch.where(x > 0, x, 1.0))
(safe,) = torch.autograd.grad(torch.where(x > 0, safe_log, 0.0).sum(), x)
print("gradient with log(x):               ", naive.tolist())
print("gradient with log(where(x>0, x, 1)):", safe.tolist())
assert naive[0].isnan() and naive[1] == 1
assert safe.tolist() == [0.0, 1.0]

# %% [markdown]
# ````{solution-end}
# ````
