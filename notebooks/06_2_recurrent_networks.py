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
# # Recurrent networks, written by hand
#
# *Section 2 of [chapter 6](06_char_rnn.ipynb). Before: the data and the
# score. Next: [back-propagation through
# time](06_3_backprop_through_time.ipynb).*
#
# *"The original" is the chapter's source, the blog post "Deep learning
# models implemented in pytorch and TF" (2024), named in
# [section 1](06_char_rnn.ipynb).*
#
# A language model must predict the next character from *all* the
# characters before it, however many. A recurrent network does it with a
# fixed-size memory that it updates one character at a time. In this
# section we will
#
# 1. define the hidden state, and write a plain recurrent network (RNN) as
#    a loop of tensor operations, checked against PyTorch's `nn.RNN`;
# 2. see why its gradients fade over distance, and how the gates of a
#    gated recurrent unit (GRU) help;
# 3. write a GRU cell from its equations and check it against `nn.GRU`,
#    outputs and gradients;
# 4. read `nn.GRU`'s two outputs and their shapes, and build the
#    chapter's model: an embedding, a GRU and a linear read-out.

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
import torch
from torch import nn

import tutorial_utils as tu

# %%
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

print("PyTorch", torch.__version__)

# %% [markdown]
# ## The hidden state
#
# A recurrent network reads a sequence $\mathbf{x}_1, \mathbf{x}_2, \dots$
# one element at a time and keeps a vector $\mathbf{h}_t$, its *hidden
# state*: after step $t$ it is the network's summary of everything it has
# read so far. Each step computes the new state from the old one and the
# new input, with the same weights at every step,
#
# $$\mathbf{h}_t = f(\mathbf{h}_{t-1}, \mathbf{x}_t), \qquad
# \mathbf{h}_0 = \mathbf{0},$$
#
# and a read-out turns $\mathbf{h}_t$ into the prediction for step $t+1$.
# The state has a fixed size (100 numbers in this chapter), so the network
# cannot store the text; it must learn what to keep.
#
# ## A plain RNN
#
# The simplest $f$ is one layer with a $\tanh$:
#
# $$\mathbf{h}_t = \tanh(W_{ih}\mathbf{x}_t + \mathbf{b}_{ih} +
# W_{hh}\mathbf{h}_{t-1} + \mathbf{b}_{hh}).$$
#
# Written as a loop over a batch of sequences shaped `(batch, time,
# features)`, with the weights in the layout of `nn.RNN` (which keeps two
# biases where one would do):


