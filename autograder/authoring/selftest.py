"""The homework's self-test: run by `release` before anything is released, and by `grade`.

1. autograder/homework/spec.py is read for mistakes an edit can make (an activation no check knows,
   points that are not whole numbers, a check id that is not registered, a misnamed cell, a
   tolerance out of range...), each reported with the file, the line, the value and the fix.
2. The reference solution (solutions/backprop.py) is graded through every visible test and
   hidden check, the way each grader runs them: in this process as the notebook kernel does
   under `nbgrader autograde` (the test cells' own code, hidden blocks included), and in the
   sandbox as `python -m autograder grade` does. It must get every point; a check that
   cannot run on it is a broken homework, not a wrong student.

`grade` runs 1 and the in-process half of 2 (under a second), and checks that the released
notebook and the gradebook carry the spec's points; it does so once per homework: a fingerprint
of the files the verdict depends on is kept in the course (passed_file) when it passes.
"""

import contextlib
import difflib
import inspect
import io
import math
import re
import sys
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np

from solutions import backprop

from ..course import course
from ..homework import spec
from ..homework.checks import CHECKS
from ..homework.collaborators import REFERENCE
from ..running.in_process import InProcess

KIT = Path(__file__).resolve().parents[2]
SPEC_FILE = "autograder/homework/spec.py"

# Hidden networks are kept small: the gradient check runs two forward passes per weight, for
# every network, within CHECK_SECONDS.
MAX_UNITS, MAX_DEPTH = 32, 8

# (name, lowest, highest, why): the sane range of each tolerance, both ends allowed. Too tight
# fails correct answers written differently from the reference; too loose passes wrong ones.
TOLERANCES = (
    ("RTOL", 1e-12, 1e-4, "correct formulas written differently agree to ~1e-15 relative; above 1e-4 wrong ones pass"),
    ("ATOL", 1e-15, 1e-6, "cancellation leaves ~1e-17 absolute in tiny values; above 1e-6 small wrong values pass"),
    ("GRADCHECK_EPS", 1e-9, 1e-3, "centred differences in float64 need a step between 1e-9 and 1e-3"),
    ("GRADCHECK_TOL", 1e-7, 1e-3, "correct gradients give up to 3e-8 on the hidden networks, the classic mistakes "
     "1e-2 and more"),
    ("TRAINING_RTOL", 1e-10, 1e-3, "correct runs agree with the reference's to ~1e-15; wrong ones depart by far more"),
    ("XOR_ATOL", 5e-7, 1e-3, "XOR_OUTPUTS are rounded to 6 decimals"),
    ("TRAINING_ETA", 1e-6, 100.0, "a positive step size"),
)


@dataclass
class Problem:
    """One thing wrong with the homework: where (file:line), what (the value and why), the fix."""

    where: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}\n    fix: {self.fix}"


class SelfTestFailed(course.CourseError):
    """The homework is broken; the message lists every problem with its fix."""

    def __init__(self, problems: list[Problem], refused: str):
        self.problems = problems
        lines = "\n".join(f"- {p}" for p in problems)
        super().__init__(f"{refused}: the self-test of the homework found {len(problems)} problem(s):\n{lines}\n"
                         "(see README.md, \"Customising the homework\")")


# ---------------------------------------------------------------------------------------------
# Where a value is written

def _spec_lines() -> list[str]:
    try:
        return Path(spec.__file__).read_text().splitlines()
    except OSError:
        return []


def where(*needles: str) -> str:
    """'autograder/homework/spec.py:47' for the first line holding every needle (or just the file)."""
    for number, line in enumerate(_spec_lines(), 1):
        if all(n in line for n in needles):
            return f"{SPEC_FILE}:{number}"
    return SPEC_FILE


def _assigned(name: str) -> str:
    for number, line in enumerate(_spec_lines(), 1):
        if re.match(rf"{name}\s*(:[^=]*)?=", line):
            return f"{SPEC_FILE}:{number}"
    return SPEC_FILE


