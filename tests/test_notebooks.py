"""Every notebook is paired, executed once top to bottom, and listed in the book."""

import itertools
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [path.stem for path in NOTEBOOKS]


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_pair_has_not_drifted(path):
    script = path.with_suffix(".py")
    assert script.exists(), f"{script.name} is missing: run `make sync`"
    from_ipynb = jupytext.read(path)
    from_script = jupytext.read(script)
    pairs = list(zip(from_ipynb.cells, from_script.cells))
    assert len(from_ipynb.cells) == len(from_script.cells), f"{path.name} and {script.name} differ in cell count: run `make sync`"
    for number, (a, b) in enumerate(pairs, start=1):
        assert (a.cell_type, a.source) == (b.cell_type, b.source), f"cell {number} of {path.name} differs from {script.name}: run `make sync`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_saved_from_one_fresh_run(path):
    notebook = nbformat.read(path, as_version=4)
    cells = code_cells(notebook)
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: execution counts {counts} are not 1, 2, 3, ...: re-run it with `make execute NOTEBOOKS={path.relative_to(ROOT)}`"
    )
    assert any(cell.outputs for cell in cells), f"{path.name} has no outputs: nbval would pass vacuously"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_cells_that_print_have_outputs(path):
    """A cell whose last line prints, plots or shows must have stored output."""
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(code_cells(notebook), start=1):
        last = cell.source.strip().splitlines()[-1]
        if last.startswith(("print(", "plt.show(")):
            assert cell.outputs, f"{path.name}, code cell {number} ends with {last!r} but has no stored output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_errors_in_stored_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in code_cells(notebook):
        for output in cell.outputs:
            assert output.output_type != "error", f"{path.name} stored an error: {output.get('ename')}"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(yaml.safe_load(toc) and [line.split("file:")[1].strip() for line in toc.splitlines() if "file:" in line])
    missing = [p.stem for p in NOTEBOOKS if f"notebooks/{p.stem}" not in listed]
    assert not missing, f"not in _toc.yml: {missing}"


FOLDED = {"hide-input", "hide-cell", "remove-input", "remove-cell"}


