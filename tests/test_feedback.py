"""Feedback pages and exports: what students and instructors get out of the kit's grades."""

import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, read_example, reference_answers
from autograder.homework import cases, spec
from solutions import backprop, helpers
from tests.conftest import ROOT, kit_grade, released_course
from tests.submissions import MUTANTS

# A backward_prop that puts its (hidden) inputs into its error message.
LEAKY = ("def backward_prop(loss, f, Ws, bs, zs, y):\n"
         "    raise ValueError('inputs: ' + repr(Ws) + repr(bs) + repr(zs) + str([float(v) for v in y.ravel()]))\n")
OVERWRITE = next(m for m in MUTANTS if m.name == "backward_prop_overwrites_sum")


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    """A small class graded by the kit, with feedback pages and both exports written."""
    root, release = released_course(tmp_path_factory.mktemp("feedback"))
    reference = reference_answers()
    course.submit(root, "reference", fill(release, reference))
    course.submit(root, "leaky", fill(release, {**reference, "backward_prop": LEAKY}))
    course.submit(root, "overwrite", fill(release, {**reference, OVERWRITE.function: OVERWRITE.source}))
    lecture = (ROOT / "examples" / "lecture_verbatim.py")
    course.submit(root, "lecture", fill(release, read_example(lecture).all_answers()))
    course.submit(root, "stub", release)
    broken = root / "submitted" / "broken" / "backprop"
    broken.mkdir(parents=True)
    (broken / "backprop.ipynb").write_text("not a notebook")
    assert kit_grade(root).returncode == 0
    run_cli(root, "feedback", "backprop")
    run_cli(root, "export", "backprop")
    run_cli(root, "export", "backprop", "--format", "gradescope")
    return root


def pages(root: Path) -> dict[str, str]:
    return {p.parts[-3]: p.read_text() for p in sorted((root / "feedback").glob("*/backprop/backprop.html"))}


def hidden_tokens() -> set[str]:
    """The hidden networks' numbers, as they would be printed."""
    tokens = set()
    for net in cases.networks():
        for array in [*net.Ws, *net.bs, net.x, net.y]:
            for value in array.ravel():
                tokens |= {f"{value:.4f}", f"{value:.3f}"[:6], repr(float(value))[:9]}
    return {t for t in tokens if len(t.strip("-0.")) >= 3}


def test_every_student_gets_a_page(fed):
    assert set(pages(fed)) == {"reference", "leaky", "overwrite", "lecture", "broken", "stub"}


def test_pages_hold_no_hidden_tests_or_inputs(fed):
    tokens = hidden_tokens()
    for student, page in pages(fed).items():
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
        for marker in ("BEGIN HIDDEN", "run_hidden_tests", "autograder", "solutions", "def "):
            assert marker not in text, (student, marker)
        leaked = {t for t in tokens if t in text}
        assert leaked == set(), (student, sorted(leaked)[:5])


def test_page_content(fed):
    found = pages(fed)
    assert f"Score: {spec.TOTAL_POINTS} / {spec.TOTAL_POINTS}" in found["reference"]
    assert "loss-plot" in found["reference"]
    assert "could not be read as a notebook" in found["broken"]
    # The lecture's code: the global hs and the fragment are named, with what to do.
    assert "compute the prediction as f(zs[L])[0]" in found["lecture"]
    lecture = sum(expected_scores(read_example(ROOT / "examples" / "lecture_verbatim.py").wrong).values())
    assert f"Score: {lecture:g} / {spec.TOTAL_POINTS}" in found["lecture"]
    # The overwritten sum: which layer disagrees with finite differences, and what to look at.
    assert "DISAGREES" not in found["overwrite"] or "+=, not =" in found["overwrite"]
    assert "accumulated over i" in found["overwrite"]


def test_page_names_unwritten_functions_and_opens_with_a_summary(fed):
    found = pages(fed)
    stub = found["stub"]
    assert "NotImplementedError:" not in stub and "calling your code failed" not in stub
    for function in spec.FUNCTIONS:
        assert f"{function} is not written yet (the stub still raises NotImplementedError)" in stub
    scores = course.read_scores(fed)
    for student, page in found.items():
        summary = page[page.index("id='summary'"):page.index("id='tests'")]
        rows = re.findall(r"<tr><td>(.*?)</td><td class='\w+'>([\d.]+) / ([\d.]+)</td></tr>", summary)
        assert len(rows) == len(spec.FUNCTIONS) + 1, rows
        assert sum(float(got) for _, got, _ in rows) == sum(v or 0 for v in scores[student].values())
        assert sum(float(of) for _, _, of in rows) == spec.TOTAL_POINTS


