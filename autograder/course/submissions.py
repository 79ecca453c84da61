"""Student submissions as data: answer cells by function, turned into notebooks to grade.

Used for the example class (examples/*.py) and by the tests' mutants and styles.
"""

import copy
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from solutions import backprop

from ..homework import spec

SECTION = re.compile(r"^# %% \[(\w+)\]\s*$", re.MULTILINE)


def reference_answers() -> dict[str, str]:
    """The reference solutions as answer-cell sources, keyed by function."""
    return {name: re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", inspect.getsource(getattr(backprop, name)),
                         flags=re.MULTILINE).rstrip()
            for name in spec.FUNCTIONS}


@dataclass(frozen=True)
class Example:
    """One student of the example class: answers override a base ('reference' or 'release')."""

    student: str
    base: str
    wrong: tuple[str, ...]
    answers: dict[str, str]

    def all_answers(self) -> dict[str, str]:
        return {**(reference_answers() if self.base == "reference" else {}), **self.answers}


def read_example(path: Path) -> Example:
    """Parse examples/<student>.py: `# base:` and `# wrong:` header lines, then sections."""
    text = path.read_text()
    header = dict(re.findall(r"^# (base|wrong):[ \t]*(.*)$", text, flags=re.MULTILINE))
    if header.get("base") not in ("reference", "release"):
        raise ValueError(f"{path}: the header needs '# base: reference' or '# base: release'")
    wrong = tuple(w.strip() for w in header.get("wrong", "").split(",") if w.strip())
    unknown = set(wrong) - set(spec.FUNCTIONS)
    parts = SECTION.split(text)
    answers = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}
    unknown |= set(answers) - set(spec.FUNCTIONS)
    if unknown:
        raise ValueError(f"{path}: unknown function(s) {sorted(unknown)}; use {', '.join(spec.FUNCTIONS)}")
    return Example(path.stem, header["base"], wrong, answers)


def read_examples(folder: Path) -> list[Example]:
    return [read_example(path) for path in sorted(folder.glob("*.py"))]


def fill(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    """A copy of the release notebook with the given answer cells' sources replaced."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


def expected_scores(wrong: tuple[str, ...]) -> dict[str, float]:
    """Per test cell, the score a submission whose wrong functions are `wrong` should get."""
    return {cell.grade_id: 0.0 if set(cell.judges) & set(wrong) else float(cell.points)
            for cell in spec.TEST_CELLS}
