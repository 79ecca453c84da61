"""Fail closed on bad numbers: nan or inf in any returned value a check reads fails that check.

Each case runs one hidden check on the reference solution in process, with one position of
what one student function returns (an entry of hs[2], of dWs[0], of g, ...) replaced by nan or
inf in every call. No reduction may skip it: the check must fail, and say where. Positions no
check reads (the placeholder zs[0]; dldhs[0] when only compute_gradients uses dldhs) are listed.
"""

import numpy as np
import pytest

from autograder.calls import Own, Returned, StudentError
from autograder.homework.checks import CHECKS, CheckFailed
from autograder.running.in_process import InProcess
from tests.test_checks import notebook

VALUE_CHECKS = ("loss_values", "sigmoid_values", "sigmoid_extremes", "forward_prop_xor", "forward_prop_networks",
                "backward_prop_networks", "backward_prop_no_global_hs", "compute_gradients_networks",
                "gradient_check", "training", "loss_forms", "sigmoid_forms", "backward_prop_forms",
                "compute_gradients_forms")
PATHS = {
    "loss": [(0,), (1,)],
    "sigmoid": [(0,), (1,)],
    "forward_prop": [(part, l) for part in (0, 1) for l in range(5)],
    "backward_prop": [(l,) for l in range(5)],
    "compute_gradients": [(part, l) for part in (0, 1) for l in range(4)],
}
COMBINED = ("gradient_check", "training")


def unread(check_id: str, function: str, path: tuple) -> bool:
    """Positions the check never looks at, by design."""
    if function == "forward_prop" and path == (1, 0):
        return True  # zs[0] is a placeholder
    if check_id == "forward_prop_xor":
        return path != (0, 2)  # only the output hs[2] of the 2-layer XOR network
    if check_id in COMBINED:
        # dldhs[0] feeds nothing in compute_gradients, nor the output hs[L] (the chain reads the
        # prediction as f(zs[L])[0]); the grader never calls loss itself (only backward_prop does).
        output = (0, 4) if check_id == "gradient_check" else (0, 2)
        return (function, path) in (("backward_prop", (0,)), ("forward_prop", output))
    return False


class Poisoned:
    """The reference in process, with `bad` at `path` of everything `function` returns."""

    def __init__(self, function: str, path: tuple, bad: float):
        self.inner = InProcess(notebook())
        self.function, self.path, self.bad = function, path, bad
        self.poisoned = 0

    def _poison(self, target, returned):
        if isinstance(returned, StudentError) or target != Own(self.function):
            return returned
        value = returned.value
        try:
            holder = value
            for k in self.path[:-1]:
                holder = holder[k]
            leaf = holder[self.path[-1]].copy()
        except (IndexError, TypeError, KeyError):
            return returned
        leaf.reshape(-1)[-1] = self.bad
        holder[self.path[-1]] = leaf
        self.poisoned += 1
        return Returned(value, returned.mutated, returned.lists, returned.changed)

    def call(self, target, *args, poison=None, watch=False):
        return self._poison(target, self.inner.call(target, *args, poison=poison, watch=watch))

    def call_many(self, calls):
        return [self._poison(call[0], r) for call, r in zip(calls, self.inner.call_many(calls))]


CASES = [pytest.param(check_id, function, path, bad, id=f"{check_id}-{function}{list(path)}-{bad}")
         for check_id in VALUE_CHECKS for function, paths in PATHS.items() for path in paths
         for bad in (np.nan, np.inf) if not unread(check_id, function, path)]


@pytest.mark.parametrize(("check_id", "function", "path", "bad"), CASES)
def test_nan_or_inf_fails_the_check(check_id, function, path, bad):
    sub = Poisoned(function, path, bad)
    try:
        CHECKS[check_id](sub)
    except CheckFailed as failed:
        assert str(failed), "the failure says what is wrong"
        return
    # A check that never received this position (another function's check, a shallower
    # network) cannot have read it.
    assert sub.poisoned == 0, f"{check_id} passed with {bad} in {function}'s result at {list(path)}"


def test_the_reference_passes_unpoisoned():
    sub = Poisoned("loss", (9,), np.nan)
    for check_id in VALUE_CHECKS:
        CHECKS[check_id](sub)
