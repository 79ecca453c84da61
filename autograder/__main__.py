"""Command line: python -m autograder {build,release,demo,grade,feedback,export,report,gradescope,watch}
(run from the course root)."""

import argparse
import gc
import os
import sys
import traceback
from pathlib import Path


def _cannot_load(error: Exception) -> int:
    """An edit broke a kit file (most often autograder/homework/spec.py): say which file and line, not a traceback."""
    kit = Path(__file__).resolve().parents[1]
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(str(kit))]
    if isinstance(error, SyntaxError) and error.filename:
        where = f"{Path(error.filename).resolve().relative_to(kit)}:{error.lineno}"
    else:
        where = f"{Path(frames[-1].filename).relative_to(kit)}:{frames[-1].lineno}" if frames else "the kit"
    print(f"error: {where} does not load: {type(error).__name__}: {error}\n"
          "fix: correct that line (see README.md, \"Customising the homework\")", file=sys.stderr)
    return 2


try:
    # First, before anything imports nbformat or nbgrader: what grading does not need stays unloaded.
    from .course.lean_imports import lean_imports

    lean_imports()
    # Only what building the command line needs; each command imports its own modules (_load).
    from .course import course
    from .homework import spec
    from .running.sandbox.launch import Limits, SandboxError
except Exception as _error:  # reported with its file and line
    sys.exit(_cannot_load(_error))


def _load(*names: str):
    """The kit's modules a command needs (dotted names under autograder), imported now: a broken
    one is reported with its file and line, as at start-up."""
    import importlib

    try:
        modules = [importlib.import_module(f"{__package__}.{name}") for name in names]
    except Exception as error:
        sys.exit(_cannot_load(error))
    return modules[0] if len(modules) == 1 else modules


