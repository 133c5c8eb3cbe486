"""No silent wrong numbers: sizes of zero, empty validation sets, and the DDP script's settings.

Every function of chapter 6 (and its TensorFlow twin) that takes a size or a fraction either does
what its docstring says or raises ``ValueError`` naming the argument and its value; never 0.0, NaN
or an empty result presented as a number. The regression cases come first, one per class of
mistake; the Hypothesis properties after them sweep the sizes and fractions.
"""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tutorial_utils as tu
from tutorial_utils import charrnn
from tutorial_utils.checkpoint import CheckpointError, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = tu.char_to_tensor("It was the best of times, it was the worst of times. " * 4)


def small_model() -> charrnn.CharRNN:
    torch.manual_seed(0)
    return charrnn.CharRNN(embedding_size=4, hidden_size=4)


MODEL = small_model()

# --- a perfect score for nothing ------------------------------------------------------------------


@pytest.mark.parametrize("chunk_len", [0, -5, 2.5, True])
def test_a_chunk_length_below_one_is_refused_not_scored_zero(chunk_len):
    with pytest.raises(ValueError, match=f"chunk_len must be an integer of 1 or more, got {chunk_len!r}"):
        charrnn.validation_loss(MODEL, TEXT, chunk_len=chunk_len)


@pytest.mark.parametrize("fraction", [1e-9, 1 - 1e-9])
def test_a_fraction_that_leaves_a_part_empty_is_refused(fraction):
    with pytest.raises(ValueError, match=rf"validation_fraction {fraction} of 212 characters leaves"):
        charrnn.split_train_validation(TEXT, fraction)


# --- zero sizes -----------------------------------------------------------------------------------

ZERO_SIZES = [
    (lambda: charrnn.consecutive_batch(TEXT, 0, 10, 0), "batch_size and seq_len must be integers of 1 or more, got 0 and 10"),
    (lambda: charrnn.consecutive_batch(TEXT, 4, 0, 0), "batch_size and seq_len must be integers of 1 or more, got 4 and 0"),
    (lambda: charrnn.consecutive_batch(TEXT, -2, 10, 0), "got -2 and 10"),
    (lambda: charrnn.consecutive_batch(TEXT, 2.5, 10, 0), "got 2.5 and 10"),
    (lambda: charrnn.consecutive_batch(TEXT, True, 10, 0), "got True and 10"),
    (lambda: charrnn.consecutive_batch(TEXT, 2, 10, -1), "index must be an integer of 0 or more, got -1"),
    (lambda: charrnn.consecutive_batch(TEXT, 4, 100, 0), "212 characters are too few for 4 streams of 100 (at least 401): use fewer"),
    (lambda: charrnn.random_training_pair(TEXT, seq_len=0), "seq_len must be an integer of 1 or more, got 0"),
    (lambda: charrnn.random_training_pair(TEXT, seq_len=2.5), "seq_len must be an integer of 1 or more, got 2.5"),
    (lambda: charrnn.random_training_batch(TEXT, batch_size=0), "batch_size and seq_len must be integers of 1 or more, got 0"),
    (lambda: charrnn.random_training_batch(TEXT, seq_len=0), "got 32 and 0"),
    (lambda: charrnn.train_step_loop(MODEL, torch.optim.Adam(MODEL.parameters()), TEXT[:0], TEXT[:0]),
     "inputs must hold at least one character, got 0"),
    (lambda: charrnn.sample_text(MODEL, length=-1), "length must be an integer of 0 or more, got -1"),
    (lambda: charrnn.sample_text(MODEL, length=2.5), "length must be an integer of 0 or more, got 2.5"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2, batch_size=2, seq_len=5, eval_every=-1),
     "eval_every must be an integer, 0 (no validation) or more, got -1"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2, batch_size=2, seq_len=5, eval_every=0.5), "got 0.5"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2.0), "iterations must be an integer of 1 or more, got 2.0"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2, batch_size=2, seq_len=5, peak_lr=-0.01),
     "peak_lr must be a finite number above 0 and clip_norm a number above 0, got -0.01 and 1.0"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2, batch_size=2, seq_len=5, peak_lr=math.inf), "got inf and 1.0"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2, batch_size=2, seq_len=5, clip_norm=math.nan), "got 0.01 and nan"),
    (lambda: charrnn.train_fast(small_model(), TEXT, 2, batch_size=2, seq_len=5, clip_norm=-1.0), "got 0.01 and -1.0"),
    (lambda: charrnn.CharRNN(num_layers=0), "must be integers of 1 or more, got 100, 100, 100 and 0"),
    (lambda: charrnn.CharRNN(hidden_size=2.5), "got 100, 100, 2.5 and 1"),
    (lambda: charrnn.cosine_lr(0, 10, 0.01, 0.5), "total must be an integer of 1 or more and warmup of 0 or more, got 10 and 0.5"),
    (lambda: charrnn.cosine_lr(-1, 10, 0.01, 5), "iteration must be an integer of 0 or more and peak a finite number above 0"),
    (lambda: charrnn.cosine_lr(0, 10, -1.0), "got 0 and -1.0"),
    (lambda: charrnn.cosine_lr(0, 10, 0.01, final_fraction=2), "final_fraction must be from 0 to 1, got 2"),
]


