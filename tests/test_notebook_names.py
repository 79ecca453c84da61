"""The notebook's own code against the student's namespace and in-place changes, on all three
paths: stock in-kernel `nbgrader autograde`, `nbgrader autograde` routed through the kit, and the
kit's `grade` (bubblewrap).

Correct notebooks that star-import numpy or math, or shadow the names the given code and the
tests use, keep full marks; the in-place-fitting attacks (tests/attacks.py IN_PLACE_FITTING),
whose wrong functions change their arguments after the call, score no more than their honest
twins cell by cell, and the three paths give them the same scores.
"""

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, reference_answers
from autograder.homework import spec
from tests.attacks import IN_PLACE_FITTING
from tests.conftest import grade_three_ways, released_course

REFERENCE = reference_answers()

# Shadowing every name the given code and the test cells reach, and many a student might use,
# after the reference functions (which only use np, len, range and reversed) are defined.
_SHADOWS = """

from numpy import *  # abs, all, any, bool, divmod, max, min, pow, round, sum, double, identity, tanh, ...

given = numpy = builtins = helpers = rng = x = y = Ws = bs = None
copy = contextlib = io = signal = sys = time = types = warnings = plt = None
student_code = time_limit = capped_output = before_call = assert_unchanged = _same = own = None
logistic = half_squares = random_network = noisy_xor = xor_network = None
gradient_check = gradient_diagnosis = relative_error = layer_errors = numerical_gradients = None
backprop_gradients = finite_difference_gradients = compute_loss = train = training_diagnosis = None
describe_failure = homework_functions = parameter_layer_name = TimeLimitExceeded = CappedOutput = None
"""

# A sigmoid written with numpy's tanh from a star import in its own cell, above the given cell
# that defines the notebook's tanh: the given cell must not replace it.
_SIGMOID_BY_TANH = """from numpy import *


def sigmoid(z):
    h = 0.5 * (1.0 + tanh(0.5 * z))
    return h, h * (1.0 - h)
"""

CORRECT = {
    "star_numpy": {name: "from numpy import *\n\n" + code for name, code in REFERENCE.items()},
    "star_math": {name: "from math import *\n\n" + code for name, code in REFERENCE.items()},
    "shadowing": {**REFERENCE, "sigmoid": _SIGMOID_BY_TANH,
                  "backward_prop": REFERENCE["backward_prop"] + _SHADOWS,
                  "compute_gradients": REFERENCE["compute_gradients"] + _SHADOWS},
}
PATHS = ("stock", "routed", "kit")


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, dict[str, dict[str, float]]]:
    """path -> student -> grade_id -> score, for one course graded the three ways."""
    root, release = released_course(tmp_path_factory.mktemp("names"))
    students = {"reference": REFERENCE, **{f"style_{name}": answers for name, answers in CORRECT.items()}}
    for attack in IN_PLACE_FITTING:
        students[f"attack_{attack.name}"] = {**REFERENCE, **attack.answers}
        students[f"twin_{attack.name}"] = {**REFERENCE, **attack.twin}
    for student, answers in students.items():
        course.submit(root, student, fill(release, answers))
    return grade_three_ways(root, "--sandbox", "bwrap")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("student", ["reference", *(f"style_{name}" for name in CORRECT)])
def test_correct_notebooks_get_full_marks_whatever_they_import_or_shadow(graded, path, student):
    assert graded[path][student] == expected_scores(())


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("attack", IN_PLACE_FITTING, ids=lambda a: a.name)
def test_in_place_fitting_scores_no_more_than_its_twin(graded, path, attack):
    attacked, twin = graded[path][f"attack_{attack.name}"], graded[path][f"twin_{attack.name}"]
    assert {g: (s, twin[g]) for g, s in attacked.items() if s > twin[g]} == {}
    full = expected_scores(())
    for function in attack.wrong:
        # The visible cell the attack fits (test_<function>_basic) is lost, as its twin loses it.
        basic = f"test_{function}_basic"
        assert attacked[basic] == twin[basic] == 0 < full[basic], basic


@pytest.mark.parametrize("attack", IN_PLACE_FITTING, ids=lambda a: a.name)
def test_the_three_paths_agree_cell_by_cell(graded, attack):
    for student in (f"attack_{attack.name}", f"twin_{attack.name}"):
        assert graded["stock"][student] == graded["routed"][student] == graded["kit"][student], student


def test_every_cell_is_judged(graded):
    assert set(graded["kit"]["reference"]) == {c.grade_id for c in spec.TEST_CELLS}