# ---------------------------------------------------------------------------------------------
# 1. The spec, read statically

def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(value)


def activation_names() -> list[str]:
    """Reference collaborators usable as a hidden network's activation: f(z) returns (f(z), f'(z)),
    both shaped like z, the derivative matching finite differences."""
    z = np.array([[-1.5], [-0.25], [0.5], [2.0]])
    names = []
    for name, fn in REFERENCE.items():
        try:
            if len(inspect.signature(fn).parameters) != 1:
                continue
            with np.errstate(all="ignore"):
                h, g = fn(z)
                numeric = (fn(z + 1e-6)[0] - fn(z - 1e-6)[0]) / 2e-6
            if np.shape(h) == z.shape and np.shape(g) == z.shape and np.allclose(g, numeric, rtol=1e-5, atol=1e-7):
                names.append(name)
        except Exception:
            continue
    return names


def _close(word: str, choices) -> str:
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _sizes_problem(sizes, label: str) -> str | None:
    """Why sizes is not a valid list of layer sizes [n_0, ..., n_L], or None."""
    if not isinstance(sizes, (tuple, list)) or len(sizes) < 2:
        return f"{label} should be a tuple of at least two layer sizes (n_0, ..., n_L), got {sizes!r}"
    if not all(_is_int(n) and 1 <= n <= MAX_UNITS for n in sizes):
        return f"{label} {sizes!r}: every layer size should be a whole number from 1 to {MAX_UNITS}"
    if len(sizes) - 1 > MAX_DEPTH:
        return f"{label} {sizes!r} has depth {len(sizes) - 1}; at most {MAX_DEPTH} layers keep grading fast"
    return None


def _owner(grade_id: str, functions) -> str | None:
    """The function a `test_<function>*` grade_id names (the longest match), if any."""
    owners = [f for f in functions if grade_id == f"test_{f}" or grade_id.startswith(f"test_{f}_")]
    return max(owners, key=len) if owners else None


