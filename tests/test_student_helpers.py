"""The helpers students get in the notebook, and the visible tests that use them, run in this
process as a kernel would run them: output kept off stderr and capped, unwritten and endless
functions named, NaN failing the gradient check, self_check stopping at its deadline."""

import sys
import textwrap
import warnings

import nbformat
import numpy as np
import pytest

from autograder.homework import spec
from autograder.judging.visible import visible_tests
from solutions import backprop, helpers
from tests.conftest import ROOT

SOURCE = nbformat.read(ROOT / "source" / "backprop" / "backprop.ipynb", as_version=4)
VISIBLE = visible_tests(SOURCE)
GIVEN = [c.source for c in SOURCE.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("locked")
         and not c.metadata.nbgrader.get("grade")]
REFERENCE = {name: getattr(backprop, name) for name in spec.FUNCTIONS}


def defined(source: str) -> dict:
    """The functions a student's cell defines (real code objects, named as in the notebook)."""
    namespace = {"np": np, "sys": sys, "warnings": warnings}
    exec(textwrap.dedent(source), namespace)
    return {name: value for name, value in namespace.items() if name in spec.FUNCTIONS}


def run_cell(grade_id: str, functions: dict, student_cell: str = "") -> None:
    """The visible tests of one test cell in a kernel-like namespace (the notebook's given cells
    run in it), after the cells above it have run on the reference, with the given student functions
    and then student_cell run in it."""
    namespace = {"__name__": "__main__"}
    for code in GIVEN:
        exec(compile(code, "<given cell>", "exec"), namespace)
    namespace.update(REFERENCE)
    for above in VISIBLE:
        if above == grade_id:
            break
        exec(compile(VISIBLE[above], above, "exec"), namespace)
    namespace.update(functions)
    exec(compile(student_cell, "<student cell>", "exec"), namespace)
    exec(compile(VISIBLE[grade_id], grade_id, "exec"), namespace)


def has_visible_tests(grade_id: str) -> bool:
    return any(line.strip() and not line.startswith("#") for line in VISIBLE[grade_id].splitlines())


STUB = defined("""
    def loss(yhat, y):
        raise NotImplementedError()
    def sigmoid(z):
        raise NotImplementedError()
    def forward_prop(x, f, Ws, bs):
        raise NotImplementedError()
    def backward_prop(loss, f, Ws, bs, zs, y):
        raise NotImplementedError()
    def compute_gradients(dldhs, f, zs, hs):
        raise NotImplementedError()
""")

NOISY = defined("""
    def loss(yhat, y):
        sys.stderr.write("loss called\\n")
        print("x" * 10_000)
        return 0.5 * (yhat - y) ** 2, yhat - y

    def sigmoid(z):
        if np.any(np.abs(z) > 700):
            warnings.warn("large z")
        h = 1.0 / (1.0 + np.exp(-z))
        return h, h * (1.0 - h)
""")


@pytest.mark.parametrize("grade_id", [c.grade_id for c in spec.TEST_CELLS])
def test_reference_passes_every_visible_test(grade_id, capsys):
    run_cell(grade_id, {})
    assert capsys.readouterr().err == ""


# What a student's cells may do to the names the given code and the tests use.
SHADOWING = {
    "numpy": "from numpy import *",
    "math": "from math import *",
    "names": "from numpy import *\n" + "\n".join(f"{name} = None" for name in (
        "given", "numpy", "builtins", "student_code", "before_call", "assert_unchanged", "_same", "double",
        "half_squares", "logistic", "tanh", "random_network", "gradient_check", "gradient_diagnosis", "noisy_xor",
        "train", "training_diagnosis", "relative_error", "layer_errors", "capped_output", "time_limit",
        "copy", "contextlib", "warnings", "signal", "time", "print", "len", "all", "list", "dict", "float")),
}


@pytest.mark.parametrize("shadowing", SHADOWING)
@pytest.mark.parametrize("grade_id", [c.grade_id for c in spec.TEST_CELLS])
def test_visible_tests_pass_whatever_the_student_cells_define(grade_id, shadowing, capsys):
    run_cell(grade_id, {}, SHADOWING[shadowing])
    assert capsys.readouterr().err == ""


