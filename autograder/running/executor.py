"""Calling student functions by name in the process that holds them.

The notebook kernel (autograder.running.in_process) and the sandboxed child (autograder.running.sandbox.worker)
both use this class to find a function, run it under a time limit with its output swallowed,
and turn what it returned into plain data. It imports nothing secret and decides nothing:
reference collaborators are resolved through a function the caller provides, and every
verdict is reached where the check runs, from the plain values returned.
"""

import contextlib
import copy
import io
import signal
import sys
import warnings
from _signal import signal as _set_handler
from collections.abc import Callable

import numpy as np

from solutions.helpers import TimeLimitExceeded

from ..calls import Own, Ref, Returned, StudentError, Target, scrub, to_plain


class BoundedSink(io.TextIOBase):
    """A text stream that counts what is written and keeps nothing: student output is discarded."""

    def __init__(self):
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        self.written += len(text)
        return len(text)


class quiet:
    """Swallow prints, warnings and floating-point complaints: nbgrader scores any stderr 0,
    and a student's debug prints would show hidden inputs in the graded notebook. A fresh
    sink, warning filters and error state for each block (a class: entered once per call)."""

    def __enter__(self) -> "quiet":
        self.streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = BoundedSink()
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        try:
            warnings.simplefilter("ignore")
            self.numbers = np.errstate(all="ignore")
            self.numbers.__enter__()
        except BaseException:
            self.warnings.__exit__(None, None, None)
            sys.stdout, sys.stderr = self.streams
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.numbers.__exit__(*exc)
            self.warnings.__exit__(*exc)
        finally:
            sys.stdout, sys.stderr = self.streams


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


def _timeout(signum, frame):
    raise TimeLimitExceeded("a call into student code ran past its time limit")


class _alarm:
    """SIGALRM raises TimeLimitExceeded while this block runs (each call arms the timer).
    _signal's own function: signal.signal converts to and from enums, several times the cost."""

    def __enter__(self) -> None:
        self.previous = _set_handler(signal.SIGALRM, _timeout)

    def __exit__(self, *exc) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _set_handler(signal.SIGALRM, self.previous)


_NOTHING = contextlib.nullcontext()


def _copy(value, depth: int = 0):
    """A copy of an argument: arrays copied, lists and tuples rebuilt, the rest (numbers,
    markers, None) shared, since it cannot be changed in place."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list) and depth < 8:
        return [_copy(item, depth + 1) for item in value]
    if isinstance(value, tuple) and depth < 8:
        return tuple(_copy(item, depth + 1) for item in value)
    return copy.deepcopy(value) if isinstance(value, (dict, set)) else value


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Exactly the same float64 contents (nan payloads and the sign of zero included)."""
    return a.shape == b.shape and np.ascontiguousarray(a, "<f8").tobytes() == np.ascontiguousarray(b, "<f8").tobytes()


