"""The nbgrader course at a folder: the real nbgrader CLI, and the gradebook through its API."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..homework import spec

if TYPE_CHECKING:  # imported where used: `grade` forks its workers before loading nbformat (grading/early.py)
    import nbformat


class CourseError(Exception):
    """A problem with the course folder, with a message that says how to fix it."""


def course_root(path: Path | None = None) -> Path:
    """The course root: the given folder or the current one, which must hold nbgrader_config.py."""
    root = Path(path or os.getcwd()).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise CourseError(f"{root} has no nbgrader_config.py: run this from the course root "
                          "(the folder with source/, release/ and nbgrader_config.py)")
    return root


def _bin() -> Path:
    return Path(sys.executable).parent


def _env() -> dict:
    """nbgrader starts `alembic` and kernels by name: put this environment's bin/ first on PATH."""
    return {**os.environ, "PATH": f"{_bin()}{os.pathsep}{os.environ.get('PATH', '')}"}


def nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the nbgrader CLI of this interpreter's environment in the course root.

    nbgrader reads nbgrader_config.py only from the current directory, hence cwd=root.
    """
    result = subprocess.run([str(_bin() / "nbgrader"), *args], cwd=root, env=_env(), capture_output=True,
                            text=True)
    if check and result.returncode != 0:
        raise CourseError(f"nbgrader {' '.join(args)} failed in {root} (exit {result.returncode}):\n"
                          f"{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def release_path(root: Path) -> Path:
    return root / "release" / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.ipynb"


def source_path(root: Path) -> Path:
    return root / "source" / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.ipynb"


def copy_course(root: Path, target: Path) -> Path:
    """A fresh course at target with root's configuration, source and release (no submissions,
    no gradebook): a safe place to grade."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "nbgrader_config.py", target / "nbgrader_config.py")
    for step in ("source", "release"):
        shutil.copytree(root / step / spec.ASSIGNMENT, target / step / spec.ASSIGNMENT, dirs_exist_ok=True)
    return target


def generate_release(root: Path) -> Path:
    """Regenerate release/ from source/ with `nbgrader generate_assignment --force`."""
    nbgrader(root, "generate_assignment", spec.ASSIGNMENT, "--force")
    return release_path(root)


def submit(root: Path, student: str, nb: "nbformat.NotebookNode",
           extra_files: dict[str, str] | None = None) -> Path:
    """Place a notebook (and files beside it) as submitted/<student>/<assignment>/."""
    import nbformat

    folder = root / "submitted" / student / spec.ASSIGNMENT
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{spec.NOTEBOOK}.ipynb")
    for name, text in (extra_files or {}).items():
        (folder / name).write_text(text)
    return folder


STOCK_SWITCH = "BACKPROP_KIT_NBGRADER"  # =stock: nbgrader's pipelines without the kit (nbgrader_config.py)


def autograde(root: Path, student: str | None = None, force: bool = True,
              progress: bool = False, stock: bool = True) -> int:
    """`nbgrader autograde` for the assignment (one student glob, or everyone); its exit code.

    stock: nbgrader's own in-kernel execution (BACKPROP_KIT_NBGRADER=stock), as the comparisons
    with the kit need; otherwise the course's configuration routes it through the kit.
    nbgrader exits 1 when any notebook could not be processed; the gradebook records which, so
    that is not an error here. With progress, prints a line as each student starts.
    """
    args = [str(_bin() / "nbgrader"), "autograde", spec.ASSIGNMENT, *(["--force"] if force else [])]
    args += ["--student", student] if student else []
    total = len([p for p in (root / "submitted").glob(f"{student or '*'}/{spec.ASSIGNMENT}") if p.is_dir()])
    env = {**_env(), STOCK_SWITCH: "stock"} if stock else _env()
    with subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        started = 0
        for line in proc.stdout:
            match = STUDENT_LINE.search(line)
            if match and progress:
                started += 1
                print(f"  [{started}/{total}] {match.group(1)}", flush=True)
    return proc.returncode


STUDENT_LINE = re.compile(r"Creating/updating student with ID '([^']+)'")


def config(root: Path):
    """The course's nbgrader configuration (its nbgrader_config.py) as a traitlets Config."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def coursedir(root: Path):
    """nbgrader's CourseDirectory for the course, configured by its nbgrader_config.py."""
    from .lean_imports import import_nbgrader

    import_nbgrader()  # with the gradebook API, without what they import and use only on rare paths
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(config=config(root))


def display_url(db_url: str) -> str:
    """The gradebook's URL to print: a password in it (a database server's) shows as ***."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db_url).render_as_string(hide_password=True)
    except Exception:
        return db_url


def read_scores(root: Path) -> dict[str, dict[str, float | None]]:
    """Per student, per test cell grade_id, the score in the gradebook (None: not auto-graded)."""
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[str, dict[str, float | None]] = {}
    with Gradebook(coursedir(root).db_url) as gb:
        for student in gb.students:
            try:
                submission = gb.find_submission_notebook(spec.NOTEBOOK, spec.ASSIGNMENT, student.id)
            except MissingEntry:
                continue
            scores[student.id] = {
                grade.name: (None if grade.needs_manual_grade and grade.auto_score is None else grade.score)
                for grade in submission.grades}
    return scores


def export_csv(root: Path, target: Path) -> Path:
    """`nbgrader export` to a CSV file."""
    nbgrader(root, "export", "--to", str(target))
    return target


@dataclass
class Submission:
    """One student's submission as the gradebook has it."""

    scores: dict[str, float | None]  # grade_id -> score (manual when entered; None: not auto-graded)
    auto_scores: dict[str, float | None]  # grade_id -> auto_score
    penalty: float  # late_submission_penalty (0 when on time or no policy)
    timestamp: object  # datetime of submission, or None
    duedate: object  # datetime, or None
    seconds_late: float


def read_submissions(root: Path) -> dict[str, Submission]:
    """Per student with a submission of the assignment: scores, late penalty and times."""
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, Submission] = {}
    with Gradebook(coursedir(root).db_url) as gb:
        for student in gb.students:
            try:
                sub = gb.find_submission(spec.ASSIGNMENT, student.id)
                nb = gb.find_submission_notebook(spec.NOTEBOOK, spec.ASSIGNMENT, student.id)
            except MissingEntry:
                continue
            out[student.id] = Submission(
                {g.name: (None if g.needs_manual_grade and g.auto_score is None else g.score) for g in nb.grades},
                {g.name: g.auto_score for g in nb.grades},
                float(nb.late_submission_penalty or 0.0), sub.timestamp, sub.duedate, sub.total_seconds_late)
    return out