def test_a_wrong_function_still_fails_under_star_imports():
    wrong = defined("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            return [np.zeros((3, 1)), np.zeros((2, 1)), loss(f(zs[-1])[0], y)[1]]
    """)
    with pytest.raises(AssertionError, match="dldhs.1. is wrong"):
        run_cell("test_backward_prop_basic", wrong, SHADOWING["names"])


def test_an_in_place_change_is_reported_like_the_hidden_check():
    fitting = defined("""
        def compute_gradients(dldhs, f, zs, hs):
            for l in range(len(hs)):
                hs[l][...] = zs[l]
            return ([(dldhs[l + 1] * f(zs[l + 1])[1]) @ zs[l].T for l in range(len(zs) - 1)],
                    [dldhs[l + 1] * f(zs[l + 1])[1] for l in range(len(zs) - 1)])
    """)
    with pytest.raises(AssertionError, match="^compute_gradients changed its argument hs in place"):
        run_cell("test_compute_gradients_basic", fitting)


def test_given_cells_keep_a_name_the_student_defined_above_them():
    namespace = {"__name__": "__main__"}
    exec(compile(GIVEN[0], "<imports>", "exec"), namespace)
    exec("from numpy import *", namespace)
    for code in GIVEN[1:]:
        exec(compile(code, "<given cell>", "exec"), namespace)
    assert namespace["tanh"] is np.tanh and namespace["identity"] is np.identity
    assert namespace["given"].tanh(np.zeros((1, 1)))[1].item() == 1.0  # the given pair (h, g)
    assert namespace["train"] is namespace["given"].train


@pytest.mark.parametrize("grade_id", ["test_loss_basic", "test_sigmoid_basic", "test_gradient_check", "test_training"])
def test_noisy_correct_code_passes_with_nothing_on_stderr(grade_id, capsys):
    run_cell(grade_id, {name: NOISY[name] for name in ("loss", "sigmoid")})
    out, err = capsys.readouterr()
    assert err == ""
    if grade_id == "test_sigmoid_basic":
        assert "UserWarning: large z" in out  # shown on stdout, once
    else:
        assert "more characters of output from" in out and "dropped" in out
    assert len(out) < 8_000


@pytest.mark.parametrize("cell", [c for c in spec.TEST_CELLS if has_visible_tests(c.grade_id)],
                         ids=lambda c: c.grade_id)
def test_an_unwritten_function_is_named(cell):
    first = next(name for name in spec.FUNCTIONS if name in cell.judges)
    with pytest.raises(AssertionError, match=f"^{first} is not written yet"):
        run_cell(cell.grade_id, {first: STUB[first]})


def test_an_endless_loop_is_stopped_and_named():
    looping = defined("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            while True:
                f(zs[-1])
    """)
    with pytest.raises(AssertionError, match=r"^backward_prop did not finish within 0.2 s"):
        with helpers.student_code("backward_prop", seconds=0.2):
            looping["backward_prop"](backprop.loss, backprop.sigmoid, [], [], [np.zeros((1, 1))], 0.0)


def test_other_errors_pass_through_unchanged():
    with pytest.raises(ValueError, match="shapes"):
        with helpers.student_code("loss", seconds=2):
            raise ValueError("shapes (2,1) and (3,1) not aligned")


@pytest.mark.parametrize("h, g", [
    ("np.exp(z) / (1.0 + np.exp(z))", "h * (1.0 - h)"),                               # nan for z > 709
    ("1.0 / (1.0 + np.exp(-z))", "np.exp(-z) / (1.0 + np.exp(-z)) ** 2"),             # g nan for z < -709
    ("np.where(z > 700, 1.0, 1.0 / (1.0 + np.exp(-z)))", "np.where(z > 700, 0.5, h * (1.0 - h))"),  # wrong limit
])
def test_sigmoid_test_covers_both_overflows(h, g):
    wrong = defined(f"""
        def sigmoid(z):
            with np.errstate(all="ignore"):
                h = {h}
                g = {g}
            return h, g
    """)
    with pytest.raises(AssertionError, match="z = -1000, -710, 710, 1000"):
        run_cell("test_sigmoid_basic", {"sigmoid": wrong["sigmoid"]})


