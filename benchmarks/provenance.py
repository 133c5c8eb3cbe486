"""What each result file in benchmarks/results/ measured, and the fingerprint of that code.

A recorded result is only true of the code that produced it. Each result file therefore carries a
``code_fingerprint``: a hash of the sources it ran, listed in :data:`MEASURED` below, and of the
pinned versions of the libraries it timed. ``tests/test_results_files.py`` recomputes the hash
from the current tree and fails, naming the file and the command that re-measures it, as soon as
one of those sources changes.

The hash is of the code, not of its layout: Python (scripts, modules and notebook cells) is
parsed and hashed as its syntax tree, written out the same way on every Python version, so
reformatting and comments leave it alone. Three things that cannot change a measurement are
left out as well: docstrings; input guards, an ``if`` whose only statement raises an error
(it rejects bad input and does nothing for good input); and the ``title=`` and ``notes=``
given to a call (the wording of the result file). C++ is hashed without comments and with its
whitespace collapsed.

A source is one of:

- ``"path"``: a whole file (other than Python or C++: its words, whitespace collapsed);
- ``"path::name,name"``: the named top-level definitions of a Python file (functions, classes,
  assignments), for a script of which a result ran only a part;
- ``"notebooks/<stem>.py#<tag-prefix>"``: the code cells of a notebook whose tags start with the
  prefix (``#*``: all its code cells), for a result that executed a chapter's cells;
- ``"pins::name,name"``: the lines of ``requirements.txt`` that pin those packages.

    python benchmarks/provenance.py            # every result's fingerprint now
"""

from __future__ import annotations

import ast
import hashlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHARRNN = "src/tutorial_utils/charrnn.py"
_BENCHMARK = "benchmarks/char_rnn_benchmark.py"
#: the novel, cleaned and encoded: the data every char-GRU result trained on
_NOVEL = ("src/tutorial_utils/datasets/novel.py",)
#: the benchmark's code shared by the default run and the levers (the file writing left out)
_RECIPES = ("SEED,FULL_ITERATIONS,LOOP_SEEDS,LOOP_CHARACTERS_PER_ITERATION,CHECK_EVERY_CHARACTERS,REPEATS,Recipe,"
            "CHAPTER,FASTEST,EARLIER,ROUND_TARGETS,load_data,TrainingAutocast,PerCharacterGRU,make_model,make_optimizer,"
            "first_crossing,time_to_target,ms_per_iteration,matmul_gflops,reference_rates,arithmetic_rate,"
            "flops_per_character,loop_curves,headline_target,loop_targets,targets_for,provenance_fields")
#: the default run: the loop against the fast recipes, timed to the targets
_DEFAULT_RUN = (f"{_BENCHMARK}::{_RECIPES},CURVE_COLUMNS,VERSION_COLUMNS,TARGET_COLUMNS,LOOP_LR,LOOP_RECIPE_WARMUP,"
                "FULL_EVAL_EVERY,PER_CHARACTER,LOOP_TIMING_ITERATIONS,loop_ms_per_iteration,validation_seconds,"
                "crossing_summary,crossing,run_default")
#: the levers run
_LEVERS_RUN = f"{_BENCHMARK}::{_RECIPES},LEVER_COLUMNS,lever,LEVERS,run_levers"
#: chapter 6's model and training code that the fast recipes run
_FAST_TRAINING = (
    f"{_CHARRNN}::CharRNN,bits_per_char,consecutive_batch,cosine_lr,init_unigram_bias,split_train_validation,"
    "tbptt_step,train_fast,FastHistory,validation_loss,random_training_pair,train_step_loop",
    "benchmarks/fused_gru.py",
    "benchmarks/fused_gru.cpp",
)

