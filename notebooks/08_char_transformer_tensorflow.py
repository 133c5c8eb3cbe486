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
# # A character Transformer, in TensorFlow and Keras
#
# *The PyTorch twin of this chapter is [chapter 8](08_char_transformer.ipynb),
# which explains attention, the model and its validation in windows.
# The data and the score are [chapter 6](06_char_rnn.ipynb)'s.*
#
# Here we build chapter 8's model in Keras 3, with Keras' own attention
# layer, `keras.layers.MultiHeadAttention` called with
# `use_causal_mask=True`. We will
#
# 1. prepare the same text and validation split as the PyTorch chapters;
# 2. write the model as a `keras.Model` of embeddings, pre-norm blocks and
#    a `Dense` read-out;
# 3. copy the PyTorch model's weights into it and check that the two
#    compute the same logits, the same loss and the same gradients;
# 4. train it with chapter 8's recipe (AdamW, a warm-up and cosine
#    schedule, clipping, the unigram bias) and score it in the same
#    windows;
# 5. sample at three temperatures.

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
import math
import textwrap
import time

import numpy as np

import tutorial_utils as tu

tf = tu.import_tensorflow()
import keras  # noqa: E402  (after TensorFlow: Keras 3 runs on it)
from keras import layers  # noqa: E402

from tutorial_utils.charrnn_tf import WarmupCosine  # noqa: E402

print("TensorFlow", tf.__version__, "| Keras", keras.__version__)

# %% [markdown]
# ## The data
#
# The cleaned novel over the 100 characters of `string.printable`, as
# NumPy arrays, with its last 10% held out, as in chapters 6 and 8:

# %%
text = tu.clean_text(tu.load_novel_text())
encoded = tu.encode_text(text)
cut = round(len(encoded) * 0.9)
train_data, valid_data = encoded[:cut], encoded[cut:]
print(f"training: {len(train_data):,} characters")
print(f"validation: {len(valid_data):,} characters")

# %% [markdown]
# ## The model
#
# A block is chapter 8's: a `LayerNormalization`, causal attention over 4
# heads of 24, a residual sum, another `LayerNormalization` and a
# two-layer network with the GELU, and a second residual sum. Keras'
# `LayerNormalization` has $\epsilon = 10^{-3}$ by default, PyTorch's
# $10^{-5}$; we give it PyTorch's. `MultiHeadAttention` takes the
# queries' input and the keys' and values' input separately (here both
# are the block's), with `key_dim`, the size of one head.


# %%
class Block(layers.Layer):
    """A pre-norm block: causal attention, then a 4x-wide MLP."""

    def __init__(
        self, d_model: int = 96, n_heads: int = 4, causal=True, **kwargs
    ):
        super().__init__(**kwargs)
        self.causal = causal
        self.ln1 = layers.LayerNormalization(epsilon=1e-5)
        self.attention = layers.MultiHeadAttention(
            num_heads=n_heads, key_dim=d_model // n_heads
        )
        self.ln2 = layers.LayerNormalization(epsilon=1e-5)
        self.expand = layers.Dense(4 * d_model, activation="gelu")
        self.contract = layers.Dense(d_model)

    def call(self, x):
        normed = self.ln1(x)
        x = x + self.attention(normed, normed, use_causal_mask=self.causal)
        return x + self.contract(self.expand(self.ln2(x)))


