"""What is graded: the homework's facts and its hidden checks.

spec.py (cells, points, hidden inputs' set-up, tolerances: where points are set), spec_text.py (the
spec in words, for the notebook's prose and README), cases.py (the hidden inputs), checks/ (the
hidden tests, by id, and drive.py, which chains student calls for the gradient check and training),
collaborators.py and stand_ins.py (what a check hands a student function), hints.py (advice on
common errors). This __init__.py is copied into the sandbox with stand_ins.py (public code):
it imports nothing.

May import: the base (autograder.calls, autograder.untrusted) and solutions/. Never how student
code runs (running/) nor anything above it: a check names the functions it calls and receives
plain values, wherever they ran.
"""