@pytest.mark.parametrize(("call", "words"), ZERO_SIZES, ids=[words for _, words in ZERO_SIZES])
def test_a_size_below_one_is_named(call, words):
    with pytest.raises(ValueError) as caught:
        call()
    assert words in str(caught.value)


# --- the TensorFlow twin --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_model():
    from tutorial_utils import charrnn_tf

    return charrnn_tf.CharGRU(embedding_size=4, hidden_size=4)


def test_the_twin_names_the_same_mistakes(keras_model):
    from tutorial_utils import charrnn_tf

    text = tu.encode_text("It was the best of times, it was the worst of times. " * 4)
    for call, words in [
        (lambda: charrnn_tf.validation_loss(keras_model, text[:1]), "data must be a 1-D text of at least 2 characters"),
        (lambda: charrnn_tf.validation_loss(keras_model, text[:0]), "data must be a 1-D text of at least 2 characters"),
        (lambda: charrnn_tf.validation_loss(keras_model, text, chunk_len=0), "chunk_len must be an integer of 1 or more, got 0"),
        (lambda: charrnn_tf.validation_loss(keras_model, text, chunk_len=-3), "chunk_len must be an integer of 1 or more, got -3"),
        (lambda: charrnn_tf.consecutive_batch(text, 0, 10, 0), "batch_size and seq_len must be integers of 1 or more, got 0 and 10"),
        (lambda: charrnn_tf.consecutive_batch(text, -4, 10, 0), "got -4 and 10"),
        (lambda: charrnn_tf.consecutive_batch(text, 4, 0, 0), "got 4 and 0"),
        (lambda: charrnn_tf.consecutive_batch(text, 4, 10, -1), "index must be an integer of 0 or more, got -1"),
        (lambda: charrnn_tf.sample_text(keras_model, length=-1), "length must be an integer of 0 or more, got -1"),
        (lambda: charrnn_tf.CharGRU(hidden_size=0), "vocab_size, embedding_size and hidden_size must be integers of 1 or more"),
        (lambda: charrnn_tf.CharGRU(hidden_size=2.5), "got 100, 100 and 2.5"),
    ]:
        with pytest.raises(ValueError) as caught:
            call()
        assert words in str(caught.value)


# --- chapter 7's script ---------------------------------------------------------------------------


@pytest.mark.parametrize("option, value, words", [
    ("--threads", "0", "must be positive, got 0"),
    ("--threads", "-1", "must be positive, got -1"),
    ("--threads", "1.5", "invalid positive value: '1.5'"),
    ("--timeout", "0", "must be seconds from 0.1 to 86400, got 0"),
    ("--timeout", "-5", "must be seconds from 0.1 to 86400, got -5"),
    ("--timeout", "nan", "must be seconds from 0.1 to 86400, got nan"),
    ("--timeout", "1e-300", "must be seconds from 0.1 to 86400, got 1e-300"),
    ("--timeout", "1e14", "must be seconds from 0.1 to 86400, got 1e14"),
    ("--timeout", "soon", "invalid number value: 'soon'"),
    ("--peak-lr", "-0.01", "must be a learning rate from 1e-08 to 10, got -0.01"),
    ("--peak-lr", "0", "must be a learning rate from 1e-08 to 10, got 0"),
    ("--peak-lr", "inf", "must be a learning rate from 1e-08 to 10, got inf"),
    ("--fail-rank", "-1", "must be 0 or more, got -1"),
    ("--fail-at", "-1", "must be positive, got -1"),
])
def test_the_script_refuses_bad_settings_when_it_parses_them(option, value, words, capsys):
    from tutorial_utils import ddp_charrnn

    with pytest.raises(SystemExit):
        ddp_charrnn.parse_args([option, value])
    assert f"argument {option}: {words}" in capsys.readouterr().err


