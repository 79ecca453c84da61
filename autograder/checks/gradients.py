"""Checks of compute_gradients, fed reference dldhs, zs and hs."""

from solutions import backprop as reference

from .. import cases
from ..calls import Own, Ref, Submission, unwrap
from ..collaborators import REFERENCE
from . import check
from .compare import close, items, repeatable, unchanged


def _inputs(net: cases.Network):
    f = REFERENCE[net.activation]
    hs, zs = reference.forward_prop(net.x, f, net.Ws, net.bs)
    dldhs = reference.backward_prop(reference.loss, f, net.Ws, net.bs, zs, net.y)
    return dldhs, zs, hs


@check("compute_gradients_networks")
def compute_gradients_networks(sub: Submission) -> None:
    nets = cases.networks()
    inputs = [_inputs(net) for net in nets]
    returns = sub.call_many([(Own("compute_gradients"), dldhs, Ref(net.activation), zs, hs)
                             for net, (dldhs, zs, hs) in zip(nets, inputs)])
    for net, (dldhs, zs, hs), returned in zip(nets, inputs, returns):
        dWs_ref, dbs_ref = reference.compute_gradients(dldhs, REFERENCE[net.activation], zs, hs)
        dWs, dbs = items(unwrap(returned).value, 2, "compute_gradients's result (dWs, dbs)")
        L = len(net.Ws)
        dWs, dbs = items(dWs, L, "dWs"), items(dbs, L, "dbs")
        for l in range(L):
            close(dWs[l], dWs_ref[l], f"dWs[{l}] for {net.label}",
                  hint=f"dWs[{l}] is shaped like Ws[{l}]: (dldhs[{l + 1}] * f'(zs[{l + 1}])) "
                       f"times hs[{l}] transposed")
            close(dbs[l], dbs_ref[l], f"dbs[{l}] for {net.label}",
                  hint=f"dbs[{l}] = dldhs[{l + 1}] * f'(zs[{l + 1}]), shaped like bs[{l}]")


@check("compute_gradients_hygiene")
def compute_gradients_hygiene(sub: Submission) -> None:
    net = cases.networks()[4]
    dldhs, zs, hs = _inputs(net)
    first = sub.call(Own("compute_gradients"), dldhs, Ref(net.activation), zs, hs, watch=True)
    unchanged(first.mutated, ("dldhs", "f", "zs", "hs"), "compute_gradients")
    repeatable(first, sub.call(Own("compute_gradients"), dldhs, Ref(net.activation), zs, hs),
               "compute_gradients")
