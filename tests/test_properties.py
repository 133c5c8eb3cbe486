"""Properties of every reader of outside bytes, and of the argument checks, tested with Hypothesis.

Each property has the same shape: the reader (or function) gives a valid value, or raises the
package's own error naming the file or the argument; never another exception, and never a partial
file left behind. How many examples each property draws is set by the profile in
``tests/conftest.py``: "ci" by default (the same examples every run), ``HYPOTHESIS_PROFILE=thorough``
for many more.
"""

import copy
import gzip
import hashlib
import json
import math
import random
import string
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tutorial_utils import TensorLoader, iterate_minibatches
from tutorial_utils.checkpoint import CheckpointError, checkpoint_path, get_rng_state, list_checkpoints, load_checkpoint, save_checkpoint, train_resumable
from tutorial_utils.datasets import fetch as fetching
from tutorial_utils.datasets.fetch import CorruptDataError, DataUnavailableError, RemoteFile, gunzip_bounded, sha256_verifier
from tutorial_utils.datasets.iris import IRIS_CLASSES, parse_iris
from tutorial_utils.datasets.mnist import read_idx
from tutorial_utils.datasets.novel import PRINTABLE, clean_text
from tutorial_utils.record import glue_output, glued_values
from tutorial_utils.results import ResultFileError, markdown_table, read_result

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


def fresh(scratch: Path) -> Path:
    """A new empty folder for one example."""
    return Path(tempfile.mkdtemp(dir=scratch))


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


#: Anything a caller might pass where a count or a seed belongs.
ANY_ARGUMENT = st.one_of(
    st.integers(-3, 12), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3),
    st.sampled_from([np.int64(3), np.float64(3.0), 2**40, -(2**63), "7", [2], 1.0]),
)