def _cell_problems(s, functions: tuple) -> list[Problem]:
    problems: list[Problem] = []
    cells = getattr(s, "TEST_CELLS", ())
    if not isinstance(cells, (tuple, list)) or not cells:
        return [Problem(_assigned("TEST_CELLS"), "TEST_CELLS should be a non-empty tuple of TestCell(...)",
                        "list one TestCell per test cell of the notebook")]
    seen: set[str] = set()
    for k, cell in enumerate(cells):
        if not all(hasattr(cell, a) for a in ("grade_id", "points", "judges", "checks", "about")):
            problems.append(Problem(SPEC_FILE, f"TEST_CELLS[{k}] = {cell!r} is not a TestCell",
                                    "write TestCell(grade_id, points, judges, checks, about)"))
            continue
        gid = cell.grade_id
        here = where(f'"{gid}"') if isinstance(gid, str) else SPEC_FILE
        if not isinstance(gid, str) or not re.fullmatch(r"test_[a-z0-9_]+", gid):
            problems.append(Problem(here, f"grade_id {gid!r} is not a test cell name",
                                    "name it test_<function>_<what> (judging one function) or test_<what> "
                                    "(lower case, digits and _)"))
            continue
        if gid in seen:
            problems.append(Problem(here, f"grade_id {gid!r} is used by two test cells",
                                    "give every test cell its own grade_id (nbgrader keys scores by it)"))
        seen.add(gid)
        if not _is_int(cell.points) or cell.points < 1:
            problems.append(Problem(here, f"{gid} has points={cell.points!r}",
                                    "points are whole numbers of 1 or more (each cell is all or nothing)"))
        judges = cell.judges
        if not isinstance(judges, (tuple, list)) or not judges or len(set(judges)) != len(judges):
            problems.append(Problem(here, f"{gid} has judges={judges!r}",
                                    "judges is a tuple of distinct functions, for example (\"loss\",)"))
            judges = ()
        unknown = [j for j in judges if j not in functions]
        for j in unknown:
            problems.append(Problem(here, f"{gid} judges {j!r}, which is not one of FUNCTIONS"
                                    f"{_close(str(j), functions)}", f"use {', '.join(functions)}"))
        owner = _owner(gid, functions)
        if judges and not unknown:
            if len(judges) == 1 and owner != judges[0]:
                problems.append(Problem(here, f"{gid} judges only {judges[0]} but is not named test_{judges[0]}...",
                                        f"rename it test_{judges[0]}_<what>: a cell judging one function is "
                                        "named after it (feedback and exports group cells that way)"))
            elif len(judges) > 1 and owner:
                problems.append(Problem(here, f"{gid} is named after {owner} but judges {', '.join(judges)}",
                                        f"a test_{owner}* cell judges {owner} only: set judges=(\"{owner}\",) "
                                        f"or rename the cell"))
        checks = cell.checks
        if not isinstance(checks, (tuple, list)) or not all(isinstance(c, str) for c in checks):
            problems.append(Problem(here, f"{gid} has checks={checks!r}",
                                    "checks is a tuple of check ids, for example (\"loss_values\",)"))
            checks = ()
        for check_id in checks:
            if check_id not in CHECKS:
                problems.append(Problem(where(f'"{check_id}"'), f"{gid} lists the check {check_id!r}, which is not "
                                        f"registered{_close(check_id, CHECKS)}",
                                        "use an id registered with @check(...) in autograder/homework/checks/ "
                                        f"({', '.join(sorted(CHECKS))})"))
        if len(set(checks)) != len(checks):
            problems.append(Problem(here, f"{gid} lists a check twice: {checks!r}", "list each check once"))
        if not isinstance(cell.about, str) or not cell.about.strip():
            problems.append(Problem(here, f"{gid} has no about text",
                                    "say in about=... what the cell checks (feedback pages show it)"))
    total = getattr(s, "TOTAL_POINTS", None)
    points = [c.points for c in cells if _is_int(getattr(c, "points", None))]
    if len(points) == len(cells) and total != sum(points):
        problems.append(Problem(_assigned("TOTAL_POINTS"), f"TOTAL_POINTS = {total!r} but the cells add up to "
                                f"{sum(points)}", "keep TOTAL_POINTS = sum(cell.points for cell in TEST_CELLS)"))
    return problems


def _network_problems(s) -> list[Problem]:
    networks = getattr(s, "NETWORKS", ())
    if not isinstance(networks, (tuple, list)) or not networks:
        return [Problem(_assigned("NETWORKS"), f"NETWORKS = {networks!r}",
                        "NETWORKS is a non-empty tuple of ((n_0, ..., n_L), \"activation\") pairs")]
    problems: list[Problem] = []
    known = activation_names()
    for k, entry in enumerate(networks):
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            problems.append(Problem(_assigned("NETWORKS"), f"NETWORKS[{k}] = {entry!r}",
                                    "write each network as ((n_0, ..., n_L), \"activation\")"))
            continue
        sizes, activation = entry
        here = where(repr(tuple(sizes))) if isinstance(sizes, (tuple, list)) else _assigned("NETWORKS")
        why = _sizes_problem(sizes, f"NETWORKS[{k}]")
        if why:
            problems.append(Problem(here, why, f"layer sizes are 1 to {MAX_UNITS} units, (n_0, ..., n_L) with L >= 1"))
        if activation not in known:
            what = ("is a stand-in without a derivative the backward checks can use" if activation in REFERENCE
                    else f"is not an activation the checks know{_close(str(activation), known)}")
            problems.append(Problem(here, f"NETWORKS[{k}] = {entry!r}: {activation!r} {what}",
                                    f"use one of {', '.join(known)}, or add the new activation to PUBLIC in "
                                    "autograder/homework/stand_ins.py (README: \"Customising the homework\")"))
    combined = getattr(s, "COMBINED_ACTIVATION", "sigmoid")
    if combined not in known:
        problems.append(Problem(_assigned("COMBINED_ACTIVATION"), f"COMBINED_ACTIVATION = {combined!r} is not an "
                                f"activation{_close(str(combined), known)}",
                                "the cells judging the five functions together run the student's own sigmoid: "
                                "keep \"sigmoid\""))
    elif not any(isinstance(e, (tuple, list)) and len(e) == 2 and e[1] == combined for e in networks):
        problems.append(Problem(_assigned("NETWORKS"), f"no network of NETWORKS has the activation {combined!r} "
                                "(COMBINED_ACTIVATION), so the gradient check would run on none",
                                f"keep at least one ((n_0, ..., n_L), {combined!r}) network"))
    return problems


