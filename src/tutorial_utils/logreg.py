"""Logistic regression with hand-written gradients: the code of chapter 1, for later chapters, benchmarks and tests.

Generated from notebooks/01_logreg_manual.py (its cells tagged 'export') by scripts/export_notebooks.py:
edit the notebook and run `make export`, not this file.
"""


import torch


def custom_where(
    cond: torch.Tensor,
    x_1: torch.Tensor | float | list,
    x_2: torch.Tensor | float | list,
) -> torch.Tensor:
    """`torch.where(cond, x_1, x_2)` written as `cond * x_1 + (1 - cond) * x_2`, for a `cond` of 0s and 1s."""
    if not isinstance(cond, torch.Tensor):
        raise TypeError(
            f"cond must be a torch.Tensor, got {type(cond).__name__}"
        )
    if cond.dtype != torch.bool and not bool(
        ((cond == 0) | (cond == 1)).all()
    ):
        raise ValueError(
            "cond must be boolean or hold only 0 and 1; threshold probabilities first (p >= 0.5)"
        )
    x_1, x_2 = (
        x
        if isinstance(x, torch.Tensor)
        else torch.as_tensor(x, device=cond.device)
        for x in (x_1, x_2)
    )
    mask = cond.to(torch.result_type(x_1, x_2))
    return mask * x_1 + (1 - mask) * x_2
