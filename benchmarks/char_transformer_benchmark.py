"""Chapter 6's GRU against chapter 8's Transformer, for the same training-time budgets.

Both models learn the cleaned novel of chapter 6 and are scored on the same validation text, in
nats per character over its 75,679 predictions: the GRU reads it as one stream with its state
carried (chapter 6's ``validation_loss``), the Transformer in overlapping windows of its context
(chapter 8's ``window_validation_loss``: every character after the first window sees at least
half the context).

The contenders, one thread each (``--threads``):

- **GRU**: chapter 6's fastest recipe (64 x 25 characters of truncated BPTT, Adam at a peak
  learning rate of 0.01 with fused updates, the GRU's time loop in C++, the read-out's bias at the
  characters' log-frequencies, clipping at 1);
- **Transformer**: chapter 8's model (3 pre-norm blocks, 96 wide, 4 heads, context 64) and
  recipe (64 random windows a step, AdamW at a peak of 0.01, weight decay 0.1 on the matrices,
  the same unigram bias, clipping at 1).

Each trains for every budget in ``BUDGETS`` (seconds of training; validation pauses excluded),
with its learning-rate schedule planned for that budget: a warm-up over the first iterations,
then a cosine decay to 5% of the peak as the training time runs out. The longest budget's run
also records a validation curve. Every (seed, budget) pair trains the GRU and then the
Transformer, one after the other in this one process. A row is the median over ``SEEDS`` with its
range. The arithmetic rate of each model (its FLOP per character times its characters per
second) is compared with a large matrix product's rate measured in the same run.

    python benchmarks/char_transformer_benchmark.py          # about 80 minutes on one core
    python benchmarks/char_transformer_benchmark.py --budgets 5 10 --seeds 1   # a short trial
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

import tutorial_utils as tu
from tutorial_utils.charrnn import (
    CharRNN,
    consecutive_batch,
    init_unigram_bias,
    tbptt_step,
    validation_loss,
)
from tutorial_utils.results import machine_description, write_result
from tutorial_utils.transformer import (
    CharTransformer,
    adamw_for,
    random_windows,
    transformer_step,
    window_validation_loss,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # char_rnn_benchmark.py, fused_gru.py, provenance.py
from char_rnn_benchmark import (
    flops_per_character,
    load_data,
    matmul_gflops,
    provenance_fields,
)
from provenance import code_fingerprint

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = (10, 30, 100, 600)  # seconds of training
SEEDS = (0, 1, 2)
THREADS = 1
PEAK_LR = 0.01
FINAL_FRACTION = 0.05  # the schedule ends at this fraction of the peak
CLIP_NORM = 1.0
GRU_BATCH, GRU_CHUNK, GRU_WARMUP = 64, 25, 20
TRANSFORMER_BATCH, TRANSFORMER_WARMUP = 64, 30
#: training seconds at which the longest budget's run is validated, for the curve
CURVE_SECONDS = (*range(2, 20, 2), *range(20, 60, 5), *range(60, 150, 10), *range(150, 300, 25), *range(300, 601, 50))
#: chapter 6's targets for the decomposed time (the loop's plateau is its headline)
TARGETS = (2.0, 1.8, 1.7, 1.6, 1.5, 1.45, 1.4, 1.35)

COLUMNS = {"version": "model and recipe", "budget_seconds": "budget (s)",
           "validation_loss": "validation loss (nats/char), median", "loss_min": "lowest", "loss_max": "highest",
           "seeds": "seeds", "training_seconds": "training time (s), median",
           "million_characters": "characters trained (millions)",
           "kchars_per_second": "characters per second (thousands)", "gflops": "GFLOP/s",
           "percent_of_matmul": "% of a matrix product's rate"}
CURVE_COLUMNS = {"training_seconds": "training time (s)", "characters": "characters trained",
                 "validation_loss": "validation loss (nats/char)"}
TARGET_COLUMNS = {"target": "target (nats/char)", "gru_seconds": "GRU: time (s)",
                  "transformer_seconds": "Transformer: time (s)", "time_ratio": "GRU time / Transformer time",
                  "fewer_characters": "fewer characters (x)", "characters_per_second_ratio": "characters per second (x)"}


def log(message: str) -> None:
    print(message, flush=True)


def schedule(iteration: int, seconds: float, budget: float, warmup: int) -> float:
    """The learning rate: a linear warm-up over ``warmup`` iterations, then a cosine from the peak to
    ``FINAL_FRACTION`` of it as the training time ``seconds`` reaches ``budget``."""
    if iteration < warmup:
        return PEAK_LR * (iteration + 1) / warmup
    progress = min(1.0, seconds / budget)
    return PEAK_LR * (FINAL_FRACTION + (1 - FINAL_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


class Contender:
    """One model and its recipe: a fresh model per run, one update per ``step``, its validation."""

    name: str
    characters_per_step: int
    warmup: int

    def start(self, seed: int, train: torch.Tensor) -> None:
        raise NotImplementedError

    def step(self, iteration: int, lr: float) -> None:
        raise NotImplementedError

    def validate(self, valid: torch.Tensor) -> float:
        raise NotImplementedError

    def flops_per_character(self) -> float:
        raise NotImplementedError


class GRUContender(Contender):
    name = ("GRU: chapter 6's fastest recipe (100 wide, 64 x 25 chars, Adam fused, peak lr 0.01, "
            "GRU time loop in C++, unigram bias, clip 1)")
    characters_per_step = GRU_BATCH * GRU_CHUNK
    warmup = GRU_WARMUP

    def start(self, seed: int, train: torch.Tensor) -> None:
        from fused_gru import FusedGRU

        torch.manual_seed(seed)
        self.model = init_unigram_bias(CharRNN(), train)
        self.model.rnn = FusedGRU(self.model.rnn)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=PEAK_LR, fused=True)
        self.train, self.hidden = train, None
        self.model.train()

    def step(self, iteration: int, lr: float) -> None:
        inputs, targets, fresh = consecutive_batch(self.train, GRU_BATCH, GRU_CHUNK, iteration)
        _, self.hidden = tbptt_step(self.model, self.optimizer, inputs, targets, None if fresh else self.hidden, lr,
                                    CLIP_NORM)

    def validate(self, valid: torch.Tensor) -> float:
        return validation_loss(self.model, valid)

    def flops_per_character(self) -> float:
        return flops_per_character(CharRNN(), GRU_CHUNK)


class TransformerContender(Contender):
    name = ("Transformer: chapter 8's (3 blocks, 96 wide, 4 heads, context 64, 64 windows, AdamW, "
            "peak lr 0.01, unigram bias, clip 1)")
    characters_per_step = TRANSFORMER_BATCH * 64
    warmup = TRANSFORMER_WARMUP

    def start(self, seed: int, train: torch.Tensor) -> None:
        torch.manual_seed(seed)
        self.model = init_unigram_bias(CharTransformer(), train)
        self.optimizer = adamw_for(self.model, PEAK_LR)
        self.generator = torch.Generator().manual_seed(seed)
        self.train = train
        self.model.train()

    def step(self, iteration: int, lr: float) -> None:
        inputs, targets = random_windows(self.train, TRANSFORMER_BATCH, self.model.context, self.generator)
        transformer_step(self.model, self.optimizer, inputs, targets, lr, CLIP_NORM)

    def validate(self, valid: torch.Tensor) -> float:
        return window_validation_loss(self.model, valid)

    def flops_per_character(self) -> float:
        return transformer_flops_per_character(CharTransformer())


def transformer_flops_per_character(model: CharTransformer) -> float:
    """FLOP of one character's forward and backward pass: 2 per multiply-add of every weight matrix
    (the blocks' and the read-out's; the embeddings are look-ups), plus attention's two products,
    q k^T and the weighted sum of v, over the (context + 1) / 2 positions a query sees on average
    under the causal mask; three times (forward, the inputs' gradients, the weights')."""
    width, context = model.token.embedding_dim, model.context
    matrices = sum(p.numel() for name, p in model.named_parameters()
                   if p.dim() == 2 and not name.startswith(("token", "position")))
    attention = len(model.blocks) * 2 * 2 * width * (context + 1) / 2
    return 3 * (2 * matrices + attention)


def train_for(contender: Contender, seed: int, budget: float, train: torch.Tensor, valid: torch.Tensor,
              checkpoints: tuple[float, ...]) -> dict[str, Any]:
    """Train a fresh model for ``budget`` seconds on the schedule planned for it; validate at each of
    ``checkpoints`` (seconds of training) and at the end."""
    contender.start(seed, train)
    device = train.device
    seconds, iteration, curve = 0.0, 0, []
    pending = [c for c in checkpoints if c < budget]
    while seconds < budget:
        tu.synchronize(device)
        start = time.perf_counter()
        contender.step(iteration, schedule(iteration, seconds, budget, contender.warmup))
        tu.synchronize(device)
        seconds += time.perf_counter() - start
        iteration += 1
        while pending and seconds >= pending[0]:
            pending.pop(0)
            curve.append(point(seconds, iteration * contender.characters_per_step, contender.validate(valid)))
    final = point(seconds, iteration * contender.characters_per_step, contender.validate(valid))
    return {"final": final, "curve": [*curve, final], "iterations": iteration}


def point(seconds: float, characters: int, loss: float) -> dict[str, Any]:
    return {"training_seconds": round(seconds, 2), "characters": characters, "validation_loss": round(loss, 5)}


def first_at(curve: list[dict], target: float) -> dict | None:
    return next((row for row in curve if row["validation_loss"] <= target), None)


def summary_rows(contenders: list[Contender], runs: dict[tuple[str, int, int], dict], budgets: tuple[int, ...],
                 seeds: tuple[int, ...], reference: float) -> list[dict]:
    rows = []
    for contender in contenders:
        for budget in budgets:
            finals = [runs[contender.name, budget, seed]["final"] for seed in seeds]
            losses = [f["validation_loss"] for f in finals]
            seconds = statistics.median(f["training_seconds"] for f in finals)
            characters = statistics.median(f["characters"] for f in finals)
            per_second = statistics.median(f["characters"] / f["training_seconds"] for f in finals)
            gflops = contender.flops_per_character() * per_second / 1e9
            rows.append({"version": contender.name, "budget_seconds": budget,
                         "validation_loss": round(statistics.median(losses), 4), "loss_min": round(min(losses), 4),
                         "loss_max": round(max(losses), 4), "seeds": len(seeds), "training_seconds": round(seconds, 1),
                         "million_characters": round(characters / 1e6, 2), "kchars_per_second": round(per_second / 1e3, 1),
                         "gflops": round(gflops, 1), "percent_of_matmul": round(100 * gflops / reference, 1)})
    return rows


def target_rows(gru_curves: list[list[dict]], transformer_curves: list[list[dict]]) -> list[dict]:
    """The time each model's longest run first reaches each target (median over the seeds that reach
    it; None if fewer than half do), and the ratio decomposed into fewer characters x more characters
    per second."""
    rows = []
    for target in TARGETS:
        gru = [row for row in (first_at(curve, target) for curve in gru_curves) if row]
        transformer = [row for row in (first_at(curve, target) for curve in transformer_curves) if row]

        def median(rows_: list[dict], key: str, total: int) -> float | None:
            return statistics.median(r[key] for r in rows_) if 2 * len(rows_) > total else None

        g_s, t_s = median(gru, "training_seconds", len(gru_curves)), median(transformer, "training_seconds", len(transformer_curves))
        g_c, t_c = median(gru, "characters", len(gru_curves)), median(transformer, "characters", len(transformer_curves))
        both = None not in (g_s, t_s)
        rows.append({"target": target, "gru_seconds": g_s, "transformer_seconds": t_s,
                     "time_ratio": round(g_s / t_s, 2) if both else None,
                     "fewer_characters": round(g_c / t_c, 2) if both else None,
                     "characters_per_second_ratio": round((g_c / g_s) / (t_c / t_s), 3) if both else None})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS), help="training seconds per run")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds per budget (0, 1, ...)")
    parser.add_argument("--threads", type=int, default=THREADS, help="CPU threads of every run")
    parser.add_argument("--output", type=Path, default=None, help="result file (default: benchmarks/results/char_transformer.json)")
    args = parser.parse_args(argv)
    if not args.seeds >= 1 or not all(b >= 1 for b in args.budgets) or not args.threads >= 1:
        raise SystemExit(f"--seeds, --budgets and --threads must be 1 or more, got {args.seeds}, {args.budgets} "
                         f"and {args.threads}")
    budgets, seeds = tuple(sorted(args.budgets)), tuple(range(args.seeds))
    torch.set_num_threads(args.threads)
    train, valid = load_data()
    log(machine_description())
    reference = statistics.median(matmul_gflops(args.threads) for _ in range(5))
    log(f"matrix product: {reference:.0f} GFLOP/s on {args.threads} thread(s)")
    from fused_gru import extension

    log(f"C++ GRU time loop compiled or loaded in {extension()[1]:.1f} s (before any timing)")
    contenders: list[Contender] = [GRUContender(), TransformerContender()]
    runs: dict[tuple[str, int, int], dict] = {}
    for seed in seeds:
        for budget in budgets:
            for contender in contenders:
                checkpoints = CURVE_SECONDS if budget == budgets[-1] else ()
                run = train_for(contender, seed, budget, train, valid, checkpoints)
                runs[contender.name, budget, seed] = run
                log(f"seed {seed}, {budget} s, {contender.name.split(':')[0]}: {run['final']['validation_loss']:.4f} "
                    f"after {run['iterations']} iterations ({run['final']['characters'] / 1e6:.2f} M characters)")
    reference_after = statistics.median(matmul_gflops(args.threads) for _ in range(5))
    longest = budgets[-1]
    curves = {c.name: [runs[c.name, longest, seed]["curve"] for seed in seeds] for c in contenders}
    gru, transformer = contenders
    rows = summary_rows(contenders, runs, budgets, seeds, statistics.median([reference, reference_after]))
    write_result(
        args.output or RESULTS / "char_transformer.json", benchmark="char_transformer",
        title="Chapter 6's GRU against chapter 8's Transformer for the same training time",
        command="python benchmarks/char_transformer_benchmark.py", code_fingerprint=code_fingerprint("char_transformer"),
        columns=COLUMNS, rows=rows,
        notes=[
            (f"Each row: the median over {len(seeds)} seeds (0 to {len(seeds) - 1}; the model's initial weights, and "
            "the Transformer's random windows) of the validation loss after the budget's training time, with the "
            "schedule planned for that budget; validation pauses excluded."),
            ("Validation: the last 10% of the cleaned text, 75,679 predictions. GRU: one stream with its state carried. "
            "Transformer: windows of 64, every 32 characters; each character is scored once, after the first window "
            "with at least 32 characters before it in its window."),
            (f"{args.threads} CPU thread(s) for every run; GRU and Transformer one after the other for each seed and "
            "budget, in one process."),
            ("GFLOP/s: the model's FLOP per character (forward and backward) times its median characters per second, "
            f"against a {2048} x {2048} float32 matrix product measured before and after the runs on as many threads "
            f"({reference:.0f} and {reference_after:.0f} GFLOP/s)."),
        ],
        curve_columns=CURVE_COLUMNS,
        curves={"gru": curves[gru.name], "transformer": curves[transformer.name]},
        target_columns=TARGET_COLUMNS,
        targets=target_rows(curves[gru.name], curves[transformer.name]),
        runs=[{"model": name.split(":")[0], "budget_seconds": budget, "seed": seed, "iterations": run["iterations"],
               **run["final"]} for (name, budget, seed), run in runs.items()],
        longest_budget=longest,
        matmul_gflops=round(statistics.median([reference, reference_after]), 1),
        flops_per_character={"gru": round(gru.flops_per_character()), "transformer": round(transformer.flops_per_character())},
        **provenance_fields(valid, threads={"per_run": args.threads}),
    )
    log("written")


if __name__ == "__main__":
    main(sys.argv[1:])
