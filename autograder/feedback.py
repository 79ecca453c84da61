"""`python -m autograder feedback`: one self-contained HTML page per student.

Built from the kit grader's results (autograded/<student>/<assignment>/results.json) and the
gradebook's scores: per test what it checked, the points, and a diagnosis; the training loss
against the reference's as a PNG inside the page; the gradient check's relative errors per
layer. Hidden test code and hidden inputs never reach the page: checks word their messages
without them and student-made text is scrubbed of numbers (calls.scrub).
"""

import base64
import html
import io
import json
from pathlib import Path

from solutions.helpers import gradient_diagnosis, training_diagnosis

from . import course, spec
from .gradebook import RESULTS, cell_messages

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; line-height: 1.45 }
h1 { font-size: 1.5rem } h2 { font-size: 1.2rem; margin-top: 2rem }
table { border-collapse: collapse; width: 100% } th, td { border: 1px solid #ccc; padding: .35rem .6rem;
vertical-align: top; text-align: left } th { background: #f3f3f3 }
.pass { color: #176317 } .fail { color: #a11 } .score { font-size: 1.3rem; font-weight: 600 }
.reason { background: #fde8e8; border: 1px solid #e5a0a0; padding: .6rem } img { max-width: 100% }
"""
# In a browser, this script reports what is actually rendered (used by the kit's browser test).
PROBE = """
window.addEventListener('load', function () {
  var img = document.getElementById('loss-plot'), rows = document.querySelectorAll('#tests tbody tr');
  var box = function (e) {
    var r = e.getBoundingClientRect(); return Math.round(r.width) + 'x' + Math.round(r.height);
  };
  document.title = 'rendered plot=' + (img && img.complete && img.naturalWidth ? box(img) : 'none') +
    ' tests=' + rows.length + ' table=' + box(document.getElementById('tests'));
});
"""


def _esc(text) -> str:
    return html.escape(str(text))


def loss_plot(losses: list[float], reference: list[float]) -> bytes:
    """The student's training loss against the reference's over the same run, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    ax.plot(range(1, len(reference) + 1), reference, label="reference", color="#888", linewidth=2.5)
    ax.plot(range(1, len(losses) + 1), losses, label="your functions", color="#c33", linestyle="--")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("total loss E")
    ax.set_title("Training on noisy XOR")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _details(results: dict, check_id: str) -> dict:
    for cell in results.get("cells", []):
        for check in cell.get("checks", []):
            if check["id"] == check_id:
                return check.get("details") or {}
    return {}


def render(student: str, results: dict, scores: dict[str, float | None]) -> str:
    """The feedback page of one student (HTML text)."""
    cells = {c["grade_id"]: c for c in results.get("cells", [])}
    total = sum(v or 0.0 for v in scores.values())
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {_esc(student)}</title>",
             f"<style>{STYLE}</style><script>{PROBE}</script></head><body>",
             f"<h1>Back-propagation homework: feedback for {_esc(student)}</h1>",
             f"<p class='score'>Score: {total:g} / {spec.TOTAL_POINTS}</p>"]
    if results.get("reason"):
        parts.append(f"<p class='reason'>Your notebook could not be graded: {_esc(results['reason'])}</p>")
    parts.append("<h2>Tests</h2><table id='tests'><thead><tr><th>test</th><th>what it checks</th>"
                 "<th>points</th><th>diagnosis</th></tr></thead><tbody>")
    for test_cell in spec.TEST_CELLS:
        got = scores.get(test_cell.grade_id)
        messages = cell_messages(cells.get(test_cell.grade_id, {}))
        ok = got is not None and got >= test_cell.points
        diagnosis = ("<span class='pass'>passed</span>" if ok else
                     "<ul>" + "".join(f"<li>{_esc(m)}</li>" for m in messages) + "</ul>"
                     if messages else "<span class='fail'>not passed</span>")
        parts.append(f"<tr><td><code>{test_cell.grade_id}</code></td><td>{_esc(test_cell.about)}</td>"
                     f"<td class='{'pass' if ok else 'fail'}'>{(got or 0):g} / {test_cell.points}</td>"
                     f"<td>{diagnosis}</td></tr>")
    parts.append("</tbody></table>")
    errors = _details(results, "gradient_check").get("relative_errors") or {}
    if errors:
        parts.append("<h2>Gradient check</h2><p>Relative error ‖a − n‖ / (‖a‖ + ‖n‖) between your "
                     "back-propagated gradients and centred finite differences, per layer (below "
                     f"{spec.GRADCHECK_TOL:g} is right).</p><table id='gradients'><thead><tr><th>network</th>"
                     "<th>relative error per layer</th><th>diagnosis</th></tr></thead><tbody>")
        for label, layer_errors in errors.items():
            lines = gradient_diagnosis(layer_errors, spec.GRADCHECK_TOL)
            cells_html = ", ".join(f"<span class='{'pass' if e <= spec.GRADCHECK_TOL else 'fail'}'>{e:.1e}</span>"
                                   for e in map(float, layer_errors))
            parts.append(f"<tr><td>{_esc(label)}</td><td>{cells_html}</td><td>"
                         + "<br>".join(_esc(line) for line in lines[len(layer_errors):] or ["agrees"]) + "</td></tr>")
        parts.append("</tbody></table>")
    training = _details(results, "training")
    if training.get("losses") and training.get("reference"):
        png = base64.b64encode(loss_plot(training["losses"], training["reference"])).decode()
        parts.append(f"<h2>Training</h2><p>{_esc(training_diagnosis(training['losses']))}.</p>"
                     f"<img id='loss-plot' alt='training loss against the reference' "
                     f"src='data:image/png;base64,{png}'>")
    if results.get("cell_errors"):
        parts.append("<h2>Errors while running your notebook</h2><ul>"
                     + "".join(f"<li>{_esc(e)}</li>" for e in results["cell_errors"]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def run(assignment: str, students: list[str] | None) -> int:
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit gives feedback on {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    scores = course.read_scores(root)
    graded = root / "autograded"
    wanted = students or sorted(p.parent.parent.name for p in graded.glob(f"*/{spec.ASSIGNMENT}/{RESULTS}"))
    missing = [s for s in wanted if not (graded / s / spec.ASSIGNMENT / RESULTS).is_file()]
    if missing:
        raise course.CourseError(f"no results from the kit's grader for {', '.join(missing)}: run "
                                 f"`python -m autograder grade {spec.ASSIGNMENT}` first")
    for student in wanted:
        results = json.loads((graded / student / spec.ASSIGNMENT / RESULTS).read_text())
        target = root / "feedback" / student / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(student, results, scores.get(student, {})))
    print(f"Wrote {len(wanted)} feedback page(s) under {root / 'feedback'}/<student>/{spec.ASSIGNMENT}/"
          f"{spec.NOTEBOOK}.html")
    return 0


def page_path(root: Path, student: str) -> Path:
    return root / "feedback" / student / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.html"
