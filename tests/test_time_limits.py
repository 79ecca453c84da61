"""Time kept from outside the sandboxed child, and the blame for a broken child put on the
submission: calls that mask SIGALRM are ended by the grader, each submission has a budget for
all its calls, and a submission that breaks its own process loses only what could not be judged."""

import nbformat
import numpy as np
import pytest

from autograder.calls import Own, Returned, StudentError
from autograder.course.submissions import expected_scores, fill, reference_answers
from autograder.homework import spec
from autograder.judging.outcome import grade_one
from autograder.judging.visible import visible_tests
from autograder.running.sandbox import remote
from autograder.running.sandbox.launch import Limits, Pool, bubblewrap
from autograder.running.sandbox.remote import RemoteSubmission
from tests.attacks import SLOW_AND_BROKEN
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed")

LIMIT = 1.0
# Longer than the grader's bound for one call (limit plus margin): a call accepted after this
# long would show that the grader waited for a child that masks its alarm.
PAST_THE_BOUND = LIMIT + remote.GRACE_SECONDS + 2.0

CELLS = [("functions", f'''
import signal
import time

import numpy as np


def deaf(x):
    """Correct (2 x), but only after {PAST_THE_BOUND} s with SIGALRM blocked and ignored."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGALRM}})
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    end = time.monotonic() + {PAST_THE_BOUND}
    for _ in range(10 ** 9):
        if time.monotonic() > end:
            break
    return 2 * x


def double(x):
    return 2 * x


def nap(x):
    time.sleep({LIMIT * 0.6})
    return 2 * x


class Unreadable(Exception):
    def __str__(self):
        end = time.monotonic() + {PAST_THE_BOUND}
        for _ in range(10 ** 9):
            try:
                if time.monotonic() > end:
                    break
            except BaseException:
                pass
        return "read at last"


def unreadable(x):
    raise Unreadable()


class _Named(type):
    @property
    def __name__(cls):
        raise RuntimeError("not telling")


class Huge(Exception, metaclass=_Named):
    def __str__(self):
        return "x" * 2 ** 24


def huge(x):
    raise Huge()
''')]


@pytest.fixture(scope="module")
def pool():
    with Pool(1, "bwrap") as pool:
        yield pool


def test_a_call_that_masks_its_alarm_is_ended_by_the_grader_and_the_next_call_works(pool):
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(seconds=LIMIT, submission_seconds=60)) as sub:
        with pytest.raises(StudentError, match="did not finish within its time limit and was stopped"):
            sub.call(Own("deaf"), np.ones(2))
        assert sub.restarts == 0  # the child was stopped, not yet replaced
        assert np.array_equal(sub.call(Own("double"), np.ones(2)).value, [2.0, 2.0])
        assert sub.restarts == 1
        # Again later: the function is known not to finish.
        with pytest.raises(StudentError, match="did not finish in an earlier check"):
            sub.call(Own("deaf"), np.ones(2))


def test_in_a_batch_each_call_gets_the_limit_not_the_batch(pool):
    """Three deaf calls in one exchange: the first is stopped at its own limit (a batch-wide
    bound would have let it finish), and none is accepted."""
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(seconds=LIMIT, submission_seconds=60)) as sub:
        items = sub.call_many([(Own("deaf"), np.ones(1))] * 3 + [(Own("double"), np.ones(1))])
        assert all(isinstance(item, StudentError) for item in items[:3]), items
        assert isinstance(items[3], Returned) and np.array_equal(items[3].value, [2.0])


def test_a_batch_whose_calls_each_keep_the_limit_is_not_cut_short(pool):
    """Five calls of 0.6 x the limit: together past the limit plus margin, each well within it."""
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(seconds=LIMIT, submission_seconds=60)) as sub:
        items = sub.call_many([(Own("nap"), np.ones(1))] * 5)
        assert all(isinstance(item, Returned) for item in items), items
        assert sub.restarts == 0 and sub.events == []