def _number_problems(s, cell_timeout: float) -> list[Problem]:
    problems: list[Problem] = []
    for name, low, high, why in TOLERANCES:
        value = getattr(s, name, None)
        if not (_is_real(value) and low <= value <= high):
            problems.append(Problem(_assigned(name), f"{name} = {value!r} is outside [{low:g}, {high:g}]",
                                    f"set {name} within that range ({why})"))
    for name, low, high in (("TRAINING_SAMPLES", 2, 10_000), ("TRAINING_EPOCHS", 2, 10_000),
                            ("NETWORK_SEED", 0, 2**63), ("TRAINING_SEED", 0, 2**63)):
        value = getattr(s, name, None)
        if not (_is_int(value) and low <= value <= high):
            problems.append(Problem(_assigned(name), f"{name} = {value!r}", f"use a whole number from {low} to {high}"))
    sizes = getattr(s, "TRAINING_SIZES", None)
    why = _sizes_problem(sizes, "TRAINING_SIZES")
    if why is None and (sizes[0] != 2 or sizes[-1] != 1):
        why = f"TRAINING_SIZES = {sizes!r}: noisy XOR has 2 inputs and 1 output"
    if why:
        problems.append(Problem(_assigned("TRAINING_SIZES"), why, "use (2, ..., 1), for example (2, 2, 1)"))
    if not _is_real(getattr(s, "XOR_F", None)) or s.XOR_F <= 0:
        problems.append(Problem(_assigned("XOR_F"), f"XOR_F = {getattr(s, 'XOR_F', None)!r}",
                                "the lecture's scale F is a positive number (5.0)"))
    outputs = getattr(s, "XOR_OUTPUTS", None)
    if not (isinstance(outputs, (tuple, list)) and len(outputs) == 4
            and all(_is_real(v) and 0 < v < 1 for v in outputs)):
        problems.append(Problem(_assigned("XOR_OUTPUTS"), f"XOR_OUTPUTS = {outputs!r}",
                                "four sigmoid outputs in (0, 1), for the inputs 00, 01, 10 and 11"))
    seconds = getattr(s, "CHECK_SECONDS", None)
    if not (_is_real(seconds) and 0 < seconds < cell_timeout):
        problems.append(Problem(_assigned("CHECK_SECONDS"), f"CHECK_SECONDS = {seconds!r}",
                                f"a positive number of seconds below nbgrader's per-cell timeout ({cell_timeout:g} s, "
                                "c.Execute.timeout in nbgrader_config.py)"))
    return problems


