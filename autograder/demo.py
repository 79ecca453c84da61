"""The main job (`make demo`): release the homework, grade the example class, show the grades."""

import time
from pathlib import Path

import nbformat

from . import course, spec
from .submissions import expected_scores, fill, read_examples


def place_example_class(root: Path, examples: Path) -> list[str]:
    """Write every example of `examples/` into submitted/ as a filled-in release notebook."""
    release = nbformat.read(course.release_path(root), as_version=4)
    students = []
    for example in read_examples(examples):
        course.submit(root, example.student, fill(release, example.all_answers()))
        students.append(example.student)
    return students


def column_points() -> dict[str, list[str]]:
    """The score table's columns: one per function, then the cells that judge them together."""
    columns: dict[str, list[str]] = {name: [] for name in spec.FUNCTIONS}
    columns["together"] = []
    for cell in spec.TEST_CELLS:
        columns[cell.judges[0] if len(cell.judges) == 1 else "together"].append(cell.grade_id)
    return columns


def score_table(scores: dict[str, dict[str, float | None]], students: list[str]) -> str:
    """A student x function table of points (cells that could not be auto-graded count 0, marked *)."""
    columns = column_points()
    maxima = {name: sum(spec.cell_points(g) for g in ids) for name, ids in columns.items()}
    head = ["student"] + [f"{name} /{maxima[name]:g}" for name in columns] + [f"total /{spec.TOTAL_POINTS}"]
    rows = [head]
    for student in students:
        cells = scores.get(student, {})
        row, total, flagged = [student], 0.0, False
        for ids in columns.values():
            got = [cells.get(g) for g in ids]
            flagged |= any(v is None for v in got)
            points = sum(v or 0.0 for v in got)
            total += points
            row.append(f"{points:g}")
        rows.append(row + [f"{total:g}" + ("*" if flagged else "")])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


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
