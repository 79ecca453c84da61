"""The warm sandboxes the service grades in: a pool of grading processes started once
(grading/workers.py's, each keeping its zygote), so no submission pays a start-up. A submission
goes in as (student, folder) and its Outcome (judging.outcome) comes back as a Future; only the
service's own process writes.

The workers and their sandboxes live in their own process group: a Ctrl-C in the service's
terminal (SIGINT to the foreground group) or a signal to the service's group reaches the service
alone, which then finishes what the sandboxes are grading; a sandbox killed under a submission
would otherwise score it as broken. They still end with the service however it ends
(PR_SET_PDEATHSIG, as the batch grader's workers).
"""

from concurrent.futures import Future
from pathlib import Path

from ..grading import workers
from ..running.sandbox.launch import Limits


class Graders:
    """`count` warm sandboxes: submit(student, folder) -> Future of the submission's Outcome."""

    def __init__(self, count: int, source_text: str, limits: Limits, sandbox: str):
        self.count, self.args = max(1, count), (source_text, limits, sandbox)
        self.pool = None
        self.start()

    def start(self) -> None:
        self.pool = workers.start_pool(*self.args, self.count, own_group=True)
        self.pool.submit(workers._ready).result()  # every worker forked and warm from here

    def submit(self, student: str, folder: Path) -> Future:
        return self.pool.submit(workers._grade, student, str(folder))

    def restart(self) -> None:
        """After a worker died (the pool is broken then): a fresh pool."""
        self.close()
        self.start()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
