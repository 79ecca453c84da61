"""Chaining student functions from the grader: gradient checks and training, call by call.

The sandbox only calls a student function on arguments chosen here and sends back what it
returned; everything that combines those returns (finite differences, summed gradients, weight
updates, losses) is computed in this process. Calls that do not depend on each other go out
together (one `call_many` per stage), so a training step costs three round trips whatever the
number of samples.

Functions are named by markers (calls.Own, calls.Ref); a Ref that this code must call itself
(a reference loss) is computed here. Results follow solutions.helpers exactly: the same
operations in the same order, so the numbers agree bit for bit with the notebook's helpers.
"""

from dataclasses import dataclass

import numpy as np

from solutions import helpers

from ...calls import Invalid, Ref, StudentError, Submission, Target
from ..collaborators import REFERENCE
from .compare import array, fail, items


@dataclass(frozen=True)
class Functions:
    """The five functions of the homework (or stand-ins), by marker."""

    f: Target
    loss: Target
    forward_prop: Target
    backward_prop: Target
    compute_gradients: Target


def argument(value):
    """A returned value made fit to pass on: a None placeholder returned as Invalid is None again."""
    if isinstance(value, Invalid) and value.description == "None":
        return None
    if isinstance(value, list):
        return [argument(item) for item in value]
    return value


class Mutated(Exception):
    """A watched stage found a call that changed its arguments in place: in a kernel, later calls
    would have seen the change, so batching does not give the kernel's result."""


def run(sub: Submission, calls: list[tuple], watch: bool = False) -> list:
    """Each (target, *args) call's returned value, in order; raises the first StudentError.

    Reference targets run here; the others go to the submission in one exchange. watch: raise
    Mutated if any call changed its arguments.
    """
    remote = [call for call in calls if not isinstance(call[0], Ref)]
    results = sub.call_many(remote, watch=True) if remote and watch else sub.call_many(remote) if remote else []
    if watch and any(not isinstance(r, StudentError) and r.mutated for r in results):
        raise Mutated()
    returned = iter(results)
    values = []
    for call in calls:
        if isinstance(call[0], Ref):
            with np.errstate(all="ignore"):
                values.append(REFERENCE[call[0].name](*call[1:]))
            continue
        item = next(returned)
        if isinstance(item, StudentError):
            raise item
        values.append(item.value)
    return values


def _total(value, what: str) -> float:
    """E for one sample: the loss's value l summed over outputs (nan or inf fail here)."""
    if isinstance(value, tuple):  # a reference loss, computed here
        value = [np.asarray(v, dtype=float) for v in value]
    E = float(np.sum(array(items(value, 2, f"{what}'s result (l, g)")[0], f"{what}'s l")))
    if not np.isfinite(E):
        fail(f"{what} gave a loss of {E}")
    return E


def _forward(value, L: int) -> tuple[list, list]:
    hs, zs = items(value, 2, "forward_prop's result (hs, zs)")
    return items(hs, L + 1, "hs"), items(zs, L + 1, "zs")


def _gradients(value, Ws: list, bs: list, what: str) -> tuple[list, list]:
    """(dWs, dbs) shaped like (Ws, bs), or fail saying what is off."""
    L = len(Ws)
    dWs, dbs = items(value, 2, f"the {what} gradients (dWs, dbs)")
    grads = items(dWs, L, "dWs") + items(dbs, L, "dbs")
    for k, (grad, param) in enumerate(zip(grads, list(Ws) + list(bs))):
        name = f"d{'Wb'[k >= L]}s[{k % L}]"
        if array(grad, f"{name} ({what})").shape != np.shape(param):
            fail(f"{name} ({what}) has shape {grad.shape}, expected {np.shape(param)}")
    return grads[:L], grads[L:]


def perturbations(Ws: list, bs: list, eps: float):
    """For every parameter in order (Ws, then bs, each in index order), the network with that
    parameter moved up and down by eps / 2, as helpers.numerical_gradients moves it."""
    params = [np.array(p, dtype=float) for p in list(Ws) + list(bs)]
    L = len(Ws)
    for k, p in enumerate(params):
        for idx in np.ndindex(p.shape):
            moved = []
            for step in (0.5 * eps, -0.5 * eps):
                q = p.copy()
                q[idx] = p[idx] + step
                network = params[:k] + [q] + params[k + 1:]
                moved.append((network[:L], network[L:]))
            yield k, idx, moved


