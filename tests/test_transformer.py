"""Chapter 8's Transformer code (tutorial_utils.transformer): attention, the validation windows,
the model's input checks, the batches and the sampler."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from tutorial_utils.transformer import (
    CausalSelfAttention,
    CharTransformer,
    causal_attention,
    random_windows,
    sample_transformer,
    train_transformer,
    validation_windows,
    window_validation_loss,
)


@settings(max_examples=200, deadline=None)
@given(predictions=st.integers(1, 400), context=st.integers(1, 80), data=st.data())
def test_the_windows_score_every_prediction_once_with_half_a_context_behind(predictions, context, data):
    stride = data.draw(st.integers(1, context))
    plan = validation_windows(predictions, context, stride)
    length = min(context, predictions)
    scored = [start + position for start, first in plan for position in range(first, length)]
    assert scored == list(range(predictions))
    assert plan[0] == (0, 0)
    assert all(first >= length - stride for _, first in plan[1:])
    assert all(0 <= start <= predictions - length for start, _ in plan)


@pytest.mark.parametrize(("call", "words"), [
    (lambda: validation_windows(10, 4, 5), "stride 5 is longer than the context 4"),
    (lambda: validation_windows(0, 4, 2), "got 0, 4 and 2"),
    (lambda: validation_windows(10, 4, 0), "must be integers of 1 or more"),
    (lambda: CausalSelfAttention(96, 5), "d_model 96 is not divisible by n_heads 5"),
    (lambda: CausalSelfAttention(0, 4), "got 0 and 4"),
    (lambda: CharTransformer(context=0), "vocab_size, n_layers and context must be integers of 1 or more"),
    (lambda: CharTransformer(d_model=8, n_heads=2, n_layers=1, context=4)(torch.zeros(5, dtype=torch.long)),
     "inputs must be (batch, time), got (5,)"),
    (lambda: CharTransformer(d_model=8, n_heads=2, n_layers=1, context=4)(torch.zeros(1, 5, dtype=torch.long)),
     "5 characters are more than the context of 4: pass the last 4"),
    (lambda: random_windows(torch.arange(10), 0, 4, torch.Generator()), "got 0 and 4"),
    (lambda: random_windows(torch.arange(4), 2, 4, torch.Generator()), "4 characters are too few for a window of 5"),
    (lambda: window_validation_loss(CharTransformer(d_model=8, n_heads=2, n_layers=1), torch.arange(1)),
     "data must be a 1-D text of at least 2 characters"),
    (lambda: sample_transformer(CharTransformer(d_model=8, n_heads=2, n_layers=1), prime=""),
     "prime must contain at least one character"),
    (lambda: sample_transformer(CharTransformer(d_model=8, n_heads=2, n_layers=1), length=-1),
     "length must be an integer of 0 or more, got -1"),
    (lambda: sample_transformer(CharTransformer(d_model=8, n_heads=2, n_layers=1), temperature=0),
     "temperature must be > 0, got 0"),
])
def test_bad_settings_are_named(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)


def test_attention_by_hand_is_the_library_function_and_causal():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 3, 7, 5).unbind(0)
    ours = causal_attention(q, k, v)
    assert torch.allclose(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=0, atol=1e-6)
    later = v.clone()
    later[..., 4:, :] += 1  # change the values of positions 4 and later
    assert torch.equal(causal_attention(q, k, later)[..., :4, :], ours[..., :4, :])
    assert not torch.equal(causal_attention(q, k, later)[..., 4:, :], ours[..., 4:, :])


def test_the_model_is_causal_and_both_attentions_agree():
    torch.manual_seed(0)
    model = CharTransformer(d_model=16, n_heads=4, n_layers=2, context=12)
    by_hand = CharTransformer(d_model=16, n_heads=4, n_layers=2, context=12, by_hand=True)
    by_hand.load_state_dict(model.state_dict())
    inputs = torch.randint(100, (3, 12))
    changed = inputs.clone()
    changed[:, 7] = (changed[:, 7] + 1) % 100
    logits = model(inputs)
    assert torch.allclose(logits, by_hand(inputs), rtol=0, atol=1e-5)
    assert torch.equal(model(changed)[:, :7], logits[:, :7])
    assert not torch.allclose(model(changed)[:, 7:], logits[:, 7:])


def test_the_window_loss_is_each_prediction_scored_in_its_window():
    torch.manual_seed(0)
    model = CharTransformer(d_model=8, n_heads=2, n_layers=1, context=6).eval()
    data = torch.randint(100, (23,))
    expected = 0.0
    for start, first in validation_windows(22, 6, 3):
        logits = model(data[start : start + 6].view(1, -1))[0]
        losses = F.cross_entropy(logits, data[start + 1 : start + 7], reduction="none")
        expected += losses[first:].double().sum().item()
    assert math.isclose(window_validation_loss(model, data, batch_size=2), expected / 22, rel_tol=1e-6)
    short = data[:5]  # fits the context: one window, every position seen from the start
    full = F.cross_entropy(model(short[:-1].view(1, -1))[0], short[1:]).item()
    assert math.isclose(window_validation_loss(model, short), full, rel_tol=1e-6)


def test_windows_are_shifted_pairs_of_the_asked_shape():
    data = torch.arange(50)
    inputs, targets = random_windows(data, 4, 6, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (4, 6)
    assert torch.equal(targets, inputs + 1)  # the text is 0, 1, 2, ...: targets are the next characters
    assert int(targets.max()) <= 49


def test_a_few_iterations_lower_the_loss_and_a_sample_has_the_asked_length():
    torch.manual_seed(0)
    model = CharTransformer(d_model=16, n_heads=2, n_layers=1, context=8)
    data = torch.tensor([10, 11, 12, 13] * 50)  # a text that repeats: easy to learn
    losses = train_transformer(model, data, iterations=60, batch_size=8, warmup=5)
    assert losses[-1] < 0.5 * losses[0]
    text = sample_transformer(model, prime="ab", length=20)
    assert len(text) == 22 and text.startswith("ab")