def _template_problems(s, template: Path, functions: tuple) -> list[Problem]:
    """The notebook source's cells must be the spec's, in the same order."""
    from .build_notebook import MARKER

    text = template.read_text()
    found: dict[str, list[str]] = {"answer": [], "test": []}
    bodies: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        match = MARKER.match(line)
        if match:
            current = match.group(2) if match.group(1) == "test" else None
            if match.group(1) in found:
                found[match.group(1)].append(match.group(2))
            if current:
                bodies[current] = []
        elif current:
            bodies[current].append(line)
    name = template.name
    problems: list[Problem] = []
    if found["answer"] != list(functions):
        problems.append(Problem(SPEC_FILE, f"FUNCTIONS = {tuple(functions)!r} but {name} has answer cells "
                                f"{found['answer']!r}", f"keep FUNCTIONS and the `# %% [answer]` cells of {template} "
                                "the same, in the same order"))
    for function in functions:
        if not callable(getattr(backprop, str(function), None)):
            problems.append(Problem(SPEC_FILE, f"FUNCTIONS lists {function!r}, which solutions/backprop.py does "
                                    "not define", "write its reference solution in solutions/backprop.py"))
    cells = [c.grade_id for c in getattr(s, "TEST_CELLS", ()) if hasattr(c, "grade_id")]
    if found["test"] != cells:
        missing = [g for g in cells if g not in found["test"]]
        extra = [g for g in found["test"] if g not in cells]
        what = (f"missing from {name}: {missing}; " if missing else "") + \
               (f"in {name} but not in TEST_CELLS: {extra}; " if extra else "") + \
               ("" if missing or extra else "the order differs; ")
        problems.append(Problem(SPEC_FILE, f"TEST_CELLS and the `# %% [test]` cells of {template} disagree "
                                f"({what[:-2]})",
                                "list TEST_CELLS in the notebook's order, one per `# %% [test] <grade_id>` cell"))
    for cell in getattr(s, "TEST_CELLS", ()):
        visible = [ln for ln in bodies.get(getattr(cell, "grade_id", None), []) if ln.strip() and
                   not ln.lstrip().startswith("#")]
        if getattr(cell, "grade_id", None) in bodies and not visible and not getattr(cell, "checks", ()):
            problems.append(Problem(where(f'"{cell.grade_id}"'), f"{cell.grade_id} has no visible tests in {name} "
                                    "and no hidden checks: everyone would get its points",
                                    "give it checks=(...) or write visible tests in its cell"))
    return problems


def spec_problems(s=spec, template: Path | None = None, cell_timeout: float = 10.0) -> list[Problem]:
    """Everything statically wrong with the spec `s` (a module like autograder.homework.spec) and, given the
    notebook's source template, with how the two fit."""
    functions = getattr(s, "FUNCTIONS", ())
    problems: list[Problem] = []
    names_ok = isinstance(functions, (tuple, list)) and bool(functions) and len(set(functions)) == len(functions) \
        and all(isinstance(f, str) and f.isidentifier() for f in functions)
    if not names_ok:
        problems.append(Problem(_assigned("FUNCTIONS"), f"FUNCTIONS = {functions!r}",
                                "FUNCTIONS is a tuple of distinct function names"))
        functions = ()
    for name in ("ASSIGNMENT", "NOTEBOOK"):
        value = getattr(s, name, None)
        if not (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]+", value)):
            problems.append(Problem(_assigned(name), f"{name} = {value!r}", "a folder or file name without spaces"))
    problems += _cell_problems(s, tuple(functions))
    problems += _network_problems(s)
    problems += _number_problems(s, cell_timeout)
    if template is not None and template.is_file():
        problems += _template_problems(s, template, tuple(functions))
    return problems


def unused_checks(s=spec) -> list[str]:
    """Registered checks no test cell runs (a new check not yet listed in TEST_CELLS)."""
    used = {c for cell in s.TEST_CELLS for c in getattr(cell, "checks", ())}
    return sorted(set(CHECKS) - used)


# ---------------------------------------------------------------------------------------------
# 2. The reference graded as each grader grades it