def gradient_pairs(sub: Submission, problems: list[tuple], fns: Functions, eps: float,
                   watch: bool = False) -> list[tuple]:
    """Per problem (x, y, Ws, bs): (back-propagated, finite-difference) gradients, each (dWs, dbs).

    Three stages for all problems together: forward passes (the network and every perturbed
    copy), then back-propagation and the losses of the perturbed predictions, then gradients.
    """
    forward, plans = [], []
    for x, _, Ws, bs in problems:
        moves = list(perturbations(Ws, bs, eps))
        plans.append(moves)
        forward.append((fns.forward_prop, x, fns.f, Ws, bs))
        forward += [(fns.forward_prop, x, fns.f, mW, mb) for _, _, moved in moves for mW, mb in moved]
    outputs = iter(run(sub, forward, watch))
    second, firsts = [], []
    for (_, y, Ws, bs), moves in zip(problems, plans):
        L = len(Ws)
        hs, zs = _forward(next(outputs), L)
        firsts.append((hs, zs))
        second.append((fns.backward_prop, fns.loss, fns.f, Ws, bs, argument(zs), y))
        for _ in range(2 * len(moves)):
            moved_hs, _ = _forward(next(outputs), L)
            second.append((fns.loss, argument(moved_hs[-1]), y))
    results = iter(run(sub, second, watch))
    third, numerics = [], []
    for (_, _, Ws, bs), moves, (hs, zs) in zip(problems, plans, firsts):
        dldhs = items(next(results), len(Ws) + 1, "dldhs")
        third.append((fns.compute_gradients, argument(dldhs), fns.f, argument(zs), argument(hs)))
        grads = [np.zeros(np.shape(p)) for p in list(Ws) + list(bs)]
        for k, idx, _ in moves:
            up, down = _total(next(results), "loss"), _total(next(results), "loss")
            grads[k][idx] = (up - down) / eps
        numerics.append((grads[:len(Ws)], grads[len(Ws):]))
    analytic = run(sub, third, watch)
    return [(_gradients(a, Ws, bs, "back-propagated"), n)
            for a, n, (_, _, Ws, bs) in zip(analytic, numerics, problems)]


def train(sub: Submission, x, y, Ws, bs, eta: float, epochs: int, fns: Functions, watch: bool = False):
    """helpers.train, driven from here: batch gradient descent, three exchanges per step.

    x: (n_0, N); y: (n_L, N). Returns (Ws, bs, Es) as helpers.train does (watch: see run).
    """
    Ws = [np.array(W, dtype=float) for W in Ws]
    bs = [np.array(b, dtype=float) for b in bs]
    L, samples = len(Ws), range(x.shape[1])
    columns = [(x[:, [t]], y[:, [t]]) for t in samples]
    Es = []
    for _ in range(epochs):
        passes = [_forward(v, L) for v in run(sub, [(fns.forward_prop, xt, fns.f, Ws, bs) for xt, _ in columns],
                                              watch)]
        second = [(fns.backward_prop, fns.loss, fns.f, Ws, bs, argument(zs), yt)
                  for (hs, zs), (_, yt) in zip(passes, columns)]
        second += [(fns.loss, argument(hs[-1]), yt) for (hs, _), (_, yt) in zip(passes, columns)]
        back = run(sub, second, watch)
        dldhss = [items(v, L + 1, "dldhs") for v in back[:len(columns)]]
        grads = run(sub, [(fns.compute_gradients, argument(dldhs), fns.f, argument(zs), argument(hs))
                          for dldhs, (hs, zs) in zip(dldhss, passes)], watch)
        dWs = [np.zeros_like(W) for W in Ws]
        dbs = [np.zeros_like(b) for b in bs]
        E = 0.0
        with np.errstate(all="ignore"):  # a student's inf or nan is judged, not warned about
            for t in samples:
                dtWs, dtbs = _gradients(grads[t], Ws, bs, "back-propagated")
                for l in range(L):
                    dWs[l] += dtWs[l]
                    dbs[l] += dtbs[l]
                E += _total(back[len(columns) + t], "loss")
            for l in range(L):
                Ws[l] = Ws[l] - eta * dWs[l]
                bs[l] = bs[l] - eta * dbs[l]
        Es.append(E)
    return Ws, bs, Es


def gradient_check(sub: Submission, x, y, Ws, bs, fns: Functions, eps: float = 1e-6, watch: bool = False) -> list:
    """helpers.gradient_check, driven from here: relative error per layer (watch: see run)."""
    (analytic, numeric), = gradient_pairs(sub, [(x, y, Ws, bs)], fns, eps, watch)
    return helpers.layer_errors(analytic, numeric)
