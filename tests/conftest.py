"""Shared fixtures: real nbgrader courses in temporary folders, graded once per test session;
and the check that the suite leaves no process behind."""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.course import course
from autograder.course.submissions import fill, read_examples, reference_answers
from tests.submissions import MUTANTS, STYLES

ROOT = Path(__file__).resolve().parent.parent

# -- processes -------------------------------------------------------------------------------
_PR_SET_CHILD_SUBREAPER = 36
# Helpers of multiprocessing that live as long as the process that started them, by design.
_BENIGN = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state letter, start time in clock ticks) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0], int(fields[19])


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def descendants(root: int) -> dict[int, int]:
    """Every live (not zombie) process below root, by ppid chains: pid -> start time (a pid
    and its start time name one process, even if the pid is reused later)."""
    table = {int(e): _stat(int(e)) for e in os.listdir("/proc") if e.isdigit()}
    children = defaultdict(list)
    for pid, stat in table.items():
        if stat is not None:
            children[stat[0]].append(pid)
    found, todo = {}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            if table[child][1] != "Z":
                found[child] = table[child][2]
    return found


def still_running(processes: dict[int, int]) -> dict[int, str]:
    """Those of processes (pid -> start time) still running: pid -> command line."""
    out = {}
    for pid, start in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[2] == start and stat[1] != "Z":
            out[pid] = command_line(pid)
    return out


