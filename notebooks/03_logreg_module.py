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
# # Logistic regression with `torch.nn.Module` and `torch.optim`
#
# *This chapter follows the blog post "Deep learning models implemented in
# pytorch and TF" (2024), which follows Sebastian Raschka's
# [deeplearning-models](https://github.com/rasbt/deeplearning-models)
# notebooks; "the original post" below means that post.*
#
# The last hand-written pieces go: a `torch.nn.Linear` layer holds the parameters, `BCELoss`
# computes the cost and `torch.optim.SGD` performs the update. We will
#
# 1. rebuild chapter 1's model from library parts and check that it
#    reproduces the original post's final accuracy and cost and the earlier
#    chapters' parameters,
# 2. rewrite it the way PyTorch code is usually written today (`BCEWithLogitsLoss` on logits,
#    `train()`/`eval()`, `torch.no_grad()`), and see why that version is numerically safer.

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
split = tu.iris_binary_split()
# float32 tensors on the device
X_train, y_train, X_test, y_test = split.tensors(device)
print("train:", tuple(X_train.shape), "| test:", tuple(X_test.shape))

# %% [markdown]
# ## The model as a module
#
# `nn.Linear(2, 1)` computes $X W^\top + b$ and owns `weight` (shape 1×2) and `bias`. PyTorch
# initialises them randomly; we zero them to start where chapters 1 and 2 started. The forward pass
# ends in a sigmoid, so the module outputs probabilities $p = \sigma(z)$.


# %% tags=["impl-module"]
class LogisticRegression(torch.nn.Module):
    def __init__(self, num_features: int):
        super().__init__()
        self.linear = torch.nn.Linear(num_features, 1)
        torch.nn.init.zeros_(self.linear.weight)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, x):
        return torch.sigmoid(self.linear(x)).view(-1)


def accuracy(probas, y):
    return (tu.custom_where(probas >= 0.5, 1, 0) == y).float().mean().item()


model = LogisticRegression(num_features=2).to(device)
cost_fn = torch.nn.BCELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

# %% tags=["hide-input"]
# A fresh nn.Linear draws random weights; ours holds a zeroed 1x2 weight and
# bias and computes sigmoid(X W^T + b). BCELoss(reduction="sum") is the
# summed cross-entropy, and one SGD step is theta - 0.1 * gradient (checked
# on a copy with other parameters, so the model above stays untouched).
assert torch.nn.Linear(2, 1).weight.any()
assert model.linear.weight.shape == (1, 2) and model.linear.bias.shape == (1,)
assert not model.linear.weight.any() and not model.linear.bias.any()
probe = LogisticRegression(num_features=2).to(device)
with torch.no_grad():
    probe.linear.weight.copy_(torch.tensor([[0.5, -0.25]]))
    probe.linear.bias.fill_(0.1)
probe_p = torch.sigmoid(X_train @ probe.linear.weight.T + probe.linear.bias)
assert torch.allclose(probe(X_train), probe_p.view(-1))
probe_cost = cost_fn(probe(X_train), y_train)
by_hand = -(
    y_train * probe_p.view(-1).log()
    + (1 - y_train) * (1 - probe_p.view(-1)).log()
).sum()
assert torch.allclose(probe_cost, by_hand)
probe_sgd = torch.optim.SGD(probe.parameters(), lr=0.1)
probe_sgd.zero_grad()
probe_cost.backward()
expected = [(q - 0.1 * q.grad).detach() for q in probe.parameters()]
probe_sgd.step()
assert all(map(torch.allclose, probe.parameters(), expected))

# %% [markdown]
# `BCELoss(reduction="sum")` is the summed cross-entropy
# $J = -\sum_i [y^{(i)}\log p^{(i)} + (1-y^{(i)})\log(1-p^{(i)})]$ of the earlier chapters, and
# `SGD(lr=0.1)` performs $\theta \leftarrow \theta - 0.1\,\nabla_\theta J$. The training loop is
# the four lines every PyTorch loop has: forward, cost, `zero_grad`/`backward`, `step`.

