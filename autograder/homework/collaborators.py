"""Reference collaborators a check hands to a student function, by name.

A `test_<function>*` check feeds the function under test these instead of the student's own
loss and activation, so a mistake in one function never costs points in another's cells. The
public stand-ins run where the student's code runs (autograder.homework.stand_ins); the reference loss
and sigmoid are graded answers, which the kit's grader computes in its own process during the
call they serve (autograder.running.sandbox.remote).
"""

from solutions import backprop

from .stand_ins import PUBLIC

SECRET = {"loss": backprop.loss, "sigmoid": backprop.sigmoid}
REFERENCE = {**PUBLIC, **SECRET}
