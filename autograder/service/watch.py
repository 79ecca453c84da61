"""`python -m autograder watch backprop`: grade each submission as it arrives, publish its page.

One loop in this process, the sandboxes in a pool of warm grading processes (graders.py), as
many submissions at once as there are sandboxes, one per student. For each submission, in the
order the batch commands would take: collect it into submitted/, grade it (the same
per-submission grading and the same single recorder as `python -m autograder grade`: scores,
nbgrader's late penalty, autograded/ written whole), write its feedback page under feedback/ as
`python -m autograder feedback` does, publish the page at the instructor's level where
`nbgrader fetch_feedback` finds it, then mark it done in the ledger. Killed between any two
steps, a restart finds it pending and redoes only what is not
on disk (a submission whose graded record is current is not graded again).

SIGTERM or SIGINT: finish the submission in progress, then exit 0. One log line per submission
on stdout; autograded/.kit-watch/status.json says what the service is doing.
"""

import contextlib
import datetime
import io
import json
import os
import signal
import sys
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import nbformat

from ..course import course, records
from ..grading.grade import record_all
from ..homework import spec
from ..outputs import feedback
from ..running.sandbox.launch import Limits, resolve
from . import exchange, graders, ledger, pages, settings


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def log(*words) -> None:
    print(_now(), *words, flush=True)


def read_submission(gb, student: str) -> course.Submission:
    """One student's course.Submission, read from an open gradebook (course.read_submissions
    reads the whole class)."""
    sub = gb.find_submission(spec.ASSIGNMENT, student)
    nb = gb.find_submission_notebook(spec.NOTEBOOK, spec.ASSIGNMENT, student)
    return course.Submission(
        {g.name: (None if g.needs_manual_grade and g.auto_score is None else g.score) for g in nb.grades},
        {g.name: g.auto_score for g in nb.grades},
        float(nb.late_submission_penalty or 0.0), sub.timestamp, sub.duedate, sub.total_seconds_late)