class CharTransformer(keras.Model):
    """Token and position embeddings -> blocks -> LayerNormalization ->
    Dense: chapter 8's decoder-only model."""

    def __init__(
        self,
        vocab_size: int = 100,
        d_model: int = 96,
        n_heads: int = 4,
        n_layers: int = 3,
        context: int = 64,
        causal: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.context = context
        self.token = layers.Embedding(vocab_size, d_model)
        self.position = layers.Embedding(context, d_model)
        self.blocks = [
            Block(d_model, n_heads, causal) for _ in range(n_layers)
        ]
        self.ln = layers.LayerNormalization(epsilon=1e-5)
        self.dense = layers.Dense(vocab_size)

    def call(self, inputs):
        positions = keras.ops.arange(keras.ops.shape(inputs)[1])
        x = self.token(inputs) + self.position(positions)[None]
        for block in self.blocks:
            x = block(x)
        return self.dense(self.ln(x))


keras.utils.set_random_seed(0)
model = CharTransformer()
logits = model(train_data[None, :64])
print("logits:", tuple(logits.shape))
print(f"{model.count_params():,} parameters")

# %% tags=["hide-input"]
# The text: Keras' default LayerNormalization epsilon, the "gelu"
# activation is the exact one, and the count is the PyTorch model's.
import warnings  # noqa: E402

import torch  # noqa: E402

from tutorial_utils.transformer import CharTransformer as TorchTransformer

with warnings.catch_warnings():  # TensorFlow's CUDA probe makes PyTorch's warn
    warnings.simplefilter("ignore")
    torch.cuda.is_available()
assert layers.LayerNormalization().epsilon == 1e-3
assert torch.nn.LayerNorm(96).eps == 1e-5
probe = np.linspace(-4, 4, 101, dtype=np.float32)
exact_gelu = torch.nn.functional.gelu(torch.from_numpy(probe)).numpy()
assert np.allclose(
    keras.activations.get("gelu")(probe), exact_gelu, rtol=0, atol=1e-6
)
torch_count = sum(p.numel() for p in TorchTransformer().parameters())
assert model.count_params() == torch_count == 361_156

# %% [markdown]
# It has the PyTorch model's 361,156 parameters, in different shapes:
# Keras keeps the queries of all heads in one `(96, 4, 24)` kernel
# (input, head, feature within the head) and the keys and the values in
# two more, where PyTorch has one `(288, 96)` matrix for the queries, keys
# and values of all heads; Keras' output projection is `(4, 24, 96)`,
# PyTorch's `(96, 96)`; and a `Dense` kernel is the transpose of a
# PyTorch `Linear` weight.
#
# ## The same function as the PyTorch model
#
# We copy the weights of a PyTorch `CharTransformer` (chapter 8's, built
# with its unigram bias) into the Keras model, reshaped, and compare the
# logits, the loss and every gradient on one batch of 64 windows.


# %%
def torch_pairs(keras_model, arrays):
    """(Keras variable, PyTorch array in Keras' layout) for every weight;
    `arrays` maps PyTorch's parameter names to NumPy arrays."""
    pairs = [
        (keras_model.token.embeddings, arrays["token.weight"]),
        (keras_model.position.embeddings, arrays["position.weight"]),
    ]
    for i, block in enumerate(keras_model.blocks):
        p = {
            name.removeprefix(f"blocks.{i}."): array
            for name, array in arrays.items()
            if name.startswith(f"blocks.{i}.")
        }
        heads = block.attention.num_heads
        width = p["ln1.weight"].shape[0]
        qkv = zip(
            np.split(p["attention.qkv.weight"], 3),
            np.split(p["attention.qkv.bias"], 3),
        )
        attention = []
        for weight, bias in qkv:  # queries, keys, values
            attention += [
                weight.T.reshape(width, heads, -1),
                bias.reshape(heads, -1),
            ]
        attention += [
            p["attention.proj.weight"].T.reshape(heads, -1, width),
            p["attention.proj.bias"],
        ]
        pairs += list(zip(block.attention.weights, attention))
        for norm, name in ((block.ln1, "ln1"), (block.ln2, "ln2")):
            pairs += [(norm.gamma, p[f"{name}.weight"])]
            pairs += [(norm.beta, p[f"{name}.bias"])]
        for dense, name in (
            (block.expand, "mlp.0"),
            (block.contract, "mlp.2"),
        ):
            pairs += [(dense.kernel, p[f"{name}.weight"].T)]
            pairs += [(dense.bias, p[f"{name}.bias"])]
    pairs += [
        (keras_model.ln.gamma, arrays["ln.weight"]),
        (keras_model.ln.beta, arrays["ln.bias"]),
        (keras_model.dense.kernel, arrays["fc.weight"].T),
        (keras_model.dense.bias, arrays["fc.bias"]),
    ]
    return pairs


def copy_from_torch(keras_model, torch_model):
    """Set the Keras model's weights to the PyTorch model's."""
    keras_model(np.zeros((1, keras_model.context), dtype=np.int64))  # build
    arrays = {
        name: p.detach().numpy() for name, p in torch_model.named_parameters()
    }
    for variable, array in torch_pairs(keras_model, arrays):
        variable.assign(array)
    return keras_model


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): float32 rounding errors,
# whose size depends on each framework's kernels on this processor. The
# assertions check the claim: the same function, to within 1e-5 in the
# logits and the loss and 1e-4 (relative) in every gradient.
import torch.nn.functional as F  # noqa: E402

