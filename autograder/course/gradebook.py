"""Grades out: scores into nbgrader's gradebook through its own API, graded notebooks into
autograded/, and the full results (messages, details) beside them for feedback and exports."""

import json
import os
from pathlib import Path

import nbformat

from .. import untrusted
from ..homework import spec
from ..judging.scoring import CellResult
from .records import RESULTS  # noqa: F401  (re-exported: feedback and export read it from here)


def record_scores(gb, student: str, results: list[CellResult], timestamp=None) -> None:
    """Write every test cell's auto score under its grade_id, as nbgrader's SaveAutoGrades does:
    a manual score a grader entered is kept, and the cell needs manual grading only then.
    Not committed: assign_late_penalty, which comes next, commits the scores with the penalty
    (one commit a submission; a run killed in between leaves neither)."""
    from nbgrader.api import MissingEntry

    try:
        gb.find_student(student)
    except MissingEntry:
        gb.add_student(student)
    gb.update_or_create_submission(spec.ASSIGNMENT, student, **({"timestamp": timestamp} if timestamp else {}))
    scores = {result.grade_id: result.score for result in results}
    for grade in gb.find_submission_notebook(spec.NOTEBOOK, spec.ASSIGNMENT, student).grades:
        if grade.name in scores:
            grade.auto_score = scores[grade.name]
            grade.needs_manual_grade = grade.manual_score is not None
    gb.db.flush()
    gb.db.expire_all()  # the notebook's score (a column nbgrader computes from the grades) is read anew


class LatePenalties:
    """nbgrader's own late-submission step, configured as the course configures it
    (LateSubmissionPlugin.penalty_method, or AssignLatePenalties.plugin_class for a course's own).
    Made on first use (`step`): importing nbgrader's preprocessors loads nbconvert (~0.3 s), which
    a class handed in on time never needs."""

    def __init__(self, config):
        self.config, self._step = config, None

    @property
    def step(self):
        if self._step is None:
            from nbgrader.preprocessors import AssignLatePenalties

            self._step = AssignLatePenalties(config=self.config)
            self._step.init_plugin()
        return self._step


def late_penalties(config) -> LatePenalties:
    """The course's late-penalty step (LatePenalties), for assign_late_penalty."""
    return LatePenalties(config)


def assign_late_penalty(gb, student: str, late) -> float | None:
    """Set the notebook's late_submission_penalty exactly as nbgrader's AssignLatePenalties does
    during `autograde`: reset, then ask the plugin when the submission is past the due date,
    clamped to [0, score]. Returns the penalty (None: on time or no policy). Commits, with the
    scores record_scores wrote before it."""
    submission = gb.find_submission(spec.ASSIGNMENT, student)
    notebook = gb.find_submission_notebook(spec.NOTEBOOK, spec.ASSIGNMENT, student)
    notebook.late_submission_penalty = None
    if submission.total_seconds_late > 0:
        step = late.step
        penalty = step.plugin_inst.late_submission_penalty(student, notebook.score, submission.total_seconds_late)
        if penalty is not None:
            notebook.late_submission_penalty = step._check_late_penalty(notebook, penalty)
    gb.db.commit()
    return notebook.late_submission_penalty


def write_graded(folder: Path, submitted: nbformat.NotebookNode | None, source: nbformat.NotebookNode,
                 results: list[CellResult], reason: str | None, cell_errors: list[str]) -> None:
    """autograded/<student>/<assignment>/: the notebook with each test cell's verdict as its
    output (visible test code only, never the hidden block), and results.json."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = results_summary(results, reason, cell_errors)
    by_id = {cell["grade_id"]: cell for cell in summary["cells"]}
    if submitted is not None:
        nb = nbformat.from_dict(submitted)
        tests = {c.metadata.nbgrader.grade_id: c for c in source.cells
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
        from ..judging.visible import HIDDEN
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            if grade_id in by_id and grade_id in tests:
                cell.source = HIDDEN.sub("# (hidden tests ran here)", tests[grade_id].source)
                r = by_id[grade_id]
                text = f"{r['score']:g} / {r['points']:g} points\n" + "".join(f"- {m}\n" for m in cell_messages(r))
                # What nbformat.v4.new_output makes, without validating each output of ours on its
                # own: the whole notebook is validated as it is written.
                cell.outputs = [nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": text})]
        target = folder / f"{spec.NOTEBOOK}.ipynb"
        if target.exists():
            os.chmod(target, 0o644)
        # The submission's own text may hold what UTF-8 cannot encode (lone surrogates): "?".
        written = nbformat.writes(nb)
        target.write_bytes((written if written.endswith("\n") else written + "\n").encode("utf-8", "replace"))
    write_results(folder, summary)


def results_summary(results: list[CellResult], reason: str | None, cell_errors: list[str]) -> dict:
    """What results.json holds: per cell its score, visible failure and checks (with details),
    every student-made text bounded (untrusted.bound_summary)."""
    return untrusted.bound_summary({
        "assignment": spec.ASSIGNMENT, "reason": reason, "cell_errors": cell_errors,
        "score": sum(r.score for r in results), "max_score": spec.TOTAL_POINTS,
        "cells": [{"grade_id": r.grade_id, "points": r.points, "score": r.score,
                   "visible_failure": r.visible_failure,
                   "checks": [{"id": c.check_id, "passed": c.passed, "message": c.message, "details": c.details}
                              for c in r.checks]} for r in results],
    })


def write_results(folder: Path, summary: dict) -> None:
    (folder / RESULTS).write_text(json.dumps(summary, indent=1, default=float))


def cell_messages(cell: dict) -> list[str]:
    """The distinct diagnoses of one cell of results.json (its visible failure, then failed checks)."""
    messages = ([cell["visible_failure"]] if cell.get("visible_failure") else []) + [
        c["message"] for c in cell.get("checks", []) if not c["passed"] and c.get("message")]
    return list(dict.fromkeys(messages))
