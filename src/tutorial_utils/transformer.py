"""Attention: a character Transformer: the code of chapter 8, for later chapters, benchmarks and tests.

Generated from notebooks/08_char_transformer.py (its cells tagged 'export') by scripts/export_notebooks.py:
edit the notebook and run `make export`, not this file.
"""


import math

import torch
import torch.nn.functional as F
from torch import nn

import tutorial_utils as tu
from tutorial_utils.charrnn import cosine_lr


def validation_windows(
    predictions: int, context: int, stride: int
) -> list[tuple[int, int]]:
    """`(start, first scored position)` of each window over a text with
    `predictions` targets: every target is scored once, and after the
    first window each sees at least `context - stride` characters."""
    if not all(tu.is_count(n) for n in (predictions, context, stride)):
        raise ValueError(
            "predictions, context and stride must be integers of 1 or"
            f" more, got {predictions!r}, {context!r} and {stride!r}"
        )
    if stride > context:  # a gap between windows would score nothing
        raise ValueError(
            f"stride {stride} is longer than the context {context}:"
            " use a stride of at most the context"
        )
    length = min(context, predictions)
    windows, covered = [], 0
    for start in range(0, predictions, stride):
        start = min(start, predictions - length)
        windows.append((start, covered - start))
        covered = start + length
        if covered == predictions:
            break
    return windows


def causal_attention(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + mask) v: each position sees itself and
    the positions before it. Shapes `(..., time, head_size)`."""
    time_steps, head_size = queries.shape[-2:]
    scores = queries @ keys.transpose(-2, -1) / math.sqrt(head_size)
    future = torch.ones(
        time_steps, time_steps, dtype=torch.bool, device=queries.device
    ).triu(diagonal=1)
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1) @ values


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: one projection makes the
    queries, keys and values of every head, another mixes the heads."""

    def __init__(
        self, d_model: int, n_heads: int, by_hand: bool = False
    ) -> None:
        super().__init__()
        if not (tu.is_count(d_model) and tu.is_count(n_heads)):
            raise ValueError(
                "d_model and n_heads must be integers of 1 or more,"
                f" got {d_model!r} and {n_heads!r}"
            )
        if d_model % n_heads:  # every head gets an equal share
            raise ValueError(
                f"d_model {d_model} is not divisible by n_heads {n_heads}:"
                " choose a width that is a multiple of the heads"
            )
        self.n_heads, self.by_hand = n_heads, by_hand
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, time_steps, width = x.shape
        head_size = width // self.n_heads
        q, k, v = (
            self.qkv(x)
            .view(batch, time_steps, 3, self.n_heads, head_size)
            .permute(2, 0, 3, 1, 4)  # 3 x (batch, heads, time, head)
        )
        if self.by_hand:
            heads = causal_attention(q, k, v)
        else:
            heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        merged = heads.transpose(1, 2).reshape(batch, time_steps, width)
        return self.proj(merged)


class Block(nn.Module):
    """A pre-norm Transformer block: attention, then a 4x-wide MLP,
    each added to its input (the residual stream)."""

    def __init__(
        self, d_model: int, n_heads: int, by_hand: bool = False
    ) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, n_heads, by_hand)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            nn.Linear(4 * d_model, d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharTransformer(nn.Module):
    """Token and position embeddings -> pre-norm blocks -> LayerNorm ->
    Linear: a decoder-only model over `vocab_size` characters."""

    def __init__(
        self,
        vocab_size: int = len(tu.PRINTABLE),
        d_model: int = 96,
        n_heads: int = 4,
        n_layers: int = 3,
        context: int = 64,
        by_hand: bool = False,
    ) -> None:
        super().__init__()
        if not all(
            tu.is_count(size) for size in (vocab_size, n_layers, context)
        ):
            raise ValueError(
                "vocab_size, n_layers and context must be integers of 1 or"
                f" more, got {vocab_size!r}, {n_layers!r} and {context!r}"
            )
        self.vocab_size, self.context = vocab_size, context
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, by_hand) for _ in range(n_layers)
        )
        self.ln = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, vocab_size)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """`(batch, time)` character indices -> `(batch, time, vocab)`."""
        if inputs.dim() != 2:  # a 1-D text would be read as one batch
            raise ValueError(
                f"inputs must be (batch, time), got {tuple(inputs.shape)}"
            )
        if inputs.shape[1] > self.context:  # no position embedding
            raise ValueError(
                f"{inputs.shape[1]} characters are more than the context"
                f" of {self.context}: pass the last {self.context}"
            )
        positions = torch.arange(inputs.shape[1], device=inputs.device)
        x = self.token(inputs) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        return self.fc(self.ln(x))


