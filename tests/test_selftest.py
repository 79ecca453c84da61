"""The homework's self-test: the spec is read for mistakes, and the reference graded both ways."""

import dataclasses
import types

import nbformat
import pytest

from autograder.authoring import build_notebook, selftest
from autograder.homework import spec
from tests.conftest import ROOT

TEMPLATE = ROOT / "source" / "backprop" / "backprop.py"


def variant(**changes) -> types.SimpleNamespace:
    """The spec with some values changed (the self-test reads any module-like object)."""
    values = {name: getattr(spec, name) for name in dir(spec) if not name.startswith("__")}
    return types.SimpleNamespace(**{**values, **changes})


def with_cell(target: str, **changes) -> tuple:
    """TEST_CELLS with the cell whose grade_id is target changed."""
    return tuple(dataclasses.replace(c, **changes) if c.grade_id == target else c for c in spec.TEST_CELLS)


def test_the_homework_passes_its_self_test():
    """What `make release` runs: the spec is sound and the reference gets every point, in the
    kernel's way and in the sandbox."""
    assert selftest.spec_problems(spec, TEMPLATE) == []
    assert selftest.reference_problems(build_notebook.build(TEMPLATE), sandbox="auto") == []


MISTAKES = {
    "unknown activation": (dict(NETWORKS=spec.NETWORKS + (((2, 3, 3, 1), "relu"),)), "'relu' is not an activation"),
    "stand-in activation": (dict(NETWORKS=spec.NETWORKS + (((2, 3, 1), "logistic"),)), "without a derivative"),
    "zero-unit layer": (dict(NETWORKS=spec.NETWORKS + (((2, 0, 1), "tanh"),)), "whole number from 1"),
    "depth 0": (dict(NETWORKS=spec.NETWORKS + (((2,), "tanh"),)), "at least two layer sizes"),
    "fractional points": (dict(TEST_CELLS=with_cell("test_training", points=4.5)), "points=4.5"),
    "zero points": (dict(TEST_CELLS=with_cell("test_loss_basic", points=0)), "points=0"),
    "unregistered check": (dict(TEST_CELLS=with_cell("test_training", checks=("trainig",))),
                           "did you mean 'training'"),
    "unknown judge": (dict(TEST_CELLS=with_cell("test_gradient_check", judges=spec.FUNCTIONS + ("predict",))),
                      "judges 'predict'"),
    "one judge, other name": (dict(TEST_CELLS=with_cell("test_loss_hidden", judges=("sigmoid",))),
                              "rename it test_sigmoid_"),
    "named cell judging all": (dict(TEST_CELLS=with_cell("test_loss_hidden", judges=spec.FUNCTIONS)),
                               "is named after loss"),
    "duplicate grade_id": (dict(TEST_CELLS=spec.TEST_CELLS + (spec.TEST_CELLS[0],)), "used by two test cells"),
    "tolerance out of range": (dict(GRADCHECK_TOL=0.5), "GRADCHECK_TOL = 0.5 is outside"),
    "negative tolerance": (dict(RTOL=-1e-7), "RTOL = -1e-07 is outside"),
    "tolerance too tight": (dict(GRADCHECK_TOL=0.0), "GRADCHECK_TOL = 0.0 is outside"),
    "rounded outputs": (dict(XOR_ATOL=1e-9), "rounded to 6 decimals"),
    "typed total": (dict(TOTAL_POINTS=spec.TOTAL_POINTS + 1), "the cells add up to"),
    "no sigmoid network": (dict(NETWORKS=tuple(n for n in spec.NETWORKS if n[1] != "sigmoid")), "would run on none"),
    "training network": (dict(TRAINING_SIZES=(3, 2, 1)), "noisy XOR has 2 inputs"),
    "time limit above nbgrader's": (dict(CHECK_SECONDS=30.0), "per-cell timeout"),
}