from tutorial_utils.charrnn import init_unigram_bias  # noqa: E402

torch.set_num_threads(1)
torch.manual_seed(0)
torch_model = init_unigram_bias(
    TorchTransformer(), torch.from_numpy(train_data)
)
twin = copy_from_torch(CharTransformer(), torch_model)
rng = np.random.default_rng(0)
starts = rng.integers(len(train_data) - 64, size=64)
windows = train_data[starts[:, None] + np.arange(65)]
inputs, targets = windows[:, :-1], windows[:, 1:]

torch_logits = torch_model(torch.from_numpy(inputs))
torch_loss = F.cross_entropy(
    torch_logits.transpose(1, 2), torch.from_numpy(targets)
)
torch_loss.backward()
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
with tf.GradientTape() as tape:
    keras_logits = twin(inputs)
    keras_loss = loss_fn(targets, keras_logits)
gradients = {
    name: p.grad.numpy() for name, p in torch_model.named_parameters()
}
pairs = torch_pairs(twin, gradients)
keras_gradients = tape.gradient(keras_loss, [v for v, _ in pairs])
logit_gap = np.abs(keras_logits.numpy() - torch_logits.detach().numpy()).max()
loss_gap = abs(float(keras_loss) - torch_loss.item())
as_arrays = [
    (v.path, tf.convert_to_tensor(g).numpy(), expected)
    for g, (v, expected) in zip(keras_gradients, pairs)
]
# The keys' biases get no gradient (see below): compare them absolutely.
key_biases = [x for x in as_arrays if x[0].endswith("key/bias")]
key_bias_gap = max(np.abs(g).max() + np.abs(e).max() for _, g, e in key_biases)
gradient_gap = max(
    np.abs(g - e).max() / np.abs(e).max()
    for path, g, e in as_arrays
    if not path.endswith("key/bias")
)
print(
    f"loss: {torch_loss.item():.4f} (PyTorch), {float(keras_loss):.4f} (Keras)"
)
print(
    f"largest differences: logits {logit_gap:.0e}, loss {loss_gap:.0e},"
    f" gradients {gradient_gap:.0e} (relative)"
)
print(f"{len(pairs)} weights compared")
print(f"largest gradient of a key bias: {key_bias_gap:.0e}")
assert logit_gap <= 1e-5 and loss_gap <= 1e-5
assert gradient_gap <= 1e-4 and key_bias_gap <= 1e-6
assert len(key_biases) == 3
assert len(pairs) == len(twin.trainable_variables) == 54
assert sum(int(np.prod(v.shape)) for v, _ in pairs) == 361_156


# %% tags=["hide-input"]
# The control: the same comparison with the mask left out of Keras'
# attention fails, so the check above can fail.
unmasked = copy_from_torch(CharTransformer(causal=False), torch_model)
unmasked_gap = np.abs(
    unmasked(inputs).numpy() - torch_logits.detach().numpy()
).max()
assert unmasked_gap > 0.1, unmasked_gap

