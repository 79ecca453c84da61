"""`python -m autograder watch`: the kit as a course's on-submit grading service, driven through
nbgrader's real exchange. Students run the real `nbgrader submit` and `nbgrader fetch_feedback`,
each with their own HOME (as on a hub); the service runs as its own process, is stopped with
SIGTERM (and must exit 0) and, in the burst, killed with SIGKILL and started again."""

import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.course import course, records
from autograder.course.submissions import fill, reference_answers
from autograder.homework import spec
from autograder.service import exchange, pages
from tests.conftest import kit_grade, released_course
from tests.test_exchange import OVERWRITE, nbgrader

COURSE_ID = "backprop-kit"
WRONG = {**reference_answers(), OVERWRITE.function: OVERWRITE.source}
LIMIT = 2


def until(what, seconds: float = 60.0, every: float = 0.1):
    """Poll (a bounded loop) until what() is truthy; its value, or a failed assert after `seconds`."""
    for _ in range(int(seconds / every)):
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still waiting after {seconds} s for {what.__doc__ or what}")


class Service:
    """The service as its own process in the course root, its log in a file."""

    def __init__(self, root: Path):
        self.root, self.log = root, root.parent / "watch.log"
        self.proc = None

    def start(self) -> None:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "autograder", "watch", spec.ASSIGNMENT],
                                         cwd=self.root, stdout=out, stderr=subprocess.STDOUT)
        until(lambda: f"(pid {self.proc.pid}," in self.log.read_text(), 120)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(60)

    def lines(self, word: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if re.search(f" UTC {word}( |$)", line)]


class Student:
    def __init__(self, course: "Course", name: str):
        self.course, self.name = course, name
        self.home = course.base / "homes" / name
        self.folder = self.home / spec.ASSIGNMENT
        self.folder.mkdir(parents=True)
        self.flags = ("--course", COURSE_ID, f"--Exchange.root={course.exchange}", f"--student={name}")

    def submit(self, answers: dict[str, str]) -> str:
        """`nbgrader submit` of a notebook with these answers; the submission's secret."""
        nbformat.write(fill(self.course.release, answers), self.folder / f"{spec.NOTEBOOK}.ipynb")
        before = set(self.course.inbound.glob(f"{self.name}+*"))
        nbgrader(self.home, "submit", spec.ASSIGNMENT, *self.flags, home=self.home)
        (new,) = set(self.course.inbound.glob(f"{self.name}+*")) - before
        return (new / "submission_secret.txt").read_text()

    def published(self, secret: str, then=None) -> str:
        return published(self.course, secret, then)

    def fetch(self) -> dict[str, str]:
        """`nbgrader fetch_feedback`: timestamp folder -> the page it brought back."""
        nbgrader(self.home, "fetch_feedback", spec.ASSIGNMENT, *self.flags, home=self.home)
        return {p.parent.name: p.read_text() for p in (self.folder / "feedback").glob(f"*/{spec.NOTEBOOK}.html")}


def published(served: "Course", secret: str, then=None) -> str:
    """Wait until the page for a submission is published (and satisfies then); its text."""
    page = exchange.outbound(str(served.exchange), COURSE_ID) / exchange.page_name(secret)

    def ready():
        text = page.read_text() if page.is_file() else ""
        return text if text and (then is None or then(text)) else None
    return until(ready, 60)


