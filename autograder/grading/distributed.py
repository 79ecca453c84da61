"""Grading on a Dask distributed cluster (`python -m autograder grade ... --scheduler ADDRESS`).

Each submission is one task: its notebook's bytes travel to a worker, which grades them in its
own sandbox (the same zygotes and limits as a local run) and returns the outcome; only the
coordinator writes the gradebook. Dask runs the task again on another worker when one dies
mid-grade (up to the scheduler's allowed failures); a task that still cannot finish is recorded
as failed with the reason, so no submission is lost.

Workers run this kit's environment: `.venv/bin/dask worker ADDRESS --nthreads 1` (one sandbox
per worker process; start as many processes as cores).
"""

import tempfile
from pathlib import Path

import nbformat

from ..homework import spec
from ..running.sandbox.launch import Limits


def grade_task(student: str, notebook: bytes, source_text: str, limits: Limits, sandbox: str):
    """Runs on a worker: grade one submission from its notebook's bytes; returns a judging.outcome.Outcome."""
    from .sandbox_per_process import grade_here

    with tempfile.TemporaryDirectory(prefix="kit-task-") as folder:
        (Path(folder) / f"{spec.NOTEBOOK}.ipynb").write_bytes(notebook)
        return grade_here(student, Path(folder), source_text, limits, sandbox)


def graded_on_cluster(scheduler: str, todo: dict[str, Path], source, limits: Limits, sandbox: str):
    """Outcomes as the cluster's workers finish them."""
    from distributed import Client, as_completed

    from ..judging.outcome import Outcome, _zeros, grade_one

    source_text = nbformat.writes(source)
    local = {}
    with Client(scheduler, timeout="30s") as client:
        futures = {}
        for student, folder in todo.items():
            path = folder / f"{spec.NOTEBOOK}.ipynb"
            if not path.is_file():
                local[student] = folder  # nothing to send: graded (as missing) right here
                continue
            future = client.submit(grade_task, student, path.read_bytes(), source_text, limits, sandbox,
                                   key=f"grade-{student}-{id(todo)}", pure=False, retries=1)
            futures[future] = student
        for student, folder in local.items():
            yield grade_one(student, folder, None, source, {}, limits)
        for future in as_completed(futures):
            student = futures[future]
            try:
                yield future.result()
            except Exception as error:  # the task died with every worker it was given
                reason = f"grading failed on the cluster: {type(error).__name__}: {error}"
                yield Outcome(student, _zeros(reason), reason=reason, grader_error=True)
