"""The kit's grader, exports and feedback with a PostgreSQL gradebook (`c.CourseDirectory.db_url =
"postgresql://..."` in nbgrader_config.py).

These tests need a PostgreSQL server: `.ci/postgres.sh` installs and starts one (as root) and
prints its URL; set KIT_TEST_POSTGRES to that URL:

    KIT_TEST_POSTGRES=$(bash .ci/postgres.sh) .venv/bin/python -m pytest tests/test_postgres.py

Without KIT_TEST_POSTGRES they are skipped, unless KIT_REQUIRE_POSTGRES=1 (as `.ci/run` sets),
where they fail. Each test grades in a fresh database of its own, dropped at the end.
"""

import csv
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import psycopg2
import pytest
from sqlalchemy.engine import make_url

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, read_examples
from autograder.homework import spec
from tests.conftest import ROOT, kit_grade

NEEDS_SERVER = ("these tests need a PostgreSQL server: run `bash .ci/postgres.sh` (it installs and starts one and "
                "prints its URL) and set KIT_TEST_POSTGRES to that URL, "
                "e.g. KIT_TEST_POSTGRES=postgresql://postgres@127.0.0.1:55432/postgres")
DB_URL_LINE = re.compile(r"^c\.CourseDirectory\.db_url =.*$", re.MULTILINE)
# The example with an endless loop spends seconds in every cell that calls it: one test grades it.
SLOW = "infinite_loop"
EXAMPLES = {e.student: e for e in read_examples(ROOT / "examples")}


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The server's URL from KIT_TEST_POSTGRES, checked to answer."""
    url = os.environ.get("KIT_TEST_POSTGRES", "").strip()
    if not url:
        if os.environ.get("KIT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"KIT_REQUIRE_POSTGRES=1 but KIT_TEST_POSTGRES is not set: {NEEDS_SERVER}", pytrace=False)
        pytest.skip(f"KIT_TEST_POSTGRES is not set: {NEEDS_SERVER}")
    try:
        psycopg2.connect(_libpq(url)).close()
    except psycopg2.OperationalError as error:
        pytest.fail(f"cannot connect to KIT_TEST_POSTGRES={url}: {error}\n{NEEDS_SERVER}", pytrace=False)
    return url


def _libpq(url: str) -> str:
    """The URL as libpq takes it (no SQLAlchemy driver name such as +psycopg2)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def database(postgres_url):
    """A fresh, empty database for one test (its URL, as the server's URL with another database);
    dropped afterwards, with any connection left open."""
    name = f"kit_test_{uuid.uuid4().hex[:16]}"
    admin = psycopg2.connect(_libpq(postgres_url))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cur:
            force = " WITH (FORCE)" if admin.server_version >= 130000 else ""
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')
        admin.close()


def pg_course(tmp: Path, db_url: str, submissions: dict[str, tuple[str, ...] | dict]) -> Path:
    """A copy of the course whose gradebook is db_url, released (nbgrader generate_assignment
    creates the tables), with a submission per student (an example's name, or answers)."""
    root = course.copy_course(ROOT, tmp / "course")
    config = root / "nbgrader_config.py"
    text, replaced = DB_URL_LINE.subn(lambda _: f"c.CourseDirectory.db_url = {db_url!r}", config.read_text())
    assert replaced == 1, f"{config} should set c.CourseDirectory.db_url on exactly one line"
    config.write_text(text)
    assert course.coursedir(root).db_url == db_url
    course.generate_release(root)
    release = nbformat.read(course.release_path(root), as_version=4)
    for student, example in submissions.items():
        course.submit(root, student, fill(release, EXAMPLES[example].all_answers()))
    return root


def expected(example: str) -> dict[str, float]:
    return expected_scores(EXAMPLES[example].wrong)


def submission_counts(root: Path) -> dict[str, tuple[int, int, int]]:
    """Per student, through nbgrader's API: (submissions, submitted notebooks, grades of the notebook)."""
    from nbgrader.api import Gradebook

    dirs = course.coursedir(root)
    with Gradebook(dirs.db_url, dirs.course_id) as gb:
        counts = {}
        for student in gb.students:
            notebooks = [nb for sub in student.submissions for nb in sub.notebooks]
            grade_ids = {g.name for nb in notebooks for g in nb.grades}
            counts[student.id] = (len(student.submissions), len(notebooks), len(grade_ids))
        return counts


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg2"])
def test_grading_records_the_example_class_scores(tmp_path, database, scheme):
    """Plain postgresql:// (SQLAlchemy's default driver, psycopg 3) and postgresql+psycopg2://."""
    db_url = make_url(database).set(drivername=scheme).render_as_string(hide_password=False)
    students = [s for s in EXAMPLES if scheme == "postgresql" or s != SLOW]
    root = pg_course(tmp_path, db_url, {s: s for s in students})
    result = kit_grade(root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert course.read_scores(root) == {s: expected(s) for s in students}
    assert submission_counts(root) == {s: (1, 1, len(spec.TEST_CELLS)) for s in students}


def test_two_graders_at_once_on_different_students(tmp_path, database):
    groups = [{"ann": "reference", "bob": "lecture_verbatim"}, {"cat": "half_finished", "dan": "syntax_error"}]
    root = pg_course(tmp_path, database, {s: e for group in groups for s, e in group.items()})
    procs = [subprocess.Popen([sys.executable, "-m", "autograder", "grade", "backprop", "--workers", "1",
                               *[a for s in group for a in ("--student", s)]],
                              cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for group in groups]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, out + err
    assert course.read_scores(root) == {s: expected(e) for group in groups for s, e in group.items()}
    assert submission_counts(root) == {s: (1, 1, len(spec.TEST_CELLS)) for group in groups for s in group}


def test_regrade_replaces_one_students_scores_only(tmp_path, database):
    root = pg_course(tmp_path, database, {"ann": "reference", "bob": "half_finished", "cat": "syntax_error"})
    assert kit_grade(root).returncode == 0
    before = course.read_scores(root)
    assert before["ann"] == expected("reference")
    release = nbformat.read(course.release_path(root), as_version=4)
    course.submit(root, "ann", fill(release, EXAMPLES["lecture_verbatim"].all_answers()))
    again = kit_grade(root, "--force", "--student", "ann")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Graded 1 submission(s)" in again.stdout
    assert course.read_scores(root) == {**before, "ann": expected("lecture_verbatim")}
    assert submission_counts(root) == {s: (1, 1, len(spec.TEST_CELLS)) for s in ("ann", "bob", "cat")}


def test_exports_and_feedback(tmp_path, database):
    # The server trusts local connections, so a password in the URL is accepted and ignored: it
    # stands for a real one, which no output may show.
    secret = f"pw{uuid.uuid4().hex[:12]}"
    db_url = make_url(database).set(password=secret).render_as_string(hide_password=False)
    students = {"ann": "reference", "bob": "lecture_verbatim", "cat": "untouched_release"}
    root = pg_course(tmp_path, db_url, students)
    outputs = [kit_grade(root)]
    assert outputs[0].returncode == 0, outputs[0].stdout + outputs[0].stderr
    outputs += [run_cli(root, "export", "backprop", "--format", "csv"),
                run_cli(root, "export", "backprop", "--format", "gradescope"),
                run_cli(root, "feedback", "backprop")]
    assert not [o.args for o in outputs if secret in o.stdout + o.stderr]
    totals = {s: sum(cells.values()) for s, cells in course.read_scores(root).items()}
    assert totals == {s: sum(expected(e).values()) for s, e in students.items()}
    with (root / "exports" / "backprop.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["student_id"]: float(r["total"]) for r in rows} == totals
    assert {r["status"] for r in rows} == {"graded"}
    gradescope = {s: json.loads((root / "exports" / "gradescope" / s / "results.json").read_text())
                  for s in students}
    assert {s: r["score"] for s, r in gradescope.items()} == totals
    for student in students:
        page = (root / "feedback" / student / "backprop" / "backprop.html").read_text()
        assert f"Feedback: {student}" in page
    # Stock nbgrader reads the same gradebook: `nbgrader export` agrees.
    with course.export_csv(root, tmp_path / "grades.csv").open() as f:
        assert {r["student_id"]: float(r["raw_score"]) for r in csv.DictReader(f)} == totals
