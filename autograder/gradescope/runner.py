"""What run_autograder runs for each submission: the kit's grader, inside Gradescope's container.

It grades the one notebook in /autograder/submission, whatever its name, with the same test
cells, points, checks and diagnoses as `python -m autograder grade` (judging.outcome.grade_one), and
writes /autograder/results/results.json: a test per test cell, each diagnosis in its output,
and a short summary. Whatever happens, it writes a result; a submission it cannot grade gets 0
with the reason.

Gradescope runs it as root. Before any student code runs, the folders student code must not
reach are closed to everyone but root: /autograder/source (the reference and the hidden
checks), /autograder/results (the result it could forge), the submission and its metadata.
Student code then runs as an unprivileged user (gradescope.json names it; setup.sh creates it)
under bubblewrap where bubblewrap works, and under the same resource limits only where it
does not (Gradescope's containers usually lack user namespaces).
"""

import argparse
import json
import os
import pwd
import shutil
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import nbformat

from .. import untrusted
from ..course.gradebook import results_summary
from ..homework import spec
from ..judging.outcome import Outcome, _zeros, grade_one
from ..judging.visible import visible_tests
from ..outputs.export import gradescope_results
from ..running.sandbox.launch import Limits, Pool, SandboxError

# A notebook larger than this is not read (the release notebook is about 30 KiB).
MAX_NOTEBOOK_BYTES = 20 * 2**20
FALLBACK_USER = "nobody"


class Layout:
    """Gradescope's folders under one root (/autograder in the container)."""

    def __init__(self, root: Path):
        self.root = root
        self.source = root / "source"
        self.submission = root / "submission"
        self.results = root / "results"
        self.metadata = root / "submission_metadata.json"


def close_folders(layout: Layout) -> None:
    """Only root may enter the kit's code, the results, the submission and its metadata."""
    layout.results.mkdir(parents=True, exist_ok=True)
    for folder in (layout.source, layout.results, layout.submission):
        if folder.is_dir():
            os.chmod(folder, 0o700)
    if layout.metadata.is_file():
        os.chmod(layout.metadata, 0o600)


def find_notebook(folder: Path) -> tuple[Path | None, str | None]:
    """The one notebook submitted (at any depth), or None and why not."""
    found = []
    for parent, dirs, files in os.walk(folder):  # does not follow links to folders
        # Jupyter's checkpoints and macOS's zip debris (__MACOSX/, ._name) are not the student's.
        dirs[:] = sorted(d for d in dirs if d not in (".ipynb_checkpoints", "__MACOSX"))
        found += [Path(parent) / name for name in sorted(files)
                  if name.endswith(".ipynb") and not name.startswith("._")]
    names = [p.relative_to(folder).as_posix() for p in found]
    if not found:
        return None, "no notebook (.ipynb) in the submission: upload your backprop notebook"
    if len(found) > 1:
        return None, f"{len(found)} notebooks in the submission ({', '.join(names)}): upload only one"
    path = found[0]
    if path.is_symlink() or not path.is_file():
        return None, f"{names[0]} is not a regular file: upload the notebook itself"
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return None, (f"{names[0]} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB: clear its outputs and "
                      "upload it again")
    try:  # here, to name the student's own file, and before any sandbox starts
        nbformat.read(path, as_version=4)
    except Exception as error:
        return None, f"{names[0]} could not be read as a notebook ({type(error).__name__}: {str(error)[:200]})"
    return path, None


def student_user(configured: str) -> str | None:
    """The unprivileged user to run student code as (None when the grader is not root)."""
    if os.geteuid() != 0:
        return None
    for name in (configured, FALLBACK_USER):
        try:
            if pwd.getpwnam(name).pw_uid != 0:
                return name
        except KeyError:
            continue
    raise SandboxError(f"neither {configured!r} nor {FALLBACK_USER!r} exists, and student code must not run as root")


def open_pool(sandbox: str, user: str | None, limits: Limits) -> tuple[Pool, str]:
    """One sandboxed zygote, and how it isolates. In order, the first that starts: bubblewrap as
    the unprivileged user; bubblewrap as root (where that user cannot reach this Python, or may
    not create namespaces but root may); resource limits as the unprivileged user. `limits`: the
    last only. Student code never runs as root outside bubblewrap."""
    attempts = ([("bwrap", user)] + ([("bwrap", None)] if user else [])) if sandbox == "auto" else []
    attempts.append(("limits", user))
    for mode, who in attempts:
        name = {"bwrap": "bubblewrap", "limits": "resource limits only"}[mode]
        as_whom = f"as {who}" if who else "as root" if os.geteuid() == 0 else "as the grader's own user"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the kit's warning is about a course folder; stdout says what held
                return Pool(1, mode, limits, user=who), f"{name}, {as_whom}"
        except (SandboxError, PermissionError) as error:
            why = str(error).strip().splitlines()[-1][:200] if str(error).strip() else type(error).__name__
            print(f"{name} {as_whom} cannot start here: {why}", flush=True)
    raise SandboxError(f"no sandbox could start for student code: {user} must be able to run {sys.executable} "
                       "(install the kit's Python where every user may read it, not under /root), or "
                       "bubblewrap must work")


