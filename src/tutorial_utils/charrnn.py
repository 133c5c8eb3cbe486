"""A character-level language model: the code of chapter 6, for later chapters, benchmarks and tests.

Generated from notebooks/06_char_rnn.py, notebooks/06_2_recurrent_networks.py, notebooks/06_3_backprop_through_time.py, notebooks/06_4_truncated_bptt.py, notebooks/06_5_how_much_faster.py, notebooks/06_7_checkpoints.py
(their cells tagged 'export') by scripts/export_notebooks.py: edit the notebooks and run `make export`,
not this file.
"""


import math
import random
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

import tutorial_utils as tu


def split_train_validation(
    encoded: torch.Tensor, validation_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """The text's first part for training, its last fraction for validation."""
    if not 0 < validation_fraction < 1:  # 10 for 10% would cut nothing
        raise ValueError(
            f"validation_fraction must be in (0, 1), got {validation_fraction}"
        )
    cut = round(len(encoded) * (1.0 - validation_fraction))
    if not 2 <= cut <= len(encoded) - 2:  # each part needs one prediction
        raise ValueError(
            f"validation_fraction {validation_fraction} of {len(encoded)}"
            f" characters leaves {cut} for training and"
            f" {len(encoded) - cut} for validation; each needs 2 or more:"
            " use a fraction nearer 0.5 or a longer text"
        )
    return encoded[:cut], encoded[cut:]


def bits_per_char(loss_nats: float) -> float:
    """A cross-entropy in nats per character, in bits: `loss / ln 2`."""
    return loss_nats / math.log(2)


class CharRNN(nn.Module):
    """Embedding -> GRU (or LSTM) -> Linear, over `vocab_size` characters."""

    def __init__(
        self,
        vocab_size: int = len(tu.PRINTABLE),
        embedding_size: int = 100,
        hidden_size: int = 100,
        num_layers: int = 1,
        cell: str = "gru",
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        if not all(
            tu.is_count(size)
            for size in (vocab_size, embedding_size, hidden_size, num_layers)
        ):
            raise ValueError(
                "vocab_size, embedding_size, hidden_size and num_layers must"
                f" be integers of 1 or more, got {vocab_size!r},"
                f" {embedding_size!r}, {hidden_size!r} and {num_layers!r}"
            )
        self.vocab_size, self.cell = vocab_size, cell
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        rnn_class = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_class(
            embedding_size, hidden_size, num_layers, batch_first=True
        )
        self.fc = nn.Linear(hidden_size, vocab_size)

    def init_hidden(
        self, batch_size: int = 1, device: torch.device | str | None = None
    ):
        """The all-zero state: a tensor (GRU) or an `(h, c)` pair (LSTM)."""
        device = device if device is not None else self.fc.weight.device
        zeros = torch.zeros(
            self.num_layers, batch_size, self.hidden_size, device=device
        )
        return zeros if self.cell == "gru" else (zeros, zeros.clone())

    def forward(self, inputs: torch.Tensor, hidden=None):
        """`(batch, time)` character indices -> logits and the new state."""
        if inputs.dim() != 2:  # a 1-D text would be read as one long batch
            raise ValueError(
                f"inputs must be (batch, time), got {inputs.shape}"
            )
        if hidden is None:
            hidden = self.init_hidden(inputs.shape[0], inputs.device)
        output, hidden = self.rnn(self.embedding(inputs), hidden)
        return self.fc(output), hidden


def recorded_operations(tensor: torch.Tensor) -> list[str]:
    """The names of the operations autograd recorded to compute `tensor`."""
    seen, todo = set(), [tensor.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:
            seen.add(node)
            todo.extend(parent for parent, _ in node.next_functions)
    return [type(node).__name__ for node in seen]


def random_training_pair(
    data: torch.Tensor, seq_len: int = 200, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random portion of `seq_len + 1` characters: inputs, targets."""
    if not tu.is_count(seq_len):
        raise ValueError(
            f"seq_len must be an integer of 1 or more, got {seq_len!r}"
        )
    if len(data) <= seq_len:
        raise ValueError(
            f"{len(data)} characters are too few for seq_len {seq_len}"
        )
    start = (rng or random).randint(0, len(data) - seq_len - 1)
    chunk = data[start : start + seq_len + 1]
    return chunk[:-1], chunk[1:]


def train_step_loop(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
) -> float:
    """One update as the original does it: the GRU stepped per character."""
    if len(inputs) < 1:  # the mean loss of no characters is 0/0
        raise ValueError(
            f"inputs must hold at least one character, got {len(inputs)}"
        )
    hidden = model.init_hidden(1, inputs.device)
    optimizer.zero_grad()
    loss = torch.zeros((), device=inputs.device)
    for step in range(len(inputs)):
        logits, hidden = model(inputs[step].view(1, 1), hidden)
        loss = loss + F.cross_entropy(
            logits.view(1, -1), targets[step].view(1)
        )
    loss = loss / len(inputs)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def validation_loss(
    model: CharRNN, data: torch.Tensor, chunk_len: int = 5000
) -> float:
    """Mean cross-entropy (nats/char) of each character given those before."""
    if data.dim() != 1 or len(data) < 2:  # one text, read as one stream
        raise ValueError(
            "data must be a 1-D text of at least 2 characters,"
            f" got shape {tuple(data.shape)}"
        )
    if not tu.is_count(chunk_len):  # below 1, no chunk would be scored
        raise ValueError(
            f"chunk_len must be an integer of 1 or more, got {chunk_len!r}"
        )
    was_training = model.training
    model.eval()
    hidden = model.init_hidden(1, data.device)
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    for start in range(0, len(data) - 1, chunk_len):
        inputs = data[start : min(start + chunk_len, len(data) - 1)]
        targets = data[start + 1 : start + 1 + len(inputs)]
        logits, hidden = model(inputs.view(1, -1), hidden)
        total += F.cross_entropy(
            logits.view(-1, logits.shape[-1]), targets, reduction="sum"
        ).double()
    model.train(was_training)
    return total.item() / (len(data) - 1)


@torch.no_grad()
def sample_text(
    model: CharRNN,
    prime: str = "Th",
    length: int = 200,
    temperature: float = 0.8,
    seed: int = 123,
) -> str:
    """`prime` and `length` characters from `softmax(logits / temperature)`."""
    if not prime:  # the model needs at least one character to start from
        raise ValueError("prime must contain at least one character")
    if not tu.is_count(length, 0):
        raise ValueError(
            f"length must be an integer of 0 or more, got {length!r}"
        )
    if not temperature > 0:  # 0 would divide by zero: use 0.1 for near-greedy
        raise ValueError(f"temperature must be > 0, got {temperature}")
    was_training = model.training
    model.eval()
    device = model.fc.weight.device
    generator = torch.Generator().manual_seed(seed)
    logits, hidden = model(tu.char_to_tensor(prime).to(device).view(1, -1))
    drawn = []
    for _ in range(length):
        probabilities = torch.softmax(
            logits[0, -1].double().cpu() / temperature, dim=0
        )
        index = torch.multinomial(probabilities, 1, generator=generator)
        drawn.append(index)
        logits, hidden = model(index.to(device).view(1, 1), hidden)
    model.train(was_training)
    return prime + tu.tensor_to_text(
        torch.cat(drawn) if drawn else torch.zeros(0, dtype=torch.long)
    )


def consecutive_batch(
    data: torch.Tensor, batch_size: int, seq_len: int, index: int
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Chunk `index` of truncated BPTT: inputs, targets, starts a new pass?"""
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
    if per_pass < 1:  # a short text with a large batch leaves no chunk
        raise ValueError(
            f"{len(data)} characters are too few for {batch_size} streams"
            f" of {seq_len} (at least {batch_size * seq_len + 1}):"
            " use fewer streams or shorter chunks"
        )
    position = (index % per_pass) * seq_len
    offsets = (
        torch.arange(batch_size, device=data.device)[:, None] * stream_len
    )
    chunks = data[
        offsets + position + torch.arange(seq_len + 1, device=data.device)
    ]
    return chunks[:, :-1], chunks[:, 1:], index % per_pass == 0


def cosine_lr(
    iteration: int,
    total: int,
    peak: float,
    warmup: int = 0,
    final_fraction: float = 0.05,
) -> float:
    """Linear warm-up to `peak`, cosine decay to `final_fraction * peak`."""
    if not (tu.is_count(total) and tu.is_count(warmup, 0)):
        raise ValueError(
            "total must be an integer of 1 or more and warmup of 0 or more,"
            f" got {total!r} and {warmup!r}"
        )
    if not (tu.is_count(iteration, 0) and 0 < peak < math.inf):
        raise ValueError(
            "iteration must be an integer of 0 or more and peak a finite"
            f" number above 0, got {iteration!r} and {peak!r}"
        )
    if not 0 <= final_fraction <= 1:
        raise ValueError(
            f"final_fraction must be from 0 to 1, got {final_fraction!r}"
        )
    if iteration < warmup:
        return peak * (iteration + 1) / warmup
    progress = min(1.0, (iteration - warmup) / max(1, total - warmup))
    return peak * (
        final_fraction
        + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
    )


def init_unigram_bias(model: CharRNN, data: torch.Tensor) -> CharRNN:
    """Set the read-out's bias to the log-frequencies of the characters."""
    counts = torch.bincount(data.flatten().cpu(), minlength=model.vocab_size)
    frequencies = (counts + 1) / (counts + 1).sum()  # +1: no log of zero
    with torch.no_grad():
        model.fc.bias.copy_(frequencies.log())
    return model


def tbptt_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    hidden,
    lr: float,
    clip_norm: float = 1.0,
):
    """One update on a `(batch, time)` chunk: its loss, the state to carry."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad()
    logits, hidden = model(inputs, hidden)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    )
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    hidden = (
        hidden.detach()
        if isinstance(hidden, torch.Tensor)
        else tuple(h.detach() for h in hidden)
    )
    return loss.detach(), hidden


def train_tbptt(
    model: CharRNN,
    train_data: torch.Tensor,
    iterations: int,
    batch_size: int = 64,
    seq_len: int = 25,
    peak_lr: float = 0.01,
    warmup: int = 20,
    clip_norm: float = 1.0,
) -> list[float]:
    """Truncated BPTT with Adam and the schedule: each iteration's loss."""
    optimizer = torch.optim.Adam(model.parameters(), lr=peak_lr)
    model.train()
    hidden, losses = None, []
    for iteration in range(iterations):
        inputs, targets, fresh = consecutive_batch(
            train_data, batch_size, seq_len, iteration
        )
        lr = cosine_lr(iteration, iterations, peak_lr, warmup)
        loss, hidden = tbptt_step(
            model,
            optimizer,
            inputs,
            targets,
            None if fresh else hidden,
            lr,
            clip_norm,
        )
        losses.append(loss.item())
    return losses


@dataclass
class FastHistory:
    """What `train_fast` measured: each validation, each iteration's loss."""

    iterations: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)


def train_fast(
    model: CharRNN,
    train_data: torch.Tensor,
    iterations: int,
    *,
    batch_size: int = 64,
    seq_len: int = 25,
    peak_lr: float = 0.01,
    warmup: int = 20,
    clip_norm: float = 1.0,
    valid_data: torch.Tensor | None = None,
    eval_every: int = 0,
    stop_at_loss: float | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> FastHistory:
    """Truncated BPTT with Adam, a cosine schedule and gradient clipping."""
    if not tu.is_count(iterations):  # the schedule needs a length
        raise ValueError(
            f"iterations must be an integer of 1 or more, got {iterations!r}"
        )
    if not tu.is_count(eval_every, 0):
        raise ValueError(
            "eval_every must be an integer, 0 (no validation) or more,"
            f" got {eval_every!r}"
        )
    if not (0 < peak_lr < math.inf and clip_norm > 0):
        raise ValueError(
            "peak_lr must be a finite number above 0 and clip_norm a number"
            f" above 0, got {peak_lr!r} and {clip_norm!r}"
        )
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=peak_lr)
    history = FastHistory()
    seconds, hidden = 0.0, None

    def reached_target(iteration: int) -> bool:
        if valid_data is None:
            return False
        loss = validation_loss(model, valid_data)
        history.iterations.append(iteration)
        history.seconds.append(seconds)
        history.validation.append(loss)
        return stop_at_loss is not None and loss <= stop_at_loss

    if reached_target(0):
        return history
    model.train()
    for iteration in range(iterations):
        tu.synchronize(train_data.device)
        start = time.perf_counter()
        inputs, targets, fresh = consecutive_batch(
            train_data, batch_size, seq_len, iteration
        )
        lr = cosine_lr(iteration, iterations, peak_lr, warmup)
        loss, hidden = tbptt_step(
            model,
            optimizer,
            inputs,
            targets,
            None if fresh else hidden,
            lr,
            clip_norm,
        )
        history.train_losses.append(loss.item())
        tu.synchronize(train_data.device)
        seconds += time.perf_counter() - start
        done = iteration + 1
        if (eval_every and done % eval_every == 0) or done == iterations:
            if reached_target(done):
                break
    return history


def random_training_batch(
    data: torch.Tensor, batch_size: int = 32, seq_len: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random portions: `(batch, seq_len)` inputs, targets.

    The starts come from torch's global CPU generator, so the batches are the
    same on every device.
    """
    if not (tu.is_count(batch_size) and tu.is_count(seq_len)):
        raise ValueError(
            "batch_size and seq_len must be integers of 1 or more,"
            f" got {batch_size!r} and {seq_len!r}"
        )
    if len(data) <= seq_len:
        raise ValueError(
            f"{len(data)} characters are too few for seq_len {seq_len}"
        )
    starts = torch.randint(0, len(data) - seq_len, (batch_size,)).to(
        data.device
    )
    chunks = data[
        starts[:, None] + torch.arange(seq_len + 1, device=data.device)
    ]
    return chunks[:, :-1], chunks[:, 1:]


def train_step_batched(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    clip_norm: float | None = None,
) -> float:
    """One update on a `(batch, time)` mini-batch, one GRU call for it."""
    optimizer.zero_grad()
    logits, _ = model(inputs)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    )
    loss.backward()
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.item()
