"""The joint checks, the promised input forms and load-independent verdicts (issue 16), on all
three paths: the kit's grader, `nbgrader autograde` routed through the kit, and stock in-kernel
`nbgrader autograde`; and the kit's grader again while the CPU is busy.

One class: the reference, a correct solution in pure-Python loops (the slowest correct style),
the state-keeping attacks of tests/attacks.py with their honest twins, the mutants that are
wrong for one promised input form only, and backward_prop variants that change the caller's zs.
"""

import subprocess
import sys
import textwrap

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, reference_answers
from autograder.homework import spec
from tests.attacks import STATE_KEEPING, edited
from tests.conftest import grade_three_ways, kit_grade, released_course
from tests.submissions import BACKWARD_PROP, BACKWARD_STEP, FORM_MUTANTS, MUTANTS, Mutant, _code

PURE_PYTHON = {
    "loss": _code("""
        def loss(yhat, y):
            a, t = np.asarray(yhat, dtype=float), np.asarray(y, dtype=float)
            shape = np.broadcast(a, t).shape
            a, t = np.broadcast_to(a, shape), np.broadcast_to(t, shape)
            l, g = np.empty(shape), np.empty(shape)
            for idx in np.ndindex(shape):
                d = float(a[idx]) - float(t[idx])
                l[idx], g[idx] = 0.5 * d * d, d
            return l, g
        """),
    "sigmoid": _code("""
        import math


        def sigmoid(z):
            a = np.asarray(z, dtype=float)
            h, g = np.empty(a.shape), np.empty(a.shape)
            for idx in np.ndindex(a.shape):
                v = float(a[idx])
                if v >= 0:
                    s = 1.0 / (1.0 + math.exp(-v))
                else:
                    e = math.exp(v)
                    s = e / (1.0 + e)
                h[idx], g[idx] = s, s * (1.0 - s)
            return h, g
        """),
    "forward_prop": _code("""
        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                h = hs[-1]
                z = np.zeros((W.shape[0], 1))
                for i in range(W.shape[0]):
                    total = float(b[i, 0])
                    for j in range(W.shape[1]):
                        total += float(W[i, j]) * float(h[j, 0])
                    z[i, 0] = total
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """),
    "backward_prop": edited(BACKWARD_PROP, BACKWARD_STEP, textwrap.indent(textwrap.dedent("""\
        W, below = Ws[l], np.zeros((Ws[l].shape[1], 1))
        d = f(zs[l + 1])[1]
        for i in range(W.shape[0]):
            m = float(dldhs[l + 1][i, 0]) * float(d[i, 0])
            for j in range(W.shape[1]):
                below[j, 0] += m * float(W[i, j])
        dldhs[l] = below
        """), "        ")),
    "compute_gradients": _code("""
        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                d = f(zs[l + 1])[1]
                n_out, n_in = len(zs[l + 1]), len(hs[l])
                dW, db = np.zeros((n_out, n_in)), np.zeros((n_out, 1))
                for i in range(n_out):
                    delta = float(dldhs[l + 1][i, 0]) * float(d[i, 0])
                    db[i, 0] = delta
                    for j in range(n_in):
                        dW[i, j] = delta * float(hs[l][j, 0])
                dWs.append(dW)
                dbs.append(db)
            return dWs, dbs
        """),
}

# backward_prop that change the caller's zs in place: in a kernel, compute_gradients then sees
# the change. Graded through many staged calls, their verdicts once depended on the load.
IN_PLACE = (
    Mutant("backward_prop_deltas_into_zs", "backward_prop", edited(
        BACKWARD_PROP, BACKWARD_STEP,
        "        delta = dldhs[l + 1] * f(zs[l + 1])[1]\n        dldhs[l] = Ws[l].T @ delta\n"
        "        zs[l + 1][...] = delta  # keeps the deltas where the pre-activations were\n"),
        "Right dldhs, but overwrites the caller's zs with the deltas."),
    Mutant("backward_prop_halves_zs", "backward_prop", edited(
        BACKWARD_PROP, "    return dldhs\n", "    for z in zs[1:]:\n        z *= 0.5\n    return dldhs\n"),
        "Right dldhs, then halves the caller's zs in place."),
)


def _students() -> dict[str, dict[str, str]]:
    reference = reference_answers()
    out = {"reference": reference, "pure_python": PURE_PYTHON}
    for attack in STATE_KEEPING:
        out[f"attack_{attack.name}"] = {**reference, **attack.answers}
        out[f"twin_{attack.name}"] = {**reference, **attack.twin}
    for mutant in FORM_MUTANTS + IN_PLACE:
        out[f"mutant_{mutant.name}"] = {**reference, mutant.function: mutant.source}
    return out


def _busy(seconds: float) -> list[subprocess.Popen]:
    """One bounded busy loop per core: each ends by itself after `seconds`."""
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    return [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(2)]


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """student -> grade_id -> score, per path: stock, routed, kit, and kit on a busy CPU."""
    root, release = released_course(tmp_path_factory.mktemp("joint") / "course")
    for student, answers in _students().items():
        course.submit(root, student, fill(release, answers))
    out = grade_three_ways(root)
    busy = _busy(300.0)
    try:
        result = kit_grade(root, "--force")
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out["kit_busy"] = course.read_scores(root)
    return out


def test_the_three_paths_agree_cell_by_cell(paths):
    for path in ("routed", "kit"):
        differ = {student: {g: (s, paths[path][student][g]) for g, s in cells.items() if s != paths[path][student][g]}
                  for student, cells in paths["stock"].items()}
        assert {s: d for s, d in differ.items() if d} == {}, path


def test_a_busy_cpu_changes_no_verdict(paths):
    assert paths["kit_busy"] == paths["kit"]


