"""The package's shape: cheap to import, one list of public names, modules exported from the notebooks."""

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import tutorial_utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import export_notebooks  # noqa: E402

sys.path.remove(str(ROOT / "scripts"))


def test_importing_the_package_loads_no_framework_and_no_plotting_library():
    code = "import sys, tutorial_utils as tu; tu.__all__; print(sorted(m for m in ('torch', 'tensorflow', 'matplotlib', 'numpy') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_a_data_loader_does_not_import_torch_or_matplotlib():
    code = ("import sys, tutorial_utils as tu; tu.load_mnist_arrays, tu.iterate_minibatches, tu.encode_text; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'matplotlib') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


@pytest.mark.parametrize("name", tutorial_utils.__all__)
def test_every_public_name_resolves_to_its_module(name):
    value = getattr(tutorial_utils, name)
    module = tutorial_utils._PUBLIC[name]
    assert getattr(importlib.import_module(f"tutorial_utils.{module}"), name) is value


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'load_cifar'"):
        tutorial_utils.load_cifar  # noqa: B018


def test_exported_modules_match_their_notebooks():
    assert export_notebooks.main(["--check"]) == 0


def test_the_check_fails_when_one_side_is_edited(tmp_path, monkeypatch):
    monkeypatch.setattr(export_notebooks, "EXPORTS", {"logreg": ("01_logreg_manual",)})
    package = tmp_path / "package"  # the module edited by hand, the notebook not
    package.mkdir()
    (package / "logreg.py").write_text((export_notebooks.PACKAGE / "logreg.py").read_text().replace("torch.where", "np.where", 1))
    monkeypatch.setattr(export_notebooks, "PACKAGE", package)
    assert export_notebooks.main(["--check"]) == 1
    (package / "logreg.py").write_text(export_notebooks.module_source("logreg"))
    assert export_notebooks.main(["--check"]) == 0

    notebook = ROOT / "notebooks" / "01_logreg_manual.py"  # the notebook edited, the module not
    copy = tmp_path / "notebooks" / notebook.name
    copy.parent.mkdir()
    copy.write_text(notebook.read_text().replace("a `cond` of 0s and 1s", "a `cond` of zeros and ones", 1))
    monkeypatch.setattr(export_notebooks, "ROOT", tmp_path)
    assert export_notebooks.main(["--check"]) == 1


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_pytorch_still_works_after_the_tensorflow_import():
    code = ("import tutorial_utils as tu; tf = tu.import_tensorflow(); tf.constant(1.0); import torch; "
            "torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1); print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
