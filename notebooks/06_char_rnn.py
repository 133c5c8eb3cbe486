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
# # A character-level language model: the data and the score
#
# *This chapter comes in seven short sections; this first page also serves
# as its index. The TensorFlow twin: [the same model in TensorFlow and
# Keras](06_char_rnn_tensorflow.ipynb); the [side-by-side
# page](../book/char_rnn_comparison.md) shows the two next to each other.*
#
# A character-level language model reads text one character at a time and
# predicts the next one. Trained on Charles Dickens' *A Tale of Two Cities*,
# it learns spelling, punctuation and a little grammar, and it can then
# write "Dickens" of its own, one sampled character at a time. The chapter
# follows the character-RNN notebook of the blog post "Deep learning models
# implemented in pytorch and TF" (2024), which follows Sebastian Raschka's
# [deeplearning-models](https://github.com/rasbt/deeplearning-models)
# notebooks; "the original" below means that notebook. The sections:
#
# 1. **The data and the score** (this page): the novel cleaned and encoded,
#    a validation text held out, cross-entropy and bits per character, and
#    the scores of models that only count characters.
# 2. [Recurrent networks, by hand](06_2_recurrent_networks.ipynb): a plain
#    RNN and a GRU cell written from their equations and checked against
#    PyTorch's `nn.RNN` and `nn.GRU`; the chapter's model.
# 3. [Back-propagation through time](06_3_backprop_through_time.ipynb): the
#    original's training loop, one character at a time, and sampling text.
# 4. [Truncated BPTT and a training recipe](06_4_truncated_bptt.ipynb): the
#    same model trained on chunks of many streams, many times faster.
# 5. [How much faster, and why](06_5_how_much_faster.ipynb) (optional
#    reading): the loop and the recipe timed to the same loss, and the
#    speed-up as the product of two factors.
# 6. [The levers](06_6_levers.ipynb) (optional reading): one change at a
#    time, and what each bought.
# 7. [Checkpoints](06_7_checkpoints.ipynb): training that survives
#    interruption.
#
# The notebooks run on the CPU, and on a GPU when there is one. Opened in
# Colab it asks for a GPU runtime; if none is free, it runs on the CPU
# unchanged. Helpers for loading and encoding the text come from the book's
# package `tutorial_utils` (imported as `tu`); the code each section
# teaches is written in its cells, and later sections import it from
# `tutorial_utils.charrnn`, which holds a copy of the cells tagged
# `export`.

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

import torch

import tutorial_utils as tu

# %%
import matplotlib.pyplot as plt

print("PyTorch", torch.__version__)

# %% [markdown]
# ## The text
#
# `tu.load_novel_text()` returns the novel's text as stored (from the local
# mirror, the cache or a download from Project Gutenberg), decoded from
# UTF-8 and not yet cleaned. The copy printed here starts at the title,
# without Gutenberg's header, and still holds its curly quotes:

# %%
raw = tu.load_novel_text()
non_ascii = sum(1 for char in raw if ord(char) > 127)
print(f"{len(raw):,} characters, {non_ascii:,} of them outside ASCII")
print("start:", repr(raw[:60]))
print("end:  ", repr(raw[-60:]))

# %% [markdown]
# Our vocabulary is the 100 characters of Python's `string.printable`;
# curly quotes and other non-ASCII characters are not among them. Two more
# things are in the vocabulary but say nothing about Dickens: the Windows
# line ends of some copies, and indentation by runs of spaces. A file
# downloaded from Gutenberg also carries a header before a
# `*** START OF ...` marker and a licence after an `*** END OF ...` marker
# (a copy without them is left as it is). `tu.clean_text` keeps only the
# text between the markers when they are present, transliterates to ASCII
# with `unidecode`, turns `\r\n` into `\n`, drops the control characters
# that are not in `string.printable`, shrinks runs of spaces to one, and
# ends the text with one line end:

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
# ## Characters as integers, and a held-out text
#
# `tu.char_to_tensor` maps each character to its index in
# `string.printable`; `tu.tensor_to_text` maps back. The last 10% of the
# novel is held out: no model of this chapter trains on it, and every
# model's loss is reported on it.


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
    if not 2 <= cut <= len(encoded) - 2:  # each part needs one prediction
        raise ValueError(
            f"validation_fraction {validation_fraction} of {len(encoded)}"
            f" characters leaves {cut} for training and"
            f" {len(encoded) - cut} for validation; each needs 2 or more:"
            " use a fraction nearer 0.5 or a longer text"
        )
    return encoded[:cut], encoded[cut:]


# %%
encoded = tu.char_to_tensor(text)
train_data, valid_data = split_train_validation(
    encoded, validation_fraction=0.1
)
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
# ## The score: cross-entropy, in nats and in bits
#
# A language model gives, at every position $t$, a probability to each
# possible next character. Its score on a text of $N + 1$ characters is
# the cross-entropy: the negative log-probability it gave the character
# that actually came next, averaged over the $N$ predictions,
#
# $$L = -\frac{1}{N} \sum_{t=1}^{N} \log p(x_{t+1} \mid x_1, \dots, x_t).$$
#
# With the natural logarithm, $L$ is in *nats* per character; divided by
# $\ln 2$ it is in *bits* per character, the number of bits a compressor
# driven by the model would need for each character of the text. Lower is
# better. A model that knew the text by heart would score 0; one that
# guessed uniformly among the 100 characters scores $\ln 100 \approx 4.61$
# nats, $\log_2 100 \approx 6.64$ bits.


