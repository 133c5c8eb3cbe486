# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
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
# # A character-level GRU language model, faithful and then fast
#
# *The TensorFlow twin of this chapter: [A character-level GRU language model, in TensorFlow and Keras](06_char_rnn_tensorflow.ipynb). The
# [side-by-side page](../book/char_rnn_comparison.md) shows the two next to each other.*
#
# A character-level language model reads text one character at a time and predicts the next
# one. Trained on Charles Dickens' *A Tale of Two Cities*, it learns spelling, punctuation and a
# little grammar, and it can then write "Dickens" of its own, one sampled character at a time.
# In this chapter we will
#
# 1. clean the novel and encode it as integers, keeping its last 10% aside for validation;
# 2. build the model of the original post: an embedding, one GRU layer and a linear read-out;
# 3. train it *as the original does*: one random 200-character portion per iteration, the GRU
#    stepped one character at a time in a Python loop, and measure how slow that is;
# 4. train the same model *fast*: whole sequences in one `GRU` call, mini-batches, truncated
#    back-propagation through time, gradient clipping and a learning-rate schedule, and compare
#    both by validation loss against training time;
# 5. generate text at several temperatures, and make long training survive interruptions with
#    checkpoints.
#
# The notebook runs on the CPU, and on a GPU when there is one. Opened in
# Colab it asks for a GPU runtime; if none is free, it runs on the CPU unchanged.
#
# The model, its training, its validation loss and its sampler are defined
# here, in the chapter's cells. A few helpers come from the book's package
# `tutorial_utils` (imported as `tu`): loading, cleaning and encoding the text
# (`tu.load_novel_text`, `tu.clean_text`, `tu.char_to_tensor`), choosing the
# device, reading the recorded benchmark results, and the checkpointed
# training loop `tu.train_resumable`. The cells that later chapters and
# the benchmarks reuse (the model, the training steps, the validation loss, the sampler) are also
# copied into the helper package as `tutorial_utils.charrnn` by `make export`; this notebook uses
# its own definitions.
#
# The model and its training need PyTorch and a few standard modules:

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

# %% tags=["export"]
import math
import random
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

import tutorial_utils as tu

# %% [markdown]
# The notebook itself also draws and writes temporary files, and chooses the device:

# %%
import tempfile
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt

device = tu.get_device()
if device.type == "cpu":
    torch.set_num_threads(1)  # see below
print(
    "PyTorch",
    torch.__version__,
    "| running on",
    device.type,
    "| CPU threads:",
    torch.get_num_threads(),
)

# %% [markdown]
# On the CPU the notebook uses one thread, so that its results do not depend
# on the number of cores. (A second thread is one of the levers tried near the
# end of the chapter.)
#
# ## The data
#
# `tu.load_novel_text()` returns the novel's text as stored (from the local
# mirror, the cache or a download from Project Gutenberg), decoded from UTF-8
# and not yet cleaned. The copy printed here starts at the title, without
# Gutenberg's header, and still holds its curly quotes:

# %%
raw = tu.load_novel_text()
non_ascii = sum(1 for char in raw if ord(char) > 127)
print(f"{len(raw):,} characters, {non_ascii:,} of them outside ASCII")
print("start:", repr(raw[:60]))
print("end:  ", repr(raw[-60:]))

# %% [markdown]
# Three things stand between this and our vocabulary, the 100 characters of Python's
# `string.printable`: curly quotes and other non-ASCII characters, the Windows line ends of some
# copies, and indentation by runs of spaces that says nothing about Dickens. A file downloaded
# from Gutenberg also carries a header and a licence, between `*** START OF ...` and
# `*** END OF ...` markers (a copy without them is left as it is). `tu.clean_text`
# keeps only the text between the markers when they are present, transliterates to ASCII with
# `unidecode`, turns `\r\n` into `\n`, drops control characters and collapses runs of spaces:

# %%
text = tu.clean_text(raw)
printable = set(text) <= set(tu.PRINTABLE)
print(
    f"cleaned: {len(text):,} characters, all in string.printable: {printable}"
)
print("start:", repr(text[:60]))
print("end:  ", repr(text[-60:]))
wrapped = (
    "The Project Gutenberg eBook of A Tale of Two Cities\r\n"
    "*** START OF THE PROJECT GUTENBERG EBOOK 98 ***\r\n"
    "It was the best of times,\r\n"
    "*** END OF THE PROJECT GUTENBERG EBOOK 98 ***\r\nlicence ..."
)
print("a wrapped copy, cleaned:", repr(tu.clean_text(wrapped)))

# %% [markdown]
# `tu.char_to_tensor` maps each character to its index in `string.printable`; `tu.tensor_to_text`
# maps back. The last 10% of the novel is held out: we never train on it, and report every
# model's loss on it.


# %% tags=["export"]
def split_train_validation(
    encoded: torch.Tensor, validation_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """The text's first part for training, its last fraction for validation."""
    if not 0 < validation_fraction < 1:  # 10 for 10% would cut nothing
        raise ValueError(
            f"validation_fraction must be in (0, 1), got {validation_fraction}"
        )
    cut = round(len(encoded) * (1.0 - validation_fraction))
    return encoded[:cut], encoded[cut:]


# %%
encoded = tu.char_to_tensor(text)
train_data, valid_data = split_train_validation(
    encoded, validation_fraction=0.1
)
train_data, valid_data = train_data.to(device), valid_data.to(device)
print(
    "encoded:",
    encoded[:10].tolist(),
    "->",
    repr(tu.tensor_to_text(encoded[:10])),
)
print(
    f"training: {len(train_data):,} characters"
    f" | validation: {len(valid_data):,} characters"
)
print("validation starts:", repr(tu.tensor_to_text(valid_data[:45])))

# %% [markdown]
# ## The model
#
# Each character index $x_t$ is looked up in an embedding table, giving a 100-dimensional vector
# $\mathbf{e}_t$. A gated recurrent unit (GRU) with 100 hidden units turns the sequence of
# embeddings into a sequence of hidden states; at each step it computes a reset gate
# $\mathbf{r}_t$, an update gate $\mathbf{z}_t$ and a candidate state $\tilde{\mathbf{h}}_t$:
#
# $$
# \begin{aligned}
# \mathbf{r}_t &= \sigma(W_{ir}\mathbf{e}_t + \mathbf{b}_{ir} + W_{hr}\mathbf{h}_{t-1} + \mathbf{b}_{hr}), \\
# \mathbf{z}_t &= \sigma(W_{iz}\mathbf{e}_t + \mathbf{b}_{iz} + W_{hz}\mathbf{h}_{t-1} + \mathbf{b}_{hz}), \\
# \tilde{\mathbf{h}}_t &= \tanh\big(W_{in}\mathbf{e}_t + \mathbf{b}_{in} + \mathbf{r}_t \odot (W_{hn}\mathbf{h}_{t-1} + \mathbf{b}_{hn})\big), \\
# \mathbf{h}_t &= (1 - \mathbf{z}_t) \odot \tilde{\mathbf{h}}_t + \mathbf{z}_t \odot \mathbf{h}_{t-1}.
# \end{aligned}
# $$
#
# The reset gate decides how much of the past enters the candidate, the update gate how much of
# the old state is kept: when $\mathbf{z}_t \approx 1$ the state is copied forward unchanged, which
# lets information (and gradients) travel over many steps. A linear layer maps $\mathbf{h}_t$ to
# 100 *logits*, one score per possible next character, and the softmax turns them into
# probabilities $p_\theta(x_{t+1} = c \mid x_{\le t}) = \operatorname{softmax}(W_o\mathbf{h}_t + \mathbf{b}_o)_c$.
#
# `CharRNN` is this model: `Embedding(100, 100)` → `GRU(100, 100)` → `Linear(100, 100)`,
# starting from the all-zero hidden state. Its `forward` takes a `(batch, time)` tensor of
# character indices, so one character is simply a sequence of length 1. (The original passes the
# hidden size where the embedding size belongs; both are 100, so nothing changes, but the code
# says what it means. The `cell` argument swaps in an LSTM, for the first exercise.)


# %% tags=["export", "twin-model"]
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


# %%
torch.manual_seed(123)
model = CharRNN(
    vocab_size=len(tu.PRINTABLE), embedding_size=100, hidden_size=100
).to(device)
print(model)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown]
# ## Training as the original does it
#
# Each iteration picks a random 201-character portion of the training text (the original calls
# such a function but never defines it; ours draws the start with
# `random.randint(0, len(text) - 201)`). Its first 200 characters are the inputs and its last 200
# the targets: the target at each step is simply the next character.