@torch.no_grad()
def window_validation_loss(
    model: CharTransformer,
    data: torch.Tensor,
    stride: int | None = None,
    batch_size: int = 256,
) -> float:
    """Mean cross-entropy (nats/char) of each character after the first,
    in overlapping windows of the model's context (see
    `validation_windows`; the default stride is half the context)."""
    if data.dim() != 1 or len(data) < 2:
        raise ValueError(
            "data must be a 1-D text of at least 2 characters,"
            f" got shape {tuple(data.shape)}"
        )
    predictions = len(data) - 1
    length = min(model.context, predictions)
    windows = validation_windows(
        predictions, model.context, stride or max(1, model.context // 2)
    )
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=data.device)
    offsets = torch.arange(length + 1, device=data.device)
    for first in range(0, len(windows), batch_size):
        batch = windows[first : first + batch_size]
        starts = torch.tensor([s for s, _ in batch], device=data.device)
        scored_from = torch.tensor([f for _, f in batch], device=data.device)
        chunks = data[starts[:, None] + offsets]
        logits = model(chunks[:, :-1])
        losses = F.cross_entropy(
            logits.transpose(1, 2), chunks[:, 1:], reduction="none"
        )
        scored = offsets[:-1] >= scored_from[:, None]
        total += losses[scored].double().sum()
    model.train(was_training)
    return total.item() / predictions


def random_windows(
    data: torch.Tensor,
    batch_size: int,
    context: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` windows of `context + 1` characters from random
    places: inputs, and targets one character later."""
    if not (tu.is_count(batch_size) and tu.is_count(context)):
        raise ValueError(
            "batch_size and context must be integers of 1 or more,"
            f" got {batch_size!r} and {context!r}"
        )
    if len(data) <= context:
        raise ValueError(
            f"{len(data)} characters are too few for a window of"
            f" {context + 1}: use a shorter context"
        )
    starts = torch.randint(
        len(data) - context, (batch_size, 1), generator=generator
    ).to(data.device)
    windows = data[starts + torch.arange(context + 1, device=data.device)]
    return windows[:, :-1], windows[:, 1:]


def adamw_for(
    model: nn.Module, lr: float, weight_decay: float = 0.1
) -> torch.optim.AdamW:
    """AdamW that decays the weight matrices only: not the biases, the
    LayerNorm gains or the embeddings."""
    decayed, kept = [], []
    for name, parameter in model.named_parameters():
        matrix = parameter.dim() == 2 and "token" not in name
        (decayed if matrix and "position" not in name else kept).append(
            parameter
        )
    groups = [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.99))


def transformer_step(
    model: CharTransformer,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    lr: float,
    clip_norm: float = 1.0,
) -> torch.Tensor:
    """One update on a batch of windows: its mean loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad()
    logits = model(inputs)
    loss = F.cross_entropy(logits.transpose(1, 2), targets)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.detach()


def train_transformer(
    model: CharTransformer,
    train_data: torch.Tensor,
    iterations: int,
    batch_size: int = 64,
    peak_lr: float = 0.01,
    warmup: int = 30,
    clip_norm: float = 1.0,
    seed: int = 0,
) -> list[float]:
    """AdamW, warm-up and cosine, clipping: each iteration's loss."""
    optimizer = adamw_for(model, peak_lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for iteration in range(iterations):
        inputs, targets = random_windows(
            train_data, batch_size, model.context, generator
        )
        lr = cosine_lr(iteration, iterations, peak_lr, warmup)
        loss = transformer_step(
            model, optimizer, inputs, targets, lr, clip_norm
        )
        losses.append(loss.item())
    return losses


@torch.no_grad()
def sample_transformer(
    model: CharTransformer,
    prime: str = "Th",
    length: int = 200,
    temperature: float = 0.8,
    seed: int = 123,
) -> str:
    """`prime` and `length` characters drawn one at a time from
    `softmax(logits / temperature)`, each given the last `context`."""
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
    text = tu.char_to_tensor(prime).to(device)
    for _ in range(length):
        logits = model(text[-model.context :].view(1, -1))
        probabilities = torch.softmax(
            logits[0, -1].double().cpu() / temperature, dim=0
        )
        drawn = torch.multinomial(probabilities, 1, generator=generator)
        text = torch.cat([text, drawn.to(device)])
    model.train(was_training)
    return tu.tensor_to_text(text.cpu())
