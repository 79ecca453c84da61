"""Run student functions in this process: the notebook kernel's executor for hidden checks.

This is what `nbgrader autograde` uses, through the thin hidden-test cells. It protects the
grade from accidents (output on stderr, warnings, slow loops, mutated inputs), not from a
hostile student: code in the same process can patch anything. The kit's own grader runs
the same checks with student code in a sandbox instead (autograder.running.sandbox).
"""

from ..homework import spec
from ..homework.collaborators import REFERENCE
from .executor import Executor


class InProcess(Executor):
    """Executor over a namespace in this process, with the reference collaborators at hand."""

    def __init__(self, namespace: dict, seconds: float = spec.CHECK_SECONDS):
        super().__init__(namespace, REFERENCE.__getitem__, seconds)
