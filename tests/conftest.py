"""Shared fixtures: real nbgrader courses in temporary folders, graded once per test session."""

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder import course
from autograder.submissions import fill, read_examples, reference_answers
from tests.submissions import MUTANTS, STYLES

ROOT = Path(__file__).resolve().parent.parent

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


@pytest.fixture(scope="session")
def kit_graded(graded):
    """The nbgrader-graded courses of conftest, graded again by the kit (scores read before and after)."""
    out = {}
    for name, graded_course in graded.items():
        result = kit_grade(graded_course.root, "--force")
        assert result.returncode == 0, result.stdout + result.stderr
        out[name] = course.read_scores(graded_course.root)
    return out
