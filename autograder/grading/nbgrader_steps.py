"""nbgrader's own commands (and formgrader's buttons) grading through the kit.

nbgrader_config.py puts these in nbgrader's pipelines:

- `KitExecute` takes `Execute`'s place in `Autograde.autograde_preprocessors`: instead of running
  the notebook in a kernel with the hidden tests, it runs the student's code in the kit's sandbox
  and the kit's checks in this process (the same per-notebook code as `python -m autograder
  grade`), writes results.json beside the graded notebook, and fills each test cell's outputs
  with its verdict: a passed cell gets a plain printout (full marks for nbgrader), a failed one an
  error output (zero). nbgrader's own `SaveAutoGrades` (as `KitSaveAutoGrades`, in one
  transaction per notebook) and `AssignLatePenalties` then score the cells and charge late work,
  and nbgrader itself handles timestamps, exchange files and the re-grading of newer
  submissions. On a run over several students the class is graded ahead in the kit's worker
  processes (ahead.py).
- nbgrader's own steps doing the same work in fewer queries and validations:
  `KitOverwriteKernelspec` and `KitOverwriteCells` (the source notebook read once per run),
  `KitSaveAutoGrades` (one transaction, the notebook's rows read at once) and
  `KitCheckCellMetadata` (the schema compiled once); run_gradebook.py shares one engine per run.
- `KitFeedbackExporter` is `GenerateFeedback`'s exporter: the page it writes is the kit's
  (feedback.render), from results.json and the gradebook; without results.json it fails that
  student with a message rather than publish nbgrader's rendering, which quotes the hidden tests.

Setting the environment variable BACKPROP_KIT_NBGRADER=stock before an nbgrader command returns it
to stock in-kernel execution and nbgrader's own feedback (nbgrader_config.py reads it).
"""

import os
import tempfile
import traceback
from pathlib import Path

import nbformat
from nbconvert.exporters import Exporter
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import (
    CheckCellMetadata,
    NbGraderPreprocessor,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)
from traitlets import default

from ..homework import spec
from .run_gradebook import source_notebook, submission_gradebook

SWITCH = "BACKPROP_KIT_NBGRADER"


def routed() -> bool:
    """Whether nbgrader's pipelines use the kit (the default) or stock execution."""
    return os.environ.get(SWITCH, "kit").strip().lower() != "stock"


def _course_root(config) -> Path:
    from nbgrader.coursedir import CourseDirectory

    return Path(CourseDirectory(config=config).root)


def verdict_outputs(cell_result: dict) -> list:
    """A test cell's outputs that nbgrader's determine_grade reads as the kit's verdict: a printout
    (full marks) when it passed, an error output (0) with the diagnoses when it did not."""
    from ..course.gradebook import cell_messages

    points, score = cell_result["points"], cell_result["score"]
    text = f"{score:g} / {points:g} points (graded by the kit)\n"
    messages = cell_messages(cell_result)
    outputs = [nbformat.v4.new_output("stream", name="stdout",
                                      text=text + "".join(f"- {m}\n" for m in messages))]
    if score < points:
        outputs.append(nbformat.v4.new_output("error", ename="KitCheckFailed",
                                              evalue=messages[0] if messages else "not passed",
                                              traceback=[f"KitCheckFailed: {m}" for m in messages]))
    return outputs


def _ahead_for(step, source_text: str, limits, sandbox: str):
    """The class of this `nbgrader autograde` run graded ahead (ahead.py), started on its first
    notebook and kept on the run's converter; None for a run of one submission (formgrader's
    Autograde button) or outside a run."""
    from .ahead import Ahead, run_of

    run = run_of(step)
    if run is None:
        return None
    todo, converter = run
    if not hasattr(converter, "_kit_ahead"):
        converter._kit_ahead = (Ahead(todo, source_text, _source(source_text), limits, sandbox, os.cpu_count() or 1)
                                if len(todo) > 1 else None)
    ahead = converter._kit_ahead
    return ahead if ahead is not None and ahead.matches(source_text, limits, sandbox) else None


def _source(source_text: str):
    from .sandbox_per_process import parsed

    return parsed(source_text)[0]


class KitExecute(NbGraderPreprocessor):
    """Grades the notebook with the kit (see the module's docstring) in Execute's place."""

    def preprocess(self, nb, resources):
        from ..course.gradebook import results_summary, write_results
        from ..running.sandbox.launch import Limits, resolve
        from .sandbox_per_process import grade_here

        student = resources["nbgrader"]["student"]
        root = _course_root(self.config)
        source_text = (root / "source" / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.ipynb").read_text()
        limits, sandbox = Limits(), resolve(os.environ.get("BACKPROP_KIT_SANDBOX", "auto"))
        ahead = _ahead_for(self, source_text, limits, sandbox)
        outcome = ahead_outcome = ahead.take(student, nb) if ahead else None
        if outcome is None:
            # One sandbox for the life of the nbgrader process, started on its first notebook.
            with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as folder:
                nbformat.write(nb, Path(folder) / f"{spec.NOTEBOOK}.ipynb")
                outcome = grade_here(student, Path(folder), source_text, limits, sandbox)
        if outcome.grader_error:
            raise RuntimeError(f"the kit's grader failed on {student}: {outcome.reason}")
        summary = results_summary(outcome.results, outcome.reason, outcome.cell_errors)
        by_id = {cell["grade_id"]: cell for cell in summary["cells"]}
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and grade_id in by_id:
                cell.outputs = verdict_outputs(by_id[grade_id])
        graded = Path(resources.get("metadata", {}).get("path") or root / "autograded" / student / spec.ASSIGNMENT)
        write_results(graded, summary)
        from ..course.records import drop_feedback_page

        if drop_feedback_page(root, student):
            self.log.warning("Removed %s's feedback page: it described the previous grades", student)
        self.log.info("Graded %s with the kit%s: %g / %g", student, " (ahead)" if ahead_outcome else "",
                      summary["score"], summary["max_score"])
        return nb, resources


class _FlushOnCommit:
    """A gradebook session whose commit only flushes: the writes stay in one open transaction."""

    def __init__(self, session):
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name):
        return getattr(self._session, name)


class KitSaveAutoGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, the same writes, in one transaction per notebook.

    nbgrader commits after each cell's grade and comment: a dozen commits per notebook, each a
    synchronous write of SQLite's journal (most of its time per notebook on this kind of disk).
    One commit at the end writes the same rows, and a run killed halfway leaves none of the
    notebook's grades half-saved. The gradebook is the run's, its rows for this notebook read in
    four queries (run_gradebook.submission_gradebook).
    """

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = submission_gradebook(self, self.db_url, self.notebook_id, self.assignment_id, self.student_id)
        with self.gradebook:
            session = self.gradebook.db
            self.gradebook.db = _FlushOnCommit(session)
            try:
                nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # each cell, as nbgrader
            finally:
                self.gradebook.db = session
            session.commit()
        return nb, resources


class KitOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells, the same checks and repairs, against the source notebook read
    once per run (run_gradebook.SourceNotebook) rather than two queries per cell per notebook."""

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.db_url = resources["nbgrader"]["db_url"]
        self.gradebook = source_notebook(self, self.db_url, self.notebook_id, self.assignment_id)
        nb, resources = NbGraderPreprocessor.preprocess(self, nb, resources)  # each cell, as nbgrader
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources


class KitOverwriteKernelspec(OverwriteKernelspec):
    """nbgrader's OverwriteKernelspec: the source notebook's kernelspec (read once per run), when
    it has one, replaces the submitted one."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        kernelspec = source_notebook(self, info["db_url"], info["notebook"], info["assignment"]).kernelspec
        if kernelspec:
            nb.metadata["kernelspec"] = kernelspec
        return nb, resources


class _SchemaOnce(BaseMetadataValidator):
    """nbgrader's per-cell metadata validation with its JSON schema checked once, not per cell.

    jsonschema.validate checks the schema itself against its meta-schema on every call, which is
    most of CheckCellMetadata's time (two passes of every cell per notebook). This does what
    nbgrader's BaseMetadataValidator.validate_cell does (the schema version, then the schema)
    with one validator made from the same schema; MetadataValidatorV3's own checks run as before.
    """

    _validators: dict = {}  # schema version -> jsonschema validator of nbgrader's schema

    def validate_cell(self, cell) -> None:
        if "nbgrader" not in cell.metadata:
            return
        version = cell.metadata["nbgrader"].get("schema_version", 0)
        if version < self.schema_version:
            raise SchemaTooOldError(f"Outdated schema version: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        if version > self.schema_version:
            raise SchemaTooNewError(f"Schema version is too new: {version} (expected {self.schema_version})",
                                    version, self.schema_version)
        validator = self._validators.get(self.schema_version)
        if validator is None:
            import jsonschema

            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            validator = self._validators[self.schema_version] = kind(self.schema)
        import jsonschema.exceptions

        error = jsonschema.exceptions.best_match(validator.iter_errors(cell.metadata["nbgrader"]))
        if error is not None:
            raise error


class _MetadataValidator(MetadataValidator, _SchemaOnce):
    """MetadataValidatorV3 whose base validation is _SchemaOnce's (method resolution order)."""


class KitCheckCellMetadata(CheckCellMetadata):
    """nbgrader's CheckCellMetadata, the same checks and errors, with the schema compiled once."""

    def preprocess(self, nb, resources):
        try:
            _MetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message) from None
        return nb, resources


class KitFeedbackExporter(Exporter):
    """GenerateFeedback's exporter: the kit's feedback page instead of nbgrader's HTML rendering."""

    output_mimetype = "text/html"

    @default("file_extension")
    def _file_extension_default(self):
        return ".html"

    def from_notebook_node(self, nb, resources=None, **kw):
        from ..course import course, records
        from ..outputs.feedback import render, why_no_page

        nb, resources = super().from_notebook_node(nb, resources, **kw)
        student = resources["nbgrader"]["student"]
        root = _course_root(self.config)
        results = records.read_results(root, student)
        submission = course.read_submissions(root).get(student)
        why = why_no_page(root, student, submission, results)
        if why:
            raise RuntimeError(f"no kit feedback page for {student}: {why}")
        return render(student, results, submission.scores, submission), resources
