"""A character-level recurrent language model: the model, two ways to train it, evaluation, sampling.

The model is the one of Raschka's ``char_rnn`` notebook: an embedding of the 100 characters of
``string.printable``, one GRU layer and a linear read-out. The *faithful* training step steps
the GRU one character at a time in a Python loop, as the original does; the *batched* step feeds
whole sequences of a mini-batch to a single ``GRU`` call. Both train the same module.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .text import PRINTABLE, char_to_tensor, tensor_to_text

__all__ = [
    "CharRNN",
    "FastHistory",
    "bits_per_char",
    "consecutive_batch",
    "cosine_lr",
    "random_training_batch",
    "random_training_pair",
    "sample_text",
    "split_train_validation",
    "train_step_batched",
    "train_fast",
    "train_step_loop",
    "validation_loss",
]


class CharRNN(nn.Module):
    """Embedding -> GRU (or LSTM) -> Linear, over a vocabulary of ``vocab_size`` characters.

    ``forward`` takes a ``(batch, time)`` tensor of character indices and the hidden state and
    returns ``(batch, time, vocab_size)`` logits and the new hidden state; a single character is
    simply a sequence of length 1.
    """

    def __init__(
        self,
        vocab_size: int = len(PRINTABLE),
        embedding_size: int = 100,
        hidden_size: int = 100,
        num_layers: int = 1,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.vocab_size, self.hidden_size, self.num_layers, self.cell = vocab_size, hidden_size, num_layers, cell
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        rnn_class = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_class(embedding_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def init_hidden(self, batch_size: int = 1, device: torch.device | str | None = None):
        """The all-zero initial state: a tensor for a GRU, a ``(h, c)`` pair for an LSTM."""
        device = device if device is not None else self.fc.weight.device
        zeros = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)
        return zeros if self.cell == "gru" else (zeros, zeros.clone())

    def forward(self, inputs: torch.Tensor, hidden=None):
        if inputs.dim() != 2:
            raise ValueError(f"inputs must be a (batch, time) tensor of indices, got shape {tuple(inputs.shape)}")
        if hidden is None:
            hidden = self.init_hidden(inputs.shape[0], inputs.device)
        output, hidden = self.rnn(self.embedding(inputs), hidden)
        return self.fc(output), hidden


def split_train_validation(encoded: torch.Tensor, validation_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Split an encoded text into its first part (training) and its last ``validation_fraction``."""
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    cut = int(round(len(encoded) * (1.0 - validation_fraction)))
    if cut < 2 or len(encoded) - cut < 2:
        raise ValueError(f"a text of {len(encoded)} characters is too short to split at {validation_fraction}")
    return encoded[:cut], encoded[cut:]


def _check_length(data: torch.Tensor, seq_len: int) -> None:
    if seq_len < 1:
        raise ValueError(f"seq_len must be positive, got {seq_len}")
    if len(data) < seq_len + 1:
        raise ValueError(f"the text has {len(data)} characters, fewer than seq_len + 1 = {seq_len + 1}")


