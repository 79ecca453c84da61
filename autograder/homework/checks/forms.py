"""Every input form a docstring promises (spec.INPUT_FORMS), each function fed it on its own.

Values are compared with the reference on the same inputs; a call that raises, or answers
wrongly, fails with a message naming the form and the docstring's promise.
"""

import numpy as np

from solutions import backprop as reference
from solutions import helpers

from ...calls import Own, Ref, StudentError, Submission
from .. import cases, spec
from ..collaborators import REFERENCE
from . import check
from .compare import CheckFailed, close, fail, items
from .expected import passes

# The squared loss backward_prop is handed, as in its other checks (see propagation.LOSS).
LOSS = Ref("half_squares")


def _as(value, form: str):
    """An ordinary scalar value (a float or a 1-element array) in the given form."""
    number = float(np.ravel(value)[0])
    return number if form == "float" else np.array(number)


def _forms(function: str) -> list[spec.InputForm]:
    return [f for f in spec.INPUT_FORMS if f.function == function]


def _judge(form: spec.InputForm, returned, compare) -> None:
    """Run compare(value) on a call's result; fail naming the form if it raised or is wrong."""
    where = f"{form.function} with {form.argument} as {'a' if form.form != 'placeholder' else 'the'} {form.form}"
    promise = f"its docstring promises it works ({form.promise})"
    if isinstance(returned, StudentError):
        fail(f"{where} failed: {returned}; {promise}")
    try:
        compare(returned.value)
    except CheckFailed as failed:
        fail(f"{where}: {failed}; {promise}", **failed.details)


def _loss_inputs(form: spec.InputForm) -> tuple:
    if form.argument == "y":
        return np.array([[0.8], [-0.25]]), _as(0.5, form.form)
    return _as(0.3, form.form), _as(1.0, form.form)


@check("loss_forms")
def loss_forms(sub: Submission) -> None:
    forms = _forms("loss")
    inputs = [_loss_inputs(form) for form in forms]
    returns = sub.call_many([(Own("loss"), yhat, y) for yhat, y in inputs])
    for form, (yhat, y), returned in zip(forms, inputs, returns):
        l_ref, g_ref = REFERENCE["loss"](yhat, y)

        def compare(value, l_ref=l_ref, g_ref=g_ref):
            l, g = items(value, 2, "loss's result (l, g)")
            close(l, l_ref, "the loss l", scalar=True)
            close(g, g_ref, "the derivative g")

        _judge(form, returned, compare)


@check("sigmoid_forms")
def sigmoid_forms(sub: Submission) -> None:
    forms = _forms("sigmoid")
    inputs = [_as(-0.7, form.form) for form in forms]
    returns = sub.call_many([(Own("sigmoid"), z) for z in inputs])
    for form, z, returned in zip(forms, inputs, returns):
        h_ref, g_ref = REFERENCE["sigmoid"](z)

        def compare(value, h_ref=h_ref, g_ref=g_ref):
            h, g = items(value, 2, "sigmoid's result (h, g)")
            close(h, h_ref, "h", scalar=True)
            close(g, g_ref, "g", scalar=True)

        _judge(form, returned, compare)


def _placeholder(zs: list, x) -> list:
    """zs with zs[0] the placeholder forward_prop's docstring promises: zeros shaped like x."""
    return [np.zeros_like(x, dtype=float)] + list(zs[1:])


# backward_prop's networks for each form: one output (so a float target means one thing), and
# the deepest network for the placeholder.
_BACKWARD = {"float": 1, "0-d array": 5, "placeholder": 4}


@check("backward_prop_forms")
def backward_prop_forms(sub: Submission) -> None:
    forms = _forms("backward_prop")
    calls, expected = [], []
    for form in forms:
        k = _BACKWARD[form.form]
        net, p = cases.networks()[k], passes()[k]
        f = REFERENCE[net.activation]
        zs = _placeholder(p.zs, net.x) if form.form == "placeholder" else p.zs
        y = net.y if form.form == "placeholder" else _as(net.y, form.form)
        calls.append((Own("backward_prop"), LOSS, Ref(net.activation), net.Ws, net.bs, zs, y))
        expected.append(reference.backward_prop(helpers.half_squares, f, net.Ws, net.bs, zs, y))
    for form, want, returned in zip(forms, expected, sub.call_many(calls)):
        def compare(value, want=want):
            dldhs = items(value, len(want), "dldhs")
            for l in reversed(range(len(want))):
                close(dldhs[l], want[l], f"dldhs[{l}]")

        _judge(form, returned, compare)


@check("compute_gradients_forms")
def compute_gradients_forms(sub: Submission) -> None:
    forms = _forms("compute_gradients")
    net, p = cases.networks()[4], passes()[4]
    zs = _placeholder(p.zs, net.x)
    returns = sub.call_many([(Own("compute_gradients"), p.dldhs, Ref(net.activation), zs, p.hs) for _ in forms])
    for form, returned in zip(forms, returns):
        def compare(value):
            dWs, dbs = items(value, 2, "compute_gradients's result (dWs, dbs)")
            L = len(net.Ws)
            for l, (dW, db) in enumerate(zip(items(dWs, L, "dWs"), items(dbs, L, "dbs"))):
                close(dW, p.dWs[l], f"dWs[{l}]")
                close(db, p.dbs[l], f"dbs[{l}]")

        _judge(form, returned, compare)
