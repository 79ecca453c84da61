"""The notebook's visible tests, run by the kit's grader with every comparison in its own process.

A test cell's visible code is executed here, unchanged, in a namespace where the five student
functions are proxies: each call runs in the student's sandbox on arguments that live in memory
this process owns, returns plain arrays, and changes the arguments exactly as the call changed
them in a kernel. The notebook's helpers run here too, calling the proxies (training and the
gradient check in batches, through autograder.homework.checks.drive), so the assertions and everything they
compare cannot be tampered with. Notebook order is kept (later cells use names earlier ones
defined), as in a kernel.
"""

import builtins
import contextlib
import functools
import re
import types

import nbformat
import numpy as np

from solutions import helpers

from ..calls import Own, Ref, StudentError, Submission, scrub
from ..homework import spec
from ..homework.checks import drive
from ..homework.hints import hint
from ..homework.stand_ins import PUBLIC

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.DOTALL)
_PUBLIC_NAMES = {id(fn): name for name, fn in PUBLIC.items()}


def visible_tests(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> the visible code of each test cell of the source notebook."""
    return {cell.metadata.nbgrader.grade_id: HIDDEN.sub("", cell.source).strip()
            for cell in source.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")}


class _Proxy:
    """Stands for a student function; calling it runs it in the sandbox."""

    def __init__(self, target: Own, sub: Submission):
        self.target, self.sub = target, sub
        self.__name__ = target.name

    def __call__(self, *args):
        returned = self.sub.call(self.target, *(_name(a) for a in args), watch=True)
        # What the call did to its arguments reaches the caller, as in a kernel.
        for original, now in returned.changed:
            if original.flags.writeable:
                original[...] = now
        for position, items in returned.lists.items():
            args[position][:] = items
        return returned.value


def _name(arg):
    if isinstance(arg, _Proxy):
        return arg.target
    if callable(arg):
        if id(arg) in _PUBLIC_NAMES:
            return Ref(_PUBLIC_NAMES[id(arg)])
        raise TypeError(f"a visible test passes {arg!r}, which cannot cross into the sandbox; "
                        "give it a name in autograder.homework.stand_ins.PUBLIC")
    return arg


def _functions(*functions) -> drive.Functions:
    return drive.Functions(*(_name(fn) for fn in functions))


def _batched(sub: Submission) -> dict:
    """The helpers that call student functions many times, as staged drives from here.

    The drives keep a kernel's semantics for what a call does to its own sample's arrays (see
    drive.chain); a call that changes something shared (the network's weights) raises Mutated,
    and the helper then runs call by call through the proxies, exactly as in a kernel. The
    losses and finite differences come from helpers.network_loss, computed here either way.
    """

    def train(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop, compute_gradients):
        try:
            return drive.train(sub, x, y, Ws, bs, eta, epochs,
                               _functions(f, loss, forward_prop, backward_prop, compute_gradients), watch=True)
        except drive.Mutated:
            return _train_by_calls(x, y, Ws, bs, eta, epochs, f, loss, forward_prop, backward_prop,
                                   compute_gradients)

    def gradient_check(x, y, Ws, bs, f, loss, forward_prop, backward_prop, compute_gradients, eps=1e-6):
        fns = _functions(f, loss, forward_prop, backward_prop, compute_gradients)
        numeric = drive.finite_differences(x, y, Ws, bs, fns.f, eps)  # before the calls, as the notebook's
        try:
            return drive.gradient_check(sub, x, y, Ws, bs, fns, eps, watch=True)
        except drive.Mutated:
            analytic = helpers.backprop_gradients(x, y, Ws, bs, f, loss, forward_prop, backward_prop,
                                                  compute_gradients)
            return helpers.layer_errors(analytic, numeric)

    def finite_difference_gradients(x, y, Ws, bs, f, eps=1e-6):
        return drive.finite_differences(x, y, Ws, bs, _name(f), eps)

    def network_loss(x, y, Ws, bs, f):
        return drive.network_loss(x, y, Ws, bs, _name(f))

    return {"train": train, "gradient_check": gradient_check, "network_loss": network_loss,
            "finite_difference_gradients": finite_difference_gradients}


def _train_by_calls(x, y, Ws, bs, eta, epochs, f, *chain):
    """helpers.train call by call through the proxies (a kernel's order), each step's loss from
    drive.network_loss here rather than from the activation's proxy."""
    Ws = [np.array(W, dtype=float) for W in Ws]
    bs = [np.array(b, dtype=float) for b in bs]
    Es = []
    for _ in range(epochs):
        grads = [helpers.backprop_gradients(x[:, [t]], y[:, [t]], Ws, bs, f, *chain) for t in range(x.shape[1])]
        E = drive.network_loss(x, y, Ws, bs, _name(f))
        for l in range(len(Ws)):
            Ws[l] = Ws[l] - eta * sum((dWs[l] for dWs, _ in grads), np.zeros_like(Ws[l]))
            bs[l] = bs[l] - eta * sum((dbs[l] for _, dbs in grads), np.zeros_like(bs[l]))
        Es.append(E)
    return Ws, bs, Es


def _importer(own: dict[str, types.ModuleType]):
    """builtins.__import__, except for the modules in own (test cells start with
    `import builtins, numpy, backprop_given as given`)."""

    def __import__(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and name in own:
            return own[name]
        return builtins.__import__(name, globals, locals, fromlist, level)

    return __import__


def namespace(sub: Submission) -> dict:
    """The globals visible tests run in: numpy, the notebook's helpers, proxies for the rest.

    The helpers are there twice, as in the notebook: as globals and in the module the test cells
    import them from (backprop_given), with the batched drives and no-op guards in both.
    """
    ns: dict = {name: getattr(helpers, name) for name in dir(helpers) if not name.startswith("_")}
    ns.update(_batched(sub))
    # The sandbox limits every call; output has nowhere to go.
    ns.update({"np": np, "time_limit": lambda *a, **k: contextlib.nullcontext()})
    ns.update(dict.fromkeys(("student_code", "capped_output"), ns["time_limit"]))  # the notebook's guards: no-ops
    given, quiet = types.ModuleType(helpers.GIVEN), types.ModuleType("builtins")
    vars(given).update(ns)
    ns.update({name: _Proxy(Own(name), sub) for name in spec.FUNCTIONS})
    vars(quiet).update(vars(builtins))
    quiet.print = lambda *a, **k: None
    quiet.__import__ = _importer({helpers.GIVEN: given, "builtins": quiet})
    ns.update({"print": quiet.print, "__builtins__": vars(quiet)})
    return ns


@functools.lru_cache(maxsize=64)
def _compiled(code: str, label: str) -> types.CodeType:
    """A visible cell's code object: the source notebook's test cells are the same for every
    submission, and a code object is immutable, so each is compiled once per process."""
    return compile(code, f"<visible tests of {label}>", "exec")


def run_visible(code: str, ns: dict, label: str) -> str | None:
    """Run one cell's visible tests in ns; returns what failed, or None when they pass."""
    if not code:
        return None
    try:
        with np.errstate(all="ignore"):
            exec(_compiled(code, label), ns)
    except AssertionError as failed:
        return f"visible test failed: {failed}" if str(failed) else "a visible test failed"
    except StudentError as error:
        return f"calling your code failed: {error}{hint(str(error))}"
    except Exception as error:
        return f"a visible test raised {type(error).__name__}: {scrub(error)}"
    return None
