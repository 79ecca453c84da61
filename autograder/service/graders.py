"""The warm sandboxes the service grades in: its own process's (one worker), or a pool of
grading processes started once (grading/workers.py's, each keeping its zygote), so no
submission pays a start-up. Either way a submission goes in as (student, folder) and an
Outcome (judging.outcome) comes back as a Future; only the service's own process writes.
"""

import os
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from ..running.sandbox.launch import Limits


def _start(parent: int, source_text: str, limits: Limits, sandbox: str) -> None:
    """A pool worker: set up as the batch grader's workers are, then start its zygote now."""
    from ..grading import workers
    from ..grading.sandbox_per_process import zygote

    workers._start(parent, source_text, limits, sandbox)
    zygote(sandbox, limits)


def _ready() -> int:
    return os.getpid()


class Graders:
    """`count` warm sandboxes: submit(student, folder) -> Future of the submission's Outcome."""

    def __init__(self, count: int, source_text: str, limits: Limits, sandbox: str):
        self.count, self.args = max(1, count), (source_text, limits, sandbox)
        self.pool = None
        self.start()

    def start(self) -> None:
        from ..grading.sandbox_per_process import zygote

        if self.count == 1:
            zygote(self.args[2], self.args[1])
            return
        import multiprocessing

        self.pool = ProcessPoolExecutor(self.count, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_start, initargs=(os.getpid(), *self.args))
        self.pool.submit(_ready).result()  # fork starts every worker at once: all warm from here

    def submit(self, student: str, folder: Path) -> Future:
        from ..grading import workers
        from ..grading.sandbox_per_process import grade_here

        if self.pool is None:
            future = Future()
            try:
                future.set_result(grade_here(student, folder, *self.args))
            except Exception as error:  # reported as the pool's would be
                future.set_exception(error)
            return future
        return self.pool.submit(workers._grade, student, str(folder))

    def restart(self) -> None:
        """After a worker died (the pool is broken then): a fresh pool."""
        self.close()
        self.start()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
