"""Softmax regression on MNIST, in TensorFlow and Keras: the code of chapter 5, for later chapters, benchmarks and tests.

Generated from notebooks/05_softmax_mnist_tensorflow.py (its cells tagged 'export') by scripts/export_notebooks.py:
edit the notebook and run `make export`, not this file.
"""


import numpy as np

import tutorial_utils as tu

tf = tu.import_tensorflow()
import keras  # noqa: E402  (after TensorFlow: Keras 3 runs on it)


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
