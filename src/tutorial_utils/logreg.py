"""Logistic regression with hand-written gradients: the code of chapter 1, for later chapters, benchmarks and tests.

Generated from notebooks/01_logreg_manual.py (its cells tagged 'export') by scripts/export_notebooks.py:
edit the notebook and run `make export`, not this file.
"""


import torch


def custom_where(cond, x_1, x_2) -> torch.Tensor:
    """`torch.where(cond, x_1, x_2)` for a `cond` of 0s and 1s.

    Written as the blend `cond * x_1 + (1 - cond) * x_2`.
    """
    cond = torch.as_tensor(cond)
    if not ((cond == 0) | (cond == 1)).all():  # probabilities, say
        raise ValueError("cond must hold only 0 and 1: threshold it first")
    x_1, x_2 = (torch.as_tensor(x, device=cond.device) for x in (x_1, x_2))
    mask = cond.to(torch.result_type(x_1, x_2))
    return mask * x_1 + (1 - mask) * x_2