# %% [markdown]
# The logits and the loss agree to within $10^{-5}$, and each gradient to
# within $10^{-4}$ of its largest entry; without the causal mask (a
# control, folded above) the logits differ by more than 0.1. The two
# models compute the same function.
#
# Three of the 54 gradients are compared differently: those of the keys'
# biases are zero in both frameworks, up to rounding (below $10^{-6}$).
# A key bias $b$ adds $q_t \cdot b / \sqrt{24}$ to every score of query
# $t$, the same for every key it looks at, and the softmax removes any
# constant added to all its inputs. The bias is a weight that cannot
# learn; PyTorch's `nn.MultiheadAttention` has it too.

# %% [markdown]
# ## Training with chapter 8's recipe
#
# The recipe carries over piece by piece. `keras.optimizers.AdamW` decays
# the weights as PyTorch's does (each step subtracts the learning rate
# times 0.1 times the weight), and `exclude_from_weight_decay` leaves out
# the biases, the `LayerNormalization` gains and offsets, and the
# embeddings. `global_clipnorm=1.0` clips the norm of all gradients
# together, as `clip_grad_norm_` does. The schedule is chapter 6's twin's
# `WarmupCosine`, here with 30 iterations of warm-up. Each step draws 64
# random windows, as chapter 8's `random_windows` does (from NumPy's
# generator, so not the same windows).


# %%
def make_optimizer(iterations, peak_lr=0.01, warmup=30):
    schedule = WarmupCosine(iterations, peak_lr, warmup)
    optimizer = keras.optimizers.AdamW(
        learning_rate=schedule,
        weight_decay=0.1,
        beta_1=0.9,
        beta_2=0.99,
        epsilon=1e-8,
        global_clipnorm=1.0,
    )
    optimizer.exclude_from_weight_decay(
        var_names=["bias", "gamma", "beta", "embeddings"]
    )
    return optimizer


def make_train_step(model, optimizer):
    @tf.function
    def train_step(inputs, targets):
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return train_step


def unigram_bias(model, data):
    counts = np.bincount(data, minlength=100)
    frequencies = (counts + 1) / (counts + 1).sum()  # +1: no log of zero
    model.dense.bias.assign(np.log(frequencies).astype(np.float32))
    return model


# %% [markdown]
# The validation loss scores the same windows as chapter 8's
# `window_validation_loss`: windows of 64, every 32 characters, each
# position scored once.


# %%
from tutorial_utils.transformer import validation_windows  # noqa: E402


def window_validation_loss(model, data, batch_size=256):
    """Mean cross-entropy (nats/char), in chapter 8's windows."""
    predictions = len(data) - 1
    plan = validation_windows(predictions, model.context, model.context // 2)
    offsets = np.arange(model.context + 1)
    total = 0.0
    for first in range(0, len(plan), batch_size):
        batch = np.array(plan[first : first + batch_size])
        chunks = data[batch[:, :1] + offsets]
        losses = keras.losses.sparse_categorical_crossentropy(
            chunks[:, 1:], model(chunks[:, :-1]), from_logits=True
        ).numpy()
        scored = offsets[:-1] >= batch[:, 1:]
        total += losses[scored].astype(np.float64).sum()
    return total / predictions


# %% tags=["hide-input", "nbval-ignore-output"]
# Path-dependent output (not compared by nbval): two implementations of
# one score on the same weights, to float32 rounding.
from tutorial_utils.transformer import window_validation_loss as torch_score

torch_valid = torch.from_numpy(valid_data)
validation_gap = abs(
    window_validation_loss(twin, valid_data)
    - torch_score(torch_model, torch_valid)
)
assert validation_gap <= 1e-5, validation_gap

# %% [markdown]
# On the copied weights it gives the PyTorch score to within $10^{-5}$.
# Now 700 iterations, as in chapter 8:

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): 700 AdamW steps turn the
# last-bit differences between processors into different digits, and the
# time is this machine's. The assertions check the claims of the text.
iterations = 700
keras.utils.set_random_seed(0)
keras_model = CharTransformer()
keras_model(train_data[None, :64])  # build the weights
unigram_bias(keras_model, train_data)
optimizer = make_optimizer(iterations)
train_step = make_train_step(keras_model, optimizer)
rng = np.random.default_rng(0)
losses = []
start = time.perf_counter()
for iteration in range(iterations):
    starts = rng.integers(len(train_data) - 64, size=64)
    windows = train_data[starts[:, None] + np.arange(65)]
    losses.append(float(train_step(windows[:, :-1], windows[:, 1:])))
