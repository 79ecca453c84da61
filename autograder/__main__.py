"""Command line: python -m autograder {build,release,demo} (run from the course root)."""

import argparse
import sys
from pathlib import Path

from . import build_notebook, course, demo, spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help=f"build source/{spec.ASSIGNMENT}/{spec.NOTEBOOK}.ipynb from its .py source")
    sub.add_parser("release", help="build, then regenerate release/ with nbgrader generate_assignment")
    demo_parser = sub.add_parser("demo", help="release, grade the example class, print and export the grades")
    demo_parser.add_argument("--examples", type=Path, default=None, help="folder of example submissions")
    args = parser.parse_args(argv)
    try:
        root = course.course_root()
        template = course.source_path(root).with_suffix(".py")
        changed = build_notebook.write(template, course.source_path(root))
        print(f"{course.source_path(root).relative_to(root)}: {'rebuilt' if changed else 'up to date'}")
        if args.command == "release":
            print(f"{course.generate_release(root).relative_to(root)}: regenerated")
        elif args.command == "demo":
            return demo.run(root, args.examples or root / "examples")
    except (course.CourseError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
