"""The main job (`make demo`): release the homework, grade the example class, show the grades."""

import os
import time
from pathlib import Path

import nbformat

from .course import course
from .course.submissions import expected_scores, fill, read_examples
from .grading import grade
from .homework import spec
from .outputs import class_report, export, feedback
from .outputs.score_table import score_table
from .running.sandbox.launch import Limits


def place_example_class(root: Path, examples: Path) -> list[str]:
    """Write every example of `examples/` into submitted/ as a filled-in release notebook."""
    release = nbformat.read(course.release_path(root), as_version=4)
    students = []
    for example in read_examples(examples):
        course.submit(root, example.student, fill(release, example.all_answers()))
        students.append(example.student)
    return students


def run(root: Path, examples: Path) -> int:
    start = time.monotonic()
    print(f"[1/6] Regenerating release/{spec.ASSIGNMENT}/ with nbgrader generate_assignment ...", flush=True)
    course.generate_release(root)
    students = place_example_class(root, examples)
    print(f"[2/6] Placed {len(students)} example submissions in submitted/: {', '.join(students)}", flush=True)
    print(f"[3/6] Grading them with stock nbgrader autograde {spec.ASSIGNMENT} (about 2 s each; an endless "
          "loop costs a per-cell timeout) ...", flush=True)
    stock_start = time.monotonic()
    course.autograde(root, progress=True)
    stock = time.monotonic() - stock_start
    scores = course.read_scores(root)
    print()
    print(score_table(scores, students))
    missing = [s for s in students if any(v is None for v in scores.get(s, {None: None}).values())]
    if missing:
        print(f"* not fully auto-graded (nbgrader could not run the notebook): {', '.join(missing)}")
    print(f"\n[4/6] Grading them again with the kit's sandboxed grader (python -m autograder grade "
          f"{spec.ASSIGNMENT} --force) ...", flush=True)
    kit_start = time.monotonic()
    grade.run(spec.ASSIGNMENT, None, os.cpu_count() or 1, True, Limits())
    kit = time.monotonic() - kit_start
    print(f"stock nbgrader: {stock:.1f} s; kit: {kit:.1f} s (the example with an endless loop costs the kit its "
          "5 s time limit once)")
    kit_scores = course.read_scores(root)
    surprises = [e.student for e in read_examples(examples)
                 if not scores.get(e.student) == kit_scores.get(e.student) == expected_scores(e.wrong)]
    print(f"\n[5/6] Feedback pages (python -m autograder feedback {spec.ASSIGNMENT}) ...", flush=True)
    feedback.run(spec.ASSIGNMENT, students)
    print(f"      open for example: {feedback.page_path(root, 'lecture_verbatim')}")
    print("\n[6/6] Exports and the class report ...", flush=True)
    target = course.export_csv(root, root / "grades.csv")
    print(f"nbgrader export: {target.relative_to(root)} (one total per student)")
    export.run(spec.ASSIGNMENT, "csv", None)
    export.run(spec.ASSIGNMENT, "gradescope", None)
    class_report.run(spec.ASSIGNMENT)
    print(f"      open the class report: {class_report.report_path(root)}")
    print(f"\nDone in {time.monotonic() - start:.0f} s; gradebook: gradebook.db")
    if surprises:
        print(f"warning: these examples did not get their expected scores: {', '.join(surprises)}")
    return 0
