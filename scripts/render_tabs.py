"""Render the side-by-side code tabs of the comparison pages from the notebooks' tagged cells.

jupyter-book does not execute code inside tabs, so the comparison pages show code in
sphinx-design tab sets, and this script fills them with the source of the cells that the
chapters tag (``twin-model``, ``twin-step``, ...): the tabs always show the code the notebooks
run, never a copy typed by hand. Tabs of the same framework share a ``:sync:`` key, so choosing
TensorFlow in one tab set switches every tab set on the page. Run by ``make book`` and
``make test`` before the build; writes ``book/_generated/tabs_<name>.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from notebook_cells import tagged_sources

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "book" / "_generated"


def twins(pytorch_stem: str, tag: str, tensorflow_stem: str | None = None) -> list[tuple[str, str, str, str]]:
    """The PyTorch page's cell tagged ``tag`` beside its TensorFlow twin's (by default ``<stem>_tensorflow``)."""
    return [("PyTorch", "pytorch", pytorch_stem, tag),
            ("TensorFlow", "tensorflow", tensorflow_stem or f"{pytorch_stem}_tensorflow", tag)]


#: tab set -> its tabs: (label, sync key, notebook stem, cell tag)
TAB_SETS: dict[str, list[tuple[str, str, str, str]]] = {
    "logreg_training": [
        ("PyTorch", "pytorch", "03_logreg_module", "impl-module"),
        ("TensorFlow 2", "tensorflow", "04_logreg_tensorflow", "impl-tf2"),
        ("TensorFlow 1 (compat)", "tensorflow-1", "04_logreg_tensorflow", "impl-tf1-graph"),
    ],
    "softmax_model": twins("05_softmax_mnist", "twin-model"),
    "softmax_step": twins("05_softmax_mnist", "twin-step"),
    "char_rnn_model": twins("06_2_recurrent_networks", "twin-model", "06_char_rnn_tensorflow"),
    "char_rnn_loss": twins("06_3_backprop_through_time", "twin-loss", "06_char_rnn_tensorflow"),
    "char_rnn_step": twins("06_4_truncated_bptt", "twin-step", "06_char_rnn_tensorflow"),
}


def tab_set(tabs: list[tuple[str, str, str, str]]) -> str:
    lines = ["::::{tab-set}"]
    for label, sync, stem, tag in tabs:
        lines += [f":::{{tab-item}} {label}", f":sync: {sync}", "", f"From `notebooks/{stem}`:", "",
                  "```python", "\n\n\n".join(tagged_sources(ROOT / "notebooks" / f"{stem}.py", tag)), "```", ":::"]
    return "\n".join(lines + ["::::", ""])


def main() -> int:
    GENERATED.mkdir(parents=True, exist_ok=True)
    for name, tabs in TAB_SETS.items():
        (GENERATED / f"tabs_{name}.md").write_text(tab_set(tabs))
        print(f"rendered book/_generated/tabs_{name}.md from {', '.join(sorted({stem for _, _, stem, _ in tabs}))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