class _Choices:
    """An option's choices, read from their module when argparse first needs them (that option
    given, or the help printed): `grade` forks its workers before the other commands' modules load."""

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def _values(self) -> tuple:
        return getattr(_load(self.module), self.name)

    def __contains__(self, value) -> bool:
        return value in self._values()

    def __iter__(self):
        return iter(self._values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help=f"build source/{spec.ASSIGNMENT}/{spec.NOTEBOOK}.ipynb from its .py source")
    release_parser = sub.add_parser("release", help="self-test the homework (spec, reference graded both ways), "
                                    "build, then regenerate release/ with nbgrader generate_assignment")
    release_parser.add_argument("--sandbox", choices=("auto", "bwrap", "limits"), default="auto",
                                help="the sandbox the self-test grades the reference in")
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
    grade_parser.add_argument("--submission-time-limit", type=float, default=defaults.submission_seconds,
                              help="seconds of cells and calls in all for one submission; the rest of its "
                                   "checks fail as too slow (default %(default)s)")
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
    report_parser = sub.add_parser("report", help="the class report for the instructor: reports/<assignment>.html")
    report_parser.add_argument("assignment")
    gradescope_parser = sub.add_parser("gradescope", help="build the Gradescope autograder zip from the course")
    gradescope_parser.add_argument("assignment")
    gradescope_parser.add_argument("--out", type=Path, default=None,
                                   help=f"the zip to write (default {spec.ASSIGNMENT}-gradescope.zip)")
    gradescope_parser.add_argument("--hidden-visibility", choices=_Choices("outputs.export", "VISIBILITIES"),
                                   default="after_published",
                                   help="when students see the tests that run hidden checks (default %(default)s)")
    gradescope_parser.add_argument("--sandbox", choices=("auto", "limits"), default="auto",
                                   help="bubblewrap where it starts, else limits (auto); or limits only")
    watch_parser = sub.add_parser("watch", help="grade each submission as it arrives in the exchange and publish "
                                  "its feedback (a long-running service; README: On-submit feedback)")
    watch_parser.add_argument("assignment")
    watch_parser.add_argument("--status", action="store_true", help="print the running service's status and exit")
    watch_parser.add_argument("--sandbox", choices=("auto", "bwrap", "limits"), default="auto")
    watch_parser.add_argument("--exchange", default=None, help="nbgrader's exchange root (default c.Exchange.root)")
    watch_parser.add_argument("--workers", type=int, default=None, help="warm sandboxes (default c.KitWatch.workers)")
    args = parser.parse_args(argv)
    # nbgrader's database layer starts `alembic` by name: make this environment's scripts findable.
    os.environ["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        if args.command == "grade":
            if min(args.time_limit, args.submission_time_limit) <= 0:
                raise ValueError("--time-limit and --submission-time-limit take a number of seconds above 0")
            limits = Limits(args.time_limit, args.cpu_limit, args.memory_limit, args.max_processes,
                            args.max_file_size, args.max_scratch, args.submission_time_limit)
            # The workers fork first, with only the light modules loaded: their sandboxes start
            # while this process imports the grader, runs the self-test and reads the gradebook.
            early = _load("grading.early").start_early(args.assignment, args.student, args.workers, limits,
                                                       args.sandbox, args.scheduler)
            try:
                grade = _load("grading.grade")
                _load("authoring.selftest").before_grading(course.course_root())
            except BaseException:
                if early is not None:
                    early.shutdown(cancel_futures=True)
                raise
            return grade.run(args.assignment, args.student, args.workers, args.force, limits, args.sandbox,
                             args.scheduler, early)
        if args.command == "feedback":
            return _load("outputs.feedback").run(args.assignment, args.student)
        if args.command == "report":
            return _load("outputs.class_report").run(args.assignment)
        if args.command == "export":
            return _load("outputs.export").run(args.assignment, args.format, args.out)
        if args.command == "watch":
            return _load("service.watch").run(args.assignment, args.status, args.sandbox, args.exchange,
                                              args.workers)
        if args.command == "gradescope":
            return _load("gradescope.package").run(args.assignment, args.out, args.hidden_visibility, args.sandbox)
        selftest, build_notebook = _load("authoring.selftest", "authoring.build_notebook")
        root = course.course_root()
        template = course.source_path(root).with_suffix(".py")
        if args.command == "build":
            problems = selftest.spec_problems(spec, template)
            if problems:
                raise selftest.SelfTestFailed(problems, "build refused")
            changed = build_notebook.write(template, course.source_path(root))
            print(f"{course.source_path(root).relative_to(root)}: {'rebuilt' if changed else 'up to date'}")
            return 0
        # release and demo: nothing is written unless the homework passes its self-test.
        built = selftest.before_release(root, template, getattr(args, "sandbox", "auto"))
        text = build_notebook.render(built)
        target = course.source_path(root)
        changed = not target.exists() or target.read_text() != text
        if changed:
            target.write_text(text)
        print(f"{target.relative_to(root)}: {'rebuilt' if changed else 'up to date'}")
        _update_readme(root, built)
        if args.command == "release":
            print(f"{course.generate_release(root).relative_to(root)}: regenerated")
        elif args.command == "demo":
            return _load("demo").run(root, args.examples or root / "examples")
    except (course.CourseError, SandboxError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _update_readme(root: Path, source) -> None:
    """Rewrite README.md's generated grading section, when the course has that README."""
    from .homework import spec_text
    from .judging.visible import visible_tests

    readme = root / "README.md"
    if readme.is_file() and spec_text.README_BEGIN in readme.read_text():
        changed = spec_text.update_readme(readme, visible_tests(source))
        print(f"README.md: grading section {'rewritten from the spec' if changed else 'up to date'}")


if __name__ == "__main__":
    code = main()
    # Nothing is collected at exit: the final collection of nbgrader's and sqlalchemy's objects
    # alone took a quarter of a second (open files are closed and output flushed all the same).
    gc.freeze()
    sys.exit(code)