# %%
def rnn_by_hand(inputs, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """A plain tanh RNN over `(batch, time, features)`: all states, last."""
    states = []
    for x in inputs.unbind(dim=1):  # one time step at a time
        h = torch.tanh(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh)
        states.append(h)
    return torch.stack(states, dim=1), h


# %% [markdown]
# To check it, we give it the weights of a fresh `nn.RNN` and compare the
# two on the same random inputs: the states, and the gradients of a loss
# (the states times a fixed random tensor, summed) with respect to the
# inputs and to every weight.

# %%
torch.manual_seed(0)
library_rnn = nn.RNN(input_size=5, hidden_size=4, batch_first=True)
inputs = torch.randn(3, 7, 5, requires_grad=True)  # 3 sequences, 7 steps
probe = torch.randn(3, 7, 4)
weights = list(library_rnn.parameters())
print([name for name, _ in library_rnn.named_parameters()])


def states_and_gradients(outputs):
    """The outputs, and the gradients of a fixed random loss of them."""
    loss = (outputs * probe).sum()
    gradients = torch.autograd.grad(
        loss, [inputs, *weights], retain_graph=True
    )
    return [outputs, *gradients]


def agree(ours, theirs, tolerance=1e-6):
    """Every pair of tensors within `tolerance` of each other."""
    return all(
        torch.allclose(a, b, rtol=0, atol=tolerance)
        for a, b in zip(ours, theirs, strict=True)
    )


library_out, library_last = library_rnn(inputs)
hand_out, hand_last = rnn_by_hand(inputs, torch.zeros(3, 4), *weights)
print("states shaped", tuple(hand_out.shape))
print(
    "states and gradients agree within 1e-6:",
    agree(states_and_gradients(hand_out), states_and_gradients(library_out)),
)

# %% tags=["hide-input"]
# The text above: within 1e-6, outputs and all five gradients (inputs and
# the four weights), and the last state too.
hand = states_and_gradients(hand_out)
assert len(hand) == 6 and agree(hand, states_and_gradients(library_out))
assert agree([hand_last], [library_last[0]])
# a wrong weight would be caught: the check can fail
wrong = [weights[0], weights[1].T, *weights[2:]]
assert not agree(
    [rnn_by_hand(inputs, torch.zeros(3, 4), *wrong)[0]], [library_out]
)

# %% [markdown]
# ## Gradients that fade with distance
#
# Training needs the gradient of a late loss with respect to early inputs:
# that is how the network learns what was worth remembering. By the chain
# rule, the gradient that reaches step $t$ from step $T$ passes through
# the Jacobians of every step in between,
#
# $$\frac{\partial \mathbf{h}_T}{\partial \mathbf{h}_t} =
# \prod_{s=t+1}^{T} \frac{\partial \mathbf{h}_s}{\partial
# \mathbf{h}_{s-1}} = \prod_{s=t+1}^{T}
# \operatorname{diag}(1 - \mathbf{h}_s^2)\, W_{hh},$$
#
# a product of $T - t$ matrices. Unless they are tuned just so, such a
# product shrinks (or grows) exponentially with the distance: the
# *vanishing* (or *exploding*) gradient. Measured on untrained layers of
# this chapter's size, 100 inputs and 100 units, over 60 steps:


# %%
def gradient_by_distance(layer, steps=60):
    """|d(last output)/d(input)| for each distance back, for a batch of 8."""
    torch.manual_seed(0)
    inputs = torch.randn(8, steps, 100, requires_grad=True)
    outputs, _ = layer(inputs)
    (gradient,) = torch.autograd.grad(outputs[:, -1].pow(2).sum(), inputs)
    return gradient.norm(dim=(0, 2)).flip(0)  # distance 0 first


fig, ax = plt.subplots(figsize=(7, 3.2))
fading = {}
for layer_class in (nn.RNN, nn.GRU):
    torch.manual_seed(123)
    norms = gradient_by_distance(layer_class(100, 100, batch_first=True))
    fading[layer_class.__name__] = norms
    ax.semilogy(norms, label=f"untrained {layer_class.__name__}")
ax.set_xlabel("distance back from the last step (characters)")
ax.set_ylabel("gradient size")
ax.set_title("How much of the gradient reaches earlier inputs")
ax.legend()
plt.show()

# %% tags=["hide-input"]
# The text below: both fall by more than a factor of 100 within 20 steps,
# and at distance 20 the GRU keeps more than ten times the RNN's.
rnn, gru = fading["RNN"], fading["GRU"]
assert rnn[20] < rnn[0] / 100 and gru[20] < gru[0] / 100
assert gru[20] > 10 * rnn[20]

# %% [markdown]
# In both, the gradient from 20 steps back is less than a hundredth of
# the gradient of the current step; the GRU keeps more than ten times the
# plain RNN's there. The GRU's advantage is a path that does not pass
# through a squashing nonlinearity: its update gate, computed from the
# input and the state, can learn to copy parts of the state forward
# unchanged, and a copied state passes its gradient back unchanged too.
# (Section 4 measures a similar curve, for the trained model's loss.)
#
# ## A GRU cell, from its equations
#
# At each step a GRU computes a *reset gate* $\mathbf{r}_t$, an *update
# gate* $\mathbf{z}_t$ and a *candidate state* $\tilde{\mathbf{h}}_t$,
# and mixes the candidate with the old state:
#
# $$
# \begin{aligned}
# \mathbf{r}_t &= \sigma(W_{ir}\mathbf{x}_t + \mathbf{b}_{ir} + W_{hr}\mathbf{h}_{t-1} + \mathbf{b}_{hr}), \\
# \mathbf{z}_t &= \sigma(W_{iz}\mathbf{x}_t + \mathbf{b}_{iz} + W_{hz}\mathbf{h}_{t-1} + \mathbf{b}_{hz}), \\
# \tilde{\mathbf{h}}_t &= \tanh\big(W_{in}\mathbf{x}_t + \mathbf{b}_{in} + \mathbf{r}_t \odot (W_{hn}\mathbf{h}_{t-1} + \mathbf{b}_{hn})\big), \\
# \mathbf{h}_t &= (1 - \mathbf{z}_t) \odot \tilde{\mathbf{h}}_t + \mathbf{z}_t \odot \mathbf{h}_{t-1}.
# \end{aligned}
# $$
#
# The gates are sigmoids, between 0 and 1 in every component. The reset
# gate decides how much of the old state enters the candidate; the update
# gate how much of the old state is kept. Where $\mathbf{z}_t \approx 1$,
# the state is copied forward, and with it the gradient. The figure shows
# one step:


# %% tags=["hide-input"]
def box(ax, center, label, color, width=1.3):
    x, y = center
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - 0.3),
            width,
            0.6,
            boxstyle="round,pad=0.04",
            facecolor=color,
            edgecolor="black",
        )
    )
    ax.text(x, y, label, ha="center", va="center", fontsize=11)


