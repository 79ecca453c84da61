"""Student text as text: valid, bounded, and escaped for where it goes (autograder.untrusted).

Unit tests of the module, then a hostile class through the real commands (grade under
bubblewrap, feedback, report, both exports) and through the Gradescope runner: every page and
result stays small, is valid UTF-8 and holds none of the planted markup live.
"""

import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import mistune
import nbformat
import pytest

from autograder import untrusted
from autograder.calls import scrub
from autograder.course import course
from autograder.course.submissions import fill, reference_answers
from autograder.gradescope import package, runner
from autograder.homework import spec
from autograder.judging.scoring import CellResult, CheckResult
from autograder.outputs import class_report, feedback
from tests.conftest import ROOT, released_course

# What a hostile submission plants: a script, an event handler, a javascript: link, a bold fake
# score, and backticks meant to close the code span or fence around it.
PLANTED = ("<script>alert('planted')</script><img src=x onerror=alert('planted')> "
           "[claim your points](javascript:alert('planted')) ` \n\n**Score: 25 / 25**\n\n"
           "```````\n\n<img src=x onerror=alert('planted')>\n\n")
# Text that must never be live: outside code in Markdown, or as markup in HTML.
MARKERS = ("planted", "onerror", "javascript:", "<script", "25 / 25")
UNENCODABLE = ("\ud800 lone \udfff \x00 NUL \x1b[2J \x85 \u202e override \U0001f600\U0001f4af "
               + bytes(range(256)).decode("latin-1"))
MiB = 2**20


# -- the module ---------------------------------------------------------------------------------

def test_text_is_valid_utf8_without_controls():
    out = untrusted.text(UNENCODABLE + "\r\nnext\tline")
    out.encode("utf-8")  # no lone surrogate left
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", out)
    assert out.endswith("\nnext\tline") and "NUL" in out and untrusted.REPLACEMENT in out
    assert untrusted.text(b"caf\xc3\xa9 \xff\xfe bytes") == "café \ufffd\ufffd bytes"
    assert json.loads(untrusted.json_bytes({"k": "\ud800 \U0001f600"}).decode("utf-8")) == {"k": "? \U0001f600"}


def test_huge_text_is_capped_with_a_marker_and_capping_again_changes_nothing():
    huge = "x" * 3_000_000
    out = untrusted.text(huge)
    assert len(out) <= untrusted.ITEM_CHARS
    cut = 3_000_000 - len(out.split(" … (")[0])
    assert out.endswith(f" … ({cut:,} characters cut)")
    assert untrusted.text(out) == out
    assert untrusted.text("short") == "short"


def test_budget_bounds_a_submission_whatever_it_raises():
    message = PLANTED * 1000
    results = [CellResult(c.grade_id, c.points, 0.0, message, [CheckResult(k, False, message) for k in c.checks])
               for c in spec.TEST_CELLS]
    bounded, reason, errors = untrusted.bound_results(results, message, [message] * 5000)
    texts = [reason, *errors] + [t for r in bounded for t in [r.visible_failure] + [c.message for c in r.checks]]
    assert sum(map(len, texts)) <= untrusted.SUBMISSION_CHARS + 100 * len(texts)
    assert max(map(len, texts)) <= untrusted.ITEM_CHARS
    assert len(errors) == untrusted.MAX_LIST_ITEMS and errors[-1] == f"… and {5000 - 19:,} more"
    assert [r.score for r in bounded] == [r.score for r in results]
    # Bounding what is bounded changes nothing (record_all bounds again what grade_one made).
    assert untrusted.bound_results(bounded, reason, errors) == (bounded, reason, errors)
    summary = {"reason": reason, "cell_errors": errors, "cells": [
        {"grade_id": r.grade_id, "visible_failure": r.visible_failure,
         "checks": [{"id": c.check_id, "message": c.message} for c in r.checks]} for r in bounded]}
    assert untrusted.bound_summary(summary) == summary


def test_an_honest_submission_keeps_every_word():
    message = "sigmoid: the derivative has the right shape but wrong values (relative error 1.0e+00)"
    results = [CellResult(c.grade_id, c.points, 0.0, None, [CheckResult(k, False, message) for k in c.checks])
               for c in spec.TEST_CELLS]
    bounded, _, errors = untrusted.bound_results(results, None, ["cell 3: NameError: name 'x' is not defined"])
    assert bounded == results and errors == ["cell 3: NameError: name 'x' is not defined"]