#: result name (the file's stem) -> the sources whose code it measured
MEASURED: dict[str, tuple[str, ...]] = {
    "char_rnn_full": (
        f"{_BENCHMARK}::SEED,FULL_ITERATIONS,LOOP_SEEDS,LOOP_LR,LOOP_RECIPE_WARMUP,LOOP_CHARACTERS_PER_ITERATION,"
        "CHECK_EVERY_CHARACTERS,FULL_EVAL_EVERY,CURVE_COLUMNS,load_data,loop_run,run_full,provenance_fields",
        f"{_CHARRNN}::CharRNN,bits_per_char,cosine_lr,init_unigram_bias,random_training_pair,split_train_validation,"
        "train_step_loop,validation_loss",
        *_NOVEL,
        "pins::torch",
    ),
    "char_rnn": (_DEFAULT_RUN, *_FAST_TRAINING, *_NOVEL, "pins::torch"),
    "char_rnn_levers": (_LEVERS_RUN, *_FAST_TRAINING, *_NOVEL, "pins::torch"),
    "char_transformer": (
        "benchmarks/char_transformer_benchmark.py",
        "benchmarks/char_rnn_benchmark.py::load_data,matmul_gflops,flops_per_character,provenance_fields",
        f"{_CHARRNN}::CharRNN,consecutive_batch,cosine_lr,init_unigram_bias,split_train_validation,tbptt_step,"
        "validation_loss",
        "src/tutorial_utils/transformer.py::causal_attention,CausalSelfAttention,Block,CharTransformer,random_windows,"
        "validation_windows,window_validation_loss,adamw_for,transformer_step",
        "benchmarks/fused_gru.py",
        "benchmarks/fused_gru.cpp",
        *_NOVEL,
        "pins::torch",
    ),
    "frameworks": (
        "benchmarks/frameworks.py",
        "src/tutorial_utils/softmax.py",
        "src/tutorial_utils/softmax_tf.py",
        f"{_CHARRNN}::CharRNN,consecutive_batch,cosine_lr,tbptt_step",
        "src/tutorial_utils/charrnn_tf.py",
        "src/tutorial_utils/batches.py",
        "src/tutorial_utils/datasets/mnist.py",
        "src/tutorial_utils/tensorflow_setup.py",
        *_NOVEL,
        "pins::torch,tensorflow,keras",
    ),
    "logreg_compare": (
        "benchmarks/logreg_compare.py",
        "notebooks/01_logreg_manual.py#*",  # run whole: the values it reads are glued anywhere in them
        "notebooks/02_logreg_autograd.py#*",
        "notebooks/03_logreg_module.py#*",
        "notebooks/04_logreg_tensorflow.py#*",
        "src/tutorial_utils/record.py",
        "src/tutorial_utils/logreg.py",
        "src/tutorial_utils/batches.py",
        "src/tutorial_utils/datasets/iris.py",
        "pins::torch,tensorflow,keras",
    ),
    "gpu_check": ("scripts/gpu_check.sh", "scripts/gpu_report.py", _DEFAULT_RUN, *_FAST_TRAINING, *_NOVEL,
                  "src/tutorial_utils/device.py",
                  *(f"notebooks/{stem}.py#*" for stem in ("01_logreg_manual", "02_logreg_autograd", "03_logreg_module",
                                                          "05_softmax_mnist", "06_char_rnn", "06_2_recurrent_networks",
                                                          "06_3_backprop_through_time", "06_4_truncated_bptt",
                                                          "06_5_how_much_faster", "06_6_levers", "06_7_checkpoints",
                                                          "07_char_rnn_ddp")),
                  "pins::torch"),
}


class FingerprintError(ValueError):
    """A listed source does not exist: a file, a definition or a tagged cell has gone."""


#: keyword arguments that only word a result (its title and notes), not measure it
PROSE_KEYWORDS = frozenset({"title", "notes"})


def _is_guard(statement: ast.stmt) -> bool:
    """``if <bad input>: raise ...`` with no else: it rejects bad input and changes no result."""
    return (isinstance(statement, ast.If) and not statement.orelse
            and len(statement.body) == 1 and isinstance(statement.body[0], ast.Raise))


