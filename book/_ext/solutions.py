"""Hide every exercise solution, gated ones included, with sphinx-exercise's own setting.

sphinx-exercise's ``hide_solutions = True`` drops a ``solution`` directive, but a gated solution
(``solution-start`` ... ``solution-end``, which lets a solution hold executed notebook cells)
then loses its start and keeps its end, and the HTML writer stops on the orphaned end node.
This extension takes the setting over: sphinx-exercise always builds the solutions, and when
``hide_solutions`` is true they are removed from the document once the gated ones are merged,
cells and all.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms import SphinxTransform
from sphinx_exercise.nodes import solution_node

SETTING = "hide_solutions"


def _take_over_the_setting(app: Sphinx, config: Config) -> None:
    config.book_hide_solutions = bool(config[SETTING])
    config[SETTING] = False


class RemoveSolutions(SphinxTransform):
    # After sphinx-exercise merges the gated solutions (priority 10).
    default_priority = 20

    def apply(self, **kwargs: Any) -> None:
        if not self.config.book_hide_solutions:
            return
        for node in list(self.document.findall(solution_node)):
            node.parent.remove(node)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_exercise")
    app.add_config_value("book_hide_solutions", False, "env")
    app.connect("config-inited", _take_over_the_setting, priority=900)
    app.add_transform(RemoveSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
