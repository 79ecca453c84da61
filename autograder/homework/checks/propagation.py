"""Checks of forward_prop and backward_prop, each fed reference collaborators."""

import numpy as np

from solutions import helpers

from ...calls import Own, Ref, Submission, unwrap
from .. import cases, spec
from . import check
from .compare import CheckFailed, array, close, fail, items, repeatable, unchanged
from .expected import passes

# The loss handed to backward_prop is the notebook's public stand-in for the squared loss (the same
# function as the reference loss), so it runs next to the student's code without a round trip.
LOSS = Ref("half_squares")


def _forward(returned, net: cases.Network):
    L = len(net.Ws)
    hs, zs = items(unwrap(returned).value, 2, "forward_prop's result (hs, zs)")
    return items(hs, L + 1, "hs"), items(zs, L + 1, "zs")


@check("forward_prop_xor")
def forward_prop_xor(sub: Submission) -> None:
    """As the visible test: the lecture's XOR network with the logistic stand-in."""
    Ws, bs = helpers.xor_network(spec.XOR_F)
    returns = sub.call_many([(Own("forward_prop"), x, Ref("logistic"), Ws, bs) for x in cases.xor_inputs()])
    for x, expected, returned in zip(cases.xor_inputs(), spec.XOR_OUTPUTS, returns):
        hs, _ = items(unwrap(returned).value, 2, "forward_prop's result (hs, zs)")
        out = array(items(hs, 3, "hs for the XOR network")[-1], "the XOR output hs[-1]")
        if out.size != 1 or not abs(float(out.ravel()[0]) - expected) <= spec.XOR_ATOL:
            fail(f"the XOR network's output for input {x.ravel().astype(int).tolist()} should be "
                 f"{expected}, got {np.round(out.ravel(), 6).tolist()}")


@check("forward_prop_networks")
def forward_prop_networks(sub: Submission) -> None:
    nets = cases.networks()
    returns = sub.call_many([(Own("forward_prop"), net.x, Ref(net.activation), net.Ws, net.bs) for net in nets])
    for net, p, returned in zip(nets, passes(), returns):
        hs_ref, zs_ref = p.hs, p.zs
        hs, zs = _forward(returned, net)
        close(hs[0], net.x, f"hs[0] for {net.label}", hint="hs[0] is the input x")
        for l in range(1, len(hs_ref)):
            close(zs[l], zs_ref[l], f"zs[{l}] for {net.label}", hint="z^l = W^l h^(l-1) + b^l")
            close(hs[l], hs_ref[l], f"hs[{l}] for {net.label}", hint="h^l = f(z^l)[0]")


@check("forward_prop_hygiene")
def forward_prop_hygiene(sub: Submission) -> None:
    net = cases.networks()[3]
    first = sub.call(Own("forward_prop"), net.x, Ref(net.activation), net.Ws, net.bs, watch=True)
    unchanged(first.mutated, ("x", "f", "Ws", "bs"), "forward_prop")
    repeatable(first, sub.call(Own("forward_prop"), net.x, Ref(net.activation), net.Ws, net.bs),
               "forward_prop")


def _backward(sub: Submission, net: cases.Network, zs, poison: dict | None = None):
    returned = sub.call(Own("backward_prop"), LOSS, Ref(net.activation), net.Ws, net.bs, zs, net.y, poison=poison)
    return items(returned.value, len(net.Ws) + 1, "dldhs"), returned


def _expect_backward(dldhs, net: cases.Network, expected: list) -> None:
    L = len(net.Ws)
    close(dldhs[L], expected[L], f"dldhs[{L}] (the top) for {net.label}",
          hint="start from loss(f(zs[L])[0], y)[1], the derivative at the prediction")
    for l in reversed(range(L)):
        close(dldhs[l], expected[l], f"dldhs[{l}] for {net.label}",
              hint=f"dldhs[{l + 1}] is right, so check the step down: dldhs[{l}][j] = sum over i "
                   f"of dldhs[{l + 1}][i] * f'(zs[{l + 1}][i]) * Ws[{l}][i, j], accumulated over i")


@check("backward_prop_networks")
def backward_prop_networks(sub: Submission) -> None:
    nets = cases.networks()
    returns = sub.call_many([(Own("backward_prop"), LOSS, Ref(net.activation), net.Ws, net.bs, p.zs, net.y)
                             for net, p in zip(nets, passes())])
    for net, p, returned in zip(nets, passes(), returns):
        _expect_backward(items(unwrap(returned).value, len(net.Ws) + 1, "dldhs"), net, p.dldhs)


@check("backward_prop_no_global_hs")
def backward_prop_no_global_hs(sub: Submission) -> None:
    """A stale notebook global `hs` must not change the answer: the prediction is f(zs[L])[0]."""
    net, p = cases.networks()[2], passes()[2]
    stale = [h + 0.25 for h in p.hs]
    dldhs, _ = _backward(sub, net, p.zs, poison={"hs": stale})
    try:
        _expect_backward(dldhs, net, p.dldhs)
    except CheckFailed:
        fresh, _ = _backward(sub, net, p.zs, poison={"hs": p.hs})
        try:
            _expect_backward(fresh, net, p.dldhs)
        except CheckFailed:
            raise
        fail("backward_prop reads the notebook's global variable hs instead of its arguments; "
             "compute the prediction as f(zs[L])[0]")


@check("backward_prop_hygiene")
def backward_prop_hygiene(sub: Submission) -> None:
    net, zs = cases.networks()[4], passes()[4].zs
    first = sub.call(Own("backward_prop"), LOSS, Ref(net.activation), net.Ws, net.bs, zs, net.y, watch=True)
    unchanged(first.mutated, ("loss", "f", "Ws", "bs", "zs", "y"), "backward_prop")
    second = sub.call(Own("backward_prop"), LOSS, Ref(net.activation), net.Ws, net.bs, zs, net.y)
    repeatable(first, second, "backward_prop")