# %% tags=["impl-module", "timed"]
num_epochs = 10
costs = []
for epoch in range(num_epochs):
    cost = cost_fn(model(X_train), y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()

    with torch.no_grad():
        probas = model(X_train)
        costs.append(cost_fn(probas, y_train).item())
    train_acc = accuracy(probas, y_train)
    print(
        f"Epoch: {epoch + 1:03d} | Train ACC: {train_acc:.3f}"
        f" | Cost: {costs[-1]:.3f}"
    )

# %% [markdown]
# The last line matches the original post: train accuracy 1.000, cost 2.758.

# %%
with torch.no_grad():
    test_acc = accuracy(model(X_test), y_test)
weights = model.linear.weight.detach().view(-1).tolist()
bias = model.linear.bias.item()
print(f"Test accuracy: {test_acc * 100:.2f}%")
print(f"Weights: ({weights[0]:.4f}, {weights[1]:.4f}) | Bias: {bias:.4f}")
assert f"{train_acc:.3f}" == "1.000" and f"{costs[-1]:.3f}" == "2.758"
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
    title="nn.Module + optim: training set",
)
plt.show()

# %% [markdown]
# ## Why modern code trains on logits
#
# Computing $\sigma(z)$ first and taking its logarithm afterwards loses
# information in floating point. In float32, $\sigma(z)$ rounds to exactly 1.0
# once $z \gtrsim 16.6$, so $\log(1 - \sigma(z))$ becomes $\log 0 = -\infty$.
# `BCELoss` hides the damage with two clamps, each log term at $-100$ in the
# forward pass and $p(1 - p)$ at $10^{-12}$ in the backward pass, which for
# confidently wrong predictions can give a wrong cost and a gradient that is
# too small or exactly zero.
#
# `BCEWithLogitsLoss` takes the logit $z$ and uses the algebraically equal, stable form
#
# $$-\big[y \log \sigma(z) + (1-y)\log(1-\sigma(z))\big] = \max(z, 0) - z\,y + \log\big(1 + e^{-|z|}\big),$$
#
# which never exponentiates a large positive number and never takes the log of
# zero. First, where does $\sigma(z)$ round to 1 in float32, and where does
# `torch.sigmoid`, which computes $1 / (1 + e^{-z})$, return 0 because
# $e^{-z}$ overflows to infinity?

# %%
grid = torch.arange(-120.0, 20.0, 0.01)
sigmoid = torch.sigmoid(grid)
rounds_to_one = grid[sigmoid == 1.0][0].item()
zero_below = grid[sigmoid > 0.0][0].item()
print(f"in float32, sigmoid(z) == 1.0 from z = {rounds_to_one:.1f} on,")
print(f"and torch.sigmoid(z) == 0.0 below z = {zero_below:.1f}")
assert f"{rounds_to_one:.1f}" == "16.6"

# %% tags=["hide-input"]
# sigmoid is 1.0 on the whole grid above the first point and 0.0 below the
# second; it is 0.0 exactly where exp(-z) overflows to inf, while float32
# could still hold sigmoid(z), about e^z, down to z = -103.
assert (sigmoid[grid >= rounds_to_one] == 1.0).all()
assert (sigmoid[grid < zero_below] == 0.0).all()
assert torch.equal(sigmoid == 0.0, torch.isinf(torch.exp(-grid)))
assert np.float32(np.exp(-103.0)) > 0 and np.float32(np.exp(-104.0)) == 0

# %% [markdown]
# (Float32 could still hold $\sigma(z) \approx e^{z}$ itself, as a tiny
# subnormal number, down to $z \approx -103$; the zero below $-88.7$ comes from
# the overflow of $e^{-z}$.)
#
# So a negative example ($y = 0$) that the model scores with a logit of 20 has
# $\log(1 - \sigma(20)) = \log 0$. We compare both losses and their gradients
# on three negative examples, scored at 20 and 120, beyond the rounding point,
# and at 5, below it; and, for contrast, on two positive examples ($y = 1$)
# scored at $-20$ and $-30$, where $\sigma(z)$ is tiny but still
# representable:

# %%
z = torch.tensor([5.0, 20.0, 120.0, -20.0, -30.0], requires_grad=True)
target = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0])
results = {}
for name, loss in [
    (
        "BCELoss(sigmoid(z))",
        torch.nn.BCELoss(reduction="none")(torch.sigmoid(z), target),
    ),
    (
        "BCEWithLogitsLoss(z)",
        torch.nn.BCEWithLogitsLoss(reduction="none")(z, target),
    ),
]:
    (grad,) = torch.autograd.grad(loss.sum(), z)
    results[name] = loss.detach(), grad
    print(f"{name:>21}: loss {np.round(loss.tolist(), 3).tolist()}")
    print(f"{'':>21}  dloss/dz {(np.round(grad.tolist(), 3) + 0.0).tolist()}")

