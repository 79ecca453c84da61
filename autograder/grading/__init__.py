"""A class graded: `python -m autograder grade`, and nbgrader's own autograde through the kit.

grade.py (the run: which submissions, one Outcome each, the single writer of the gradebook and
autograded/), early.py (what `grade` does before loading the grader: the class's submissions, the
workers forked), workers.py (local worker processes), distributed.py (a Dask cluster's workers),
nbgrader_steps.py (KitExecute, KitSaveAutoGrades and KitFeedbackExporter in nbgrader's pipelines),
ahead.py (the class of an `nbgrader autograde` run graded ahead in the worker processes), and
sandbox_per_process.py (the one sandbox each of those grading processes keeps and grades in).
It grades each submission through judging/ and writes into course/ (below it), so nbgrader's
steps, which need the run, live here and not in course/.

May import: outputs/ (the score table; the feedback page nbgrader's step writes), authoring/,
course/, judging/, running/, homework/ and the base.
"""
