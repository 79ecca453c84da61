"""Which code of a submitted notebook the grader runs, in what order.

Like nbgrader: read-only cells are taken from the source notebook (a student cannot change
the given helpers), answer cells and any cell the student added are taken as submitted, test
cells are not run in the student's process at all (the grader runs them), and the source's own
demonstration cells are skipped (they only print and plot).
"""

import nbformat


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def given_cells(source: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> code of the source's read-only cells, in order: what every submission runs as
    it is (public: the students' notebooks hold the same text)."""
    return {_nbgrader(c)["grade_id"]: c.source for c in source.cells
            if c.cell_type == "code" and _nbgrader(c).get("locked") and not _nbgrader(c).get("grade")}


def cells_to_run(submitted: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """(label, code) pairs to execute in order in the student's sandbox."""
    given = given_cells(source)
    demos = [c for c in source.cells if c.cell_type == "code" and not _nbgrader(c)]
    demo_ids = {c.get("id") for c in demos}
    demo_sources = {c.source.strip() for c in demos}
    seen, cells = set(), []
    for position, c in enumerate(submitted.cells):
        if c.get("cell_type") != "code":
            continue
        meta = _nbgrader(c)
        grade_id = meta.get("grade_id")
        if meta.get("grade"):
            continue
        if meta.get("solution"):
            cells.append((grade_id or f"cell {position}", c.source))
        elif grade_id in given:
            seen.add(grade_id)
            cells.append((grade_id, given[grade_id]))
        elif c.get("id") in demo_ids or c.source.strip() in demo_sources or meta.get("locked"):
            continue
        else:
            cells.append((f"cell {position}", c.source))
    # A deleted read-only cell (the imports, the helpers) is put back first.
    missing = [(g, code) for g, code in given.items() if g not in seen]
    return missing + cells