def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def kernel_scores(source: nbformat.NotebookNode) -> dict[str, str | None]:
    """Run the source notebook's given, answer and test cells (hidden blocks included) in one
    namespace of this process, as the kernel does under `nbgrader autograde`; demonstrations
    are skipped. grade_id -> why the cell would score 0 (an error, or output on stderr), or None."""
    namespace: dict = {"__name__": "__main__"}
    verdicts: dict[str, str | None] = {}
    for cell in source.cells:
        meta = _meta(cell)
        if cell.cell_type != "code" or not meta:
            continue
        label = meta.get("grade_id", "a cell")
        out, err = io.StringIO(), io.StringIO()
        failure = None
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
                # As in a kernel: a warning is printed on stderr, which nbgrader scores 0.
                warnings.simplefilter("default")
                warnings.showwarning = _warning_to_stderr
                exec(compile(cell.source, f"<cell {label}>", "exec"), namespace)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # as in a kernel: a time limit or SystemExit fails the cell too
            failure = _describe(error)
        if failure is None and err.getvalue().strip():
            failure = f"wrote to stderr (nbgrader scores that 0): {err.getvalue().strip()[:300]}"
        if meta.get("grade"):
            verdicts[label] = failure
        elif failure:
            verdicts[label] = failure
    return verdicts