# %% tags=["export"]
def random_training_pair(
    data: torch.Tensor, seq_len: int = 200, rng: random.Random | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random portion of `seq_len + 1` characters: inputs, targets."""
    if len(data) <= seq_len:
        raise ValueError(
            f"{len(data)} characters are too few for seq_len {seq_len}"
        )
    start = (rng or random).randint(0, len(data) - seq_len - 1)
    chunk = data[start : start + seq_len + 1]
    return chunk[:-1], chunk[1:]


# %%
random.seed(123)
inputs, targets = random_training_pair(train_data, seq_len=200)
print("inputs: ", repr(tu.tensor_to_text(inputs[:50])))
print("targets:", repr(tu.tensor_to_text(targets[:50])))

# %% [markdown]
# The loss is the cross-entropy, the negative log-probability that the model gives the character
# that actually comes next, averaged over the $T = 200$ steps:
#
# $$L = -\frac{1}{T} \sum_{t=1}^{T} \log p_\theta(x_{t+1} \mid x_1, \dots, x_t).$$
#
# Measured in bits instead of nats, $L / \ln 2$ is the number of *bits per character* a
# compressor driven by the model would need; a uniform guess over 100 characters costs
# $\log_2 100 \approx 6.64$ bits.
#
# The original's training step starts from the zero state, feeds the 200 characters one at a
# time, each through its own call of the GRU, adds up the per-step losses, divides by 200,
# back-propagates through all 200 steps and lets the optimizer update the weights:


# %% tags=["export"]
def train_step_loop(
    model: CharRNN,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
) -> float:
    """One update as the original does it: the GRU stepped per character."""
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


# %% [markdown]
# The original trains for 20,000 iterations with Adam at learning rate 0.005. We train for 100
# here and time them.

# %%
random.seed(123)
torch.manual_seed(123)
loop_model = CharRNN().to(device)
loop_optimizer = torch.optim.Adam(loop_model.parameters(), lr=0.005)
loop_iterations = 100
start = time.perf_counter()
for iteration in range(1, loop_iterations + 1):
    loss = train_step_loop(
        loop_model, loop_optimizer, *random_training_pair(train_data, 200)
    )
    if iteration % 25 == 0:
        print(f"iteration {iteration:3d} | training loss {loss:.3f}")
loop_seconds_per_iteration = (time.perf_counter() - start) / loop_iterations
print(f"time per iteration: {loop_seconds_per_iteration * 1000:.1f} ms")
full_minutes = loop_seconds_per_iteration * 20_000 / 60
print(
    f"the full schedule of 20,000 iterations would take {full_minutes:.1f} min"
)

# %% [markdown]
# Each iteration makes 200 separate GRU calls forward and as many backward, each on a single
# character, so every matrix product in them has a single row. (The losses
# are printed to 3 decimals: after 100 Adam steps, processors that add in
# another order print the same 3 decimals, where a fourth could differ.)
#
# ## The validation loss
#
# The yardstick for every model in this chapter reads the whole held-out text as one stream from
# the zero state, 5,000 characters per GRU call with the hidden state carried over, and averages
# the cross-entropy of predicting every character from all those before it:


# %% tags=["export", "twin-loss"]
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


def bits_per_char(loss_nats: float) -> float:
    """A cross-entropy in nats per character, in bits: `loss / ln 2`."""
    return loss_nats / math.log(2)


# %%
loop_loss = validation_loss(loop_model, valid_data)
print(
    f"after {loop_iterations} iterations: validation loss {loop_loss:.4f}"
    f" nats/char = {bits_per_char(loop_loss):.3f} bits/char"
)

# %% tags=["hide-input"]
tu.glue("loop_100_validation_loss", round(loop_loss, 4))

# %% [markdown]
# ## Generating text
#
# To write, we prime the model with a string (`Th`), then repeatedly turn the last logits into
# probabilities, draw the next character, and feed it back in. A *temperature* $\tau$ divides the
# logits before the softmax, $p_c \propto \exp(\text{logit}_c / \tau)$: below 1 it sharpens the
# distribution towards the likeliest characters, above 1 it flattens it. The sampler draws with
# its own seeded generator on the CPU, so a given model writes the same text on every run.


# %% tags=["export"]
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


# %%
loop_sample = sample_text(
    loop_model, prime="Th", length=200, temperature=0.8, seed=123
)
print(textwrap.fill(loop_sample, 79))

# %% [markdown]
# After 100 iterations the model has learned frequent letters, spaces and a few short words.
# For the full 20,000-iteration schedule we do not wait here: the benchmark script
# `benchmarks/char_rnn_benchmark.py --full` ran it once and recorded the validation loss every
# 250 iterations in `benchmarks/results/char_rnn_full.json`.

# %%
loop_curve = tu.benchmark_result("char_rnn_full")["rows"]
target_loss = loop_curve[-1]["validation_loss"]
print(
    f"recorded full run: iteration {loop_curve[-1]['iteration']:,},\n"
    f"validation loss {target_loss:.4f} nats/char"
    f" = {bits_per_char(target_loss):.3f} bits/char"
)

# %% tags=["hide-input"]
tu.glue("loop_20000_validation_loss", round(target_loss, 4))

# %% [markdown]
# ## The fast version
#
# The loop's work comes in 400 small calls per iteration, each on one
# character. The fast version changes *how* the same model is trained, not
# the model:
#
# - **One GRU call per sequence.** `model(inputs)` with a `(batch, time)`
#   tensor runs all time steps in one Python call; PyTorch runs the time loop
#   in C++, as a chain of small operations per step on the CPU (counted in
#   the folded cell below) and in NVIDIA's cuDNN library on a GPU. The loss
#   is the same mean cross-entropy.
# - **Mini-batches.** 64 sequences at once; the matrix products get 64 rows instead of one.
# - **Truncated back-propagation through time.** The training text is cut into 64 long
#   contiguous streams, and each iteration takes the next 25 characters of every stream. The
#   hidden state is carried from one chunk to the next (detached, so gradients flow back only
#   25 steps), so the model learns to use context longer than one chunk, as the validation
#   stream requires. An iteration then holds 64 x 25 = 1,600 characters,
#   eight times the loop's 200, yet the GRU takes only 25 sequential steps
#   for them, where the loop takes 200.
# - **Gradient clipping** to norm 1 is a safeguard against the occasional
#   exploding gradient of an RNN. In this chapter's run it never acts: the
#   gradient's norm stays below 1 at every step (checked after the training).
# - **A learning-rate schedule**: Adam at 0.01, warmed up over 20
#   iterations and then decayed along a cosine to 5% of its peak, over a schedule of 700
#   iterations.
# - **A head start for the read-out.** The read-out's bias starts at the logarithms of the
#   characters' frequencies, so the untrained model already predicts how common each character
#   is.
#
# First the chunks. Chunk `index` is the next `seq_len` characters of every stream, so the state
# left by chunk `index - 1` is the right starting state for it; after the last chunk of a pass
# the streams start again from their beginnings, with a fresh state:


# %% tags=["export"]
def consecutive_batch(
    data: torch.Tensor, batch_size: int, seq_len: int, index: int
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Chunk `index` of truncated BPTT: inputs, targets, starts a new pass?"""
    stream_len = (len(data) - 1) // batch_size
    per_pass = stream_len // seq_len
    if per_pass < 1:  # a short text with a large batch leaves no chunk
        raise ValueError(
            f"{len(data)} characters are too few for"
            f" {batch_size} streams of {seq_len + 1}"
        )
    position = (index % per_pass) * seq_len
    offsets = (
        torch.arange(batch_size, device=data.device)[:, None] * stream_len
    )
    chunks = data[
        offsets + position + torch.arange(seq_len + 1, device=data.device)
    ]
    return chunks[:, :-1], chunks[:, 1:], index % per_pass == 0


# %%
chunk_inputs, chunk_targets, fresh = consecutive_batch(
    train_data, batch_size=64, seq_len=25, index=0
)
next_inputs, _, _ = consecutive_batch(
    train_data, batch_size=64, seq_len=25, index=1
)
print("chunk shape:", tuple(chunk_inputs.shape), "| starts a pass:", fresh)
chunk_end = tu.tensor_to_text(chunk_inputs[1, -20:])
next_start = tu.tensor_to_text(next_inputs[1, :20])
print("stream 1, chunk 0 ends:  ", repr(chunk_end))
print("stream 1, chunk 1 starts:", repr(next_start))

# %% tags=["hide-input"]
# The list above: an iteration holds 64 x 25 = 1,600 characters, and one GRU
# call runs all 25 steps, on the CPU as more than ten recorded operations per
# step, on a GPU as one cuDNN operation.
assert chunk_inputs.shape == (64, 25) and chunk_inputs.numel() == 1600


def recorded_operations(tensor: torch.Tensor) -> list[str]:
    """The names of the operations autograd recorded to compute `tensor`."""
    seen, todo = set(), [tensor.grad_fn]
    while todo:
        node = todo.pop()
        if node is not None and node not in seen:
            seen.add(node)
            todo.extend(parent for parent, _ in node.next_functions)
    return [type(node).__name__ for node in seen]


outputs, _ = nn.GRU(100, 100, batch_first=True)(torch.randn(64, 25, 100))
assert len(recorded_operations(outputs)) > 10 * 25
if device.type == "cuda" and torch.backends.cudnn.is_available():
    outputs, _ = model.rnn(torch.randn(64, 25, 100, device=device))
    assert "CudnnRnnBackward0" in recorded_operations(outputs)

# %% [markdown]
# The learning-rate schedule: a linear warm-up to the peak, then half a cosine down to 5% of it.


# %% tags=["export"]
def cosine_lr(
    iteration: int,
    total: int,
    peak: float,
    warmup: int = 0,
    final_fraction: float = 0.05,
) -> float:
    """Linear warm-up to `peak`, cosine decay to `final_fraction * peak`."""
    if iteration < warmup:
        return peak * (iteration + 1) / warmup
    progress = min(1.0, (iteration - warmup) / max(1, total - warmup))
    return peak * (
        final_fraction
        + (1 - final_fraction) * 0.5 * (1 + math.cos(math.pi * progress))
    )


# %% [markdown]
# Drawn over the 700 iterations this chapter trains for:

# %%
schedule = [cosine_lr(i, 700, 0.01, warmup=20) for i in range(700)]
fig, ax = plt.subplots(figsize=(7, 2.5))
ax.plot(schedule)
ax.set_xlabel("iteration")
ax.set_ylabel("learning rate")
ax.set_title("Warm-up, then cosine decay to 5% of the peak")
print(
    f"peak {max(schedule):.4f} at iteration {schedule.index(max(schedule))},"
    f" last {schedule[-1]:.5f}"
)
plt.show()

# %% [markdown]
# The short ramp at the start lets Adam's running averages of the gradient settle before the
# steps get large; the long, slow decay at the end lets the weights settle into a minimum that
# large steps would keep jumping over.
#
# One update of truncated back-propagation through time. Compared with the
# original's step, three things are new: the state comes from the previous
# chunk and leaves *detached* from this one, which is what truncates the
# back-propagation; the gradient is clipped; and the learning rate is set by
# the schedule. The book's benchmarks and chapter 7 (which wraps the model in
# `DistributedDataParallel`) all call this one function.


# %% tags=["export", "twin-step"]
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


# %% [markdown]
# The training loop feeds it the chunks in order, starting each pass with a fresh state. Every
# `eval_every` iterations it records the validation loss, with its clock paused, and it stops
# once that loss reaches `stop_at_loss`: the benchmark times this same function to a target.
# (`optimizer` replaces the default Adam; the benchmark passes Adam's fused
# version for the recipes that use it.)


# %% tags=["export"]
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
    if iterations < 1:  # the schedule needs a length
        raise ValueError(f"iterations must be at least 1, got {iterations}")
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


# %% [markdown]
# Last, the head start. An untrained model's logits are all near zero, so it gives each of
# the 100 characters the same probability, a loss of $\ln 100 \approx 4.6$ nats. Merely
# predicting how common each character is would do much better, and the read-out's bias can
# say exactly that: the bias $b_c = \log p_c$, with $p_c$ the frequency of character $c$ in
# the training text, makes the untrained model predict those frequencies. Training would
# find these values too, but slowly: Adam moves each parameter by about the learning rate
# per step, and the biases of the rarest characters belong below $-10$
# (counted below), about a thousand steps of 0.01 or more from their start
# within 0.1 of zero: more steps than the whole schedule of 700.


# %% tags=["export"]
def init_unigram_bias(model: CharRNN, data: torch.Tensor) -> CharRNN:
    """Set the read-out's bias to the log-frequencies of the characters."""
    counts = torch.bincount(data.flatten().cpu(), minlength=model.vocab_size)
    frequencies = (counts + 1) / (counts + 1).sum()  # +1: no log of zero
    with torch.no_grad():
        model.fc.bias.copy_(frequencies.log())
    return model


# %%
torch.manual_seed(123)
fresh_model = CharRNN().to(device)
uniform_loss = validation_loss(fresh_model, valid_data)
init_unigram_bias(fresh_model, train_data)
unigram_loss = validation_loss(fresh_model, valid_data)
print(f"untrained, default bias:    {uniform_loss:.2f} nats/char")
print(f"untrained, unigram bias:    {unigram_loss:.2f} nats/char")
print(f"log of the vocabulary size: {math.log(len(tu.PRINTABLE)):.2f}")
lowest = fresh_model.fc.bias.min().item()
far = int((fresh_model.fc.bias < -10).sum())
print(
    f"unigram biases below -10: {far} of {len(tu.PRINTABLE)},"
    f" lowest {lowest:.1f}"
)

# %% tags=["hide-input"]
# The text above: some unigram biases lie below -10, and the default ones
# (the same seed) within 0.1 of zero.
torch.manual_seed(123)
assert CharRNN().fc.bias.abs().max() <= 0.1 and far > 0

# %% [markdown]
# The schedule is planned for 700 iterations, $700 \times 64 \times 25$ characters:

# %%
fast_iterations, fast_batch, fast_seq_len = 700, 64, 25
fast_characters = fast_iterations * fast_batch * fast_seq_len
print(
    f"{fast_characters / 1e6:.2f} million characters,"
    f" {fast_characters / len(train_data):.2f} passes over the training text"
)

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): 700 Adam steps turn the
# last-bit differences between processors, BLAS builds and GPUs into
# different digits. The assertions check the claims.
torch.manual_seed(123)
fast_model = init_unigram_bias(CharRNN().to(device), train_data)
history = train_fast(
    fast_model,
    train_data,
    fast_iterations,
    batch_size=fast_batch,
    seq_len=fast_seq_len,
    peak_lr=0.01,
    valid_data=valid_data,
    eval_every=100,
)
for iteration, loss in zip(history.iterations, history.validation):
    print(f"iteration {iteration:5d} | validation loss {loss:.4f} nats/char")
