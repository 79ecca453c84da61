"""One submission graded: its notebook's code run in a sandboxed child, every visible test and
hidden check judged in this process, and the Outcome (per-cell results, or why it could not run).

The grading run's local workers, its Dask tasks, nbgrader's KitExecute and the Gradescope runner
all grade a submission through grade_one (autograder.grading and autograder.gradescope import it;
it imports nothing above autograder.judging but the running and homework layers).
"""

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .. import untrusted
from ..calls import StudentError
from ..homework import spec
from ..running.notebook_code import cells_to_run
from ..running.sandbox.launch import Limits, SandboxError, Zygote
from ..running.sandbox.remote import RemoteSubmission
from .scoring import CellResult, grade_cells


@dataclass
class Outcome:
    """One student's grading: per-cell results, and why it could not run if it could not.

    grader_error: the kit itself failed (its sandbox, its own code), never anything the
    submission did; a submission that breaks its own process loses the cells it could not pass.
    """

    student: str
    results: list[CellResult]
    notebook: nbformat.NotebookNode | None = None
    reason: str | None = None
    cell_errors: list[str] = field(default_factory=list)
    grader_error: bool = False

    def __post_init__(self):
        self.bound()

    def bound(self) -> None:
        """Make its student-made text safe to record: valid, bounded per item and in all (every
        Outcome on its way in; record_all again, for any text set since)."""
        self.results, self.reason, self.cell_errors = untrusted.bound_results(self.results, self.reason,
                                                                              self.cell_errors)


def _zeros(reason: str) -> list[CellResult]:
    return [CellResult(c.grade_id, c.points, 0.0, reason, []) for c in spec.TEST_CELLS]


def grade_one(student: str, folder: Path, zygote: Zygote, source, visible: dict, limits: Limits) -> Outcome:
    path = folder / f"{spec.NOTEBOOK}.ipynb"
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in folder.glob("*.ipynb"))) or "no notebook"
        reason = f"no {path.name} in the submission (found: {found}); submit the notebook under its own name"
        return Outcome(student, _zeros(reason), reason=reason)
    try:
        nb = nbformat.read(path, as_version=4)
        cells = cells_to_run(nb, source)
    except Exception as error:
        reason = f"{path.name} could not be read as a notebook ({type(error).__name__}: {str(error)[:200]})"
        return Outcome(student, _zeros(reason), reason=reason)
    for attempt in range(2):
        try:
            with RemoteSubmission(zygote, cells, limits) as sub:
                results = grade_cells(sub, visible)
                if sub.sandbox_failure is not None:  # met inside a check, which took it for a failed call
                    raise sub.sandbox_failure
            return Outcome(student, results, nb, cell_errors=sub.cell_errors)
        except StudentError as error:  # whatever the child did is the submission's fault, never the grader's
            reason = f"the submission's code broke its grading process: {error}"
            return Outcome(student, _zeros(reason), nb, reason=reason)
        except SandboxError as error:
            if attempt:
                return Outcome(student, _zeros(f"the grader failed: {error}"), nb, reason=str(error),
                               grader_error=True)
            zygote.restart()
    raise AssertionError("unreachable")
