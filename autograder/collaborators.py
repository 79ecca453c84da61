"""Reference collaborators a check hands to a student function, by name.

A `test_<function>*` check feeds the function under test these instead of the student's own
loss and activation, so a mistake in one function never costs points in another's cells. The
reference loss and sigmoid are graded answers: the kit's grader keeps them in its own process.
"""

from solutions import backprop

from .procedures import PUBLIC

SECRET = {"loss": backprop.loss, "sigmoid": backprop.sigmoid}
REFERENCE = {**PUBLIC, **SECRET}
