"""Bad arguments get an error that names the argument and the value, never a silent wrong answer.

A sweep over the public functions with the usual suspects: zero, negative and non-integer sizes,
empty and tiny data, NaN and infinity, wrong types and dtypes.
"""

import math

import numpy as np
import pytest
import torch

import tutorial_utils as tu
from tutorial_utils import charrnn

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = tu.char_to_tensor("It was the best of times, it was the worst of times. " * 4)


def model():
    torch.manual_seed(0)
    return charrnn.CharRNN(embedding_size=4, hidden_size=4)


CASES = [
    # (call, exception, words the message must contain)
    # chapter 6 keeps one-line checks for a reader's likely mistakes; PyTorch makes the others
    (lambda: charrnn.validation_loss(model(), TEXT.view(2, -1)), ValueError, "data must be a 1-D text of at least 2 characters, got shape (2, 106)"),
    (lambda: charrnn.CharRNN(cell="rnn"), ValueError, "cell must be 'gru' or 'lstm', got 'rnn'"),
    (lambda: model()(TEXT), ValueError, "inputs must be (batch, time), got torch.Size([212])"),
    (lambda: charrnn.split_train_validation(TEXT, 10), ValueError, "validation_fraction must be in (0, 1), got 10"),
    (lambda: charrnn.split_train_validation(TEXT, math.nan), ValueError, "validation_fraction must be in (0, 1), got nan"),
    (lambda: charrnn.random_training_pair(TEXT, seq_len=10_000), ValueError, "212 characters are too few for seq_len 10000"),
    (lambda: charrnn.random_training_batch(TEXT, seq_len=212), ValueError, "212 characters are too few for seq_len 212"),
    (lambda: charrnn.consecutive_batch(TEXT, 4, 100, index=0), ValueError, "212 characters are too few for 4 streams of 100 (at least 401)"),
    (lambda: charrnn.sample_text(model(), prime=""), ValueError, "prime must contain at least one character"),
    (lambda: charrnn.sample_text(model(), temperature=0), ValueError, "temperature must be > 0, got 0"),
    (lambda: charrnn.sample_text(model(), temperature=math.nan), ValueError, "temperature must be > 0, got nan"),
    (lambda: charrnn.train_fast(model(), TEXT, 0), ValueError, "iterations must be an integer of 1 or more, got 0"),
    (lambda: list(tu.iterate_minibatches((np.zeros((10, 2)), np.zeros(10)), 32)), ValueError, "batch_size 32 is larger than the 10 rows"),
    (lambda: tu.TensorLoader(torch.zeros(4, 2), torch.zeros(4), batch_size=0), ValueError, "batch_size must be a positive integer, got 0"),
    (lambda: tu.confusion_matrix(np.array([0, 1]), np.array([0.0, 1.0]), 2), ValueError, "predictions must be 1-D integer labels, got float64"),
    (lambda: tu.confusion_matrix(np.array([0, -1]), np.array([0, 1]), 2), ValueError, "targets hold labels outside 0..1: min -1"),
    (lambda: tu.confusion_matrix(np.array([0]), np.array([0]), 2.5), ValueError, "num_classes must be a positive integer, got 2.5"),
    (lambda: tu.plot_image_grid(np.zeros((0, 784))), ValueError, "at least one image"),
    (lambda: tu.plot_image_grid(np.full((2, 784), np.inf)), ValueError, "NaN or infinite"),
    (lambda: tu.standardize(np.array([[1.0], [np.inf]]), np.zeros((1, 1))), ValueError, "NaN or infinite"),
    (lambda: tu.shuffle_split(np.zeros((5, 2)), np.zeros(5), n_test=2.5), ValueError, "n_test must be an integer from 1 to 4, got 2.5"),
    (lambda: tu.encode_text("caf\u00e9"), ValueError, "'\u00e9' (U+00E9) at position 3"),
    (lambda: tu.decode_text(np.array([[1, 2]])), ValueError, "1-D array of integer indices"),
    (lambda: tu.clean_text(None), TypeError, "text must be a str, got NoneType"),
    (lambda: tu.glue("two words", 1), ValueError, "a glue name must be a non-empty string without spaces"),
    (lambda: tu.plot_cost([]), ValueError, "at least one cost"),
]


@pytest.mark.parametrize(("call", "exception", "words"), CASES, ids=[words[:40] for _, _, words in CASES])
def test_bad_input_is_named(call, exception, words):
    with pytest.raises(exception) as caught:
        call()
    assert words in str(caught.value)


def test_custom_where_takes_python_lists_like_tensors():
    cond = torch.tensor([True, False])
    assert torch.equal(tu.custom_where(cond, [1.0, 2.0], [3.0, 4.0]), tu.custom_where(cond, torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])))
    assert tu.custom_where(cond, [1.0, 2.0], [3.0, 4.0]).tolist() == [1.0, 4.0]
