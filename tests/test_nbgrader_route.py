"""formgrader's buttons through nbgrader's own API (NbGraderAPI, which formgrader's handlers call):
Autograde runs the kit's sandbox and checks, Generate Feedback writes the kit's page, Release
Feedback publishes it; BACKPROP_KIT_NBGRADER=stock returns autograde to in-kernel execution."""

import json
import secrets

import pytest

from autograder.course import course
from autograder.course.submissions import fill, reference_answers
from autograder.homework import spec
from autograder.outputs import feedback
from tests.conftest import kit_grade, released_course
from tests.submissions import MUTANTS

OVERWRITE = next(m for m in MUTANTS if m.name == "backward_prop_overwrites_sum")
STUDENTS = ("reference", "overwrite", "stub")


def api(root, exchange):
    from nbgrader.apps import NbGraderAPI

    config = course.config(root)
    config.Exchange.root = str(exchange)
    return NbGraderAPI(config=config)


@pytest.fixture(scope="module")
def routed(tmp_path_factory):
    """A class collected with nbgrader's exchange files, graded and given feedback by formgrader's calls."""
    tmp = tmp_path_factory.mktemp("route")
    root, release = released_course(tmp / "course")
    reference = reference_answers()
    notebooks = {"reference": fill(release, reference), "stub": release,
                 "overwrite": fill(release, {**reference, OVERWRITE.function: OVERWRITE.source})}
    for student, nb in notebooks.items():
        folder = course.submit(root, student, nb)
        (folder / "timestamp.txt").write_text("2026-11-30 10:00:00.000000 UTC")
        (folder / "submission_secret.txt").write_text(secrets.token_hex(64))
    (tmp / "exchange").mkdir()
    nbgrader = api(root, tmp / "exchange")
    for student in STUDENTS:
        result = nbgrader.autograde(spec.ASSIGNMENT, student, force=True, create=True)
        assert result["success"], result["log"][-3000:]
    return root, nbgrader, tmp / "exchange"


def test_autograde_button_grades_with_the_kit(routed):
    root, _, _ = routed
    through_nbgrader = course.read_scores(root)
    for student in STUDENTS:
        results = json.loads((root / "autograded" / student / "backprop" / "results.json").read_text())
        assert {c["grade_id"]: c["score"] for c in results["cells"]} == through_nbgrader[student]
    assert sum(through_nbgrader["reference"].values()) == spec.TOTAL_POINTS
    assert through_nbgrader["overwrite"]["test_gradient_check"] == 0
    assert sum(through_nbgrader["stub"].values()) == 0
    # The kit's own parallel grader gives the same grades.
    assert kit_grade(root, "--force").returncode == 0
    assert course.read_scores(root) == through_nbgrader


def test_generate_and_release_feedback_buttons_publish_the_kit_page(routed):
    from nbgrader.utils import notebook_hash

    root, nbgrader, exchange = routed
    result = nbgrader.generate_feedback(spec.ASSIGNMENT, force=True)
    assert result["success"], result["log"][-3000:]
    for student in STUDENTS:
        page = feedback.page_path(root, student)
        assert feedback.is_kit_page(page), page.read_text()[:300]
        assert f"feedback for {student}" in page.read_text() and "BEGIN HIDDEN" not in page.read_text()
    assert "Score: 25 / 25" in feedback.page_path(root, "reference").read_text()
    result = nbgrader.release_feedback(spec.ASSIGNMENT)
    assert result["success"], result["log"][-3000:]
    for student in STUDENTS:
        secret = (root / "submitted" / student / "backprop" / "submission_secret.txt").read_text()
        name = notebook_hash(secret=secret, notebook_id=spec.NOTEBOOK)
        published = exchange / "backprop-kit" / "feedback" / f"{name}.html"
        assert published.read_text() == feedback.page_path(root, student).read_text()


def test_the_switch_returns_autograde_to_stock(routed, monkeypatch):
    root, _, exchange = routed
    monkeypatch.setenv(course.STOCK_SWITCH, "stock")
    result = api(root, exchange).autograde(spec.ASSIGNMENT, "stub", force=True, create=True)
    assert result["success"], result["log"][-3000:]
    assert not (root / "autograded" / "stub" / "backprop" / "results.json").exists()
    assert "with the kit" not in result["log"]