def is_count(value: object, minimum: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= minimum


# --- checkpoints ----------------------------------------------------------------------------------

def tiny_model() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()  # the optimizer now holds a state for each parameter
    return model, optimizer


MODEL, OPTIMIZER = tiny_model()
VALID_PAYLOAD = {"iteration": 1, "model": MODEL.state_dict(), "optimizer": OPTIMIZER.state_dict(),
                 "optimizer_class": "Adam", "rng": get_rng_state(), "extra": {"losses": [0.5]}}


def valid_checkpoint_bytes(folder: Path) -> bytes:
    return save_checkpoint(folder / "valid.pt", MODEL, OPTIMIZER, 1, extra={"losses": [0.5]}).read_bytes()


@st.composite
def damaged(draw, valid: bytes) -> bytes:
    """``valid`` truncated, with bytes flipped, or with bytes spliced in."""
    data = bytearray(valid)
    how = draw(st.sampled_from(["truncate", "flip", "splice"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        return bytes(data)
    at = draw(st.integers(0, len(data)))
    return bytes(data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:])


def optimizer_state(optimizer: torch.optim.Optimizer) -> list:
    """The optimizer's state and settings as plain values, to compare."""
    saved = optimizer.state_dict()
    state = [(index, key, value.tolist() if isinstance(value, torch.Tensor) else value)
             for index, entries in saved["state"].items() for key, value in entries.items()]
    return [state, saved["param_groups"]]


def loaded_or_refused(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Load ``path``: it loads, or it raises CheckpointError naming the file and changes nothing."""
    before = {name: value.clone() for name, value in model.state_dict().items()}
    optimizer_before = optimizer_state(optimizer)
    generators = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    try:
        state = load_checkpoint(path, model, optimizer)
    except CheckpointError as error:
        assert str(path) in str(error)
        assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
        assert optimizer_state(optimizer) == optimizer_before
        assert random.getstate() == generators[0] and np.array_equal(np.random.get_state()[1], generators[1])
        assert torch.equal(torch.get_rng_state(), generators[2])
    else:
        assert type(state["iteration"]) is int and isinstance(state["extra"], dict)


@pytest.fixture(scope="module")
def valid_checkpoint(scratch) -> bytes:
    return valid_checkpoint_bytes(fresh(scratch))


@given(data=st.data())
def test_a_file_loads_as_a_checkpoint_or_is_named_as_not_one(scratch, valid_checkpoint, data):
    content = data.draw(st.one_of(st.binary(max_size=300), st.text(max_size=100).map(str.encode), damaged(valid_checkpoint)))
    folder = fresh(scratch)
    path = folder / "checkpoint_00000001.pt"
    path.write_bytes(content)
    model, optimizer = tiny_model()
    loaded_or_refused(path, model, optimizer)
    try:
        losses = train_resumable(model, optimizer, lambda iteration: 0.0, 2, folder, checkpoint_every=1)
    except CheckpointError as error:
        assert str(path) in str(error)
    else:
        assert len(losses) == 2
    assert not [name for name in files_under(folder) if name.endswith(".part")]


REPLACEABLE = [
    ("iteration",), ("model",), ("model", "weight"), ("optimizer",), ("optimizer", "state"), ("optimizer", "state", 0),
    ("optimizer", "param_groups"), ("optimizer", "param_groups", 0), ("optimizer", "param_groups", 0, "params"),
    ("optimizer_class",), ("rng",), ("rng", "python"), ("rng", "numpy"), ("rng", "numpy", "key"), ("rng", "numpy", "pos"),
    ("rng", "torch"), ("rng", "cuda"), ("extra",), ("extra", "losses"),
]
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=4),
                   st.builds(torch.zeros, st.integers(0, 3)), st.builds(torch.zeros, st.integers(0, 3), dtype=st.just(torch.uint8)))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                      | st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 2)), inner, max_size=3), max_leaves=6)


@given(replacements=st.lists(st.tuples(st.sampled_from(REPLACEABLE), VALUES), min_size=1, max_size=3))
def test_a_checkpoint_with_entries_of_another_form_loads_or_is_named(scratch, replacements):
    payload = copy.deepcopy(VALID_PAYLOAD)
    for where, value in replacements:
        parent = payload
        try:
            for key in where[:-1]:
                parent = parent[key]
            parent[where[-1]] = value
        except Exception:  # an earlier replacement took the entry away
            pass
    path = fresh(scratch) / "c.pt"
    torch.save(payload, path)
    loaded_or_refused(path, *tiny_model())


@given(iterations=st.lists(st.integers(0, 10**15), min_size=1, max_size=5, unique=True), decoys=st.booleans())
def test_checkpoint_names_list_in_the_order_of_their_iterations(scratch, iterations, decoys):
    folder = fresh(scratch)
    for iteration in iterations:
        checkpoint_path(folder, iteration).write_bytes(b"")
    if decoys:  # a folder with a checkpoint's name, and names checkpoint_path never gives
        (folder / checkpoint_path(folder, max(iterations) + 1).name).mkdir()
        (folder / f"checkpoint_0{max(iterations):08d}.pt").write_bytes(b"")
        (folder / ".checkpoint_00000001.pt.abc.part").write_bytes(b"")
    assert list_checkpoints(folder) == [checkpoint_path(folder, iteration) for iteration in sorted(iterations)]


@given(num_iterations=ANY_ARGUMENT.filter(lambda v: not is_count(v, 7)), checkpoint_every=ANY_ARGUMENT, keep=ANY_ARGUMENT)
def test_train_resumable_runs_or_names_a_bad_argument(scratch, num_iterations, checkpoint_every, keep):
    model, optimizer = tiny_model()
    folder = fresh(scratch)
    try:
        losses = train_resumable(model, optimizer, lambda iteration: 0.25, num_iterations, folder, checkpoint_every, keep=keep)
    except ValueError as error:
        bad = [name for name, value, minimum in (("num_iterations", num_iterations, 0), ("checkpoint_every", checkpoint_every, 1), ("keep", keep, 1))
               if not is_count(value, minimum)]
        assert bad and any(str(error).startswith(f"{name} must be") for name in bad)
        assert files_under(folder) == []
    else:
        assert losses == [0.25] * num_iterations
        assert len(list_checkpoints(folder)) == min(int(keep), len({*range(checkpoint_every, num_iterations + 1, checkpoint_every), num_iterations} - {0}))


@given(iteration=ANY_ARGUMENT)
def test_save_checkpoint_writes_or_names_a_bad_iteration(scratch, iteration):
    path = fresh(scratch) / "c.pt"
    try:
        save_checkpoint(path, MODEL, OPTIMIZER, iteration)
    except ValueError as error:
        assert not is_count(iteration, 0) and str(error).startswith("iteration must be a non-negative integer")
        assert not path.parent.joinpath("c.pt").exists() and files_under(path.parent) == []
    else:
        assert is_count(iteration, 0) and load_checkpoint(path, *tiny_model())["iteration"] == iteration


# --- MNIST: IDX files and gzip ----------------------------------------------------------------------

@st.composite
def idx_files(draw) -> bytes:
    """IDX headers of unsigned bytes with some dimensions, and about as many data bytes as they announce."""
    shape = draw(st.lists(st.integers(0, 6), max_size=3) | st.lists(st.just(1), min_size=60, max_size=70))
    header = b"\x00\x00\x08" + bytes([len(shape)]) + b"".join(size.to_bytes(4, "big") for size in shape)
    size = max(0, math.prod(shape) + draw(st.sampled_from([0, 0, 0, -1, 1, 7])))
    return header + draw(st.binary(min_size=size, max_size=size))


@given(content=st.one_of(st.binary(max_size=64), idx_files()))
def test_an_idx_file_reads_as_its_header_says_or_is_named(scratch, content):
    path = fresh(scratch) / "images-idx3-ubyte"
    path.write_bytes(content)
    try:
        images = read_idx(path)
    except CorruptDataError as error:
        assert str(path) in str(error)
    else:
        ndim = content[3]
        assert images.dtype == np.uint8 and images.ndim == ndim
        assert images.shape == tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
        assert images.tobytes() == content[4 + 4 * ndim :]


@given(data=st.binary(max_size=400), cut=st.integers(0, 500), limit=st.integers(0, 500), level=st.integers(0, 9))
def test_gunzip_gives_the_whole_stream_or_says_why(data, cut, limit, level):
    compressed = gzip.compress(data, compresslevel=level, mtime=0)
    for stream in (compressed[:cut], compressed, compressed + b"\x00", data):
        try:
            result = gunzip_bounded(stream, limit)
        except CorruptDataError:
            continue
        assert result == data and len(data) <= limit and stream == compressed


PAYLOAD = b"\x00\x00\x08\x01" + bytes(range(200))
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def tiny_remote(sha256: str | None) -> RemoteFile:
    return RemoteFile(target="tiny/labels", mirror_path="tiny/labels.gz", urls=("http://127.0.0.1:9/labels.gz",),
                      verify=sha256_verifier(PAYLOAD_SHA), max_bytes=len(PAYLOAD), sha256=sha256, gunzip=True)


MIRROR_COPIES = st.one_of(
    st.binary(max_size=100),
    st.just(gzip.compress(PAYLOAD)),
    st.integers(0, len(gzip.compress(PAYLOAD)) - 1).map(lambda cut: gzip.compress(PAYLOAD)[:cut]),
    st.binary(max_size=300).map(gzip.compress),
    st.tuples(st.integers(0, 200), st.integers(1, 255)).map(lambda flip: bytes(b ^ flip[1] if i == 20 + flip[0] else b for i, b in enumerate(gzip.compress(PAYLOAD)))),
)


@given(mirror_copy=st.one_of(st.none(), MIRROR_COPIES), cached=st.one_of(st.none(), st.just(PAYLOAD), st.binary(max_size=40)),
       known_digest=st.booleans())
def test_fetch_gives_a_verified_file_or_says_why_and_leaves_no_partial_file(scratch, mirror_copy, cached, known_digest):
    folder = fresh(scratch)
    cache, mirror = folder / "cache", folder / "mirror"
    mirror.mkdir()
    if mirror_copy is not None:
        (mirror / "tiny").mkdir()
        (mirror / "tiny/labels.gz").write_bytes(mirror_copy)
    if cached is not None:
        (cache / "tiny").mkdir(parents=True)
        (cache / "tiny/labels").write_bytes(cached)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(fetching.CACHE_ENV_VAR, str(cache))
        patch.setenv(fetching.MIRROR_ENV_VAR, str(mirror))
        try:
            path = fetching.fetch(tiny_remote(PAYLOAD_SHA if known_digest else None))
        except DataUnavailableError as error:
            assert "'tiny/labels'" in str(error) and f"mirror file {mirror / 'tiny/labels.gz'}" in str(error)
            assert files_under(cache) == ([] if cached is None else ["tiny/labels"])
            if cached is not None:
                assert (cache / "tiny/labels").read_bytes() == cached  # a bad copy stays until a good one replaces it
        else:
            assert path == cache / "tiny/labels" and path.read_bytes() == PAYLOAD
            assert files_under(cache) == ["tiny/labels"]


# --- Iris -------------------------------------------------------------------------------------------

ROWS = [f"{4 + (i % 30) / 10:.1f},{2 + (i % 20) / 10:.1f},{1 + c + (i % 9) / 10:.1f},0.{i % 9 + 1},{name}"
        for c, name in enumerate(IRIS_CLASSES) for i in range(50)]
CANONICAL = parse_iris(("\n".join(ROWS) + "\n").encode())


@given(bom=st.booleans(), end=st.sampled_from(["\n", "\r\n", "\r"]), blank=st.integers(0, 3), pad=st.sampled_from(["", " ", "\t"]),
       replaced=st.one_of(st.none(), st.tuples(st.integers(0, 149), st.text(max_size=30))))
def test_an_iris_file_parses_to_its_values_or_names_the_line(bom, end, blank, pad, replaced):
    rows = [pad + row + pad for row in ROWS]
    if replaced is not None:
        rows[replaced[0]] = replaced[1]
    content = ("\ufeff" if bom else "") + end.join(rows) + end * (1 + blank)
    try:
        features, labels = parse_iris(content.encode("utf-8", "surrogatepass"))
    except CorruptDataError as error:
        assert replaced is not None and ("line" in str(error) or "expected" in str(error) or "UTF-8" in str(error))
    else:
        assert features.shape == (150, 4) and np.isfinite(features).all() and ((features > 0) & (features < 100)).all()
        assert np.bincount(labels).tolist() == [50, 50, 50]
        if replaced is None:
            assert np.array_equal(features, CANONICAL[0]) and np.array_equal(labels, CANONICAL[1])


@given(content=st.binary(max_size=400))
def test_random_bytes_are_no_iris_file(content):
    with pytest.raises(CorruptDataError):
        parse_iris(content)


# --- the novel --------------------------------------------------------------------------------------

@given(text=st.text())
def test_clean_text_gives_printable_text_for_any_text(text):
    cleaned = clean_text(text)
    assert set(cleaned) <= set(PRINTABLE) and cleaned.endswith("\n") and "\r" not in cleaned and "  " not in cleaned


WORDS = st.text(alphabet=string.ascii_letters + " .,\n\r\t\u00e9\u201c", max_size=60)


@given(header=WORDS, title=st.text(alphabet=string.ascii_letters + " 0123456789", max_size=20), end=st.sampled_from(["\n", "\r\n", "\r", ""]),
       body=WORDS, case=st.sampled_from([str, str.upper, str.lower]), bom=st.booleans())
def test_the_gutenberg_header_goes_whatever_the_line_ends(header, title, end, body, case, bom):
    body = body if end else ""  # a marker on the last line: there is no body
    marker = case("*** START OF THE PROJECT GUTENBERG EBOOK") + title + " ***"
    raw = ("\ufeff" if bom else "") + header + end + marker + end + body
    assert clean_text(raw) == clean_text(body)


# --- result files -----------------------------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8)
COLUMNS = st.dictionaries(st.sampled_from("abc"), st.text(max_size=4), max_size=3)
ROWS_OF = st.lists(st.dictionaries(st.sampled_from("abc"), JSON, max_size=3), max_size=3)


@st.composite
def result_files(draw) -> dict:
    """Result files: each entry of the right kind or any JSON, sometimes with further tables."""
    def entry(right):
        return draw(st.one_of(right, JSON))
    result = {key: entry(st.text(max_size=5)) for key in ("benchmark", "title", "command", "machine", "date", "code_fingerprint")}
    result.update(columns=entry(COLUMNS), rows=entry(ROWS_OF), notes=entry(st.lists(st.text(max_size=5), max_size=2)))
    if draw(st.booleans()):
        table = st.fixed_dictionaries({"title": st.one_of(st.text(max_size=3), JSON), "columns": st.one_of(COLUMNS, JSON), "rows": st.one_of(ROWS_OF, JSON)})
        result["tables"] = entry(st.lists(st.one_of(table, JSON), max_size=2))
    if draw(st.booleans()):
        del result[draw(st.sampled_from(sorted(result)))]
    return result


@given(content=st.one_of(result_files().map(lambda result: json.dumps(result).encode()), st.binary(max_size=100)))
def test_a_result_file_reads_and_renders_or_is_named(scratch, content):
    path = fresh(scratch) / "result.json"
    path.write_bytes(content)
    try:
        result = read_result(path)
    except ResultFileError as error:
        assert str(path) in str(error)
    else:
        for table in [result, *result.get("tables", [])]:
            assert markdown_table(table["columns"], table["rows"]).count("\n") == len(table["rows"]) + 2


# --- glued values -----------------------------------------------------------------------------------

NUMPY_SCALARS = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(np.float64), st.integers(-(2**63), 2**63 - 1).map(np.int64),
                          st.booleans().map(np.bool_), st.text(max_size=5).map(np.str_), st.floats(width=32, allow_nan=False, allow_infinity=False).map(np.float32))
STORABLE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8) | NUMPY_SCALARS,
                        lambda inner: st.lists(inner, max_size=4) | st.tuples(inner) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=10)
UNSTORABLE = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, np.float64("nan"), b"x", object(), {1: 2}, {1.5}, np.zeros(2), torch.zeros(1), 1j, Path("p")]),
                       st.lists(st.sampled_from([math.nan, object(), b""]), min_size=1, max_size=2))


def plain(value):
    """The value as plain Python, the way the test reads it: NumPy scalars as what they hold."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def same(a, b) -> bool:
    """Equal, and of the same types all the way down (True is not 1, a tuple is not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    return a == b


@given(name=st.text(alphabet=string.ascii_letters + "_:. -", min_size=0, max_size=8), value=st.one_of(STORABLE, UNSTORABLE))
def test_a_glued_value_reads_back_as_the_plain_value_or_is_refused_by_name(name, value):
    try:
        output = glue_output(name, value)
    except (TypeError, ValueError) as error:
        message = str(error)
        assert message.startswith("a glue name must be") or f"glue {name!r}: " in message
        return
    assert same(glued_values([output])[name], plain(value))


@given(outputs=st.lists(st.one_of(JSON, st.fixed_dictionaries({"metadata": st.one_of(JSON, st.just({"scrapbook": {"name": "x"}})),
                                                                "data": st.one_of(JSON, st.dictionaries(st.just("text/plain"), st.one_of(st.text(), JSON)))})), max_size=3))
def test_reading_glued_values_never_fails(outputs):
    assert isinstance(glued_values(outputs), dict)


# --- the batch iterators ----------------------------------------------------------------------------

@given(rows=st.integers(0, 12), batch_size=ANY_ARGUMENT, shuffle=st.booleans(), seed=st.one_of(ANY_ARGUMENT, st.integers(0, 2**32 - 1)),
       kind=st.sampled_from(["numpy", "torch", "list"]))
def test_iterate_minibatches_gives_aligned_batches_or_names_the_argument(rows, batch_size, shuffle, seed, kind):
    X = np.arange(rows * 2).reshape(rows, 2)
    y = list(range(rows)) if kind == "list" else torch.arange(rows) if kind == "torch" else np.arange(rows)
    try:
        batches = list(iterate_minibatches((X, y), batch_size, shuffle=shuffle, seed=seed))
    except TypeError as error:
        assert kind == "list" and str(error).startswith("arrays[1] must be")
    except ValueError as error:
        assert str(error).split(" ")[0] in ("batch_size", "seed")
    else:
        assert kind != "list" and is_count(batch_size, 1) and (seed is None or is_count(seed, 0))
        assert len(batches) == rows // batch_size
        for xb, yb in batches:
            assert len(yb) == batch_size and np.array_equal(xb[:, 0] // 2, np.asarray(yb))
        seen = [int(v) for _, yb in batches for v in yb]
        assert len(set(seen)) == len(seen)


@given(rows=st.integers(0, 12), batch_size=ANY_ARGUMENT, shuffle=st.booleans(), drop_last=st.booleans())
def test_tensor_loader_covers_every_row_once_or_names_the_argument(rows, batch_size, shuffle, drop_last):
    features, targets = torch.arange(rows * 2).view(rows, 2), torch.arange(rows)
    try:
        loader = TensorLoader(features, targets, batch_size, shuffle=shuffle, drop_last=drop_last)
    except ValueError as error:
        assert not is_count(batch_size, 1) and str(error).startswith("batch_size must be a positive integer")
        return
    batches = list(loader)
    assert len(batches) == len(loader)
    seen = [int(v) for _, yb in batches for v in yb]
    assert sorted(seen) == list(range(len(seen))) if not shuffle else len(set(seen)) == len(seen)
    assert len(seen) == (rows - rows % batch_size if drop_last else rows)
    for xb, yb in batches:
        assert torch.equal(xb[:, 0] // 2, yb)
