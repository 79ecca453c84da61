"""backprop-kit's grading package. Its subpackages, bottom to top; a module imports only from its own
subpackage and those below it (tests/test_layers.py checks it), and nothing imports the CLI:

calls.py, untrusted.py  the base: how checks name student functions and what comes back; student text made safe
homework/    what is graded: the spec (cells, points, tolerances), hidden inputs, the hidden checks, hints
running/     how student code runs: in the notebook kernel, or in the sandbox (running/sandbox/)
judging/     one submission judged: its visible tests and hidden checks, in the grader's process
course/      the nbgrader course: its folder and CLI, the gradebook, each student's graded record
authoring/   the notebook built from its source and the spec; the self-test `make release` runs
outputs/     what the kit writes from the records: feedback pages, exports, the class report, score tables
grading/     a class graded: `python -m autograder grade` (workers, Dask) and nbgrader's autograde
gradescope/  the Gradescope autograder zip and the runner it starts
demo.py, __main__.py  `make demo`, and the command line (python -m autograder --help)
"""
