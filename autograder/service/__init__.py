"""The kit as a course's grading service: `python -m autograder watch backprop`.

settings.py (c.KitWatch.* in nbgrader_config.py), ledger.py (the durable queue: one row per
(student, timestamp) in a small SQLite file, so a restart loses and repeats nothing),
exchange.py (nbgrader's exchange: new submissions in inbound/, collecting one into submitted/,
publishing a page where `nbgrader fetch_feedback` looks), pages.py (what a page shows before the
due date, and the page of a submission held back by the rate limit), watch.py (the loop, its
signals, its log and status).

It grades through grading/ (the same per-submission code, recorder and warm sandbox as `grade`)
and writes pages through outputs/, so it sits above grading/, beside gradescope/.

May import: grading/, outputs/, authoring/, course/, judging/, running/, homework/ and the base.
"""
