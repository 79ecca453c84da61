"""The nbgrader course: its folder, nbgrader's CLI and gradebook, and each student's graded record.

course.py (the course folder, the real nbgrader CLI and configuration), gradebook.py (scores and
late penalties into nbgrader's gradebook; graded notebooks and results.json), records.py (a
student's graded folder: written whole, judged current or stale; the exchange files),
submissions.py (submissions made from answer code: the example class, the tests' mutants).

May import: judging/ (the results it records), running/, homework/ and the base.
"""
