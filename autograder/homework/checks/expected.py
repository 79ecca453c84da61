"""The reference's answers on the hidden networks, computed once per grading run.

They do not depend on the student, so every check reads them from here instead of running
the reference again for each submission.
"""

from dataclasses import dataclass
from functools import cache

from solutions import backprop as reference

from .. import cases
from ..collaborators import REFERENCE


@dataclass(frozen=True)
class Pass:
    """forward_prop, backward_prop and compute_gradients of the reference on one network
    (the reference loss and the network's activation): lists shaped as the docstrings say."""

    hs: list
    zs: list
    dldhs: list
    dWs: list
    dbs: list


@cache
def passes() -> tuple[Pass, ...]:
    out = []
    for net in cases.networks():
        f = REFERENCE[net.activation]
        hs, zs = reference.forward_prop(net.x, f, net.Ws, net.bs)
        dldhs = reference.backward_prop(reference.loss, f, net.Ws, net.bs, zs, net.y)
        dWs, dbs = reference.compute_gradients(dldhs, f, zs, hs)
        out.append(Pass(hs, zs, dldhs, dWs, dbs))
    return tuple(out)