def test_the_nbgrader_cli_grades_the_class_ahead_with_the_same_gradebook(tmp_path):
    """`nbgrader autograde` over a class: the kit grades it ahead in its worker processes, and
    the gradebook holds what the kit's own grader writes. A student who edited a read-only cell
    runs the source's code either way (nbgrader restores the cell before KitExecute sees it)."""
    import subprocess

    root, release = released_course(tmp_path / "course")
    reference = reference_answers()
    edited = fill(release, reference)
    locked = next(c for c in edited.cells if c.cell_type == "code"
                  and c.metadata.get("nbgrader", {}).get("locked") and not c.metadata["nbgrader"].get("grade"))
    locked.source += "\nimport numpy as np  # edited by the student\n"
    notebooks = {"reference": fill(release, reference), "stub": release, "edited_locked": edited,
                 "overwrite": fill(release, {**reference, OVERWRITE.function: OVERWRITE.source})}
    for student, nb in notebooks.items():
        course.submit(root, student, nb)
    result = subprocess.run([str(course._bin() / "nbgrader"), "autograde", spec.ASSIGNMENT, "--force"], cwd=root,
                            env=course._env(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("with the kit (ahead)") == len(notebooks), result.stderr[-3000:]
    through_nbgrader = course.read_scores(root)
    assert sum(through_nbgrader["reference"].values()) == spec.TOTAL_POINTS
    assert through_nbgrader["edited_locked"] == through_nbgrader["reference"]
    assert sum(through_nbgrader["stub"].values()) == 0
    assert through_nbgrader["overwrite"]["test_gradient_check"] == 0
    assert kit_grade(root, "--force").returncode == 0
    assert course.read_scores(root) == through_nbgrader


def _tampered(release, how: str):
    import copy

    nb = copy.deepcopy(release)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    meta = cells[0].metadata["nbgrader"]
    if how == "points not a number":
        meta["points"] = "many"
    elif how == "no points":
        del meta["points"]
    elif how == "old schema":
        meta["schema_version"] = 1
    elif how == "duplicate grade_id":
        meta["grade_id"] = cells[1].metadata["nbgrader"]["grade_id"]
    elif how == "unknown key type":
        meta["locked"] = "yes"
    return nb


@pytest.mark.parametrize("how", ["intact", "points not a number", "no points", "old schema", "duplicate grade_id",
                                 "unknown key type"])
def test_the_kits_metadata_check_fails_exactly_what_nbgraders_fails(how):
    """KitCheckCellMetadata (the schema compiled once) against nbgrader's CheckCellMetadata, on
    the real release notebook, intact and tampered."""
    import nbformat
    from nbgrader.nbgraderformat import ValidationError
    from nbgrader.nbgraderformat.common import SchemaMismatchError
    from nbgrader.preprocessors import CheckCellMetadata

    from autograder.grading.nbgrader_steps import KitCheckCellMetadata
    from tests.conftest import ROOT

    release = nbformat.read(ROOT / "release" / "backprop" / "backprop.ipynb", as_version=4)
    verdicts = []
    for step in (CheckCellMetadata(), KitCheckCellMetadata()):
        try:
            step.preprocess(_tampered(release, how), {})
            verdicts.append("valid")
        except (ValidationError, SchemaMismatchError) as error:  # nbgrader lets the schema's own error through
            verdicts.append(f"{type(error).__name__}: {error}")
    assert verdicts[0] == verdicts[1]
    assert (verdicts[0] == "valid") == (how == "intact")


# nbgrader's own steps where the kit has its own (KitExecute stays: the grading itself is the kit's).
NBGRADER_STEPS = [f"--Autograde.sanitize_preprocessors=nbgrader.preprocessors.{step}" for step in
                  ("ClearOutput", "DeduplicateIds", "OverwriteKernelspec", "OverwriteCells", "CheckCellMetadata")]
NBGRADER_STEPS += [f"--Autograde.autograde_preprocessors={step}" for step in
                   ("autograder.grading.nbgrader_steps.KitExecute", "nbgrader.preprocessors.IgnorePattern",
                    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                    "nbgrader.preprocessors.CheckCellMetadata")]


def _sanitize_cases(release) -> dict:
    """Submissions that make each of nbgrader's sanitising steps act: an edited locked cell, a
    deleted test cell (put back: add_missing_cells), a test cell whose points, type or lock were
    changed, a foreign kernelspec, a cell whose grade_id the gradebook does not know."""
    import copy

    reference = fill(release, reference_answers())
    cases = {"reference": reference}

    def variant(name, edit):
        nb = copy.deepcopy(reference)
        edit(nb)
        cases[name] = nb

    def graded(nb):
        return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]

    def locked(nb):
        return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("locked")
                    and not c.metadata["nbgrader"].get("grade"))

    variant("edited_locked", lambda nb: setattr(locked(nb), "source", locked(nb).source + "\nx = 1\n"))
    def after_answer(nb):  # nbgrader puts a deleted test back after the answer or test before it
        def marks(cell):
            return {k for k, v in cell.metadata.get("nbgrader", {}).items() if v is True}

        return next(c for i, c in enumerate(nb.cells) if i and "grade" in marks(c)
                    and {"grade", "solution"} & marks(nb.cells[i - 1]))

    variant("deleted_test", lambda nb: nb.cells.remove(after_answer(nb)))
    # After a locked helper nbgrader's add_missing_grade_cells fails (KeyError): a failure either way.
    variant("deleted_test_after_helper", lambda nb: nb.cells.remove(graded(nb)[-1]))
    variant("points", lambda nb: graded(nb)[0].metadata["nbgrader"].update(points=99))
    variant("unlocked", lambda nb: graded(nb)[1].metadata["nbgrader"].update(locked=False))
    variant("kernelspec", lambda nb: nb.metadata.update(kernelspec={"name": "other", "display_name": "Other",
                                                                    "language": "python"}))

    def retyped(nb):
        cell = graded(nb)[2]
        cell.cell_type = "markdown"
        del cell["outputs"], cell["execution_count"]

    variant("retyped", retyped)
    # A grade_id the gradebook does not know is dropped, and add_missing_task_cells then fails.
    variant("unknown_id", lambda nb: locked(nb).metadata["nbgrader"].update(grade_id="not_in_the_gradebook"))
    return cases