def test_the_script_keeps_good_settings():
    from tutorial_utils import ddp_charrnn

    args = ddp_charrnn.parse_args(["--threads", "2", "--timeout", "0.5", "--peak-lr", "3e-3", "--fail-rank", "0"])
    assert (args.threads, args.timeout, args.peak_lr, args.fail_rank) == (2, 0.5, 0.003, 0)


def test_the_script_refuses_to_kill_a_rank_that_does_not_exist(monkeypatch):
    from tutorial_utils import ddp_charrnn

    for name, value in {"RANK": "0", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1", "WORLD_SIZE": "1",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29512"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TUTORIAL_DEVICE", "cpu")
    try:
        with pytest.raises(SystemExit, match="--fail-rank 1: there are only ranks 0 to 0; name one of them"):
            ddp_charrnn.setup(ddp_charrnn.parse_args(["--fail-at", "3", "--timeout", "5"]))
    finally:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


# --- a checkpoint onto a folder -------------------------------------------------------------------


def test_an_atomic_write_onto_a_folder_is_refused_before_anything_is_written(tmp_path):
    from tutorial_utils.files import write_atomically

    (tmp_path / "result.json").mkdir()
    with pytest.raises(IsADirectoryError, match="result.json is a folder, not a file"):
        write_atomically(tmp_path / "result.json", lambda stream: stream.write(b"{}"))
    assert [path.name for path in tmp_path.rglob("*")] == ["result.json"]


def test_a_checkpoint_saved_onto_a_folder_names_the_folder(tmp_path):
    folder = tmp_path / "checkpoint_00000001.pt"
    (folder / "inside").mkdir(parents=True)
    model = torch.nn.Linear(2, 1)
    with pytest.raises(CheckpointError, match=f"{folder} is a folder"):
        save_checkpoint(folder, model, torch.optim.SGD(model.parameters(), lr=0.1), 1)
    assert [path.name for path in tmp_path.rglob("*")] == ["checkpoint_00000001.pt", "inside"]  # nothing lost or left


# --- properties -----------------------------------------------------------------------------------

SIZES = st.one_of(st.integers(-3, 40), st.sampled_from([2.5, 1.0, True, False, np.int64(3), math.nan]))
FRACTIONS = st.one_of(st.floats(-0.5, 1.5), st.sampled_from([1e-9, 1e-3, 0.5, 1 - 1e-9, math.nan, math.inf]))


def refused_naming(error: ValueError, *names: str) -> None:
    assert any(name in str(error) for name in names), str(error)


@settings(max_examples=150)
@given(length=st.integers(0, 60), fraction=FRACTIONS)
def test_a_split_gives_two_texts_each_with_a_prediction_or_is_refused(length, fraction):
    try:
        train, valid = charrnn.split_train_validation(TEXT[:length], fraction)
    except ValueError as error:
        refused_naming(error, "validation_fraction")
    else:
        assert len(train) >= 2 and len(valid) >= 2 and torch.equal(torch.cat([train, valid]), TEXT[:length])


@settings(max_examples=150)
@given(length=st.integers(0, 30), chunk_len=SIZES)
def test_a_validation_loss_is_a_real_loss_or_refused(length, chunk_len):
    try:
        loss = charrnn.validation_loss(MODEL, TEXT[:length], chunk_len=chunk_len)
    except ValueError as error:
        refused_naming(error, "chunk_len", "data must be")
    else:
        assert math.isfinite(loss) and loss > 0
        assert loss == pytest.approx(charrnn.validation_loss(MODEL, TEXT[:length], chunk_len=5000), rel=1e-5)


@settings(max_examples=200)
@given(length=st.integers(0, 60), batch_size=SIZES, seq_len=SIZES, index=st.integers(-3, 50))
def test_a_chunk_holds_the_asked_shape_or_is_refused(length, batch_size, seq_len, index):
    data = TEXT[:length]
    try:
        inputs, targets, _ = charrnn.consecutive_batch(data, batch_size, seq_len, index)
    except ValueError as error:
        refused_naming(error, "batch_size", "seq_len", "too few", "index")
    else:
        assert inputs.shape == targets.shape == (batch_size, seq_len)
        assert torch.equal(inputs[:, 1:], targets[:, :-1])
        assert tu.is_count(batch_size) and tu.is_count(seq_len)  # only whole sizes get a chunk


@settings(max_examples=150)
@given(length=st.integers(0, 60), batch_size=SIZES, seq_len=SIZES)
def test_random_portions_hold_the_asked_shape_or_are_refused(length, batch_size, seq_len):
    data = TEXT[:length]
    try:
        pair = charrnn.random_training_pair(data, seq_len)
    except ValueError as error:
        refused_naming(error, "seq_len")
    else:
        assert pair[0].shape == pair[1].shape == (seq_len,)
    try:
        batch = charrnn.random_training_batch(data, batch_size, seq_len)
    except ValueError as error:
        refused_naming(error, "batch_size", "seq_len")
    else:
        assert batch[0].shape == batch[1].shape == (batch_size, seq_len)


@settings(max_examples=30)
@given(length=SIZES)
def test_a_sample_has_the_asked_length_or_is_refused(length):
    try:
        text = charrnn.sample_text(MODEL, prime="Th", length=length)
    except ValueError as error:
        refused_naming(error, "length")
    else:
        assert len(text) == 2 + length and text.startswith("Th")


@settings(max_examples=100)
@given(length=st.integers(0, 60), batch_size=SIZES, seq_len=SIZES, chunk_len=SIZES)
def test_the_twin_gives_the_asked_shapes_and_real_losses_or_refuses(keras_model, length, batch_size, seq_len, chunk_len):
    from tutorial_utils import charrnn_tf

    data = np.asarray(TEXT[:length])
    try:
        inputs, targets, _ = charrnn_tf.consecutive_batch(data, batch_size, seq_len, 0)
    except ValueError as error:
        refused_naming(error, "batch_size", "seq_len", "too few")
    else:
        assert inputs.shape == targets.shape == (batch_size, seq_len)
    try:
        loss = charrnn_tf.validation_loss(keras_model, data[:30], chunk_len=chunk_len)
    except ValueError as error:
        refused_naming(error, "chunk_len", "data must be")
    else:
        assert math.isfinite(loss) and loss > 0


@settings(max_examples=60)
@given(vocab=st.integers(-1, 5), embedding=st.integers(-1, 5), hidden=st.integers(-1, 5), layers=st.integers(-1, 3))
def test_a_model_of_any_size_works_or_names_its_sizes(vocab, embedding, hidden, layers):
    try:
        model = charrnn.CharRNN(vocab, embedding, hidden, layers)
    except ValueError as error:
        refused_naming(error, "vocab_size, embedding_size, hidden_size and num_layers must be integers of 1 or more")
    else:
        logits, _ = model(torch.zeros(2, 3, dtype=torch.long))
        assert logits.shape == (2, 3, vocab)


@settings(max_examples=200)
@given(iteration=SIZES, total=SIZES, warmup=SIZES, peak=st.sampled_from([0.01, 0.0, -1.0, math.inf, math.nan]),
       final=st.sampled_from([0.05, 0.0, 1.0, -0.1, 2.0]))
def test_a_learning_rate_of_the_schedule_lies_between_its_floor_and_peak_or_is_refused(iteration, total, warmup, peak, final):
    try:
        lr = charrnn.cosine_lr(iteration, total, peak, warmup, final)
    except ValueError as error:
        refused_naming(error, "total must be", "iteration must be", "final_fraction must be")
    else:
        assert 0 < lr <= peak and (iteration < warmup or lr >= final * peak - 1e-12)
        assert all(tu.is_count(n, 0) for n in (iteration, warmup)) and tu.is_count(total) and 0 <= final <= 1
