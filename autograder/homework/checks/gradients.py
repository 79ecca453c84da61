"""Checks of compute_gradients, fed reference dldhs, zs and hs."""

from ...calls import Own, Ref, Submission, unwrap
from .. import cases
from . import check
from .compare import close, items, repeatable, unchanged
from .expected import passes


@check("compute_gradients_networks")
def compute_gradients_networks(sub: Submission) -> None:
    nets = cases.networks()
    returns = sub.call_many([(Own("compute_gradients"), p.dldhs, Ref(net.activation), p.zs, p.hs)
                             for net, p in zip(nets, passes())])
    for net, p, returned in zip(nets, passes(), returns):
        dWs_ref, dbs_ref = p.dWs, p.dbs
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
    net, p = cases.networks()[4], passes()[4]
    dldhs, zs, hs = p.dldhs, p.zs, p.hs
    first = sub.call(Own("compute_gradients"), dldhs, Ref(net.activation), zs, hs, watch=True)
    unchanged(first.mutated, ("dldhs", "f", "zs", "hs"), "compute_gradients")
    repeatable(first, sub.call(Own("compute_gradients"), dldhs, Ref(net.activation), zs, hs),
               "compute_gradients")
