"""Hostile submissions graded by the kit next to honest neighbours: each gains nothing for its
wrong functions, writes no grade, harms no neighbour and changes no course file."""

import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import course, spec
from autograder.submissions import expected_scores, fill, reference_answers
from tests.conftest import ROOT

WRONG_SIGMOID = "def sigmoid(z):\n    return 0.5 * np.ones_like(z), 0.25 * np.ones_like(z)\n"
WRONG_LOSS = "def loss(yhat, y):\n    return (yhat - y) ** 2, y - yhat\n"
WRONG_GRADS = "def compute_gradients(dldhs, f, zs, hs):\n    return [np.zeros((1, 1))], [np.zeros((1, 1))]\n"
FIND_ROOT = ("import os\n"
             "def _roots():\n"
             "    here = os.getcwd()\n"
             "    for _ in range(5):\n"
             "        if os.path.exists(os.path.join(here, 'nbgrader_config.py')):\n"
             "            yield here\n"
             "        here = os.path.dirname(here)\n")

# name -> (answers over the reference, the functions it really gets wrong)
ATTACKS = {
    "patched_comparisons": ({"sigmoid": "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
                             "np.testing.assert_allclose = lambda *a, **k: None\n"
                             "import builtins\nbuiltins.abs = lambda x: 0.0\n" + WRONG_SIGMOID}, ("sigmoid",)),
    "lying_objects": ({"loss": "class Liar(float):\n"
                       "    def __eq__(self, o): return True\n    def __sub__(self, o): return Liar(0)\n"
                       "    __rsub__ = __sub__\n    def __abs__(self): return Liar(0)\n"
                       "    def __lt__(self, o): return True\n    def __array__(self, *a, **k): return np.zeros(1)\n"
                       "def loss(yhat, y):\n    return Liar(0), Liar(0)\n"}, ("loss",)),
    "steal_reference": ({"backward_prop": FIND_ROOT + "import sys\n"
                         "for r in _roots():\n    sys.path.insert(0, r)\n"
                         "try:\n    from solutions.backprop import backward_prop\n"
                         "except Exception:\n"
                         "    def backward_prop(loss, f, Ws, bs, zs, y):\n"
                         "        return [np.zeros_like(z) for z in zs]\n"}, ("backward_prop",)),
    "write_grades": ({"compute_gradients": FIND_ROOT + "import sqlite3\n"
                      "for r in _roots():\n"
                      "    try:\n"
                      "        c = sqlite3.connect(os.path.join(r, 'gradebook.db'))\n"
                      "        c.execute('UPDATE grade SET manual_score=999'); c.commit()\n"
                      "    except Exception:\n        pass\n" + WRONG_GRADS}, ("compute_gradients",)),
    "harm_classmates": ({"loss": FIND_ROOT + "import glob\n"
                         "for r in _roots():\n"
                         "    for p in glob.glob(os.path.join(r, 'submitted', '*', '*', '*.ipynb')):\n"
                         "        open(p, 'w').close()\n"
                         "    for p in glob.glob(os.path.join(r, 'source', '*', '*')):\n"
                         "        open(p, 'w').close()\n" + WRONG_LOSS}, ("loss",)),
    "exit_in_sigmoid": ({"sigmoid": "import os\ndef sigmoid(z):\n    os._exit(0)\n"}, ("sigmoid",)),
    "segfault_in_loss": ({"loss": "import ctypes\ndef loss(yhat, y):\n    ctypes.string_at(0)\n"}, ("loss",)),
    "system_exit": ({"forward_prop": "import sys\ndef forward_prop(x, f, Ws, bs):\n    sys.exit(0)\n"},
                    ("forward_prop",)),
    "stubborn_loop": ({"backward_prop": "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                       "def backward_prop(loss, f, Ws, bs, zs, y):\n    while True:\n        try:\n"
                       "            pass\n        except BaseException:\n            pass\n"}, ("backward_prop",)),
    "memory_bomb": ({"compute_gradients": "def compute_gradients(dldhs, f, zs, hs):\n    keep = []\n"
                     "    while True:\n        keep.append(bytearray(100 * 2**20))\n"}, ("compute_gradients",)),
    "output_flood": ({"sigmoid": "import sys, os\n_calls = []\ndef sigmoid(z):\n"
                      "    for _ in range(2000 if not _calls else 0):\n"
                      "        print('x' * 10000); sys.stderr.write('y' * 1000)\n"
                      "    _calls.append(os.write(1, b'z' * 100000))\n"
                      "    h = 1 / (1 + np.exp(-z))\n    return h, h * (1 - h)\n"}, ()),
    "spawn_processes": ({"loss": "import os, subprocess\n"
                         "def loss(yhat, y):\n    for _ in range(20):\n"
                         "        try:\n            subprocess.Popen(['sleep', '100'])\n"
                         "        except Exception:\n            pass\n"
                         "    return (yhat - y), yhat - y\n"}, ("loss",)),
    "stash_collaborators": ({"backward_prop": "_stash = {}\n"
                             "def backward_prop(loss, f, Ws, bs, zs, y):\n"
                             "    _stash['f'], _stash['loss'] = f, loss\n"
                             "    L = len(Ws)\n    d = [None] * (L + 1)\n    d[L] = loss(f(zs[L])[0], y)[1]\n"
                             "    for l in reversed(range(L)):\n"
                             "        d[l] = Ws[l].T @ (d[l + 1] * f(zs[l + 1])[1])\n    return d\n",
                             "sigmoid": "def sigmoid(z):\n    if 'f' in _stash:\n        return _stash['f'](z)\n"
                             "    return 0.5 * np.ones_like(z), 0.25 * np.ones_like(z)\n"}, ("sigmoid",)),
}
EXTRA_FILES = {"shadow_modules": {"autograder.py": "def run_hidden_tests(*a):\n    pass\n", "numpy.py": "x = 1\n"}}


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "autograded" not in p.parts
            and not p.name.startswith("gradebook.db")}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = course.copy_course(ROOT, tmp_path_factory.mktemp("attacked"))
    course.generate_release(root)
    release = nbformat.read(course.release_path(root), as_version=4)
    reference = reference_answers()
    for neighbour in ("aaa_neighbour", "zzz_neighbour"):
        course.submit(root, neighbour, fill(release, reference))
    for name, (answers, _) in ATTACKS.items():
        course.submit(root, f"attack_{name}", fill(release, {**reference, **answers}))
    for name, files in EXTRA_FILES.items():
        course.submit(root, f"attack_{name}", release, files)
    before = digest(root)
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", "backprop", "--workers", "2"],
                            cwd=root, capture_output=True, text=True, timeout=900)
    return root, result, before