naive_loss, naive_grad = results["BCELoss(sigmoid(z))"]
exact_loss, exact_grad = results["BCEWithLogitsLoss(z)"]
assert naive_loss[1] == 100.0 and exact_loss[1] == 20.0  # y = 0, z = 20
assert naive_grad[1] == 0.0 and exact_grad[1] == 1.0
assert naive_loss[2] == 100.0 and naive_grad[2] == 0.0  # y = 0, z = 120
assert exact_loss[2] == 120.0 and exact_grad[2] == 1.0


# %% tags=["hide-input"]
# Where the two agree, they agree to within 1e-5: y = 0 at z = 5, y = 1 at
# z = -20 (loss and gradient) and y = 1 at z = -30 (loss only).
def close(a, b):
    return torch.allclose(a, b, rtol=0, atol=1e-5)


for i in (0, 3):
    assert close(naive_loss[i], exact_loss[i])
    assert close(naive_grad[i], exact_grad[i])
assert f"{torch.sigmoid(torch.tensor(-20.0)).item():.0e}" == "2e-09"
assert close(naive_loss[4], exact_loss[4])
assert exact_grad[4] == -1.0 and abs(naive_grad[4] + 0.094) < 5e-4
assert abs(np.log(1e-12) + 27.6) < 0.05  # where p(1 - p) reaches 1e-12
# For y = 1 the BCELoss loss holds at z = -88 and is the clamp's 100 at -89,
# where torch.sigmoid has returned 0.
far = torch.tensor([-88.0, -89.0])
far_loss = torch.nn.BCELoss(reduction="none")(
    torch.sigmoid(far), torch.ones(2)
)
assert close(far_loss[0], torch.tensor(88.0)) and far_loss[1] == 100.0

# %% [markdown]
# For $y = 0$ the exact loss at $z = 20$ is 20 and its gradient is $+1$: the
# model should be pushed hard. `BCELoss` returns the clamp's 100 and a gradient
# of exactly 0, so this example stops teaching the model anything; at
# $z = 120$ it is the same. At $z = 5$, below the rounding point, both agree to
# within $10^{-5}$, loss and gradient. So does the positive example at
# $z = -20$, because $\sigma(-20) \approx 2 \times 10^{-9}$ is far from zero in
# float32. At $z = -30$ its loss still agrees, but its gradient does not: the
# backward pass of `BCELoss` divides by $\max(p(1 - p), 10^{-12})$, and once
# $p(1 - p)$ drops below $10^{-12}$ (for $z$ below about $-27.6$) the gradient
# shrinks towards zero, to $-0.094$ at $z = -30$ where the exact one is $-1$.
# The loss itself holds until `torch.sigmoid` returns 0, below about $-88.7$;
# from there on $\log 0$ is clamped and `BCELoss` returns 100.
#
# ## The idiomatic version
#
# The model returns logits; probabilities are computed only where we need them. `model.train()`
# and `model.eval()` switch layers such as dropout and batch norm between their training and
# inference behaviour (this model has none, but the habit costs nothing), and evaluation runs under
# `torch.no_grad()` so no graph is recorded.


# %% tags=["impl-module-logits"]
class LogisticRegressionLogits(LogisticRegression):
    """The same zero-initialised layer, returning logits, not probabilities."""

    def forward(self, x):
        return self.linear(x).view(-1)


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(x)
        return cost_fn_logits(logits, y).item(), (
            (logits >= 0).float() == y
        ).float().mean().item()


model_logits = LogisticRegressionLogits(num_features=2).to(device)
cost_fn_logits = torch.nn.BCEWithLogitsLoss(reduction="sum")
optimizer = torch.optim.SGD(model_logits.parameters(), lr=0.1)
for epoch in range(10):
    model_logits.train()
    cost = cost_fn_logits(model_logits(X_train), y_train)
    optimizer.zero_grad()
    cost.backward()
    optimizer.step()
    train_cost, train_acc = evaluate(model_logits, X_train, y_train)
    print(
        f"Epoch: {epoch + 1:03d} | Train ACC: {train_acc:.3f}"
        f" | Cost: {train_cost:.3f}"
    )

