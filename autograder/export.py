"""`python -m autograder export`: grades out to a spreadsheet or to Gradescope.

Scores come from the gradebook (so they match what formgrader and `nbgrader export` show);
the kit grader's results.json adds why a submission could not be graded and the diagnoses.
"""

import csv
import json
from pathlib import Path

from solutions.helpers import gradient_diagnosis, training_diagnosis

from . import course, spec
from .gradebook import RESULTS, cell_messages
from .report import column_points


def _results(root: Path, student: str) -> dict | None:
    path = root / "autograded" / student / spec.ASSIGNMENT / RESULTS
    return json.loads(path.read_text()) if path.is_file() else None


def _students(root: Path) -> list[str]:
    from nbgrader.api import Gradebook

    with Gradebook(course.coursedir(root).db_url) as gb:
        return sorted(s.id for s in gb.students)


def status(scores: dict | None, results: dict | None) -> str | None:
    """Why a student has no real score, or None when the scores stand."""
    if scores is None:
        return "no submission"
    if results and results.get("reason"):
        return f"not graded: {results['reason']}"
    if any(v is None for v in scores.values()):
        return "not graded: nbgrader could not run the notebook (needs manual grading)"
    return None


def write_csv(root: Path, target: Path) -> Path:
    """One row per student: points per function, the cells judging them together, total, status."""
    target.parent.mkdir(parents=True, exist_ok=True)
    columns = column_points()
    all_scores = course.read_scores(root)
    with target.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student_id", *columns, "total", "max_score", "status"])
        for student in _students(root):
            scores = all_scores.get(student)
            why = status(scores, _results(root, student))
            if why:
                writer.writerow([student, *([""] * len(columns)), "", spec.TOTAL_POINTS, why])
                continue
            points = [sum(scores[g] for g in ids) for ids in columns.values()]
            writer.writerow([student, *(f"{p:g}" for p in points), f"{sum(points):g}", spec.TOTAL_POINTS, "graded"])
    return target


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


def gradescope_results(scores: dict, results: dict | None, hidden_visibility: str = "visible",
                       details: bool = False) -> dict:
    """Gradescope's results.json for one submission: a test per cell, score and diagnosis.

    scores: grade_id -> points; results: the kit grader's results.json (gradebook.results_summary).
    hidden_visibility: Gradescope's visibility of the tests that run hidden checks (the others
    are always visible). details: add the feedback page's gradient-check errors per layer and
    training-curve diagnosis to those two tests' output.
    """
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"Gradescope's visibility is one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
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
                      "output": "\n".join(lines),
                      "visibility": hidden_visibility if test_cell.checks else "visible"})
    out = {"score": sum(t["score"] for t in tests), "tests": tests}
    if results and results.get("reason"):
        out["output"] = f"Your notebook could not be graded: {results['reason']}"
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
    for student, scores in course.read_scores(root).items():
        folder = target / student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "results.json").write_text(json.dumps(gradescope_results(scores, _results(root, student)),
                                                        indent=1))
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
