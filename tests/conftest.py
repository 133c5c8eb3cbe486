import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# Property-based tests (tests/test_properties.py). "ci", the default, runs the same examples on
# every run, few enough for the file to take about a minute on two cores; "thorough"
# (HYPOTHESIS_PROFILE=thorough) draws many more, new ones on every run, for maintainers.
settings.register_profile("ci", max_examples=500, derandomize=True, deadline=None, database=None, print_blob=True)
settings.register_profile("thorough", max_examples=10_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="module")
def one_thread():
    """Tensors this small run fastest on one thread; restore the setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def data_copy() -> Path:
    """A local copy of the data sets (the mirror layout): ``$TUTORIAL_DATA_MIRROR``, else ``../shared/data``
    beside the checkout, as ``make test`` sets it. Tests that need the real files skip without one."""
    folder = Path(os.environ.get("TUTORIAL_DATA_MIRROR") or ROOT.parent / "shared" / "data")
    if not (folder / "iris" / "iris.data").exists():
        pytest.skip(f"no copy of the data sets at {folder}: set TUTORIAL_DATA_MIRROR to one")
    return folder
