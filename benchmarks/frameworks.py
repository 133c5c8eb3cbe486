"""PyTorch and TensorFlow on the same work, measured side by side in one run on the CPU.

- A softmax-regression epoch on MNIST, as chapter 5 and its TensorFlow twin train it: 235 SGD
  steps on batches of 256 in-memory images; PyTorch (the chapter's model, batches cut from
  tensors), TensorFlow (the twin's `tf.function` step fed by `tf.data`) and Keras (`fit`).
- A training iteration of the character-level GRU at the fast recipe's size (64 streams of 25
  characters, truncated BPTT, Adam, clipping), as chapter 6 and its twin write it.

Both frameworks use the same number of CPU threads (``--threads``, default 1, the chapters'
setting). Compilation (``tf.function`` tracing) happens in warm-up rounds that are not timed.

    python benchmarks/frameworks.py [--threads 1] [--output benchmarks/results/frameworks.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import tutorial_utils as tu
from tutorial_utils.results import write_result

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import code_fingerprint  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
EPOCH_ROUNDS = 7  # rounds of one epoch per contender (softmax regression)
ITERATION_ROUNDS = 50  # rounds of one training iteration per contender (char-GRU)


def alternated(runs: dict[str, Callable[[], object]], warmup: int, rounds: int) -> dict[str, list[float]]:
    """Seconds of each run in each of ``rounds`` rounds, after ``warmup`` untimed calls of each.

    Every round calls each run once, one after the other, so a drift in the machine's speed over
    the minutes of the measurement affects all of them alike.
    """
    for run in runs.values():
        for _ in range(warmup):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def softmax_epochs(tf, keras) -> dict[str, Callable[[], object]]:
    from tutorial_utils import softmax_tf

    images, labels, _, _ = tu.load_mnist_arrays()
    X = images.reshape(len(images), -1).astype(np.float32) / 255
    runs = {}

    torch.manual_seed(123)
    model = tu.SoftmaxRegression(784, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = tu.TensorLoader(torch.from_numpy(X), torch.from_numpy(labels), batch_size=256, shuffle=True)

    def pytorch_epoch():
        for features, targets in loader:
            logits, _ = model(features)
            cost = F.cross_entropy(logits, targets)
            optimizer.zero_grad()
            cost.backward()
            optimizer.step()

    runs["PyTorch: the chapter's loop over in-memory batches"] = pytorch_epoch

    keras.utils.set_random_seed(123)
    tf_model = softmax_tf.softmax_regression()
    step = softmax_tf.make_train_step(tf_model, keras.optimizers.SGD(0.1))
    batches = tf.data.Dataset.from_tensor_slices((X, labels)).shuffle(len(X), seed=123).batch(256)

    def tape_epoch():
        for features, targets in batches:
            step(features, targets)

    runs["TensorFlow: GradientTape step in tf.function, tf.data"] = tape_epoch

    fit_model = softmax_tf.softmax_regression()
    fit_model.compile(optimizer=keras.optimizers.SGD(0.1), loss=softmax_tf.cross_entropy())
    runs["Keras: fit"] = lambda: fit_model.fit(X, labels, batch_size=256, epochs=1, shuffle=True, verbose=0)
    return runs


def char_rnn_iterations(tf, keras) -> dict[str, Callable[[], object]]:
    from tutorial_utils import charrnn, charrnn_tf

    iterations, batch_size, seq_len = 700, 64, 25  # chapter 6's recipe

    text = tu.clean_text(tu.load_novel_text())
    encoded = tu.encode_text(text)
    train = encoded[: round(len(encoded) * 0.9)]
    runs = {}

    torch.manual_seed(123)
    model = charrnn.CharRNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train_t = torch.from_numpy(train)
    state = {"index": 0, "hidden": None}

    def pytorch_iteration():
        inputs, targets, fresh = charrnn.consecutive_batch(train_t, batch_size, seq_len, state["index"])
        lr = charrnn.cosine_lr(state["index"], iterations, 0.01, warmup=20)
        _, state["hidden"] = charrnn.tbptt_step(model, optimizer, inputs, targets, None if fresh else state["hidden"], lr)
        state["index"] += 1

    runs["PyTorch: the chapter's tbptt_step"] = pytorch_iteration

    keras.utils.set_random_seed(123)
    tf_model = charrnn_tf.CharGRU()
    step = charrnn_tf.make_train_step(tf_model, charrnn_tf.fast_optimizer(iterations))
    tf_state = {"index": 0, "hidden": None}

    def tensorflow_iteration():
        inputs, targets, fresh = charrnn_tf.consecutive_batch(train, batch_size, seq_len, tf_state["index"])
        hidden = tf.zeros((batch_size, tf_model.hidden_size)) if fresh else tf_state["hidden"]
        _, tf_state["hidden"] = step(inputs, targets, hidden)
        tf_state["index"] += 1

    runs["TensorFlow: the twin's tf.function step"] = tensorflow_iteration
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for both frameworks")
    parser.add_argument("--output", type=Path, default=RESULTS / "frameworks.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.cuda.is_available()  # PyTorch looks for a GPU before TensorFlow loads its CUDA libraries
    tf = tu.import_tensorflow()
    import keras

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    tf.config.set_visible_devices([], "GPU")  # the comparison is on the CPU

    rows = []
    tasks = (("softmax regression on MNIST, one epoch (235 steps of 256)", "ms per epoch", softmax_epochs(tf, keras), 1, EPOCH_ROUNDS),
             ("char-GRU, one training iteration (64 x 25 characters)", "ms per iteration", char_rnn_iterations(tf, keras), 5,
              ITERATION_ROUNDS))
    for task, unit, runs, warmup, rounds in tasks:
        measured = alternated(runs, warmup, rounds)
        baseline = next(iter(measured.values()))
        for way, seconds in measured.items():
            ratio = statistics.median(s / b for s, b in zip(seconds, baseline))  # paired within each round
            rows.append({"task": task, "way": way, "milliseconds": round(statistics.median(seconds) * 1000, 1),
                         "milliseconds_min": round(min(seconds) * 1000, 1), "milliseconds_max": round(max(seconds) * 1000, 1),
                         "unit": unit, "ratio": round(ratio, 2)})
            print(f"{task} | {way}: {statistics.median(seconds) * 1000:.1f} {unit} ({ratio:.2f}x PyTorch)", flush=True)
    write_result(
        args.output,
        benchmark="frameworks",
        code_fingerprint=code_fingerprint("frameworks"),
        title="PyTorch and TensorFlow on the same work, measured in one run",
        command="python benchmarks/frameworks.py" + (f" --threads {args.threads}" if args.threads != 1 else ""),
        columns={"task": "task", "way": "framework and way", "milliseconds": "time (ms, median)", "milliseconds_min": "fastest",
                 "milliseconds_max": "slowest", "unit": "per", "ratio": "time vs PyTorch"},
        rows=rows,
        notes=[f"CPU only, {args.threads} thread(s) for each framework. The contenders of a task take turns: {EPOCH_ROUNDS} rounds of "
               f"one epoch each, or {ITERATION_ROUNDS} rounds of one iteration each, after untimed warm-up calls (tf.function "
               "tracing happens there); the time is the median over the rounds, with the fastest and slowest round beside "
               "it, and the ratio is the median of the rounds' ratios to PyTorch's time in the same round.",
               "The models and the steps are the chapters' own, imported from tutorial_utils: chapter 6's tbptt_step with its "
               "cosine_lr schedule, and the TensorFlow twin's compiled step, whose schedule is part of its optimizer; the PyTorch "
               "softmax loop repeats chapter 5's epoch (without its logging).",
               "Epoch times can move by a factor of about two between rounds on a shared machine (see the fastest and "
               "slowest columns): read the softmax ratios as rough."],
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
