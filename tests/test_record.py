"""Glued values: stored as text a literal reader reads back, numpy scalars as plain Python values."""

import math

import numpy as np
import pytest

from tutorial_utils.record import glue, glued_values


def glued(monkeypatch, name, value):
    """What ``glue(name, value)`` records, read back as a notebook reader would."""
    import IPython.display

    outputs = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw, metadata: outputs.append({"data": data, "metadata": metadata}))
    glue(name, value)
    return glued_values(outputs)[name]


@pytest.mark.parametrize(("value", "stored"), [
    (np.float64(0.25), 0.25), (np.float32(0.5), 0.5), (np.int64(7), 7), (np.bool_(True), True), (np.str_("fast"), "fast"),
    ([np.float64(0.1), 2, "x", None], [0.1, 2, "x", None]), ({"loss": np.float64(1.5)}, {"loss": 1.5}), ((1, 2.0), (1, 2.0)),
])
def test_numpy_scalars_are_stored_as_plain_python_values(monkeypatch, value, stored):
    back = glued(monkeypatch, "value", value)
    assert back == stored and type(back) is type(stored)
    if isinstance(stored, list):
        assert [type(item) for item in back] == [type(item) for item in stored]


@pytest.mark.parametrize(("value", "error", "words"), [
    (object(), TypeError, "glue 'value': a builtins.object cannot be stored"),
    (np.zeros(3), TypeError, "a numpy.ndarray cannot be stored"),
    ({1: "one"}, TypeError, "the key 1 of type int"),
    ([1.0, {"x": object()}], TypeError, "builtins.object"),
    (math.nan, ValueError, "glue 'value': nan cannot be stored"),
    ([np.float64("inf")], ValueError, "inf cannot be stored"),
    (b"bytes", TypeError, "a builtins.bytes cannot be stored"),
])
def test_a_value_that_cannot_be_stored_is_refused_by_name(monkeypatch, value, error, words):
    with pytest.raises(error) as caught:
        glued(monkeypatch, "value", value)
    assert words in str(caught.value)


def test_long_lists_are_stored_whole(monkeypatch):
    assert glued(monkeypatch, "curve", list(range(2000))) == list(range(2000))


@pytest.mark.parametrize("text", ["{[]: 1}", "np.float64(0.25)", "(" * 1000, "[1, 2"])
def test_text_that_is_not_a_literal_is_read_back_as_text(text):
    output = {"data": {"application/papermill.record/text/plain": text}, "metadata": {"scrapbook": {"name": "x"}}}
    assert glued_values([output]) == {"x": text}
