"""Hostile submissions graded by the kit next to honest neighbours: each gains nothing for its
wrong functions, writes no grade, harms no neighbour and changes no course file."""

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, reference_answers
from autograder.homework import spec
from tests.attacks import ATTACKS
from tests.conftest import released_course


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "autograded" not in p.parts
            and not p.name.startswith("gradebook.db")}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root, release = released_course(tmp_path_factory.mktemp("attacked"))
    reference = reference_answers()
    for neighbour in ("aaa_neighbour", "zzz_neighbour"):
        course.submit(root, neighbour, fill(release, reference))
    for attack in ATTACKS:
        course.submit(root, f"attack_{attack.name}", fill(release, {**reference, **attack.answers}),
                      attack.extra_files)
        if attack.twin is not None:
            course.submit(root, f"twin_{attack.name}", fill(release, {**reference, **attack.twin}))
    before = digest(root)
    # Under bubblewrap only: without it these attacks would really reach the course.
    result = subprocess.run([sys.executable, "-m", "autograder", "grade", "backprop", "--workers", "2",
                             "--sandbox", "bwrap"],
                            cwd=root, capture_output=True, text=True, timeout=900)
    return root, result, before


def test_grader_finishes_cleanly(attacked):
    _, result, _ = attacked
    assert result.returncode == 0, result.stderr[-3000:]


def test_course_files_unchanged_and_neighbours_keep_full_marks(attacked):
    root, _, before = attacked
    assert digest(root) == before
    scores = course.read_scores(root)
    assert scores["aaa_neighbour"] == scores["zzz_neighbour"] == expected_scores(())


def test_no_manual_score_written(attacked):
    from nbgrader.api import Gradebook

    root, _, _ = attacked
    with Gradebook(course.coursedir(root).db_url) as gb:
        manual = [(g.student.id, g.name) for s in gb.students for sub in s.submissions
                  for nb in sub.notebooks for g in nb.grades if g.manual_score is not None]
    assert manual == []


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.twin is not None], ids=lambda a: a.name)
def test_attack_scores_no_more_than_its_honest_twin(attacked, attack):
    root, _, _ = attacked
    scores = course.read_scores(root)
    attack_scores, twin_scores = scores[f"attack_{attack.name}"], scores[f"twin_{attack.name}"]
    assert {g: (s, twin_scores[g]) for g, s in attack_scores.items() if s > twin_scores[g]} == {}
    # The twin itself loses points in its wrong functions' cells (else the comparison proves little).
    full = expected_scores(())
    for function in attack.wrong:
        own = [c.grade_id for c in spec.TEST_CELLS if c.judges == (function,)]
        assert sum(twin_scores[g] for g in own) < sum(full[g] for g in own), function


@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.twin is None], ids=lambda a: a.name)
def test_attack_gains_nothing(attacked, attack):
    root, _, _ = attacked
    scores = course.read_scores(root)[f"attack_{attack.name}"]
    # The cells that judge only a wrong function: the tricks must not save any of them. (The
    # gradient-check and training cells judge the functions together and may pass a wrong pair
    # that is consistent with itself, as for honest mutants.)
    own = {c.grade_id for c in spec.TEST_CELLS if len(c.judges) == 1 and c.judges[0] in attack.wrong}
    assert {g: s for g, s in scores.items() if g in own and s > 0} == {}
    if attack.name.startswith("flood") and not attack.wrong:
        assert scores == expected_scores(()), "printing must not cost points"
