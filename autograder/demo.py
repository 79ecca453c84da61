"""The main job (`make demo`): release the homework, grade the example class, show the grades."""

import time
from pathlib import Path

import nbformat

from . import course, spec
from .report import score_table
from .submissions import expected_scores, fill, read_examples


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
    print(f"[1/4] Regenerating release/{spec.ASSIGNMENT}/ with nbgrader generate_assignment ...", flush=True)
    course.generate_release(root)
    students = place_example_class(root, examples)
    print(f"[2/4] Placed {len(students)} example submissions in submitted/: {', '.join(students)}",
          flush=True)
    print(f"[3/4] Grading them with nbgrader autograde {spec.ASSIGNMENT} (about 2 s each; an endless "
          "loop costs a per-cell timeout) ...", flush=True)
    course.autograde(root, progress=True)
    scores = course.read_scores(root)
    print()
    print(score_table(scores, students))
    missing = [s for s in students if any(v is None for v in scores.get(s, {None: None}).values())]
    if missing:
        print(f"* not fully auto-graded (nbgrader could not run the notebook): {', '.join(missing)}")
    surprises = [s.student for s in read_examples(examples)
                 if scores.get(s.student) != expected_scores(s.wrong)]
    target = course.export_csv(root, root / "grades.csv")
    print(f"\n[4/4] Grades exported to {target.relative_to(root)}; gradebook: gradebook.db "
          f"({time.monotonic() - start:.0f} s in all)")
    if surprises:
        print(f"warning: these examples did not get their expected scores: {', '.join(surprises)}")
    return 0
