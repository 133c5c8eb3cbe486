"""Checking the arguments of the package's functions, with errors that name the argument and the value."""

from __future__ import annotations

import math
import numbers


def is_count(value: object, minimum: int = 1) -> bool:
    """Whether ``value`` is an integer of at least ``minimum`` (a NumPy integer too; not a bool, not a float).

    The chapters' one-line argument checks use it: ``if not tu.is_count(batch_size): raise ValueError(...)``.
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum


def positive_int(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` if it is a positive integer (not a bool, not a float).

    Raises:
        ValueError: naming ``name`` and the value otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def non_negative_int(value: object, name: str) -> int:
    """Return ``value`` as an ``int`` if it is an integer of 0 or more (not a bool, not a float).

    Raises:
        ValueError: naming ``name`` and the value otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def positive_float(value: object, name: str) -> float:
    """Return ``value`` as a ``float`` if it is a finite number greater than zero.

    Raises:
        ValueError: naming ``name`` and the value otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number greater than 0, got {value!r}")
    return float(value)


def optional_seed(value: object, name: str = "seed") -> int | None:
    """Return ``value`` if it is ``None`` or an integer seed of NumPy's ``RandomState`` (0 to 2**32 - 1).

    Raises:
        ValueError: naming ``name`` and the value otherwise (a bool, a float or a string included).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < 2**32:
        raise ValueError(f"{name} must be None or an integer from 0 to 2**32 - 1, got {value!r}")
    return int(value)
