"""Chaining student functions from the grader: gradient checks and training, stage by stage.

The sandbox only calls a student function on arguments chosen here and sends back what it
returned; everything that combines those returns (summed gradients, weight updates) is computed
in this process, and every number a joint check compares with is one no student function sees
the inputs of: the loss E and its finite differences come from helpers.network_loss (a given
forward pass and squared loss) run here. The student's functions only ever answer the chain
forward_prop -> backward_prop -> compute_gradients, one call per sample and stage; calls that do
not depend on each other go out together (one `call_many` per stage), so a training step costs
three round trips whatever the number of samples.

Functions are named by markers (calls.Own, calls.Ref). Results follow solutions.helpers exactly:
the same operations in the same order, so the numbers agree bit for bit with the notebook's helpers.
"""

from dataclasses import dataclass

import numpy as np

from solutions import helpers

from ...calls import Invalid, Own, Ref, Returned, StudentError, Submission, Target
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
    """A watched stage changed something that calls of an earlier stage (or of other samples)
    also read, such as the network's weights: in a kernel those calls would have seen the
    change, so staged batching cannot give the kernel's result (the caller then runs the
    notebook's helper call by call, as a kernel does)."""


def run(sub: Submission, calls: list[tuple], watch: bool = False) -> list:
    """Each (target, *args) call's Returned, in order; raises the first StudentError.

    Reference targets run here; the others go to the submission in one exchange. watch: the
    calls share the arrays they have in common, and each Returned says what its call changed.
    """
    remote = [call for call in calls if not isinstance(call[0], Ref)]
    results = (sub.call_many(remote, watch=True) if watch else sub.call_many(remote)) if remote else []
    returned = iter(results)
    values = []
    for call in calls:
        if isinstance(call[0], Ref):
            with np.errstate(all="ignore"):
                values.append(Returned(REFERENCE[call[0].name](*call[1:])))
            continue
        item = next(returned)
        if isinstance(item, StudentError):
            raise item
        values.append(item)
    return values


def _keep_changes(results: list, own: list[list]) -> None:
    """Apply what each watched call did to the arrays of its own sample (own[i]: the arrays
    only call i was given), as a kernel would have; Mutated if it changed anything else."""
    for r, arrays in zip(results, own):
        mine = {id(a) for a in arrays}
        if r.lists or any(id(original) not in mine for original, _ in r.changed):
            raise Mutated()
        for original, now in r.changed:
            original[...] = now


def local(fn: Target) -> Target:
    """fn for a given network_loss run in this process: a public activation stays itself, and
    the student's own activation becomes the reference's (a correct sigmoid agrees with it to
    ~1e-16; a wrong one is judged in its own cells and by the chain)."""
    return Ref(fn.name) if isinstance(fn, Own) else fn


def network_loss(x, y, Ws, bs, f: Target) -> float:
    """helpers.network_loss, computed here: a Ref activation resolved in this process."""
    with np.errstate(all="ignore"):
        return helpers.network_loss(x, y, Ws, bs, REFERENCE[local(f).name])


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


def chain(sub: Submission, problems: list[tuple], fns: Functions, watch: bool = False) -> list[tuple]:
    """Per problem (x, y, Ws, bs): the student's back-propagated gradients (dWs, dbs), as
    helpers.backprop_gradients gives them, in three exchanges for all problems together.

    watch: kernel semantics for arguments changed in place (helpers pass forward_prop's own zs
    on to backward_prop and compute_gradients): what backward_prop does to its sample's zs
    reaches compute_gradients; a change to anything shared (x, Ws, bs, y) raises Mutated.
    compute_gradients is the last call of its sample, so what it changes is never read again.
    """
    forward = run(sub, [(fns.forward_prop, x, fns.f, Ws, bs) for x, _, Ws, bs in problems], watch)
    if watch and any(r.mutated for r in forward):
        raise Mutated()
    passes = [_forward(r.value, len(Ws)) for r, (_, _, Ws, _) in zip(forward, problems)]
    passes = [(argument(hs), argument(zs)) for hs, zs in passes]
    back = run(sub, [(fns.backward_prop, fns.loss, fns.f, Ws, bs, zs, y)
                     for (hs, zs), (_, y, Ws, bs) in zip(passes, problems)], watch)
    if watch:
        _keep_changes(back, [[a for a in zs if isinstance(a, np.ndarray)] for _, zs in passes])
    third = [(fns.compute_gradients, argument(items(r.value, len(Ws) + 1, "dldhs")), fns.f, zs, hs)
             for r, (hs, zs), (_, _, Ws, _) in zip(back, passes, problems)]
    grads = run(sub, third)
    return [_gradients(r.value, Ws, bs, "back-propagated") for r, (_, _, Ws, bs) in zip(grads, problems)]