def test_gradient_check_test_fails_on_nan_and_names_the_layer():
    nan_top = defined("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs = [(dldhs[l + 1] * f(zs[l + 1])[1]) @ hs[l].T for l in range(len(zs) - 1)]
            dbs = [dldhs[l + 1] * f(zs[l + 1])[1] for l in range(len(zs) - 1)]
            dWs[-1] = np.full_like(dWs[-1], np.nan)
            return dWs, dbs
    """)
    with pytest.raises(AssertionError) as failed:
        run_cell("test_gradient_check", nan_top)
    message = str(failed.value)
    assert "W^2, b^2 (Ws[1], bs[1]): relative error nan, DISAGREES" in message
    assert "W^1, b^1 (Ws[0], bs[0]): relative error" in message and "nan appeared" in message


def test_gradient_diagnosis_names_layers_as_the_prose_does():
    assert helpers.parameter_layer_name(0) == "W^1, b^1 (Ws[0], bs[0])"
    lines = helpers.gradient_diagnosis([0.7, 1e-10, 2e-10])
    assert lines[0].startswith("W^1, b^1 (Ws[0], bs[0]): relative error 7.0e-01, DISAGREES")
    assert lines[2].startswith("W^3, b^3 (Ws[2], bs[2]): relative error 2.0e-10, agrees")
    assert "W^2, b^2 (Ws[1], bs[1]) and above agree" in lines[3]
    assert "from dldhs[2] to dldhs[1]" in lines[3] and "+=, not =" in lines[3]
    assert "top layer" in helpers.gradient_diagnosis([1e-10, 0.5])[2]


def test_self_check_names_an_unwritten_function_and_stops(capsys):
    assert not helpers.self_check(backprop.sigmoid, backprop.loss, backprop.forward_prop, STUB["backward_prop"],
                                  backprop.compute_gradients)
    out = capsys.readouterr().out
    assert "backward_prop is not written yet" in out and "NotImplementedError: " not in out
    assert out.count("not written yet") == 1 and "Self-check stopped" in out


def test_self_check_stops_an_endless_loop_at_its_deadline(capsys):
    looping = defined("""
        def forward_prop(x, f, Ws, bs):
            hs = [x]
            while True:
                f(hs[-1])
    """)
    assert not helpers.self_check(backprop.sigmoid, backprop.loss, looping["forward_prop"], backprop.backward_prop,
                                  backprop.compute_gradients, seconds=0.3)
    out = capsys.readouterr().out
    assert "forward_prop did not finish within 0.3 s" in out
    assert out.count("did not finish") == 1, "self_check went on after a timeout"


def test_self_check_caps_what_the_functions_print(capsys):
    chatty = defined("""
        def backward_prop(loss, f, Ws, bs, zs, y):
            print("backward_prop called", "." * 200)
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in range(L, 0, -1):
                dldhs[l - 1] = Ws[l - 1].T @ (dldhs[l] * f(zs[l])[1])
            return dldhs
    """)
    assert helpers.self_check(backprop.sigmoid, backprop.loss, backprop.forward_prop, chatty["backward_prop"],
                              backprop.compute_gradients)
    out, err = capsys.readouterr()
    assert err == "" and "dropped" in out and len(out) < 20_000


def test_a_timeout_after_many_prints_points_at_the_prints():
    chatty = defined("""
        def loss(yhat, y):
            while True:
                print("loss: yhat =", yhat)
    """)
    with pytest.raises(AssertionError, match=r"^loss did not finish within 0.2 s.*remove the prints"):
        with helpers.student_code("loss", seconds=0.2):
            chatty["loss"](np.zeros((3, 1)), 0.0)