def arrow(ax, start, end, **style):
    ax.add_patch(
        FancyArrowPatch(
            start, end, arrowstyle="-|>", mutation_scale=14, **style
        )
    )


fig, ax = plt.subplots(figsize=(8.5, 3.8))
boxes = (
    ((0.3, 2.4), "$\\mathbf{h}_{t-1}$", "white", 1.0),
    ((3.4, 2.4), "candidate tanh", "#d5ecc2", 1.6),
    ((6.3, 2.4), "$(1-z)\\,\\tilde h + z\\,h$", "#eeeeee", 1.7),
    ((8.3, 2.4), "$\\mathbf{h}_t$", "white", 0.8),
    ((1.9, 1.0), "reset $\\sigma$", "#fde0c5", 1.3),
    ((4.9, 1.0), "update $\\sigma$", "#c9e4f5", 1.3),
    ((3.4, -0.3), "$\\mathbf{x}_t$", "white", 0.8),
)
for center, label, color, width in boxes:
    box(ax, center, label, color, width)
for start, end in (
    ((0.8, 2.25), (1.6, 1.3)),  # h_{t-1} into the reset gate
    ((0.8, 2.15), (4.4, 1.3)),  # and into the update gate
    ((0.8, 2.5), (2.6, 2.5)),  # and into the candidate
    ((3.1, 0.0), (2.2, 0.7)),  # x_t into the gates and the candidate
    ((3.7, 0.0), (4.6, 0.7)),
    ((3.4, 0.0), (3.4, 2.1)),
    ((2.2, 1.3), (3.0, 2.1)),  # r scales the state's part of the candidate
    ((5.2, 1.3), (6.0, 2.1)),  # z sets the mix
    ((4.2, 2.4), (5.45, 2.4)),
    ((7.15, 2.4), (7.9, 2.4)),
):
    arrow(ax, start, end, color="black")
arrow(
    ax,
    (0.3, 2.7),
    (6.3, 2.7),
    color="C0",
    linestyle="--",
    connectionstyle="arc3,rad=-0.2",
)
ax.text(
    3.3,
    3.55,
    "kept where z is near 1: the state, and its gradient",
    ha="center",
    color="C0",
)
ax.set_xlim(-0.4, 8.9)
ax.set_ylim(-0.8, 3.9)
ax.axis("off")
ax.set_title("One GRU step: two gates, a candidate, a mix")
plt.show()


# %% [markdown]
# In code, with the weights in `nn.GRU`'s layout (each matrix holds the
# reset, update and candidate blocks stacked, in that order):


