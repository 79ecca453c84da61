"""One submission judged: a test cell's visible tests and hidden checks, run in the grader's process.

scoring.py (a cell's score: its visible tests and every hidden check pass, all or nothing; the
CellResult and CheckResult that records, feedback and exports read), visible.py (the notebook's
visible tests run with student functions as proxies), outcome.py (a submitted folder graded in a
sandbox: grade_one and its Outcome), hidden_tests.py (what the notebook's hidden-test cells call
under stock `nbgrader autograde`).

May import: running/, homework/ and the base.
"""