def test_correct_solutions_get_full_marks(paths):
    for path, scores in paths.items():
        for student in ("reference", "pure_python"):
            assert scores[student] == expected_scores(()), (path, student)


@pytest.mark.parametrize("mutant", FORM_MUTANTS, ids=lambda m: m.name)
def test_a_form_mutant_loses_its_own_hidden_cell_only(paths, mutant):
    full = expected_scores(())
    hidden = next(c.grade_id for c in spec.TEST_CELLS if c.judges == (mutant.function,) and c.checks
                  and c.grade_id.endswith("_hidden"))
    for path, scores in paths.items():
        lost = {g for g, s in scores[f"mutant_{mutant.name}"].items() if s != full[g]}
        assert lost == {hidden}, (path, lost)


@pytest.mark.parametrize("attack", STATE_KEEPING, ids=lambda a: a.name)
def test_a_state_keeping_attack_scores_no_more_than_its_twin(paths, attack):
    for path, scores in paths.items():
        mine, twin = scores[f"attack_{attack.name}"], scores[f"twin_{attack.name}"]
        assert {g: (s, twin[g]) for g, s in mine.items() if s > twin[g]} == {}, path
        assert mine["test_gradient_check"] == mine["test_training"] == 0, path


@pytest.mark.parametrize("mutant", IN_PLACE, ids=lambda m: m.name)
def test_a_backward_prop_changing_zs_loses_its_hygiene_and_the_gradient_check(paths, mutant):
    # The hygiene check reports the change; in a kernel the visible gradient check's
    # compute_gradients then gets the changed zs, so its gradients are wrong.
    for path, scores in paths.items():
        mine = scores[f"mutant_{mutant.name}"]
        assert mine["test_backward_prop_hidden"] == 0, path
        assert mine["test_gradient_check"] == 0, path


def test_the_in_place_variants_are_not_in_the_shared_mutants():
    assert not {m.name for m in IN_PLACE} & {m.name for m in MUTANTS}


# In process, without a course: the guard on all-zero gradients and the notebook's own helpers.

def test_all_zero_gradients_fail_the_gradient_check_clearly():
    from autograder.homework.checks import CHECKS, CheckFailed
    from autograder.running.in_process import InProcess
    from tests.test_checks import notebook

    zeros = _code("""
        def compute_gradients(dldhs, f, zs, hs):
            return ([np.zeros((len(zs[l + 1]), len(hs[l]))) for l in range(len(zs) - 1)],
                    [np.zeros((len(zs[l + 1]), 1)) for l in range(len(zs) - 1)])
        """)
    with pytest.raises(CheckFailed, match="all 0"):
        CHECKS["gradient_check"](InProcess(notebook({"compute_gradients": zeros})))


def test_the_notebooks_gradient_check_cannot_be_fitted_by_a_probe_aware_forward_prop():
    import inspect

    import numpy as np

    from solutions import backprop, helpers

    attack = next(a for a in STATE_KEEPING if a.name == "probe_aware_forward_prop")
    ns = {"np": np}
    for function in spec.FUNCTIONS:
        exec(attack.answers.get(function) or inspect.getsource(getattr(backprop, function)), ns)
    rng = np.random.default_rng(3)
    Ws, bs = helpers.random_network((2, 2, 1), rng)
    x, y = rng.standard_normal((2, 1)), rng.random((1, 1))
    errors = helpers.gradient_check(x, y, Ws, bs, ns["sigmoid"], ns["loss"], ns["forward_prop"],
                                    ns["backward_prop"], ns["compute_gradients"])
    # backward_prop leaves f'(z) out: the layer below the top disagrees, whatever forward_prop says.
    assert errors[0] > 1e-2


@pytest.mark.parametrize("mutant", IN_PLACE, ids=lambda m: m.name)
def test_the_sandboxed_staged_drive_gives_the_kernels_training_run(mutant):
    # What backward_prop does to its sample's zs reaches compute_gradients, as in a kernel, in
    # three exchanges a step (no call-by-call run): the same loss curve as the helper in process.
    import inspect

    import numpy as np

    from autograder.calls import Own, Ref
    from autograder.homework.checks import drive
    from autograder.running.sandbox.launch import Limits, Pool, bubblewrap
    from autograder.running.sandbox.remote import RemoteSubmission
    from solutions import backprop, helpers

    if bubblewrap() is None:
        pytest.skip("bubblewrap is not installed")
    sources = {f: inspect.getsource(getattr(backprop, f)) for f in spec.FUNCTIONS}
    sources[mutant.function] = mutant.source
    cells = [("imports", "import numpy as np")] + list(sources.items())
    ns = {"np": np}
    for source in sources.values():
        exec(source, ns)
    rng = np.random.default_rng(7)
    x, y = helpers.noisy_xor(8, rng)
    Ws, bs = helpers.random_network([2, 3, 1], rng)
    kernel = helpers.train(x, y, Ws, bs, 0.5, 6, backprop.sigmoid, ns["loss"], ns["forward_prop"],
                           ns["backward_prop"], ns["compute_gradients"])[2]
    fns = drive.Functions(Ref("sigmoid"), *(Own(f) for f in ("loss", "forward_prop", "backward_prop",
                                                            "compute_gradients")))
    with Pool(1, "bwrap", Limits()) as pool, RemoteSubmission(pool.zygotes[0], cells, Limits()) as sub:
        staged = drive.train(sub, x, y, Ws, bs, 0.5, 6, fns, watch=True)[2]
        copies = drive.train(sub, x, y, Ws, bs, 0.5, 6, fns)[2]
    assert staged == kernel
    assert copies != kernel  # the change matters: without it the curve is another one
