"""What the kit writes from the graded records: pages, exports, reports, tables.

feedback.py (what writes the feedback page: one HTML page per student), export.py (CSV and
Gradescope results), class_report.py (the instructor's HTML class report), score_table.py (the
terminal's student x function table of points).

May import: course/ (the gradebook and results.json they read), judging/, running/, homework/
and the base. They never grade: everything they show was recorded by grading/.
"""
