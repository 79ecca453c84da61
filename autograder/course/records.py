"""A student's graded record on disk: written whole or not at all, and judged current or stale
the way nbgrader judges its own autograded/ folders.

autograded/<student>/<assignment>/ counts as the kit's complete record only when it holds
results.json; it is built in a hidden folder beside it and renamed into place, so a grader
killed at any point leaves either the old record, the new one, or none (then the student is
graded again). nbgrader's exchange files (timestamp.txt, submission_secret.txt) travel from
submitted/ to autograded/ to feedback/ as `nbgrader autograde` and `generate_feedback` carry
them; `release_feedback` needs both beside each page.
"""

import json
import os
import shutil
from pathlib import Path

from ..homework import spec

RESULTS = "results.json"
TIMESTAMP = "timestamp.txt"
SECRET = "submission_secret.txt"
EXCHANGE_FILES = (TIMESTAMP, SECRET)
PARTIAL = f".{spec.ASSIGNMENT}.partial"
OLD = f".{spec.ASSIGNMENT}.old"
KIT_PAGE = "backprop-kit feedback"  # the generator <meta> of the kit's feedback pages


def graded_folder(root: Path, student: str) -> Path:
    return root / "autograded" / student / spec.ASSIGNMENT


def is_complete(folder: Path) -> bool:
    """Whether a graded folder is a whole record of the kit's grader (results.json written)."""
    return (folder / RESULTS).is_file()


def why_grade(coursedir, submitted: Path, graded: Path) -> str | None:
    """Why a submission needs grading without --force, or None when its graded record stands.

    As nbgrader's `autograde` decides (converters/base.py, init_destination): a newer
    timestamp.txt in submitted/ than in autograded/ means a resubmission. Unlike nbgrader, a
    folder without results.json (left by stock autograde or by a killed grader) is not a record.
    """
    if not graded.exists():
        return "not graded yet"
    if not is_complete(graded):
        return "no complete results (an interrupted run, or graded by stock nbgrader)"
    new = coursedir.get_existing_timestamp(str(submitted))
    old = coursedir.get_existing_timestamp(str(graded))
    if new is not None and old is not None and new > old:
        return f"resubmitted ({new} is newer than the graded {old})"
    return None


def partial_folder(graded: Path) -> Path:
    """A fresh, empty folder beside `graded` to build its replacement in."""
    partial = graded.parent / PARTIAL
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


def copy_exchange_files(source: Path, target: Path) -> None:
    """timestamp.txt and submission_secret.txt, where the source has them (as nbgrader copies
    every non-notebook file it does not ignore)."""
    for name in EXCHANGE_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)


def put_in_place(partial: Path, graded: Path) -> None:
    """Replace `graded` by the finished `partial` folder. Each rename is atomic; a crash between
    the two leaves no record at `graded`, so the student is graded again."""
    old = graded.parent / OLD
    if old.exists():
        shutil.rmtree(old)
    if graded.exists():
        os.replace(graded, old)
    os.replace(partial, graded)
    if old.exists():
        shutil.rmtree(old)


def clean_leftovers(root: Path) -> list[Path]:
    """Remove half-built folders a killed grader left behind; returns what was removed."""
    removed = []
    for name in (PARTIAL, OLD):
        for path in sorted((root / "autograded").glob(f"*/{name}")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def drop_feedback_page(root: Path, student: str) -> bool:
    """Remove the kit's feedback page of a student just graded again: it described the old grades,
    and release_feedback must not publish it. nbgrader's own pages are left alone."""
    page = root / "feedback" / student / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.html"
    if page.is_file() and f"content='{KIT_PAGE}'" in page.read_text(errors="replace")[:1000]:
        page.unlink()
        return True
    return False


def run_log(root: Path) -> Path:
    """Where each run of the kit's grader appends its figures (one JSON object a line)."""
    return root / "autograded" / ".kit-runs" / f"{spec.ASSIGNMENT}.jsonl"


def read_results(root: Path, student: str) -> dict | None:
    path = graded_folder(root, student) / RESULTS
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def disagreement(results: dict, auto_scores: dict[str, float | None]) -> str | None:
    """Why results.json does not describe the gradebook's auto scores, or None when it does.

    auto_scores: grade_id -> the gradebook's auto_score (a manual score does not count: the
    page shows the gradebook's score and the kit's diagnosis of the code).
    """
    mine = {c["grade_id"]: float(c["score"]) for c in results.get("cells", [])}
    differ = sorted(g for g in set(mine) | set(auto_scores)
                    if auto_scores.get(g) is None or mine.get(g) is None or abs(mine[g] - auto_scores[g]) > 1e-9)
    if differ:
        return (f"the gradebook's scores differ from the kit's results for {', '.join(differ[:3])}"
                + (" ..." if len(differ) > 3 else "") + " (graded since by another grader?)")
    return None
