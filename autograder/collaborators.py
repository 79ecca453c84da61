"""Reference collaborators a check hands to a student function, by name.

A `test_<function>*` check feeds the function under test these instead of the student's own
loss and activation, so a mistake in one function never costs points in another's cells.
"""

from solutions import backprop, helpers

REFERENCE = {
    "loss": backprop.loss,
    "sigmoid": backprop.sigmoid,
    "tanh": helpers.tanh,
    "identity": helpers.identity,
}