def wait_until_gone(processes: dict[int, int], seconds: float) -> dict[int, str]:
    """Poll (a bounded loop) until none of processes runs; returns those still running after `seconds`."""
    for _ in range(int(seconds / 0.1)):
        if not still_running(processes):
            return {}
        time.sleep(0.1)
    return still_running(processes)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Fail the run if it leaves any process running (a sandbox, a zygote, a grading worker, a
    kernel), after a grace period to exit. This process is made a child subreaper first, so
    that what a test orphans (a grader killed with SIGKILL leaves its workers) stays below it
    and is found here, and nothing of another user of this machine is."""
    ctypes.CDLL(None).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # Linux; elsewhere children only
    yield
    # Sandboxes this process keeps for its own life (nbgrader's pipeline run in-process by the
    # formgrader tests) would end at its exit: end them now.
    per_process = sys.modules.get("autograder.grading.sandbox_per_process")
    if per_process is not None:
        per_process.close_all()
    left = {pid: start for pid, start in descendants(os.getpid()).items()
            if not any(name in command_line(pid) for name in _BENIGN)}
    running = wait_until_gone(left, 30.0)
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until_gone(left, 10.0)
    # Orphans that ended below this process are its zombies now: reap them (pid 1 may not).
    for entry in os.listdir("/proc"):
        stat = _stat(int(entry)) if entry.isdigit() else None
        if stat is not None and stat[0] == os.getpid() and stat[1] == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(entry), os.WNOHANG)
    assert not running, "the tests left processes running:\n" + "\n".join(
        f"  {pid}: {line[:200]}" for pid, line in running.items())


# Submissions with unusual shapes, beyond the example class, and the scores each should get
# (None: every cell full marks). Built by hard_cases() below.
HARD_CASES = ("deleted_test_cell", "shadowing_files", "noisy_but_correct")


def hard_cases(release: nbformat.NotebookNode) -> dict[str, tuple[nbformat.NotebookNode, dict]]:
    """student -> (notebook, extra files submitted beside it)."""
    reference = fill(release, reference_answers())
    deleted = nbformat.from_dict(reference)
    deleted.cells = [c for c in deleted.cells
                     if c.metadata.get("nbgrader", {}).get("grade_id") != "test_backward_prop_hidden"]
    # Stubs everywhere, plus a module that would turn every hidden test into a no-op if nbgrader
    # copied it next to the notebook (CourseDirectory.ignore must keep it out).
    noop = "def run_hidden_tests(grade_id, namespace):\n    pass\n"
    noisy = fill(release, {**reference_answers(), "sigmoid": (
        "def sigmoid(z):\n"
        "    print('sigmoid called with shape', np.shape(z))\n"
        "    h = 1.0 / (1.0 + np.exp(-z))  # overflows (with a RuntimeWarning) for z << 0\n"
        "    return h, h * (1.0 - h)\n")})
    return {
        "deleted_test_cell": (deleted, {}),
        "shadowing_files": (release, {"autograder.py": noop, "solutions.py": noop}),
        "noisy_but_correct": (noisy, {}),
    }


def released_course(tmp: Path) -> tuple[Path, nbformat.NotebookNode]:
    """A fresh copy of the course at tmp, released with nbgrader; its root and release notebook."""
    root = course.copy_course(ROOT, tmp)
    course.generate_release(root)
    return root, nbformat.read(course.release_path(root), as_version=4)


def _course(tmp: Path, submissions: dict[str, tuple[nbformat.NotebookNode, dict]]) -> Path:
    root, _ = released_course(tmp)
    for student, (nb, files) in submissions.items():
        course.submit(root, student, nb, files)
    return root


@dataclass
class GradedCourse:
    root: Path
    scores: dict[str, dict[str, float | None]]  # student -> grade_id -> score (None: not auto-graded)

    @property
    def by_nbgrader(self) -> Path:
        """autograded/ as stock nbgrader left it (the kit's grader later rewrites autograded/)."""
        return self.root.parent / f"{self.root.name}-autograded-by-nbgrader"


@pytest.fixture(scope="session")
def graded(tmp_path_factory) -> dict[str, GradedCourse]:
    """Two courses graded by `nbgrader autograde` side by side (one per core): 'class' holds the
    example class and the hard cases, 'mutants' the mutants and the correct styles."""
    release = nbformat.read(ROOT / "release" / "backprop" / "backprop.ipynb", as_version=4)
    reference = reference_answers()
    example_class = {e.student: (fill(release, e.all_answers()), {})
                     for e in read_examples(ROOT / "examples")}
    example_class.update(hard_cases(release))
    mutants = {f"mutant_{m.name}": (fill(release, {**reference, m.function: m.source}), {}) for m in MUTANTS}
    mutants.update({f"style_{s.name}": (fill(release, s.answers), {}) for s in STYLES})
    roots = {"class": _course(tmp_path_factory.mktemp("class"), example_class),
             "mutants": _course(tmp_path_factory.mktemp("mutants"), mutants)}
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        list(pool.map(course.autograde, roots.values()))
    for root in roots.values():
        shutil.copytree(root / "autograded", root.parent / f"{root.name}-autograded-by-nbgrader")
    return {name: GradedCourse(root, course.read_scores(root)) for name, root in roots.items()}


def kit_grade(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", "backprop", *args], cwd=root,
                          capture_output=True, text=True, timeout=900)


def grade_three_ways(root: Path, *kit_args: str) -> dict[str, dict[str, dict[str, float | None]]]:
    """path -> student -> grade_id -> score for the course at root, graded by stock in-kernel
    `nbgrader autograde` ("stock"), `nbgrader autograde` routed through the kit ("routed") and the
    kit's grader with --force and kit_args ("kit"), in that order (each overwrites the last)."""
    scores = {}
    for path, stock in (("stock", True), ("routed", False)):
        # nbgrader exits 1 when a notebook could not be processed: the scores say which.
        assert course.autograde(root, stock=stock) in (0, 1), path
        scores[path] = course.read_scores(root)
    result = kit_grade(root, "--force", *kit_args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    scores["kit"] = course.read_scores(root)
    return scores


@pytest.fixture(scope="session")
def kit_graded(graded):
    """The nbgrader-graded courses of conftest, graded again by the kit (scores read before and after)."""
    out = {}
    for name, graded_course in graded.items():
        result = kit_grade(graded_course.root, "--force")
        assert result.returncode == 0, result.stdout + result.stderr
        out[name] = course.read_scores(graded_course.root)
    return out
