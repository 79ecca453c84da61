"""Checks of the student's functions working together: gradient checking and training.

Both are driven from the grader (autograder.homework.checks.drive): the student's code only answers single
calls, and the finite differences, summed gradients and weight updates are computed here.
"""

from functools import cache

import numpy as np

from solutions import backprop as reference
from solutions import helpers

from ...calls import Own, Submission
from .. import cases, spec
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
def _reference_norms() -> tuple[float, ...]:
    return tuple(_norm(helpers.backprop_gradients(net.x, net.y, net.Ws, net.bs, reference.sigmoid, reference.loss,
                                                  reference.forward_prop, reference.backward_prop,
                                                  reference.compute_gradients)) for net in _networks())


@check("gradient_check")
def gradient_check(sub: Submission) -> dict:
    """Back-propagated gradients agree with centred finite differences of the same network."""
    nets = _networks()
    pairs = drive.gradient_pairs(sub, [(net.x, net.y, net.Ws, net.bs) for net in nets], STUDENT,
                                 spec.GRADCHECK_EPS)
    errors = {}
    for net, (analytic, numeric), reference_norm in zip(nets, pairs, _reference_norms()):
        _finite(analytic, "back-propagated", net.label)
        _finite(numeric, "finite differences of your forward_prop and loss", net.label)
        # Agreement means little when nothing moves: a loss stuck at a constant agrees with itself.
        if not _norm(numeric) >= 1e-3 * reference_norm:
            fail(f"for {net.label}, the loss hardly changes when the weights change (its gradient is "
                 "about 0), so the gradient check cannot pass; check loss and forward_prop")
        layer_errors = helpers.layer_errors(analytic, numeric)
        errors[net.label] = layer_errors
        worst = int(np.argmax(layer_errors))
        if not layer_errors[worst] <= spec.GRADCHECK_TOL:
            fail(f"for {net.label}, the gradients of {helpers.parameter_layer_name(worst)} disagree with finite "
                 f"differences: relative error {layer_errors[worst]:.1e} (a correct gradient gives below "
                 f"{spec.GRADCHECK_TOL:g})", relative_errors=errors)
    return {"relative_errors": errors}


@cache
def reference_losses() -> tuple[float, ...]:
    x, y, Ws, bs = cases.training_run()
    return tuple(helpers.train(x, y, Ws, bs, spec.TRAINING_ETA, spec.TRAINING_EPOCHS, reference.sigmoid,
                               reference.loss, reference.forward_prop, reference.backward_prop,
                               reference.compute_gradients)[2])


@check("training")
def training(sub: Submission) -> dict:
    """A short deterministic run of gradient descent follows the reference's loss curve."""
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
