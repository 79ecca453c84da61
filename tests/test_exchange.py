"""The exchange round trip with the kit in the middle, with nbgrader's own commands: release,
students fetch and submit, collect, the kit grades and writes feedback, release_feedback, and
each student's fetch_feedback brings back their own page with their own score."""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from autograder.course import course
from autograder.course.submissions import fill, reference_answers
from autograder.homework import spec
from tests.conftest import kit_grade, released_course
from tests.submissions import MUTANTS

OVERWRITE = next(m for m in MUTANTS if m.name == "backward_prop_overwrites_sum")
NBGRADER = str(Path(sys.executable).parent / "nbgrader")


def nbgrader(cwd: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    """The nbgrader CLI in cwd; a student runs it with their own HOME (and so their own cache)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if home:
        env["HOME"] = str(home)
        env.pop("JUPYTER_DATA_DIR", None)
    result = subprocess.run([NBGRADER, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result


def test_round_trip_through_the_exchange(tmp_path):
    root, release = released_course(tmp_path / "course")
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o777)
    where = f"--Exchange.root={exchange}"
    nbgrader(root, "release_assignment", spec.ASSIGNMENT, where)
    reference = reference_answers()
    answers = {"alice": reference, "bob": {**reference, OVERWRITE.function: OVERWRITE.source}}
    homes = {s: tmp_path / s for s in answers}

    def student_submits(student: str) -> None:
        home = homes[student]
        home.mkdir()
        course_flags = ("--course", "backprop-kit", where, f"--student={student}")
        nbgrader(home, "fetch_assignment", spec.ASSIGNMENT, *course_flags, home=home)
        path = home / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.ipynb"
        nbformat.write(fill(nbformat.read(path, as_version=4), answers[student]), path)
        nbgrader(home, "submit", spec.ASSIGNMENT, *course_flags, home=home)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(student_submits, answers))
    nbgrader(root, "collect", spec.ASSIGNMENT, where)
    # carol handed her notebook in by e-mail: placed by hand, no timestamp or secret.
    course.submit(root, "carol", fill(release, reference))
    assert kit_grade(root).returncode == 0
    for student in answers:
        for name in ("timestamp.txt", "submission_secret.txt"):
            assert (root / "autograded" / student / "backprop" / name).read_text() == \
                (root / "submitted" / student / "backprop" / name).read_text()
    assert not (root / "autograded" / "carol" / "backprop" / "submission_secret.txt").exists()
    fed = subprocess.run([sys.executable, "-m", "autograder", "feedback", "backprop"], cwd=root,
                         capture_output=True, text=True)
    assert fed.returncode == 0 and "Wrote 3 feedback page(s)" in fed.stdout, fed.stderr
    assert "hand them over yourself: carol" in fed.stdout
    released = nbgrader(root, "release_feedback", spec.ASSIGNMENT, where)
    assert "Releasing feedback for student 'carol'" in released.stdout + released.stderr
    totals = {s: sum(v for v in cells.values()) for s, cells in course.read_scores(root).items()}
    assert totals["alice"] == spec.TOTAL_POINTS > totals["bob"]

    def student_fetches(student: str) -> str:
        home = homes[student]
        nbgrader(home, "fetch_feedback", spec.ASSIGNMENT, "--course", "backprop-kit", where,
                 f"--student={student}", home=home)
        found = list((home / spec.ASSIGNMENT / "feedback").glob(f"*/{spec.NOTEBOOK}.html"))
        assert len(found) == 1, found
        return found[0].read_text()

    with ThreadPoolExecutor(2) as pool:
        pages = dict(zip(answers, pool.map(student_fetches, answers)))
    for student, page in pages.items():
        assert f"feedback for {student}" in page
        assert re.search(r"Score: ([\d.]+) / ", page).group(1) == f"{totals[student]:g}"
        assert page == (root / "feedback" / student / "backprop" / "backprop.html").read_text()