fast_loss = history.validation[-1]
print(f"training time: {history.seconds[-1]:.1f} s")
print()
print(f"{'':28s}{'nats/char':>10s}{'bits/char':>11s}")
for name, loss in (
    ("loop, 100 iterations", loop_loss),
    ("loop, 20,000 iterations", target_loss),
    ("fast, 700 iterations", fast_loss),
):
    print(f"{name:28s}{loss:10.4f}{bits_per_char(loss):11.3f}")

assert all(
    earlier > later
    for earlier, later in zip(history.validation, history.validation[1:])
), "validation loss must fall at every check"
assert fast_loss <= target_loss, (
    f"fast model {fast_loss:.4f} is worse than the loop's {target_loss:.4f}"
)
assert abs(fast_loss - 1.542) <= 0.02, (
    f"fast model's loss {fast_loss:.4f} is outside the band 1.542 +- 0.02"
)

# %% tags=["hide-input", "nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the glued loss of the fast
# model, whose digits differ between floating-point paths. The band of the
# text, 1.542 +- 0.02, lies wholly below the loop's loss.
assert 1.542 + 0.02 < target_loss
tu.glue("fast_validation_loss", round(fast_loss, 4))
fast_at_200 = history.validation[history.iterations.index(200)]
assert fast_at_200 > fast_loss  # still falling: 200 of 700 iterations
tu.glue("fast_200_validation_loss", round(fast_at_200, 4))

# %% tags=["hide-input"]
# The clipping never acts: the same 700 steps again without clipping, with
# each gradient's norm measured; on the CPU they end at exactly the same
# weights as the run above.
torch.manual_seed(123)
replay = init_unigram_bias(CharRNN().to(device), train_data)
replay_optimizer = torch.optim.Adam(replay.parameters(), lr=0.01)
replay_state, gradient_norms = None, []
for iteration in range(fast_iterations):
    x, y, new_pass = consecutive_batch(
        train_data, fast_batch, fast_seq_len, iteration
    )
    _, replay_state = tbptt_step(
        replay,
        replay_optimizer,
        x,
        y,
        None if new_pass else replay_state,
        cosine_lr(iteration, fast_iterations, 0.01, warmup=20),
        clip_norm=math.inf,
    )
    gradient_norms.append(
        torch.linalg.vector_norm(
            torch.stack([p.grad.norm() for p in replay.parameters()])
        ).item()
    )
