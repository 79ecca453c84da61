"""Calling student functions by name, wherever they live: the shared core of both executors.

The notebook kernel (autograder.in_process) and the sandboxed workers (autograder.sandbox.worker)
both use this class. It imports nothing secret: reference collaborators are resolved through a
function the caller provides, so this module can be copied into the sandbox.
"""

import contextlib
import copy
import io
import warnings
from collections.abc import Callable

import numpy as np

from solutions.helpers import TimeLimitExceeded, time_limit

from .calls import Own, Procedure, Ref, Returned, StudentError, Target, scrub, to_plain
from .procedures import PROCEDURES


class BoundedSink(io.TextIOBase):
    """A text stream that counts what is written and keeps nothing: student output is discarded."""

    def __init__(self):
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        self.written += len(text)
        return len(text)


@contextlib.contextmanager
def quiet():
    """Swallow prints, warnings and floating-point complaints: nbgrader scores any stderr 0,
    and a student's debug prints would show hidden inputs in the graded notebook."""
    sink = BoundedSink()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def poisoned(namespace: dict, values: dict | None):
    """Temporarily set globals in the student's namespace, then restore them."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values or {}}
    namespace.update(values or {})
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def _same(before, after) -> bool:
    try:
        if isinstance(before, np.ndarray) or isinstance(after, np.ndarray):
            return (isinstance(after, np.ndarray) and before.shape == after.shape
                    and bool(np.array_equal(before, after, equal_nan=True)))
        if isinstance(before, (list, tuple)):
            return (type(before) is type(after) and len(before) == len(after)
                    and all(_same(b, a) for b, a in zip(before, after)))
        return bool(before == after)
    except Exception:
        return False


class Executor:
    """Calls functions of a namespace holding the student's code (a notebook's globals).

    reference: resolves a reference collaborator's name to a callable.
    """

    def __init__(self, namespace: dict, reference: Callable[[str], Callable], seconds: float):
        self.namespace = namespace
        self.reference = reference
        self.seconds = seconds
        self.timed_out: set[str] = set()

    def _resolve(self, arg):
        if isinstance(arg, Own):
            if arg.name in self.timed_out:
                raise StudentError(f"{arg.name} did not finish in an earlier check")
            fn = self.namespace.get(arg.name)
            if not callable(fn):
                raise StudentError(f"{arg.name} is not defined (did its cell run without errors?)")
            return fn
        if isinstance(arg, Ref):
            return self.reference(arg.name)
        if isinstance(arg, Procedure):
            return PROCEDURES[arg.name]
        return copy.deepcopy(arg)

    def call_many(self, calls: list[tuple]) -> list:
        """See calls.Submission.call_many."""
        results = []
        for target, *args in calls:
            try:
                results.append(self.call(target, *args))
            except StudentError as error:
                results.append(error)
        return results

    def call(self, target: Target, *args, poison: dict | None = None) -> Returned:
        """Run target(*args) on copies of args; see calls.Submission."""
        fn = self._resolve(target)
        given = [self._resolve(arg) for arg in args]
        owns = [a.name for a in (target, *args) if isinstance(a, Own)]
        try:
            with quiet(), poisoned(self.namespace, poison), time_limit(self.seconds):
                # Converted inside the limits: a returned object may misbehave when read.
                value = to_plain(fn(*given))
        except TimeLimitExceeded:
            self.timed_out.update(owns)
            raise StudentError(f"{' / '.join(owns)} did not finish within {self.seconds:g} s "
                               "(an endless loop?)") from None
        except (Exception, SystemExit) as exc:
            raise StudentError(f"{type(exc).__name__}: {scrub(exc)}") from None
        mutated = tuple(i for i, (a, g) in enumerate(zip(args, given))
                        if not isinstance(a, (Own, Ref, Procedure)) and not _same(a, g))
        return Returned(value, mutated, {i: to_plain(given[i]) for i in mutated})
