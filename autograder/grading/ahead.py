"""The class `nbgrader autograde` is working through, graded ahead in the kit's worker processes.

nbgrader converts one notebook at a time in one process, and its own steps around each (the
sanitising pass, the gradebook's transactions, writing the notebook twice) leave the other core
idle. On its first notebook KitExecute hands every submission of the run to the kit's local
worker processes (workers.py: one sandbox per process, as `python -m autograder grade`), so the
kit's checks run on both cores while nbgrader does its part. An outcome graded ahead is used only
when the code it ran is exactly the code of the notebook nbgrader hands KitExecute (after its
sanitising pass), for the same source, limits and sandbox; otherwise that notebook is graded then,
in KitExecute's own sandbox. Either way each submission is graded alone in a fresh child.
"""

import atexit
import hashlib
import json
from concurrent.futures import Future
from pathlib import Path

from ..homework import spec
from ..running.notebook_code import cells_to_run
from ..running.sandbox.launch import Limits


def code_key(cells: list[tuple[str, str]]) -> str:
    """A digest of the (label, code) pairs a submission runs in its sandbox."""
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


class Ahead:
    """Submissions graded in worker processes, taken one by one by the notebook they were graded from."""

    def __init__(self, todo: dict[str, Path], source_text: str, source, limits: Limits, sandbox: str,
                 workers: int):
        from .workers import _grade, start_pool

        self.source_text, self.source, self.limits, self.sandbox = source_text, source, limits, sandbox
        self.pool = start_pool(source_text, limits, sandbox, max(1, min(workers, len(todo))))
        self.futures: dict[str, Future] = {s: self.pool.submit(_grade, s, str(f)) for s, f in todo.items()}
        atexit.register(self.close)

    def matches(self, source_text: str, limits: Limits, sandbox: str) -> bool:
        return (source_text, limits, sandbox) == (self.source_text, self.limits, self.sandbox)

    def take(self, student: str, nb):
        """The Outcome graded ahead for this student when it ran exactly nb's code, else None."""
        future = self.futures.pop(student, None)
        if not self.futures:
            self.close()  # the last one: no sandbox is kept waiting
        if future is None:
            return None
        try:
            outcome = future.result()
        except Exception:  # a worker that died: grade it again in the caller's sandbox
            return None
        if outcome.grader_error or outcome.notebook is None:
            return None
        try:
            same = code_key(cells_to_run(outcome.notebook, self.source)) == code_key(cells_to_run(nb, self.source))
        except Exception:
            return None
        return outcome if same else None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def run_of(preprocessor) -> tuple[dict[str, Path], object] | None:
    """The submissions of the `nbgrader autograde` run this preprocessor works in (its exporter's
    converter), skipping those nbgrader will skip, and the converter; None outside such a run."""
    from ..course import records

    converter = getattr(getattr(preprocessor, "parent", None), "parent", None)
    assignments = getattr(converter, "assignments", None)
    coursedir = getattr(converter, "coursedir", None)
    if not isinstance(assignments, dict) or coursedir is None:
        return None
    root, todo = Path(coursedir.root), {}
    for folder in sorted(assignments):
        folder = Path(folder)
        if folder.name != spec.ASSIGNMENT:
            continue
        student = folder.parent.name
        graded = records.graded_folder(root, student)
        if getattr(converter, "force", False) or records.why_grade(coursedir, folder, graded):
            todo[student] = folder
    return todo, converter
