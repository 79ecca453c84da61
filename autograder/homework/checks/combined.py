"""Checks of the student's functions working together: gradient checking and training.

Both are driven from the grader (autograder.homework.checks.drive): the student's code only answers
the chain forward_prop -> backward_prop -> compute_gradients, and what that chain is compared with
never comes from a student function. The gradient check compares it with the exact gradient of
the reference (computed once per process); training takes its steps from the student's summed
gradients and each step's loss from the given forward pass and squared loss, run here.

backward_prop gets the student's own loss in the chain (Own("loss")): these cells judge the five
functions together, and a student's loss is also judged on its own, fed plain inputs, by its own
cells. No value compared here depends on what the student's loss returns except through the
gradients it gives backward_prop, which must be right.
"""

from functools import cache

import numpy as np

from solutions import backprop as reference
from solutions import helpers

from ...calls import Own, Submission
from .. import cases, spec
from ..collaborators import REFERENCE
from . import check, drive
from .compare import fail

STUDENT = drive.Functions(Own("sigmoid"), Own("loss"), Own("forward_prop"), Own("backward_prop"),
                          Own("compute_gradients"))


def _networks() -> list[cases.Network]:
    """The hidden networks the five functions are checked on together: the sigmoid ones, run
    with the student's own sigmoid (the others' activations are not part of the homework)."""
    return [net for net in cases.networks() if net.activation == spec.COMBINED_ACTIVATION]


def _norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(np.square(g)) for part in grads for g in part)))


def _finite(grads, what: str, label: str) -> None:
    """Fail on nan or inf in any layer's gradient, naming it: no reduction may skip them."""
    for name, part in zip("Wb", grads):
        for l, grad in enumerate(part):
            if not np.all(np.isfinite(grad)):
                fail(f"for {label}, d{name}s[{l}] ({what}, {helpers.parameter_layer_name(l)}) contains nan or inf")


@cache
def reference_gradients() -> tuple:
    """The exact gradient (dWs, dbs) of every combined network, by the reference's chain."""
    return tuple(helpers.backprop_gradients(net.x, net.y, net.Ws, net.bs, REFERENCE[net.activation], reference.loss,
                                            reference.forward_prop, reference.backward_prop,
                                            reference.compute_gradients) for net in _networks())


@check("gradient_check")
def gradient_check(sub: Submission) -> dict:
    """The student's back-propagated gradients agree with the exact gradient, layer by layer."""
    nets = _networks()
    analytic = drive.chain(sub, [(net.x, net.y, net.Ws, net.bs) for net in nets], STUDENT)
    errors = {}
    for net, grads, exact in zip(nets, analytic, reference_gradients()):
        _finite(grads, "back-propagated", net.label)
        # All zeros would be "wrong by 1 in every layer"; say what it is instead.
        if _norm(grads) == 0.0:
            fail(f"for {net.label}, your back-propagated gradients are all 0, but the loss does change "
                 "with the weights; check backward_prop (dldhs[L] = loss'(f(zs[L])[0], y)) and compute_gradients")
        layer_errors = helpers.layer_errors(grads, exact)
        errors[net.label] = layer_errors
        worst = int(np.argmax(layer_errors))
        if not layer_errors[worst] <= spec.GRADCHECK_TOL:
            fail(f"for {net.label}, the gradients of {helpers.parameter_layer_name(worst)} disagree with the "
                 f"correct gradient (which finite differences give): relative error {layer_errors[worst]:.1e} "
                 f"(a correct gradient gives below {spec.GRADCHECK_TOL:g})", relative_errors=errors)
    return {"relative_errors": errors}


@cache
def reference_losses() -> tuple[float, ...]:
    x, y, Ws, bs = cases.training_run()
    return tuple(helpers.train(x, y, Ws, bs, spec.TRAINING_ETA, spec.TRAINING_EPOCHS, reference.sigmoid,
                               reference.loss, reference.forward_prop, reference.backward_prop,
                               reference.compute_gradients)[2])


@check("training")
def training(sub: Submission) -> dict:
    """A short deterministic run of gradient descent, stepped by the student's gradients, follows
    the reference's loss curve (each step's loss computed here from the weights reached)."""
    x, y, Ws, bs = cases.training_run()
    _, _, losses = drive.train(sub, x, y, Ws, bs, spec.TRAINING_ETA, spec.TRAINING_EPOCHS, STUDENT)
    Es = np.array(losses, dtype=float)
    expected = np.array(reference_losses())
    details = {"losses": Es.tolist(), "reference": expected.tolist()}
    if not np.all(np.isfinite(Es)):
        fail("the training loss became nan or inf", **details)
    if not Es[-1] < Es[0]:
        fail(f"the training loss did not decrease ({Es[0]:.4g} at the start, {Es[-1]:.4g} after "
             f"{spec.TRAINING_EPOCHS} steps)", **details)
    far = ~(np.abs(Es - expected) <= spec.TRAINING_RTOL * np.abs(expected))
    if np.any(far):
        step = int(np.argmax(far))
        fail(f"the training loss decreases but departs from the reference's from step {step} on "
             f"({Es[step]:.6g} instead of {expected[step]:.6g})", **details)
    return details