class Service:
    """The watch loop over one course (its root holds nbgrader_config.py)."""

    def __init__(self, root: Path, sandbox: str = "auto", exchange_root: str | None = None,
                 workers: int | None = None):
        self.root = root
        self.config = course.config(root)
        self.coursedir = course.coursedir(root)
        self.settings = settings.read(self.config)
        self.exchange = exchange_root or settings.exchange_root(self.config)
        self.course_id = self.coursedir.course_id
        self.source_text = course.source_path(root).read_text()
        self.source = nbformat.reads(self.source_text, as_version=4)
        self.limits, self.sandbox = Limits(), resolve(sandbox)
        self.workers = workers or self.settings.workers or os.cpu_count() or 1
        self.ledger = ledger.Ledger(ledger.path(root))
        self.inflight: dict = {}  # Future -> (row, when started, its submitted/ folder)
        self.attempts: dict[tuple[str, str], int] = {}
        self.notes: dict[tuple[str, str], str | None] = {}  # nbgrader collect's owner warning, for the log line
        self.check_owner = exchange.checks_owner(self.config)
        self.known = self.ledger.known()
        self.stopping = False
        self.started = time.time()
        self._due, self._due_read, self._status_written = None, 0.0, 0.0

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        self.lock()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        exchange.clean_collect_leftovers(self.root)
        records.clean_leftovers(self.root)
        self.warm_up()
        log("watching", self.watched(), f"(pid {os.getpid()}, {self.graders.count} sandbox(es), pages "
            f"{self.settings.before_due} before the due date, limit {self.settings.limit} per {self.settings.period})")
        self.write_status("watching")
        try:
            while not self.stopping or self.inflight:
                if not self.step():
                    if time.monotonic() - self._status_written > 5:
                        self.write_status("idle")
                    deadline = time.monotonic() + self.settings.poll_interval
                    while not self.stopping and time.monotonic() < deadline:
                        time.sleep(min(0.02, self.settings.poll_interval))
        finally:
            self.graders.close()
        self.write_status("stopped")
        log("stopped")
        self.ledger.close()
        return 0

    def lock(self) -> None:
        """One service per course: a second would grade the same submissions. The lock goes with
        the process, however it ends."""
        import fcntl

        file = ledger.path(self.root).with_name("lock")
        self._lock = open(file, "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            raise course.CourseError(f"another `watch` already serves this course (pid {self._lock.read().strip()}, "
                                     f"lock {file}): stop it first, or use `watch --status`") from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(str(os.getpid()))
        self._lock.flush()

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def watched(self) -> str:
        if self.settings.source == "submitted":
            return str(self.root / "submitted")
        return str(exchange.inbound(self.exchange, self.course_id))

    def warm_up(self) -> None:
        """Start the sandboxes and the page's plotting before the first submission arrives."""
        self.graders = graders.Graders(self.workers, self.source_text, self.limits, self.sandbox)
        feedback.loss_plot([1.0, 0.5], [1.0, 0.4])

    def scan(self) -> int:
        refused: list[str] = []
        if self.settings.source == "submitted":
            found = exchange.scan_submitted(self.root, self.known)
        else:
            found = exchange.scan_inbound(exchange.inbound(self.exchange, self.course_id), self.known, refused)
        new = 0
        for student, stamp, at, where in found:
            self.known.add((student, stamp))
            if self.ledger.add(student, stamp, at, where):
                new += 1
        for name in refused:
            log("refused", ascii(name)[:200], "(names no student id nbgrader could have written; not collected)")
        return new

    def step(self) -> bool:
        """Do what can be done now (queue what is new, deliver what the sandboxes finished, start
        the next submissions, publish a 'graded later' notice, upgrade pages after the due date);
        whether anything was done or is under way."""
        if not self.stopping and self.scan():
            self.ledger.supersede()
        done = [f for f in self.inflight if f.done()]
        for future in done:
            self.complete(future)
        if self.stopping:
            if self.inflight:
                wait(list(self.inflight), timeout=self.settings.poll_interval, return_when=FIRST_COMPLETED)
            return bool(self.inflight)
        started = False
        while len(self.inflight) < self.graders.count and not self.stopping:
            now = time.time()
            row = self.ledger.next_ready(now, {r.student for r, *_ in self.inflight.values()})
            if row is None:
                break
            until = self.held_until(row, now)
            if until is not None:
                self.ledger.defer(row, until)
            else:
                self.begin(row)
            started = True
        if done or started:
            self.write_status("grading")
            return True
        if self.inflight:
            wait(list(self.inflight), timeout=self.settings.poll_interval, return_when=FIRST_COMPLETED)
            return True
        held = self.ledger.deferred_unannounced(time.time())
        if held is not None:
            self.announce(held)
            return True
        return self.upgrade()

    # -- the rate limit --------------------------------------------------------------------------
    def held_until(self, row: ledger.Row, now: float) -> float | None:
        """When this submission may be graded, if the rate limit holds it back now."""
        window, limit = settings.PERIODS[self.settings.period], self.settings.limit
        times = self.ledger.graded_since(row.student, now - window)
        if len(times) < limit:
            return None
        return times[len(times) - limit] + window

    def announce(self, row: ledger.Row) -> None:
        graded = len(self.ledger.graded_since(row.student, time.time() - settings.PERIODS[self.settings.period]))
        html = pages.held_back(row.student, row.stamp, graded, self.settings.limit, self.settings.period,
                               row.not_before)
        secret = exchange.secret_of(self.submission_folder(row))
        if secret is not None:
            # Beside the student's last graded page, which stays until this one is graded.
            self.ledger.announced(row, exchange.publish(self.exchange, self.course_id, secret, html).name)
        else:
            self.ledger.announced(row)
        log("held", row.student, repr(row.stamp), "by the rate limit until",
            datetime.datetime.fromtimestamp(row.not_before, datetime.timezone.utc).strftime("%H:%M:%S UTC"))

    # -- one submission ------------------------------------------------------------------------
    def submission_folder(self, row: ledger.Row) -> Path:
        if self.settings.source == "submitted":
            return Path(row.name)
        return exchange.inbound(self.exchange, self.course_id) / row.name

    def begin(self, row: ledger.Row) -> None:
        """Collect a submission and hand it to a sandbox (or deliver it at once when its graded
        record is current already: a restart after it was recorded)."""
        started = time.monotonic()
        try:
            source = self.submission_folder(row)
            if self.settings.source == "inbound" and not exchange.collect(self.coursedir, self.config, source,
                                                                          row.student):
                self.ledger.set_state(row, "superseded")
                log("skipped", row.student, repr(row.stamp), "(submitted/ holds a newer submission)")
                return
            if self.settings.source == "inbound" and self.check_owner:
                self.notes[(row.student, row.stamp)] = exchange.owner_differs(source, row.student)
            submitted = Path(self.coursedir.format_path(self.coursedir.submitted_directory, row.student,
                                                        spec.ASSIGNMENT))
            if records.why_grade(self.coursedir, submitted, records.graded_folder(self.root, row.student)) is None:
                self.deliver(row, None, started, submitted)
                return
            self.inflight[self.graders.submit(row.student, submitted)] = (row, started, submitted)
        except Exception as error:  # a broken submission folder, a full disk: recorded, the service goes on
            self.fail(row, started, f"{type(error).__name__}: {error}")

    def complete(self, future) -> None:
        row, started, submitted = self.inflight.pop(future)
        try:
            outcome = future.result()
        except BrokenProcessPool:
            # A grading process died (the grader's own, not the sandbox): try again in a fresh pool.
            self.attempts[(row.student, row.stamp)] = tries = self.attempts.get((row.student, row.stamp), 0) + 1
            if not self.inflight:
                self.graders.restart()
            if tries < 3:
                log("retrying", row.student, repr(row.stamp), "(a grading process died)")
                return
            self.fail(row, started, "the grading process died three times on it")
            return
        except Exception as error:
            self.fail(row, started, f"the grader failed: {type(error).__name__}: {error}")
            return
        try:
            self.deliver(row, outcome, started, submitted)
        except Exception as error:
            self.fail(row, started, f"{type(error).__name__}: {error}")

    def fail(self, row: ledger.Row, started: float, why: str) -> None:
        self.ledger.finish(row, "failed", None, why[:500])
        log("failed", row.student, repr(row.stamp), f"in {time.monotonic() - started:.2f} s:", why[:500])

    def deliver(self, row: ledger.Row, outcome, started: float, submitted: Path) -> None:
        """Record a graded submission (as `grade` does), write its page (as `feedback` does),
        publish it at the level the policy gives it now, and mark it done."""
        from nbgrader.api import Gradebook

        if outcome is not None:
            warnings.filterwarnings("ignore", message=".*not in session.*")
            with contextlib.redirect_stderr(io.StringIO()):  # the batch grader's progress bar
                record_all([outcome], {row.student: submitted}, self.coursedir, self.source)
        results = records.read_results(self.root, row.student)
        with Gradebook(self.coursedir.db_url) as gb:
            submission = read_submission(gb, row.student)
        level = pages.level_now(self.settings.before_due, submission.duedate,
                                datetime.datetime.now(datetime.timezone.utc))
        if level == "full":
            full = feedback.render(row.student, results, submission.scores, submission)
            feedback.write_page(self.root, row.student, full, submission)
            html = full.replace("</head><body>", "</head><body>" + pages.banner("full", None, row.stamp), 1)
        else:
            # Only the page the student may see now; feedback/ gets the full page when it is
            # published (record_all removed the old one, so nothing there contradicts the gradebook).
            html = pages.render(level, row.student, results, submission, row.stamp)
        secret = exchange.secret_of(submitted)
        if secret is not None:
            self.publish(row, secret, html)
        total = sum(v or 0.0 for v in submission.scores.values()) - submission.penalty
        score = f"score {total:g}/{spec.TOTAL_POINTS}"
        if submission.penalty:
            score += f" (late penalty {submission.penalty:g})"
        error = outcome.reason if outcome is not None and outcome.grader_error else None
        note = error or (None if secret else "no submission_secret.txt: not published")
        latency = self.ledger.finish(row, "failed" if error else "graded", level, note)
        note = " ".join(filter(None, [note, self.notes.pop((row.student, row.stamp), None)]))
        log("failed" if error else "graded", row.student, repr(row.stamp), score, f"page {level}",
            f"in {time.monotonic() - started:.2f} s, {latency:.1f} s after submission",
            "(recorded before a restart)" if outcome is None else "", note or "")

    def publish(self, row: ledger.Row, secret: str, html: str) -> None:
        page = exchange.publish(self.exchange, self.course_id, secret, html)
        for older in self.ledger.published(row, page.name):
            if older != page.name:
                exchange.withdraw(self.exchange, self.course_id, older)

    # -- after the due date ------------------------------------------------------------------------
    def duedate(self):
        if time.monotonic() - self._due_read > 2:  # the instructor may move it: read it again often
            from nbgrader.api import Gradebook, MissingEntry

            with Gradebook(self.coursedir.db_url) as gb:
                try:
                    self._due = gb.find_assignment(spec.ASSIGNMENT).duedate
                except MissingEntry:
                    self._due = None
            self._due_read = time.monotonic()
        return self._due

    def upgrade(self) -> bool:
        """Once the due date has passed, republish the pages written before it in full."""
        due = self.duedate()
        if due is None or pages.level_now("visible", due, datetime.datetime.now(datetime.timezone.utc)) != "full":
            return False
        below = self.ledger.below_full()
        for student, stamp in below:
            graded = records.graded_folder(self.root, student)
            current = (graded / records.TIMESTAMP).is_file() and \
                (graded / records.TIMESTAMP).read_text().strip() == stamp
            secret = exchange.secret_of(graded)
            results = records.read_results(self.root, student)
            if current and secret and results is not None:
                # As `feedback` would write it now: the gradebook's due date may have moved.
                from nbgrader.api import Gradebook

                with Gradebook(self.coursedir.db_url) as gb:
                    submission = read_submission(gb, student)
                full = feedback.render(student, results, submission.scores, submission)
                feedback.write_page(self.root, student, full, submission)
                exchange.publish(self.exchange, self.course_id, secret,
                                 full.replace("</head><body>", "</head><body>" + pages.banner("full", None, stamp), 1))
                log("full page", student, repr(stamp), "(the due date has passed)")
            self.ledger.set_level(student, stamp, "full")
        return bool(below)

    # -- status ------------------------------------------------------------------------------------
    def write_status(self, doing: str) -> None:
        today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        status = {"pid": os.getpid(), "state": doing, "since": self.started, "at": time.time(),
                  "watching": self.watched(), **self.ledger.status(today.timestamp())}
        self._status_written = time.monotonic()
        target = status_path(self.root)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(status, indent=1))
        os.replace(partial, target)


