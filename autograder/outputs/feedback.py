"""`python -m autograder feedback`: one self-contained HTML page per student.

Built from the kit grader's results (autograded/<student>/<assignment>/results.json) and the
gradebook's scores: per test what it checked, the points, and a diagnosis; the training loss
against the reference's as a PNG inside the page; the gradient check's relative errors per
layer. Hidden test code and hidden inputs never reach the page: checks word their messages
without them and student-made text is scrubbed of numbers (calls.scrub). Every text on the page
is bounded and escaped by autograder.untrusted, so a page stays small and holds no markup a
submission wrote, whatever it raised or printed.
"""

import base64
import datetime
import io
import os
import secrets
import sys
from pathlib import Path

from solutions.helpers import gradient_diagnosis, training_diagnosis

from .. import untrusted
from ..course import course, records
from ..course.gradebook import cell_messages
from ..homework import spec
from .score_table import column_points

GENERATOR = records.KIT_PAGE

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
    ' tests=' + rows.length + ' table=' + box(document.getElementById('tests')) +
    ' summary=' + document.querySelectorAll('#summary tbody tr').length;
});
"""


def _esc(text) -> str:
    return untrusted.html(text)


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


def _not_written(functions: list[str]) -> str:
    names = (", ".join(functions[:-1]) + " and " + functions[-1] if len(functions) > 1 else
             functions[0] if functions else "a function it calls")
    verb = "are" if len(functions) > 1 else "is"
    return f"{names} {verb} not written yet (the stub still raises NotImplementedError)"


def stubs(results: dict) -> list[str]:
    """The functions whose own test cells found the NotImplementedError stub."""
    found = []
    for test_cell in spec.TEST_CELLS:
        if len(test_cell.judges) == 1 and any("NotImplementedError" in m for m in
                                              cell_messages(_cell(results, test_cell.grade_id))):
            found.append(test_cell.judges[0])
    return list(dict.fromkeys(found))


def _cell(results: dict, grade_id: str) -> dict:
    return next((c for c in results.get("cells", []) if c["grade_id"] == grade_id), {})


def readable(messages: list[str], judges: tuple[str, ...], unwritten: list[str]) -> list[str]:
    """A cell's diagnoses as a student should read them: an untouched stub is named as such."""
    out = []
    for message in messages:
        if "NotImplementedError" in message:
            named = [f for f in unwritten if f in judges] if len(judges) == 1 else unwritten
            message = _not_written(named or (list(judges) if len(judges) == 1 else []))
        out.append(message)
    return list(dict.fromkeys(out))