assert max(gradient_norms) < 1.0, "clipping at norm 1 would have acted"
if device.type == "cpu":
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            replay.state_dict().values(), fast_model.state_dict().values()
        )
    )

# %% [markdown]
# Every iteration's training loss was recorded too. Its running mean over 25 iterations,
# beside the validation checks:

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the losses of 700 Adam
# steps. The assertion here and those in the folded cell below check what
# the text says about them.
window = 25
train_losses = torch.tensor(history.train_losses)
running = train_losses.unfold(0, window, 1).mean(dim=1)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(train_losses, color="lightgray", label="training loss, per iteration")
ax.plot(
    range(window, len(train_losses) + 1), running, label="its running mean"
)
ax.plot(history.iterations, history.validation, "o-", label="validation loss")
ax.set_ylim(1.3, 3.5)
ax.set_xlabel("iteration")
ax.set_ylabel("loss (nats/char)")
ax.legend()
ax.set_title("Fast training: training and validation loss")
gap = history.validation[-1] - running[-1].item()
print(f"last validation minus last running mean: {gap:+.3f} nats/char")
assert abs(gap) < 0.1, "no sign of over-fitting after 1.6 passes"
plt.show()

# %% tags=["hide-input"]
# The text below: the running mean falls overall, and rises where the second
# pass starts (at chunk 0 again; the first window that holds it).
assert running[-1] < running[len(running) // 2] < running[0]
second_pass = (len(train_data) - 1) // fast_batch // fast_seq_len
before = running[second_pass - window].item()
bump = running[second_pass - window + 1 : second_pass + 1].max() - before
assert bump > 0.02, "the running mean rises where the second pass starts"

# %% [markdown]
# The training loss jumps from chunk to chunk, because some passages of the novel are harder
# to predict than others; its running mean falls overall, with a bump where
# the second pass over the text begins, and ends close to the validation
# loss, so after 1.6 passes over the text the model has not begun to memorise it.
#
# The fast model, after 700 iterations, beats the loop after 20,000. The exact
# digits above depend on the machine: 700 Adam steps turn the last-bit
# differences between processors, their vector units, BLAS builds and thread
# counts into different digits. The cell therefore asserts what holds on every
# path, not the digits: the validation loss falls at every check, ends at or
# below the full loop's, and lies within 0.02 of 1.542, a band that leaves room
# for those differences and still lies wholly below the loop's
# {glue:text}`loop_20000_validation_loss`.
#
# How much faster is it? A fair answer times both sides to the same quality: each version
# trains until its validation loss first reaches the same target, and the clock stops there.
# The benchmark script `benchmarks/char_rnn_benchmark.py` does this in one run on one machine.
# For the loop it measures the time per iteration, and takes from the recorded full run (a
# validation every 250 iterations) the first iteration at or below the target; the fast recipes
# run `train_fast` with `stop_at_loss`, checking every 10 iterations. It does so at three
# targets: the loop's loss at the end of its schedule (the headline), a round 1.70, and the
# median of the loop's last five checks, because the end point of a curve that hovers is noisy.
# Its output, `benchmarks/results/char_rnn.json`:

# %%
benchmark = tu.benchmark_result("char_rnn")
loop_row, *fast_rows = benchmark["rows"]
targets = benchmark["tables"][0]["rows"]
print("measured on", benchmark["machine"].split(";")[0], benchmark["date"])
print(f"the loop: {loop_row['ms_per_iteration']:.1f} ms per iteration")
print(
    f"{'target':>8} {'loop':>14} {'chapter':>8} {'ratio':>6}"
    f" {'fastest':>8} {'ratio':>6}"
)
for row in targets:
    print(
        f"{row['target']:8.4f} {row['loop_iteration']:6,} it."
        f" {row['loop_seconds']:4.0f} s {row['chapter_seconds']:6.1f} s"
        f" {row['chapter_ratio']:5.0f}x {row['fastest_seconds']:6.1f} s"
        f" {row['fastest_ratio']:5.0f}x"
    )
headline = targets[0]
chapter_row = fast_rows[0]
# the headline ratio, as two factors: characters, and characters per second
loop_characters = loop_row["iterations"] * 200
chapter_characters = chapter_row["iterations"] * fast_batch * fast_seq_len
fewer_characters_factor = loop_characters / chapter_characters
faster_per_character = (
    chapter_characters / chapter_row["training_seconds"]
) / (loop_characters / loop_row["training_seconds"])
print(
    f"this chapter's recipe: {fewer_characters_factor:.1f}x fewer characters"
    f" x {faster_per_character:.1f}x more per second\n"
    f"= {fewer_characters_factor * faster_per_character:.0f}x less time"
)

# %% tags=["hide-input"]
# The text below: the loop is charged its time to the target, not its whole
# schedule, and the two factors multiply to the headline ratio.
first = next(
    row for row in loop_curve if row["validation_loss"] <= headline["target"]
)
assert loop_row["iterations"] == first["iteration"] < 20_000
assert (
    loop_row["training_seconds"]
    == headline["loop_seconds"]
    == round(first["iteration"] * loop_row["ms_per_iteration"] / 1000, 1)
)
assert f"({fast_batch} x {fast_seq_len} chars," in chapter_row["version"]
assert math.isclose(
    fewer_characters_factor * faster_per_character,
    headline["loop_seconds"] / headline["chapter_seconds"],
)
product = fewer_characters_factor * faster_per_character
assert abs(product - headline["chapter_ratio"]) <= 0.05
# The text above: validations every 250 iterations of the loop and every 10
# of the fast recipes, at three targets.
loop_checks = [row["iteration"] for row in loop_curve]
assert loop_checks == list(range(0, 20_001, 250))
for curve in (benchmark["fast_curve"], benchmark["fastest_curve"]):
    checks = [row["iteration"] for row in curve["rows"]]
    assert checks == list(range(0, checks[-1] + 1, 10))
last_five = sorted(row["validation_loss"] for row in loop_curve[-5:])
assert abs(targets[0]["target"] - target_loss) <= 5e-6
assert targets[1]["target"] == 1.7
assert abs(targets[2]["target"] - last_five[2]) <= 5e-6
tu.glue("loop_first_crossing", f"{headline['loop_iteration']:,}")
tu.glue("chapter_ratio", round(headline["chapter_ratio"]))
tu.glue("fastest_ratio", round(headline["fastest_ratio"]))
tu.glue("fewer_characters_factor", round(fewer_characters_factor, 1))
tu.glue("faster_per_character", round(faster_per_character, 1))

# %% [markdown]
# On the machine named above, the loop first reached its own final loss after
# {glue:text}`loop_first_crossing` of its 20,000 iterations, and this chapter's recipe got there
# in {glue:text}`chapter_ratio`x less time; the fastest recipe (next section) in
# {glue:text}`fastest_ratio`x less. The ratio for this chapter's recipe is the
# product of two factors, printed above: the recipe needs
# {glue:text}`fewer_characters_factor`x fewer characters to reach the target
# than the loop, and processes {glue:text}`faster_per_character`x more
# characters per second. The first factor comes from the schedule, the
# learning rate and the head start (the next section shows that the batch
# shape can move it too). The second comes from the batch shape (64 streams
# per step, one GRU call per chunk), the implementation and the machine: the
# loop does the same arithmetic per character (it is the same model) in 400
# small GRU calls per iteration, one character each. The levers run of the
# next section, measured on another day, also gives this chapter's recipe's
# arithmetic rate: about half of a large matrix product's rate on one thread
# ({glue:text}`chapter_percent_of_matmul`%). The ratios above hold for the
# machine of the headline run only. The
# [performance appendix](../book/performance.md) gives the full tables.
#
# Validation loss against training time (logarithmic time axis). The fast recipes' curves come
# from the benchmark run; the loop's losses come from its recorded full run, placed on the time
# axis at the time per iteration the benchmark measured for it beside the fast versions, so that
# all three curves share one machine's clock. A ring marks where each curve first reaches the
# dashed target.

# %%
loop_seconds = [
    row["iteration"] * loop_row["ms_per_iteration"] / 1000
    for row in loop_curve
]
fast_curve = benchmark["fast_curve"]["rows"]
fastest_curve = benchmark["fastest_curve"]["rows"]
curves = (
    (loop_seconds, loop_curve, "original loop (1 x 200 chars)"),
    (
        [row["training_seconds"] for row in fast_curve],
        fast_curve,
        "fast recipe (this chapter's)",
    ),
    (
        [row["training_seconds"] for row in fastest_curve],
        fastest_curve,
        "fastest recipe (next section)",
    ),
)
fig, ax = plt.subplots(figsize=(7, 4))
for seconds, curve, label in curves:
    losses = [row["validation_loss"] for row in curve]
    (line,) = ax.plot(seconds[1:], losses[1:], ".-", label=label)
    crossing = next(
        i for i, loss in enumerate(losses) if loss <= headline["target"]
    )
    ax.plot(
        seconds[crossing],
        losses[crossing],
        "o",
        markersize=12,
        markerfacecolor="none",
        color=line.get_color(),
    )
ax.axhline(
    headline["target"],
    color="gray",
    linestyle="--",
    linewidth=1,
    label="target: the loop after 20,000 iterations",
)
ax.set_xscale("log")
ax.set_ylim(top=2.2)
ax.set_xlabel("training time (seconds, log scale)")
ax.set_ylabel("validation loss (nats/char)")
ax.legend()
ax.set_title("Same model, same data: validation loss vs training time")
plt.show()

# %%
after = [
    row["validation_loss"]
    for row in loop_curve
    if row["iteration"] >= headline["loop_iteration"]
]
print(
    f"after its first crossing at iteration {headline['loop_iteration']:,},\n"
    f"the loop's checks lay between {min(after):.3f} and {max(after):.3f}"
)

# %% tags=["hide-input"]
# The text below: the fast recipes' curves still fall at their last check.
for curve in (fast_curve, fastest_curve):
    assert curve[-1]["validation_loss"] < curve[-2]["validation_loss"]

# %% [markdown]
# The loop crosses the target long before its schedule ends and then hovers around it, which is
# why its final loss is a noisy target and the other two are given too; the fast recipes stop
# at their first crossing, on curves that are still falling.
#
# ## One process, as fast as it goes
#
# A recipe's time to a target is the characters it needs to reach the target
# times the time it takes per character, so a recipe gets faster in two ways:
# by needing fewer characters, or by processing them faster. The benchmark's
# `--levers` mode tries both, one change at a time, in one run. The first
# group of rows starts from a plainer recipe, "the earlier recipe" (16
# streams of 100 characters, a schedule of 1,500 iterations, the default
# bias; checked against the file's `recipe` column below), and changes one
# thing in it, looking for fewer characters; this chapter's recipe combines
# three of those changes. The second group changes one thing in this
# chapter's recipe, looking for more characters per second.
#
# Each row was timed in two ways, and three of the file's columns say how
# fast it was. The training run of `train_fast` to the target, as in the
# headline benchmark, gives the *time to the target* (`seconds_to_target`),
# and with it the *characters to the target*. Three short timings of the row,
# each right after one of its baseline (the earlier recipe for the first
# group, this chapter's recipe for the second), give the *speed*
# (`speed_vs_baseline`): the row's characters per second over its
# baseline's, the median of the three ratios (the earlier recipe's own row,
# timed against itself, is not exactly 1). The same short timings taken
# alone, unpaired, give the median thousands of characters per second
# (`kchars_per_second`, and the arithmetic rate computed from it).
#
# Timings of the same recipe differ from one run to the next (the three times
# per iteration of this chapter's recipe, printed in a folded cell further
# below, all differ), so where the differences are small the three columns
# can disagree: below, claims about speed read the paired column, claims
# about time the training runs. This run was also measured on another day
# than the headline run (the cell below prints its date, the headline cell
# above printed the headline's) and trained every recipe anew, so its times
# differ from the headline run's for the same recipe; the headline's ratios
# come from the headline run, the comparisons between levers from this one.
# `benchmarks/results/char_rnn_levers.json`:

# %%
levers = tu.benchmark_result("char_rnn_levers")
rows = {row["lever"]: row for row in levers["rows"]}
earlier = rows["the earlier recipe (baseline)"]
first_group = [
    row for row in levers["rows"] if row["baseline"] == earlier["baseline"]
]
chapter = first_group[-1]  # it combines three of the changes before it
second_group = [
    row for row in levers["rows"] if row["baseline"] != earlier["baseline"]
]
print("measured on", levers["machine"].split(";")[0], levers["date"])
print(f"{'lever':<44} {'M chars':>7} {'speed':>6} {'time':>7}")
for row in levers["rows"]:
    if row is chapter:
        print("- this chapter's recipe (speed against the earlier recipe),")
        print("  then one change from it each (speed against it):")
    name = row["lever"].split(":")[0]  # a combination: its parts follow
    if row["seconds_to_target"] is None:
        reached = f"{'-':>7} {row['speed_vs_baseline']:5.2f}x not reached"
    else:
        reached = (
            f"{row['characters_to_target']:7.2f}"
            f" {row['speed_vs_baseline']:5.2f}x"
            f" {row['seconds_to_target']:5.1f} s"
        )
    print(f"{name[:44]:<44} {reached}")
for row in levers["rows"]:
    if ":" in row["lever"]:
        print(row["lever"])

# %% tags=["hide-input"]
# The text above: the earlier recipe is 16 x 100 characters with a schedule of
# 1,500 iterations and the default bias; the first group changes it, the
# second group changes this chapter's recipe, the last of the first group;
# and this run was measured on another day than the headline run.
assert earlier["recipe"].startswith("16 x 100 chars,")
assert "schedule 1500," in earlier["recipe"]
assert "unigram" not in earlier["recipe"]
assert first_group + second_group == levers["rows"]
assert {row["baseline"] for row in second_group} == {"chapter 6's recipe"}
assert chapter["lever"].startswith(second_group[0]["baseline"] + ":")
assert chapter["recipe"] in chapter_row["version"]
assert levers["date"] != benchmark["date"]

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.5), sharey=False)
for ax, shown, column, line, label in (
    (
        left,
        [row for row in first_group if row["characters_to_target"]],
        "characters_to_target",
        first_group[0]["characters_to_target"],
        "million characters",
    ),
    (
        right,
        second_group,
        "speed_vs_baseline",
        1.0,
        "characters per second, times this chapter's recipe's",
    ),
):
    ax.barh(
        [row["lever"].split(":")[0] for row in shown],
        [row[column] for row in shown],
    )
    ax.axvline(line, color="gray", linestyle="--", linewidth=1)
    ax.invert_yaxis()
    ax.set_xlabel(label)
