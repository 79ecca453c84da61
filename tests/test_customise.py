"""An instructor changes the homework in a copy of the kit and course: a mistake is refused, and
after a valid change every total follows the spec, with both graders.

The copy holds its own autograder/ and solutions/; every command runs in it with PYTHONPATH set
to it, so the nbgrader kernels and the kit's grader use the copy's spec.py, not this one.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import course
from autograder.course.submissions import fill, read_example, reference_answers
from tests.conftest import ROOT

KIT_PARTS = ("autograder", "solutions", "source", "release", "examples", "nbgrader_config.py", "README.md")
NEW_NETWORK = '    ((2, 3, 3, 1), "tanh"),\n'
LAST_NETWORK = '    ((3, 2, 4, 1, 2), "sigmoid"),\n'
WRONG = "lecture_verbatim"


def copy_kit(target: Path) -> Path:
    for name in KIT_PARTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, target / name)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once: update this test"
    path.write_text(text.replace(old, new))


def load_spec(root: Path):
    """The copy's spec module (it imports nothing of the kit)."""
    module_spec = importlib.util.spec_from_file_location(
        "customised_spec", root / "autograder" / "homework" / "spec.py"
    )
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def kit(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)


def expected(custom, wrong: tuple[str, ...]) -> dict[str, float]:
    return {c.grade_id: 0.0 if set(c.judges) & set(wrong) else float(c.points) for c in custom.TEST_CELLS}


@pytest.fixture(scope="module")
def customised(tmp_path_factory):
    """The copy after a refused mistake and a valid change (test_training 4 -> 6 points, one more
    hidden network), released and graded by both graders; what each step said."""
    root = copy_kit(tmp_path_factory.mktemp("customised"))
    spec_py = root / "autograder" / "homework" / "spec.py"
    release = course.release_path(root)
    released_before = release.read_text()
    steps = {}

    edit(spec_py, LAST_NETWORK, LAST_NETWORK + '    ((2, 3, 3, 1), "relu"),\n')
    steps["mistake"] = kit(root, "release")
    assert release.read_text() == released_before, "a refused release changed release/"
    edit(spec_py, '    ((2, 3, 3, 1), "relu"),\n', "")
    edit(spec_py, '    ((3, 4, 2), "tanh"),\n', '    ((3, 4, 2), "tanh")\n')  # a forgotten comma
    steps["typo"] = kit(root, "release")
    edit(spec_py, '    ((3, 4, 2), "tanh")\n', '    ((3, 4, 2), "tanh"),\n')

    edit(spec_py, 'TestCell("test_training", 4,', 'TestCell("test_training", 6,')
    edit(spec_py, LAST_NETWORK, LAST_NETWORK + NEW_NETWORK)
    steps["grade before release"] = kit(root, "grade", "backprop")
    steps["release"] = kit(root, "release")
    assert steps["release"].returncode == 0, steps["release"].stderr

    notebook = nbformat.read(release, as_version=4)
    examples = {"reference": reference_answers(), WRONG: read_example(root / "examples" / f"{WRONG}.py").all_answers()}
    for student, answers in examples.items():
        course.submit(root, student, fill(notebook, answers))
    env = {**os.environ, "PYTHONPATH": str(root)}
    stock = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", "backprop"], cwd=root,
                           env=env, capture_output=True, text=True, timeout=600)
    steps["nbgrader autograde"] = stock
    stock_scores = course.read_scores(root)
    steps["grade"] = kit(root, "grade", "backprop", "--force")
    assert steps["grade"].returncode == 0, steps["grade"].stdout + steps["grade"].stderr
    kit_scores = course.read_scores(root)
    steps["feedback"] = kit(root, "feedback", "backprop")
    return root, steps, stock_scores, kit_scores


def test_a_mistake_in_the_spec_is_refused_with_its_fix(customised):
    _, steps, _, _ = customised
    refused = steps["mistake"]
    assert refused.returncode == 2
    assert "release refused" in refused.stderr and "'relu'" in refused.stderr
    assert "autograder/homework/spec.py:" in refused.stderr and "fix:" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_spec_that_does_not_load_is_named_with_its_line(customised):
    _, steps, _, _ = customised
    refused = steps["typo"]
    assert refused.returncode == 2
    assert "autograder/homework/spec.py:" in refused.stderr and "does not load" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_grading_refuses_a_spec_that_was_not_released(customised):
    _, steps, _, _ = customised
    refused = steps["grade before release"]
    assert refused.returncode == 2
    assert "grading refused" in refused.stderr and "make release" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_both_graders_follow_the_new_points(customised):
    root, steps, stock, kit_scores = customised
    custom = load_spec(root)
    assert custom.TOTAL_POINTS == 27
    wrong = read_example(root / "examples" / f"{WRONG}.py").wrong
    assert stock["reference"] == kit_scores["reference"] == expected(custom, ())
    assert sum(stock["reference"].values()) == 27 and stock["reference"]["test_training"] == 6
    assert stock[WRONG] == kit_scores[WRONG] == expected(custom, wrong)
    from nbgrader.api import Gradebook

    with Gradebook(course.coursedir(root).db_url) as gb:
        assert gb.find_assignment("backprop").max_score == 27
    assert "total /27" in steps["grade"].stdout


def test_prose_and_pages_follow_the_spec(customised):
    root, steps, _, kit_scores = customised
    for path in (course.source_path(root), course.release_path(root)):
        intro = nbformat.read(path, as_version=4).cells[0].source
        assert "27 in all" in intro and "seven networks" in intro and "2-3-3-1 tanh" in intro
        assert "| `test_training` | 6 |" in intro
    readme = (root / "README.md").read_text()
    assert "27 points in twelve test cells" in readme and "| `test_training` | 6 |" in readme
    assert "seven networks" in readme and "2-3-3-1 tanh" in readme
    assert steps["feedback"].returncode == 0, steps["feedback"].stderr
    page = (root / "feedback" / "reference" / "backprop" / "backprop.html").read_text()
    assert "Score: 27 / 27" in page
    page = (root / "feedback" / WRONG / "backprop" / "backprop.html").read_text()
    assert f"Score: {sum(kit_scores[WRONG].values()):g} / 27" in page
