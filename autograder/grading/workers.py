"""Grading processes on this machine: each owns one sandboxed zygote and runs the grader-side
checks of the submissions it is given, so workers never wait on each other (no shared GIL).

The coordinator (autograder.grading.grade) hands out submissions and writes every outcome; a worker
only reads a submission's folder and returns its Outcome. A worker ends with the coordinator,
however the coordinator ends (SIGKILL included), and its sandbox with it.
"""

import ctypes
import multiprocessing
import os
import signal
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from ..running.sandbox.launch import Limits

_args: tuple = ()  # this worker process's source notebook (as text), limits and sandbox
_PR_SET_PDEATHSIG = 1


def end_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when `parent` (the process that forked it) ends, so
    that nothing is left running for good when that process is killed outright; if it has
    already ended (we were reparented before asking), end now."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _start(parent: int, source_text: str, limits: Limits, sandbox: str, own_group: bool = False) -> None:
    global _args
    end_with(parent)  # first: a sandbox started later dies with this process (bubblewrap's --die-with-parent)
    if own_group:  # before the zygote starts, so that its sandbox is in the new group too
        os.setpgrp()
    warnings.filterwarnings("ignore", message="bubblewrap is not installed")  # the coordinator said so
    _args = (source_text, limits, sandbox)
    from .sandbox_per_process import zygote

    # While the zygote starts (now, with the coordinator still importing the grader and reading the
    # gradebook), another thread loads what grading needs; the zygote's own start waits mostly for
    # its sandbox's greeting. Started from this thread: bubblewrap's --die-with-parent follows the
    # thread that started it, and only this one lasts as long as the process.
    loading = threading.Thread(target=_load_grader, args=(source_text,))
    loading.start()
    try:
        zygote(sandbox, limits, source_text)
    except Exception:  # pragma: no cover - the first submission tries again and records why it failed
        pass
    loading.join()


def _load_grader(source_text: str) -> None:
    try:
        from ..judging import outcome  # noqa: F401  (what grade_here imports)
        from . import sandbox_per_process

        sandbox_per_process.parsed(source_text)
        # The reference's answers, computed once per process from the grader's own inputs: now,
        # rather than on the first submission.
        from ..homework.checks import combined

        combined.reference_gradients()
        combined.reference_losses()
    except Exception:  # the first submission meets it again and records it
        pass


def _ready() -> None:
    """Nothing: submitted once per worker to have the pool fork its workers now."""


def start_pool(source_text: str, limits: Limits, sandbox: str, workers: int,
               own_group: bool = False) -> ProcessPoolExecutor:
    """The worker processes, forked now, each starting its zygote; graded_in_processes grades in them.
    own_group: the workers and their sandboxes in a process group of their own (a terminal's Ctrl-C
    then reaches the parent alone).

    Forked before the coordinator imports nbformat, nbgrader's gradebook or the checks (grading/early.py):
    their sandboxes start on the other core while the coordinator imports and reads.
    """
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                               initargs=(os.getpid(), source_text, limits, sandbox, own_group))
    pool.submit(_ready)  # with fork, the first submit forks every worker at once
    return pool


def _grade(student: str, folder: str):
    from .sandbox_per_process import grade_here

    return grade_here(student, Path(folder), *_args)


def graded_in_processes(todo: dict[str, Path], source, limits: Limits, sandbox: str, workers: int,
                        pool: ProcessPoolExecutor | None = None) -> Iterator:
    """Outcomes (judging.outcome.Outcome) as the worker processes finish them: in `pool` (from
    start_pool, with the same source, limits and sandbox) when given, which is shut down after."""
    from ..judging.outcome import Outcome, _zeros

    if pool is None:
        import nbformat

        pool = start_pool(nbformat.writes(source), limits, sandbox, workers)
    with pool:
        futures = {pool.submit(_grade, student, str(folder)): student for student, folder in todo.items()}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as error:  # a bug of ours, or a worker that died: record it, go on
                student = futures[future]
                reason = f"the grader failed: {type(error).__name__}: {error}"
                yield Outcome(student, _zeros(reason), reason=reason, grader_error=True)
