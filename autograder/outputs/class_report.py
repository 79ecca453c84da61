"""`python -m autograder report`: one self-contained HTML page on the class, for the instructor
(reports/<assignment>.html; never under feedback/, which students receive).

Scores come from the gradebook (per-cell grades, late penalties); the kit's results.json adds
the diagnoses and the gradient check's relative errors, only where it agrees with the gradebook
(a student graded since by stock nbgrader is listed as without the kit's results). Plots are PNG
inside the page.
"""

import base64
import io
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from .. import untrusted
from ..course import course, records
from ..homework import spec
from .score_table import column_points

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; color: #222; line-height: 1.45 }
h1 { font-size: 1.5rem } h2 { font-size: 1.2rem; margin-top: 2rem }
table { border-collapse: collapse; width: 100% } th, td { border: 1px solid #ccc; padding: .35rem .6rem;
vertical-align: top; text-align: left } th { background: #f3f3f3 } td.n { text-align: right }
.who { font-size: .85rem; color: #555 } img { max-width: 100% } .note { color: #555 }
"""
# In a browser, this script reports what is actually rendered (used by the kit's browser test).
PROBE = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.filter.call(document.querySelectorAll('img.plot'),
    function (i) { return i.complete && i.naturalWidth > 200 && i.getBoundingClientRect().height > 100; });
  var rows = document.querySelectorAll('#mistakes tbody tr');
  var sum = 0; rows.forEach(function (r) { sum += parseInt(r.querySelector('td.count').textContent, 10); });
  document.title = 'rendered plots=' + imgs.length + ' mistakes=' + rows.length + ' mistake_students=' + sum +
    ' table=' + Math.round(document.getElementById('mistakes').getBoundingClientRect().height);
});
"""


def _esc(text, limit: int = untrusted.ITEM_CHARS) -> str:
    return untrusted.html(text, limit)


# The page stays readable (and small) for any class: the most common mistakes, and so many names
# a row; the data (gather) keeps them all.
MAX_MISTAKE_ROWS = 200
MAX_NAMES = 100
REASON_CHARS = 500


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _img(png: str, ident: str, alt: str) -> str:
    return f"<img class='plot' id='{ident}' alt='{_esc(alt)}' src='data:image/png;base64,{png}'>"


def distribution_plots(totals: dict[str, float], by_function: dict[str, dict[str, float]]) -> tuple[str, str]:
    """PNGs (base64): the histogram of totals, and one bar chart per function of points scored."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3), dpi=100)
    values = list(totals.values())
    ax.hist(values, bins=range(0, int(spec.TOTAL_POINTS) + 2), color="#4a7bb7", edgecolor="white", align="left")
    ax.set_xlabel(f"total score (of {spec.TOTAL_POINTS}, after late penalties)")
    ax.set_ylabel("students")
    ax.set_title(f"Scores of {len(values)} students")
    overall = _png(fig)
    columns = column_points()
    fig, axes = plt.subplots(1, len(columns), figsize=(2.2 * len(columns), 2.6), dpi=100, sharey=True)
    for ax, name in zip(axes, columns):
        possible = sum(spec.cell_points(g) for g in columns[name])
        counts = defaultdict(int)
        for student_points in by_function.values():
            counts[student_points[name]] += 1
        ax.bar([f"{p:g}" for p in sorted(counts)], [counts[p] for p in sorted(counts)], color="#4a7bb7")
        ax.set_title(f"{name} (of {possible:g})", fontsize=9)
        ax.set_xlabel("points", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("students")
    return overall, _png(fig)


def gradient_plot(errors: dict[str, dict[str, list[float]]]) -> str | None:
    """PNG (base64): every student's relative error per layer of each gradient-check network, log scale.
    errors: student -> network label -> error per layer."""
    import numpy as np

    labels = sorted({label for per in errors.values() for label in per})
    if not labels:
        return None
    plt = _pyplot()
    slots = [(label, layer) for label in labels
             for layer in range(max(len(per.get(label, [])) for per in errors.values()))]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(slots)), 3.4), dpi=100)
    rng = np.random.default_rng(0)  # horizontal jitter only, so overlapping dots stay visible
    for x, (label, layer) in enumerate(slots):
        ys = [per[label][layer] for per in errors.values() if len(per.get(label, [])) > layer]
        ys = [max(float(y), 1e-17) for y in ys if y == y]
        colours = ["#176317" if y <= spec.GRADCHECK_TOL else "#a11" for y in ys]
        ax.scatter(x + rng.uniform(-0.2, 0.2, len(ys)), ys, s=14, c=colours, alpha=0.7)
    ax.axhline(spec.GRADCHECK_TOL, color="#888", linestyle="--", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(slots)), [f"{label}\nlayer {layer}" for label, layer in slots], fontsize=7)
    ax.set_ylabel("relative error")
    ax.set_title(f"Gradient check across the class (dashed: tolerance {spec.GRADCHECK_TOL:g})")
    return _png(fig)


NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")
# A message is grouped by its start: this much of it is read (the kit's own messages are shorter),
# and a diagnosis shows at most DIAGNOSIS_CHARS.
READ_CHARS = 2000
DIAGNOSIS_CHARS = 300
# Each step below reads the text in one pass: none retries a long stretch of it from each of its
# characters, as a backtracking pattern would (a class name of 150,000 "[" once took minutes).
_PARENS = re.compile(r"\([#, ]*\)")
_BRACKET_RUN = re.compile(r"[#,. \n\[\]]+")


def _up_to_close(text: str, openers: tuple[str, ...], keep_inside: bool) -> str:
    """Each opener and what follows it up to the next ")" replaced by nothing (or by what was
    between them), from left to right, as re.sub of the opener, then [^)]* and ")" would, in one pass: when
    no ")" follows an opener, none follows any later one either."""
    out, at = [], 0
    upcoming = {opener: text.find(opener) for opener in openers}
    while True:
        for opener, found in upcoming.items():
            if 0 <= found < at:
                upcoming[opener] = text.find(opener, at)
        found = [(where, opener) for opener, where in upcoming.items() if where >= 0]
        if not found:
            break
        start, opener = min(found)
        close = text.find(")", start + len(opener))
        if close < 0:
            break
        out += [text[at:start], text[start + len(opener):close] if keep_inside else ""]
        at = close + 1
    return "".join(out) + text[at:]


def _shapes(text: str) -> str:
    """Shapes and arrays of numbers (once numbers are #) as "…", but not single indices such as
    dldhs[#]: within each run of the characters they are made of, from its first "[" to its last
    "]" (one scan, where a pattern for it would search backwards from every "[")."""
    text = _PARENS.sub(lambda m: m.group() if m.group() == "(#)" else "…", text)

    def collapse(run: re.Match) -> str:
        part = run.group()
        first, last = part.find("["), part.rfind("]")
        if first < 0 or last < first or part[first:last + 1] == "[#]":
            return part
        return part[:first] + "…" + part[last + 1:]

    return _BRACKET_RUN.sub(collapse, text)


def _without_got(text: str) -> str:
    """text without ", got ..." from its first occurrence in the last line to the line's end."""
    body, end = (text[:-1], "\n") if text.endswith("\n") else (text, "")
    at = body.find(", got ", body.rfind("\n") + 1)
    return text if at < 0 else body[:at] + end


def diagnosis(message: str) -> str:
    """A failed check's or visible test's message reduced to its diagnosis: the stable key by which
    mistakes are grouped (network sizes, activations, numbers and shapes taken out). Linear in the
    message's length, and reads at most READ_CHARS of it."""
    message = untrusted.clean(message[:READ_CHARS])
    if "NotImplementedError" in message:
        return "not written yet (the stub still raises NotImplementedError)"
    if "did not finish" in message:
        return "did not finish in time (an endless loop?)"
    if "is not defined (did its cell run" in message:
        return "not defined: its cell did not run without errors"
    raised = re.match(r"calling your code failed: (\w+):", message)
    advice = message.split("; ", 1)[1] if "; " in message else ""
    if raised:
        what = re.split(r"[(;]", message[raised.end():], maxsplit=1)[0].strip()[:70]
        text = f"raised {raised.group(1)}" + (f" ({what})" if what and not advice else "") + \
            (f": {advice}" if advice else "")
    else:
        text = re.sub(r"^visible test failed: ", "", message)
        text = re.sub(r" for an? [\d-]+ network with \w+|for an? [\d-]+ network with \w+, ", "", text)
        text = _up_to_close(text, ("(relative error", "(a correct gradient gives"), keep_inside=False)
        text = _up_to_close(text, ("array(",), keep_inside=True)
        text = _without_got(text) if "; " not in text else text
    text = NUMBER.sub("#", text)
    text = _shapes(text)
    text = re.sub(r"\s+([;,])", r"\1", re.sub(r"\s+", " ", text)).strip(" ;,")
    return text if len(text) <= DIAGNOSIS_CHARS else text[:DIAGNOSIS_CHARS] + " …"


def _gradient_advice(details: dict) -> list[str]:
    from solutions.helpers import gradient_diagnosis

    lines = []
    for layer_errors in (details.get("relative_errors") or {}).values():
        lines += gradient_diagnosis(layer_errors, spec.GRADCHECK_TOL)[len(layer_errors):]
    return ["gradient check: " + NUMBER.sub("#", line) for line in dict.fromkeys(lines)]


def student_mistakes(results: dict, failed_cells: set[str]) -> dict[tuple[str, str], set[str]]:
    """(function or 'together', diagnosis) -> the test cells where this student shows it; only
    cells the gradebook scores below full marks count."""
    judged = {c.grade_id: (c.judges[0] if len(c.judges) == 1 else "together") for c in spec.TEST_CELLS}
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for cell in results.get("cells", []):
        if cell["grade_id"] not in failed_cells:
            continue
        failed = [c for c in cell.get("checks", []) if not c["passed"]]
        # A failed hidden check diagnoses better than the visible test's assertion; the gradient
        # check's diagnosis is the advice its relative errors give, not the numbers.
        keys = [] if failed or not cell.get("visible_failure") else [diagnosis(cell["visible_failure"])]
        for check in failed:
            if check.get("details", {}).get("relative_errors"):
                keys += _gradient_advice(check["details"])
            elif check.get("message"):
                keys.append(diagnosis(check["message"]))
        for key in dict.fromkeys(keys):
            found[(judged[cell["grade_id"]], key)].add(cell["grade_id"])
    return found


def last_run(root: Path) -> dict | None:
    path = records.run_log(root)
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def gather(root: Path) -> dict:
    """Everything the page shows, as data (also what its test compares with the gradebook)."""
    submissions = course.read_submissions(root)
    submitted = {p.parent.name for p in (root / "submitted").glob(f"*/{spec.ASSIGNMENT}") if p.is_dir()}
    columns = column_points()
    totals, by_function, cells, mistakes = {}, {}, {}, defaultdict(set)
    mistake_cells: dict[tuple[str, str], set[str]] = defaultdict(set)
    not_graded, without_results, errors = {}, {}, {}
    for student in sorted(set(submissions) | submitted):
        sub = submissions.get(student)
        if sub is None:
            not_graded[student] = "submitted but not graded (no grades in the gradebook)"
            continue
        if any(v is None for v in sub.scores.values()):
            not_graded[student] = "needs manual grading: nbgrader could not run the notebook"
        results = records.read_results(root, student)
        results = results if results is None else untrusted.bound_summary(results)  # an older kit's too
        why = "no results from the kit's grader" if results is None else records.disagreement(results, sub.auto_scores)
        if why:
            without_results[student] = why
        elif results.get("reason"):
            not_graded[student] = results["reason"]
        scores = {g: v or 0.0 for g, v in sub.scores.items()}
        totals[student] = sum(scores.values()) - sub.penalty
        by_function[student] = {name: sum(scores[g] for g in ids) for name, ids in columns.items()}
        cells[student] = scores
        if why or results.get("reason"):
            continue
        failed = {c.grade_id for c in spec.TEST_CELLS if scores[c.grade_id] < c.points}
        for key, where in student_mistakes(results, failed).items():
            mistakes[key].add(student)
            mistake_cells[key] |= where
        for cell in results.get("cells", []):
            for check in cell.get("checks", []):
                if check.get("details", {}).get("relative_errors"):
                    errors[student] = check["details"]["relative_errors"]
    ranked = sorted(mistakes.items(), key=lambda item: (-len(item[1]), item[0]))
    return {"totals": totals, "by_function": by_function, "cells": cells, "penalties":
            {s: sub.penalty for s, sub in submissions.items() if sub.penalty},
            "mistakes": [{"function": f, "diagnosis": d, "students": sorted(who),
                          "cells": sorted(mistake_cells[(f, d)])} for (f, d), who in ranked],
            "not_graded": not_graded, "without_results": without_results, "errors": errors,
            "run": last_run(root)}


def render(data: dict) -> str:
    totals = data["totals"]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report: {spec.ASSIGNMENT}</title>",
             f"<style>{STYLE}</style><script>{PROBE}</script></head><body>",
             f"<h1>Back-propagation homework: class report ({_esc(spec.ASSIGNMENT)})</h1>"]
    if totals:
        values = sorted(totals.values())
        mean = sum(values) / len(values)
        parts.append(f"<p>{len(values)} graded students; mean {mean:.1f}, median {values[len(values) // 2]:g}, "
                     f"full marks {sum(v >= spec.TOTAL_POINTS for v in values)}, of {spec.TOTAL_POINTS} points."
                     + (f" Late penalties for {len(data['penalties'])} student(s)." if data["penalties"] else "")
                     + "</p>")
    run = data["run"]
    parts.append("<h2>Grading run</h2>")
    if run:
        where = f"on the Dask cluster at {run['scheduler']}" if run.get("scheduler") else \
            f"with {run.get('workers')} sandboxed worker(s) ({run.get('sandbox')})"
        parts.append("<p id='run'>Last run of <code>python -m autograder grade</code>: "
                     f"started {_esc(run['started'])}, "
                     f"took {run['seconds']:.1f} s {_esc(where)}; graded {run['submissions']} submission(s), "
                     f"skipped {run['skipped']} already graded"
                     + (f" ({run['seconds'] / run['submissions']:.2f} s each)" if run["submissions"] else "")
                     + ".</p>")
    else:
        parts.append("<p id='run' class='note'>No run record: the kit's grader has not run in this course.</p>")
    if totals:
        overall, per_function = distribution_plots(totals, data["by_function"])
        parts.append("<h2>Score distribution</h2>" + _img(overall, "plot-total", "histogram of total scores")
                     + _img(per_function, "plot-functions", "points per function"))
    parts.append("<h2>Test cells</h2><table id='cells'><thead><tr><th>cell</th><th>points</th>"
                 "<th>full marks</th><th>not passed</th></tr></thead><tbody>")
    for cell in spec.TEST_CELLS:
        full = sum(scores[cell.grade_id] >= cell.points for scores in data["cells"].values())
        parts.append(f"<tr><td><code>{cell.grade_id}</code></td><td class='n'>{cell.points}</td>"
                     f"<td class='n full'>{full}</td><td class='n failed'>{len(data['cells']) - full}</td></tr>")
    parts.append("</tbody></table>")
    parts.append("<h2>Most common mistakes</h2><p class='note'>Grouped by the diagnosis of each failed check "
                 "or visible test (numbers, shapes and networks taken out), counted once per student; only "
                 "cells the gradebook scores below full marks count.</p><table id='mistakes'><thead><tr><th>#</th>"
                 "<th>function</th><th>diagnosis</th><th>students</th><th>who (cells)</th></tr></thead><tbody>")
    for rank, mistake in enumerate(data["mistakes"][:MAX_MISTAKE_ROWS], 1):
        names = mistake["students"]
        who = ", ".join(names[:MAX_NAMES]) + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")
        parts.append(f"<tr><td class='n'>{rank}</td><td><code>{_esc(mistake['function'])}</code></td>"
                     f"<td>{_esc(mistake['diagnosis'])}</td><td class='n count'>{len(mistake['students'])}</td>"
                     f"<td class='who'>{_esc(who, len(who))}<br>({_esc(', '.join(mistake['cells']))})</td></tr>")
    parts.append("</tbody></table>")
    if len(data["mistakes"]) > MAX_MISTAKE_ROWS:
        parts.append(f"<p class='note'>{len(data['mistakes']) - MAX_MISTAKE_ROWS} less common diagnoses "
                     "are not listed.</p>")
    parts.append("<h2>Not graded</h2>")
    if data["not_graded"] or data["without_results"]:
        parts.append("<table id='ungraded'><thead><tr><th>student</th><th>why</th></tr></thead><tbody>")
        for student, why in sorted({**data["without_results"], **data["not_graded"]}.items()):
            parts.append(f"<tr><td>{_esc(student)}</td><td>{_esc(why, REASON_CHARS)}</td></tr>")
        parts.append("</tbody></table>")
    else:
        parts.append("<p>Every submission was graded.</p>")
    png = gradient_plot(data["errors"])
    if png:
        parts.append("<h2>Gradient check: relative errors per layer</h2><p class='note'>One dot per student and "
                     "layer; green below the tolerance.</p>" + _img(png, "plot-gradients", "relative errors per layer"))
    parts.append("</body></html>")
    return "\n".join(parts)


def report_path(root: Path) -> Path:
    return root / "reports" / f"{spec.ASSIGNMENT}.html"


def run(assignment: str) -> int:
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit reports on {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    data = gather(root)
    target = report_path(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(data))
    print(f"Wrote the class report: {target}")
    if data["without_results"]:
        print(f"{len(data['without_results'])} student(s) without the kit's results (not in the mistakes): "
              + ", ".join(f"{s} ({why})" for s, why in sorted(data["without_results"].items())[:10]), file=sys.stderr)
    if not data["totals"]:
        print("nobody has grades yet: run `python -m autograder grade "
              f"{spec.ASSIGNMENT}` first", file=sys.stderr)
        return 1
    return 0
