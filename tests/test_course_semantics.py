"""The kit's grader keeps nbgrader's course semantics: a killed run leaves nobody half graded, a
newer submission is graded again without --force, and feedback never leaves a page behind that
the gradebook contradicts."""

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, reference_answers
from tests.conftest import descendants, kit_grade, released_course, wait_until_gone
from tests.submissions import MUTANTS

OVERWRITE = next(m for m in MUTANTS if m.name == "backward_prop_overwrites_sum")
EARLY, LATER = "2026-11-30 10:00:00.000000 UTC", "2026-11-30 12:00:00.000000 UTC"


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m autograder ARGS` run in this process (in the course root): its exit code and output."""
    import contextlib
    import io
    import os

    from autograder.__main__ import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A released course with three collected submissions (each with nbgrader's timestamp.txt)."""
    root, release = released_course(tmp_path_factory.mktemp("semantics"))
    reference = reference_answers()
    notebooks = {"reference": fill(release, reference),
                 "overwrite": fill(release, {**reference, OVERWRITE.function: OVERWRITE.source}),
                 "stub": release}
    for student, nb in notebooks.items():
        folder = course.submit(root, student, nb)
        (folder / "timestamp.txt").write_text(EARLY)
    return root, release


def graded_folders(root: Path) -> dict[str, bool]:
    """student -> whether autograded/<student>/backprop/ holds results.json."""
    return {p.parent.name: (p / "results.json").is_file() for p in (root / "autograded").glob("*/backprop")}


def test_a_killed_run_leaves_nobody_half_graded(small):
    root, _ = small
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "backprop", "--workers", "1"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    below = {}
    for line in proc.stderr:  # kill as soon as the first student is recorded
        if "1/3" in line:
            below = descendants(proc.pid)  # its worker, the worker's sandbox
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=300)
    assert below and wait_until_gone(below, 30.0) == {}, "the killed grader left processes running"
    assert all(graded_folders(root).values()), graded_folders(root)  # whole or absent
    rerun = kit_grade(root)
    assert rerun.returncode == 0, rerun.stderr
    assert graded_folders(root) == {"reference": True, "overwrite": True, "stub": True}
    assert not list((root / "autograded").glob("*/.backprop.*"))
    scores = course.read_scores(root)
    assert scores["reference"] == expected_scores(())
    assert scores["overwrite"]["test_gradient_check"] == 0 and scores["overwrite"]["test_backward_prop_hidden"] == 0
    assert sum(scores["stub"].values()) == 0
    # Graded once: a third run finds every record complete and current.
    assert "Nothing to grade" in kit_grade(root).stderr


def test_a_newer_submission_is_graded_again_without_force(small):
    root, release = small
    folder = course.submit(root, "overwrite", fill(release, reference_answers()))
    (folder / "timestamp.txt").write_text(LATER)
    again = kit_grade(root)
    assert again.returncode == 0, again.stderr
    assert "resubmitted" in again.stderr and "Grading 1 submission" in again.stderr
    assert course.read_scores(root)["overwrite"] == expected_scores(())
    assert (root / "autograded" / "overwrite" / "backprop" / "timestamp.txt").read_text() == LATER


def test_feedback_names_who_it_cannot_serve_and_leaves_no_stale_page(small):
    root, _ = small
    first = cli(root, "feedback", "backprop")
    assert first.returncode == 0, first.stderr
    page = root / "feedback" / "stub" / "backprop" / "backprop.html"
    assert page.is_file()
    for name in ("timestamp.txt", "submission_secret.txt"):  # what release_feedback opens
        assert (page.parent / name).is_file()
    # Stock nbgrader grades the stub again: the kit's results.json is gone, the page is stale.
    course.autograde(root, "stub", force=True)
    assert not (root / "autograded" / "stub" / "backprop" / "results.json").exists()
    second = cli(root, "feedback", "backprop")
    assert second.returncode == 0, second.stderr
    assert "no page for stub: no results from the kit's grader" in second.stderr
    assert "old page was removed" in second.stderr and not page.exists()
    assert "Wrote 2 feedback page(s)" in second.stdout
    alone = cli(root, "feedback", "backprop", "--student", "stub")
    assert alone.returncode == 1 and "no page for stub" in alone.stderr and "Wrote 0" in alone.stdout
    exported = cli(root, "export", "backprop")
    assert exported.returncode == 0 and "no results from the kit's grader" in exported.stderr
    assert "stub" in exported.stderr
    # Graded again by the kit, with the reference's page written: a re-grade removes that page.
    assert cli(root, "feedback", "backprop", "--student", "reference").returncode == 0
    regraded = kit_grade(root, "--force", "--student", "reference")
    assert "outdated feedback page" in regraded.stderr
    assert not (root / "feedback" / "reference" / "backprop" / "backprop.html").exists()