train_seconds = time.perf_counter() - start
keras_loss = window_validation_loss(keras_model, valid_data)
print(f"{iterations} iterations in {train_seconds:.0f} s")
print(f"validation loss: {keras_loss:.3f} nats/char")
assert keras_loss <= 1.50, keras_loss
assert np.mean(losses[-25:]) < np.mean(losses[:25]) - 1.0

# %% tags=["hide-input", "nbval-ignore-output"]
# Path-dependent output (not compared by nbval): glued values of the run
# above. The assertions check the band the text states, and that weight
# decay acts on the 19 kernels only: one AdamW step with zero gradients,
# every variable set to one, moves exactly the variables it decays, by
# the learning rate times 0.1.
assert 1.40 <= keras_loss <= 1.50, keras_loss
probe_model = CharTransformer()
probe_model(train_data[None, :64])
for variable in probe_model.trainable_variables:
    variable.assign(tf.ones_like(variable))  # no zero escapes the decay
make_optimizer(10).apply_gradients(
    [(tf.zeros_like(v), v) for v in probe_model.trainable_variables]
)
moved = [v for v in probe_model.trainable_variables if np.any(v.numpy() != 1)]
assert len(moved) == 19 and all(v.path.endswith("kernel") for v in moved)
first_lr = 0.01 / 30  # the first step of the 30-step warm-up
assert all(
    np.allclose(v.numpy(), 1 - first_lr * 0.1, rtol=0, atol=1e-7)
    for v in moved
)
tu.glue("tf_loss", f"{keras_loss:.3f}")
tu.glue("tf_seconds", f"{train_seconds:.0f}")

# %% [markdown]
# The Keras model ends at {glue:text}`tf_loss` nats per character after
# {glue:text}`tf_seconds` s on the machine that ran this page, in the band
# of 1.40 to 1.50 that chapter 8's PyTorch run is asserted to reach.
#
# ## Samples at three temperatures


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): text drawn from a model
# whose weights differ in their last digits between processors. The
# assertions check its form.
def sample(model, prime="Th", length=150, temperature=1.0, seed=123):
    """Characters drawn one at a time, each given the last 64."""
    # One compiled graph for every window length from 1 to the context,
    # rather than one eager call per character.
    last_logits = tf.function(
        lambda window: model(window)[0, -1],
        input_signature=[tf.TensorSpec([1, None], tf.int64)],
    )
    rng = np.random.default_rng(seed)
    indices = list(tu.encode_text(prime))
    for _ in range(length):
        window = np.array(indices[-model.context :], dtype=np.int64)[None]
        logits = last_logits(window).numpy().astype(np.float64)
        p = np.exp((logits - logits.max()) / temperature)
        indices.append(rng.choice(len(p), p=p / p.sum()))
    return tu.decode_text(np.array(indices))


for temperature in (0.5, 1.0, 1.5):
    drawn = sample(keras_model, temperature=temperature)
    print(f"--- temperature {temperature}")
    print(textwrap.fill(drawn, 79))
    assert len(drawn) == 152 and set(drawn) <= set(tu.PRINTABLE)