# %% tags=["hide-input"]
# eval() and train() switch dropout and batch norm between two behaviours;
# this model has neither; under torch.no_grad() no graph is recorded.
ones = torch.ones(1000, 1)
dropout, batch_norm = torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(1)
assert torch.equal(dropout.eval()(ones), ones)
assert not torch.equal(dropout.train()(ones), ones)
steps = torch.tensor([[1.0], [3.0]])
assert not torch.equal(batch_norm.train()(steps), batch_norm.eval()(steps))
assert [type(m) for m in model_logits.modules()] == [
    LogisticRegressionLogits,
    torch.nn.Linear,
]
assert model_logits(X_train).grad_fn is not None
with torch.no_grad():
    assert model_logits(X_train).grad_fn is None

# %% [markdown]
# On this well-behaved problem both versions learn the same parameters, to
# within $10^{-4}$; the logit version is the one to copy into your own code.

# %%
logit_params = model_logits.linear.weight.view(-1).tolist() + [
    model_logits.linear.bias.item()
]
print(
    "logit version:",
    [f"{v:.4f}" for v in logit_params],
    f"| test accuracy {evaluate(model_logits, X_test, y_test)[1] * 100:.2f}%",
)
assert np.allclose(logit_params, weights + [bias], rtol=0, atol=1e-4)

# %% [markdown]
# ## Summary
#
# - `nn.Linear` holds the parameters, a loss module computes the cost, and an optimizer applies the
#   update: the training loop shrinks to forward, cost, `zero_grad`, `backward`, `step`.
# - With zeroed parameters, `BCELoss(reduction="sum")` and `SGD(lr=0.1)` the module reproduces the
#   hand-written chapters' parameters to the four decimals printed.
# - Train on logits with `BCEWithLogitsLoss`: it is exact where sigmoid-then-log saturates.
#
# ## Exercises
#
# ````{exercise} Adam instead of SGD
# :label: ex-03-logreg-module-1
# Train the logit version with `torch.optim.Adam(model.parameters(),
# lr=0.1)` instead of SGD. Does it reach 100 % training accuracy in fewer
# epochs? Look at the parameters after the first epoch and after ten.
# ````
#
# ````{solution-start} ex-03-logreg-module-1
# :class: dropdown
# ````
# Adam divides each gradient by a running estimate of its own magnitude, so
# its steps are about the learning rate in size whatever the gradient's
# scale; its first step moves every parameter by the learning rate, to
# within $10^{-6}$. SGD on the *summed* cost takes steps proportional to the
# gradient of all 75 examples, here larger: its first step moves every
# parameter further than Adam's, each weight more than twenty times as far.
# So with the same learning rate, Adam is far slower on this problem: after
# ten epochs no parameter has moved by more than 1, and it needs many more
# epochs to separate the training data. The helper `train_logits` is used by
# the other solutions too.


