"""Command line: python -m autograder {build,release,demo,grade,feedback,export,gradescope}
(run from the course root)."""

import argparse
import os
import sys
from pathlib import Path

from . import build_notebook, course, demo, export, feedback, grade, spec
from .sandbox.launch import Limits, SandboxError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help=f"build source/{spec.ASSIGNMENT}/{spec.NOTEBOOK}.ipynb from its .py source")
    sub.add_parser("release", help="build, then regenerate release/ with nbgrader generate_assignment")
    demo_parser = sub.add_parser("demo", help="release, grade the example class, print and export the grades")
    demo_parser.add_argument("--examples", type=Path, default=None, help="folder of example submissions")
    grade_parser = sub.add_parser("grade", help="grade submissions in sandboxes, in parallel; scores to the gradebook")
    grade_parser.add_argument("assignment", help=f"the assignment id ({spec.ASSIGNMENT})")
    grade_parser.add_argument("--student", action="append", help="grade only this student (repeatable)")
    grade_parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel sandboxes")
    grade_parser.add_argument("--force", action="store_true", help="grade again students already graded")
    defaults = Limits()
    grade_parser.add_argument("--time-limit", type=float, default=defaults.seconds,
                              help="seconds for one call into student code (default %(default)s)")
    grade_parser.add_argument("--cpu-limit", type=int, default=defaults.cpu_seconds,
                              help="CPU seconds for one submission (default %(default)s)")
    grade_parser.add_argument("--memory-limit", type=int, default=defaults.memory_mb,
                              help="MiB of memory for one submission (default %(default)s)")
    grade_parser.add_argument("--max-processes", type=int, default=defaults.processes,
                              help="processes a submission may start (default %(default)s)")
    grade_parser.add_argument("--max-file-size", type=int, default=defaults.file_mb,
                              help="MiB of the largest file a submission may write (default %(default)s)")
    grade_parser.add_argument("--max-scratch", type=int, default=defaults.scratch_mb,
                              help="MiB a submission may write in all, under bubblewrap (default %(default)s)")
    grade_parser.add_argument("--sandbox", choices=("auto", "bwrap", "limits"), default="auto",
                              help="bubblewrap, resource limits only, or bubblewrap when installed")
    grade_parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                              help="grade on a Dask distributed cluster (tcp://host:port); default: this machine")
    feedback_parser = sub.add_parser("feedback", help="an HTML feedback page per student under feedback/")
    feedback_parser.add_argument("assignment")
    feedback_parser.add_argument("--student", action="append", help="only this student (repeatable)")
    export_parser = sub.add_parser("export", help="grades to a CSV (per function) or to Gradescope's results.json")
    export_parser.add_argument("assignment")
    export_parser.add_argument("--format", choices=("csv", "gradescope"), default="csv")
    export_parser.add_argument("--out", type=Path, default=None,
                               help="file (csv) or folder (gradescope); default under exports/")
    gradescope_parser = sub.add_parser("gradescope", help="build the Gradescope autograder zip from the course")
    gradescope_parser.add_argument("assignment")
    gradescope_parser.add_argument("--out", type=Path, default=None,
                                   help=f"the zip to write (default {spec.ASSIGNMENT}-gradescope.zip)")
    gradescope_parser.add_argument("--hidden-visibility", choices=export.VISIBILITIES, default="after_published",
                                   help="when students see the tests that run hidden checks (default %(default)s)")
    gradescope_parser.add_argument("--sandbox", choices=("auto", "limits"), default="auto",
                                   help="bubblewrap where it starts, else limits (auto); or limits only")
    args = parser.parse_args(argv)
    # nbgrader's database layer starts `alembic` by name: make this environment's scripts findable.
    os.environ["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        if args.command == "grade":
            limits = Limits(args.time_limit, args.cpu_limit, args.memory_limit, args.max_processes,
                            args.max_file_size, args.max_scratch)
            return grade.run(args.assignment, args.student, args.workers, args.force, limits, args.sandbox,
                             args.scheduler)
        if args.command == "feedback":
            return feedback.run(args.assignment, args.student)
        if args.command == "export":
            return export.run(args.assignment, args.format, args.out)
        if args.command == "gradescope":
            from .gradescope import package

            return package.run(args.assignment, args.out, args.hidden_visibility, args.sandbox)
        root = course.course_root()
        template = course.source_path(root).with_suffix(".py")
        changed = build_notebook.write(template, course.source_path(root))
        print(f"{course.source_path(root).relative_to(root)}: {'rebuilt' if changed else 'up to date'}")
        if args.command == "release":
            print(f"{course.generate_release(root).relative_to(root)}: regenerated")
        elif args.command == "demo":
            return demo.run(root, args.examples or root / "examples")
    except (course.CourseError, SandboxError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
