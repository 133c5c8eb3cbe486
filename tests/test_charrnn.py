import math
import random

import pytest
import torch
import torch.nn.functional as F

from tutorial_utils import char_to_tensor
from tutorial_utils.charrnn import (
    CharRNN,
    bits_per_char,
    consecutive_batch,
    cosine_lr,
    random_training_batch,
    random_training_pair,
    sample_text,
    split_train_validation,
    train_step_batched,
    train_fast,
    train_step_loop,
    validation_loss,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def small_model(seed=0, cell="gru"):
    torch.manual_seed(seed)
    return CharRNN(embedding_size=16, hidden_size=16, cell=cell)


def test_model_shapes_match_the_original_architecture():
    model = CharRNN()
    assert (model.embedding.num_embeddings, model.embedding.embedding_dim) == (100, 100)
    assert (model.rnn.input_size, model.rnn.hidden_size, model.rnn.num_layers) == (100, 100, 1)
    assert (model.fc.in_features, model.fc.out_features) == (100, 100)
    logits, hidden = model(torch.zeros(3, 7, dtype=torch.long))
    assert logits.shape == (3, 7, 100) and hidden.shape == (1, 3, 100)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="cell must be 'gru' or 'lstm'"):
        CharRNN(cell="rnn")
    with pytest.raises(ValueError, match=r"\(batch, time\)"):
        CharRNN()(torch.zeros(5, dtype=torch.long))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_stepping_one_character_at_a_time_equals_one_call(cell):
    model = small_model(cell=cell)
    text = char_to_tensor("It was the best of times")
    whole, _ = model(text.view(1, -1))
    hidden, steps = model.init_hidden(1), []
    for char in text:
        logits, hidden = model(char.view(1, 1), hidden)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), whole)


def test_loop_and_batched_steps_compute_the_same_loss_and_gradients():
    inputs, targets = char_to_tensor("it was the worst of times"), char_to_tensor("t was the worst of times,")
    losses, grads = [], []
    for step in ("loop", "batched"):
        model = small_model()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
        if step == "loop":
            losses.append(train_step_loop(model, optimizer, inputs, targets))
        else:
            losses.append(train_step_batched(model, optimizer, inputs.view(1, -1), targets.view(1, -1)))
        grads.append(model.rnn.weight_hh_l0.grad.clone())
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    torch.testing.assert_close(grads[0], grads[1])


def test_random_training_pair_is_a_shifted_window_like_the_original():
    data = torch.arange(50)
    inputs, targets = random_training_pair(data, 10, random.Random(123))
    start = random.Random(123).randint(0, 50 - 11)
    assert inputs.tolist() == list(range(start, start + 10)) and targets.tolist() == list(range(start + 1, start + 11))
    with pytest.raises(ValueError, match="50 characters are too few for seq_len 50"):
        random_training_pair(data, 50)


def test_random_training_batch_shapes_and_shift():
    torch.manual_seed(0)
    inputs, targets = random_training_batch(torch.arange(100), batch_size=4, seq_len=9)
    assert inputs.shape == targets.shape == (4, 9)
    assert torch.equal(inputs[:, 1:], targets[:, :-1]) and torch.equal(targets - inputs, torch.ones(4, 9, dtype=torch.long))
    assert int(targets.max()) <= 99


def test_split_keeps_the_last_tenth_for_validation():
    train, valid = split_train_validation(torch.arange(1000))
    assert train.tolist() == list(range(900)) and valid.tolist() == list(range(900, 1000))
    with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
        split_train_validation(torch.arange(10), 1.5)


def test_validation_loss_of_a_uniform_model_is_ln_vocabulary():
    model = small_model()
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.zero_()
    assert validation_loss(model, char_to_tensor("any text at all")) == pytest.approx(math.log(100))
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)


