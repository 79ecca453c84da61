"""Scoring: run a test cell's visible tests and hidden checks against a submission."""

from dataclasses import dataclass, field

from ..calls import StudentError, Submission
from ..homework import spec
from ..homework.checks import CHECKS, CheckFailed
from ..homework.hints import hint


@dataclass
class CheckResult:
    """One hidden check's verdict: a message for the student when it failed, and details
    (such as relative errors per layer) for feedback."""

    check_id: str
    passed: bool
    message: str = ""
    details: dict = field(default_factory=dict)


@dataclass
class CellResult:
    """One test cell's score: all its points when its visible tests and every check pass."""

    grade_id: str
    points: float
    score: float
    visible_failure: str | None
    checks: list[CheckResult]


def run_check(check_id: str, sub: Submission) -> CheckResult:
    try:
        details = CHECKS[check_id](sub) or {}
    except CheckFailed as failed:
        return CheckResult(check_id, False, str(failed), failed.details)
    except StudentError as error:
        return CheckResult(check_id, False, f"calling your code failed: {error}{hint(str(error))}")
    except Exception as error:  # a value no check foresaw: the check fails, the batch goes on
        return CheckResult(check_id, False, f"the result could not be judged ({type(error).__name__})")
    return CheckResult(check_id, True, details=details)


def cell(grade_id: str) -> spec.TestCell:
    """The spec of the test cell with this grade_id."""
    for test_cell in spec.TEST_CELLS:
        if test_cell.grade_id == grade_id:
            return test_cell
    raise KeyError(f"no test cell {grade_id!r} in autograder/homework/spec.py")


def run_cell_checks(grade_id: str, sub: Submission) -> list[CheckResult]:
    """All hidden checks of one test cell (all-or-nothing: the cell scores if all pass)."""
    return [run_check(check_id, sub) for check_id in cell(grade_id).checks]


def grade_cells(sub: Submission, visible: dict[str, str]) -> list[CellResult]:
    """Every test cell in notebook order: its visible code (run by autograder.judging.visible with
    comparisons in this process), then its hidden checks."""
    from .visible import namespace, run_visible

    ns = namespace(sub)
    results = []
    for test_cell in spec.TEST_CELLS:
        failure = run_visible(visible.get(test_cell.grade_id, ""), ns, test_cell.grade_id)
        checks = run_cell_checks(test_cell.grade_id, sub)
        score = float(test_cell.points) if failure is None and all(c.passed for c in checks) else 0.0
        results.append(CellResult(test_cell.grade_id, test_cell.points, score, failure, checks))
    return results
