"""Checks of loss and sigmoid, each fed plain inputs only."""

import numpy as np

from ...calls import Own, Returned, Submission, unwrap
from .. import cases
from ..collaborators import REFERENCE
from . import check
from .compare import close, items, repeatable, unchanged


def _pair(returned: Returned, function: str, names: tuple[str, str]) -> list:
    return items(returned.value, 2, f"{function}'s result {names}")


@check("loss_values")
def loss_values(sub: Submission) -> None:
    returns = sub.call_many([(Own("loss"), yhat, y) for yhat, y in cases.LOSS_CASES])
    for (yhat, y), returned in zip(cases.LOSS_CASES, returns):
        l_ref, g_ref = REFERENCE["loss"](yhat, y)
        l, g = _pair(unwrap(returned), "loss", ("l", "g"))
        close(l, l_ref, "the loss l", scalar=True,
              hint="l = 0.5 * (yhat - y)**2")
        close(g, g_ref, "the derivative g", hint="g = d l / d yhat = yhat - y, shaped like yhat")


@check("loss_hygiene")
def loss_hygiene(sub: Submission) -> None:
    yhat, y = cases.LOSS_CASES[-1]
    first = sub.call(Own("loss"), yhat, y, watch=True)
    unchanged(first.mutated, ("yhat", "y"), "loss")
    repeatable(first, sub.call(Own("loss"), yhat, y), "loss")


@check("sigmoid_values")
def sigmoid_values(sub: Submission) -> None:
    returns = sub.call_many([(Own("sigmoid"), z) for z in cases.SIGMOID_CASES])
    for z, returned in zip(cases.SIGMOID_CASES, returns):
        h_ref, g_ref = REFERENCE["sigmoid"](z)
        h, g = _pair(unwrap(returned), "sigmoid", ("h", "g"))
        shape = np.shape(z)
        close(h, h_ref, f"h for an input of shape {shape}", hint="h = 1 / (1 + exp(-z)), elementwise")
        close(g, g_ref, f"g for an input of shape {shape}", hint="g = h * (1 - h)")


@check("sigmoid_extremes")
def sigmoid_extremes(sub: Submission) -> None:
    z = cases.SIGMOID_EXTREMES
    h_ref, g_ref = REFERENCE["sigmoid"](z)
    h, g = _pair(sub.call(Own("sigmoid"), z), "sigmoid", ("h", "g"))
    close(h, h_ref, "h for very large |z| (past where exp overflows)",
          hint="sigmoid must tend to 0 and 1, never give nan; 1 / (1 + exp(-z)) does")
    close(g, g_ref, "g for very large |z| (past where exp overflows)",
          hint="the derivative must tend to 0, never give nan; h * (1 - h) does")


@check("sigmoid_hygiene")
def sigmoid_hygiene(sub: Submission) -> None:
    z = cases.SIGMOID_CASES[1]
    first = sub.call(Own("sigmoid"), z, watch=True)
    unchanged(first.mutated, ("z",), "sigmoid")
    repeatable(first, sub.call(Own("sigmoid"), z), "sigmoid")