class Live(HTMLParser):
    """What an HTML text would make live: elements, event handlers, javascript: URLs."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags, self.handlers, self.urls, self.scripts, self._in = [], [], [], [], None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.handlers += [name for name, _ in attrs if name.lower().startswith("on")]
        self.urls += [value for _, value in attrs
                      if value and re.sub(r"\s", "", value).lower().startswith("javascript:")]
        if tag in ("script", "strong", "b"):
            self._in = tag
            self.scripts.append((tag, ""))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            tag, text = self.scripts[-1]
            self.scripts[-1] = (tag, text + data)


def test_html_escapes_every_markup():
    page = f"<p title='{untrusted.html(PLANTED)}'>{untrusted.html(PLANTED + UNENCODABLE)}</p>"
    live = Live(page)
    assert live.tags == ["p"] and live.handlers == live.urls == live.scripts == []


def markdown_tokens(text: str) -> list[dict]:
    return mistune.create_markdown(renderer=None)(text)


def live_markdown(text: str) -> list[str]:
    """What of the planted text a Markdown renderer would not show as code: the text outside
    code spans and blocks that holds a marker, and any raw HTML, link or image at all (the kit
    writes none)."""
    found = []

    def walk(tokens):
        for token in tokens:
            kind = token.get("type")
            if kind in ("codespan", "block_code"):
                continue
            if kind in ("inline_html", "block_html", "link", "image"):
                found.append(f"{kind}: {token.get('raw') or token.get('attrs')}")
            raw = token.get("raw") or ""
            found.extend(f"{kind}: {marker}" for marker in MARKERS if marker in raw)
            walk(token.get("children") or [])

    walk(markdown_tokens(text))
    # And rendered as a permissive renderer would (raw HTML allowed), nothing is live either.
    live = Live(mistune.create_markdown(escape=False)(text))
    found += [f"<{tag}> {inner[:60]!r}" for tag, inner in live.scripts if tag == "script" or "25 / 25" in inner]
    return found + [f"handler {h}" for h in live.handlers] + [f"url {u}" for u in live.urls]


@pytest.mark.parametrize("text", [PLANTED, PLANTED * 3 + UNENCODABLE, "`", "``", "a ` b `` c ```` d", "`x`",
                                  "line\n\n<script>alert('planted')</script>\n\n    ```\n- item"])
def test_markdown_code_cannot_be_closed(text):
    span, block = untrusted.code_span(text), untrusted.code_block(text)
    for markdown in (span, block, f"- {span}", f"**Reason:** {span} and {span}\n\n{block}\n\n{block}"):
        assert live_markdown(markdown) == [], markdown
    tokens = markdown_tokens(span)
    assert [t["type"] for t in tokens] == ["paragraph"] and [c["type"] for c in tokens[0]["children"]] == ["codespan"]
    assert tokens[0]["children"][0]["raw"] == untrusted.text(text).replace("\n", " ⏎ ")
    tokens = markdown_tokens(block)
    assert [t["type"] for t in tokens] == ["block_code"] and tokens[0]["raw"] == untrusted.text(text) + "\n"


def test_the_checker_sees_live_markup():
    """The Markdown and HTML checks above can fail: unescaped, the planted text is live."""
    assert live_markdown(PLANTED) and live_markdown(f"`{PLANTED}`") and live_markdown(f"```\n{PLANTED}\n```")
    live = Live(PLANTED)
    assert live.handlers and ("script", "alert('planted')") in live.scripts


def test_scrub_hides_numbers_and_reads_only_the_start():
    assert scrub("got 0.12345 and 123456 but kept 42") == "got … and … but kept 42"
    out = scrub("x" * 2399 + "1234" + "5678" * 1_000_000, 300)
    assert len(out) <= 300 and "1234" not in out
    assert scrub(PLANTED + UNENCODABLE, 5000) == untrusted.text(scrub(PLANTED + UNENCODABLE, 5000))


# -- the class report's grouping ----------------------------------------------------------------

OLD_SHAPES = re.compile(r"\([#, ]*\)|\[[#,. \n\[\]]*\]")


def test_grouping_steps_do_what_the_patterns_did():
    """The linear steps give the backtracking patterns' results (on short texts, where those are quick)."""
    pieces = ["[", "]", "(", ")", "#", ",", " ", ".", "\n", "x", ", got ", "array(", "(relative error ",
              "(a correct gradient gives "]
    rng = random.Random(0)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert class_report._shapes(text) == OLD_SHAPES.sub(
            lambda m: m.group() if m.group() in ("[#]", "(#)") else "…", text), text
        assert class_report._up_to_close(text, ("array(",), True) == re.sub(r"array\(([^)]*)\)", r"\1", text)
        assert class_report._up_to_close(text, ("(relative error", "(a correct gradient gives"), False) == \
            re.sub(r"\(relative error[^)]*\)|\(a correct gradient gives[^)]*\)", "", text)
        assert class_report._without_got(text) == re.sub(r", got .*$", "", text), text


