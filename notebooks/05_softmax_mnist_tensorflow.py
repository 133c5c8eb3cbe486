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
# 5. prove that TensorFlow and PyTorch compute the same thing: from the same starting weights and
#    the same batch order, one epoch in each gives the same parameters to float32 rounding.
#
# TensorFlow is imported with its start-up log lines silenced, and Keras is Keras 3, the one that
# TensorFlow 2.16 and later ship with:

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

# %% tags=["export"]
import numpy as np

import tutorial_utils as tu

tf = tu.import_tensorflow()
import keras  # noqa: E402  (after TensorFlow: Keras 3 runs on it)

# %%
import time

import matplotlib.pyplot as plt

tf.config.threading.set_intra_op_parallelism_threads(
    1
)  # one thread, as the PyTorch chapter: see there
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
# arrays. We flatten each image into 784 values and scale the bytes to $[0, 1]$, exactly what
# `ToTensor` does there:

# %%
X_train, y_train, X_test, y_test = tu.load_mnist_arrays()
X_train = X_train.reshape(len(X_train), -1).astype(np.float32) / 255
X_test = X_test.reshape(len(X_test), -1).astype(np.float32) / 255
print(
    f"X_train: {X_train.shape} {X_train.dtype}, values {X_train.min():.1f} to {X_train.max():.1f} | y_train: {y_train.shape} {y_train.dtype}"
)
print(
    f"X_test:  {X_test.shape} {X_test.dtype} | training images per digit: {np.bincount(y_train).tolist()}"
)

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
    """`num_features -> num_classes` logits, every weight and bias starting at zero."""
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
    """The mean softmax cross-entropy of integer labels, computed from logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


# %% [markdown]
# ## The Keras way: `compile` and `fit`
#
# `compile` attaches the optimizer, the loss and a metric; `fit` runs the loop: it shuffles the
# training set every epoch (seeded by `keras.utils.set_random_seed`), takes one SGD step per batch
# of 256 (the last batch holds the remaining 96 images, as in PyTorch's `DataLoader`), and
# evaluates the test set after every epoch. Its `loss` is the mean cost over the epoch's batches.

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
    print(
        f"Epoch: {epoch + 1:03d}/{num_epochs:03d} | mean cost {history.history['loss'][epoch]:.3f} "
        f"| test accuracy: {100 * history.history['val_accuracy'][epoch]:.2f}%"
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
    f"Final training accuracy: {fit_train_accuracy:.2f}% | final test accuracy: {fit_test_accuracy:.2f}%"
)
assert fit_test_accuracy >= 91.5, (
    f"test accuracy {fit_test_accuracy:.2f}% is below 91.5%"
)
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
# PyTorch's `backward()` and `step()`. `tf.function` traces the step once into a graph.


# %% tags=["export", "twin-step"]
def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer):
    """A compiled training step: one SGD update on a batch, returning its mean cost."""
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

start = time.perf_counter()
for epoch in range(num_epochs):
    for batch_idx, (features, targets) in enumerate(train_batches):
        cost = train_step(features, targets)
        if not batch_idx % 50:
            print(
                f"Epoch: {epoch + 1:03d}/{num_epochs:03d} | Batch {batch_idx:03d}/{len(X_train) // batch_size:03d} | Cost: {float(cost):.3f}"
            )
    print(
        f"Epoch: {epoch + 1:03d}/{num_epochs:03d} training accuracy: {accuracy(tape_model, X_train, y_train):.2f}% "
        f"| test accuracy: {accuracy(tape_model, X_test, y_test):.2f}%"
    )
print(f"Training time: {time.perf_counter() - start:.1f} s")
tape_test_accuracy = accuracy(tape_model, X_test, y_test)
assert tape_test_accuracy >= 91.5, (
    f"test accuracy {tape_test_accuracy:.2f}% is below 91.5%"
)
tu.glue("tape_test_accuracy", round(tape_test_accuracy, 2))

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
print(
    f"misclassified test digits: {int((predictions != y_test).sum())} of {len(y_test)}"
)
print(
    f"most frequent mistake: {true_k} predicted as {predicted_k} ({off_diagonal.max()} times)"
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
# Path-dependent output (not compared by nbval): the largest difference is a few float32 rounding
# errors, whose size depends on the kernels each framework uses on this processor. The assertion
# checks the claim: the two epochs agree to float32 rounding.
import warnings

import torch
import torch.nn.functional as F

with warnings.catch_warnings():  # without a GPU, TensorFlow's CUDA probe makes PyTorch's warn; both run on the CPU here
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
    f"{len(batches)} steps in each framework; the largest parameter moved by {moved:.3f}"
)
print(
    f"largest difference between the TensorFlow and the PyTorch parameters: {difference:.1e}"
)
tu.glue("framework_difference", float(f"{difference:.1e}"))
assert difference <= 1e-5, (
    f"the frameworks differ by {difference:.1e}, more than float32 rounding explains"
)

# %% [markdown]
# After 235 steps that moved the parameters by tenths, the two frameworks agree to about $10^{-7}$,
# a few float32 rounding errors (float32 resolves about 7 significant digits, and the two
# frameworks add their sums in different orders). The assertion allows $10^{-5}$, a hundred times
# more than such rounding and ten thousand times less than a single step's change: any real
# difference in the model, the loss, the gradient or the update would break it.
#
# ## Summary
#
# - Keras' `Dense` layer is PyTorch's `Linear` with the kernel transposed;
#   `SparseCategoricalCrossentropy(from_logits=True)` is `F.cross_entropy`.
# - `compile` + `fit` is the whole loop in two calls; `tf.GradientTape` with `apply_gradients`,
#   compiled by `tf.function`, is the loop written out, and `tf.data` feeds it.
# - Both ways reach {glue:text}`test_accuracy`% test accuracy, as the PyTorch chapter does, and
#   one epoch in TensorFlow ends at the same parameters as one in PyTorch, to float32 rounding.
#
# ## Exercises
#
# 1. Replace `from_logits=True` by a softmax layer in the model and `from_logits=False` in the
#    loss. Why does Keras warn about this combination, and when does it lose precision?
# 2. Remove `@tf.function` from the training step. How much slower is an epoch, and why?
# 3. Give `tf.data`'s `shuffle` a buffer of 1,000 instead of 60,000. How random is the order then?
# 4. In the comparison of the two frameworks, start both at zero instead of random weights. Does
#    the difference change, and what does that say about the strength of the check?
