"""Cells run as a kernel runs them: notebooks written in kernel idioms (line and cell magics,
shell escapes, get_ipython(), display(), `if __name__ == "__main__":` demo code, a `%%time` answer
cell, a top-level `await`) get full marks under the kit's grader, under `nbgrader autograde` routed through the kit and
under stock in-kernel nbgrader, cell by cell the same; a real syntax error or an unknown magic
loses, on every path, what a kernel loses. The sandbox's shell itself (tests below the notebooks):
what it runs, what it refuses, and that it leaves no files behind."""

import nbformat
import numpy as np
import pytest

from autograder.calls import Own
from autograder.course import course
from autograder.course.submissions import expected_scores, fill, reference_answers
from autograder.running.sandbox.launch import Limits, Pool, bubblewrap
from autograder.running.sandbox.remote import RemoteSubmission
from tests.conftest import grade_three_ways, released_course

SIGMOID_HEADER = """%matplotlib inline
%load_ext autoreload
%autoreload 2
%config InlineBackend.figure_format = 'retina'
%precision 4
!pip install --quiet --no-index --dry-run numpy
"""
SIGMOID_FOOTER = """
%timeit -n 2 -r 2 sigmoid(np.zeros(3))
%time _h = sigmoid(np.zeros(3))
%who
"""
FORWARD_HEADER = """get_ipython().run_line_magic('matplotlib', 'inline')
get_ipython().system('echo forward')
"""
FORWARD_FOOTER = """
if __name__ == "__main__":
    display(sigmoid(np.zeros((2, 1)))[0])
"""
GRADIENTS_FOOTER = """
from IPython import get_ipython as ipython
from IPython.display import display as show

ipython().run_cell_magic("capture", "", "_unused = 1\\n")
show(compute_gradients)
listing = !ls
"""
ADDED_CELL = """%matplotlib inline
import asyncio

import matplotlib.pyplot as plt

await asyncio.sleep(0)

shell = get_ipython()
assert shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"
"""