# %% [markdown]
# ## Summary
#
# - `keras.layers.MultiHeadAttention`, called with `use_causal_mask=True`,
#   inside pre-norm blocks computes chapter 8's model: with PyTorch's
#   weights copied in, the logits and the loss agree to within $10^{-5}$
#   and the gradients to within $10^{-4}$ of their largest entries, and
#   without the mask the logits differ by more than 0.1.
# - Keras keeps the queries, keys and values in three kernels, each with
#   one slice per head, where PyTorch has one matrix for all three; copying
#   the weights is a matter of splitting, transposing and reshaping them.
# - AdamW's `exclude_from_weight_decay` keeps the decay on the 19 kernels,
#   and the model trained on chapter 8's recipe ends in the same band of
#   losses as the PyTorch one.
#
# ## Exercises
#
# ````{exercise} What the mask hides
# :label: ex-08tf-1
# Change the last character of a window of 64 and compare the logits of
# all 64 positions before and after, for the model with its causal mask
# and for `CharTransformer(causal=False)` with the same weights. Which
# positions change?
# ````
#
# ````{solution-start} ex-08tf-1
# :class: dropdown
# ````

# %%
window = train_data[None, :64].copy()
edited = window.copy()
edited[0, -1] = (edited[0, -1] + 1) % 100
for causal in (True, False):
    variant = CharTransformer(causal=causal)
    variant(window)
    variant.set_weights(model.get_weights())
    change = np.abs(variant(edited).numpy() - variant(window).numpy())
    changed = np.flatnonzero(change.max(axis=(0, 2)) > 0)
    print(
        f"causal={causal}: {len(changed)} of 64 positions change,"
        f" the first at {changed[0]}"
    )
    if causal:
        assert changed.tolist() == [63]
    else:
        assert len(changed) == 64 and change[0, :63].max() > 1e-4

# %% [markdown]
# With the mask only the last position's logits change, and those of the
# 63 positions before it stay equal to the last bit: their attention
# gives the edited character a weight of exactly zero. Without the mask
# every position changes. Training an unmasked model would let each
# position read the character it is asked to predict, as exercise 1 of
# chapter 8 shows.
#
# ````{solution-end}
# ````
#
# ````{exercise} Decay everything
# :label: ex-08tf-2
# Build the optimizer without `exclude_from_weight_decay` and apply one
# step of zero gradients to a fresh model, as the folded check above
# does. Which variables move now, and why not all of them?
# ````
#
# ````{solution-start} ex-08tf-2
# :class: dropdown
# ````

# %%
fresh = CharTransformer()
fresh(window)
decay_all = keras.optimizers.AdamW(
    learning_rate=0.01, weight_decay=0.1, beta_1=0.9, beta_2=0.99
)
before = [v.numpy().copy() for v in fresh.trainable_variables]
decay_all.apply_gradients(
    [(tf.zeros_like(v), v) for v in fresh.trainable_variables]
)
moved, still, started_at_zero = [], [], []
for v, old in zip(fresh.trainable_variables, before):
    (still if np.array_equal(v.numpy(), old) else moved).append(v.path)
    if not np.any(old):
        started_at_zero.append(v.path)
print(f"{len(moved)} of {len(before)} variables move")
print("still:", sorted({path.split("/")[-1] for path in still}))
assert len(moved) + len(still) == len(before) == 54
assert still == started_at_zero
shrunk = [
    np.allclose(v.numpy(), old * (1 - 0.01 * 0.1), rtol=1e-6, atol=0)
    for v, old in zip(fresh.trainable_variables, before)
]
assert all(shrunk)

# %% [markdown]
# Weight decay multiplies each weight by one minus the learning rate
# times 0.1 (here $1 - 0.01 \times 0.1 = 0.999$), so every variable that
# is not zero shrinks: the kernels, the embeddings and the
# layer norms' gains. The biases and the layer norms' offsets start at
# zero, and zero times anything stays zero, so they stay put on this first
# step; once training moves them, the decay would pull them back too.
# Chapter 8 excludes them, and the gains and the embeddings too, keeping
# the decay on the weight matrices of the blocks and the read-out, as
# [minGPT](https://github.com/karpathy/minGPT) does.
# [nanoGPT](https://github.com/karpathy/nanoGPT) decays every two-dimensional
# tensor, its
# embeddings included (its token embedding is also its read-out), and no
# bias or layer-norm weight.
#
# ````{solution-end}
# ````
