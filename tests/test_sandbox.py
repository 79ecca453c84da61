"""The sandbox itself, under bubblewrap: bounded scratch space, a channel the child cannot jam,
and argument changes read from memory the grader owns."""

import numpy as np
import pytest

from autograder.calls import Own, Ref, StudentError
from autograder.sandbox.launch import Limits, Pool, bubblewrap
from autograder.sandbox.remote import RemoteSubmission

pytestmark = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed")

CELLS = [("imports", "import numpy as np\nimport os\nimport stat\nimport struct"), ("fill", '''
def fill(where):
    """MiB written into `where`, one 1 MiB file at a time, until the first error."""
    written = 0
    while written < 512:
        try:
            with open(os.path.join(where, f"fill-{written}"), "wb") as handle:
                handle.write(b"\\0" * 2 ** 20)
        except OSError:
            break
        written += 1
    return float(written)
'''), ("jam", '''
def jam(x):
    junk = struct.pack("<I", 1000) + b"\\7" * 64
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, junk)
        except OSError:
            pass
    return x
'''), ("halve", '''
def halve(zs, x):
    for z in zs:
        z *= 0.5
    zs.reverse()
    x[0, 0] = 7.0
    return 1.0
''')]


@pytest.fixture(scope="module")
def pool():
    with Pool(1, "bwrap", Limits(scratch_mb=24)) as pool:
        yield pool


def test_writing_past_the_scratch_limit_fails_inside_the_call_and_costs_it_only(pool):
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(scratch_mb=24)) as sub:
        written = {where: float(sub.call(Own("fill"), where).value)
                   for where in ("/tmp", "/dev/shm", "/zygote", "/dev")}
        assert 0 < written["/tmp"] < 24
        assert written["/dev/shm"] <= 1 and written["/zygote"] <= 1 and written["/dev"] == 0
        assert sum(written.values()) <= 24
        # The child that hit the limits still answers: only those calls were affected.
        assert float(sub.call(Own("fill"), "/nonexistent").value) == 0.0
        assert sub.restarts == 0
    # The next submission finds the scratch space empty again.
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(scratch_mb=24)) as sub:
        assert float(sub.call(Own("fill"), "/tmp").value) == written["/tmp"]


def test_junk_on_the_channel_ends_the_child_at_once_and_fails_that_call_only(pool):
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits()) as sub:
        with pytest.raises(StudentError, match="was stopped"):
            sub.call(Own("jam"), np.ones((2, 1)))
        assert any("sent" in event for event in sub.events)
        # A fresh child takes over for the next call.
        assert np.array_equal(sub.call(Own("fill"), "/nonexistent").value, np.array(0.0))
        assert sub.restarts == 1


def test_watched_call_sees_in_place_changes_as_a_kernel_would(pool):
    x = np.array([[1.0], [2.0]])
    z1, z2 = np.array([[2.0]]), np.array([[4.0], [6.0]])
    zs = [z1, z2]
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits()) as sub:
        returned = sub.call(Own("halve"), zs, x, watch=True)
    assert returned.mutated == (0, 1)
    # The caller's own objects are untouched; `changed` and `lists` say what a kernel would show.
    assert z1[0, 0] == 2.0 and x[0, 0] == 1.0 and zs == [z1, z2]
    now = {id(original): after for original, after in returned.changed}
    assert np.array_equal(now[id(z1)], [[1.0]]) and np.array_equal(now[id(z2)], [[2.0], [3.0]])
    assert np.array_equal(now[id(x)], [[7.0], [2.0]])
    assert returned.lists[0][0] is z2 and returned.lists[0][1] is z1


def test_collaborators_are_computed_by_the_grader(pool):
    cells = [("f", "def forward_prop(x, f, Ws, bs):\n    return [x, f(x)[0]], [x, x]\n")]
    with RemoteSubmission(pool.zygotes[0], cells, Limits()) as sub:
        hs, _ = sub.call(Own("forward_prop"), np.zeros((1, 1)), Ref("sigmoid"), [], []).value
    assert np.array_equal(hs[1], [[0.5]])
