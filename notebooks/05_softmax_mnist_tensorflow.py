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
# # Softmax regression on MNIST, in TensorFlow and Keras
#
# *The PyTorch twin of this chapter: [Softmax regression on MNIST](05_softmax_mnist.ipynb). The
# [side-by-side page](../book/softmax_comparison.md) shows the two next to each other.*
#
# The model, the data and the recipe are those of the PyTorch chapter: a `784 → 10` linear layer
# started at zero, the softmax cross-entropy on its logits, SGD with learning rate 0.1, batches of
# 256, 10 epochs. Here we
#
# 1. load MNIST as NumPy arrays (no PyTorch involved),
# 2. train the model the Keras way, with `compile` and `fit`,
# 3. train it again with our own loop: `tf.GradientTape` and `tf.data`,
# 4. look at the weights and the mistakes, as in the PyTorch chapter,
# 5. prove that TensorFlow and PyTorch compute the same thing: from the same
#    starting weights and the same batch order, one epoch in each gives the
#    same parameters to within $10^{-5}$.
#
# TensorFlow is imported with its start-up log lines silenced, and Keras is Keras 3, the one that
# TensorFlow 2.16 and later ship with:

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

# %% tags=["export"]
import numpy as np

import tutorial_utils as tu

tf = tu.import_tensorflow()
import keras  # noqa: E402  (after TensorFlow: Keras 3 runs on it)

# %%
import time

import matplotlib.pyplot as plt

# One thread, as in the PyTorch chapter (see there for why).
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
print("TensorFlow", tf.__version__, "| Keras", keras.__version__)

random_seed = 123
learning_rate = 0.1
num_epochs = 10
batch_size = 256
num_features = 28 * 28
num_classes = 10

# %% [markdown]
# ## The data
#
# `tu.load_mnist_arrays()` reads the same verified files as the PyTorch chapter and returns NumPy
# arrays. We flatten each image into 784 values and scale the bytes to
# $[0, 1]$, exactly what `ToTensor` does there (the comparison with PyTorch
# below checks it, bit for bit):

# %%
X_train, y_train, X_test, y_test = tu.load_mnist_arrays()
X_train = X_train.reshape(len(X_train), -1).astype(np.float32) / 255
X_test = X_test.reshape(len(X_test), -1).astype(np.float32) / 255
print(
    f"X_train: {X_train.shape} {X_train.dtype}, "
    f"values {X_train.min():.1f} to {X_train.max():.1f}"
)
print(f"y_train: {y_train.shape} {y_train.dtype}")
print(f"X_test:  {X_test.shape} {X_test.dtype}")
print("training images per digit:")
print(np.bincount(y_train).tolist())

# %% [markdown]
# ## The model
#
# A Keras `Dense` layer computes $\mathbf{z} = \mathbf{x} W + \mathbf{b}$: its kernel $W$ is
# `(784, 10)`, the transpose of PyTorch's `Linear.weight`, which is `(10, 784)` and computes
# $\mathbf{x} W^\top + \mathbf{b}$. The layer returns logits; the loss applies the softmax itself
# (`from_logits=True`), with the log-sum-exp trick of the PyTorch chapter.


# %% tags=["export", "twin-model"]
def softmax_regression(
    num_features: int = 784, num_classes: int = 10
) -> keras.Model:
    """Logits of a `num_features -> num_classes` layer started at zero."""
    return keras.Sequential(
        [
            keras.Input(shape=(num_features,)),
            keras.layers.Dense(
                num_classes,
                kernel_initializer="zeros",
                bias_initializer="zeros",
            ),
        ]
    )


