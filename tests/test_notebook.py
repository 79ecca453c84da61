"""The generated notebooks: in sync with their sources, with the interfaces others rely on."""

import ast
import inspect
import re
import subprocess
import sys

import nbformat

from autograder.authoring import build_notebook
from autograder.homework import spec, spec_text
from autograder.judging import scoring
from autograder.judging.visible import visible_tests
from solutions import backprop, helpers
from tests.conftest import ROOT

SOURCE = ROOT / "source" / "backprop" / "backprop.ipynb"
RELEASE = ROOT / "release" / "backprop" / "backprop.ipynb"


def nbgrader_cells(path) -> dict[str, dict]:
    nb = nbformat.read(path, as_version=4)
    return {c.metadata.nbgrader.grade_id: {**c.metadata.nbgrader, "source": c.source}
            for c in nb.cells if "nbgrader" in c.metadata}


def test_source_notebook_is_built_from_its_sources():
    built = build_notebook.render(build_notebook.build(SOURCE.with_suffix(".py")))
    assert SOURCE.read_text() == built, "source/backprop/backprop.ipynb is stale: run `make notebook`"


def test_answer_and_test_cells_match_the_spec():
    cells = nbgrader_cells(SOURCE)
    answers = [g for g, c in cells.items() if c["solution"]]
    assert answers == list(spec.FUNCTIONS)
    tests = {g: c["points"] for g, c in cells.items() if c["grade"]}
    assert tests == {c.grade_id: c.points for c in spec.TEST_CELLS}
    assert sum(tests.values()) == spec.TOTAL_POINTS
    for cell in spec.TEST_CELLS:
        assert cell.grade_id.startswith("test_")
        assert len(cell.judges) == 5 or cell.grade_id.startswith(f"test_{cell.judges[0]}")
        hidden = build_notebook.hidden_block(cell.grade_id)
        assert (hidden in cells[cell.grade_id]["source"]) == bool(cell.checks)


def test_source_answers_are_the_reference_solutions():
    cells = nbgrader_cells(SOURCE)
    for name in spec.FUNCTIONS:
        assert cells[name]["source"] == inspect.getsource(getattr(backprop, name)).rstrip()


def test_release_holds_stubs_only():
    text = RELEASE.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN", "HIDDEN TESTS", "run_hidden_tests",
                   "autograder", "solutions"):
        assert marker not in text, marker
    cells = nbgrader_cells(RELEASE)
    for name in spec.FUNCTIONS:
        body = cells[name]["source"]
        assert "raise NotImplementedError()" in body
        # Only the signature and docstring of the reference survive.
        code = re.sub(r'"""(.|\n)*?"""', "", body)
        assert [line.strip() for line in code.splitlines() if line.strip()] == [
            next(line for line in body.splitlines() if line.startswith("def ")).strip(),
            "# YOUR CODE HERE", "raise NotImplementedError()"]


def test_cli_outside_a_course_says_where_to_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "autograder", "release"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "nbgrader_config.py" in result.stderr and "course root" in result.stderr
    assert "Traceback" not in result.stderr


def test_readme_grading_section_is_generated_from_the_spec():
    source = nbformat.read(SOURCE, as_version=4)
    readme = (ROOT / "README.md").read_text()
    assert spec_text.readme_section(visible_tests(source)) in readme, \
        "README.md's grading section is stale: run `make release`"
    rows = re.findall(r"^\| `(test_\w+)` \| (\d+) \|", readme, flags=re.MULTILINE)
    assert [(g, int(p)) for g, p in rows] == [(c.grade_id, c.points) for c in spec.TEST_CELLS]
    assert f"{spec.TOTAL_POINTS} points in" in readme


def test_notebook_prose_shows_the_spec():
    """The numbers students read are rendered from the spec; no placeholder survives."""
    for path in (SOURCE, RELEASE):
        text = path.read_text()
        assert "<<spec:" not in text, path
        intro = nbformat.read(path, as_version=4).cells[0].source
        assert f"{spec.TOTAL_POINTS} in all" in intro
        assert spec_text.networks_list() in intro and spec_text.points_table() in intro
        for cell in spec.TEST_CELLS:
            assert f"| `{cell.grade_id}` | {cell.points} |" in intro