# %%
def train_logits(net, optimizer, num_epochs):
    """Train on the logit cost; the costs, accuracies and parameters."""
    history = {"cost": [], "accuracy": [], "parameters": []}
    for epoch in range(num_epochs):
        net.train()
        loss = cost_fn_logits(net(X_train), y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        train_cost, train_acc = evaluate(net, X_train, y_train)
        history["cost"].append(train_cost)
        history["accuracy"].append(train_acc)
        flat = [p.detach().view(-1) for p in net.parameters()]
        history["parameters"].append(torch.cat(flat).tolist())
    return history


histories = {}
for optimizer_class in (torch.optim.SGD, torch.optim.Adam):
    net = LogisticRegressionLogits(num_features=2).to(device)
    opt = optimizer_class(net.parameters(), lr=0.1)
    histories[optimizer_class.__name__] = train_logits(net, opt, 100)
sgd, adam = histories["SGD"], histories["Adam"]
for epoch in (1, 10):
    print(f"after epoch {epoch:2}:")
    for name, history in histories.items():
        params = np.round(history["parameters"][epoch - 1], 4).tolist()
        cost = history["cost"][epoch - 1]
        print(f"  {name:4} parameters {params}, cost {cost:.3f}")
first_perfect = {
    name: history["accuracy"].index(1.0) + 1
    for name, history in histories.items()
}
print("first epoch with 100% training accuracy:", first_perfect)
assert np.allclose(np.abs(adam["parameters"][0]), 0.1, rtol=0, atol=1e-6)
sgd_first, adam_first = (np.abs(h["parameters"][0]) for h in (sgd, adam))
assert (sgd_first > adam_first).all() and (sgd_first[:2] > 20 * 0.1).all()
assert np.abs(adam["parameters"][9]).max() < 1
assert adam["cost"][9] > 5 * sgd["cost"][9]
assert first_perfect["Adam"] > 10 > first_perfect["SGD"]

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} A hidden layer
# :label: ex-03-logreg-module-2
# Seed PyTorch with `torch.manual_seed(1)`, build a new
# `LogisticRegressionLogits(num_features=2)` and replace its `linear` by
# `torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
# torch.nn.Linear(8, 1))`, keeping the new layers' random starting weights.
# Train it ten epochs with SGD and learning rate 0.1. What happens to the
# training cost and to the test accuracy, compared with `model_logits`?
# ````
#
# ````{solution-start} ex-03-logreg-module-2
# :class: dropdown
# ````
# The network is no longer linear, so its decision boundary can bend; with
# random starting weights its eight hidden units differ from the start.
# The two species are already separated by a line, so there is nothing left
# to gain on the test set: the hidden layer only makes the training
# probabilities more confident, and the cost falls to a fraction of the
# single layer's.

# %%
torch.manual_seed(1)
deeper = LogisticRegressionLogits(num_features=2)
deeper.linear = torch.nn.Sequential(
    torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
)
deeper = deeper.to(device)
deep = train_logits(deeper, torch.optim.SGD(deeper.parameters(), lr=0.1), 10)
deep_test_acc = evaluate(deeper, X_test, y_test)[1]
linear_test_acc = evaluate(model_logits, X_test, y_test)[1]
print(f"cost after ten epochs: {deep['cost'][-1]:.3f}", end=" ")
print(f"(one layer: {sgd['cost'][9]:.3f})")
print(f"train ACC {deep['accuracy'][-1]:.3f}", end=" | ")
print(f"test ACC {deep_test_acc:.3f} (one layer: {linear_test_acc:.3f})")
assert deep["cost"][-1] < sgd["cost"][9] / 3
assert deep["accuracy"][-1] == 1 and deep_test_acc == linear_test_acc == 1

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} Random starting points
# :label: ex-03-logreg-module-3
# Remove the zero initialisation: build the logit model five times, after
# `torch.manual_seed(seed)` for seeds 0 to 4, and call
# `model.linear.reset_parameters()` to draw PyTorch's default random weights.
# How much do the final parameters depend on the starting point after 10
# epochs, and after 1000?
# ````
#
# ````{solution-start} ex-03-logreg-module-3
# :class: dropdown
# ````
# The cost is convex, so every start heads for the same place, and the
# training data are separable, so that place is at infinity: the weights
# keep growing along one direction. After 10 epochs the five runs still
# differ in the first decimal; after 1000 the parameters have grown and the
# differences between the starts have shrunk by more than a factor of ten.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): parameters after 1000
# steps with large weights, whose last digits depend on the floating-point
# path. The assertions check the claims, which hold by wide margins.
finals = {10: [], 1000: []}
for seed in range(5):
    torch.manual_seed(seed)
    net = LogisticRegressionLogits(num_features=2).to(device)
    net.linear.reset_parameters()
    history = train_logits(
        net, torch.optim.SGD(net.parameters(), lr=0.1), 1000
    )
    for epochs, runs in finals.items():
        runs.append(history["parameters"][epochs - 1])
for epochs, params in finals.items():
    params = np.array(params)
    print(f"after {epochs:4} epochs: mean {params.mean(0).round(3).tolist()}")
    print(f"{'':18}spread {params.std(0).round(4).tolist()}")
spread = {
    epochs: np.std(params, axis=0).max() for epochs, params in finals.items()
}
assert 0.05 < spread[10] and spread[1000] < spread[10] / 10
assert np.ptp(finals[10], axis=0).max() > 0.1
assert np.abs(finals[1000]).min() > np.abs(finals[10]).min()

# %% [markdown]
# ````{solution-end}
# ````