def _warning_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _describe(error: BaseException) -> str:
    """The error and the kit file and line it was raised at, for the instructor."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(str(KIT))]
    at = f" at {Path(frames[-1].filename).relative_to(KIT)}:{frames[-1].lineno}" if frames else ""
    return f"{type(error).__name__}: {str(error)[:400]}{at}"


def sandbox_scores(source: nbformat.NotebookNode, sandbox: str = "auto") -> dict[str, str | None]:
    """Grade the source notebook's answers in one sandbox through scoring.grade_cells, as
    `python -m autograder grade` does. grade_id -> why it lost its points, or None."""
    from ..judging.scoring import grade_cells
    from ..judging.visible import visible_tests
    from ..running.notebook_code import cells_to_run
    from ..running.sandbox.launch import Limits, Pool
    from ..running.sandbox.remote import RemoteSubmission

    with Pool(1, sandbox) as pool, RemoteSubmission(pool.zygotes[0], cells_to_run(source, source), Limits()) as sub:
        results = grade_cells(sub, visible_tests(source))
    return {r.grade_id: None if r.score >= r.points else
            "; ".join(filter(None, [r.visible_failure, *(f"{c.check_id}: {c.message}" for c in r.checks
                                                          if not c.passed)])) or "lost its points"
            for r in results}


def _check_spec_names(check_id: str) -> list[str]:
    """The spec constants a check reads (directly, or through cases and compare.close)."""
    try:
        code = inspect.getsource(CHECKS[check_id])
    except (OSError, TypeError, KeyError):
        return []
    names = re.findall(r"spec\.([A-Z][A-Z0-9_]*)", code)
    if "networks()" in code:
        names += ["NETWORKS", "NETWORK_SEED"]
    if "training_run()" in code or "reference_losses" in code:
        names += ["TRAINING_SIZES", "TRAINING_SAMPLES", "TRAINING_SEED"]
    if "close(" in code:
        names += ["RTOL", "ATOL"]
    return list(dict.fromkeys(n for n in names if hasattr(spec, n)))


def _explain(grade_id: str) -> list[str]:
    """Each hidden check of the cell run directly on the reference, with the real error of one
    that fails and the spec values it reads."""
    namespace = {name: getattr(backprop, name) for name in spec.FUNCTIONS}
    lines = []
    for check_id in spec_cell_checks(grade_id):
        try:
            with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                CHECKS[check_id](InProcess(namespace))
            continue
        except AssertionError as failed:
            why = str(failed)
        except Exception as error:
            why = f"cannot run: {_describe(error)}"
        reads = []
        for name in _check_spec_names(check_id):
            value = repr(getattr(spec, name))
            reads.append(f"{_assigned(name)} {name}" + (f" = {value}" if len(value) <= 60 else ""))
        lines.append(f"check {check_id}: {why}" + (f"\n      it reads {', '.join(reads)}" if reads else ""))
    return lines


def reference_problems(source: nbformat.NotebookNode, sandbox: str | None = "auto",
                       say=lambda text: None) -> list[Problem]:
    """Grade the reference both ways (sandbox=None: only in this process); a Problem per cell
    that loses points on either."""
    graders = [("in the notebook kernel (as nbgrader autograde runs it)", kernel_scores)]
    if sandbox:
        graders.append(("in the sandbox (as python -m autograder grade runs it)",
                        lambda nb: sandbox_scores(nb, sandbox)))
    points = {c.grade_id: c.points for c in spec.TEST_CELLS}
    lost: dict[str, dict[str, str]] = {}  # grade_id -> grader -> why
    for label, grade in graders:
        verdicts = grade(source)
        score = sum(p for g, p in points.items() if verdicts.get(g, "not run") is None)
        say(f"  the reference scores {score} / {spec.TOTAL_POINTS} {label}")
        for grade_id, why in verdicts.items():
            if why:
                lost.setdefault(grade_id, {})[label] = why
        for grade_id in points.keys() - verdicts.keys():
            lost.setdefault(grade_id, {})[label] = "the cell did not run"
    problems = []
    for grade_id, whys in lost.items():
        details = _explain(grade_id) if grade_id in points and spec_cell_checks(grade_id) else []
        # The checks' own verdicts say it best; a visible test's failure only the grader knows.
        said = "".join(f"\n    {d}" for d in details) or "".join(f"\n    {label}: {why}" for label, why in whys.items())
        graders = " and ".join(label.split(" (")[0] for label in whys)
        problems.append(Problem(
            where(f'"{grade_id}"') if grade_id in points else SPEC_FILE,
            (f"the reference solution loses {grade_id} ({points[grade_id]} points) {graders}:{said}"
             if grade_id in points else f"the notebook's cell {grade_id} fails on the reference {graders}:{said}"),
            "the reference must get every point: undo or correct the spec value the failing check reads "
            "(listed above), or fix the check in autograder/homework/checks/ or the visible test in "
            "source/backprop/backprop.py"))
    return problems


def spec_cell_checks(grade_id: str) -> tuple[str, ...]:
    from ..judging.scoring import cell as spec_cell

    return tuple(spec_cell(grade_id).checks)


# ---------------------------------------------------------------------------------------------
# What release and grade run

def _cell_timeout(root: Path) -> float:
    try:
        config = course.coursedir(root).config
        return float(config.Execute.timeout) if "timeout" in config.get("Execute", {}) else 10.0
    except Exception:
        return 10.0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def before_release(root: Path, template: Path, sandbox: str = "auto") -> nbformat.NotebookNode:
    """The whole self-test; returns the source notebook built from template. Raises SelfTestFailed."""
    from . import build_notebook

    _say(f"Self-test: checking {SPEC_FILE} ...")
    problems = spec_problems(spec, template, _cell_timeout(root))
    if problems:
        raise SelfTestFailed(problems, "release refused, nothing was changed")
    for check_id in unused_checks():
        _say(f"  note: the check {check_id!r} is registered but no test cell in {SPEC_FILE} runs it")
    source = build_notebook.build(template)
    _say("Self-test: grading the reference solution both ways ...")
    problems = reference_problems(source, sandbox, _say)
    if problems:
        raise SelfTestFailed(problems, "release refused, nothing was changed")
    return source


def _differences(have: dict, wanted: dict, what: str) -> str:
    parts = []
    for grade_id in dict.fromkeys([*wanted, *have]):
        if have.get(grade_id) != wanted.get(grade_id):
            parts.append(f"{grade_id}: {have.get(grade_id, 'no cell')} in {what}, "
                         f"{wanted.get(grade_id, 'no cell')} in the spec")
    return "; ".join(parts[:6]) + (" ..." if len(parts) > 6 else "")


def _released_points(root: Path) -> list[Problem]:
    """The source notebook and the gradebook must carry the spec's points (a release since the
    last spec edit)."""
    problems = []
    wanted = {c.grade_id: c.points for c in spec.TEST_CELLS}
    path = course.source_path(root)
    fix = "run `make release` (python -m autograder release) after editing autograder/homework/spec.py, then grade"
    if path.is_file():
        nb = nbformat.read(path, as_version=4)
        have = {_meta(c)["grade_id"]: _meta(c).get("points") for c in nb.cells if _meta(c).get("grade")}
        if have != wanted:
            where_ = str(path.relative_to(root))
            problems.append(Problem(SPEC_FILE, f"{where_} was built from another spec "
                                    f"({_differences(have, wanted, where_)})", fix))
    try:
        from nbgrader.api import Gradebook, MissingEntry

        db_url = course.coursedir(root).db_url
        if db_url.startswith("sqlite:///") and not Path(db_url[len("sqlite:///"):]).exists():
            return problems
        with Gradebook(db_url) as gb:
            try:
                cells = gb.find_notebook(spec.NOTEBOOK, spec.ASSIGNMENT).grade_cells
            except MissingEntry:
                return problems
            have = {c.name: int(c.max_score) for c in cells}
    except Exception:  # the grader itself reports an unreachable gradebook, with its fix
        return problems
    if have != wanted:
        problems.append(Problem(SPEC_FILE, "the gradebook holds the points of an older release "
                                f"({_differences(have, wanted, 'the gradebook')})", fix))
    return problems


def passed_file(root: Path) -> Path:
    """Where `grade` keeps the fingerprint of the last homework that passed: with the grader's run
    log under autograded/ (its output folder; the course's own files stay as released)."""
    from ..course import records

    return records.run_log(root).parent / "selftest-passed"


def fingerprint(root: Path) -> str:
    """A digest of everything the grading self-test's verdict depends on: the kit's code (the
    spec, the checks, this file), the reference solution and its helpers, the course's source,
    template, release and configuration, and the Python and numpy versions. One changed byte
    gives another digest."""
    import hashlib

    digest = hashlib.sha256(f"{sys.version}\0{np.__version__}\0".encode())
    kit = sorted((KIT / "autograder").rglob("*.py")) + sorted((KIT / "solutions").rglob("*.py"))
    source = course.source_path(root)
    files = [(KIT, p) for p in kit] + [(root, p) for p in (source, source.with_suffix(".py"),
                                                            course.release_path(root), root / "nbgrader_config.py")]
    for base, path in files:  # named relative to the kit or the course: a copied course keeps its fingerprint
        digest.update(f"{path.relative_to(base)}\0".encode())
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"missing")
    return digest.hexdigest()


