"""Every fact the grading depends on, in one place: cells, points, hidden inputs, tolerances.

The notebook builder reads the cells and points from here, the hidden checks read their inputs
and tolerances from here, and the kit's own grader writes scores under these grade_ids.
"""

from dataclasses import dataclass

ASSIGNMENT = "backprop"
NOTEBOOK = "backprop"

# The five functions students write; each has one autograded-answer cell with this grade_id.
FUNCTIONS = ("loss", "sigmoid", "forward_prop", "backward_prop", "compute_gradients")


@dataclass(frozen=True)
class TestCell:
    """One autograded test cell of the notebook.

    judges: the student functions whose mistakes may cost this cell its points; the
    `test_<function>*` cells judge one function and feed it reference collaborators.
    checks: ids of the hidden checks (autograder.homework.checks) run in the cell's hidden block.
    """

    grade_id: str
    points: int
    judges: tuple[str, ...]
    checks: tuple[str, ...] = ()
    about: str = ""  # what the cell checks, in words, for feedback


TEST_CELLS = (
    TestCell("test_loss_basic", 1, ("loss",), about="loss on one and on two outputs: value and derivative"),
    TestCell("test_loss_hidden", 2, ("loss",), ("loss_values", "loss_forms", "loss_hygiene"),
             "loss on floats, columns and several outputs; inputs left unchanged; same answer twice"),
    TestCell("test_sigmoid_basic", 1, ("sigmoid",), about="sigmoid and its derivative at 0 and 2; limits at large |z|"),
    TestCell("test_sigmoid_hidden", 2, ("sigmoid",),
             ("sigmoid_values", "sigmoid_forms", "sigmoid_extremes", "sigmoid_hygiene"),
             "sigmoid on vectors, matrices and floats, and at very large |z|; inputs left unchanged"),
    TestCell("test_forward_prop_xor", 1, ("forward_prop",), ("forward_prop_xor",),
             "the lecture's XOR network (F = 5) gives 0.149133, 0.893164, 0.893164, 0.149133"),
    TestCell("test_forward_prop_hidden", 2, ("forward_prop",), ("forward_prop_networks", "forward_prop_hygiene"),
             "every hs[l] and zs[l] on networks of depth 1 to 4 with sigmoid, tanh and identity"),
    TestCell("test_backward_prop_basic", 1, ("backward_prop",),
             about="dldhs on a small network where every derivative has a closed form"),
    TestCell("test_backward_prop_hidden", 3, ("backward_prop",),
             ("backward_prop_networks", "backward_prop_forms", "backward_prop_no_global_hs", "backward_prop_hygiene"),
             "every dldhs[l] on networks of depth 1 to 4; no use of a notebook variable hs"),
    TestCell("test_compute_gradients_basic", 1, ("compute_gradients",),
             about="dWs and dbs on a small network where they have a closed form"),
    TestCell("test_compute_gradients_hidden", 3, ("compute_gradients",),
             ("compute_gradients_networks", "compute_gradients_forms", "compute_gradients_hygiene"),
             "every dWs[l] and dbs[l] on networks of depth 1 to 4, shaped like Ws and bs"),
    TestCell("test_gradient_check", 4, FUNCTIONS, ("gradient_check",),
             "your five functions together: back-propagated gradients agree with the exact gradient"),
    TestCell("test_training", 4, FUNCTIONS, ("training",),
             "your five functions together: gradient descent on noisy XOR follows the reference's loss curve"),
)

TOTAL_POINTS = sum(cell.points for cell in TEST_CELLS)


@dataclass(frozen=True)
class InputForm:
    """One input form a function's docstring (solutions/backprop.py) promises to accept.

    argument: the argument(s) given in this form; form: one of FORMS; promise: the docstring's
    words. The `<function>_forms` checks (autograder.homework.checks.forms) call the function
    with every form listed for it and name the form when it fails.
    """

    function: str
    argument: str
    form: str
    promise: str


# How each form is made from an ordinary value: a Python float, a 0-d numpy array, or (zs[0]) the
# placeholder forward_prop's docstring promises, zeros shaped like x.
FORMS = ("float", "0-d array", "placeholder")