def test_unknown_placeholder_names_the_file_and_line(tmp_path):
    template = tmp_path / "hw.py"
    template.write_text("# %% [markdown]\n# Title\n#\n# Worth <<spec: total_pionts>> points.\n")
    try:
        build_notebook.build(template)
    except spec_text.PlaceholderError as error:
        assert f"{template}, line 4" in str(error) and "total_points" in str(error)
    else:
        raise AssertionError("an unknown placeholder was accepted")
    template.write_text("# %% [markdown]\n# <<spec: total_points>> points, tolerance <<spec: GRADCHECK_TOL>>\n")
    assert build_notebook.build(template).cells[0].source == f"{spec.TOTAL_POINTS} points, tolerance " \
        f"{spec.GRADCHECK_TOL!r}"


def test_bad_example_names_its_file(tmp_path):
    from autograder.course.submissions import read_example

    bad = tmp_path / "someone.py"
    bad.write_text("# wrong: loss\n")
    try:
        read_example(bad)
    except ValueError as error:
        assert str(bad) in str(error) and "# base:" in str(error)
    else:
        raise AssertionError("a missing base header was accepted")


# Calls that run student code: the five functions and the given helpers that chain them.
STUDENT_CALLS = set(spec.FUNCTIONS) | {"gradient_check", "backprop_gradients", "finite_difference_gradients",
                                       "train", "compute_loss"}


def _called(call: ast.Call) -> str | None:
    """The name a call calls: `f(...)`, or a given helper's `given.f(...)`."""
    func = call.func
    if isinstance(func, ast.Attribute) and getattr(func.value, "id", None) == "given":
        return func.attr
    return getattr(func, "id", None)


def _guarded_calls(tree: ast.AST) -> tuple[list[float], list[str]]:
    """The seconds of every `with student_code(..., seconds=N)` block, and the student calls outside one."""
    budgets, unguarded = [], []

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and _called(call) == "student_code":
                    budgets.append(next(k.value.value for k in call.keywords if k.arg == "seconds"))
                    guarded = True
        if isinstance(node, ast.Call) and _called(node) in STUDENT_CALLS and not guarded:
            unguarded.append(_called(node))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return budgets, unguarded


def test_every_cell_stops_student_code_well_inside_nbgrader_timeout():
    """nbgrader interrupts a cell after Execute.timeout (10 s) and may then fail the whole notebook:
    each cell runs student code only inside one student_code block of at most 5 s, and a test cell
    with hidden checks (which may spend spec.CHECK_SECONDS more) at most 3 s."""
    timeout = 10
    assert f"c.Execute.timeout = {timeout}" in (ROOT / "nbgrader_config.py").read_text()
    nb = nbformat.read(SOURCE, as_version=4)
    checked = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("solution") or (meta.get("locked") and not meta.get("grade")):
            continue
        code = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source, flags=re.DOTALL)
        assert "time_limit(" not in code, cell.get("id")
        budgets, unguarded = _guarded_calls(ast.parse(code))
        label = meta.get("grade_id") or cell.get("id")
        if "self_check(" in code:
            assert inspect.signature(helpers.self_check).parameters["seconds"].default <= 5
            continue
        assert unguarded == [], f"{label} calls {unguarded} outside `with student_code(...)`"
        hidden = bool(meta.get("grade")) and scoring.cell(meta["grade_id"]).checks
        assert sum(budgets) <= (3 if hidden else 5), f"{label}: {budgets} s of student code"
        assert sum(budgets) + (spec.CHECK_SECONDS if hidden else 0) <= timeout - 2, label
        checked += bool(budgets)
    assert checked >= 10


def test_given_helpers_evaluate_no_notebook_name_when_defined():
    """A def evaluates its annotations and defaults in the notebook's globals, where a student's
    cells may have replaced `np` or `float` before a given cell runs: the helpers' signatures use
    only constants, plain names and quoted annotations (`rng: "np.random.Generator"`)."""
    nb = nbformat.read(SOURCE, as_version=4)
    given = "\n\n".join(c.source for c in nb.cells if c.cell_type == "code"
                        and c.metadata.get("nbgrader", {}).get("locked") and not c.metadata.nbgrader.get("grade"))
    evaluated = []
    for node in ast.walk(ast.parse(given)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            evaluated += [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs if a.annotation]
            evaluated += [node.returns] if node.returns else []
            evaluated += [d for d in args.defaults + args.kw_defaults if d is not None]
    allowed = (ast.Constant, ast.Name, ast.Tuple, ast.Load, ast.UnaryOp, ast.USub)
    odd = [ast.unparse(e) for e in evaluated if not all(isinstance(n, allowed) for n in ast.walk(e))]
    assert odd == [] and evaluated, f"quote these or make them constants: {odd}"
