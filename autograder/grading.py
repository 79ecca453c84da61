"""Scoring: run a test cell's hidden checks against a submission and score the cell."""

from dataclasses import dataclass, field

from . import spec
from .calls import StudentError, Submission
from .checks import CHECKS, CheckFailed


@dataclass
class CheckResult:
    """One hidden check's verdict: a message for the student when it failed, and details
    (such as relative errors per layer) for feedback."""

    check_id: str
    passed: bool
    message: str = ""
    details: dict = field(default_factory=dict)


def run_check(check_id: str, sub: Submission) -> CheckResult:
    try:
        details = CHECKS[check_id](sub) or {}
    except CheckFailed as failed:
        return CheckResult(check_id, False, str(failed), failed.details)
    except StudentError as error:
        return CheckResult(check_id, False, f"calling your code failed: {error}")
    return CheckResult(check_id, True, details=details)


def cell(grade_id: str) -> spec.TestCell:
    """The spec of the test cell with this grade_id."""
    for test_cell in spec.TEST_CELLS:
        if test_cell.grade_id == grade_id:
            return test_cell
    raise KeyError(f"no test cell {grade_id!r} in autograder/spec.py")


def run_cell_checks(grade_id: str, sub: Submission) -> list[CheckResult]:
    """All hidden checks of one test cell (all-or-nothing: the cell scores if all pass)."""
    return [run_check(check_id, sub) for check_id in cell(grade_id).checks]
