"""A character-level GRU language model, in TensorFlow and Keras: the code of chapter 6, for later chapters, benchmarks and tests.

Generated from notebooks/06_char_rnn_tensorflow.py (its cells tagged 'export') by scripts/export_notebooks.py:
edit the notebook and run `make export`, not this file.
"""


import math
import time

import numpy as np

import tutorial_utils as tu

tf = tu.import_tensorflow()
import keras  # noqa: E402  (after TensorFlow: Keras 3 runs on it)


class CharGRU(keras.Model):
    """Embedding -> GRU -> Dense, over `vocab_size` characters."""

    def __init__(
        self,
        vocab_size: int = 100,
        embedding_size: int = 100,
        hidden_size: int = 100,
    ) -> None:
        super().__init__()
        if not all(
            tu.is_count(size)
            for size in (vocab_size, embedding_size, hidden_size)
        ):
            raise ValueError(
                "vocab_size, embedding_size and hidden_size must be integers"
                f" of 1 or more, got {vocab_size!r}, {embedding_size!r} and"
                f" {hidden_size!r}"
            )
        self.hidden_size = hidden_size
        self.embedding = keras.layers.Embedding(vocab_size, embedding_size)
        self.gru = keras.layers.GRU(
            hidden_size, return_sequences=True, return_state=True
        )
        self.dense = keras.layers.Dense(vocab_size)
        # create the weights now, not inside a later tf.function
        self(tf.zeros((1, 1), dtype="int32"))

    def call(self, inputs, state=None, training=False):
        """`(batch, time)` indices -> `(batch, time, vocab)` logits, state."""
        if state is None:
            state = tf.zeros((tf.shape(inputs)[0], self.hidden_size))
        output, state = self.gru(
            self.embedding(inputs), initial_state=state, training=training
        )
        return self.dense(output), state


@tf.function(reduce_retracing=True)
def _chunk_loss(model, inputs, targets, state):
    logits, state = model(inputs, state)
    return tf.reduce_sum(
        keras.losses.sparse_categorical_crossentropy(
            targets, logits, from_logits=True
        )
    ), state


def validation_loss(
    model: CharGRU, data: np.ndarray, chunk_len: int = 5000
) -> float:
    """Mean cross-entropy (nats/char) of each character given those before."""
    if np.ndim(data) != 1 or len(data) < 2:  # one text, read as one stream
        raise ValueError(
            "data must be a 1-D text of at least 2 characters,"
            f" got shape {np.shape(data)}"
        )
    if not tu.is_count(chunk_len):  # below 1, no chunk would be scored
        raise ValueError(
            f"chunk_len must be an integer of 1 or more, got {chunk_len!r}"
        )
    state, total = None, 0.0
    for start in range(0, len(data) - 1, chunk_len):
        inputs = data[start : min(start + chunk_len, len(data) - 1)]
        targets = data[start + 1 : start + 1 + len(inputs)]
        if state is None:
            state = tf.zeros((1, model.hidden_size))
        loss, state = _chunk_loss(
            model, inputs[None, :], targets[None, :], state
        )
        total += float(loss)
    return total / (len(data) - 1)


def consecutive_batch(
    data: np.ndarray, batch_size: int, seq_len: int, index: int
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Chunk `index` of TBPTT: inputs, targets, whether a new pass starts."""
    if not (tu.is_count(batch_size) and tu.is_count(seq_len)):
        raise ValueError(
            "batch_size and seq_len must be integers of 1 or more,"
            f" got {batch_size!r} and {seq_len!r}"
        )
    if not tu.is_count(index, 0):
        raise ValueError(
            f"index must be an integer of 0 or more, got {index!r}"
        )
    stream_len = (len(data) - 1) // batch_size
    per_pass = stream_len // seq_len
    if per_pass < 1:
        raise ValueError(
            f"{len(data)} characters are too few for {batch_size} streams"
            f" of {seq_len + 1}: use fewer streams or shorter chunks"
        )
    position = (index % per_pass) * seq_len
    rows = (
        np.arange(batch_size)[:, None] * stream_len
        + position
        + np.arange(seq_len + 1)
    )
    chunks = data[rows]
    return chunks[:, :-1], chunks[:, 1:], index % per_pass == 0


def make_train_step(model: CharGRU, optimizer: keras.optimizers.Optimizer):
    """A compiled TBPTT step: one update; returns the loss, the new state."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(inputs, targets, state):
        with tf.GradientTape() as tape:
            logits, state = model(inputs, state, training=True)
            loss = loss_fn(targets, logits)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss, state

    return train_step


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Chapter 6's `cosine_lr`: a linear warm-up, then a cosine decay."""

    def __init__(
        self,
        total: int,
        peak: float,
        warmup: int = 20,
        final_fraction: float = 0.05,
    ) -> None:
        self.total, self.peak, self.warmup, self.final_fraction = (
            total,
            peak,
            warmup,
            final_fraction,
        )

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warming = self.peak * (step + 1) / self.warmup
        progress = tf.minimum(
            1.0, (step - self.warmup) / max(1, self.total - self.warmup)
        )
        cosine = 0.5 * (1 + tf.cos(math.pi * progress))
        decaying = self.peak * (
            self.final_fraction + (1 - self.final_fraction) * cosine
        )
        return tf.where(step < self.warmup, warming, decaying)


def fast_optimizer(
    iterations: int,
    peak_lr: float = 0.01,
    warmup: int = 20,
    clip_norm: float = 1.0,
) -> keras.optimizers.Optimizer:
    """The fast recipe's Adam: warm-up, cosine decay, global-norm clip."""
    schedule = WarmupCosine(iterations, peak_lr, warmup)
    return keras.optimizers.Adam(
        learning_rate=schedule, epsilon=1e-8, global_clipnorm=clip_norm
    )  # PyTorch's epsilon


def init_unigram_bias(model: CharGRU, data: np.ndarray) -> CharGRU:
    """Set the read-out's bias to the log-frequencies of the characters."""
    vocab_size = model.dense.units
    counts = np.bincount(data.ravel(), minlength=vocab_size)
    frequencies = (counts + 1) / (counts + 1).sum()  # +1: no log of zero
    model.dense.bias.assign(np.log(frequencies).astype(np.float32))
    return model


@tf.function(reduce_retracing=True)
def _next_logits(model, inputs, state):
    logits, state = model(inputs, state)
    return logits[0, -1], state


def sample_text(
    model: CharGRU,
    prime: str = "Th",
    length: int = 200,
    temperature: float = 0.8,
    seed: int = 123,
) -> str:
    """`prime` and `length` characters from `softmax(logits / temperature)`."""
    if not prime or temperature <= 0:
        raise ValueError(
            "need a non-empty prime and a positive temperature,"
            f" got {prime!r} and {temperature}"
        )
    if not tu.is_count(length, 0):
        raise ValueError(
            f"length must be an integer of 0 or more, got {length!r}"
        )
    generator = np.random.default_rng(seed)
    logits, state = _next_logits(
        model, tu.encode_text(prime)[None, :], tf.zeros((1, model.hidden_size))
    )
    drawn = []
    for _ in range(length):
        scaled = logits.numpy().astype(np.float64) / temperature
        probabilities = np.exp(scaled - scaled.max())
        index = generator.choice(
            len(probabilities), p=probabilities / probabilities.sum()
        )
        drawn.append(index)
        logits, state = _next_logits(model, np.array([[index]]), state)
    return prime + tu.decode_text(np.array(drawn, dtype=np.int64))
