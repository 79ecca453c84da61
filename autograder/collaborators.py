"""Reference collaborators a check hands to a student function, by name.

A `test_<function>*` check feeds the function under test these instead of the student's own
loss and activation, so a mistake in one function never costs points in another's cells. All
of them are computed in the grader's process, during the call they serve: the sandbox holds
none of them.
"""

from solutions import backprop, helpers

# Stand-ins the notebook itself defines (activations and the tests' stand-ins).
PUBLIC = {name: getattr(helpers, name) for name in ("tanh", "identity", "logistic", "double", "half_squares")}
# Graded answers: the reference loss and sigmoid.
SECRET = {"loss": backprop.loss, "sigmoid": backprop.sigmoid}
REFERENCE = {**PUBLIC, **SECRET}