def status_path(root: Path) -> Path:
    return ledger.path(root).parent / "status.json"


def show_status(root: Path) -> int:
    """`watch --status`: what the service is doing, from its ledger (current even when it is down)."""
    file = ledger.path(root)
    if not file.is_file():
        print(f"the service has not run in this course (no {file.relative_to(root)}): "
              f"start it with `python -m autograder watch {spec.ASSIGNMENT}`", file=sys.stderr)
        return 1
    today = datetime.datetime.now(datetime.timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    book = ledger.Ledger(file)
    status = book.status(today.timestamp())
    book.close()
    running = "not running"
    try:
        last = json.loads(status_path(root).read_text())
        os.kill(last["pid"], 0)
        if last["state"] != "stopped":
            running = f"running (pid {last['pid']}, {last['state']}, watching {last['watching']})"
    except (OSError, ValueError, KeyError):
        pass
    fmt = lambda v: "-" if v is None else f"{v:.2f} s"  # noqa: E731
    lat = status["latency_today"]
    last = status["last_graded"]
    print(f"service: {running}")
    print(f"queue: {status['queued']} waiting ({status['held_by_limit']} held by the rate limit)")
    when = last and datetime.datetime.fromtimestamp(last["at"], datetime.timezone.utc)
    print("last graded: " + (f"{last['student']} ({last['timestamp']}) at {when:%Y-%m-%d %H:%M:%S} UTC"
                             if last else "none yet"))
    print("submissions: " + ", ".join(f"{n} {s}" for s, n in sorted(status["counts"].items())))
    print(f"latency today (submit to fetchable): p50 {fmt(lat['p50'])}, p95 {fmt(lat['p95'])} over {lat['count']}")
    print(f"failures: {len(status['failures'])}" + "".join(
        f"\n  {f['student']} ({f['timestamp']}): {f['why']}" for f in status["failures"]))
    return 0


def run(assignment: str, status: bool = False, sandbox: str = "auto", exchange_root: str | None = None,
        workers: int | None = None) -> int:
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit grades the assignment {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    if status:
        return show_status(root)
    from ..authoring import selftest

    selftest.before_grading(root)
    return Service(root, sandbox, exchange_root, workers).run()
