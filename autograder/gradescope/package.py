"""`python -m autograder gradescope`: the Gradescope autograder zip, built from the course.

The zip holds, at its root: setup.sh and run_autograder (Gradescope's two entry points),
requirements.lock (the kit's pinned requirements), gradescope.json (the choices made at build
time), the kit's grading code (autograder/, solutions/ with the reference) and the source
notebook (its test cells, visible tests and read-only cells). Nothing else of the course goes
in: no gradebook, submissions, feedback or tests. Gradescope unpacks it into /autograder/source,
which setup.sh and the runner close to everyone but root.

Entries are sorted and carry fixed timestamps and permissions, so the same course gives the
same bytes every time.
"""

import json
import zipfile
from pathlib import Path

from ..authoring import build_notebook
from ..course import course
from ..homework import spec
from ..outputs.export import VISIBILITIES

HERE = Path(__file__).resolve().parent
# The user student code runs as; setup.sh creates it.
STUDENT_USER = "kit-student"
SANDBOXES = ("auto", "limits")
CONFIG = "gradescope.json"
# ZIP's earliest date: no build time leaks into the bytes.
EPOCH = (1980, 1, 1, 0, 0, 0)


def _code_files(root: Path) -> list[str]:
    """The kit's Python packages that grading needs, as paths relative to root."""
    files = []
    for package in ("autograder", "solutions"):
        files += [p.relative_to(root).as_posix() for p in (root / package).rglob("*.py")
                  if "__pycache__" not in p.parts]
    return files


def contents(root: Path, hidden_visibility: str = "after_published", sandbox: str = "auto") -> dict[str, bytes]:
    """Archive name -> bytes of everything the zip holds."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"--hidden-visibility must be one of {', '.join(VISIBILITIES)}, not {hidden_visibility!r}")
    if sandbox not in SANDBOXES:
        raise ValueError(f"--sandbox must be one of {', '.join(SANDBOXES)}, not {sandbox!r}")
    notebook = course.source_path(root).relative_to(root).as_posix()
    config = {"assignment": spec.ASSIGNMENT, "hidden_visibility": hidden_visibility, "sandbox": sandbox,
              "user": STUDENT_USER, "notebook": notebook}
    files = {name: (root / name).read_bytes() for name in [*_code_files(root), notebook, "requirements.lock"]}
    files["setup.sh"] = (HERE / "setup.sh").read_bytes()
    files["run_autograder"] = (HERE / "run_autograder").read_bytes()
    files[CONFIG] = (json.dumps(config, indent=1, sort_keys=True) + "\n").encode()
    return files


def write_zip(files: dict[str, bytes], target: Path) -> Path:
    """A zip of files with sorted entries, fixed dates and permissions (scripts executable)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.create_system = 3  # Unix, so that unzip applies the permissions below
            mode = 0o755 if name in ("setup.sh", "run_autograder") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name], compresslevel=9)
    return target


def build(root: Path, target: Path, hidden_visibility: str = "after_published", sandbox: str = "auto") -> Path:
    """Rebuild the source notebook if its .py changed, then write the zip to target."""
    build_notebook.write(course.source_path(root).with_suffix(".py"), course.source_path(root))
    return write_zip(contents(root, hidden_visibility, sandbox), target)


def run(assignment: str, out: Path | None, hidden_visibility: str, sandbox: str) -> int:
    if assignment != spec.ASSIGNMENT:
        raise course.CourseError(f"this kit builds a Gradescope autograder for {spec.ASSIGNMENT!r}, not {assignment!r}")
    root = course.course_root()
    target = build(root, out or root / f"{spec.ASSIGNMENT}-gradescope.zip", hidden_visibility, sandbox)
    with zipfile.ZipFile(target) as archive:
        count = len(archive.namelist())
    print(f"Wrote {target} ({count} files, {target.stat().st_size // 1024} KiB). Upload it as the autograder of a "
          f"Gradescope programming assignment worth {spec.TOTAL_POINTS} points; the tests that run hidden checks "
          f"have visibility {hidden_visibility!r}.")
    return 0
