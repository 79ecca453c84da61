"""The gradebook as the kit's nbgrader steps use it within one `nbgrader autograde` run.

Stock nbgrader opens a new Gradebook in every step of every notebook: a new SQLAlchemy engine
each time, so the tables are inspected and `create_all` checked again, and every query is
compiled again (the compiled-statement cache belongs to the engine). Within one run (one
converter: a whole-class run or formgrader's button for one student) the kit's steps share one
engine instead, made by nbgrader's own Gradebook on the run's first open (tables and course row
as stock makes them), each step in its own session as before. What the assignment's source
notebook holds (its cells, checksums, points, kernelspec) is read once per run: nothing in an
autograde run changes it.
"""

import json
import weakref
from types import SimpleNamespace

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.orm import scoped_session, sessionmaker


def converter_of(step):
    """The converter (one `nbgrader autograde` run) a preprocessor works in, or None outside a run."""
    converter = getattr(getattr(step, "parent", None), "parent", None)
    return converter if hasattr(converter, "coursedir") else None


class _OnEngine(Gradebook):
    """nbgrader's Gradebook, in a session of an engine the run already made (tables checked)."""

    def __init__(self, engine, course_id: str = "default_course"):  # engine: from a real Gradebook
        self.engine = engine
        self.db = scoped_session(sessionmaker(autoflush=True, bind=engine, future=True))
        self.course_id = course_id
        self.authenticator = None

    def close(self) -> None:
        self.db.remove()  # the engine stays for the run's next step


class _SubmissionRows(_OnEngine):
    """_OnEngine whose find_grade and find_comment for one submitted notebook come from four
    queries made up front (the same rows, in the same session) instead of two joined queries a
    cell; any other lookup, or a miss, is nbgrader's own query."""

    _rows = None  # ((notebook, assignment, student), grades by cell name, comments by cell name)

    def load(self, notebook: str, assignment: str, student: str) -> None:
        from nbgrader.api import Comment, Grade, GradeCell, SolutionCell, TaskCell

        try:
            submitted = self.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            return  # each lookup then fails as nbgrader's does

        def by_name(row, *kinds):  # nbgrader looks in the first kind of cell, then the next
            found = {}
            for kind in reversed(kinds):
                query = self.db.query(row, kind.name).join(kind, kind.id == row.cell_id)
                found.update({name: r for r, name in query.filter(row.notebook_id == submitted.id)})
            return found

        self._rows = ((notebook, assignment, student), by_name(Grade, GradeCell, TaskCell),
                      by_name(Comment, SolutionCell, TaskCell))

    def find_grade(self, grade_cell: str, notebook: str, assignment: str, student: str):
        if self._rows and self._rows[0] == (notebook, assignment, student) and grade_cell in self._rows[1]:
            return self._rows[1][grade_cell]
        return super().find_grade(grade_cell, notebook, assignment, student)

    def find_comment(self, solution_cell: str, notebook: str, assignment: str, student: str):
        if self._rows and self._rows[0] == (notebook, assignment, student) and solution_cell in self._rows[2]:
            return self._rows[2][solution_cell]
        return super().find_comment(solution_cell, notebook, assignment, student)


def _run_engine(converter, db_url: str):
    """The run's engine for db_url, made on first use by nbgrader's own Gradebook."""
    engines = converter.__dict__.setdefault("_kit_engines", {})
    if db_url not in engines:
        first = Gradebook(db_url)  # as stock: tables created if missing, the default course row
        first.db.remove()
        engines[db_url] = first.engine
        weakref.finalize(converter, first.engine.dispose)
    return engines[db_url]


def submission_gradebook(step, db_url: str, notebook: str, assignment: str, student: str) -> Gradebook:
    """A Gradebook for a step that reads and writes one submitted notebook's grades and comments:
    in a run, on the run's engine with those rows loaded at once; nbgrader's own outside a run."""
    converter = converter_of(step)
    if converter is None:
        return Gradebook(db_url)
    gradebook = _SubmissionRows(_run_engine(converter, db_url))
    gradebook.load(notebook, assignment, student)
    return gradebook


def open_gradebook(step, db_url: str) -> Gradebook:
    """A Gradebook for one step: on the run's shared engine inside a run, nbgrader's own outside."""
    converter = converter_of(step)
    return Gradebook(db_url) if converter is None else _OnEngine(_run_engine(converter, db_url))


def _cell(cell) -> SimpleNamespace:
    return SimpleNamespace(name=cell.name, cell_type=cell.cell_type, locked=cell.locked,
                           checksum=cell.checksum, source=cell.source)


class SourceNotebook:
    """The source notebook's cells as the gradebook holds them, read once; answers the lookups
    OverwriteCells makes (find_notebook, find_source_cell, find_graded_cell) with what nbgrader's
    Gradebook returns for them, MissingEntry included."""

    def __init__(self, gradebook: Gradebook, notebook: str, assignment: str):
        self.notebook, self.assignment = notebook, assignment
        found = gradebook.find_notebook(notebook, assignment)
        self._kernelspec = found.kernelspec  # JSON text: each notebook gets its own copy
        self.source_cells = [_cell(c) for c in found.source_cells]
        self.grade_cells = [SimpleNamespace(name=c.name, max_score=c.max_score) for c in found.grade_cells]
        self.task_cells = [SimpleNamespace(name=c.name, max_score=c.max_score) for c in found.task_cells]
        self.solution_cells = [SimpleNamespace(name=c.name) for c in found.solution_cells]
        self._source = {c.name: c for c in self.source_cells}
        # find_graded_cell looks for a grade cell first, then a task cell
        self._graded = {c.name: c for c in self.task_cells} | {c.name: c for c in self.grade_cells}

    @property
    def kernelspec(self) -> dict | None:
        return json.loads(self._kernelspec) if self._kernelspec is not None else None

    def find_notebook(self, name: str, assignment: str):
        if (name, assignment) != (self.notebook, self.assignment):
            raise MissingEntry(f"No such notebook: {assignment}/{name}")
        return self

    def find_source_cell(self, name: str, notebook: str, assignment: str):
        self.find_notebook(notebook, assignment)
        if name not in self._source:
            raise MissingEntry(f"No such source cell: {assignment}/{notebook}/{name}")
        return self._source[name]

    def find_graded_cell(self, name: str, notebook: str, assignment: str):
        self.find_notebook(notebook, assignment)
        if name not in self._graded:
            raise MissingEntry(f"No such grade cell: {assignment}/{notebook}/{name}")
        return self._graded[name]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None


def source_notebook(step, db_url: str, notebook: str, assignment: str) -> SourceNotebook:
    """The run's SourceNotebook for this notebook (read on first use; each time outside a run)."""
    converter = converter_of(step)
    cache = converter.__dict__.setdefault("_kit_sources", {}) if converter is not None else {}
    key = (db_url, notebook, assignment)
    if key not in cache:
        with open_gradebook(step, db_url) as gradebook:
            cache[key] = SourceNotebook(gradebook, notebook, assignment)
    return cache[key]
