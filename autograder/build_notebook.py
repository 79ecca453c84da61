"""Build source/backprop/backprop.ipynb from its percent-format text and the reference solutions.

The notebook's reviewable source is `source/backprop/backprop.py`, a list of cells, each opened by
a marker line:

    # %% [markdown]            prose; every line starts with '# '
    # %% [code]                code students may edit and run (demos)
    # %% [given] <grade_id>    read-only code; a line `# <<helper: NAME>>` becomes the source
                               of solutions.helpers.NAME
    # %% [answer] <function>   an autograded answer cell holding solutions.backprop.<function>,
                               whose ### BEGIN/END SOLUTION region nbgrader turns into a stub
    # %% [test] <grade_id>     an autograded test cell: the visible tests written here, then
                               (when the cell has hidden checks in autograder/spec.py) a hidden
                               block that calls into autograder.cell; points come from spec

So answers, points and hidden checks each live in one place, and the .ipynb is generated.
"""

import inspect
import re
from pathlib import Path

import nbformat

from solutions import backprop, helpers

from . import grading

MARKER = re.compile(r"^# %% \[(markdown|code|given|answer|test)\](?: (\S+))?\s*$")
HELPER = re.compile(r"^# <<helper: (\w+)>>\s*$", re.MULTILINE)


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
            "from autograder.cell import run_hidden_tests\n"
            f'run_hidden_tests("{grade_id}", globals())\n'
            "### END HIDDEN TESTS")


def _split(text: str) -> list[tuple[str, str | None, str]]:
    cells: list[tuple[str, str | None, list[str]]] = []
    for line in text.splitlines():
        match = MARKER.match(line)
        if match:
            cells.append((match.group(1), match.group(2), []))
        elif cells:
            cells[-1][2].append(line)
    return [(kind, arg, "\n".join(body).strip("\n")) for kind, arg, body in cells]


def _cell(kind: str, arg: str | None, body: str, position: int):
    if kind == "markdown":
        text = "\n".join(re.sub(r"^# ?", "", line) for line in body.splitlines())
        return nbformat.v4.new_markdown_cell(text, id=f"md-{position}")
    if kind == "code":
        return nbformat.v4.new_code_cell(body, id=f"code-{position}")
    if kind == "given":
        source = HELPER.sub(lambda m: inspect.getsource(getattr(helpers, m.group(1))).rstrip(), body)
        return nbformat.v4.new_code_cell(source, id=arg, metadata=_nbgrader(arg, locked=True))
    if kind == "answer":
        source = inspect.getsource(getattr(backprop, arg)).rstrip()
        return nbformat.v4.new_code_cell(source, id=arg, metadata=_nbgrader(arg, solution=True))
    test_cell = grading.cell(arg)
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
    nb.cells = [_cell(kind, arg, body, i) for i, (kind, arg, body) in enumerate(_split(template.read_text()))]
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