def calls_glue(source: str) -> bool:
    """Whether Python source calls a function named glue, however it is reached (tu.glue, myst_nb.glue, glue)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax: fall back to the text
        return re.search(r"\bglue\s*\(", source) is not None
    return any(isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "glue" or getattr(node.func, "attr", None) == "glue")
               for node in ast.walk(tree))


def visible_glue_cells(notebook) -> list[int]:
    """The code cells (numbered from 1) that call glue without being folded: bookkeeping in the lesson."""
    return [number for number, cell in enumerate(code_cells(notebook), start=1)
            if calls_glue(cell.source) and not FOLDED & set(cell.metadata.get("tags", []))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_glue_call_sits_in_a_cell_the_reader_sees(path):
    """Glue is bookkeeping: it belongs in a folded (hide-input) cell after the lesson cell, not in the lesson."""
    cells = visible_glue_cells(jupytext.read(path.with_suffix(".py")))
    assert not cells, f"{path.name}: code cells {cells} call glue; move those calls into a cell tagged hide-input"


def test_the_glue_rule_catches_a_visible_call():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("loss = 1.0\ntu.glue('loss', loss)"),
        nbformat.v4.new_code_cell("tu.glue('loss', loss)", metadata={"tags": ["hide-input"]}),
        nbformat.v4.new_code_cell("glue('x', 1)", metadata={"tags": ["nbval-ignore-output"]}),
        nbformat.v4.new_code_cell("history.glue_free = 1\nprint(my_glue(2))"),
        nbformat.v4.new_code_cell("import myst_nb\nmyst_nb.glue('x', 1, display=False)"),
        nbformat.v4.new_code_cell("tutorial_utils.record.glue('x', 1)"),
    ]
    assert visible_glue_cells(notebook) == [1, 3, 5, 6]


def _path_dependent_cells_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("path_dependent_cells", ROOT / "scripts" / "path_dependent_cells.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_uncompared_cell_gives_a_reason_and_asserts_its_claims(path):
    checks = _path_dependent_cells_module()
    assert not checks.other_markers(path)
    for cell in checks.uncompared_cells(path):
        assert not cell.problems(), f"{path.name}, code cell {cell.number}: {cell.problems()}"


def test_uncompared_cell_rules_catch_a_bare_tag(tmp_path):
    checks = _path_dependent_cells_module()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("print(loss)", metadata={"tags": [checks.TAG]}),
        nbformat.v4.new_code_cell(f"{checks.REASON_PREFIX}long training.\nprint(loss)\nassert loss < 2", metadata={"tags": [checks.TAG]}),
        nbformat.v4.new_code_cell("# NBVAL_SKIP\nprint(loss)"),
    ]
    path = tmp_path / "demo.ipynb"
    nbformat.write(notebook, path)
    bare, good = checks.uncompared_cells(path)
    assert len(bare.problems()) == 2 and not good.problems() and good.reason == "long training."
    assert checks.other_markers(path) == [f"demo, code cell 3: use the tag {checks.TAG!r} with a reason and assertions instead"]
    assert checks.main([path]) == 1


def _setup_cells_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("setup_cells", ROOT / "scripts" / "setup_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_installs_the_package_from_the_configured_repository(path):
    setup_cells = _setup_cells_module()
    first = code_cells(nbformat.read(path, as_version=4))[0]
    assert first.source == setup_cells.cell_source(setup_cells.install_url()), f"{path.name}: run `make setup-cells`"
    assert "hide-cell" in first.metadata.get("tags", []) and not first.outputs, f"{path.name}: the setup cell must be hidden and silent"


def test_setup_cells_follow_a_fork_of_the_configuration(tmp_path, monkeypatch):
    setup_cells = _setup_cells_module()
    config = tmp_path / "_config.yml"
    config.write_text((ROOT / "_config.yml").read_text().replace("url: https://github.com/", "url: https://github.com/a-fork-of-"))
    assert setup_cells.install_url(config).startswith("tutorial-utils @ git+https://github.com/a-fork-of-")
    (tmp_path / "notebooks").mkdir()
    for name in ("01_logreg_manual.py", "01_logreg_manual.ipynb"):
        (tmp_path / "notebooks" / name).write_bytes((ROOT / "notebooks" / name).read_bytes())
    monkeypatch.setattr(setup_cells, "ROOT", tmp_path)
    assert setup_cells.main(["--check"]) == 1  # the notebooks still install from the original repository
    assert setup_cells.main([]) == 0 and setup_cells.main(["--check"]) == 0  # one command regenerates them
    rewritten = nbformat.read(tmp_path / "notebooks" / "01_logreg_manual.ipynb", as_version=4)
    original = nbformat.read(ROOT / "notebooks" / "01_logreg_manual.ipynb", as_version=4)
    assert "a-fork-of-" in code_cells(rewritten)[0].source
    assert [c.outputs for c in code_cells(rewritten)] == [c.outputs for c in code_cells(original)]  # outputs kept


@pytest.mark.parametrize("stem", ["05_softmax_mnist", "06_char_rnn"])
def test_gpu_chapters_ask_colab_for_a_gpu_and_say_so(stem):
    notebook = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    assert notebook.metadata.get("accelerator") == "GPU" and notebook.metadata.get("colab", {}).get("gpuType")
    assert "Colab it asks for a GPU runtime" in notebook.cells[0].source


def test_the_framework_twins_agree():
    from tutorial_utils.record import notebook_glue

    def glued(stem):
        return notebook_glue(nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4))

    pytorch, tensorflow = glued("05_softmax_mnist"), glued("05_softmax_mnist_tensorflow")
    for key in ("test_accuracy", "tape_test_accuracy"):
        assert abs(tensorflow[key] - pytorch["test_accuracy"]) <= 0.3, f"{key}: {tensorflow[key]} vs PyTorch's {pytorch['test_accuracy']}"
    assert tensorflow["framework_difference"] <= 1e-5
    gru, gru_tf = glued("06_4_truncated_bptt"), glued("06_char_rnn_tensorflow")
    plateau = glued("06_3_backprop_through_time")["loop_plateau"]
    assert gru_tf["tf_reached_loss"] <= plateau and gru["fast_validation_loss"] <= plateau
    assert gru_tf["twin_logit_gap"] <= 1e-5 and gru_tf["twin_gradient_gap"] <= 1e-4  # the same function


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_the_header_is_metadata_not_a_cell(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3", f"{path.name}: no kernelspec (a broken jupytext header?)"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# "), f"{path.name} must open with its title"
    assert not [c for c in code_cells(notebook) if c.source.startswith("# ---")], f"{path.name}: a jupytext header landed in a code cell"


# Exercises and their gated solutions (sphinx-exercise): `exercise` with a `:label:`, then
# `solution-start <label>` ... `solution-end`, with the solution's code in ordinary executed cells.
_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\{(exercise|solution-start|solution-end)\}[ \t]*(.*)$")
_LABEL = re.compile(r"^\s*:label:\s*(\S+)")


def exercise_problems(notebook) -> list[str]:
    """What is wrong with a notebook's exercises: none, unlabelled, unsolved, or solved without run code."""
    exercises, solutions, problems = [], {}, []
    open_solution = None
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type == "code":
            if open_solution is not None and cell.source.strip():
                open_solution["executed"] += cell.get("execution_count") is not None
            continue
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.splitlines()
        for index, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if not match:
                continue
            kind, argument = match.group(1), match.group(2).strip()
            if kind == "exercise":
                options = itertools.takewhile(lambda option: option.strip().startswith(":"), lines[index + 1:])
                labels = [m.group(1) for m in map(_LABEL.match, options) if m]
                if "`" in argument:  # sphinx-exercise 1.2.1 then loses the solution-start that follows
                    problems.append(f"cell {number}: the exercise title {argument!r} holds inline code, which "
                                    "breaks its gated solution in the book build: write the title without backticks")
                if not labels:
                    problems.append(f"cell {number}: the exercise {argument!r} has no `:label:`")
                elif labels[0] in exercises:
                    problems.append(f"cell {number}: a second exercise labelled {labels[0]!r}")
                else:
                    exercises.append(labels[0])
            elif kind == "solution-start":
                if open_solution is not None:
                    problems.append(f"cell {number}: `solution-start {argument}` before the `solution-end` of "
                                    f"{open_solution['label']!r}")
                open_solution = {"label": argument, "cell": number, "executed": 0}
            elif open_solution is None:
                problems.append(f"cell {number}: a `solution-end` without a `solution-start`")
            else:
                solutions[open_solution["label"]] = open_solution
                open_solution = None
    if open_solution is not None:
        problems.append(f"cell {open_solution['cell']}: `solution-start {open_solution['label']}` has no `solution-end`")
    if not exercises:
        problems.append("no `exercise` directive: a chapter ends with exercises and their gated solutions")
    for label in exercises:
        solution = solutions.get(label)
        if solution is None:
            problems.append(f"the exercise {label!r} has no gated solution (`solution-start {label}` ... `solution-end`)")
        elif not solution["executed"]:
            problems.append(f"the solution of {label!r} (cell {solution['cell']}) holds no executed code cell: "
                            "run the notebook (`make execute`)")
    problems += [f"`solution-start {label}`: no exercise has that label" for label in solutions if label not in exercises]
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_chapter_has_exercises_with_executed_gated_solutions(path):
    problems = exercise_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}:\n  - " + "\n  - ".join(problems)