left.set_title("Characters to the target")
right.set_title("Speed (paired timings)")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the left, the first group: a bar shorter than the dashed line (the earlier
# recipe) is a lever that needs fewer characters; the two schedules that never
# reached the target are left out. On the right, the second group: a bar
# longer than the dashed line (this chapter's recipe, speed 1) is a lever that
# computes faster. The folded cells below print the numbers that the claims
# after them rest on, and check the claims against the table.

# %% tags=["hide-input"]
# The numbers behind the claims below, from the table and the headline run.
fastest = levers["rows"][-1]


def fewer_characters(name: str) -> float:
    """How many times fewer characters than the earlier recipe."""
    return earlier["characters_to_target"] / rows[name]["characters_to_target"]


def training_ms_per_iteration(row: dict) -> float:
    """Its training run's time per iteration, in milliseconds."""
    return 1000 * row["seconds_to_target"] / row["iterations_to_target"]


head_start_row = rows["read-out bias at the unigram log-frequencies"]
head_start = fewer_characters(head_start_row["lever"])
short_chunks = rows["batch 64 x 25 characters"]
print(
    f"unigram bias: {head_start:.1f}x fewer characters"
    f" ({earlier['iterations_to_target']} -> "
    f"{head_start_row['iterations_to_target']} iterations)"
)
print(
    f"64 x 25: speed {short_chunks['speed_vs_baseline']:.2f}x,"
    f" {fewer_characters(short_chunks['lever']):.2f}x fewer characters"
)
print(
    "earlier recipe -> chapter's recipe:"
    f" {earlier['seconds_to_target']:.1f} s ->"
    f" {chapter['seconds_to_target']:.1f} s\nfastest:"
    f" {fastest['seconds_to_target']:.1f} s at {fastest['gflops']:.0f}"
    f" GFLOP/s, {fastest['percent_of_matmul']}% of a matrix product's rate"
)
print(
    "the same recipes in the headline run:"
    f" {chapter_row['training_seconds']:.1f} s and"
    f" {fast_rows[-1]['training_seconds']:.1f} s"
)
print(
    "chapter's recipe, ms per iteration:"
    f" {chapter['ms_per_iteration']:.1f} (short timings),\n"
    f"{training_ms_per_iteration(chapter):.1f} (its training run here),"
    f" {chapter_row['ms_per_iteration']:.1f} (the headline run)"
)
matmul_note = next(n for n in benchmark["notes"] if "GFLOP/s" in n)
print("the headline run's note:", textwrap.fill(matmul_note, 79), sep="\n")

# %% tags=["hide-input"]
# The text above and the list below, checked against the table.


def characters_to(name: str) -> float | None:
    return rows[name]["characters_to_target"]


assert earlier["speed_vs_baseline"] != 1
per_iteration = (
    chapter["ms_per_iteration"],
    training_ms_per_iteration(chapter),
    chapter_row["ms_per_iteration"],
)
assert len({round(ms, 1) for ms in per_iteration}) == 3, per_iteration
assert chapter_row["training_seconds"] != chapter["seconds_to_target"]
assert fast_rows[-1]["training_seconds"] != fastest["seconds_to_target"]
firsts = [row for row in first_group[1:-1] if row["characters_to_target"]]
# the head start needs fewer characters than any other single change (those
# of the second group need at least the chapter's recipe's)
assert all(
    head_start > fewer_characters(row["lever"])
    for row in firsts
    if row is not head_start_row
)
assert all(
    row["characters_to_target"] >= chapter["characters_to_target"]
    for row in second_group[:-1]
)


def time_factor(row: dict) -> float:
    """How many times less time to the target than its baseline needed."""
    baseline = earlier if row["baseline"] == "the earlier recipe" else chapter
    return baseline["seconds_to_target"] / row["seconds_to_target"]


# the summary: of the single changes, the head start cut the time to the
# target by the largest factor
singles = [
    row
    for row in levers["rows"]
    if row not in (earlier, chapter, fastest, head_start_row)
    and row["seconds_to_target"] is not None
]
assert all(time_factor(head_start_row) > time_factor(row) for row in singles)
# 64 x 25: the same characters, faster; 64 x 100: faster than 16 x 100 but
# not than 64 x 25 (paired speed), four times the characters per step, about
# twice the characters to the target, and the longest of the three training
# runs
wide = rows["batch 64 x 100 characters"]
assert short_chunks["characters_to_target"] == earlier["characters_to_target"]
assert short_chunks["speed_vs_baseline"] > 1.3
# (the paired speed of 64 x 100 exceeds 1 and 16 x 100's against itself)
assert 1 < wide["speed_vs_baseline"]
assert earlier["speed_vs_baseline"] < wide["speed_vs_baseline"]
assert wide["speed_vs_baseline"] < short_chunks["speed_vs_baseline"]
per_step = {
    row["lever"]: row["characters_to_target"] / row["iterations_to_target"]
    for row in (earlier, wide)
}
assert math.isclose(
    per_step[wide["lever"]] / per_step[earlier["lever"]], 4, rel_tol=0.02
)
assert (
    1.8 < wide["characters_to_target"] / earlier["characters_to_target"] < 2.2
)
assert wide["seconds_to_target"] > earlier["seconds_to_target"]
assert wide["seconds_to_target"] > short_chunks["seconds_to_target"]
# the schedules: 700 and 400 never reach the target (the only rows that the
# figure's left panel leaves out), the chapter's does; a larger peak needs
# more characters, a longer warm-up fewer, clipping at 5 the same
never = [rows[f"schedule planned for {n} iterations"] for n in (700, 400)]
assert [row for row in first_group if not row["characters_to_target"]] == (
    never
)
assert chapter["iterations_to_target"] < 700
baseline_characters = earlier["characters_to_target"]
assert characters_to("peak learning rate 0.02") > baseline_characters
assert characters_to("warm-up of 100 iterations") < baseline_characters
assert characters_to("clipping at norm 5") == baseline_characters
# the second group: each single change gains a little, by the paired speed;
# torch.compile and fused Adam least, and fused Adam's run took longer
speeds = {row["lever"]: row["speed_vs_baseline"] for row in second_group[:-1]}
assert all(1.0 < speed < 1.5 for speed in speeds.values()), speeds
least = sorted(speeds, key=speeds.get)[:2]
assert set(least) == {"torch.compile of the model", "fused Adam update"}
fused_adam = rows["fused Adam update"]
assert fused_adam["seconds_to_target"] > chapter["seconds_to_target"]
# the fastest recipe: the shortest time to the target of all rows, though
# its paired speed is below that of two threads alone
assert fastest["lever"].startswith(
    "the fastest recipe: C++ time loop + fused Adam + two threads"
)
assert all(
    fastest["seconds_to_target"] < row["seconds_to_target"]
    for row in levers["rows"][:-1]
    if row["seconds_to_target"] is not None
)
assert fastest["speed_vs_baseline"] < rows["two threads"]["speed_vs_baseline"]
assert chapter["seconds_to_target"] < earlier["seconds_to_target"] / 2
# the arithmetic rates: about half a matrix product's for the chapter's
# recipe, less for the fastest
assert 40 <= chapter["percent_of_matmul"] <= 60
assert fastest["percent_of_matmul"] < chapter["percent_of_matmul"]
wide_batch = rows["batch 128 x 25 characters"]
assert wide_batch["characters_to_target"] > chapter["characters_to_target"]
tu.glue("levers_head_start", round(head_start, 1))
tu.glue("short_chunks_speed", short_chunks["speed_vs_baseline"])
tu.glue("wide_chunks_speed", wide["speed_vs_baseline"])
tu.glue("chapter_iterations_to_target", chapter["iterations_to_target"])
tu.glue("least_speed", min(speeds.values()))
tu.glue("most_speed", max(speeds.values()))
tu.glue("wide_batch_speed", speeds["batch 128 x 25 characters"])
tu.glue("fastest_speed", fastest["speed_vs_baseline"])
tu.glue("two_threads_speed", speeds["two threads"])
tu.glue("chapter_percent_of_matmul", chapter["percent_of_matmul"])
tu.glue("fastest_percent_of_matmul", fastest["percent_of_matmul"])

# %% [markdown]
# - **The head start** cuts the characters to the target by a factor of
#   {glue:text}`levers_head_start`, more than any other single change: the
#   early hundreds of steps that Adam spent walking the biases to the
#   characters' frequencies are simply gone.
# - **Short chunks of many streams** (64 x 25) need the same characters as
#   16 x 100 but process them faster (speed {glue:text}`short_chunks_speed`),
#   with a quarter of the sequential steps. A batch of 64 x 100 is faster per
#   character than 16 x 100 too (speed {glue:text}`wide_chunks_speed`),
#   though by the paired speed not as fast as 64 x 25, and it needs about
#   twice the characters, so its training run took the longest of the three
#   shapes. Each of its iterations holds four times the characters of
#   16 x 100, so it takes four times fewer steps for the same text, and with
#   Adam the number of steps matters.
# - **A schedule planned for fewer iterations**, 700 or 400, decays before the
#   recipe reaches the target; with the head start, this chapter's
#   schedule of 700 gets there at iteration
#   {glue:text}`chapter_iterations_to_target`. A larger peak learning rate
#   needs more characters; a longer warm-up fewer; clipping at 5 instead of 1
#   needs exactly the same characters.
# - **More characters per second**, the second group: a second thread, a
#   batch of 128 x 25, bfloat16 autocast, `torch.compile`, Adam's fused update
#   and a GRU layer whose time loop is fused in C++ (`benchmarks/fused_gru.py`,
#   the row "GRU time loop in C++": `nn.GRU` runs its loop in C++ too, but as
#   more than ten separate operations per step, where this layer does one
#   matrix product and a few fused passes). Each gains a little, between
#   {glue:text}`least_speed` and {glue:text}`most_speed` times this chapter's
#   recipe's speed. `torch.compile` and the fused update gain least, so little
#   that the fused update's training run took longer to the target than this
#   chapter's recipe's.
# - **The fastest recipe** combines the fused C++ time loop, Adam's fused
#   update and two threads. Its training run reached the target in less time
#   than any other row's, though its paired speed,
#   {glue:text}`fastest_speed`, is below that of two threads alone,
#   {glue:text}`two_threads_speed`: a difference the paired timings and the
#   training runs do not agree on.
#
# The fastest recipe still computes at {glue:text}`fastest_percent_of_matmul`%
# of the rate of a large matrix product on the same two threads, and this
# chapter's recipe at {glue:text}`chapter_percent_of_matmul`% on one (column
# `percent_of_matmul`). The headline run's note, printed above, gives the
# fastest recipe's rate from that run's own training time and its own
# measurement of the matrix product: another timing of the same recipe, which
# need not agree with this one. The 25 steps of an iteration depend on each
# other, and each multiplies a 64 x 100 state by a 100 x 300 matrix, a small
# product whose own rate the same note gives; around it sit the gates'
# element-wise operations, which do little arithmetic per byte they move, and
# the backward pass repeats all of it in reverse.
# Doubling the independent work per step, with a batch of 128 x 25, raised the
# speed only to {glue:text}`wide_batch_speed` times this chapter's recipe's,
# and needed more characters to the target. The next chapter spreads the work
# over several processes instead.

# %% [markdown]
# ## Samples at three temperatures
#
# The fast model, primed with `Th`, 200 characters each. At 0.5 it tends to
# play safe, keeping to fewer and more common words; at 1.0 it samples from
# its honest beliefs and invents more words. Over 2,000 characters at each of
# the two temperatures (in the folded cell below the samples), the share of
# words that do not occur in the novel and the share of distinct words are
# both lower at 0.5.
#
# How surprising is a sample to the model that wrote it? Its *surprisal* is the mean of
# $-\log p_\theta(x_{t+1} \mid x_{\le t})$ over its characters, measured at temperature 1: the
# validation loss, computed on the sample instead of the held-out text. A
# lower temperature picks likelier characters, so its text tends to be less
# surprising; it is for the three samples here.

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): the model that samples is
# path-dependent. After 700 Adam steps its weights differ between
# floating-point paths in visible digits, so its probabilities and its draws
# differ too. (The sample after 100 loop iterations is compared: that model
# is only 100 steps from the same start, its probabilities differ between
# paths only in their last digits, and a draw moves only if its uniform
# number falls that close to a boundary between two characters' cumulative
# probabilities.) The assertions check the claims.
surprisals = []
for temperature in (0.5, 0.8, 1.0):
    sample = sample_text(
        fast_model, prime="Th", length=200, temperature=temperature, seed=123
    )
    surprisal = validation_loss(
        fast_model, tu.char_to_tensor(sample).to(device)
    )
    surprisals.append(surprisal)
    print(
        f"--- temperature {temperature}: {surprisal:.2f} nats/char surprisal"
    )
    print(textwrap.fill(sample, 79))
    assert len(sample) == 202 and set(sample) <= set(tu.PRINTABLE)
