"""Checks of the student's functions working together: gradient checking and training."""

from functools import cache

import numpy as np

from solutions import backprop as reference
from solutions import helpers

from .. import cases, procedures, spec
from ..calls import Own, Procedure, Ref, Submission, unwrap
from ..collaborators import REFERENCE
from . import check
from .compare import array, fail, items

STUDENT = tuple(Own(name) for name in ("forward_prop", "backward_prop", "compute_gradients"))


def _activation(name: str):
    """The student's own sigmoid; the other activations are not part of the homework."""
    return Own("sigmoid") if name == "sigmoid" else Ref(name)


def _gradients(value, net: cases.Network, what: str) -> tuple[list, list]:
    L = len(net.Ws)
    dWs, dbs = items(value, 2, f"the {what} gradients (dWs, dbs)")
    grads = items(dWs, L, "dWs") + items(dbs, L, "dbs")
    for k, (grad, param) in enumerate(zip(grads, list(net.Ws) + list(net.bs))):
        name = f"d{'Wb'[k >= L]}s[{k % L}]"
        if array(grad, f"{name} ({what}) for {net.label}").shape != param.shape:
            fail(f"{name} ({what}) for {net.label} has shape {grad.shape}, expected {param.shape}")
    return grads[:L], grads[L:]


def _norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(np.square(g)) for part in grads for g in part)))


def _reference_gradients(net: cases.Network):
    f = REFERENCE[net.activation]
    return helpers.backprop_gradients(net.x, net.y, net.Ws, net.bs, f, reference.loss, reference.forward_prop,
                                      reference.backward_prop, reference.compute_gradients)


@check("gradient_check")
def gradient_check(sub: Submission) -> dict:
    """Back-propagated gradients agree with centred finite differences of the same network."""
    errors = {}
    nets = cases.networks()
    calls = []
    for net in nets:
        f = _activation(net.activation)
        calls += [(Procedure("backprop_gradients"), net.x, net.y, net.Ws, net.bs, f, Own("loss"), *STUDENT),
                  (Procedure("finite_difference_gradients"), net.x, net.y, net.Ws, net.bs, f, Own("loss"),
                   Own("forward_prop"), spec.GRADCHECK_EPS)]
    returns = sub.call_many(calls)
    for k, net in enumerate(nets):
        analytic, numeric = unwrap(returns[2 * k]).value, unwrap(returns[2 * k + 1]).value
        numeric = _gradients(numeric, net, "finite-difference")
        layer_errors = helpers.layer_errors(_gradients(analytic, net, "back-propagated"), numeric)
        # Agreement means little when nothing moves: a loss stuck at a constant agrees with itself.
        if _norm(numeric) < 1e-3 * _norm(_reference_gradients(net)):
            fail(f"for {net.label}, the loss hardly changes when the weights change (its gradient is "
                 "about 0), so the gradient check cannot pass; check loss and forward_prop")
        errors[net.label] = layer_errors
        worst = int(np.nanargmax(layer_errors)) if not np.all(np.isnan(layer_errors)) else 0
        if not layer_errors[worst] <= spec.GRADCHECK_TOL:
            fail(f"for {net.label}, the gradients of layer {worst} (dWs[{worst}], dbs[{worst}]) "
                 f"disagree with finite differences: relative error {layer_errors[worst]:.1e} "
                 f"(a correct gradient gives below {spec.GRADCHECK_TOL:g})", relative_errors=errors)
    return {"relative_errors": errors}


@cache
def reference_losses() -> tuple[float, ...]:
    x, y, Ws, bs = cases.training_run()
    return tuple(procedures.train_losses(
        x, y, Ws, bs, spec.TRAINING_ETA, spec.TRAINING_EPOCHS, reference.sigmoid, reference.loss,
        reference.forward_prop, reference.backward_prop, reference.compute_gradients))


@check("training")
def training(sub: Submission) -> dict:
    """A short deterministic run of gradient descent follows the reference's loss curve."""
    x, y, Ws, bs = cases.training_run()
    returned = sub.call(Procedure("train_losses"), x, y, Ws, bs, spec.TRAINING_ETA,
                        spec.TRAINING_EPOCHS, Own("sigmoid"), Own("loss"), *STUDENT).value
    losses = [array(e, "a training loss") for e in items(returned, spec.TRAINING_EPOCHS, "the losses")]
    Es = np.array([float(np.sum(e)) for e in losses])
    expected = np.array(reference_losses())
    details = {"losses": Es.tolist(), "reference": expected.tolist()}
    if not np.all(np.isfinite(Es)):
        fail("the training loss became nan or inf", **details)
    if not Es[-1] < Es[0]:
        fail(f"the training loss did not decrease ({Es[0]:.4g} at the start, {Es[-1]:.4g} after "
             f"{spec.TRAINING_EPOCHS} steps)", **details)
    if not np.allclose(Es, expected, rtol=spec.TRAINING_RTOL, atol=0):
        step = int(np.argmax(~np.isclose(Es, expected, rtol=spec.TRAINING_RTOL, atol=0)))
        fail(f"the training loss decreases but departs from the reference's from step {step} on "
             f"({Es[step]:.6g} instead of {expected[step]:.6g})", **details)
    return details