def _gradebook_rows(root) -> dict:
    """What the gradebook holds of each submission, by names (ids are random per run)."""
    from nbgrader.api import Gradebook

    rows = {}
    with Gradebook(course.config(root).CourseDirectory.db_url) as gb:
        courses = sorted(c.id for c in gb.db.query(type(gb.check_course())).all())
        for student in gb.students:
            for submission in student.submissions:
                for notebook in submission.notebooks:
                    rows[student.id, notebook.name] = {
                        "grades": sorted((g.name, g.auto_score, g.manual_score, g.needs_manual_grade, g.max_score)
                                         for g in notebook.grades),
                        "comments": sorted((c.name, c.auto_comment, c.manual_comment) for c in notebook.comments),
                        "penalty": notebook.late_submission_penalty, "flagged": notebook.flagged}
    return {"courses": courses, "submissions": rows}


def test_the_kits_steps_give_what_nbgraders_give(tmp_path):
    """KitOverwriteKernelspec, KitOverwriteCells (the source notebook read once per run),
    KitSaveAutoGrades (the rows read at once, one commit) and KitCheckCellMetadata against
    nbgrader's own steps, through the real `nbgrader autograde` on two copies of a class: the same
    failures, the same graded notebooks and the same gradebook rows."""
    import re
    import subprocess

    import nbformat

    roots, logs = {}, {}
    for way in ("kit", "nbgrader"):
        root, release = released_course(tmp_path / way)
        cases = _sanitize_cases(release)
        for student, nb in cases.items():
            course.submit(root, student, nb)
        result = subprocess.run([str(course._bin() / "nbgrader"), "autograde", spec.ASSIGNMENT, "--force",
                                 "--log-level=DEBUG", *(NBGRADER_STEPS if way == "nbgrader" else [])],
                                cwd=root, env=course._env(), capture_output=True, text=True, timeout=900)
        assert result.returncode in (0, 1), result.stderr[-3000:]
        roots[way], logs[way] = root, result.stderr
    failed = {way: set(re.findall(r"error processing assignment 'backprop' for student '(\w+)'", log))
              for way, log in logs.items()}
    assert failed["kit"] == failed["nbgrader"] == {"deleted_test_after_helper", "unknown_id"}
    # nbgrader's own steps ran in the second class only (OverwriteKernelspec logs the source's kernelspec).
    assert "Source notebook kernelspec" in logs["nbgrader"] and "Source notebook kernelspec" not in logs["kit"]
    assert "preprocessor: SaveAutoGrades" in logs["nbgrader"] and "preprocessor: SaveAutoGrades" not in logs["kit"]
    assert logs["kit"].count("with the kit (ahead)") == len(cases) - len(failed["kit"])
    kit, stock = (_gradebook_rows(roots[way]) for way in ("kit", "nbgrader"))
    assert kit == stock
    assert {student for student, _ in kit["submissions"]} == set(cases)
    for student in set(cases) - failed["kit"]:
        graded = [nbformat.read(roots[way] / "autograded" / student / "backprop" / "backprop.ipynb", as_version=4)
                  for way in ("kit", "nbgrader")]
        for nb in graded:  # a cell put back gets a random id when written
            for cell in nb.cells:
                if "was missing from the submission" in cell.source:
                    cell.id = "put-back"
        assert graded[0] == graded[1], student
    assert sum(g[1] for g in kit["submissions"]["reference", spec.NOTEBOOK]["grades"]) == spec.TOTAL_POINTS
