"""Build source/backprop/backprop.ipynb from its percent-format text and the reference solutions.

The notebook's reviewable source is `source/backprop/backprop.py`, a list of cells, each opened by
a marker line:

    # %% [markdown]            prose; every line starts with '# '
    # %% [code]                code students may edit and run (demos)
    # %% [given] <grade_id>    read-only code; a line `# <<helper: NAME>>` becomes the source
                               of solutions.helpers.NAME, decorated `@given.own` (except own
                               itself) so that it keeps its names in the module backprop_given
    # %% [answer] <function>   an autograded answer cell holding solutions.backprop.<function>,
                               whose ### BEGIN/END SOLUTION region nbgrader turns into a stub
    # %% [test] <grade_id>     an autograded test cell: the visible tests written here, then
                               (when the cell has hidden checks in autograder/homework/spec.py) a hidden
                               block that calls into autograder.judging.hidden_tests; points come from spec

In any cell, `<<spec: NAME>>` is replaced by a number, phrase or table of autograder/homework/spec.py
(autograder.homework.spec_text lists them), so prose never types a number the grading depends on.
So answers, points, hidden checks and the numbers students read each live in one place, and
the .ipynb is generated.
"""

import inspect
import re
from pathlib import Path

import nbformat

from solutions import backprop, helpers

from ..homework import spec_text
from ..judging import scoring

MARKER = re.compile(r"^# %% \[(markdown|code|given|answer|test)\](?: (\S+))?\s*$")
HELPER = re.compile(r"^# <<helper: (\w+)>>[ \t]*$", re.MULTILINE)  # keeps the blank lines around it


def _nbgrader(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
              points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def hidden_block(grade_id: str) -> str:
    """The thin hidden-test block of a test cell: one call into the kit."""
    return ("### BEGIN HIDDEN TESTS\n"
            "from autograder.judging.hidden_tests import run_hidden_tests\n"
            f'run_hidden_tests("{grade_id}", globals())\n'
            "### END HIDDEN TESTS")


def _split(text: str, where: str = "the template") -> list[tuple[str, str | None, str]]:
    """(kind, argument, body) per cell, with the body's <<spec: NAME>> placeholders rendered."""
    cells: list[tuple[str, str | None, list[str], int]] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = MARKER.match(line)
        if match:
            cells.append((match.group(1), match.group(2), [], number))
        elif cells:
            cells[-1][2].append(line)
    return [(kind, arg, spec_text.render("\n".join(body), where, first_line=line + 1).strip("\n"))
            for kind, arg, body, line in cells]


def _helper_source(name: str) -> str:
    """A given helper's source as the notebook shows it: put into the module backprop_given, where
    the names it uses cannot be replaced by a student's cells (see solutions.helpers.own)."""
    source = inspect.getsource(getattr(helpers, name)).rstrip()
    return source if name == helpers.own.__name__ else f"@given.own\n{source}"


def _cell(kind: str, arg: str | None, body: str, position: int):
    if kind == "markdown":
        text = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
        return nbformat.v4.new_markdown_cell(text, id=f"md-{position}")
    if kind == "code":
        return nbformat.v4.new_code_cell(body, id=f"code-{position}")
    if kind == "given":
        source = HELPER.sub(lambda m: _helper_source(m.group(1)), body)
        return nbformat.v4.new_code_cell(source, id=arg, metadata=_nbgrader(arg, locked=True))
    if kind == "answer":
        source = inspect.getsource(getattr(backprop, arg)).rstrip()
        return nbformat.v4.new_code_cell(source, id=arg, metadata=_nbgrader(arg, solution=True))
    test_cell = scoring.cell(arg)
    parts = [body] if body else []
    if test_cell.checks:
        parts.append(hidden_block(arg))
    return nbformat.v4.new_code_cell("\n\n".join(parts), id=arg, metadata=_nbgrader(
        arg, grade=True, locked=True, points=test_cell.points))


def build(template: Path) -> nbformat.NotebookNode:
    """The source notebook for `template` (the percent-format text described above)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    cells = _split(template.read_text(), str(template))
    nb.cells = [_cell(kind, arg, body, i) for i, (kind, arg, body) in enumerate(cells)]
    nbformat.validate(nb)
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def write(template: Path, target: Path) -> bool:
    """Write the notebook built from template to target; returns whether the file changed."""
    text = render(build(template))
    if target.exists() and target.read_text() == text:
        return False
    target.write_text(text)
    return True