def test_grader_finishes_cleanly(attacked):
    _, result, _ = attacked
    assert result.returncode == 0, result.stderr[-3000:]


def test_course_files_unchanged_and_neighbours_keep_full_marks(attacked):
    root, _, before = attacked
    assert digest(root) == before
    scores = course.read_scores(root)
    assert scores["aaa_neighbour"] == scores["zzz_neighbour"] == expected_scores(())


def test_no_manual_score_written(attacked):
    from nbgrader.api import Gradebook

    root, _, _ = attacked
    with Gradebook(course.coursedir(root).db_url) as gb:
        manual = [(g.student.id, g.name) for s in gb.students for sub in s.submissions
                  for nb in sub.notebooks for g in nb.grades if g.manual_score is not None]
    assert manual == []


@pytest.mark.parametrize("name", sorted(ATTACKS) + sorted(EXTRA_FILES))
def test_attack_gains_nothing(attacked, name):
    root, _, _ = attacked
    scores = course.read_scores(root)[f"attack_{name}"]
    wrong = ATTACKS[name][1] if name in ATTACKS else spec.FUNCTIONS
    expected = expected_scores(wrong)
    gained = {g: s for g, s in scores.items() if expected[g] == 0 and s > 0}
    assert gained == {}
    if not wrong:
        assert scores == expected
