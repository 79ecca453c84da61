"""What the zygote prepares once for all its children changes nothing a child can see: a given
cell it compiled runs as one the child compiles itself (names, `__future__` flags carried over,
the value of a last expression, file names and line numbers, the error of a cell that does not
compile), a child that tampers with the zygote's compiled cells harms only itself, only the
source notebook's given cells are sent to it, and the child's seccomp filter built by the zygote
lets a child signal itself and nobody else."""

import errno
import os

import nbformat
import numpy as np
import pytest

from autograder.calls import Own
from autograder.course import course
from autograder.running.notebook_code import given_cells
from autograder.running.sandbox import confine
from autograder.running.sandbox.launch import Limits, Pool, bubblewrap
from autograder.running.sandbox.remote import RemoteSubmission
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed")

GIVEN = (
    ("future", "from __future__ import annotations\n"),
    ("typed", "import linecache\n\n\ndef typed(x: not_defined_anywhere) -> float:\n    return 2.0 * x\n"),
    ("last", "value = 2.0\nvalue * 3"),
    ("broken", "def oops(:\n    pass\n"),
    ("magic", "%matplotlib inline\nmagic = 5.0\n"),
)
# A student's cell before the given ones, which counts what the zygote compiled for this child.
SEEN = ("seen", "import sys\n\n_kernel = sys.modules['autograder.running.sandbox.kernel']\n"
                "kept_before = float(len(_kernel._COMPILED))\n")
REPORT = ("report", '''
import numpy as np

def report(x):
    """What the given cells made, then how many compiled pieces the zygote had and has left."""
    code = typed.__code__
    return np.array([typed(x[0]), float(typed.__annotations__["x"] == "not_defined_anywhere"), _, Out[4],
                     float(code.co_filename == "<typed>"), float(code.co_firstlineno),
                     float(len(linecache.getlines("<typed>"))), magic, float("oops" in globals()),
                     kept_before, float(len(_kernel._COMPILED))])
''')
# Replaces every piece the zygote compiled with code of its own, then adds one for a cell that
# the next submission does not have.
TAMPER = ("tamper", '''
import sys

_table = sys.modules['autograder.running.sandbox.kernel']._COMPILED
_forged = compile("tampered = 1.0", "<forged>", "exec")
for _key in list(_table):
    _table[_key] = _forged
_table[("x = 1\\n", "<x>", "exec", 0)] = _forged
''')
AFTER = ("after", "import numpy as np\n\ndef after(x):\n    return np.array(float('tampered' in globals()))\n")


@pytest.fixture(scope="module")
def pools():
    with Pool(1, "bwrap", given=GIVEN) as compiled, Pool(1, "bwrap") as plain:
        yield compiled, plain


def _run(pool: Pool, cells: list[tuple[str, str]]) -> tuple[list[str], np.ndarray]:
    with RemoteSubmission(pool.zygotes[0], cells, Limits()) as sub:
        return sub.cell_errors, np.asarray(sub.call(Own("report"), np.array([1.5])).value)


def test_a_given_cell_the_zygote_compiled_runs_as_one_the_child_compiles(pools):
    compiled, plain = pools
    cells = [SEEN, *GIVEN, REPORT]
    errors, values = _run(compiled, cells)
    plain_errors, plain_values = _run(plain, cells)
    assert errors == plain_errors and len(errors) == 1 and errors[0].startswith("broken: SyntaxError")
    assert list(values[:9]) == list(plain_values[:9]) == [3.0, 1.0, 6.0, 6.0, 1.0, 4.0, 5.0, 5.0, 0.0]
    kept, left = values[9:]
    assert kept >= 3 and left == 0  # the zygote compiled them, and this child used every piece
    assert list(plain_values[9:]) == [0.0, 0.0]


def test_a_given_cell_after_other_future_flags_is_compiled_by_the_child(pools):
    compiled, plain = pools
    # Without the first given cell's `from __future__ import annotations`, the annotation is
    # evaluated (and fails) in both: the zygote's pieces, compiled under that flag, are not used.
    cells = [SEEN, *GIVEN[1:], REPORT]
    for pool in pools:
        with RemoteSubmission(pool.zygotes[0], cells, Limits()) as sub:
            assert sub.cell_errors[0] == "typed: NameError: name 'not_defined_anywhere' is not defined"


def test_what_a_child_does_to_the_compiled_cells_reaches_no_later_child(pools):
    compiled, _ = pools
    cells = [SEEN, TAMPER, *GIVEN, AFTER]
    with RemoteSubmission(compiled.zygotes[0], cells, Limits()) as sub:
        assert float(sub.call(Own("after"), np.zeros(1)).value) == 1.0  # it fooled itself
    errors, values = _run(compiled, [SEEN, *GIVEN, REPORT])
    assert len(errors) == 1 and list(values[:9]) == [3.0, 1.0, 6.0, 6.0, 1.0, 4.0, 5.0, 5.0, 0.0]
    assert values[9] >= 3 and values[10] == 0


def test_only_the_source_notebooks_given_cells_go_to_the_zygote():
    source = nbformat.read(course.source_path(ROOT), as_version=4)
    given = given_cells(source)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if "nbgrader" in c.metadata}
    assert given and all(by_id[g].metadata["nbgrader"].get("locked") for g in given)
    assert not any(by_id[g].metadata["nbgrader"].get("solution") or by_id[g].metadata["nbgrader"].get("grade")
                   for g in given)
    assert all("BEGIN SOLUTION" not in code for code in given.values())


SIGNALS = [("signals", '''
import os
import signal

import numpy as np

def signals(x):
    """errno (0: it worked) of signalling itself, its process group, and the zygote; and 1 if a
    signal it raised at itself reached its handler."""
    out = []
    for pid in (os.getpid(), 0, os.getppid()):
        try:
            os.kill(pid, 0)
            out.append(0.0)
        except OSError as error:
            out.append(float(error.errno))
    got = []
    signal.signal(signal.SIGUSR1, lambda *_: got.append(1.0))
    signal.raise_signal(signal.SIGUSR1)
    return np.array(out + [float(len(got))])
''')]


def test_the_filter_the_zygote_built_lets_a_child_signal_itself_only(pools):
    with RemoteSubmission(pools[0].zygotes[0], SIGNALS, Limits(processes=0)) as sub:
        assert list(sub.call(Own("signals"), np.zeros(1)).value) == [0.0, errno.EPERM, errno.EPERM, 1.0]


def test_the_prepared_filter_is_the_one_built_for_the_childs_own_pid():
    for processes in (0, 2):
        prepared = confine.ChildFilter(processes)
        for pid in (2, os.getpid(), 4194303):
            assert prepared._with(pid) == confine._program(confine._child_rules(processes, pid))
