"""One sandbox per grading process, whichever way a class is graded: the local worker processes
(workers.py), Dask's worker processes (distributed.py) and nbgrader's own autograde
(nbgrader_steps.py) all grade a submission through `grade_here`.

A process starts its zygote on its first submission and keeps it for every later one with the
same sandbox and limits. It is closed when the process ends normally (atexit for a Dask worker
or nbgrader; multiprocessing's finalizers for a ProcessPoolExecutor worker, which skips atexit),
and dies with it otherwise (bubblewrap's --die-with-parent, the zygote's parent-death signal).
A forked child never uses or closes a zygote its parent started.

The grader's own modules (nbformat, the checks) are imported on first use: a local worker starts
its zygote before it loads them (workers.py).
"""

import atexit
import multiprocessing.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..running.sandbox.launch import Limits, Pool, Zygote

if TYPE_CHECKING:
    from ..judging.outcome import Outcome

_pools: dict[tuple[str, Limits], tuple[int, Pool]] = {}  # (sandbox, limits) -> (owner pid, pool)
_parsed: dict[str, tuple] = {}  # the source notebook's text -> (notebook, visible tests)


def zygote(sandbox: str, limits: Limits, source_text: str | None = None) -> Zygote:
    """This process's zygote for these limits, started on first use (compiling the given cells of
    the source notebook `source_text` once for all its submissions)."""
    key = (sandbox, limits)
    owner, pool = _pools.get(key, (None, None))
    if owner != os.getpid():  # none yet, or one inherited through fork: the parent's, not ours
        pool = Pool(1, sandbox, limits, given=_given(source_text) if source_text is not None else ())
        _pools[key] = (os.getpid(), pool)
        atexit.register(_close, pool, os.getpid())
        multiprocessing.util.Finalize(None, _close, args=(pool, os.getpid()), exitpriority=10)
    return pool.zygotes[0]


def _given(source_text: str):
    """The source's given cells, read when the zygote's sandbox has been started (so that the
    notebook is parsed while the sandbox boots, not before)."""

    def read() -> tuple[tuple[str, str], ...]:
        from ..running.notebook_code import given_cells

        return tuple(given_cells(parsed(source_text)[0]).items())

    return read


def _close(pool: Pool, owner: int) -> None:
    if os.getpid() == owner:  # both hooks may run (Pool.close is idempotent); a forked child must not
        pool.close()


def close_all() -> None:
    """Close every zygote this process started (the test suite's leftover check calls it)."""
    for key, (owner, pool) in list(_pools.items()):
        if owner == os.getpid():
            pool.close()
        del _pools[key]


def parsed(source_text: str) -> tuple:
    """The source notebook and its visible tests, parsed once per process and source."""
    if source_text not in _parsed:
        import nbformat

        from ..judging.visible import visible_tests

        _parsed.clear()
        source = nbformat.reads(source_text, as_version=4)
        _parsed[source_text] = (source, visible_tests(source))
    return _parsed[source_text]


def grade_here(student: str, folder: Path, source_text: str, limits: Limits, sandbox: str) -> "Outcome":
    """One submission's Outcome, graded in this process's sandbox."""
    from ..judging.outcome import grade_one

    source, visible = parsed(source_text)
    return grade_one(student, folder, zygote(sandbox, limits, source_text), source, visible, limits)