def random_training_pair(data: torch.Tensor, seq_len: int = 200, rng: random.Random | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The original's sampling: a random portion of ``seq_len + 1`` characters, split into input and target.

    The start is drawn with Python's ``random`` (``rng`` or the global generator), as
    ``randint(0, len(data) - seq_len - 1)``; the targets are the inputs shifted by one character.
    """
    _check_length(data, seq_len)
    start = (rng or random).randint(0, len(data) - seq_len - 1)
    chunk = data[start : start + seq_len + 1]
    return chunk[:-1], chunk[1:]


def random_training_batch(data: torch.Tensor, batch_size: int = 32, seq_len: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random portions at once, as ``(batch, seq_len)`` inputs and targets.

    The starts come from torch's global CPU generator, so the batches are the same on every device.
    """
    _check_length(data, seq_len)
    starts = torch.randint(0, len(data) - seq_len, (batch_size,)).to(data.device)
    index = starts[:, None] + torch.arange(seq_len + 1, device=data.device)
    chunks = data[index]
    return chunks[:, :-1], chunks[:, 1:]


def consecutive_batch(data: torch.Tensor, batch_size: int, seq_len: int, index: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """The ``index``-th chunk of truncated back-propagation through time.

    The text is cut into ``batch_size`` contiguous streams; chunk ``index`` is the next
    ``seq_len`` characters of every stream, so the hidden state left by chunk ``index - 1`` is the
    right starting state for it. The third value is ``True`` when the chunk starts a new pass over
    the streams (the carried state must then be reset).
    """
    stream_len = (len(data) - 1) // batch_size
    per_pass = stream_len // seq_len
    if per_pass < 1:
        raise ValueError(f"the text has {len(data)} characters, too few for {batch_size} streams of {seq_len + 1}")
    position = (index % per_pass) * seq_len
    offsets = torch.arange(batch_size, device=data.device)[:, None] * stream_len
    chunks = data[offsets + position + torch.arange(seq_len + 1, device=data.device)]
    return chunks[:, :-1], chunks[:, 1:], index % per_pass == 0


def train_step_loop(model: CharRNN, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """One update as the original does it: the GRU stepped character by character in a Python loop.

    Starts from the zero state, averages the per-step cross-entropies, back-propagates, steps.
    """
    hidden = model.init_hidden(1, inputs.device)
    optimizer.zero_grad()
    loss = torch.zeros((), device=inputs.device)
    for step in range(len(inputs)):
        logits, hidden = model(inputs[step].view(1, 1), hidden)
        loss = loss + F.cross_entropy(logits.view(1, -1), targets[step].view(1))
    loss = loss / len(inputs)
    loss.backward()
    optimizer.step()
    return loss.item()


def train_step_batched(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    clip_norm: float | None = None,
) -> float:
    """One update on a ``(batch, time)`` mini-batch with a single ``GRU`` call over all time steps."""
    optimizer.zero_grad()
    logits, _ = model(inputs)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.item()


def cosine_lr(iteration: int, total: int, peak: float, warmup: int = 0, final_fraction: float = 0.05) -> float:
    """Learning rate at ``iteration``: linear warm-up to ``peak``, then cosine decay to ``final_fraction * peak``."""
    if iteration < warmup:
        return peak * (iteration + 1) / warmup
    progress = min(1.0, (iteration - warmup) / max(1, total - warmup))
    return peak * (final_fraction + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class FastHistory:
    """What :func:`train_fast` measured: one entry per validation, and the loss of every iteration."""

    iterations: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_fast(
    model: CharRNN,
    train_data: torch.Tensor,
    iterations: int,
    *,
    batch_size: int = 16,
    seq_len: int = 100,
    peak_lr: float = 0.01,
    warmup: int = 20,
    clip_norm: float = 1.0,
    valid_data: torch.Tensor | None = None,
    eval_every: int = 0,
    stop_at_loss: float | None = None,
) -> FastHistory:
    """The fast recipe: mini-batches, one ``GRU`` call per chunk, hidden state carried between chunks.

    Truncated back-propagation through time over :func:`consecutive_batch` chunks, Adam with a
    warm-up and cosine learning-rate schedule (:func:`cosine_lr`) and gradient-norm clipping.
    Every ``eval_every`` iterations (and at the start and the end) the validation loss on
    ``valid_data`` is recorded with the training time so far; the clock is paused while
    validating. Training stops early once the validation loss is at most ``stop_at_loss``.
    """
    device = train_data.device
    optimizer = torch.optim.Adam(model.parameters(), lr=peak_lr)
    history = FastHistory()
    seconds, hidden = 0.0, None

    def evaluate(iteration: int) -> bool:
        if valid_data is None:
            return False
        loss = validation_loss(model, valid_data)
        history.iterations.append(iteration)
        history.seconds.append(seconds)
        history.validation.append(loss)
        return stop_at_loss is not None and loss <= stop_at_loss

    evaluate(0)
    model.train()
    for iteration in range(iterations):
        _synchronize(device)
        start = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(train_data, batch_size, seq_len, iteration)
        if fresh:
            hidden = None
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(iteration, iterations, peak_lr, warmup)
        optimizer.zero_grad()
        logits, hidden = model(inputs, hidden)
        hidden = hidden.detach() if isinstance(hidden, torch.Tensor) else tuple(h.detach() for h in hidden)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        history.train_losses.append(loss.item())
        _synchronize(device)
        seconds += time.perf_counter() - start
        done = iteration + 1
        if (eval_every and done % eval_every == 0) or done == iterations:
            if evaluate(done):
                break
    return history


@torch.no_grad()
def validation_loss(model: CharRNN, data: torch.Tensor, chunk_len: int = 5000) -> float:
    """Mean cross-entropy (nats per character) of predicting each character of ``data`` from those before it.

    The text is read as one stream from the zero state, ``chunk_len`` characters per ``GRU`` call,
    with the hidden state carried from chunk to chunk; every character but the first is predicted.
    """
    if len(data) < 2:
        raise ValueError(f"validation text needs at least 2 characters, got {len(data)}")
    was_training = model.training
    model.eval()
    hidden = model.init_hidden(1, data.device)
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    for start in range(0, len(data) - 1, chunk_len):
        inputs = data[start : min(start + chunk_len, len(data) - 1)]
        targets = data[start + 1 : start + 1 + len(inputs)]
        logits, hidden = model(inputs.view(1, -1), hidden)
        total += F.cross_entropy(logits.view(-1, logits.shape[-1]), targets, reduction="sum").double()
    model.train(was_training)
    return total.item() / (len(data) - 1)


def bits_per_char(loss_nats: float) -> float:
    """Convert a cross-entropy in nats per character to bits per character: ``loss / ln 2``."""
    return loss_nats / math.log(2)


@torch.no_grad()
def sample_text(
    model: CharRNN,
    prime: str = "Th",
    length: int = 200,
    temperature: float = 0.8,
    seed: int = 123,
    vocabulary: str = PRINTABLE,
) -> str:
    """Generate ``length`` characters after ``prime``, sampling from ``softmax(logits / temperature)``.

    The draws use a CPU generator seeded with ``seed``, so a given model gives the same text on
    every run and device.
    """
    if not prime:
        raise ValueError("prime must contain at least one character")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    was_training = model.training
    model.eval()
    device = model.fc.weight.device
    generator = torch.Generator().manual_seed(seed)
    primed = char_to_tensor(prime, vocabulary).to(device)
    logits, hidden = model(primed.view(1, -1))
    drawn = []
    for _ in range(length):
        probabilities = torch.softmax(logits[0, -1].double().cpu() / temperature, dim=0)
        index = torch.multinomial(probabilities, 1, generator=generator)
        drawn.append(index)
        logits, hidden = model(index.to(device).view(1, 1), hidden)
    model.train(was_training)
    return prime + tensor_to_text(torch.cat(drawn) if drawn else torch.zeros(0, dtype=torch.long), vocabulary)