def cross_entropy() -> keras.losses.Loss:
    """Mean softmax cross-entropy of integer labels, from logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# %% [markdown]
# ## The Keras way: `compile` and `fit`
#
# `compile` attaches the optimizer, the loss and a metric; `fit` runs the loop: it shuffles the
# training set every epoch (seeded by `keras.utils.set_random_seed`), takes one SGD step per batch
# of 256 (the last batch holds the remaining 96 images, as in PyTorch's
# `DataLoader`), and evaluates the test set after every epoch. Its `loss` is
# the epoch's mean cost per image: each batch's cost, taken as the batch is
# trained on, weighted by the number of images in the batch, so the short last
# batch counts less than the others.

# %%
keras.utils.set_random_seed(random_seed)
model = softmax_regression(num_features, num_classes)
model.compile(
    optimizer=keras.optimizers.SGD(learning_rate),
    loss=cross_entropy(),
    metrics=["accuracy"],
)
start = time.perf_counter()
history = model.fit(
    X_train,
    y_train,
    batch_size=batch_size,
    epochs=num_epochs,
    shuffle=True,
    validation_data=(X_test, y_test),
    verbose=0,
)
fit_seconds = time.perf_counter() - start
for epoch in range(num_epochs):
    mean_cost = history.history["loss"][epoch]
    test_percent = 100 * history.history["val_accuracy"][epoch]
    print(
        f"Epoch: {epoch + 1:03d}/{num_epochs:03d} | mean cost {mean_cost:.3f} "
        f"| test accuracy: {test_percent:.2f}%"
    )
print(f"Training time: {fit_seconds:.1f} s")


# %%
def accuracy(
    model: keras.Model, features: np.ndarray, labels: np.ndarray
) -> float:
    """Percentage of `features` whose largest logit is at the true label."""
    logits = model(features, training=False)
    return float(np.mean(np.argmax(logits, axis=1) == labels) * 100)


fit_train_accuracy, fit_test_accuracy = (
    accuracy(model, X_train, y_train),
    accuracy(model, X_test, y_test),
)
print(
    f"Final training accuracy: {fit_train_accuracy:.2f}% | "
    f"final test accuracy: {fit_test_accuracy:.2f}%"
)
assert fit_test_accuracy >= 91.5, (
    f"test accuracy {fit_test_accuracy:.2f}% is below 91.5%"
)


# %% tags=["hide-input"]
# The text above: a last batch of 96 images, and fit's `loss` is a mean per
# image, weighted by batch size. Shown with a learning rate of 0 (the weights
# stay put) on 256 + 96 images, from the trained weights.
assert len(X_train) % batch_size == 96
still = softmax_regression(num_features, num_classes)
still.set_weights(model.get_weights())
still.compile(optimizer=keras.optimizers.SGD(0.0), loss=cross_entropy())
few_x, few_y = X_train[: batch_size + 96], y_train[: batch_size + 96]
one_epoch = still.fit(
    few_x, few_y, batch_size=batch_size, shuffle=False, verbose=0
)
reported = one_epoch.history["loss"][0]
per_image = keras.losses.SparseCategoricalCrossentropy(
    from_logits=True, reduction=None
)(few_y, still(few_x)).numpy()
per_batch = [per_image[:batch_size].mean(), per_image[batch_size:].mean()]
assert abs(reported - per_image.mean()) <= 1e-5
assert abs(reported - np.mean(per_batch)) > 1e-3
tu.glue("test_accuracy", round(fit_test_accuracy, 2))
tu.glue("train_accuracy", round(fit_train_accuracy, 2))

# %% [markdown]
# The same accuracy as the PyTorch chapter's, to within a few tenths of a percentage point; not
# the same digits, because `fit` shuffles the batches in another order than PyTorch's loader
# does. (The book's tests check that the two chapters agree within 0.3 percentage points.)
#
# ## Our own loop: `tf.GradientTape` and `tf.data`
#
# `fit` hides the loop. Written out, one training step records the forward pass on a tape, asks
# the tape for the gradients, and lets the optimizer apply them: the TensorFlow spelling of
# PyTorch's `backward()` and `step()`. `tf.function` traces the step into a
# graph at its first call, and again for each new shape of its inputs: in the
# loop below twice, for the batches of 256 and for the last one of 96. Every
# other call runs one of the two graphs.


# %% tags=["export", "twin-step"]
def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer):
    """A compiled step: one SGD update on a batch; returns its mean cost."""
    loss_fn = cross_entropy()

    @tf.function
    def train_step(features, targets):
        with tf.GradientTape() as tape:
            cost = loss_fn(targets, model(features, training=True))
        gradients = tape.gradient(cost, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return cost

    return train_step


# %% [markdown]
# `tf.data` plays the part of `DataLoader`: `shuffle` with a buffer as large as the training set
# draws a new order every epoch, and `batch` cuts it into batches of 256. The loop logs the cost
# every 50 batches and reports both accuracies after every epoch, as the PyTorch chapter does.

# %%
keras.utils.set_random_seed(random_seed)
tape_model = softmax_regression(num_features, num_classes)
train_step = make_train_step(tape_model, keras.optimizers.SGD(learning_rate))
train_batches = (
    tf.data.Dataset.from_tensor_slices((X_train, y_train))
    .shuffle(len(X_train), seed=random_seed)
    .batch(batch_size)
)

last_batch = len(X_train) // batch_size
start = time.perf_counter()
for epoch in range(num_epochs):
    epoch_label = f"Epoch: {epoch + 1:03d}/{num_epochs:03d}"
    for batch_idx, (features, targets) in enumerate(train_batches):
        cost = train_step(features, targets)
        if not batch_idx % 50:
            print(
                f"{epoch_label} | Batch {batch_idx:03d}/{last_batch:03d} "
                f"| Cost: {float(cost):.3f}"
            )
    train_percent = accuracy(tape_model, X_train, y_train)
    test_percent = accuracy(tape_model, X_test, y_test)
    print(
        f"{epoch_label} training accuracy: {train_percent:.2f}% "
        f"| test accuracy: {test_percent:.2f}%"
    )
print(f"Training time: {time.perf_counter() - start:.1f} s")
tape_test_accuracy = accuracy(tape_model, X_test, y_test)
assert tape_test_accuracy >= 91.5, (
    f"test accuracy {tape_test_accuracy:.2f}% is below 91.5%"
)

# %% tags=["hide-input"]
# The text above: two traces over the ten epochs, and a new order in every
# pass over `train_batches`.
assert train_step.experimental_get_tracing_count() == 2
first_labels = [next(iter(train_batches))[1].numpy() for _ in range(2)]
assert not np.array_equal(*first_labels)
tu.glue("tape_test_accuracy", round(tape_test_accuracy, 2))
tu.glue("tape_train_accuracy", round(train_percent, 2))  # the last epoch's

# %% [markdown]
# ## What the model learned, and where it goes wrong
#
# The kernel's ten columns, one per digit, drawn as 28x28 images (red raises the digit's score,
# blue lowers it), and the confusion matrix of the test set:

# %%
kernel, bias = tape_model.layers[0].get_weights()
print(
    f"kernel: {kernel.shape} | range {kernel.min():.3f} to {kernel.max():.3f}"
)
tu.plot_image_grid(
    kernel.T,
    titles=[f"digit {k}" for k in range(num_classes)],
    ncols=5,
    cmap="RdBu_r",
    symmetric=True,
    panel_size=1.6,
)
plt.show()

# %%
predictions = np.argmax(tape_model(X_test, training=False), axis=1)
matrix = tu.confusion_matrix(y_test, predictions, num_classes=num_classes)
off_diagonal = matrix - np.diag(matrix.diagonal())
true_k, predicted_k = divmod(int(off_diagonal.argmax()), num_classes)
n_wrong = int((predictions != y_test).sum())
print(f"misclassified test digits: {n_wrong} of {len(y_test)}")
print(
    f"most frequent mistake: {true_k} predicted as {predicted_k} "
    f"({off_diagonal.max()} times)"
)
tu.plot_confusion_matrix(matrix, title="Test set: true vs predicted digit")
plt.show()

# %% [markdown]
# ## Do TensorFlow and PyTorch compute the same thing?
#
# Same accuracy is a weak answer: many different models reach 92%. The strong answer compares
# the parameters themselves. We give both frameworks the same starting weights (small random
# values from one NumPy generator, so that every weight matters) and the same batch order, train
# one epoch (235 SGD steps) in each, and compare every parameter. PyTorch's side is the chapter's
# own model, `SoftmaxRegression`, as `tutorial_utils` exports it; its weight is the transpose of
# the Keras kernel.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the largest difference is a
# few float32 rounding errors, whose size depends on the kernels each
# framework uses on this processor. The assertion checks the claim: the two
# epochs agree to within 1e-5.
import warnings

import torch
import torch.nn.functional as F

# Without a GPU, TensorFlow's CUDA probe makes PyTorch's warn; both run on
# the CPU here.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.cuda.is_available()

rng = np.random.default_rng(random_seed)
start_kernel = rng.normal(0.0, 0.01, size=(num_features, num_classes)).astype(
    np.float32
)
start_bias = rng.normal(0.0, 0.01, size=num_classes).astype(np.float32)
order = rng.permutation(len(X_train))
batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

tf_model = softmax_regression(num_features, num_classes)
tf_model.layers[0].set_weights([start_kernel, start_bias])
tf_step = make_train_step(tf_model, keras.optimizers.SGD(learning_rate))
for index in batches:
    tf_step(X_train[index], y_train[index])

torch.set_num_threads(1)
torch_model = tu.SoftmaxRegression(num_features, num_classes)
with torch.no_grad():
    torch_model.linear.weight.copy_(torch.from_numpy(start_kernel.T))
    torch_model.linear.bias.copy_(torch.from_numpy(start_bias))
torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=learning_rate)
features, targets = torch.from_numpy(X_train), torch.from_numpy(y_train)
for index in batches:
    logits, _ = torch_model(features[index])
    cost = F.cross_entropy(logits, targets[index])
    torch_optimizer.zero_grad()
    cost.backward()
    torch_optimizer.step()

tf_kernel, tf_bias = tf_model.layers[0].get_weights()
difference = max(
    np.abs(tf_kernel - torch_model.linear.weight.detach().numpy().T).max(),
    np.abs(tf_bias - torch_model.linear.bias.detach().numpy()).max(),
)
moved = np.abs(tf_kernel - start_kernel).max()
print(
    f"{len(batches)} steps in each framework; "
    f"the largest parameter moved by {moved:.3f}"
)
print(
    "largest difference between the TensorFlow and the PyTorch parameters: "
    f"{difference:.1e}"
)
assert difference <= 1e-5, (
    f"the frameworks differ by {difference:.1e}, "
    "more than float32 rounding explains"
)

# %% tags=["hide-input", "nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the glued difference is the
# rounding error printed above. The assertions check the text: 235 steps that
# moved the parameters by tenths, every one of them moving some parameter by
# more than a hundred times 1e-5, and pixels scaled exactly as ToTensor does.
from torchvision.transforms.functional import to_tensor

assert len(batches) == 235 and 0.1 < moved < 1
replay = softmax_regression(num_features, num_classes)
replay.layers[0].set_weights([start_kernel, start_bias])
replay_step = make_train_step(replay, keras.optimizers.SGD(learning_rate))
step_changes = []
for index in batches:
    before = replay.layers[0].get_weights()
    replay_step(X_train[index], y_train[index])
    after = replay.layers[0].get_weights()
    changes = [np.abs(a - b).max() for a, b in zip(after, before)]
    step_changes.append(max(changes))
assert min(step_changes) > 100 * 1e-5
for X in (X_train, X_test):
    pixels = np.round(X * 255).astype(np.uint8).reshape(-1, 28, 28)
    scaled = torch.stack([to_tensor(image) for image in pixels])
    assert np.array_equal(scaled.reshape(len(X), -1).numpy(), X)
del X, pixels, scaled
tu.glue("framework_difference", float(f"{difference:.1e}"))

# %% [markdown]
# After 235 steps that moved the parameters by tenths, the largest difference
# between the two frameworks is {glue:text}`framework_difference:.1e`: rounding
# errors (float32 resolves about 7 significant digits, and the two frameworks
# add their sums in different orders). The assertion allows $10^{-5}$, more
# than a hundred times less than the change that even the smallest of the 235
# steps made to the parameters: any real difference in the model, the loss,
# the gradient or the update would break it.
#
# ## Summary
#
# - Keras' `Dense` layer is PyTorch's `Linear` with the kernel transposed;
#   `SparseCategoricalCrossentropy(from_logits=True)` is `F.cross_entropy`.
# - `compile` + `fit` is the whole loop in two calls; `tf.GradientTape` with `apply_gradients`,
#   compiled by `tf.function`, is the loop written out, and `tf.data` feeds it.
# - `fit` reaches {glue:text}`test_accuracy`% test accuracy and the loop
#   written out {glue:text}`tape_test_accuracy`%, both within 0.3 percentage
#   points of the PyTorch chapter's (the book's tests check it), and one epoch
#   in TensorFlow ends at the same parameters as one in PyTorch, to within
#   $10^{-5}$.
#
# ## Exercises
#
# ````{exercise} A softmax layer in the model
# :label: ex-05-softmax-mnist-tensorflow-1
# Replace `from_logits=True` by a softmax layer at the end of the model and
# `from_logits=False` in the loss. Compute the cost and its gradient for the
# confident mistake of the PyTorch chapter (logits 100, 0 and −100, true
# class 2) that way, with the softmax layer and `from_logits=True`, and with
# probabilities from `tf.nn.softmax`. When does Keras warn, and when does it
# lose precision?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-tensorflow-1
# :class: dropdown
# ````
# On the TensorFlow backend, Keras' softmax keeps its input, the logits,
# beside its output, and the loss takes them from there: a softmax layer with
# `from_logits=False` loses nothing. With `from_logits=True` on a softmax
# output Keras warns that the output is not logits, and uses the logits all
# the same. Probabilities from `tf.nn.softmax` carry no such logits. Called
# eagerly, the loss clips them to $[\epsilon, 1 - \epsilon]$, with
# $\epsilon$ = `keras.config.epsilon()` = $10^{-7}$, before the logarithm.
# Inside a `tf.function`, where the training step and `fit` run, it looks at
# the operation that made them, and when that is a softmax it takes the
# softmax's input as the logits. Predictions saved as an array have no such
# operation behind them, and are always clipped.

# %%
logits = tf.constant([[100.0, 0.0, -100.0]])
target = tf.constant([2])
from_probas = keras.losses.SparseCategoricalCrossentropy(from_logits=False)
softmax_layer = keras.layers.Softmax()


def cost_and_gradient(loss_fn, output_of, z):
    with tf.GradientTape() as tape:
        cost = loss_fn(target, output_of(z))
    return cost, tape.gradient(cost, z)


cases = [
    ("logits, from_logits=True", cross_entropy(), tf.identity, False),
    ("softmax layer, from_logits=False", from_probas, softmax_layer, False),
    ("softmax layer, from_logits=True", cross_entropy(), softmax_layer, False),
    ("tf.nn.softmax, from_logits=False", from_probas, tf.nn.softmax, False),
    ("the same, in a tf.function", from_probas, tf.nn.softmax, True),
]
not_logits = "received `from_logits=True`, but the `output` argument"
print(f"{'output, loss':<32} |    cost | gradient         | warns")
results = {}
for name, loss_fn, output_of, compiled in cases:
    run = tf.function(cost_and_gradient) if compiled else cost_and_gradient
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cost, gradient = run(loss_fn, output_of, tf.Variable(logits))
    gradient = gradient.numpy()[0] + 0.0  # no -0.0
    cost = float(cost)
    warns = any(not_logits in str(warning.message) for warning in caught)
    shown = "(" + ", ".join(f"{g:.1f}" for g in gradient) + ")"
    results[name] = cost, gradient.tolist(), warns
    shown_warns = "yes" if warns else "no"
    print(f"{name:<32} | {cost:7.3f} | {shown:<16} | {shown_warns}")

# %% tags=["hide-input"]
# The table and the text around it: four exact rows, one warning, and the
# eager tf.nn.softmax clipped at epsilon with no gradient (every probability
# is clipped); `fit` runs compiled; saved probabilities are clipped eagerly
# and in a tf.function alike; a true class's probability below epsilon, with
# the others unclipped, caps the cost and leaves a gradient below 1e-6 where
# the logits give one of about 1.
exact = (200.0, [1.0, 0.0, -1.0])
assert results["logits, from_logits=True"] == (*exact, False)
assert results["softmax layer, from_logits=False"] == (*exact, False)
assert results["softmax layer, from_logits=True"] == (*exact, True)
assert results["the same, in a tf.function"] == (*exact, False)
epsilon = keras.config.epsilon()
clipped_cost, clipped_gradient, _ = results["tf.nn.softmax, from_logits=False"]
assert epsilon == 1e-7 and abs(clipped_cost + np.log(epsilon)) < 1e-3
assert clipped_gradient == [0.0, 0.0, 0.0]
assert not model.run_eagerly
saved = tf.nn.softmax(logits).numpy()
in_graph = tf.function(lambda probas: from_probas(target, probas))
for cost in (from_probas(target, saved), in_graph(saved)):
    assert abs(float(cost) - clipped_cost) < 1e-6
z = tf.Variable([[1.0, 0.6, -19.0]])
p = tf.nn.softmax(z).numpy()[0]  # 0.6, 0.4 and 1.2e-9
assert p[2] < epsilon and np.all((epsilon < p[:2]) & (p[:2] < 1 - epsilon))
cost, clipped = cost_and_gradient(from_probas, tf.nn.softmax, z)
_, unclipped = cost_and_gradient(cross_entropy(), tf.identity, z)
assert abs(float(cost) + np.log(epsilon)) < 1e-3
assert np.abs(clipped).max() < 1e-6 and np.abs(unclipped).max() > 0.9

# %% [markdown]
# Four of the five agree: the exact cost, 200, and the gradient
# $\mathbf{p} - \text{one-hot}(y)$. The probabilities of the eager
# `tf.nn.softmax` are clipped: that caps the cost at
# $-\ln 10^{-7} \approx 16.1$, and since here every probability is clipped,
# it gives no gradient at all, so the model's worst mistakes stop teaching
# it. Whenever the loss gets probabilities without logits (eagerly, or saved
# as an array) and the true class's is below $10^{-7}$, the cost is capped
# the same way and almost no gradient is left: with logits 1, 0.6 and −19 and
# class 2 as the true one, only the true class's probability is clipped, and
# the gradient is below $10^{-6}$ instead of about 1.
#
# ````{solution-end}
# ````
#
# ````{exercise} An eager training step
# :label: ex-05-softmax-mnist-tensorflow-2
# Run the training step without `@tf.function` (its undecorated Python
# function is `train_step.python_function`) for 50 batches, and time it
# against the compiled step. Why is it slower, and does it compute the same
# parameters?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-tensorflow-2
# :class: dropdown
# ````
# Run eagerly, every operation of the step (the matrix product, the loss,
# each gradient, each update) is dispatched from Python one at a time, each
# with its own overhead. The compiled step is traced into a graph once for
# each shape of its inputs (here once: every batch holds 256 images), and
# every call then runs the whole graph in TensorFlow's runtime, which can also
# fuse operations. For a model this small the overhead is a large part of the
# time; for a large model the operations themselves dominate. Each version
# below is timed three times over 50 batches, and the best time counts (the
# compiled step's first round includes its tracing).


# %%
def seconds_for_50_steps(step):
    start = time.perf_counter()
    for i in range(50):
        index = slice(i * batch_size, (i + 1) * batch_size)
        step(X_train[index], y_train[index])
    return time.perf_counter() - start


graph_model = softmax_regression(num_features, num_classes)
eager_model = softmax_regression(num_features, num_classes)
graph_step = make_train_step(graph_model, keras.optimizers.SGD(learning_rate))
eager_step = make_train_step(
    eager_model, keras.optimizers.SGD(learning_rate)
).python_function
graph_seconds = min(seconds_for_50_steps(graph_step) for _ in range(3))
eager_seconds = min(seconds_for_50_steps(eager_step) for _ in range(3))
gap = max(
    np.abs(graph - eager).max()
    for graph, eager in zip(
        graph_model.layers[0].get_weights(),
        eager_model.layers[0].get_weights(),
    )
)  # kernel and bias
traces = graph_step.experimental_get_tracing_count()
print(f"50 steps compiled: {graph_seconds:.3f} s, traced {traces} time(s)")
print(f"50 steps eagerly:  {eager_seconds:.3f} s")
print(f"eagerly {eager_seconds / graph_seconds:.1f}x slower")
print("the same parameters, to within 1e-6, after 150 steps:", gap <= 1e-6)
assert traces == 1 and gap <= 1e-6
assert eager_seconds > graph_seconds

# %% [markdown]
# The compiled step was traced once and then reused for every batch, and both
# versions end at the same kernel and bias to within $10^{-6}$ (not
# necessarily bit for bit: the graph may order a sum differently).
#
# ````{solution-end}
# ````
#
# ````{exercise} A small shuffle buffer
# :label: ex-05-softmax-mnist-tensorflow-3
# Give `tf.data`'s `shuffle` a buffer of 1,000 instead of 60,000. How far
# can an image move from its place in the stored order, and what would that
# do to a training set stored sorted by digit?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-tensorflow-3
# :class: dropdown
# ````
# `shuffle` fills a buffer with the first 1,000 elements, hands out a random
# one and refills its place with the next element in the stored order. An
# image can only come out after it has entered the buffer, so no image moves
# forward by more than 999 places, and the first batch of 256 comes from the
# first 1,255 images. The code below shuffles the indices of the training
# set, and uses them once on MNIST's stored order and once on the same images
# sorted by digit.


# %%
def shuffled_order(buffer_size):
    """The order in which `shuffle` with this buffer hands out the images."""
    dataset = (
        tf.data.Dataset.range(len(X_train))
        .shuffle(buffer_size, seed=random_seed)
        .batch(batch_size)
    )
    return np.concatenate(list(dataset.as_numpy_iterator()))


by_digit = np.argsort(y_train, kind="stable")  # the training set, sorted
position = np.arange(len(X_train))
orders = {size: shuffled_order(size) for size in (1_000, 60_000)}
for buffer_size, order in orders.items():
    moves, first = order - position, order[:batch_size]
    sorted_digits = np.unique(y_train[by_digit[first]]).tolist()
    print(f"buffer of {buffer_size:,}:")
    print(
        f"  an image moves at most {moves.max()} places forward, "
        f"{np.abs(moves).mean():.0f} on average either way"
    )
    print(f"  digits in the first batch: {np.unique(y_train[first]).tolist()}")
    print(f"  the same, sorted by digit: {sorted_digits}")
small, full = orders[1_000], orders[60_000]
all_digits = list(range(num_classes))
assert (small - position).max() <= 999
assert small[:batch_size].max() < 1_255  # indices 0 to 1,254
assert np.unique(y_train[small[:batch_size]]).tolist() == all_digits
assert np.unique(y_train[by_digit[small[:batch_size]]]).tolist() == [0]
assert np.unique(y_train[by_digit[full[:batch_size]]]).tolist() == all_digits

# %% [markdown]
# MNIST's files already mix the digits, so even the small buffer's first
# batch holds all ten. Sorted by digit, the same buffer gives a first batch of
# zeros only, while a buffer as large as the data set mixes all ten digits into
# it.
#
# ````{solution-end}
# ````
#
# ````{exercise} A zero start in the comparison
# :label: ex-05-softmax-mnist-tensorflow-4
# In the comparison of the two frameworks, start both at zero instead of
# random weights (50 batches are enough). Does the difference change? Then
# copy the starting kernel into PyTorch wrongly, with `reshape(10, 784)`
# instead of `.T`: which of the two starts notices the mistake?
# ````
#
# ````{solution-start} ex-05-softmax-mnist-tensorflow-4
# :class: dropdown
# ````
# From zeros the two frameworks again agree to within $10^{-5}$, but the
# check is weaker: every starting weight is the same number, so a mistake in
# how weights are carried from one framework to the other cannot show. A
# random start gives every weight its own value, and the wrong copy stands out
# by orders of magnitude. The function below runs both frameworks side by
# side, batch by batch, in the order of the comparison.


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the differences are float32
# rounding errors, whose size depends on the kernels each framework uses on
# this processor, except for the wrong copy. The assertions check the claims.
def framework_gap(kernel, bias, to_weight, steps=50):
    """Largest parameter difference after `steps` batches in each framework."""
    tf_model = softmax_regression(num_features, num_classes)
    tf_model.layers[0].set_weights([kernel, bias])
    tf_step = make_train_step(tf_model, keras.optimizers.SGD(learning_rate))
    torch_model = tu.SoftmaxRegression(num_features, num_classes)
    with torch.no_grad():
        torch_model.linear.weight.copy_(torch.from_numpy(to_weight(kernel)))
        torch_model.linear.bias.copy_(torch.from_numpy(bias))
    optimizer = torch.optim.SGD(torch_model.parameters(), lr=learning_rate)
    for index in batches[:steps]:
        tf_step(X_train[index], y_train[index])
        logits, _ = torch_model(features[index])
        cost = F.cross_entropy(logits, targets[index])
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
    tf_kernel, tf_bias = tf_model.layers[0].get_weights()
    return max(
        np.abs(tf_kernel - torch_model.linear.weight.detach().numpy().T).max(),
        np.abs(tf_bias - torch_model.linear.bias.detach().numpy()).max(),
    )


starts = {
    "zeros": (np.zeros_like(start_kernel), np.zeros_like(start_bias)),
    "random": (start_kernel, start_bias),
}
copies = {
    "transposed": lambda kernel: kernel.T,
    "reshaped": lambda kernel: kernel.reshape(num_classes, num_features),
}
print("start  | kernel copied | largest difference after 50 steps")
gaps = {}
for start_name, (kernel, bias) in starts.items():
    for copy_name, to_weight in copies.items():
        gaps[start_name, copy_name] = framework_gap(kernel, bias, to_weight)
        print(
            f"{start_name:<6} | {copy_name:<13} | "
            f"{gaps[start_name, copy_name]:.1e}"
        )
assert max(gaps["zeros", "transposed"], gaps["zeros", "reshaped"]) <= 1e-5
assert gaps["random", "transposed"] <= 1e-5
assert gaps["random", "reshaped"] > 1e-3

# %% [markdown]
# From zeros the wrong copy passes the check; from random weights it fails it
# by far more than the allowed $10^{-5}$.
#
# ````{solution-end}
# ````
