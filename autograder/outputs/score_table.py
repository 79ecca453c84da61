"""Tables for the terminal: points per student and function."""

from .. import untrusted
from ..homework import spec


def column_points() -> dict[str, list[str]]:
    """The score table's columns: one per function, then the cells that judge them together."""
    columns: dict[str, list[str]] = {name: [] for name in spec.FUNCTIONS}
    columns["together"] = []
    for cell in spec.TEST_CELLS:
        columns[cell.judges[0] if len(cell.judges) == 1 else "together"].append(cell.grade_id)
    return columns


def score_table(scores: dict[str, dict[str, float | None]], students: list[str]) -> str:
    """A student x function table of points (cells that could not be auto-graded count 0, marked *)."""
    columns = column_points()
    maxima = {name: sum(spec.cell_points(g) for g in ids) for name, ids in columns.items()}
    head = ["student"] + [f"{name} /{maxima[name]:g}" for name in columns] + [f"total /{spec.TOTAL_POINTS}"]
    rows = [head]
    for student in students:
        cells = scores.get(student, {})
        # A folder's name, printed to a terminal: no escape sequences, nothing it cannot encode.
        row, total, flagged = [untrusted.text(student, 100)], 0.0, False
        for ids in columns.values():
            got = [cells.get(g) for g in ids]
            flagged |= any(v is None for v in got)
            points = sum(v or 0.0 for v in got)
            total += points
            row.append(f"{points:g}")
        rows.append(row + [f"{total:g}" + ("*" if flagged else "")])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