def grade(layout: Layout, config: dict) -> tuple[Outcome, str]:
    """The outcome for the submission, and a line on how it was graded."""
    notebook, reason = find_notebook(layout.submission)
    if notebook is None:
        return Outcome("submission", _zeros(reason), reason=reason), "nothing to grade"
    source = nbformat.read(layout.source / config["notebook"], as_version=4)
    visible = visible_tests(source)
    user = student_user(config["user"])
    work = Path(tempfile.mkdtemp(prefix="kit-gradescope-"))  # root's, closed to student code
    try:
        # grade_one reads <folder>/<notebook>.ipynb: give it the student's file under that name.
        shutil.copyfile(notebook, work / f"{spec.NOTEBOOK}.ipynb", follow_symlinks=False)
        limits = Limits()  # the kit grader's defaults
        pool, how = open_pool(config["sandbox"], user, limits)
        with pool:
            outcome = grade_one("submission", work, pool.zygotes[0], source, visible, limits)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return outcome, f"{untrusted.text(notebook.relative_to(layout.submission), 300)} graded under {how}"


# When Gradescope shows the tests that run hidden checks, in the students' words.
SHOWN_LATER = {"after_published": "when the grades are published", "after_due_date": "after the due date",
               "hidden": "to your instructor only"}


def summary(outcome: Outcome, tests: list[dict], hidden_visibility: str) -> str:
    """The results' top-level output (Markdown): points shown now, what comes later, what went wrong.
    What the submission wrote (in the reason: its file names; its cells' errors) is shown only in
    code spans it cannot close (untrusted.code_span)."""
    shown = [t for t in tests if t["visibility"] == "visible"]
    got, of = sum(t["score"] for t in shown), sum(t["max_score"] for t in shown)
    lines = []
    if outcome.reason:
        lines.append(f"**Your notebook could not be graded:** {untrusted.code_span(outcome.reason)}\n")
    if len(shown) == len(tests):
        lines.append(f"**Score: {got:g} / {of:g}** on {len(tests)} tests.")
    else:
        later = sum(t["max_score"] for t in tests) - of
        lines.append(f"**Visible tests: {got:g} / {of:g}.** The hidden tests ({later:g} more points, "
                     f"{len(tests) - len(shown)} tests) are shown with their diagnoses "
                     f"{SHOWN_LATER[hidden_visibility]}.")
    lines.append("Each test below says what it checks and, when it fails, what to look at "
                 "(the same diagnoses as the course's feedback page).")
    if outcome.cell_errors:
        lines.append("\nErrors while running your notebook's cells:\n")
        lines += [f"- {untrusted.code_span(error)}" for error in outcome.cell_errors]
    return "\n".join(lines)


def results_json(outcome: Outcome, hidden_visibility: str) -> dict:
    """Gradescope's results.json for the outcome (the kit's export, with the feedback details)."""
    outcome.bound()  # whatever was set since it was made
    kit_results = json.loads(json.dumps(results_summary(outcome.results, outcome.reason, outcome.cell_errors),
                                        default=float))
    scores = {r.grade_id: r.score for r in outcome.results}
    out = gradescope_results(scores, kit_results, hidden_visibility=hidden_visibility, details=True)
    out["output"] = summary(outcome, out["tests"], hidden_visibility)
    out["output_format"] = "md"
    return out


def write_results(folder: Path, results: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "results.json.partial"
    partial.write_bytes(untrusted.json_bytes(results, indent=1))
    os.replace(partial, folder / "results.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's folder (%(default)s)")
    args = parser.parse_args(argv)
    layout = Layout(args.root)
    config = {"hidden_visibility": "after_published"}
    try:
        close_folders(layout)
        config = json.loads((layout.source / "gradescope.json").read_text())
        outcome, how = grade(layout, config)
    except Exception as error:  # a fault of the grader's, not the student's: say so, score 0
        traceback.print_exc(file=sys.stdout)
        reason = f"the autograder failed ({type(error).__name__}); your instructor can see why in its output"
        outcome, how = Outcome("submission", _zeros(reason), reason=reason, grader_error=True), "failed"
    results = results_json(outcome, config.get("hidden_visibility", "after_published"))
    write_results(layout.results, results)
    print(f"{how}: {results['score']:g} / {spec.TOTAL_POINTS}")
    for test in results["tests"]:
        print(f"  {test['score']:g} / {test['max_score']:g}  {test['name'].split(':')[0]}")
    if outcome.reason:
        print(f"reason: {outcome.reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
