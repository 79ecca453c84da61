"""Judging plain returned values against the reference, with messages that teach.

Messages name the value and say what is off (a length, a shape, how far the values are), but
never print hidden inputs or expected values.
"""

import numpy as np

from ...calls import Invalid, Returned
from .. import spec


class CheckFailed(AssertionError):
    """A check's verdict against the student; the message is shown to the student."""

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


def fail(message: str, **details) -> None:
    raise CheckFailed(message, details)


def items(value, count: int, what: str) -> list:
    """value as a list of `count` items (a returned list or tuple), or fail."""
    if isinstance(value, Invalid) or not isinstance(value, list):
        got = value.description if isinstance(value, Invalid) else f"an array of shape {value.shape}"
        fail(f"{what} should be a list of {count} entries, got {got}")
    if len(value) != count:
        fail(f"{what} should have {count} entries (one per layer), got {len(value)}")
    return value


def array(value, what: str) -> np.ndarray:
    """value as a float array, or fail."""
    if isinstance(value, Invalid):
        fail(f"{what} should be a numpy array, got {value.description}")
    if isinstance(value, list):
        fail(f"{what} should be a numpy array, got a list")
    return value


def close(value, expected, what: str, hint: str = "", scalar: bool = False) -> None:
    """Fail unless value has expected's shape and values (spec.RTOL / spec.ATOL).

    scalar: a loss, which may be returned per output (expected's shape) or summed (one number).
    """
    got = array(value, what)
    expected = np.asarray(expected, dtype=float)
    if scalar and got.size == 1 and got.shape != expected.shape:
        got, expected = np.sum(got), np.sum(expected)
    elif got.shape != expected.shape:
        fail(f"{what} has shape {got.shape}, expected {expected.shape}" + (f"; {hint}" if hint else ""))
    if not np.all(np.isfinite(got)):
        fail(f"{what} contains nan or inf" + (f"; {hint}" if hint else ""))
    if not np.all(np.abs(got - expected) <= spec.ATOL + spec.RTOL * np.abs(expected)):
        scale = float(np.max(np.abs(expected))) or 1.0
        error = float(np.max(np.abs(got - expected))) / scale
        fail(f"{what} has the right shape but wrong values (relative error {error:.1e})"
             + (f"; {hint}" if hint else ""), relative_error=error)


def unchanged(mutated: tuple[int, ...], names: tuple[str, ...], function: str) -> None:
    """Fail if the call modified any of its arguments in place."""
    if mutated:
        changed = ", ".join(names[i] for i in mutated)
        fail(f"{function} modified its argument(s) {changed} in place; "
             "work on new arrays instead (for example z = W @ h + b, not h += ...)")


def _leaves(value) -> list:
    return [x for v in value for x in _leaves(v)] if isinstance(value, list) else [value]


def _same_leaf(x, y) -> bool:
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=True))
    return x == y  # Invalid leaves (such as a None placeholder) compare by description


def repeatable(first: Returned, second: Returned, function: str) -> None:
    """The same call twice must give the same answer (no state kept between calls)."""
    a, b = _leaves(first.value), _leaves(second.value)
    same = len(a) == len(b) and all(_same_leaf(x, y) for x, y in zip(a, b))
    if not same:
        fail(f"calling {function} twice with the same arguments gave different results; "
             "does it keep state between calls (a global, or a list as a default argument)?")