def passed_before(root: Path, print_: str) -> bool:
    """Whether the homework with this fingerprint passed the grading self-test in this course."""
    try:
        return passed_file(root).read_text().split()[0] == print_
    except (OSError, IndexError):
        return False


def _remember_pass(root: Path, print_: str) -> None:
    target = passed_file(root)
    partial = target.with_name(f"{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(f"{print_}\n# the homework passed the self-test `grade` runs; it runs again when the "
                           "spec, the kit, the reference or the notebooks change\n")
        partial.replace(target)
    except OSError:  # a read-only course: the self-test simply runs every time
        pass


def before_grading(root: Path) -> None:
    """The fast self-test `grade` runs: the spec, the reference in this process, the release's
    points. Raises SelfTestFailed. Skipped when this very homework (fingerprint) passed it last."""
    print_ = fingerprint(root)
    if passed_before(root, print_):
        return
    _check_for_grading(root)
    _remember_pass(root, print_)


def _check_for_grading(root: Path) -> None:
    template = course.source_path(root).with_suffix(".py")
    problems = spec_problems(spec, template, _cell_timeout(root))
    if not problems:
        source_path = course.source_path(root)
        if source_path.is_file():
            problems = reference_problems(nbformat.read(source_path, as_version=4), None)
        problems += _released_points(root)
    if problems:
        raise SelfTestFailed(problems, "grading refused, no score was written")
