"""Student-made text, made safe: the one place that turns what a submission wrote into text the
grader may store and show.

Anything a submission produces (exception class names and messages, reprs, type names of what
it returned, file names, prints) is untrusted. Before it is recorded it becomes valid text
(lone surrogates, NUL and the other control characters but newline and tab replaced; invalid
UTF-8 bytes decoded with replacement), bounded per item (ITEM_CHARS, with a visible marker of
how much was cut) and per submission (Budget), so that no page or result of one student grows
past a few hundred KiB whatever the submission prints or raises. Writers then escape it for
where it goes: `html` for pages, `code_span`/`code_block` for Markdown (Gradescope), and
`json_bytes` for JSON as UTF-8 (valid text needs no more).

All of it is idempotent: text that already went through `text` comes out unchanged, so a writer
may bound again what it reads back (results written by an older kit) at no risk.
"""

import html as _html
import json
import re
from dataclasses import replace

# One message, name or reason: a few KiB.
ITEM_CHARS = 2000
# Everything one submission's records say, in characters (a results.json with ASCII escapes
# stays under 12 bytes a character, so about 400 KiB at most; a page about 200 KiB).
SUBMISSION_CHARS = 32_000
# Errors listed per submission (one per notebook cell that raised); the rest are counted.
MAX_LIST_ITEMS = 20
REPLACEMENT = "\ufffd"
# C0 and C1 controls but tab and newline, lone surrogates, the bidirectional overrides and
# isolates (which reorder what is shown) and the byte-order mark.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufeff]")
# Room kept for the marker that says how much was cut (" … (N characters cut)", N < 10**20 with its commas).
_MARKER_ROOM = 48
_BACKTICKS = re.compile(r"`+")


def _as_text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def clean(value) -> str:
    """value as valid text, unbounded: bytes decoded as UTF-8 (invalid bytes replaced), unsafe
    characters replaced by U+FFFD, Windows line ends as newlines. For the grader's own plain
    data only: never a student's object (str() of it would run its code)."""
    value = _as_text(value)
    if "\r" in value:
        value = value.replace("\r\n", "\n")
    return _UNSAFE.sub(REPLACEMENT, value)


def text(value, limit: int = ITEM_CHARS) -> str:
    """One item of student-made text: clean, and at most max(limit, 48) characters (its start,
    then " … (N characters cut)"). Cut before it is cleaned, so a huge string costs no more
    than its first `limit` characters."""
    value = _as_text(value)
    if len(value) <= limit:
        return clean(value)
    keep = max(0, limit - _MARKER_ROOM)
    return f"{clean(value[:keep])} … ({len(value) - keep:,} characters cut)"


class Budget:
    """What one submission may still write, in characters, shared by all its items.

    Items are taken in order of importance (the reason it could not be graded, then each test
    cell's diagnoses, then the errors of its notebook's cells); once the budget is spent, each
    further item is a short note saying so.
    """

    SPENT = "… (not shown: this submission's messages are over the grader's length limit)"

    def __init__(self, chars: int = SUBMISSION_CHARS):
        self.left = chars

    def take(self, value, limit: int = ITEM_CHARS) -> str:
        value = _as_text(value)
        allowed = min(limit, self.left)
        if allowed < 2 * _MARKER_ROOM and len(value) > allowed:
            return self.SPENT
        item = text(value, allowed)
        self.left -= len(item)
        return item

    def take_optional(self, value, limit: int = ITEM_CHARS) -> str | None:
        return None if value is None else self.take(value, limit)

    def items(self, values, limit: int = ITEM_CHARS, count: int = MAX_LIST_ITEMS) -> list[str]:
        """At most `count` items of a list: of a longer one, its first count - 1 and a last
        saying how many more there were."""
        values = list(values or [])
        if len(values) <= count:
            return [self.take(value, limit) for value in values]
        return [self.take(value, limit) for value in values[:count - 1]] + [f"… and {len(values) - count + 1:,} more"]


def bound_results(results: list, reason: str | None, cell_errors: list) -> tuple[list, str | None, list[str]]:
    """A submission's grading.CellResults, reason and cell errors with every text bounded by one
    Budget (new objects; scores and details unchanged). Shapes: see autograder.judging.scoring."""
    budget = Budget()
    reason = budget.take_optional(reason)
    bounded = []
    for result in results:
        failure = budget.take_optional(result.visible_failure)
        checks = [check if message == check.message else replace(check, message=message)
                  for check, message in ((c, budget.take(c.message)) for c in result.checks)]
        same = failure == result.visible_failure and all(a is b for a, b in zip(checks, result.checks))
        bounded.append(result if same else replace(result, visible_failure=failure, checks=checks))
    return bounded, reason, budget.items(cell_errors)


def bound_summary(summary: dict) -> dict:
    """The same bounds on a results.json as gradebook.results_summary writes it (a new dict):
    for what a writer reads back, which an older kit may have written unbounded."""
    budget = Budget()
    out = dict(summary)
    out["reason"] = budget.take_optional(summary.get("reason"))
    cells = summary.get("cells") if isinstance(summary.get("cells"), list) else []
    out["cells"] = [{**cell, "visible_failure": budget.take_optional(cell.get("visible_failure")),
                     "checks": [{**check, "message": budget.take(check.get("message") or "")}
                                for check in cell.get("checks") or []]}
                    for cell in cells]
    out["cell_errors"] = budget.items(summary.get("cell_errors"))
    return out


def html(value, limit: int = ITEM_CHARS) -> str:
    """Text for an HTML page: bounded, valid, every markup character escaped (quotes included,
    so it is safe in an attribute too)."""
    return _html.escape(text(value, limit), quote=True)


def _fence(value: str, least: int) -> str:
    """A backtick string longer than any run of backticks in value."""
    return "`" * max(least, max((len(run) for run in _BACKTICKS.findall(value)), default=0) + 1)


def code_span(value, limit: int = ITEM_CHARS) -> str:
    """Markdown for text shown inline as code: a code span no backtick in it can close, on one
    line (a newline could end the paragraph and with it the span: it is shown as ⏎). Nothing in
    a code span is markup: no HTML, link, emphasis or heading."""
    value = text(value, limit).replace("\n", " ⏎ ")
    fence = _fence(value, 1)
    # The spaces keep a backtick at either end from joining the fence; Markdown strips one each.
    return f"{fence} {value} {fence}"


def code_block(value, limit: int = ITEM_CHARS) -> str:
    """Markdown for lines of text shown as they are: a fenced code block whose fence is longer
    than any backtick run in the text, so no line of it can close the block. It must start at
    the beginning of a line outside any list or quote (there, a less indented line would end it)."""
    value = text(value, limit)
    fence = _fence(value, 3)
    return f"{fence}\n{value}\n{fence}"


def json_bytes(value, **dumps) -> bytes:
    """value as JSON in UTF-8, its text unescaped (at most 4 bytes a character where ASCII
    escapes would take up to 12); a lone surrogate anywhere becomes "?" rather than an error."""
    return json.dumps(value, ensure_ascii=False, **dumps).encode("utf-8", "replace")
