"""A notebook opened outside the repository installs the helper package itself, and nothing else.

The fixture builds what a reader's Colab or Kaggle kernel looks like: a fresh virtual environment
that has the book's requirements (torch, torchvision, TensorFlow, nbval, ...; here this checkout's
.venv, seen through plain path entries) but not ``tutorial_utils``. The notebook's first cell
installs the package from the book's repository; git's ``url.<base>.insteadOf`` redirects that
URL to a local repository made from this working tree, so no network is needed but the package
index that pip's isolated build uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import setup_cells  # noqa: E402

sys.path.remove(str(ROOT / "scripts"))

PRESENT = ("torch", "torchvision", "tensorflow", "numpy", "matplotlib", "pooch", "Unidecode")
HIDDEN = ("tutorial_utils", "__editable__", "_tutorial_utils", "tutorial-utils")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """(python, env, folder): a fresh environment with the book's requirements but no tutorial_utils."""
    base = tmp_path_factory.mktemp("reader")
    venv = base / "venv"
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    requirements = base / "requirements"  # the .venv's packages (pip included), minus this one and the .pth hooks
    requirements.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(HIDDEN) and entry.suffix != ".pth":
            (requirements / entry.name).symlink_to(entry)
    (site / "book_requirements.pth").write_text(f"{requirements}\n")  # a path line: its .pth files are not run

    source = base / "repository"  # the package as the book's repository serves it
    for part in ("src", "pyproject.toml", "README.md", "benchmarks/results"):
        target = source / part
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if (ROOT / part).is_dir() else shutil.copy)(ROOT / part, target)
    git = ["git", "-C", str(source), "-c", "user.name=book", "-c", "user.email=book@localhost"]
    run(["git", "init", "-q", "-b", setup_cells.install_url().rsplit("@", 1)[1], str(source)])
    run(git + ["add", "-A"])
    run(git + ["commit", "-q", "-m", "package"])

    repository_url = setup_cells.install_url().split("git+", 1)[1].rsplit("@", 1)[0]
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV", "GIT_"))}
    env.update({
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.file://{source}.insteadOf", "GIT_CONFIG_VALUE_0": repository_url,
        "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
        "TUTORIAL_DATA_DIR": str(base / "cache"), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "PYTHONHASHSEED": "0", "HOME": str(base),
    })
    folder = base / "empty"
    folder.mkdir()
    return python, env, folder


def versions(python: Path, env: dict) -> dict[str, str]:
    code = f"import importlib.metadata as m, json; print(json.dumps({{n: m.version(n) for n in {PRESENT!r}}}))"
    return json.loads(run([str(python), "-c", code], env=env).stdout)


def test_the_reader_environment_lacks_the_package(reader):
    python, env, folder = reader
    result = subprocess.run([str(python), "-c", "import tutorial_utils"], capture_output=True, text=True, env=env, cwd=folder)
    assert "No module named 'tutorial_utils'" in result.stderr


def test_installing_the_package_changes_none_of_the_preinstalled_ones(reader):
    python, env, folder = reader
    report = folder.parent / "report.json"
    run([str(python), "-m", "pip", "install", "--quiet", "--dry-run", "--report", str(report), setup_cells.install_url()], env=env, cwd=folder)
    to_install = [item["metadata"]["name"] for item in json.loads(report.read_text())["install"]]
    assert to_install == ["tutorial-utils"], f"installing the package would also install or change {to_install}"


def test_notebook_01_runs_from_an_empty_folder_and_matches_its_stored_outputs(reader, data_copy):
    python, env, folder = reader
    env = {**env, "TUTORIAL_DATA_MIRROR": str(data_copy)}
    before = versions(python, env)
    notebook = shutil.copy(ROOT / "notebooks" / "01_logreg_manual.ipynb", folder)
    run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", str(ROOT / "nbval_sanitize.cfg"), "--rootdir", str(folder), str(notebook)], env=env, cwd=folder)
    where = run([str(python), "-c", "import tutorial_utils; print(tutorial_utils.__file__)"], env=env, cwd=folder).stdout
    assert str(python.parents[1]) in where and str(ROOT) not in where, f"imported from {where}"
    assert versions(python, env) == before