def leaves(value, depth: int = 0):
    """Every array in an argument: an array, or lists and tuples of them."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)) and depth < 4:
        for item in value:
            yield from leaves(item, depth + 1)


# Lengths kept of a student's exception: its class name and its message.
MAX_NAME, MAX_MESSAGE = 200, 2000
# The class's own name: a metaclass may define __name__ as a property (student code) or a str
# subclass may stand in for it; this reads the type's slot and returns a plain str.
_class_name = type.__dict__["__name__"].__get__


def _plain(text: str, limit: int) -> str:
    """The first `limit` characters of text as an exact str (a str subclass's methods are never run)."""
    return str.__getitem__(text, slice(0, limit))


def describe(exc: BaseException) -> str:
    """"Name: message" of an exception raised by student code, bounded and without numbers (see
    calls.scrub). Its __str__ is the student's code: call this under the time limit."""
    name = _plain(_class_name(type(exc)), MAX_NAME)
    try:
        text = _plain(str(exc), MAX_MESSAGE)
    except (TimeLimitExceeded, KeyboardInterrupt):
        raise
    except BaseException:
        text = "(its message could not be read)"
    return f"{name}: {scrub(text)}"


class Executor:
    """Calls functions of a namespace holding the student's code (a notebook's globals).

    reference: resolves a reference collaborator's name to a callable.
    seconds: wall-clock limit of one call.
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
        return arg

    def invoke(self, target: Target, args: list, poison: dict | None = None, then: Callable | None = None):
        """target(*args) on these very objects, as plain data; raises StudentError.

        then: called after the function returns, under the same time limit (it reads objects
        the student's function made, which is running their code too); the call then returns
        (plain value, then()).
        """
        with quiet(), _alarm():
            return self._invoke(target, args, poison, then)

    def _invoke(self, target: Target, args: list, poison: dict | None, then: Callable | None = None):
        fn = self._resolve(target)
        given = [self._resolve(arg) for arg in args]
        try:
            with poisoned(self.namespace, poison) if poison else _NOTHING:
                signal.setitimer(signal.ITIMER_REAL, self.seconds)
                try:
                    # Everything that may run student code happens inside the limit: the call,
                    # reading what it returned, and the text of what it raised.
                    try:
                        value = to_plain(fn(*given))
                        return value if then is None else (value, then())
                    except (TimeLimitExceeded, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        raise StudentError(describe(exc)) from None
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        except TimeLimitExceeded:
            owns = [a.name for a in (target, *args) if isinstance(a, Own)]
            self.timed_out.update(owns)
            raise StudentError(f"{' / '.join(owns)} did not finish within {self.seconds:g} s "
                               "(an endless loop?)") from None

    def invoke_many(self, calls: list[tuple]) -> list:
        """[target(*args) as plain data, or the StudentError it raised] for (target, *args) in
        calls, on these very objects (quiet and the alarm set up once for all)."""
        results = []
        with quiet(), _alarm():
            for target, *args in calls:
                try:
                    results.append(self._invoke(target, args, None))
                except StudentError as error:
                    results.append(error)
        return results

    def call_many(self, calls: list[tuple], watch: bool = False) -> list:
        """See calls.Submission.call_many."""
        if not watch:
            return [item if isinstance(item, StudentError) else Returned(item)
                    for item in self.invoke_many([[_copy(part) for part in call] for call in calls])]
        memo: dict = {}
        given = copy.deepcopy([list(call) for call in calls], memo)  # shared arrays stay shared
        shapes = [[list(a) for a in call if isinstance(a, list)] for call in given]
        items = []
        for call, lists in zip(given, shapes):
            item = self.invoke_many([call])[0]
            now = [a for a in call if isinstance(a, list)]
            reordered = any(len(a) != len(b) or any(x is not y for x, y in zip(a, b)) for a, b in zip(lists, now))
            items.append((item, reordered))
        results = []
        for call, (item, reordered) in zip(calls, items):
            if isinstance(item, StudentError):
                results.append(item)
                continue
            # Contents after the whole batch, as the remote executor reports them.
            arrays = [(leaf, memo[id(leaf)].copy()) for leaf in leaves(list(call))
                      if isinstance(memo.get(id(leaf)), np.ndarray) and not same_bytes(leaf, memo[id(leaf)])]
            results.append(Returned(item, (0,) if arrays or reordered else (), {-1: None} if reordered else {},
                                    arrays))
        return results

    def call(self, target: Target, *args, poison: dict | None = None, watch: bool = False) -> Returned:
        """Run target(*args) on deep copies of args; see calls.Submission.

        The caller's objects are never touched here: `changed` pairs each caller's array with
        its copy after the call, and `lists` gives the new contents of a list whose items were
        replaced, with the caller's own arrays where the copy still held theirs.
        """
        if not watch:
            return Returned(self.invoke(target, [_copy(arg) for arg in args], poison))
        memo: dict = {}
        given = copy.deepcopy(list(args), memo)
        items = {k: list(a) for k, a in enumerate(given) if isinstance(a, list)}
        value = self.invoke(target, given, poison)
        mutated, changed, lists = set(), [], {}
        back = {}
        for k, arg in enumerate(args):
            for before in leaves(arg):
                after = memo.get(id(before))
                if isinstance(after, np.ndarray):
                    back[id(after)] = before
                    if not same_bytes(before, after):
                        changed.append((before, after))
                        mutated.add(k)
        for k, old in items.items():
            new = given[k]
            if len(old) != len(new) or any(a is not b for a, b in zip(old, new)):
                mutated.add(k)
                lists[k] = [back.get(id(item)) if id(item) in back else to_plain(item) for item in new]
        return Returned(value, tuple(sorted(mutated)), lists, changed)
