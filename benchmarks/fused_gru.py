"""A GRU layer whose time loop runs in C++ (fused_gru.cpp), for the char-GRU benchmark's fastest recipe.

On a CPU the small per-step operations of ``torch.nn.GRU`` cost more in dispatch than in
arithmetic: at a batch of 16, each of the ~30 tensor operations of a time step (forward and
backward) takes a few microseconds whatever its size. :class:`FusedGRU` computes the same layer
with the same parameters (it wraps an ``nn.GRU`` and reads its weights), but runs the time loop
in C++ with one matrix product and a few fused passes per step, and does the products over all
steps (input projections, weight gradients) as single large matrix products. The extension is
compiled on first use (about 30 s, cached by PyTorch afterwards) and needs a C++ compiler and ninja.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import torch


@cache
def extension():
    """Compile (or load the cached build of) fused_gru.cpp; returns the module and the build time in seconds."""
    from torch.utils.cpp_extension import load

    start = time.perf_counter()
    module = load(name="fused_gru", sources=[str(Path(__file__).with_name("fused_gru.cpp"))], extra_cflags=["-O3"], verbose=False)
    return module, time.perf_counter() - start


class _GRULayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, inputs, h0, w_ih, w_hh, b_ih, b_hh):
        batch, steps, _ = inputs.shape
        gi = torch.addmm(b_ih, inputs.reshape(batch * steps, -1), w_ih.t()).view(batch, steps, -1).transpose(0, 1).contiguous()
        hs, rz, n, ghn = extension()[0].forward(gi, h0.contiguous(), w_hh.contiguous(), b_hh.contiguous())
        ctx.save_for_backward(inputs, hs, rz, n, ghn, w_ih, w_hh)
        return hs[1:].transpose(0, 1), hs[-1]

    @staticmethod
    def backward(ctx, d_outputs, d_last):
        inputs, hs, rz, n, ghn, w_ih, w_hh = ctx.saved_tensors
        batch, steps, _ = inputs.shape
        d_last = d_last.contiguous() if d_last is not None else torch.zeros_like(hs[0])
        d_gi, d_gh, d_h0 = extension()[0].backward(d_outputs.transpose(0, 1).contiguous(), d_last, hs, rz, n, ghn, w_hh.contiguous())
        d_gi = d_gi.transpose(0, 1).reshape(batch * steps, -1)
        d_gh = d_gh.reshape(steps * batch, -1)
        return ((d_gi @ w_ih).view(batch, steps, -1), d_h0, d_gi.t() @ inputs.reshape(batch * steps, -1),
                d_gh.t() @ hs[:-1].reshape(steps * batch, -1), d_gi.sum(0), d_gh.sum(0))


class FusedGRU(torch.nn.Module):
    """A drop-in for a one-layer, batch-first, float32 ``nn.GRU`` on the CPU, with the same parameters."""

    def __init__(self, gru: torch.nn.GRU) -> None:
        super().__init__()
        if gru.num_layers != 1 or not gru.batch_first or gru.bidirectional or not gru.bias:
            raise ValueError("FusedGRU replaces a one-layer, batch-first, unidirectional GRU with biases")
        self.gru = gru

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if hidden is None:
            hidden = inputs.new_zeros(1, inputs.shape[0], self.gru.hidden_size)
        g = self.gru
        outputs, last = _GRULayer.apply(inputs, hidden[0], g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0)
        return outputs, last[None]