def test_an_exception_is_read_within_the_limit_and_bounded(pool):
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(seconds=LIMIT, submission_seconds=60)) as sub:
        with pytest.raises(StudentError, match="did not finish") as slow:
            sub.call(Own("unreadable"), np.ones(1))
        assert "read at last" not in str(slow.value)
        with pytest.raises(StudentError) as huge:
            sub.call(Own("huge"), np.ones(1))
        # The class's own name (not its metaclass's property), the message cut short.
        assert str(huge.value).startswith("Huge: xxx") and len(str(huge.value)) < 1000
        assert np.array_equal(sub.call(Own("double"), np.ones(1)).value, [2.0])


def test_the_submission_budget_stops_a_slow_submission_and_keeps_what_was_judged(pool):
    budget = 4 * LIMIT
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(seconds=LIMIT, submission_seconds=budget)) as sub:
        items = [sub._one((Own("nap"), np.ones(1))) for _ in range(12)]
        fast_after = sub._one((Own("double"), np.ones(1)))
    done = [item for item in items if isinstance(item, Returned)]
    assert done and all(np.array_equal(item.value, [2.0]) for item in done)
    assert all(isinstance(item, Returned) for item in items[:len(done)]), "a call failed before the budget ran out"
    failed = items[len(done):]
    assert failed and all(isinstance(item, StudentError) for item in failed)
    for error in [*failed, fast_after]:  # the remaining calls, of any function, fail at once
        assert "too slow" in str(error) and f"time budget of {budget:g} s" in str(error), error


@pytest.fixture(scope="module")
def notebooks():
    release = nbformat.read(ROOT / "release" / "backprop" / "backprop.ipynb", as_version=4)
    source = nbformat.read(ROOT / "source" / "backprop" / "backprop.ipynb", as_version=4)
    return release, source, visible_tests(source)


def graded(tmp_path, pool, notebooks, answers: dict, limits: Limits):
    release, source, visible = notebooks
    nbformat.write(fill(release, {**reference_answers(), **answers}), tmp_path / f"{spec.NOTEBOOK}.ipynb")
    return grade_one("student", tmp_path, pool.zygotes[0], source, visible, limits)


def test_checks_judged_before_the_budget_ran_out_keep_their_scores(tmp_path, pool, notebooks):
    slow = ("import time\n\n\ndef backward_prop(loss, f, Ws, bs, zs, y):\n    time.sleep(0.5)\n"
            "    L = len(Ws)\n    dldhs = [None] * (L + 1)\n    dldhs[L] = loss(f(zs[L])[0], y)[1]\n"
            "    for l in reversed(range(L)):\n        dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])\n"
            "    return dldhs\n")
    outcome = graded(tmp_path, pool, notebooks, {"backward_prop": slow}, Limits(seconds=LIMIT, submission_seconds=2.0))
    assert not outcome.grader_error and outcome.reason is None
    scores = {r.grade_id: r.score for r in outcome.results}
    full = expected_scores(())
    for grade_id in ("test_loss_basic", "test_loss_hidden", "test_sigmoid_hidden", "test_forward_prop_hidden"):
        assert scores[grade_id] == full[grade_id], grade_id
    later = next(r for r in outcome.results if r.grade_id == "test_compute_gradients_hidden")
    assert later.score == 0 and all("too slow" in c.message for c in later.checks), later


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_submission_that_ends_its_process_at_import_is_its_own_fault(tmp_path, pool, notebooks, exit_code):
    killer = f"import os\n\nos._exit({exit_code})\n\n\ndef loss(yhat, y):\n    return 0.5 * (yhat - y) ** 2, yhat - y\n"
    outcome = graded(tmp_path, pool, notebooks, {"loss": killer}, Limits())
    assert not outcome.grader_error
    assert all(r.score == 0 for r in outcome.results)
    assert any("broke its grading process" in e and f"status {exit_code}" in e for e in outcome.cell_errors), \
        outcome.cell_errors
    first = outcome.results[0]
    assert "broke its grading process" in (first.visible_failure or ""), first


def test_breaking_builtins_at_import_costs_only_the_broken_function(tmp_path, pool, notebooks):
    """The kit's code in the child keeps its own builtins: the submission keeps the points of
    the functions it did not break, exactly as its honest twin."""
    attack = next(a for a in SLOW_AND_BROKEN if a.name == "builtins_broken_at_import")
    outcome = graded(tmp_path, pool, notebooks, attack.answers, Limits())
    assert not outcome.grader_error
    assert {r.grade_id: r.score for r in outcome.results} == expected_scores(attack.wrong)