def test_self_check_gives_the_pages_diagnosis(fed, capsys):
    namespace = {"np": __import__("numpy")}
    exec(OVERWRITE.source, namespace)
    ok = helpers.self_check(backprop.sigmoid, backprop.loss, backprop.forward_prop, namespace["backward_prop"],
                            backprop.compute_gradients)
    printed = capsys.readouterr().out
    assert not ok and "+=, not =" in printed
    assert helpers.self_check(backprop.sigmoid, backprop.loss, backprop.forward_prop, backprop.backward_prop,
                              backprop.compute_gradients)


def test_csv_export_matches_the_gradebook(fed):
    scores = course.read_scores(fed)
    rows = {r["student_id"]: r for r in csv.DictReader((fed / "exports" / "backprop.csv").open())}
    assert set(rows) == set(scores) | {"broken"} or set(rows) == set(scores)
    for student, row in rows.items():
        if student == "broken":
            assert row["total"] == "" and "could not be read" in row["status"]
            continue
        assert float(row["total"]) == sum(scores[student].values())
        for function in spec.FUNCTIONS:
            judged = [c.grade_id for c in spec.TEST_CELLS if c.judges == (function,)]
            assert float(row[function]) == sum(scores[student][g] for g in judged)


def test_gradescope_export_matches_the_gradebook(fed):
    scores = course.read_scores(fed)
    for student, cells in scores.items():
        data = json.loads((fed / "exports" / "gradescope" / student / "results.json").read_text())
        assert {t["name"].split(":")[0]: t["score"] for t in data["tests"]} == cells
        assert data["score"] == sum(cells.values())
        assert all(t["visibility"] == "visible" and "max_score" in t and "output" in t for t in data["tests"])


def test_page_renders_in_a_real_browser(fed, tmp_path):
    assert shutil.which("chromium"), "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    page = fed / "feedback" / "overwrite" / "backprop" / "backprop.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", "--window-size=1200,2400"]
    dom = subprocess.run(["chromium", *flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    title = re.search(r"<title>rendered plot=(\d+)x(\d+) tests=(\d+) table=(\d+)x(\d+) summary=(\d+)</title>", dom)
    assert title, dom[:500]
    plot_w, plot_h, rows, table_w, table_h, summary = map(int, title.groups())
    assert summary == len(spec.FUNCTIONS) + 1
    assert plot_w > 300 and plot_h > 150 and rows == len(spec.TEST_CELLS) and table_w > 300 and table_h > 200
    shot = tmp_path / "page.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000


def _chromium_title(page: Path, tmp_path: Path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", "--window-size=1200,2400"]
    dom = subprocess.run(["chromium", *flags, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    return re.search(r"<title>(.*?)</title>", dom).group(1)


def test_class_report_counts_match_the_gradebook_and_render(fed, tmp_path):
    result = run_cli(fed, "report", "backprop")
    page = fed / "reports" / "backprop.html"
    assert str(page) in result.stdout
    text = page.read_text()
    scores = course.read_scores(fed)
    cells = dict(re.findall(r"<tr><td><code>(\w+)</code></td><td class='n'>[\d.]+</td>"
                            r"<td class='n full'>(\d+)</td>", text))
    for test_cell in spec.TEST_CELLS:
        full = sum((s[test_cell.grade_id] or 0) >= test_cell.points for s in scores.values())
        assert int(cells[test_cell.grade_id]) == full, test_cell.grade_id
    rows = re.findall(r"<td class='n count'>(\d+)</td><td class='who'>(.*?)<br>\((.*?)\)</td>", text)
    assert rows
    for count, who, where in rows:
        students, failed_cells = who.split(", "), where.split(", ")
        assert int(count) == len(students)
        for student in students:  # everyone named lost points in a cell the mistake is reported for
            assert any(scores[student][g] < spec.cell_points(g) for g in failed_cells), (student, where)
    assert "broken" in text[text.index("id='ungraded'"):] and "could not be read" in text
    assert "<p id='run'>Last run" in text
    # The overwritten sum is grouped with its diagnosis, and names who made it.
    overwrite = [who for _, who, _ in rows if "overwrite" in who.split(", ")]
    assert overwrite
    title = _chromium_title(page, tmp_path)
    found = re.match(r"rendered plots=(\d+) mistakes=(\d+) mistake_students=(\d+) table=(\d+)", title)
    assert found, title
    plots, mistakes, students, height = map(int, found.groups())
    assert plots == 3 and mistakes == len(rows) and students == sum(int(c) for c, _, _ in rows) and height > 100
