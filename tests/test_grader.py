"""The kit's own grader (`python -m autograder grade`): same verdicts as nbgrader on honest work,
isolation from hostile work, a result for everyone."""

import hashlib
import json
from pathlib import Path

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, reference_answers
from autograder.homework import spec
from tests.conftest import ROOT, kit_grade, released_course

FULL = expected_scores(())


@pytest.mark.parametrize("name", ["class", "mutants"])
def test_same_per_cell_scores_as_nbgrader(graded, kit_graded, name):
    nbgrader_scores = graded[name].scores
    differ = {s: {g: (v, kit_graded[name][s][g]) for g, v in cells.items() if kit_graded[name][s][g] != v}
              for s, cells in nbgrader_scores.items()}
    assert {s: d for s, d in differ.items() if d} == {}


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "autograded" not in p.parts
            and p.name not in ("gradebook.db", "gradebook.db-journal")}


def test_rerun_skips_then_regrades_identically(graded, kit_graded):
    root = graded["class"].root
    again = kit_grade(root)
    assert again.returncode == 0 and "Skipping" in again.stderr and "Nothing to grade" in again.stderr
    forced = kit_grade(root, "--force", "--student", "reference", "--student", "lecture_verbatim")
    assert forced.returncode == 0, forced.stderr
    assert course.read_scores(root) == kit_graded["class"]


def test_unreadable_and_misnamed_notebooks_get_zero_with_a_reason(tmp_path):
    root, release = released_course(tmp_path / "course")
    course.submit(root, "good", fill(release, reference_answers()))
    broken = root / "submitted" / "broken" / "backprop"
    broken.mkdir(parents=True)
    (broken / "backprop.ipynb").write_text("{ this is not json")
    renamed = course.submit(root, "renamed", fill(release, reference_answers()))
    (renamed / "backprop.ipynb").rename(renamed / "backprop-Copy1.ipynb")
    result = kit_grade(root)
    assert result.returncode == 0, result.stderr
    scores = course.read_scores(root)
    assert scores["good"] == FULL
    assert sum(scores["broken"].values()) == 0 and sum(scores["renamed"].values()) == 0
    reasons = {s: json.loads((root / "autograded" / s / "backprop" / "results.json").read_text())["reason"]
               for s in ("broken", "renamed")}
    assert "could not be read as a notebook" in reasons["broken"]
    assert "backprop-Copy1.ipynb" in reasons["renamed"] and "own name" in reasons["renamed"]
    assert "broken: " in result.stdout and "renamed: " in result.stdout


def test_without_bubblewrap_it_warns_loudly_and_still_grades(tmp_path):
    root, release = released_course(tmp_path / "course")
    course.submit(root, "good", fill(release, reference_answers()))
    result = kit_grade(root, "--sandbox", "limits")
    assert result.returncode == 0, result.stderr
    assert "CAN READ ANY FILE" in result.stderr
    assert course.read_scores(root)["good"] == FULL


def test_grade_outside_a_course_or_unreleased_says_what_to_do(tmp_path):
    result = kit_grade(tmp_path)
    assert result.returncode == 2 and "nbgrader_config.py" in result.stderr and "Traceback" not in result.stderr
    root = course.copy_course(ROOT, tmp_path / "course")
    result = kit_grade(root)
    assert result.returncode == 2 and "generate_assignment" in result.stderr


def test_total_points(kit_graded):
    assert sum(kit_graded["class"]["reference"].values()) == spec.TOTAL_POINTS