# %%
def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """One GRU step on a batch: the new state."""
    x_r, x_z, x_n = (x @ weight_ih.T + bias_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    reset = torch.sigmoid(x_r + h_r)
    update = torch.sigmoid(x_z + h_z)
    candidate = torch.tanh(x_n + reset * h_n)
    return (1 - update) * candidate + update * h


def gru_by_hand(inputs, h, *weights):
    """The cell over `(batch, time, features)`: all states, and the last."""
    states = []
    for x in inputs.unbind(dim=1):
        h = gru_cell(x, h, *weights)
        states.append(h)
    return torch.stack(states, dim=1), h


# %% [markdown]
# The same check as for the plain RNN, against a fresh `nn.GRU`:

# %%
torch.manual_seed(0)
library_gru = nn.GRU(input_size=5, hidden_size=4, batch_first=True)
weights = list(library_gru.parameters())
print([tuple(weight.shape) for weight in weights])
library_out, library_last = library_gru(inputs)
hand_out, hand_last = gru_by_hand(inputs, torch.zeros(3, 4), *weights)
print(
    "states and gradients agree within 1e-6:",
    agree(states_and_gradients(hand_out), states_and_gradients(library_out)),
)

# %% tags=["hide-input"]
# The text above: within 1e-6, outputs and all five gradients, and the
# last state; the order of the blocks matters (swapping the reset and
# update blocks is caught).
hand = states_and_gradients(hand_out)
assert len(hand) == 6 and agree(hand, states_and_gradients(library_out))
assert agree([hand_last], [library_last[0]])
assert [tuple(w.shape) for w in weights] == [(12, 5), (12, 4), (12,), (12,)]
r, z, n = weights[0].chunk(3)
swapped = [torch.cat([z, r, n]), *weights[1:]]
assert not agree(
    [gru_by_hand(inputs, torch.zeros(3, 4), *swapped)[0]], [library_out]
)

# %% [markdown]
# Each weight matrix has $3 \times 4 = 12$ rows: the three blocks of four
# units. From here on the chapter uses `nn.GRU`, which computes the same
# function without a Python loop over time steps (its speed is the
# subject of section 5).
#
# ## `nn.GRU`'s two outputs
#
# A call returns two tensors. With `batch_first=True` and an input of
# shape `(batch, time, features)`:
#
# - `output`, shape `(batch, time, hidden)`: the state of the *top* layer
#   at *every* step, what a read-out needs to predict every next
#   character;
# - `h_n`, shape `(layers, batch, hidden)`: the *last* state of *every*
#   layer, what the next call needs to continue the sequence. It is not
#   batch-first, whatever `batch_first` says.
#
# With two stacked layers:

# %%
torch.manual_seed(0)
two_layers = nn.GRU(100, 100, num_layers=2, batch_first=True)
output, h_n = two_layers(torch.randn(3, 7, 100))
print("output:", tuple(output.shape), "| h_n:", tuple(h_n.shape))
print("output[:, -1] equals h_n[-1]:", torch.equal(output[:, -1], h_n[-1]))

# %% [markdown]
# The last column of `output` is exactly the top layer's entry of `h_n`.
# Feeding `h_n` back in as the second argument continues a sequence where
# the last call stopped; sections 3 and 4 rely on that.

# %% tags=["hide-input"]
# The text above: continuing from h_n gives what one call over the whole
# sequence gives, within 1e-6 (absolute).
sequence = torch.randn(3, 14, 100)
whole, _ = two_layers(sequence)
first, state = two_layers(sequence[:, :7])
second, _ = two_layers(sequence[:, 7:], state)
continued = torch.cat([first, second], dim=1)
assert torch.allclose(continued, whole, rtol=0, atol=1e-6)

# %% [markdown]
# ## The chapter's model
#
# Each character index $x_t$ is looked up in an embedding table, giving a
# 100-dimensional vector $\mathbf{e}_t$, the GRU's input. A linear layer
# maps each state $\mathbf{h}_t$ to 100 *logits*, one score per possible
# next character, and the softmax turns them into probabilities,
# $p(x_{t+1} = c \mid x_{\le t}) =
# \operatorname{softmax}(W_o\mathbf{h}_t + \mathbf{b}_o)_c$.
#
# `CharRNN` is this model: `Embedding(100, 100)` → `GRU(100, 100)` →
# `Linear(100, 100)`, starting from the all-zero state. Its `forward` takes
# a `(batch, time)` tensor of character indices (one character is a
# sequence of length 1) and an optional state, and returns the logits and
# the new state. (The original passes the hidden size where the embedding
# size belongs; both are 100, so nothing changes, but the code says what it
# means. The `cell` argument swaps in an LSTM, for an exercise of
# section 6.)


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


# %%
torch.manual_seed(123)
model = CharRNN(vocab_size=len(tu.PRINTABLE), embedding_size=100)
print(model)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")
logits, state = model(tu.char_to_tensor("It was").view(1, -1))
print("logits:", tuple(logits.shape), "| state:", tuple(state.shape))

# %% tags=["hide-input"]
# The count above, from the layers' shapes: 100 x 100 embeddings, three
# blocks of 100 x (100 + 100) weights and 2 x 100 biases each, and a
# 100 x 100 read-out with its bias.
gru_weights = 3 * (100 * (100 + 100) + 2 * 100)
assert sum(p.numel() for p in model.parameters()) == (
    100 * 100 + gru_weights + 100 * 100 + 100
)
# The text below: untrained, the loss on the novel's first 2,000
# characters is within 0.05 of a uniform guess's ln 100.
opening = tu.char_to_tensor(tu.clean_text(tu.load_novel_text())[:2001])
with torch.no_grad():
    opening_logits, _ = model(opening[:-1].view(1, -1))
untrained_loss = nn.functional.cross_entropy(opening_logits[0], opening[1:])
assert abs(untrained_loss.item() - torch.log(torch.tensor(100.0))) < 0.05

# %% [markdown]
# Untrained, the model's predictions are close to a uniform guess: its
# loss on the start of the novel is within 0.05 of $\ln 100$.
# The next section trains it as the original does.
#
# ## Summary
#
# - A recurrent network keeps a hidden state, its summary of everything
#   read so far, and updates it with the same weights at every step.
# - A plain RNN is one line of tensor code per step, a GRU cell a few
#   lines. Both agree with PyTorch's layers, outputs and gradients, to within
#   1e-6.
# - In the untrained layers measured here, gradients that travel back
#   through many steps fade by orders of magnitude;
#   the GRU's update gate can learn to copy the state, and its gradient,
#   forward.
# - `nn.GRU` returns the top layer's state at every step and every
#   layer's last state; the chapter's model puts an embedding before it
#   and a linear read-out after it.
#
# ## Exercises
#
# ````{exercise} An LSTM cell by hand
# :label: ex-06-2-recurrent-1
# An LSTM keeps a second vector, the cell state $\mathbf{c}_t$, and has
# four blocks: input gate $\mathbf{i}$, forget gate $\mathbf{f}$, a
# candidate $\mathbf{g}$ and an output gate $\mathbf{o}$, stacked in that
# order in `nn.LSTM`'s weights. With $\mathbf{c}_t = \mathbf{f} \odot
# \mathbf{c}_{t-1} + \mathbf{i} \odot \mathbf{g}$ and $\mathbf{h}_t =
# \mathbf{o} \odot \tanh(\mathbf{c}_t)$ ($\mathbf{g}$ a $\tanh$, the
# others sigmoids), write the cell and check it against `nn.LSTM` as above.
# ````
#
# ````{solution-start} ex-06-2-recurrent-1
# :class: dropdown
# ````


# %%
def lstm_by_hand(inputs, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
    """An LSTM over `(batch, time, features)`: all states, last h and c."""
    states = []
    for x in inputs.unbind(dim=1):
        blocks = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, g, o = blocks.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        states.append(h)
    return torch.stack(states, dim=1), h, c


torch.manual_seed(0)
library_lstm = nn.LSTM(input_size=5, hidden_size=4, batch_first=True)
weights = list(library_lstm.parameters())
library_out, (library_h, library_c) = library_lstm(inputs)
hand_out, hand_h, hand_c = lstm_by_hand(
    inputs, torch.zeros(3, 4), torch.zeros(3, 4), *weights
)
same = agree(states_and_gradients(hand_out), states_and_gradients(library_out))
same_last = agree([hand_h, hand_c], [library_h[0], library_c[0]])
print("states and gradients agree within 1e-6:", same)
print("last h and c agree within 1e-6:", same_last)
assert same and same_last

# %% [markdown]
# ````{solution-end}
# ````
#
# ````{exercise} What the update gate keeps
# :label: ex-06-2-recurrent-2
# If the update gate were a constant $z$ and the candidate always 0, the
# state would shrink as $z^k$ over $k$ steps. For how many steps does a
# state keep half of its size at $z = 0.5$, $0.9$ and $0.99$? What does
# that say about how long a GRU can remember?
# ````
#
# ````{solution-start} ex-06-2-recurrent-2
# :class: dropdown
# ````

# %%
import math

half_lives = {}
for z in (0.5, 0.9, 0.99):
    half_lives[z] = math.log(0.5) / math.log(z)
    print(f"z = {z}: half the state is left after {half_lives[z]:.1f} steps")

# %% tags=["hide-input"]
# The text below: one step, about 7 and about 69, and a factor of about
# ten from 0.9 to 0.99.
assert [round(steps) for steps in half_lives.values()] == [1, 7, 69]
assert 9.5 < half_lives[0.99] / half_lives[0.9] < 10.5

# %% [markdown]
# One step at 0.5, about 7 at 0.9 and about 69 at 0.99: the closer the
# gate is to 1, the longer the memory; going from 0.9 to 0.99 multiplies
# it by about ten. A GRU learns its gates, per unit and
# per step, so some units can keep a state over a sentence while others
# change at every character.
#
# ````{solution-end}
# ````