def test_exercise_rules_catch_missing_and_unexecuted_solutions():
    def markdown(text):
        return nbformat.v4.new_markdown_cell(text)

    def code(count):
        return nbformat.v4.new_code_cell("x = 1", execution_count=count)

    def exercise(label):
        return f"````{{exercise}} Title\n:label: {label}\nDo it.\n````\n"

    def notebook(*cells):
        made = nbformat.v4.new_notebook()
        made.cells = list(cells)
        return made

    start, end = "````{{solution-start}} {}\n:class: dropdown\n````\nWhy.", "Shown.\n\n````{solution-end}\n````"
    good = notebook(markdown(exercise("ex-a-1") + start.format("ex-a-1")), code(1), markdown(end),
                    markdown(exercise("ex-a-2") + start.format("ex-a-2")), code(2), code(3), markdown(end))
    assert exercise_problems(good) == []
    assert exercise_problems(notebook(markdown("## Exercises\n\n1. Do it."))) == [
        "no `exercise` directive: a chapter ends with exercises and their gated solutions"]
    unexecuted = notebook(markdown(exercise("ex-a-1") + start.format("ex-a-1")), code(None), markdown(end))
    assert "holds no executed code cell" in exercise_problems(unexecuted)[0]
    unsolved = notebook(markdown(exercise("ex-a-1") + exercise("ex-a-2") + start.format("ex-a-1")), code(1), markdown(end))
    assert exercise_problems(unsolved) == [
        "the exercise 'ex-a-2' has no gated solution (`solution-start ex-a-2` ... `solution-end`)"]
    unclosed = notebook(markdown(exercise("ex-a-1") + start.format("ex-a-1")), code(1))
    assert exercise_problems(unclosed)[0] == "cell 1: `solution-start ex-a-1` has no `solution-end`"
    code_title = notebook(markdown(exercise("ex-a-1").replace("Title", "With `code`") + start.format("ex-a-1")),
                          code(1), markdown(end))
    assert "holds inline code" in exercise_problems(code_title)[0]
    mislabelled = notebook(markdown(exercise("ex-a-1") + start.format("ex-a-9")), code(1), markdown(end))
    assert exercise_problems(mislabelled)[-1] == "`solution-start ex-a-9`: no exercise has that label"


def test_setup_cell_fits_79_columns_for_any_repository():
    setup_cells = _setup_cells_module()
    requirement = "tutorial-utils @ git+https://github.com/" + "a" * 150 + "/b@main"
    source = setup_cells.cell_source(requirement)
    assert max(len(line) for line in source.splitlines()) <= 79
    literal = source.split("package = ", 1)[1].split("\n    pip", 1)[0]
    assert eval(literal) == requirement  # the pieces join to the requirement
