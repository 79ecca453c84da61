"""`python -m autograder grade`: the kit's own grader, isolated, parallel and tamper-proof.

Each submission runs in a sandboxed child process (autograder.running.sandbox) that sees nothing but
its own code; every visible test and hidden check runs here, in the grader's process, on the
plain arrays the child returns. Scores go into nbgrader's gradebook under the notebook's
grade_ids; graded notebooks and results go to autograded/ as nbgrader's would.
"""

import contextlib
import json
import sys
import time
import warnings
from pathlib import Path

import nbformat

from ..course import course, records
from ..course.gradebook import assign_late_penalty, late_penalties, record_scores, write_graded
from ..homework import spec
from ..judging.outcome import Outcome
from ..outputs.score_table import score_table
from ..running.sandbox.launch import Limits, resolve
from .early import find_submissions


class Progress:
    """A one-line progress bar with rate and ETA on stderr."""

    def __init__(self, total: int):
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.tty = sys.stderr.isatty()

    def step(self, student: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        width = 30
        bar = "#" * (width * self.done // max(self.total, 1))
        line = (f"[{bar:<{width}}] {self.done}/{self.total}  {self.done / max(elapsed, 1e-9):.1f}/s  "
                f"ETA {eta:.0f} s  {student}")
        if self.tty:
            sys.stderr.write("\r" + line[:120].ljust(120) + ("\n" if self.done == self.total else ""))
        elif self.done == self.total or self.done % max(1, self.total // 10) == 0:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


def record_all(outcomes, todo: dict[str, Path], coursedir, source, gb=None) -> list[Outcome]:
    """The single writer: each outcome into the gradebook, then its graded folder, with progress.

    The gradebook first (scores and nbgrader's late penalty, one commit), the folder last and whole:
    a run killed in between leaves no complete record, so the next run grades that student again.
    gb: an open nbgrader Gradebook of the course to write in (default: one opened and closed here).
    """
    from nbgrader.api import Gradebook

    progress, recorded, dropped = Progress(len(todo)), [], []
    # nbgrader's own API warns about its session handling on every new submission: noise.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    root = Path(coursedir.root)
    late = late_penalties(coursedir.config)
    with contextlib.nullcontext(gb) if gb is not None else Gradebook(coursedir.db_url) as gb:
        for outcome in outcomes:
            outcome.bound()
            folder = todo[outcome.student]
            record_scores(gb, outcome.student, outcome.results, coursedir.get_existing_timestamp(str(folder)))
            assign_late_penalty(gb, outcome.student, late)
            graded = records.graded_folder(root, outcome.student)
            partial = records.partial_folder(graded)
            records.copy_exchange_files(folder, partial)
            write_graded(partial, outcome.notebook, source, outcome.results, outcome.reason, outcome.cell_errors)
            records.put_in_place(partial, graded)
            if records.drop_feedback_page(root, outcome.student):
                dropped.append(outcome.student)
            outcome.notebook = None  # written; keeping thousands of notebooks would only cost memory
            recorded.append(outcome)
            progress.step(outcome.student)
    if dropped:
        print(f"Removed the now outdated feedback page(s) of {len(dropped)} student(s) graded again "
              f"(run `python -m autograder feedback {spec.ASSIGNMENT}` to write new ones): {', '.join(dropped[:10])}"
              + (" ..." if len(dropped) > 10 else ""), file=sys.stderr)
    return recorded


def to_grade(root: Path, coursedir, submissions: dict[str, Path], force: bool) -> dict[str, Path]:
    """The submissions to grade, saying which are skipped and why the others are graded again."""
    reasons = {s: "--force" if force else records.why_grade(coursedir, p, records.graded_folder(root, s))
               for s, p in submissions.items()}
    todo = {s: p for s, p in submissions.items() if reasons[s]}
    skipped = sorted(set(submissions) - set(todo))
    if skipped:
        print(f"Skipping {len(skipped)} already graded (use --force to grade again): {', '.join(skipped[:10])}"
              + (" ..." if len(skipped) > 10 else ""), file=sys.stderr)
    for why in ("resubmitted", "no complete results"):
        again = sorted(s for s in todo if reasons[s].startswith(why))
        if again:
            print(f"Grading again, {why}: " + "; ".join(f"{s}: {reasons[s]}" for s in again[:10])
                  + (" ..." if len(again) > 10 else ""), file=sys.stderr)
    return todo


def write_run_record(root: Path, record: dict) -> Path:
    """Append this run's figures (when, how long, how many workers) to the run log the class
    report reads (under autograded/, with the rest of the grader's output)."""
    target = records.run_log(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a") as out:
        out.write(json.dumps(record) + "\n")
    return target


RELEASE_FIRST = f"run `nbgrader generate_assignment {spec.ASSIGNMENT}` (or `make release`) first"


def run(assignment: str, students: list[str] | None, workers: int, force: bool, limits: Limits,
        sandbox: str = "auto", scheduler: str | None = None, early=None) -> int:
    """Grade the class; `early` is early.start_early's pool for the same arguments (shut down here)."""
    try:
        return _run(assignment, students, workers, force, limits, sandbox, scheduler, early)
    finally:
        if early is not None:
            early.shutdown(cancel_futures=True)  # idempotent: graded_in_processes shuts it when it grades


def _run(assignment: str, students: list[str] | None, workers: int, force: bool, limits: Limits,
         sandbox: str, scheduler: str | None, early) -> int:
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit grades the assignment {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    coursedir = course.coursedir(root)
    from nbgrader.api import Gradebook, MissingEntry

    if coursedir.db_url.startswith("sqlite:///") and not Path(coursedir.db_url[len("sqlite:///"):]).exists():
        raise course.CourseError(f"there is no gradebook yet ({coursedir.db_url}): {RELEASE_FIRST}")
    # One connection for the run: the check here, then record_all.
    with Gradebook(coursedir.db_url) as gb:
        try:
            gb.find_notebook(spec.NOTEBOOK, spec.ASSIGNMENT)
        except MissingEntry:
            raise course.CourseError(f"the gradebook has no assignment {spec.ASSIGNMENT!r}: {RELEASE_FIRST}") from None
        gb.db.commit()  # ends the read: no lock is held on the gradebook while the class is graded
        return _grade_class(root, coursedir, gb, students, workers, force, limits, sandbox, scheduler, early)


def _grade_class(root: Path, coursedir, gb, students: list[str] | None, workers: int, force: bool, limits: Limits,
                 sandbox: str, scheduler: str | None, early) -> int:
    start, started = time.monotonic(), time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    source = nbformat.read(course.source_path(root), as_version=4)
    submissions = find_submissions(root, students)
    for leftover in records.clean_leftovers(root):
        print(f"Removed {leftover.relative_to(root)}, left half-written by an interrupted run", file=sys.stderr)
    todo = to_grade(root, coursedir, submissions, force)
    if not todo:
        print("Nothing to grade.", file=sys.stderr)
        return 0
    if scheduler:
        from .distributed import graded_on_cluster

        print(f"Grading {len(todo)} submission(s) of {spec.ASSIGNMENT} on the Dask cluster at {scheduler} ...",
              file=sys.stderr)
        outcomes = record_all(graded_on_cluster(scheduler, todo, source, limits, sandbox), todo, coursedir, source,
                              gb)
    else:
        workers = max(1, min(workers, len(todo)))
        print(f"Grading {len(todo)} submission(s) of {spec.ASSIGNMENT} with {workers} sandboxed worker(s) ...",
              file=sys.stderr)
        from .workers import graded_in_processes

        mode = resolve(sandbox)
        outcomes = record_all(graded_in_processes(todo, source, limits, mode, workers, early), todo, coursedir,
                              source, gb)
    scores = {o.student: {r.grade_id: r.score for r in o.results} for o in outcomes}
    print(score_table(scores, sorted(scores)))
    for o in sorted(outcomes, key=lambda o: o.student):
        if o.reason:
            print(f"{o.student}: {o.reason}")
    elapsed = time.monotonic() - start
    write_run_record(root, {
        "assignment": spec.ASSIGNMENT, "started": started, "seconds": round(elapsed, 2),
        "submissions": len(outcomes), "skipped": len(submissions) - len(todo),
        "workers": None if scheduler else workers, "scheduler": scheduler, "sandbox": sandbox,
        "not_graded": sorted(o.student for o in outcomes if o.reason),
        "grader_errors": sorted(o.student for o in outcomes if o.grader_error)})
    print(f"Graded {len(outcomes)} submission(s) in {elapsed:.1f} s; scores are in the gradebook "
          f"({course.display_url(coursedir.db_url)}) and graded notebooks in autograded/.")
    return 1 if any(o.grader_error for o in outcomes) else 0