def _measured_part(tree: ast.AST) -> ast.AST:
    """The tree without docstrings, input guards, and the title and notes given to a call."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                body = body[1:]
            node.body = [statement for statement in body if not _is_guard(statement)] or [ast.Pass()]
        elif isinstance(node, ast.Call):
            node.keywords = [keyword for keyword in node.keywords if keyword.arg not in PROSE_KEYWORDS]
    return tree


def _dump(value: object) -> str:
    """A syntax tree as text, the same on every Python from 3.10 on.

    ``ast.dump`` changes between versions (3.12 adds ``type_params``, 3.13 leaves empty fields out),
    so empty and missing fields are always left out here, and line numbers are never written.
    """
    if isinstance(value, ast.AST):
        fields = []
        for name in value._fields:
            field = getattr(value, name, None)
            if field is None or field == [] or name in ("type_comment", "kind"):
                continue
            fields.append(f"{name}={_dump(field)}")
        return f"{type(value).__name__}({', '.join(fields)})"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(item) for item in value) + "]"
    return repr(value)


def python_code(source: str) -> str:
    """Python source as its syntax tree, without docstrings, input guards or the prose given to calls:
    layout and comments do not count either."""
    return _dump(_measured_part(ast.parse(source)))


def cpp_code(source: str) -> str:
    """C++ source without comments, its whitespace collapsed."""
    source = re.sub(r"/\*.*?\*/|//[^\n]*", " ", source, flags=re.DOTALL)
    return " ".join(source.split())


def _definitions(tree: ast.Module, names: list[str], where: str) -> str:
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node
    missing = [name for name in names if name not in found]
    if missing:
        raise FingerprintError(f"{where} has no top-level definition of {', '.join(missing)}")
    return "\n".join(_dump(_measured_part(found[name])) for name in names)


def _notebook_cells(text: str, prefix: str, where: str) -> str:
    import jupytext

    cells = jupytext.reads(text, fmt="py:percent").cells
    sources = [cell.source for cell in cells if cell.cell_type == "code"
               and (prefix == "*" or any(tag.startswith(prefix) for tag in cell.metadata.get("tags", [])))]
    if not sources:
        raise FingerprintError(f"{where} has no code cell tagged {prefix}...")
    return "\n".join(_cell_code(source) for source in sources)


def _cell_code(source: str) -> str:
    """A code cell's normalised code; a cell magic (``%%writefile name``) line is kept as text above its body."""
    if source.startswith("%%"):
        magic, _, body = source.partition("\n")
        return f"{magic}\n{python_code(body)}"
    return python_code(source)


def _pins(text: str, names: list[str]) -> str:
    pins = {}
    for line in text.splitlines():
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*==\s*(\S+)", line)
        if match:
            pins[match.group(1).lower()] = match.group(2)
    missing = [name for name in names if name not in pins]
    if missing:
        raise FingerprintError(f"requirements.txt pins no version of {', '.join(missing)}")
    return "\n".join(f"{name}=={pins[name]}" for name in names)


def source_code(spec: str, read: Callable[[str], str]) -> str:
    """The normalised code of one source ``spec`` (see the module's docstring); ``read(path)`` gives a file's text."""
    if spec.startswith("pins::"):
        return _pins(read("requirements.txt"), spec.removeprefix("pins::").split(","))
    path, _, names = spec.partition("::")
    path, _, tag = path.partition("#")
    try:
        text = read(path)
    except (OSError, KeyError) as error:
        raise FingerprintError(f"cannot read {path}: {error}") from error
    if tag:
        return _notebook_cells(text, tag, path)
    if names:
        return _definitions(ast.parse(text), names.split(","), path)
    if path.endswith(".py"):
        return python_code(text)
    return cpp_code(text) if path.endswith(".cpp") else " ".join(text.split())


def code_fingerprint(name: str, read: Callable[[str], str] | None = None) -> str:
    """The fingerprint of the code that the result ``name`` measures: 16 hex digits.

    Args:
        name: a key of :data:`MEASURED`, the stem of a file in benchmarks/results/.
        read: returns the text of a path relative to the repository (default: the working tree),
            e.g. a file as an earlier commit had it.

    Raises:
        FingerprintError: if ``name`` is not listed, or one of its sources is missing.
    """
    if name not in MEASURED:
        raise FingerprintError(f"no sources are listed for the result {name!r} in benchmarks/provenance.py; "
                               f"add them to MEASURED (listed: {sorted(MEASURED)})")
    read = read or (lambda path: (ROOT / path).read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    for spec in MEASURED[name]:
        digest.update(f"{spec}\n{source_code(spec, read)}\n".encode())
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    for result in MEASURED:
        print(f"{result}: {code_fingerprint(result)}")
    sys.exit(0)
