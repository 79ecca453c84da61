"""The hidden checks against known-wrong and known-right answers, in process (no kernel).

Each case builds what a student's notebook kernel would hold: numpy as np, the reference's five
functions, a stale `hs` left by the XOR demo, and then one or more answer cells executed over
them. Every test cell's hidden checks run through the InProcess executor, as in
`nbgrader autograde`; a cell passes iff all its checks pass.
"""

import inspect

import numpy as np
import pytest

from autograder.homework.spec import FUNCTIONS, TEST_CELLS
from autograder.judging.scoring import run_cell_checks
from autograder.running.in_process import InProcess
from solutions import backprop, helpers
from tests.submissions import MUTANTS, STYLES, Mutant, Style

# Cases the checks get wrong, by name, with the reason (see the report): strict xfails, so a
# fix to the checks turns them into failures here and they must be removed.
MISSED_MUTANTS: dict[str, str] = {}
REJECTED_STYLES: dict[str, str] = {}

HIDDEN_CELLS = tuple(cell for cell in TEST_CELLS if cell.checks)


def stale_hs() -> list:
    """The `hs` the notebook's XOR demo leaves behind: forward_prop on input [[1], [1]]."""
    Ws, bs = helpers.xor_network()
    hs, _ = backprop.forward_prop(np.array([[1.0], [1.0]]), backprop.sigmoid, Ws, bs)
    return hs


def run_cell(namespace: dict, name: str, source: str) -> None:
    exec(compile(source, f"<{name}>", "exec"), namespace)


def notebook(answers: dict[str, str] | None = None, *, reference: bool = True) -> dict:
    """A kernel namespace: the reference's functions (if `reference`), then `answers` over them."""
    namespace = {"__name__": "__main__", "np": np, "hs": stale_hs()}
    if reference:
        for function in FUNCTIONS:
            run_cell(namespace, f"reference {function}", inspect.getsource(getattr(backprop, function)))
    for function, source in (answers or {}).items():
        run_cell(namespace, function, source)
    return namespace


def failures(namespace: dict) -> dict[str, list[str]]:
    """grade_id -> messages of its failed checks, for every test cell (empty: the cell passes)."""
    executor = InProcess(namespace)
    return {cell.grade_id: [f"{r.check_id}: {r.message}" for r in run_cell_checks(cell.grade_id, executor)
                            if not r.passed]
            for cell in TEST_CELLS}


def params(cases, known: dict[str, str]) -> list:
    return [pytest.param(case, id=case.name,
                         marks=[pytest.mark.xfail(strict=True, reason=known[case.name])]
                         if case.name in known else [])
            for case in cases]


def test_reference_passes_every_cell():
    failed = {grade_id: messages for grade_id, messages in failures(notebook()).items() if messages}
    assert failed == {}


@pytest.mark.parametrize("mutant", params(MUTANTS, MISSED_MUTANTS))
def test_mutant_fails_only_its_own_cells(mutant: Mutant):
    failed = failures(notebook({mutant.function: mutant.source}))
    own = [cell.grade_id for cell in TEST_CELLS if cell.judges == (mutant.function,)]
    others = [cell.grade_id for cell in TEST_CELLS
              if len(cell.judges) == 1 and cell.judges != (mutant.function,)]
    assert any(failed[grade_id] for grade_id in own), f"no cell of {mutant.function} caught it"
    assert {grade_id: failed[grade_id] for grade_id in others if failed[grade_id]} == {}


@pytest.mark.parametrize("style", params(STYLES, REJECTED_STYLES))
def test_style_passes_every_cell(style: Style):
    failed = failures(notebook(style.answers))
    assert {grade_id: messages for grade_id, messages in failed.items() if messages} == {}


def test_missing_functions_fail_every_cell():
    # The `*_basic` cells are visible asserts in the notebook with no hidden checks to run.
    assert all(cell.grade_id.endswith("_basic") for cell in TEST_CELLS if not cell.checks)
    failed = failures(notebook(reference=False))
    assert [cell.grade_id for cell in HIDDEN_CELLS if not failed[cell.grade_id]] == []
    assert all("not defined" in message for cell in HIDDEN_CELLS for message in failed[cell.grade_id])


# The cases themselves: each cell defines its function with the homework's signature.

def _signature(function: str) -> list[str]:
    return list(inspect.signature(getattr(backprop, function)).parameters)


def test_mutants_are_well_formed():
    names = [mutant.name for mutant in MUTANTS]
    assert len(names) == len(set(names)) and len(MUTANTS) >= 28
    assert len({mutant.source for mutant in MUTANTS}) == len(MUTANTS)
    for function in FUNCTIONS:
        assert sum(mutant.function == function for mutant in MUTANTS) >= 4, function
    for mutant in MUTANTS:
        namespace = {}
        run_cell(namespace, mutant.name, mutant.source)
        assert _signature(mutant.function) == list(inspect.signature(namespace[mutant.function]).parameters)


def test_styles_are_well_formed():
    assert len({style.name for style in STYLES}) == len(STYLES) >= 7
    for style in STYLES:
        assert set(style.answers) == set(FUNCTIONS), style.name
        namespace = {"np": np}
        for function, source in style.answers.items():
            run_cell(namespace, function, source)
            assert _signature(function) == list(inspect.signature(namespace[function]).parameters)
