"""The hidden checks, by id. Each takes a Submission and returns details or raises CheckFailed.

A check names the student functions it calls (calls.Own) and the reference collaborators it
hands them (calls.Ref); it computes what to expect from `solutions` in the grader's process.
"""

from collections.abc import Callable

from ...calls import Submission
from .compare import CheckFailed

Check = Callable[[Submission], dict | None]
CHECKS: dict[str, Check] = {}


def check(check_id: str):
    """Register a check under check_id (the ids spec.TEST_CELLS lists)."""

    def register(fn: Check) -> Check:
        CHECKS[check_id] = fn
        return fn

    return register


from . import combined, elementwise, forms, gradients, propagation  # noqa: E402,F401  (they register)

__all__ = ["CHECKS", "CheckFailed", "check"]