def idioms(release: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The reference answers, each cell in another kernel idiom, and an added cell of magics."""
    reference = reference_answers()
    nb = fill(release, {
        "loss": "%%time\n" + reference["loss"],
        "sigmoid": SIGMOID_HEADER + reference["sigmoid"] + SIGMOID_FOOTER,
        "forward_prop": FORWARD_HEADER + reference["forward_prop"] + FORWARD_FOOTER,
        "backward_prop": "%%capture captured\n" + reference["backward_prop"],
        "compute_gradients": reference["compute_gradients"] + GRADIENTS_FOOTER,
    })
    first_answer = next(k for k, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    nb.cells.insert(first_answer, nbformat.v4.new_code_cell(ADDED_CELL))
    return nb


# student -> (answers changed from the reference, functions a kernel loses)
BROKEN = {
    "syntax_error": ({"sigmoid": "%matplotlib inline\n" + "{sigmoid}" + "\nx = (1 +\n"}, ("sigmoid",)),
    "unknown_magic": ({"backward_prop": "%load_ext autoreload\n%bogus_magic 3\n" + "{backward_prop}"},
                      ("backward_prop",)),
}


@pytest.fixture(scope="module")
def three_paths(tmp_path_factory):
    """Per path (stock, routed, kit): student -> grade_id -> score, on one course."""
    root, release = released_course(tmp_path_factory.mktemp("kernel") / "course")
    reference = reference_answers()
    course.submit(root, "idioms", idioms(release))
    for student, (answers, _) in BROKEN.items():
        changed = {name: text.format(**reference) for name, text in answers.items()}
        course.submit(root, student, fill(release, {**reference, **changed}))
    return grade_three_ways(root)


def test_kernel_idioms_get_full_marks_on_every_path(three_paths):
    for path, scores in three_paths.items():
        assert scores["idioms"] == expected_scores(()), path


@pytest.mark.parametrize("student", sorted(BROKEN))
def test_a_syntax_error_or_unknown_magic_loses_what_a_kernel_loses(three_paths, student):
    expected = expected_scores(BROKEN[student][1])
    assert sum(expected.values()) < sum(expected_scores(()).values())
    for path, scores in three_paths.items():
        assert scores[student] == expected, path


def test_the_three_paths_agree_cell_by_cell(three_paths):
    assert three_paths["stock"] == three_paths["routed"] == three_paths["kit"]


# -- the sandbox's shell -------------------------------------------------------------------------

SHELL_CELLS = [
    ("imports", "import os\nimport numpy as np\nstarted = sorted(os.listdir('.'))"),
    ("autoreload_first", "%autoreload 2"),
    ("last_value", "21 * 2"),
    ("underscore", "answer = _\nfrom_out = Out[max(Out)]"),
    ("quiet", "99;"),
    ("time_line", "timed = %time answer + 1"),
    ("time_cell", "%%time\ninside_time = 3\ninside_time * 2"),
    ("timeit", "%timeit -n 1 -r 1 timeit_local = 5\nafter_timeit = 1"),
    ("timeit_result", "t = %timeit -o -q -n 3 answer + 1\ntimed_ok = t.best >= 0 and t.loops >= 1"),
    ("capture", "%%capture grabbed\nprint('shown')\ncaptured_value = 4"),
    ("capture_error", "%%capture\nbefore_error = 1\n1 / 0\nafter_error = 1"),
    ("shell_escape", "!rm -rf /tmp\nls_lines = !ls /\nafter_escape = get_ipython().system('true') is None"),
    ("run", "%run evil.py\nafter_run = 1"),
    ("writefile", "%%writefile written.py\nprint('hello')\n"),
    ("load", "%load /etc/passwd"),
    ("unknown_line", "%no_such_magic\nafter_unknown = 1"),
    ("unknown_cell", "%%no_such_magic\nx = 1"),
    ("syntax", "%matplotlib inline\nx = (1 +"),
    ("custom_exc", "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\nraise ValueError('seen')"),
    ("await", "import asyncio\nawaited = await asyncio.sleep(0, result=6)"),
    ("env", "%env KIT_TEST_VALUE=7\nenv_value = os.environ['KIT_TEST_VALUE']"),
    ("probe", '''
def probe(x):
    names = ("answer", "from_out", "timed", "inside_time", "timeit_local", "after_timeit", "captured_value",
             "before_error", "after_error", "after_escape", "after_run", "after_unknown", "env_value", "timed_ok",
             "awaited")
    found = [float(globals().get(n, -1) if not isinstance(globals().get(n), str) else globals()[n])
             for n in names]
    home = os.path.expanduser("~")
    files = sorted(os.listdir(".")) != started or (os.path.isdir(home) and ".ipython" in os.listdir(home))
    return np.array(found + [float(grabbed.stdout == "shown\\n"), float(files), float(len(ls_lines)),
                             float(__name__ == "__main__"), float(99 in Out.values())])
'''),
]


@pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed")
def test_the_sandbox_shell_runs_refuses_and_leaves_nothing_behind():
    with Pool(1, "bwrap", Limits()) as pool, RemoteSubmission(pool.zygotes[0], SHELL_CELLS, Limits()) as sub:
        errors = {e.split(":", 1)[0]: e.split(":", 1)[1] for e in sub.cell_errors}
        probe = np.asarray(sub.call(Own("probe"), 0.0).value)
    assert set(errors) == {"autoreload_first", "run", "writefile", "load", "unknown_line", "unknown_cell", "syntax",
                           "custom_exc"}
    assert "UsageError: Line magic function `%autoreload` not found." in errors["autoreload_first"]
    assert "UsageError: Line magic function `%no_such_magic` not found." in errors["unknown_line"]
    assert "UsageError: Cell magic `%%no_such_magic` not found." in errors["unknown_cell"]
    assert "SyntaxError" in errors["syntax"] and "ValueError: seen" in errors["custom_exc"]
    assert all("UsageError" in errors[label] and "not run by the grader" in errors[label]
               for label in ("run", "writefile", "load"))
    # answer, from_out, timed, inside_time, timeit_local (not leaked), after_timeit, captured_value,
    # before_error, after_error (the body stops, the cell does not fail), after_escape, after_run
    # and after_unknown (never reached), env_value, %timeit -o's result, a top-level await; then
    # %%capture's text, no files made, no shell output, __name__, a result ending in ';' not kept.
    assert probe.tolist() == [42.0, 42.0, 43.0, 3.0, -1.0, 1.0, 4.0, 1.0, -1.0, 1.0, -1.0, -1.0, 7.0,
                              1.0, 6.0, 1.0, 0.0, 0.0, 1.0, 0.0]