def test_validation_loss_does_not_depend_on_chunking():
    model = small_model()
    data = char_to_tensor("It was the age of wisdom, it was the age of foolishness, " * 3)
    logits, _ = model(data[:-1].view(1, -1))
    direct = F.cross_entropy(logits[0], data[1:]).item()
    for chunk_len in (7, 50, 1000):
        assert validation_loss(model, data, chunk_len) == pytest.approx(direct, rel=1e-5)
    with pytest.raises(ValueError, match="at least 2 characters"):
        validation_loss(model, data[:1])


def test_sampling_is_seeded_and_primed():
    model = small_model()
    first = sample_text(model, "Th", 40, temperature=0.8, seed=1)
    assert first.startswith("Th") and len(first) == 42
    assert sample_text(model, "Th", 40, temperature=0.8, seed=1) == first
    assert sample_text(model, "Th", 40, temperature=0.8, seed=2) != first
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_text(model, temperature=0.0)
    with pytest.raises(ValueError, match="at least one character"):
        sample_text(model, "")


def test_batched_training_learns_a_repeating_text():
    data = char_to_tensor("abcd" * 100)
    model = small_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    before = validation_loss(model, data[:40])
    for _ in range(60):
        train_step_batched(model, optimizer, *random_training_batch(data, 8, 20), clip_norm=1.0)
    assert validation_loss(model, data[:40]) < 0.1 < before
    assert sample_text(model, "ab", 6, temperature=0.5) == "abcdabcd"


def test_cosine_schedule():
    assert cosine_lr(0, 100, 1.0, warmup=10) == pytest.approx(0.1)
    assert cosine_lr(9, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert cosine_lr(10, 100, 1.0, warmup=10) == pytest.approx(1.0)
    assert cosine_lr(100, 100, 1.0, warmup=10, final_fraction=0.05) == pytest.approx(0.05)


def test_consecutive_batches_continue_each_stream():
    data = torch.arange(101)
    first_inputs, first_targets, fresh = consecutive_batch(data, batch_size=4, seq_len=10, index=0)
    second_inputs, _, second_fresh = consecutive_batch(data, batch_size=4, seq_len=10, index=1)
    assert fresh and not second_fresh and first_inputs.shape == (4, 10)
    assert first_inputs[:, 0].tolist() == [0, 25, 50, 75]
    assert torch.equal(second_inputs[:, 0], first_targets[:, -1])  # chunk 1 starts where chunk 0 stopped
    assert consecutive_batch(data, 4, 10, index=2)[2]  # 25-character streams hold 2 chunks: index 2 starts a new pass
    with pytest.raises(ValueError, match="too few"):
        consecutive_batch(data, 4, 30, 0)


def test_train_fast_records_history_and_stops_at_the_target():
    data = char_to_tensor("abcd" * 200)
    model = small_model()
    history = train_fast(model, data, 200, batch_size=4, seq_len=20, peak_lr=0.02, valid_data=data[:60], eval_every=10, stop_at_loss=0.2)
    assert history.iterations[0] == 0 and history.validation[-1] <= 0.2 < history.validation[0]
    assert history.iterations[-1] < 200 and len(history.train_losses) == history.iterations[-1]
    assert history.seconds == sorted(history.seconds)


def test_train_fast_does_not_train_when_the_initial_loss_already_meets_the_target():
    data = char_to_tensor("abcd" * 200)
    model = small_model()
    before = [p.detach().clone() for p in model.parameters()]
    history = train_fast(model, data, 50, batch_size=4, seq_len=20, valid_data=data[:60], eval_every=10, stop_at_loss=10.0)
    assert history.iterations == [0] and history.train_losses == []
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_tbptt_step_detaches_the_state_and_updates_the_model():
    from tutorial_utils.charrnn import tbptt_step

    data = char_to_tensor("abcd" * 200)
    model = small_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    inputs, targets, _ = consecutive_batch(data, 4, 20, 0)
    before = model.fc.bias.detach().clone()
    loss, hidden = tbptt_step(model, optimizer, inputs, targets, None, lr=0.05)
    assert not loss.requires_grad and not hidden.requires_grad and hidden.shape == (1, 4, 16)
    assert optimizer.param_groups[0]["lr"] == 0.05 and not torch.equal(before, model.fc.bias)