assert surprisals[0] < surprisals[1] < surprisals[2], (
    f"lower temperatures gave more surprising text here: {surprisals}"
)

# %% tags=["hide-input"]
# The text above: over 2,000 characters, fewer invented words and fewer
# distinct words at 0.5 than at 1.0 (words split at white space, the two
# ends dropped, as in the second exercise).
novel_words = set(text.split())
shares = {}
for temperature in (0.5, 1.0):
    words = sample_text(
        fast_model, length=2000, temperature=temperature, seed=123
    ).split()[1:-1]
    shares[temperature] = (
        sum(word not in novel_words for word in words) / len(words),
        len(set(words)) / len(words),
    )
assert all(cold < warm for cold, warm in zip(shares[0.5], shares[1.0]))

# %% [markdown]
# ## Training that survives interruption
#
# A run of 20,000 iterations is long enough to be killed by a reboot or a time limit.
# `tu.train_resumable` calls a training step once per iteration and, every `checkpoint_every`
# iterations, saves a checkpoint: the model's and optimizer's state, the Python, NumPy and torch
# random-generator states, the iteration count and the losses so far. It writes to a temporary
# file and renames it into place, so a crash mid-write never leaves a broken file under the real
# name, and it reads checkpoints with `torch.load(..., weights_only=True)`, which refuses to
# unpickle anything but tensors and plain containers. Started again on the same folder, it
# resumes from the newest checkpoint.
#
# The demonstration trains on mini-batches of random portions with one `GRU` call per batch:


