"""The kit on real nbgrader: generate_assignment, then autograde a class, scores read from the
gradebook through nbgrader's API."""


import nbformat
import pytest

from autograder.course.submissions import expected_scores, read_examples
from autograder.homework import spec
from tests.conftest import HARD_CASES, ROOT
from tests.submissions import MUTANTS, STYLES

FULL = expected_scores(())
EXAMPLES = read_examples(ROOT / "examples")


def test_release_regenerates_identically(graded):
    """The committed release is exactly what `nbgrader generate_assignment` makes of source/."""
    for name in graded:
        regenerated = graded[name].root / "release" / "backprop" / "backprop.ipynb"
        assert regenerated.read_text() == (ROOT / "release" / "backprop" / "backprop.ipynb").read_text(), \
            "release/ is stale: run `make release` and commit it"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.student)
def test_example_gets_its_expected_scores(graded, example):
    assert graded["class"].scores[example.student] == expected_scores(example.wrong)


def test_reference_full_marks_and_release_zero(graded):
    scores = graded["class"].scores
    assert sum(scores["reference"].values()) == spec.TOTAL_POINTS
    assert sum(scores["untouched_release"].values()) == 0


@pytest.mark.parametrize("student", HARD_CASES)
def test_hard_case(graded, student):
    scores = graded["class"].scores[student]
    if student == "shadowing_files":
        # The submitted autograder.py must not have been copied next to the notebook.
        folder = graded["class"].root / "autograded" / student / "backprop"
        assert not (folder / "autograder.py").exists() and not (folder / "solutions.py").exists()
        assert scores == expected_scores(spec.FUNCTIONS)
    else:
        # A deleted test cell is put back and graded; prints and overflow warnings cost nothing.
        assert scores == FULL


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_mutant_loses_points_only_in_its_own_cells(graded, mutant):
    scores = graded["mutants"].scores[f"mutant_{mutant.name}"]
    assert None not in scores.values(), "the notebook could not be graded automatically"
    own = [c.grade_id for c in spec.TEST_CELLS if c.judges == (mutant.function,)]
    others = [c.grade_id for c in spec.TEST_CELLS if len(c.judges) == 1 and c.judges != (mutant.function,)]
    assert sum(scores[g] for g in own) < sum(FULL[g] for g in own), f"{mutant.function}'s cells missed it"
    assert {g: scores[g] for g in others if scores[g] != FULL[g]} == {}


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.name)
def test_correct_style_gets_full_marks(graded, style):
    assert graded["mutants"].scores[f"style_{style.name}"] == FULL


def test_graded_notebooks_hold_no_stderr(graded):
    """Hidden tests keep student output out of the graded notebook (it would also score 0)."""
    path = graded["class"].by_nbgrader / "noisy_but_correct" / "backprop" / "backprop.ipynb"
    nb = nbformat.read(path, as_version=4)
    hidden_cells = {c.grade_id for c in spec.TEST_CELLS if c.checks}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in hidden_cells:
            assert all(o.get("name") != "stderr" for o in cell.outputs), cell.metadata.nbgrader.grade_id




def test_noisy_example_keeps_its_output_off_stderr_and_short(graded):
    """prints_and_warns prints on every call, writes to stderr and warns: no test cell of its graded
    notebook holds stderr, and the demonstrations that call it thousands of times say they dropped output."""
    path = graded["class"].by_nbgrader / "prints_and_warns" / "backprop" / "backprop.ipynb"
    nb = nbformat.read(path, as_version=4)
    test_cells = {c.grade_id for c in spec.TEST_CELLS}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in test_cells:
            assert all(o.get("name") != "stderr" for o in cell.outputs), cell.metadata.nbgrader.grade_id
    streams = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "more characters of output from training dropped" in streams
    assert len(streams) < 100_000, "student output was not capped"