@pytest.mark.parametrize("mistake", MISTAKES, ids=str)
def test_a_spec_mistake_is_named_with_its_fix(mistake):
    changes, expected = MISTAKES[mistake]
    problems = selftest.spec_problems(variant(**changes))
    assert [p for p in problems if expected in str(p)], [str(p) for p in problems]
    assert all(p.where.startswith("autograder/homework/spec.py") and p.fix for p in problems)


def test_the_spec_and_the_notebook_must_list_the_same_cells():
    reordered = variant(TEST_CELLS=spec.TEST_CELLS[1:] + spec.TEST_CELLS[:1])
    assert any("order differs" in p.what for p in selftest.spec_problems(reordered, TEMPLATE))
    renamed = variant(TEST_CELLS=with_cell("test_training", grade_id="test_training_run"))
    assert any("missing from backprop.py: ['test_training_run']" in p.what
               for p in selftest.spec_problems(renamed, TEMPLATE))


def test_a_problem_points_at_its_line():
    problems = selftest.spec_problems(variant(GRADCHECK_TOL=0.5))
    line = next(n for n, text in enumerate((ROOT / "autograder" / "homework" / "spec.py").read_text().splitlines(), 1)
                if text.startswith("GRADCHECK_TOL"))
    assert [p.where for p in problems] == [f"autograder/homework/spec.py:{line}"]


def test_activations_are_the_reference_collaborators_with_a_derivative():
    names = selftest.activation_names()
    assert {"sigmoid", "tanh", "identity"} <= set(names)
    assert not {"logistic", "loss", "half_squares"} & set(names)


def test_readme_names_the_activations():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Customising the homework"):readme.index("**What `make release` verifies**")]
    for name in selftest.activation_names():
        assert f"`{name}`" in section, name


@pytest.mark.parametrize("sigmoid", ["def sigmoid(z):\n    return z, z\n",
                                     "def sigmoid(z):\n    raise SystemExit(1)\n"], ids=["wrong", "exits"])
def test_a_cell_that_scores_in_the_kernel_only_when_it_passes(sigmoid):
    """The kernel path is a real grader: a wrong answer cell loses its cells there (a SystemExit
    included, as in a kernel), and the others keep theirs."""
    broken = nbformat.from_dict(build_notebook.build(TEMPLATE))
    for cell in broken.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "sigmoid":
            cell.source = sigmoid
    lost = {g for g, why in selftest.kernel_scores(broken).items() if why}
    assert lost == {c.grade_id for c in spec.TEST_CELLS if "sigmoid" in c.judges}


def test_grade_runs_the_self_test_again_when_a_file_it_depends_on_changed(tmp_path):
    """`grade` keeps the fingerprint of the homework that last passed; a notebook edited after
    that (its points no longer the spec's) is caught by the self-test running again."""
    from autograder.course import course
    from tests.conftest import released_course

    root, _ = released_course(tmp_path / "course")
    selftest.before_grading(root)
    passed = selftest.passed_file(root).read_text().split()[0]
    assert passed == selftest.fingerprint(root)
    path = course.source_path(root)
    original = path.read_text()
    nb = nbformat.reads(original, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    cell.metadata["nbgrader"]["points"] += 1
    nbformat.write(nb, path)
    assert selftest.fingerprint(root) != passed
    with pytest.raises(selftest.SelfTestFailed, match="built from another spec"):
        selftest.before_grading(root)
    assert selftest.passed_file(root).read_text().split()[0] == passed  # a failure is not remembered
    path.write_text(original)
    selftest.before_grading(root)
    assert selftest.passed_file(root).read_text().split()[0] == passed


@pytest.mark.parametrize("where", ["source", "template", "release", "config"])
def test_the_fingerprint_covers_each_course_file(tmp_path, where):
    from autograder.course import course

    root = course.copy_course(ROOT, tmp_path / "course")
    before = selftest.fingerprint(root)
    path = {"source": course.source_path(root), "template": course.source_path(root).with_suffix(".py"),
            "release": course.release_path(root), "config": root / "nbgrader_config.py"}[where]
    path.write_text(path.read_text() + "\n")
    assert selftest.fingerprint(root) != before
