"""The benchmark's fastest recipe computes chapter 6's GRU: FusedGRU against torch.nn.GRU."""

import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from fused_gru import FusedGRU  # noqa: E402

sys.path.pop(0)
pytestmark = [pytest.mark.skipif(shutil.which("ninja") is None or shutil.which("c++") is None, reason="needs a C++ compiler and ninja"),
              pytest.mark.usefixtures("one_thread")]


def test_outputs_state_and_every_gradient_match_nn_gru():
    torch.manual_seed(0)
    gru = torch.nn.GRU(12, 10, batch_first=True)
    inputs = torch.randn(3, 7, 12, requires_grad=True)
    hidden = torch.randn(1, 3, 10, requires_grad=True)
    expected_out, expected_h = gru(inputs, hidden)
    out, h = FusedGRU(gru)(inputs, hidden)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(h, expected_h)
    weights_out, weights_h = torch.randn_like(out), torch.randn_like(h)
    wrt = [inputs, hidden, *gru.parameters()]
    expected = torch.autograd.grad((expected_out * weights_out).sum() + (expected_h * weights_h).sum(), wrt)
    got = torch.autograd.grad((out * weights_out).sum() + (h * weights_h).sum(), wrt)
    for name, a, b in zip(["inputs", "hidden", "weight_ih", "weight_hh", "bias_ih", "bias_hh"], expected, got):
        torch.testing.assert_close(b, a, msg=f"gradient of {name}")


def test_it_refuses_layers_it_does_not_compute():
    with pytest.raises(ValueError, match="one-layer, batch-first"):
        FusedGRU(torch.nn.GRU(4, 4, num_layers=2, batch_first=True))
