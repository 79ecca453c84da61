"""`python -m autograder export`: grades out to a spreadsheet or to Gradescope.

Scores and late penalties come from the gradebook (so totals match what formgrader and
`nbgrader export` show); the kit grader's results.json adds why a submission could not be
graded and the diagnoses. Every student with a submission is named: one without the kit's
results, or without grades at all, says so instead of being passed over.
"""

import csv
import sys
from pathlib import Path

from solutions.helpers import gradient_diagnosis, training_diagnosis

from .. import untrusted
from ..course import course, records
from ..course.gradebook import cell_messages
from ..homework import spec
from .score_table import column_points


def _results(root: Path, student: str) -> dict | None:
    return records.read_results(root, student)


def _students(root: Path) -> list[str]:
    """Everyone in the gradebook, and everyone with a folder in submitted/ (graded or not)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.coursedir(root).db_url) as gb:
        known = {s.id for s in gb.students}
    return sorted(known | {p.parent.name for p in (root / "submitted").glob(f"*/{spec.ASSIGNMENT}") if p.is_dir()})


# A spreadsheet cell says why in a line or two.
STATUS_CHARS = 500


def status(scores: dict | None, results: dict | None) -> str | None:
    """Why a student has no real score, or None when the scores stand."""
    if scores is None:
        return "no submission graded"
    if results and results.get("reason"):
        return f"not graded: {untrusted.text(results['reason'], STATUS_CHARS)}".replace("\n", " ")
    if any(v is None for v in scores.values()):
        return "not graded: nbgrader could not run the notebook (needs manual grading)"
    return None


def _warn_without_results(root: Path, students: list[str], submissions: dict) -> None:
    """Name the graded students whose diagnoses are missing (graded by stock nbgrader, or a run cut short)."""
    bare = [s for s in students if s in submissions and _results(root, s) is None]
    if bare:
        print(f"{len(bare)} student(s) have grades but no results from the kit's grader (scores exported "
              f"without diagnoses): {', '.join(bare[:10])}" + (" ..." if len(bare) > 10 else ""), file=sys.stderr)


def write_csv(root: Path, target: Path) -> Path:
    """One row per student: points per function, the cells judging them together, the late
    penalty, the total after it (as `nbgrader export`'s score), status."""
    target.parent.mkdir(parents=True, exist_ok=True)
    columns = column_points()
    submissions = course.read_submissions(root)
    students = _students(root)
    with target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student_id", *columns, "late_penalty", "total", "max_score", "status"])
        for student in students:
            sub = submissions.get(student)
            why = status(sub.scores if sub else None, _results(root, student))
            if why:
                writer.writerow([student, *([""] * len(columns)), "", "", spec.TOTAL_POINTS, why])
                continue
            points = [sum(sub.scores[g] for g in ids) for ids in columns.values()]
            late = f"graded, late by {sub.seconds_late:.0f} s" if sub.seconds_late > 0 else "graded"
            writer.writerow([student, *(f"{p:g}" for p in points), f"{sub.penalty:g}",
                             f"{sum(points) - sub.penalty:g}", spec.TOTAL_POINTS, late])
    _warn_without_results(root, students, submissions)
    return target


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def gradescope_results(scores: dict, results: dict | None, penalty: float = 0.0,
                       hidden_visibility: str = "visible", details: bool = False) -> dict:
    """Gradescope's results.json for one submission: a test per cell, score and diagnosis.

    Every output is Markdown in which what a submission wrote is only ever inside a code block
    or span it cannot close (untrusted.code_block, code_span): Gradescope renders no markup of
    the student's, whichever output format it applies.
    scores: grade_id -> points; results: the kit grader's results.json (gradebook.results_summary);
    penalty: nbgrader's late-submission penalty, subtracted from the score.
    hidden_visibility: Gradescope's visibility of the tests that run hidden checks (the others
    are always visible). details: add the feedback page's gradient-check errors per layer and
    training-curve diagnosis to those two tests' output.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"Gradescope's visibility is one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    results = untrusted.bound_summary(results) if results else results
    cells = {c["grade_id"]: c for c in (results or {}).get("cells", [])}
    tests = []
    for test_cell in spec.TEST_CELLS:
        cell = cells.get(test_cell.grade_id, {})
        score = scores.get(test_cell.grade_id) or 0.0
        passed = score >= test_cell.points
        lines = cell_messages(cell) or ["passed" if passed else "not passed"]
        if details:
            lines += _feedback_details(cell)
        tests.append({"name": f"{test_cell.grade_id}: {test_cell.about}",
                      "score": score, "max_score": test_cell.points,
                      "status": "passed" if passed else "failed",
                      "output": untrusted.code_block("\n".join(lines), untrusted.SUBMISSION_CHARS),
                      "output_format": "md",
                      "visibility": hidden_visibility if test_cell.checks else "visible"})
    out = {"score": sum(t["score"] for t in tests) - penalty, "tests": tests, "test_output_format": "md"}
    notes = []
    if penalty:
        notes.append(f"Late submission: {penalty:g} point(s) deducted.")
    if results and results.get("reason"):
        notes.append(f"Your notebook could not be graded: {untrusted.code_span(results['reason'])}")
    if notes:
        out["output"] = " ".join(notes)
        out["output_format"] = "md"
    return out


def _feedback_details(cell: dict) -> list[str]:
    """The feedback page's extra words for one cell of results.json: gradient-check errors per
    layer and network, and what the training curve did."""
    lines = []
    for check in cell.get("checks", []):
        found = check.get("details") or {}
        for network, errors in (found.get("relative_errors") or {}).items():
            lines.append(f"gradient check on network {network} (relative error per layer, below "
                         f"{spec.GRADCHECK_TOL:g} is right):")
            lines += [f"  {line}" for line in gradient_diagnosis(errors, spec.GRADCHECK_TOL)]
        if found.get("losses"):
            lines.append(f"training: {training_diagnosis(found['losses'])}")
    return lines


def write_gradescope(root: Path, target: Path) -> Path:
    """<target>/<student>/results.json for every graded student."""
    submissions = course.read_submissions(root)
    for student, sub in submissions.items():
        folder = target / student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_bytes(untrusted.json_bytes(
            gradescope_results(sub.scores, _results(root, student), sub.penalty), indent=1))
    students = _students(root)
    ungraded = [s for s in students if s not in submissions]
    if ungraded:
        print(f"{len(ungraded)} student(s) without grades in the gradebook (nothing exported for them): "
              f"{', '.join(ungraded[:10])}" + (" ..." if len(ungraded) > 10 else ""), file=sys.stderr)
    _warn_without_results(root, students, submissions)
    return target


def run(assignment: str, fmt: str, out: Path | None) -> int:
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit exports {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    if fmt == "csv":
        target = write_csv(root, out or root / "exports" / f"{spec.ASSIGNMENT}.csv")
    else:
        target = write_gradescope(root, out or root / "exports" / "gradescope")
    print(f"Exported {fmt} to {target}")
    return 0