class Course:
    def __init__(self, base: Path):
        self.base = base
        self.root, self.release = released_course(base / "course")
        self.exchange = base / "exchange"
        self.exchange.mkdir(mode=0o777)
        self.inbound = self.exchange / COURSE_ID / "inbound"
        with (self.root / "nbgrader_config.py").open("a") as config:
            config.write(f"\nc.Exchange.root = {str(self.exchange)!r}\n"
                         'c.LateSubmissionPlugin.penalty_method = "zero"\n'
                         f'c.KitWatch.limit = {LIMIT}\nc.KitWatch.before_due = "summary"\n'
                         "c.KitWatch.poll_interval = 0.1\n")
        self.due("2099-01-01 00:00:00 UTC")
        nbgrader(self.root, "release_assignment", spec.ASSIGNMENT)
        self.service = Service(self.root)

    def due(self, when: str) -> None:
        course.nbgrader(self.root, "db", "assignment", "add", spec.ASSIGNMENT, f"--duedate={when}")

    def ledger(self) -> list[tuple]:
        with sqlite3.connect(self.root / "autograded" / ".kit-watch" / "ledger.sqlite") as db:
            return db.execute("SELECT student, stamp, state FROM submissions ORDER BY at").fetchall()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A released course, its exchange and the service watching it; stopped (SIGTERM) at the end."""
    c = Course(tmp_path_factory.mktemp("watch"))
    c.service.start()
    yield c
    assert c.service.stop() == 0, c.service.log.read_text()[-3000:]
    assert c.service.lines("stopped")


def score_on(page: str) -> str:
    return re.search(r"Score: ([\d.]+) / ", page).group(1)


def test_a_page_is_fetchable_and_a_resubmission_replaces_it(served):
    alice = Student(served, "alice")
    first = alice.submit(WRONG)
    page = alice.published(first)
    assert "data-level='summary'" in page and "feedback for alice" in page
    wrong_score = score_on(page)
    assert float(wrong_score) < spec.TOTAL_POINTS
    fetched = alice.fetch()
    assert list(fetched.values()) == [page]

    second = alice.submit(reference_answers())
    page = alice.published(second)
    assert score_on(page) == f"{spec.TOTAL_POINTS:g}"
    assert not (exchange.outbound(str(served.exchange), COURSE_ID) / exchange.page_name(first)).exists()
    fetched = alice.fetch()
    assert [score_on(p) for _, p in sorted(fetched.items())] == [wrong_score, f"{spec.TOTAL_POINTS:g}"]
    # What the batch commands find: nothing to grade, and the same scores when made to grade again.
    assert "Nothing to grade." in kit_grade(served.root, "--student", "alice").stderr
    scores = course.read_scores(served.root)["alice"]
    assert kit_grade(served.root, "--student", "alice", "--force").returncode == 0
    assert course.read_scores(served.root)["alice"] == scores


def test_the_rate_limit_holds_a_submission_back_and_says_until_when(served):
    bob = Student(served, "bob")
    for _ in range(LIMIT):
        graded = bob.submit(WRONG)
        bob.published(graded, lambda t: "Score:" in t)
    held = bob.submit(reference_answers())
    page = bob.published(held)
    # Its last graded page stays beside the notice until the held one is graded.
    assert "Score:" in published(served, graded)
    assert "id='later'" in page and f"limit is {LIMIT} per hour" in page and "Score:" not in page
    until_epoch = float(re.search(r"data-until='(\d+)'", page).group(1))
    assert time.time() + 3000 < until_epoch < time.time() + 3700
    assert [s for s in served.ledger() if s[0] == "bob"][-1][2] == "pending"
    # The gradebook still has the last graded submission: the held one is not graded.
    assert sum(course.read_scores(served.root)["bob"].values()) < spec.TOTAL_POINTS
    status = subprocess.run([sys.executable, "-m", "autograder", "watch", spec.ASSIGNMENT, "--status"],
                            cwd=served.root, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    assert "service: running" in status.stdout and "(1 held by the rate limit)" in status.stdout
    assert re.search(r"latency today \(submit to fetchable\): p50 [\d.]+ s, p95 [\d.]+ s over 4", status.stdout)


def test_a_second_service_on_the_course_is_refused(served):
    second = subprocess.run([sys.executable, "-m", "autograder", "watch", spec.ASSIGNMENT], cwd=served.root,
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and f"another `watch` already serves this course (pid {served.service.proc.pid}" \
        in second.stderr, second.stderr


def test_each_policy_level_shows_what_it_says(served):
    results = records.read_results(served.root, "bob")
    submission = course.read_submissions(served.root)["bob"]
    failed = [c["message"] for cell in results["cells"] for c in cell["checks"] if not c["passed"] and c["message"]]
    assert failed, "bob's wrong backward_prop fails hidden checks"
    shown = {level: pages.render(level, "bob", results, submission, "then") for level in pages.SAYS}
    for level, page in shown.items():
        assert f"data-level='{level}'" in page and pages.SAYS[level] in page
        assert ("The full feedback is shown after the due date" in page) == (level != "full")
    assert "Score:" not in shown["visible"] and "hidden checks" not in shown["visible"].split("</p>", 1)[1]
    assert "Score:" in shown["summary"] and "<th>hidden checks</th>" in shown["summary"]
    for message in failed:
        escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped not in shown["visible"] and escaped not in shown["summary"]
    assert any(m.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in shown["full"] for m in failed)


def test_after_the_due_date_pages_are_full_and_late_work_is_penalised(served):
    alice_secret = (served.root / "autograded" / "alice" / spec.ASSIGNMENT / "submission_secret.txt").read_text()
    served.due("2026-01-01 00:00:00 UTC")
    page = published(served, alice_secret, lambda t: "data-level='full'" in t)
    assert "The full feedback is shown" not in page
    course_page = (served.root / "feedback" / "alice" / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.html").read_text()
    assert re.sub(r"<p class='reason' id='policy'.*?</p>", "", page, count=1) == course_page
    carol = Student(served, "carol")
    page = carol.published(carol.submit(reference_answers()))
    total = spec.TOTAL_POINTS
    assert "data-level='full'" in page and "Submitted late" in page
    assert f"Score: 0 / {total} ({total} before the late penalty of {total})" in page
    assert course.read_submissions(served.root)["carol"].penalty == total
    (fetched,) = carol.fetch().values()
    assert fetched == page


def test_a_burst_killed_and_restarted_loses_nothing_and_grades_nothing_twice(served):
    """Clones of one real `nbgrader submit` under other students' names, each its own secret and time."""
    dave = Student(served, "dave")
    dave.submit(WRONG)
    (template,) = served.inbound.glob("dave+*")
    dave.published(template.joinpath("submission_secret.txt").read_text())
    # Each clone is built beside the exchange and renamed in whole, as it lands while the service runs.
    staging = served.base / "staging"
    staging.mkdir()
    burst = {}
    for i in range(8):
        stamp = f"2026-12-01 12:00:{i:02d}.000000 UTC"
        folder = staging / f"s{i:02d}+{spec.ASSIGNMENT}+{stamp}"
        shutil.copytree(template, folder)
        (folder / "timestamp.txt").write_text(stamp)
        burst[f"s{i:02d}"] = secrets.token_hex(64)
        (folder / "submission_secret.txt").write_text(burst[f"s{i:02d}"])
    # Hostile ones: a notebook that is a link to the source notebook (hidden tests, reference
    # answers), and a student id aimed outside submitted/.
    stamp = "2026-12-01 12:00:30.000000 UTC"
    mallory = staging / f"mallory+{spec.ASSIGNMENT}+{stamp}"
    shutil.copytree(template, mallory)
    (mallory / f"{spec.NOTEBOOK}.ipynb").unlink()
    (mallory / f"{spec.NOTEBOOK}.ipynb").symlink_to(course.source_path(served.root))
    (mallory / "timestamp.txt").write_text(stamp)
    shutil.copytree(template, staging / f"..+{spec.ASSIGNMENT}+{stamp}")
    for folder in sorted(staging.iterdir()):
        folder.rename(served.inbound / folder.name)
    until(lambda: len(served.service.lines("graded")) >= 6 + 3, 120)  # alice 2, bob 2, carol, dave; then 3
    served.service.kill()
    served.service.start()
    for student, secret in burst.items():
        page = exchange.outbound(str(served.exchange), COURSE_ID) / exchange.page_name(secret)
        until(page.is_file, 120)
        assert page.read_text().rstrip().endswith("</html>") and f"feedback for {student}" in page.read_text()
    graded = served.service.lines("graded")
    for student in burst:
        assert len([line for line in graded if f" {student} " in line]) <= 1, student
    assert all(state == "graded" for s, _, state in served.ledger() if s in burst)
    assert not list(exchange.outbound(str(served.exchange), COURSE_ID).glob(".*partial"))
    until(lambda: served.service.lines("failed"), 60)
    assert [state for s, _, state in served.ledger() if s == "mallory"] == ["failed"]
    assert "symbolic link" in served.service.lines("failed")[0]
    assert served.service.lines("refused") and not (served.root / spec.ASSIGNMENT).exists()
    scores = course.read_scores(served.root)
    assert "mallory" not in scores and ".." not in scores
    assert {s: sum(scores[s].values()) for s in burst} == {s: sum(scores["dave"].values()) for s in burst}