# %% tags=["export"]
def random_training_batch(
    data: torch.Tensor, batch_size: int = 32, seq_len: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch_size` random portions: `(batch, seq_len)` inputs, targets.

    The starts come from torch's global CPU generator, so the batches are the
    same on every device.
    """
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


# %% [markdown]
# One run is interrupted after 25 of 40 iterations and restarted from scratch, in what might be a
# new process; another runs straight through.


# %%
def make_run(seed=123):
    random.seed(seed)
    torch.manual_seed(seed)
    run_model = CharRNN().to(device)
    optimizer = torch.optim.Adam(run_model.parameters(), lr=0.005)

    def step(iteration):
        return train_step_batched(
            run_model,
            optimizer,
            *random_training_batch(train_data, batch_size=16, seq_len=100),
            clip_norm=1.0,
        )

    return run_model, optimizer, step


class Interrupted(Exception):
    pass


with tempfile.TemporaryDirectory() as folder:
    run_model, optimizer, step = make_run()

    def step_then_crash(iteration):
        if iteration == 25:
            raise Interrupted
        return step(iteration)

    try:
        tu.train_resumable(
            run_model,
            optimizer,
            step_then_crash,
            40,
            Path(folder) / "run",
            checkpoint_every=10,
        )
    except Interrupted:
        print(
            "interrupted; on disk:",
            ", ".join(
                p.name for p in tu.list_checkpoints(Path(folder) / "run")
            ),
        )

    run_model, optimizer, step = make_run(
        seed=0
    )  # a new process: other weights, other generator states
    resumed_losses = tu.train_resumable(
        run_model,
        optimizer,
        step,
        40,
        Path(folder) / "run",
        checkpoint_every=10,
    )
    resumed = run_model

    straight, optimizer, step = make_run()
    straight_losses = tu.train_resumable(
        straight,
        optimizer,
        step,
        40,
        Path(folder) / "straight",
        checkpoint_every=10,
    )

print(
    f"resumed run: {len(resumed_losses)} losses, last {resumed_losses[-1]:.4f}"
)
identical = all(
    torch.equal(a, b)
    for a, b in zip(
        resumed.state_dict().values(), straight.state_dict().values()
    )
)
print(
    "parameters identical to the uninterrupted run:",
    identical and resumed_losses == straight_losses,
)
assert identical and resumed_losses == straight_losses

# %% [markdown]
# The resumed run continued from iteration 20, the newest checkpoint, with the generators in the
# state they had then, so it drew the same batches and ended with exactly the same weights. (The
# tests in `tests/test_checkpoint.py` check this bit for bit, and that a truncated checkpoint is
# rejected with an error naming the file while the previous checkpoint stays intact.)
#
# ## Summary
#
# - A character-level language model predicts the next character; its cross-entropy in bits
#   per character says how many bits it needs per character of unseen text.
# - The original recipe steps the GRU one character at a time in Python. It
#   learns, but makes 400 tiny GRU calls per iteration.
# - The same model trained with whole-sequence GRU calls, mini-batches of short chunks,
#   truncated back-propagation through time, clipping, a cosine learning-rate schedule and a
#   read-out bias that starts at the characters' frequencies reached
#   {glue:text}`fast_validation_loss` nats/char after 700 iterations, below the full loop's
#   loss after 20,000. Timed to the same target on both sides, on the machine of the benchmark,
#   it needed {glue:text}`chapter_ratio`x less time than the loop:
#   {glue:text}`fewer_characters_factor`x fewer characters, each processed
#   {glue:text}`faster_per_character`x faster. The second factor depends on
#   the machine.
# - A recipe's time to a target is the characters it needs times its time
#   per character. Of the single changes tried, the head start, which cuts
#   the characters, shortened the time to the target by the largest factor,
#   more than any change that raises the speed.
# - Temperature trades safety for variety when sampling: the lower it is, the less surprising the
#   text tends to be to the model that wrote it.
# - Checkpoints written atomically and read with `weights_only=True`, including the random
#   generators, make long runs resumable with exactly the same result.
#
# ## Exercises
#
# Each solution runs quickly, with fewer iterations than the chapter where it
# trains.
#
# ````{exercise} LSTM against GRU
# :label: ex-06-char-rnn-1
# `CharRNN(cell="lstm")` swaps the GRU for an LSTM, which has a cell state
# besides the hidden state and four gate blocks in its weights where the GRU
# has three. Train both with `train_fast` for the same number of iterations:
# which reaches the lower validation loss, and which takes longer per
# iteration?
# ````
#
# ````{solution-start} ex-06-char-rnn-1
# :class: dropdown
# ````
# 150 iterations each, with the chapter's recipe planned for 150 (a short run, so that the
# solution stays quick; the ranking can change with longer training):

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): two short training runs
# and their timings. The assertions check the claims.
short_runs = {}
for cell in ("gru", "lstm"):
    torch.manual_seed(123)
    cell_model = init_unigram_bias(CharRNN(cell=cell).to(device), train_data)
    run = train_fast(cell_model, train_data, 150, valid_data=valid_data)
    short_runs[cell] = run
    print(
        f"{cell}: validation loss {run.validation[-1]:.3f},"
        f" {1000 * run.seconds[-1] / 150:.1f} ms per iteration"
    )
assert all(run.validation[-1] < 2.3 for run in short_runs.values())
assert short_runs["gru"].validation[-1] < short_runs["lstm"].validation[-1]

# %% [markdown]
# Both learn, and after 150 iterations the GRU is a little ahead. One short
# run each is no fair test of speed, though: its time depends on what else
# the machine is doing and on which run came first. Three rounds of 20
# iterations each, in alternation:


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): timings. The folded cell
# after the text compares them; this one checks that each was measured.
def ms_per_iteration(cell: str, iterations: int = 20) -> float:
    """The time per `tbptt_step` of a fresh model, after 3 warm-up steps."""
    torch.manual_seed(123)
    net = CharRNN(cell=cell).to(device)
    adam = torch.optim.Adam(net.parameters(), lr=0.01)
    state = None
    for i in range(iterations + 3):
        if i == 3:
            tu.synchronize(device)
            start = time.perf_counter()
        x, y, new_pass = consecutive_batch(train_data, 64, 25, i)
        _, state = tbptt_step(
            net, adam, x, y, None if new_pass else state, 0.01
        )
    tu.synchronize(device)
    return 1000 * (time.perf_counter() - start) / iterations


rounds = {"gru": [], "lstm": []}
for _ in range(3):
    for cell, times in rounds.items():
        times.append(ms_per_iteration(cell))
medians = {cell: sorted(times)[1] for cell, times in rounds.items()}
for cell, ms in medians.items():
    print(f"{cell}: median {ms:.1f} ms per iteration")
assert all(len(times) == 3 and min(times) > 0 for times in rounds.values())

# %% [markdown]
# On the CPU, with a PyTorch build that has the oneDNN library, the LSTM is
# the faster of the two, although its recurrent layer does a third more
# arithmetic per step (four gate blocks against three, so exactly 4/3 of the
# GRU layer's weights). The reason is the library: such builds run an LSTM
# layer on the CPU as one fused oneDNN operation, a single
# `MkldnnRnnLayerBackward0` node in the autograd graph, but have no such
# operation for the GRU, which runs as more than ten separate operations per
# time step. On a GPU both run in cuDNN.

# %% tags=["hide-input"]
# The text above: on the CPU with oneDNN the LSTM took less time per
# iteration; its layer has 4/3 of the GRU layer's weights; on the CPU it is
# one oneDNN operation and the GRU more than ten per step; on a GPU both are
# cuDNN operations.
onednn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
if device.type == "cpu" and onednn:
    assert medians["lstm"] < medians["gru"]
gru_layer, lstm_layer = CharRNN().rnn, CharRNN(cell="lstm").rnn
weights = {
    layer: sum(p.numel() for p in layer.parameters())
    for layer in (gru_layer, lstm_layer)
}
assert 3 * weights[lstm_layer] == 4 * weights[gru_layer]
x = torch.randn(64, 25, 100)
assert len(recorded_operations(gru_layer(x)[0])) > 10 * 25
if onednn:
    lstm_operations = recorded_operations(lstm_layer(x)[0])
    assert lstm_operations.count("MkldnnRnnLayerBackward0") == 1
if device.type == "cuda" and torch.backends.cudnn.is_available():
    for layer in (gru_layer, lstm_layer):
        outputs, _ = layer.to(device)(x.to(device))
        assert "CudnnRnnBackward0" in recorded_operations(outputs)

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} Temperature
# :label: ex-06-char-rnn-2
# Sample 2,000 characters from the fast model at 0.2 and at 1.5. What goes wrong at each end?
# Count how many of the sampled words do not occur in the novel.
# ````
#
# ````{solution-start} ex-06-char-rnn-2
# :class: dropdown
# ````

# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): samples of the fast model,
# whose weights differ in visible digits between floating-point paths.
novel_words = set(text.split())
for temperature in (0.2, 1.5):
    words = sample_text(
        fast_model, length=2000, temperature=temperature, seed=7
    ).split()[1:-1]  # the ends may be cut mid-word
    invented = sum(word not in novel_words for word in words) / len(words)
    distinct = len(set(words)) / len(words)
    print(
        f"temperature {temperature}: {len(words)} words, {invented:.0%} not"
        f" in the novel, {distinct:.0%} distinct"
    )
    if temperature == 0.2:
        cold_invented, cold_distinct = invented, distinct
assert invented > cold_invented and distinct > cold_distinct
assert cold_invented < 0.1, "at 0.2 almost every word is a real one"

# %% [markdown]
# At 0.2 the model almost always takes its likeliest character: real words, but
# few of them, repeated in loops. At 1.5 it flattens its beliefs so much that
# unlikely characters come up often, and many more words are invented. (Words
# are split at white space, as `str.split()` does, so a word with a comma or a
# full stop attached counts as a separate word.)
#
# ````{solution-end}
# ````
#
# ````{exercise} Sequence length
# :label: ex-06-char-rnn-3
# Train with `seq_len` 25, 50 and 100, with `batch_size` 64, 32 and 16, so that every
# iteration sees 1,600 characters. How do the characters needed to reach the loop's loss and
# the characters per second change? Why does carrying the hidden state matter more for short
# chunks?
# ````
#
# ````{solution-start} ex-06-char-rnn-3
# :class: dropdown
# ````
# The benchmark's levers table ran exactly these three, with the schedule of
# 1,500 iterations and the default bias, to the loop's final loss; the speed
# is the paired one, against 16 x 100 (which, timed against itself, is not
# exactly 1):

# %%
shapes = (
    "batch 64 x 25 characters",
    "batch 32 x 50 characters",
    "the earlier recipe (baseline)",
)
for name in shapes:
    row = rows[name]
    shape = row["recipe"].split(",")[0]
    print(
        f"{shape:>14}: {row['characters_to_target']:.2f} M chars to"
        f" the target, speed {row['speed_vs_baseline']:.2f}x"
    )

# %% tags=["hide-input"]
# The text above: the three shapes, each with the schedule of 1,500
# iterations and the default bias.
recipes = [rows[name]["recipe"] for name in shapes]
assert [recipe.split(",")[0] for recipe in recipes] == [
    "64 x 25 chars",
    "32 x 50 chars",
    "16 x 100 chars",
]
assert all("schedule 1500," in recipe for recipe in recipes)
assert not any("unigram" in recipe for recipe in recipes)
# The text below: by the paired speed, the shorter the chunks the faster,
# while the unpaired column ranks 32 x 50 first; the characters to the target
# stay within 5% of each other.
shape_speeds = [rows[name]["speed_vs_baseline"] for name in shapes]
assert shape_speeds[0] > shape_speeds[1] > shape_speeds[2], shape_speeds
unpaired = [rows[name]["kchars_per_second"] for name in shapes]
assert max(unpaired) == unpaired[1], unpaired
needed = [rows[name]["characters_to_target"] for name in shapes]
assert max(needed) <= 1.05 * min(needed), needed

# %% [markdown]
# By the paired speed, shorter chunks of more streams are faster: the same
# 1,600 characters take 25 sequential GRU steps instead of 100, each on a
# larger matrix. (The unpaired thousands of characters per second in the file
# rank 32 x 50 first; the two columns disagree here.) Gradients now reach back
# only 25 characters, but the carried state still brings in everything before
# the chunk, so the characters needed stay about the same. Without the carried
# state, a chunk of 25 would start from zero every time and the model could use
# at most 25 characters of context; for chunks of 100 that loss is smaller.
#
# ````{solution-end}
# ````
#
# ````{exercise} Without the carried state
# :label: ex-06-char-rnn-4
# Train with `tbptt_step` but start every chunk from the zero state (pass `None` instead of
# the previous state). How much does the validation loss suffer?
# ````
#
# ````{solution-start} ex-06-char-rnn-4
# :class: dropdown
# ````
# 150 iterations each way, the chapter's recipe otherwise:


# %% tags=["nbval-ignore-output"]
# Path-dependent output (not compared by nbval): two short training runs.
# The assertion checks the claim.
def short_tbptt(carry_state: bool, iterations: int = 150) -> float:
    torch.manual_seed(123)
    net = init_unigram_bias(CharRNN().to(device), train_data)
    adam = torch.optim.Adam(net.parameters(), lr=0.01)
    state = None
    for i in range(iterations):
        x, y, fresh = consecutive_batch(train_data, 64, 25, i)
        lr = cosine_lr(i, iterations, 0.01, warmup=20)
        start_state = state if carry_state and not fresh else None
        _, state = tbptt_step(net, adam, x, y, start_state, lr)
    return validation_loss(net, valid_data)


carried, zeroed = short_tbptt(True), short_tbptt(False)
print(f"state carried: {carried:.3f} | state zeroed: {zeroed:.3f} nats/char")
assert carried < zeroed

# %% [markdown]
# Zeroing the state every 25 characters trains the model for a situation it never meets in
# validation, where it reads the text as one stream: the carried state is worth a small but
# measurable part of the loss even this early.
#
# ````{solution-end}
# ````
