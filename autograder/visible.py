"""The notebook's visible tests, run by the kit's grader with every comparison in its own process.

A test cell's visible code is executed here, unchanged, in a namespace where the five student
functions and the helpers that chain them are proxies: each call runs in the student's sandbox
and returns plain arrays, so the assertions themselves cannot be tampered with. Notebook order
is kept (later cells use names earlier ones defined), as in a kernel.
"""

import contextlib
import re

import nbformat
import numpy as np

from solutions import helpers

from . import spec
from .calls import Own, Procedure, Ref, StudentError, Submission, scrub
from .hints import hint
from .procedures import PROCEDURES, PUBLIC

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.DOTALL)
_PUBLIC_NAMES = {id(fn): name for name, fn in PUBLIC.items()}


def visible_tests(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the visible code of each test cell of the source notebook."""
    return {cell.metadata.nbgrader.grade_id: HIDDEN.sub("", cell.source).strip()
            for cell in source.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")}


class _Proxy:
    """Stands for a student function or a chaining helper; calling it runs it in the sandbox."""

    def __init__(self, target, sub: Submission):
        self.target, self.sub = target, sub

    def __call__(self, *args):
        returned = self.sub.call(self.target, *(_name(a) for a in args))
        for position, value in returned.after.items():  # in-place changes reach the caller, as in a kernel
            if 0 <= position < len(args):
                _update(args[position], value)
        return returned.value


def _update(original, value) -> None:
    """Make original (a list or an array the visible test passed) look like value, in place."""
    if isinstance(original, list) and isinstance(value, list):
        original[:] = value
    elif isinstance(original, np.ndarray) and isinstance(value, np.ndarray) and original.shape == value.shape:
        original[...] = value


def _name(arg):
    if isinstance(arg, _Proxy):
        return arg.target
    if callable(arg):
        if id(arg) in _PUBLIC_NAMES:
            return Ref(_PUBLIC_NAMES[id(arg)])
        raise TypeError(f"a visible test passes {arg!r}, which cannot cross into the sandbox; "
                        "give it a name in autograder.procedures.PUBLIC")
    return arg


def namespace(sub: Submission) -> dict:
    """The globals visible tests run in: numpy, the notebook's helpers, proxies for the rest."""
    ns: dict = {name: getattr(helpers, name) for name in dir(helpers) if not name.startswith("_")}
    ns.update({name: _Proxy(Procedure(name), sub) for name in PROCEDURES})
    ns.update({name: _Proxy(Own(name), sub) for name in spec.FUNCTIONS})
    # The sandbox limits every call; output has nowhere to go.
    ns.update({"np": np, "print": lambda *a, **k: None, "time_limit": lambda *a, **k: contextlib.nullcontext()})
    ns.update(dict.fromkeys(("student_code", "capped_output"), ns["time_limit"]))  # the notebook's guards: no-ops
    return ns


def run_visible(code: str, ns: dict, label: str) -> str | None:
    """Run one cell's visible tests in ns; returns what failed, or None when they pass."""
    if not code:
        return None
    try:
        with np.errstate(all="ignore"):
            exec(compile(code, f"<visible tests of {label}>", "exec"), ns)
    except AssertionError as failed:
        return f"visible test failed: {failed}" if str(failed) else "a visible test failed"
    except StudentError as error:
        return f"calling your code failed: {error}{hint(str(error))}"
    except Exception as error:
        return f"a visible test raised {type(error).__name__}: {scrub(error)}"
    return None