def _duration(seconds: float) -> str:
    days, rest = divmod(int(round(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day(s)"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or f"{int(seconds)} s"


def summary_rows(scores: dict[str, float | None]) -> list[tuple[str, float, float]]:
    """(function or 'together', points, possible) in the score table's order."""
    return [(name, sum(scores.get(g) or 0.0 for g in ids), sum(spec.cell_points(g) for g in ids))
            for name, ids in column_points().items()]


def render(student: str, results: dict, scores: dict[str, float | None], late=None) -> str:
    """The feedback page of one student (HTML text). late: course.Submission for the late notice."""
    results = untrusted.bound_summary(results)  # also what an older kit wrote unbounded
    total = sum(v or 0.0 for v in scores.values())
    penalty = late.penalty if late else 0.0
    score_line = f"Score: {total - penalty:g} / {spec.TOTAL_POINTS}"
    if penalty:
        score_line += f" ({total:g} before the late penalty of {penalty:g})"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='generator' content='{GENERATOR}'>"
             f"<title>Feedback: {_esc(student)}</title>",
             f"<style>{STYLE}</style><script>{PROBE}</script></head><body>",
             f"<h1>Back-propagation homework: feedback for {_esc(student)}</h1>",
             f"<p class='score'>{score_line}</p>"]
    if late and late.seconds_late > 0:
        cost = (f"the late penalty is {penalty:g} point(s)" if penalty else
                "the course's late policy takes no points for it")
        parts.append(f"<p class='reason' id='late'>Submitted late: at {_esc(late.timestamp)}, "
                     f"{_duration(late.seconds_late)} after the due date ({_esc(late.duedate)}); {cost}.</p>")
    if results.get("reason"):
        parts.append(f"<p class='reason'>Your notebook could not be graded: {_esc(results['reason'])}</p>")
    parts.append("<h2>Summary</h2><table id='summary'><thead><tr><th>function</th><th>points</th></tr></thead><tbody>")
    for name, got, possible in summary_rows(scores):
        label = "all five together (gradient check, training)" if name == "together" else f"<code>{name}</code>"
        parts.append(f"<tr><td>{label}</td><td class='{'pass' if got >= possible else 'fail'}'>"
                     f"{got:g} / {possible:g}</td></tr>")
    parts.append("</tbody></table>")
    unwritten = stubs(results)
    parts.append("<h2>Tests</h2><table id='tests'><thead><tr><th>test</th><th>what it checks</th>"
                 "<th>points</th><th>diagnosis</th></tr></thead><tbody>")
    for test_cell in spec.TEST_CELLS:
        got = scores.get(test_cell.grade_id)
        messages = readable(cell_messages(_cell(results, test_cell.grade_id)), test_cell.judges, unwritten)
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
                     "back-propagated gradients and the exact gradient of the same loss, per layer (below "
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


def page_path(root: Path, student: str) -> Path:
    return root / "feedback" / student / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.html"


def is_kit_page(path: Path) -> bool:
    return path.is_file() and f"content='{GENERATOR}'" in path.read_text(errors="replace")[:1000]


def why_no_page(root: Path, student: str, submission, results: dict | None) -> str | None:
    """Why this student cannot have a page that agrees with the gradebook, or None."""
    if submission is None:
        return "no submission in the gradebook"
    if results is None:
        what = ("an interrupted run or stock `nbgrader autograde` left no results.json"
                if records.graded_folder(root, student).exists() else "not graded by the kit")
        return f"no results from the kit's grader ({what}): run `python -m autograder grade {spec.ASSIGNMENT}`"
    return records.disagreement(results, submission.auto_scores)


def write_page(root: Path, student: str, html_text: str, submission) -> bool:
    """feedback/<student>/<assignment>/: the page and nbgrader's exchange files beside it, each
    replaced whole. Returns whether the submission came without a secret (not through the exchange)."""
    target = page_path(root, student)
    target.parent.mkdir(parents=True, exist_ok=True)
    graded = records.graded_folder(root, student)
    for name in records.EXCHANGE_FILES:
        if (graded / name).is_file():
            _replace(target.parent / name, (graded / name).read_text())
    no_secret = not (graded / records.SECRET).is_file()
    if no_secret:
        # release_feedback stops at the first page without both files, so every page gets them:
        # a page published under a fresh secret is reachable by no student (the instructor hands
        # it over); without one, release_feedback would fail for the whole class.
        _replace(target.parent / records.SECRET, secrets.token_hex(64))
    if not (graded / records.TIMESTAMP).is_file():
        when = submission.timestamp or datetime.datetime.now(datetime.timezone.utc)
        _replace(target.parent / records.TIMESTAMP, when.strftime("%Y-%m-%d %H:%M:%S.%f %Z").strip())
    _replace(target, html_text)
    return no_secret


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _candidates(root: Path, submissions: dict) -> list[str]:
    """Everyone the command is about without --student: every submission, graded folder and page."""
    found = set(submissions)
    for pattern in ("submitted", "autograded", "feedback"):
        found |= {p.parent.name for p in (root / pattern).glob(f"*/{spec.ASSIGNMENT}") if p.is_dir()}
    return sorted(found)


def run(assignment: str, students: list[str] | None) -> int:
    """Write a page per student; name each student without one, and why; remove the kit's old
    page of such a student so release_feedback cannot publish what the gradebook contradicts.
    Exit 1 when no page was written of those asked for."""
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit gives feedback on {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    submissions = course.read_submissions(root)
    wanted = students or _candidates(root, submissions)
    written, no_secret, refused = [], [], {}
    for student in wanted:
        results = records.read_results(root, student)
        why = why_no_page(root, student, submissions.get(student), results)
        if why:
            refused[student] = why
            if is_kit_page(page_path(root, student)):
                page_path(root, student).unlink()
                refused[student] += "; its old page was removed"
            continue
        sub = submissions[student]
        if write_page(root, student, render(student, results, sub.scores, sub), sub):
            no_secret.append(student)
        written.append(student)
    print(f"Wrote {len(written)} feedback page(s) under {root / 'feedback'}/<student>/{spec.ASSIGNMENT}/"
          f"{spec.NOTEBOOK}.html")
    if no_secret:
        print(f"{len(no_secret)} submission(s) did not come through nbgrader's exchange (no submission_secret.txt): "
              f"`nbgrader fetch_feedback` cannot find their pages, hand them over yourself: {', '.join(no_secret[:10])}"
              + (f" and {len(no_secret) - 10} more" if len(no_secret) > 10 else ""))
    for student, why in refused.items():
        print(f"no page for {student}: {why}", file=sys.stderr)
    if not wanted:
        print(f"no student to write feedback for: nobody has submitted {spec.ASSIGNMENT}", file=sys.stderr)
    return 0 if written else 1