def train(sub: Submission, x, y, Ws, bs, eta: float, epochs: int, fns: Functions, watch: bool = False):
    """helpers.train, driven from here: batch gradient descent, three exchanges per step.

    x: (n_0, N); y: (n_L, N). Each step's weights come from the student's summed gradients and
    its loss E from helpers.network_loss on the current weights, computed here. Returns
    (Ws, bs, Es) as helpers.train does (watch: see chain).
    """
    Ws = [np.array(W, dtype=float) for W in Ws]
    bs = [np.array(b, dtype=float) for b in bs]
    L, samples = len(Ws), range(x.shape[1])
    Es = []
    for _ in range(epochs):
        grads = chain(sub, [(x[:, [t]], y[:, [t]], Ws, bs) for t in samples], fns, watch)
        dWs = [np.zeros_like(W) for W in Ws]
        dbs = [np.zeros_like(b) for b in bs]
        with np.errstate(all="ignore"):  # a student's inf or nan is judged, not warned about
            for dtWs, dtbs in grads:
                for l in range(L):
                    dWs[l] += dtWs[l]
                    dbs[l] += dtbs[l]
            E = network_loss(x, y, Ws, bs, fns.f)
            for l in range(L):
                Ws[l] = Ws[l] - eta * dWs[l]
                bs[l] = bs[l] - eta * dbs[l]
        Es.append(E)
    return Ws, bs, Es


# Finite differences by their inputs: the visible tests' networks are the same for every
# submission, and nothing of the student's goes into them, so each is computed once per process.
_DIFFERENCES: dict = {}
_KEEP = 64


def _key(*arrays) -> tuple:
    return tuple((np.shape(a), np.asarray(a, dtype=float).tobytes()) for a in arrays)


def finite_differences(x, y, Ws, bs, f: Target, eps: float) -> tuple[list, list]:
    """helpers.finite_difference_gradients, computed here from the given network_loss (copies:
    the caller may change what it gets)."""
    name = local(f).name
    key = (name, float(eps), len(Ws), _key(x, y, *Ws, *bs))
    if key not in _DIFFERENCES:
        fn = REFERENCE[name]
        with np.errstate(all="ignore"):
            grads = helpers.numerical_gradients(lambda Ws, bs: helpers.network_loss(x, y, Ws, bs, fn), Ws, bs, eps)
        if len(_DIFFERENCES) >= _KEEP:
            _DIFFERENCES.pop(next(iter(_DIFFERENCES)))
        _DIFFERENCES[key] = grads
    dWs, dbs = _DIFFERENCES[key]
    return [g.copy() for g in dWs], [g.copy() for g in dbs]


def gradient_check(sub: Submission, x, y, Ws, bs, fns: Functions, eps: float = 1e-6, watch: bool = False) -> list:
    """helpers.gradient_check, driven from here: relative error per layer (watch: see chain)."""
    numeric = finite_differences(x, y, Ws, bs, fns.f, eps)  # before the calls, as helpers.gradient_check
    (analytic,) = chain(sub, [(x, y, Ws, bs)], fns, watch)
    return helpers.layer_errors(analytic, numeric)