GROUP_HUGE = r"""
import sys
from autograder.outputs import class_report

n = 150_000
names = ["[" * n, "array(" * (n // 6), "(relative error" * (n // 15), ", got " * (n // 6) + "\nx",
         "Planted" + "E" * n, "(" + "# " * n]
for name in names:
    message = f"calling your code failed: {name}: boom"
    class_report.diagnosis(message)
    class_report.diagnosis("visible test failed: " + name)
    # The steps themselves, on the whole text (diagnosis reads only its start).
    class_report._shapes(name)
    class_report._up_to_close(name, ("array(", "(relative error"), True)
    class_report._without_got(name)
print("grouped", len(names))
"""


def test_grouping_is_linear_in_a_150000_character_name():
    """Each of these took tens of seconds to minutes with the old patterns; the timeout is a
    bound (a hung grouping fails the test), not a measurement."""
    result = subprocess.run([sys.executable, "-c", GROUP_HUGE], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "grouped 6" in result.stdout, result.stderr


def test_class_report_of_results_written_unbounded(tmp_path):
    """results.json written before the bounds (by an older kit): the report still groups and bounds them."""
    huge = "[" * 150_000 + PLANTED
    results = {"reason": None, "cell_errors": [huge] * 1000, "cells": [
        {"grade_id": c.grade_id, "visible_failure": f"calling your code failed: {huge}: x",
         "checks": [{"id": k, "passed": False, "message": f"calling your code failed: {huge}", "details": {}}
                    for k in c.checks]} for c in spec.TEST_CELLS]}
    program = ("import json, sys\nfrom autograder import untrusted\nfrom autograder.homework import spec\n"
               "from autograder.outputs import class_report\n"
               "results = untrusted.bound_summary(json.load(open(sys.argv[1])))\n"
               "found = class_report.student_mistakes(results, {c.grade_id for c in spec.TEST_CELLS})\n"
               "print(max(len(d) for _, d in found))")
    (tmp_path / "results.json").write_text(json.dumps(results))
    result = subprocess.run([sys.executable, "-c", program, str(tmp_path / "results.json")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) <= class_report.DIAGNOSIS_CHARS + 2


# -- a hostile class through the real commands --------------------------------------------------

UNWRITTEN = "def sigmoid(z):\n    raise ValueError('sigmoid is not written yet')\n"
HOSTILE = {
    "class_name": "_Huge = type('Planted' + 'E' * 150000, (ValueError,), {})\n\n"
                  f"def sigmoid(z):\n    raise _Huge({PLANTED!r})\n",
    "markup_class_name": f"_Huge = type({PLANTED!r} * 5000, (ValueError,), {{}})\n\n"
                         f"def sigmoid(z):\n    raise _Huge({PLANTED!r})\n",
    "megabytes": f"print({PLANTED!r} * 30000)\n\ndef sigmoid(z):\n    print({PLANTED!r} * 30000)\n"
                 f"    raise ValueError({PLANTED!r} * 40000)\n",
    "unencodable": f"def sigmoid(z):\n    raise ValueError({UNENCODABLE!r} * 1000)\n",
    "returned_type": f"_Huge = type({PLANTED!r} * 3000, (), {{}})\n\ndef sigmoid(z):\n    return _Huge(), _Huge()\n",
}
# Added cells that raise (each one a cell error), and a notebook whose file name holds markup.
ERROR_CELL = f"raise type({PLANTED!r} * 2000, (Exception,), {{}})({PLANTED!r} * 5000 + {UNENCODABLE!r})"
# (A file name holds no "/": no closing tag, no fraction.)
FILE_NAME = "<script>alert('planted')<img src=x onerror=alert('planted')> [a](javascript:alert(1)) **Score: 25 of 25**"


@dataclass
class Run:
    root: Path
    results: dict[str, subprocess.CompletedProcess]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Run:
    root, release = released_course(tmp_path_factory.mktemp("hostile"))
    reference = reference_answers()
    course.submit(root, "honest_twin", fill(release, {**reference, "sigmoid": UNWRITTEN}))
    for student, cell in HOSTILE.items():
        course.submit(root, f"hostile_{student}", fill(release, {**reference, "sigmoid": cell}))
    errors = fill(release, {**reference, "sigmoid": UNWRITTEN})
    errors.cells += [nbformat.v4.new_code_cell(ERROR_CELL) for _ in range(300)]
    course.submit(root, "hostile_cell_errors", errors)
    # Not UTF-8 either: Python names it with lone surrogates.
    folder = course.submit(root, "hostile_file_name", fill(release, reference))
    os.rename(os.fsencode(folder / f"{spec.NOTEBOOK}.ipynb"),
              os.fsencode(folder) + b"/\xff\xfe" + os.fsencode(FILE_NAME) + b".ipynb")
    commands = {"grade": ["grade", "backprop", "--sandbox", "bwrap"], "feedback": ["feedback", "backprop"],
                "report": ["report", "backprop"], "csv": ["export", "backprop", "--format", "csv"],
                "gradescope": ["export", "backprop", "--format", "gradescope"]}
    results = {name: subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, capture_output=True,
                                    timeout=900) for name, args in commands.items()}
    return Run(root, results)


def written(root: Path) -> list[Path]:
    return sorted(p for folder in ("autograded", "feedback", "reports", "exports") for p in (root / folder).rglob("*")
                  if p.is_file() and p.suffix in (".html", ".json", ".csv", ".ipynb"))


def json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_strings(item)


def test_every_command_exits_0(hostile):
    assert {name: r.returncode for name, r in hostile.results.items()} == dict.fromkeys(hostile.results, 0), \
        {name: r.stderr[-2000:] for name, r in hostile.results.items()}
    out = hostile.results["grade"].stdout + hostile.results["grade"].stderr
    assert b"hostile_file_name: no backprop.ipynb" in out and b"\xff" not in out and b"\x00" not in out


def test_hostile_text_costs_no_points_it_would_not(hostile):
    scores = course.read_scores(hostile.root)
    for student in HOSTILE:
        assert scores[f"hostile_{student}"] == scores["honest_twin"], student
    assert scores["hostile_cell_errors"] == scores["honest_twin"]
    assert sum(scores["hostile_file_name"].values()) == 0


def test_everything_written_is_small_valid_utf8_text(hostile):
    files = written(hostile.root)
    kinds = {(p.parts[len(hostile.root.parts)], p.suffix) for p in files}
    assert {("autograded", ".json"), ("autograded", ".ipynb"), ("feedback", ".html"), ("reports", ".html"),
            ("exports", ".csv"), ("exports", ".json")} <= kinds
    for path in files:
        assert path.stat().st_size < MiB, path
        text = path.read_bytes().decode("utf-8")  # strict: fails on anything that is not UTF-8
        assert "\x00" not in text
        if path.suffix in (".json", ".ipynb"):
            for string in json_strings(json.loads(text)):
                string.encode("utf-8")  # no lone surrogate escaped as \udXXX
                assert "\x00" not in string, path
    # The results that hold the most student text are still well under the limit.
    results = {p.parts[-3]: p.stat().st_size for p in (hostile.root / "autograded").glob("*/backprop/results.json")}
    assert max(results.values()) < 512 * 1024, results


def test_no_planted_markup_is_live_in_any_page(hostile):
    pages = list((hostile.root / "feedback").rglob("*.html")) + [hostile.root / "reports" / "backprop.html"]
    assert len(pages) == len(HOSTILE) + 4
    for page in pages:
        text = page.read_text()
        live = Live(text)
        scripts = [inner for tag, inner in live.scripts if tag == "script"]
        assert scripts in ([feedback.PROBE], [class_report.PROBE]), page
        assert live.handlers == live.urls == [] and not {"strong", "b"} & set(live.tags), page
        if "hostile_" in str(page):
            # shown as text, or cut (by the child's bound or the grader's)
            assert "planted" in text or "characters cut)" in text or "characters in all)" in text, page


def test_planted_markup_is_only_code_in_gradescope_results(hostile):
    exported = sorted((hostile.root / "exports" / "gradescope").glob("*/results.json"))
    assert {p.parent.name for p in exported} == {"honest_twin", "hostile_cell_errors", "hostile_file_name",
                                                 *(f"hostile_{s}" for s in HOSTILE)}
    shown = set()
    for path in exported:
        results = json.loads(path.read_text())
        outputs = [results.get("output", "")] + [t["output"] for t in results["tests"]]
        assert results["test_output_format"] == "md" and {t["output_format"] for t in results["tests"]} == {"md"}
        for output in outputs:
            assert live_markdown(output) == [], (path, output[:300])
        if any("planted" in output for output in outputs):
            shown.add(path.parent.name)
    # The diagnoses are there, as code (at least where the planted text comes before any cut).
    assert shown >= {"hostile_markup_class_name", "hostile_megabytes", "hostile_returned_type", "hostile_file_name"}


def test_csv_status_is_one_line_of_clean_text(hostile):
    rows = (hostile.root / "exports" / "backprop.csv").read_text().splitlines()
    assert len(rows) == 1 + len(HOSTILE) + 3
    row = next(r for r in rows if r.startswith("hostile_file_name,"))
    assert "not graded: no backprop.ipynb" in row and "\ufffd\ufffd<script>" in row


# -- the Gradescope runner (run_autograder) -----------------------------------------------------

@pytest.fixture
def gradescope_root(tmp_path) -> Path:
    for name, data in package.contents(ROOT).items():
        (tmp_path / "source" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "source" / name).write_bytes(data)
    (tmp_path / "submission").mkdir()
    return tmp_path


def run_autograder(root: Path) -> dict:
    assert runner.main(["--root", str(root)]) == 0
    results = (root / "results" / "results.json").read_bytes()
    assert len(results) < MiB
    return json.loads(results.decode("utf-8"))


def test_run_autograder_shows_file_names_as_code(gradescope_root):
    notebook = fill(nbformat.read(course.release_path(ROOT), as_version=4), reference_answers())
    for name in (f"{FILE_NAME}.ipynb", f"{FILE_NAME} (1).ipynb"):
        nbformat.write(notebook, gradescope_root / "submission" / name)
    results = run_autograder(gradescope_root)
    assert "2 notebooks in the submission" in results["output"] and "planted" in results["output"]
    for output in [results["output"]] + [t["output"] for t in results["tests"]]:
        assert live_markdown(output) == [], output


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/bwrap"),
                    reason="the runner grades as Gradescope does: as root, under bubblewrap")
def test_run_autograder_grades_hostile_text_into_code(gradescope_root):
    release = nbformat.read(course.release_path(ROOT), as_version=4)
    notebook = fill(release, {**reference_answers(), "sigmoid": HOSTILE["markup_class_name"]})
    notebook.cells += [nbformat.v4.new_code_cell(ERROR_CELL) for _ in range(50)]
    nbformat.write(notebook, gradescope_root / "submission" / "homework.ipynb")
    results = run_autograder(gradescope_root)
    sigmoid = next(t for t in results["tests"] if t["name"].startswith("test_sigmoid_basic"))
    assert sigmoid["score"] == 0 and "planted" in sigmoid["output"]
    assert "Errors while running your notebook" in results["output"] and "planted" in results["output"]
    for output in [results["output"]] + [t["output"] for t in results["tests"]]:
        assert live_markdown(output) == [], output[:500]
    for string in json_strings(results):
        string.encode("utf-8")