# %% tags=["export"]
def bits_per_char(loss_nats: float) -> float:
    """A cross-entropy in nats per character, in bits: `loss / ln 2`."""
    return loss_nats / math.log(2)


# %% [markdown]
# ## A ladder of baselines that only count
#
# Before any network, how far does counting get? An *n-gram* model
# predicts each character from the $n - 1$ characters before it, with
# probabilities read off the training text: how often each character
# followed that context there. A character never seen after its context
# would get probability 0 and an infinite loss (and a context never seen
# no probabilities at all, 0/0), so every
# count gets $\alpha = 1$ added first (add-one smoothing):
#
# $$p(c \mid \text{context}) = \frac{\text{count}(\text{context}, c) +
# \alpha}{\text{count}(\text{context}) + 100\,\alpha}.$$
#
# With $n = 1$ the context is empty and the model predicts each
# character's frequency: the *unigram* model. The code turns each run of
# $n$ characters into one integer, counts the distinct ones with
# `torch.unique`, and looks up the validation text's runs with
# `torch.searchsorted`. It scores every validation character from the
# $n$-th on (the first $n - 1$ have no full context).


# %%
def ngram_loss(
    train: torch.Tensor, valid: torch.Tensor, n: int, alpha: float = 1.0
) -> float:
    """Validation cross-entropy (nats/char) of the smoothed n-gram model."""
    vocab = len(tu.PRINTABLE)

    def runs(data):  # each run of n characters as one base-100 number
        count = len(data) - n + 1
        numbers = torch.zeros(count, dtype=torch.long)
        for k in range(n):
            numbers = numbers * vocab + data[k : k + count]
        return numbers

    def how_often(seen, query):  # counts of the seen numbers, 0 if unseen
        keys, counts = torch.unique(seen, return_counts=True)
        at = torch.searchsorted(keys, query).clamp(max=len(keys) - 1)
        return torch.where(keys[at] == query, counts[at], 0).double()

    seen, wanted = runs(train), runs(valid)
    pairs = how_often(seen, wanted)
    contexts = how_often(seen // vocab, wanted // vocab)
    return -((pairs + alpha) / (contexts + alpha * vocab)).log().mean().item()


# %%
ladder = {"uniform guess": math.log(len(tu.PRINTABLE))}
for n, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
    ladder[name] = ngram_loss(train_data, valid_data, n)
for name, loss in ladder.items():
    print(f"{name:14s} {loss:.4f} nats/char = {bits_per_char(loss):.3f} bits")

# %% [markdown]
# Each character of context buys less than the one before: the bigram
# model's first character of context saves 0.67 nats, the trigram's second
# 0.43. Counting with $\alpha = 1$ stops scaling soon: with three
# characters of context, as
# in a 4-gram model, there are $100^3$ possible contexts, and more than
# nine in ten of them never occur in the 680,000 characters of training
# text (the first exercise tries it).
# The recurrent networks of the next sections learn a summary of *all*
# the characters before the current one. The slow per-character loop of
# section 3 settles around {glue:text}`loop_plateau` nats/char (the
# highest of its three recorded runs' medians over their last five checks,
# rounded up); the recipe of section 4 gets below it.

# %% tags=["hide-input"]
# The text above: the losses rise as the context shrinks, the two savings
# to two decimals, the share of unseen trigram contexts, and the loop's
# plateau from the recorded benchmark.
losses = list(ladder.values())
assert losses == sorted(losses, reverse=True)
assert math.isclose(ladder["uniform guess"], 4.61, abs_tol=0.005)
assert math.isclose(math.log2(100), 6.64, abs_tol=0.005)
assert round(ladder["unigram"] - ladder["bigram"], 2) == 0.67
assert round(ladder["bigram"] - ladder["trigram"], 2) == 0.43
assert round(len(train_data), -4) == 680_000
training_text = tu.tensor_to_text(train_data)
contexts = {training_text[i : i + 3] for i in range(len(training_text) - 2)}
assert len(contexts) < 0.1 * 100**3
assert abs(ladder["trigram"] - 2) < 0.05
recorded = tu.benchmark_result("char_rnn")
plateau = recorded["headline_target"]
assert recorded["rows"][0]["repeats"] == 3  # the loop's recorded seeds
assert plateau < ladder["trigram"]
# the recipe's recorded curve stops at its first check below the plateau
assert recorded["fast_curve"]["rows"][-1]["validation_loss"] <= plateau
tu.glue("loop_plateau", plateau)
tu.glue("unigram_loss", round(ladder["unigram"], 2))

# %% [markdown]
# The ladder as a picture, with the loop's plateau for scale:

# %%
names = [*ladder, "GRU loop's plateau\n(section 3)"]
values = [*ladder.values(), plateau]
fig, ax = plt.subplots(figsize=(7, 3))
ax.barh(names, values, color=["C0"] * len(ladder) + ["C1"])
ax.invert_yaxis()
ax.set_xlabel("validation loss (nats/char); lower is better")
ax.set_title("How well each model predicts the held-out text")
for y, value in enumerate(values):
    ax.text(value + 0.05, y, f"{value:.2f}", va="center")
ax.set_xlim(0, 5.2)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Summary
#
# - The novel, cleaned to the 100 characters of `string.printable`, is a
#   sequence of integers; its last 10% is the validation text.
# - A language model is scored by its cross-entropy on text it never saw:
#   nats per character, or bits per character after dividing by $\ln 2$.
# - Counting gets from 4.61 nats/char (a uniform guess) to
#   {glue:text}`unigram_loss` (character frequencies) and to about 2 with
#   two characters of context. With three, most of the possible contexts
#   never occur, and add-one smoothing spreads too much probability.
#
# ## Exercises
#
# ````{exercise} Four characters of context
# :label: ex-06-char-rnn-1
# Score the 4-gram model with $\alpha = 1$, then with smaller $\alpha$.
# Choose $\alpha$ fairly: on the last tenth of the *training* text, with
# the counts taken from the rest, never on the validation text. How does
# the fairly chosen 4-gram model compare with the loop's plateau?
# ````
#
# ````{solution-start} ex-06-char-rnn-1
# :class: dropdown
# ````

# %%
fit, tune = split_train_validation(train_data, validation_fraction=0.1)
alphas = (1.0, 0.1, 0.01, 0.001)
tuned = {alpha: ngram_loss(fit, tune, 4, alpha) for alpha in alphas}
best = min(tuned, key=tuned.get)
add_one = ngram_loss(train_data, valid_data, 4, 1.0)
four_gram = ngram_loss(train_data, valid_data, 4, best)
print("on the tuning text:", {a: round(loss, 3) for a, loss in tuned.items()})
print(f"4-gram, alpha = 1: {add_one:.4f} nats/char")
print(f"4-gram, alpha = {best} (chosen on the tuning text): {four_gram:.4f}")

# %% tags=["hide-input"]
# The text below: add-one smoothing barely beats the trigram; the chosen
# alpha is smaller than 1 and beats the loop's plateau, though not the
# band that section 4's recipe ends in (1.542 +- 0.02).
assert ladder["trigram"] - 0.15 < add_one < ladder["trigram"]
assert best < 1 and 1.542 + 0.02 < four_gram < plateau
# more than half of the contexts that do occur occur fewer than 100 times
import collections

context_counts = collections.Counter(
    training_text[i : i + 3] for i in range(len(training_text) - 3)
)
assert sorted(context_counts.values())[len(context_counts) // 2] < 100

# %% [markdown]
# With add-one smoothing the 4-gram model barely beats the trigram.
# Add-one gives each of the 100 characters a count of 1 after every
# context, and more than half of the contexts that occur occur fewer than
# 100 times: for them the invented counts outnumber the real ones, and
# take most of the probability from the characters that did follow. A
# smaller $\alpha$, chosen on text the counts did not see, takes the
# 4-gram model below the loop's plateau, though not as low as the band
# that section 4's recipe ends in (1.542 $\pm$ 0.02). Counting is a
# strong baseline for short contexts; a network must earn its keep with
# longer ones.
#
# ````{solution-end}
# ````
#
# ````{exercise} Compressors are language models too
# :label: ex-06-char-rnn-2
# A compressor that writes a text in $B$ bytes spends $8B/N$ bits per
# character. Compress the validation text with Python's `zlib`, `bz2` and
# `lzma`, and place them on the ladder. (They see only the validation
# text, not the training text.)
# ````
#
# ````{solution-start} ex-06-char-rnn-2
# :class: dropdown
# ````

# %%
import bz2
import lzma
import zlib

valid_bytes = tu.tensor_to_text(valid_data).encode()
compressors = {
    "zlib": lambda data: zlib.compress(data, 9),
    "bz2": lambda data: bz2.compress(data, 9),
    "lzma": lambda data: lzma.compress(data, preset=9),
}
for name, compress in compressors.items():
    bits = 8 * len(compress(valid_bytes)) / len(valid_bytes)
    print(f"{name:5s} {bits:.2f} bits/char = {bits * math.log(2):.2f} nats")

# %% tags=["hide-input"]
# The text below: every compressor lands between the unigram and the
# plateau, and bz2 does best of the three.
rates = {
    name: 8 * len(compress(valid_bytes)) / len(valid_bytes) * math.log(2)
    for name, compress in compressors.items()
}
assert all(plateau < rate < ladder["unigram"] for rate in rates.values())
assert min(rates, key=rates.get) == "bz2"
assert len(valid_bytes) == 75_680

# %% [markdown]
# All three land between the unigram model and the trained networks, with
# `bz2` the best of them. They model only the 75,680 characters they
# compress (`zlib` and `lzma` learn their repeats as they go; `bz2` sorts
# the whole text as one block), and nothing else; the models of this
# chapter bring what they learned from the training text.
#
# ````{solution-end}
# ````
