"""What a student's page shows, as the instructor chose (c.KitWatch.before_due), and the page of
a submission the rate limit holds back.

- full: the kit's feedback page (outputs/feedback.render), every diagnosis.
- summary: per function, whether its visible tests and its hidden checks pass, and the score;
  no hidden check's diagnosis.
- visible: per test, whether its visible (published) test passes and why not; nothing about
  the hidden checks, no score.

After the due date every page is full. Each page says which it is and when the rest is shown.
Every text a submission made is escaped by autograder.untrusted.
"""

import datetime

from .. import untrusted
from ..course import records
from ..homework import spec
from ..outputs import feedback

SAYS = {"visible": "the results of the visible tests only (the tests in your notebook)",
        "summary": "per function whether its visible tests and its hidden checks pass, and your score, "
                   "without the hidden checks' diagnoses",
        "full": "everything: every test's and hidden check's diagnosis"}
HEAD = ("<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='generator' content='{generator}'>"
        "<title>Feedback: {student}</title><style>{style}</style></head><body>")


def _utc(when: datetime.datetime | float | None) -> str:
    if when is None:
        return "not set yet"
    if isinstance(when, float):
        when = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    if when.tzinfo is None:  # nbgrader keeps naive UTC datetimes
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def banner(level: str, duedate, stamp: str) -> str:
    """The paragraph on top of every page: which submission, what the page shows, when the rest comes."""
    text = f"This page is about your submission of {untrusted.html(stamp)}. It shows {SAYS[level]}."
    if level != "full":
        text += f" The full feedback is shown after the due date ({_utc(duedate)}): fetch feedback again then."
    return f"<p class='reason' id='policy' data-level='{level}'>{text}</p>"


def level_now(before_due: str, duedate, now: datetime.datetime) -> str:
    """The level a page written now shows."""
    if duedate is not None:
        due = duedate if duedate.tzinfo else duedate.replace(tzinfo=datetime.timezone.utc)
        if now >= due:
            return "full"
    return before_due


def render(level: str, student: str, results: dict, submission, stamp: str) -> str:
    """The page of a graded submission at a level. submission: course.Submission (scores, penalty, times)."""
    top = banner(level, submission.duedate, stamp)
    if level == "full":
        page = feedback.render(student, results, submission.scores, submission)
        return page.replace("</head><body>", "</head><body>" + top, 1)
    results = untrusted.bound_summary(results)
    cells = {c["grade_id"]: c for c in results.get("cells", [])}
    parts = [HEAD.format(generator=records.KIT_PAGE, student=untrusted.html(student), style=feedback.STYLE), top,
             f"<h1>Back-propagation homework: feedback for {untrusted.html(student)}</h1>"]
    if level == "summary":
        total = sum(v or 0.0 for v in submission.scores.values()) - (submission.penalty or 0.0)
        parts.append(f"<p class='score'>Score: {total:g} / {spec.TOTAL_POINTS}</p>")
    if results.get("reason"):
        parts.append(f"<p class='reason'>Your notebook could not be graded: {untrusted.html(results['reason'])}</p>")
    head = "<th>visible tests</th>" + ("<th>hidden checks</th>" if level == "summary" else "")
    parts.append(f"<table id='tests'><thead><tr><th>test</th><th>what it checks</th>{head}</tr></thead><tbody>")
    for test_cell in spec.TEST_CELLS:
        cell = cells.get(test_cell.grade_id, {})
        failure = cell.get("visible_failure")
        visible = ("<span class='pass'>pass</span>" if cell and not failure else
                   f"<span class='fail'>fail</span>: {untrusted.html(failure)}" if failure else "not run")
        row = (f"<tr><td><code>{test_cell.grade_id}</code></td><td>{untrusted.html(test_cell.about)}</td>"
               f"<td>{visible}</td>")
        if level == "summary":
            checks = cell.get("checks", [])
            hidden = ("none in this test" if not test_cell.checks else
                      "<span class='pass'>pass</span>" if checks and all(c["passed"] for c in checks) else
                      "<span class='fail'>fail</span>")
            row += f"<td>{hidden}</td>"
        parts.append(row + "</tr>")
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts)


def held_back(student: str, stamp: str, graded: int, limit: int, period: str, until: float) -> str:
    """The page of a submission recorded but graded later, past the rate limit."""
    return "\n".join([
        HEAD.format(generator=records.KIT_PAGE, student=untrusted.html(student), style=feedback.STYLE),
        f"<h1>Back-propagation homework: feedback for {untrusted.html(student)}</h1>",
        f"<p class='reason' id='later' data-until='{until:.0f}'>Your submission of {untrusted.html(stamp)} is "
        f"recorded. {graded} of your submissions were graded in the last {period} (the course's limit is "
        f"{limit} per {period}), so this one is graded at {_utc(until)}; fetch feedback again after that "
        "for its results. A newer submission before then takes its place.</p></body></html>"])