# The contract: every input form the docstrings promise, and nothing else (a 1-element column
# is the ordinary form, checked by the `<function>_networks` / `_values` checks).
INPUT_FORMS = (
    InputForm("loss", "yhat and y", "float", "yhat: a float or an array; y: a float or an array broadcastable"),
    InputForm("loss", "yhat and y", "0-d array", "yhat: a float or an array; y: a float or an array broadcastable"),
    InputForm("loss", "y", "float", "y: a float or an array broadcastable to yhat"),
    InputForm("sigmoid", "z", "float", "z: a float or an array of any shape"),
    InputForm("sigmoid", "z", "0-d array", "z: a float or an array of any shape"),
    InputForm("backward_prop", "y", "float", "y: the target, shape (n_L, 1) or a float"),
    InputForm("backward_prop", "y", "0-d array", "y: the target, shape (n_L, 1) or a float"),
    InputForm("backward_prop", "zs[0]", "placeholder", "zs: the list from forward_prop, zs[0] only a placeholder"),
    InputForm("compute_gradients", "zs[0]", "placeholder", "zs: from forward_prop, zs[0] only a placeholder"),
)

# Value comparisons between a student's array and the reference's. Different correct
# formulas (1/(1+e^-z) vs (1+tanh(z/2))/2, loops vs matrix products) agree to ~1e-15
# relative, except where a value is tiny and cancellation leaves ~1e-17 absolute error.
RTOL = 1e-7
ATOL = 1e-10

# Networks the hidden checks run on: layer sizes [n_0, ..., n_L] and the activation, by name
# of a reference collaborator (autograder.homework.collaborators). Depth 1 to 4, non-square layers,
# several outputs, and all three activations.
NETWORKS = (
    ((3, 1), "sigmoid"),
    ((2, 2, 1), "sigmoid"),
    ((3, 4, 2), "tanh"),
    ((2, 5, 3, 2), "identity"),
    ((4, 3, 5, 2, 3), "tanh"),
    ((3, 2, 4, 1, 2), "sigmoid"),
)
NETWORK_SEED = 20181113  # the lecture's date
# The gradient-check and training cells judge the five functions together, with the student's
# own sigmoid: on the networks above whose activation is this one.
COMBINED_ACTIVATION = "sigmoid"

# Gradient checking. The hidden check compares the student's back-propagated gradients with the
# reference's exact gradient; the notebook's helpers (and so the visible tests) with centred
# differences (E(w + eps/2) - E(w - eps/2)) / eps in float64 of the given network_loss.
# Their truncation error is ~eps^2 |E'''| / 24 ~ 1e-14 and their round-off ~1e-16 |E| / eps
# ~ 1e-10, so a correct gradient agrees to a relative error ||a - n|| / (||a|| + ||n||) of
# ~1e-9 at worst; the classic mistakes (a missing f'(z), an overwritten sum, a transposed W)
# give relative errors of 1e-2 and more. 1e-6 sits well between the two.
GRADCHECK_EPS = 1e-6
GRADCHECK_TOL = 1e-6

# Deterministic training run: batch gradient descent on noisy XOR, compared step by step
# with the reference's trajectory: 8 samples, 12 steps. Every step costs three exchanges with the
# sandbox, so it is kept small; any wrong gradient already departs from the reference at step 2.
TRAINING_SAMPLES = 8
TRAINING_EPOCHS = 12
TRAINING_ETA = 0.5
TRAINING_SEED = 0
TRAINING_SIZES = (2, 2, 1)
TRAINING_RTOL = 1e-6

# The XOR network of the lecture (F = 5) and its printed outputs for inputs 00, 01, 10, 11.
XOR_F = 5.0
XOR_OUTPUTS = (0.149133, 0.893164, 0.893164, 0.149133)
XOR_ATOL = 5e-7

# Wall-clock limit for one hidden check's calls into student code: the reference needs
# milliseconds, a slow pure-Python loop version well under a second.
CHECK_SECONDS = 5.0
# Wall-clock budget for all of one submission's time in the sandbox: running its cells (again
# after a restart too) and every call of every check. The reference needs well under a second
# and a pure-Python-loop solution about two; a submission that spends it has its remaining
# checks failed as too slow (`python -m autograder grade --submission-time-limit`).
SUBMISSION_SECONDS = 20.0


def cell_points(grade_id: str) -> int:
    """The points of the test cell with this grade_id."""
    return next(cell.points for cell in TEST_CELLS if cell.grade_id == grade_id)
