"""Late penalties as nbgrader computes them: stock `nbgrader autograde` and the kit's grader give
the same late_submission_penalty per notebook and the same `nbgrader export` totals, and the
feedback page says what lateness cost."""

import csv
import subprocess
import sys

from autograder.course import course
from autograder.course.submissions import fill, reference_answers
from autograder.homework import spec
from tests.conftest import kit_grade, released_course

DUE = "2026-11-30 11:00:00 UTC"
TIMES = {"ontime": "2026-11-30 10:00:00.000000 UTC", "late": "2026-11-30 13:30:00.000000 UTC"}


def penalties(root) -> dict[str, float]:
    return {s: sub.penalty for s, sub in course.read_submissions(root).items()}


def nbgrader_export(root) -> dict[str, tuple[str, str, str]]:
    target = course.export_csv(root, root / "grades.csv")
    return {r["student_id"]: (r["raw_score"], r["late_submission_penalty"], r["score"])
            for r in csv.DictReader(target.open())}


def test_both_graders_charge_the_same_late_penalty(tmp_path):
    root, release = released_course(tmp_path / "course")
    with (root / "nbgrader_config.py").open("a") as config:
        config.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    course.nbgrader(root, "db", "assignment", "add", spec.ASSIGNMENT, f"--duedate={DUE}")
    for student, when in TIMES.items():
        folder = course.submit(root, student, fill(release, reference_answers()))
        (folder / "timestamp.txt").write_text(when)
    course.autograde(root)
    stock_scores, stock_penalties, stock_export = course.read_scores(root), penalties(root), nbgrader_export(root)
    assert stock_penalties == {"ontime": 0.0, "late": float(spec.TOTAL_POINTS)}
    assert stock_export["late"][2] == "0.0" and float(stock_export["ontime"][2]) == spec.TOTAL_POINTS

    assert kit_grade(root, "--force").returncode == 0
    assert course.read_scores(root) == stock_scores
    assert penalties(root) == stock_penalties
    assert nbgrader_export(root) == stock_export
    kit = subprocess.run([sys.executable, "-m", "autograder", "export", "backprop"], cwd=root, capture_output=True,
                         text=True)
    assert kit.returncode == 0, kit.stderr
    rows = {r["student_id"]: r for r in csv.DictReader((root / "exports" / "backprop.csv").open())}
    assert {s: float(r["total"]) for s, r in rows.items()} == {s: float(v[2]) for s, v in stock_export.items()}
    assert rows["late"]["late_penalty"] == f"{spec.TOTAL_POINTS:g}"

    fed = subprocess.run([sys.executable, "-m", "autograder", "feedback", "backprop"], cwd=root, capture_output=True,
                         text=True)
    assert fed.returncode == 0, fed.stderr
    late = (root / "feedback" / "late" / "backprop" / "backprop.html").read_text()
    assert "Submitted late" in late and "2 h 30 min after the due date" in late
    total = spec.TOTAL_POINTS
    assert f"Score: 0 / {total} ({total} before the late penalty of {total})" in late
    assert "Submitted late" not in (root / "feedback" / "ontime" / "backprop" / "backprop.html").read_text()
