"""What `grade` does before it loads nbformat, nbgrader or the checks: find the class's
submissions and fork the worker processes, whose sandboxes then start on the other core while
the coordinator imports the rest, runs the self-test and reads the gradebook.

Only light modules here (the course folder, the spec, the sandbox's launcher): whatever this
module imports, each forked worker has before its zygote starts.
"""

from pathlib import Path

from ..course import course
from ..homework import spec
from ..running.sandbox.launch import Limits, resolve


def find_submissions(root: Path, students: list[str] | None) -> dict[str, Path]:
    """submitted/<student>/<assignment>/ by student (only `students`, each of which must have one)."""
    submitted = root / "submitted"
    found = {p.parent.name: p for p in sorted(submitted.glob(f"*/{spec.ASSIGNMENT}")) if p.is_dir()}
    if students:
        missing = [s for s in students if s not in found]
        if missing:
            raise course.CourseError(f"no submission for {', '.join(missing)} under {submitted}/<student>/"
                                     f"{spec.ASSIGNMENT}/")
        found = {s: found[s] for s in students}
    return found


def start_early(assignment: str, students: list[str] | None, workers: int, limits: Limits,
                sandbox: str = "auto", scheduler: str | None = None):
    """The local worker processes and their sandboxes (a ProcessPoolExecutor), started before the
    self-test and the gradebook are read (grade.run's `early`); None when run will not grade here
    (a cluster, nothing submitted, or an error run reports itself)."""
    if scheduler or assignment != spec.ASSIGNMENT:
        return None
    try:
        root = course.course_root()
        source_text = course.source_path(root).read_text()
        count = len(find_submissions(root, students))
    except (course.CourseError, OSError):
        return None
    if not count:
        return None
    from .workers import start_pool

    return start_pool(source_text, limits, resolve(sandbox), max(1, min(workers, count)))
