"""The entry point of the notebook's hidden-test cells under `nbgrader autograde`.

Each hidden block is a thin call, `run_hidden_tests("<grade_id>", globals())`, so the checks
live in one place (autograder.homework.checks) and the kit's own grader can run the same ones.
"""

from ..running.in_process import InProcess
from .scoring import run_cell_checks

# One executor per kernel, so a function that timed out once fails fast in later cells.
_executors: dict[int, InProcess] = {}


def run_hidden_tests(grade_id: str, namespace: dict) -> None:
    """Run the hidden checks of test cell `grade_id` on the functions in `namespace`.

    Raises AssertionError listing what failed, which nbgrader scores as 0 for the cell.
    """
    executor = _executors.setdefault(id(namespace), InProcess(namespace))
    failed = [r for r in run_cell_checks(grade_id, executor) if not r.passed]
    if failed:
        lines = "\n".join(f"- {r.message}" for r in failed)
        raise AssertionError(f"hidden tests failed:\n{lines}") from None
