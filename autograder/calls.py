"""How a check names what it calls, and what comes back.

Checks never hold student functions: they name them (`Own("backward_prop")`) and the reference
collaborators handed to them (`Ref("sigmoid")`). An executor resolves the names where the
student code lives (the notebook kernel, or a sandboxed child) and returns plain float arrays,
so the same checks run unchanged in both places. Whatever chains student functions (a
training loop, finite differences) runs where the check runs: see autograder.homework.checks.drive.
"""

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import untrusted


@dataclass(frozen=True)
class Own:
    """The student's function of this name (one of spec.FUNCTIONS)."""

    name: str


@dataclass(frozen=True)
class Ref:
    """A reference collaborator by name: see autograder.homework.collaborators.REFERENCE."""

    name: str


Target = Own | Ref


@dataclass(frozen=True)
class Invalid:
    """Stands in for a returned value that is not a number, an array or a list of them."""

    description: str


@dataclass
class Returned:
    """A call's result as plain data (float64 arrays, lists of them, Invalid leaves).

    Watched calls only:
    mutated: positions of the arguments the call changed in place;
    lists: position -> the new contents of a list argument whose items were replaced, removed
    or reordered (the caller's own arrays where the list still held them);
    changed: (the caller's array, its contents after the call) for every array changed in place.
    Applying `changed` and `lists` to the caller's objects is what the call did in a kernel.
    """

    value: object
    mutated: tuple[int, ...] = field(default=())
    lists: dict = field(default_factory=dict)
    changed: list = field(default_factory=list)


class StudentError(Exception):
    """The student code raised, timed out or could not be run; the message says which."""


class Submission(Protocol):
    """Somewhere student functions can be called by name."""

    def call(self, target: Target, *args, poison: dict | None = None, watch: bool = False) -> Returned:
        """Run target(*args) on copies of args; `poison` sets globals of the student's
        namespace for the duration of the call (to catch reads of stale globals).

        watch: also report which arguments the call changed in place, and how (see Returned);
        the caller's objects themselves are never changed.
        """
        ...

    def call_many(self, calls: list[tuple], watch: bool = False) -> list:
        """Several (target, *args) calls at once, in order: a Returned or a StudentError each.

        Each call runs on its own copies, except with watch: then the calls share the arrays
        they were given in common (as calls in a kernel would), and each Returned's `mutated`
        says whether that call changed any of its arguments; its `changed` pairs each of the
        caller's arrays it was given with their contents after the whole batch, and `lists`
        holds the key -1 when it replaced items of a list argument (contents not reported).
        """
        ...


def unwrap(item):
    """A result of call_many, raising the StudentError it holds."""
    if isinstance(item, StudentError):
        raise item
    return item


MAX_ITEMS = 10_000


def to_plain(value, depth: int = 0):
    """Convert a returned value into float64 arrays and lists of them, or Invalid leaves.

    Only numbers, numpy arrays (and subclasses such as np.matrix), lists and tuples are
    accepted; anything else becomes Invalid without its methods being called.
    """
    # Arrays and lists first: what functions return most (no value is both one and a number).
    if isinstance(value, np.ndarray):
        try:
            return np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            return Invalid(f"an array of {value.dtype} that is not numeric")
    if isinstance(value, (list, tuple)) and depth < 3:
        if len(value) > MAX_ITEMS:
            return Invalid(f"a list of {len(value)} items")
        return [to_plain(item, depth + 1) for item in value]
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return np.array(float(value))
    # A class's name is the student's text: any length, any characters.
    return Invalid("None" if value is None else f"a {untrusted.text(type(value).__name__, 200)}")


_NUMBERS = re.compile(r"-?\d*\.\d+(?:[eE][-+]?\d+)?|\d{5,}")
# How much of a message is read at most, per character shown: a message of megabytes costs the
# grader no more than its start.
_READ_PER_SHOWN = 8


def scrub(text, limit: int = 300) -> str:
    """Student-made text (an exception, or its message) without decimal numbers or long digit
    runs, made safe and bounded by autograder.untrusted: whatever a function prints about its
    arguments, hidden inputs do not reach feedback."""
    text = text if isinstance(text, str) else str(text)
    most = _READ_PER_SHOWN * limit
    if len(text) <= most:
        return untrusted.text(_NUMBERS.sub("…", untrusted.clean(text)), limit)
    # Read up to `most`, but not into a number there: its start alone may not look like one.
    shown = _NUMBERS.sub("…", untrusted.clean(text[:most].rstrip("0123456789.")))
    return f"{shown[:max(0, limit - 48)]} … (cut: {len(text):,} characters in all)"
