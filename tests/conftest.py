import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tensors this small run fastest on one thread; restore the setting afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
