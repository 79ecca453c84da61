"""Does stock `nbgrader autograde` give the example class the same grades every time, under load?

    .venv/bin/python bench/autograde_stability.py [--runs 10] [--busy 2] [--student infinite_loop ...]

Releases a fresh copy of the course in a temporary folder, submits the example class of
examples/ (or the students named), keeps `--busy` processes spinning on the CPU (default: one
per core) and runs `nbgrader autograde --force` `--runs` times in a row. After each run it prints
the wall time, every student's total, how many cells nbgrader had to interrupt ("Timeout waiting
for execute reply") and whether the per-cell grades equal the first run's and the examples'
expected scores. Exits 1 when any run differs. Not part of `make test`: it takes about a minute
per run.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.course import course  # noqa: E402
from autograder.course.submissions import expected_scores, fill, read_examples  # noqa: E402

# nbgrader's log lines when a cell reaches Execute.timeout, and when a notebook fails as a whole.
CELL_TIMEOUT = "Timeout waiting for execute reply"
NOTEBOOK_FAILED = "There was an error processing"


def build_class(root: Path, students: list[str]) -> dict[str, dict[str, float]]:
    """Release the course at root and submit the chosen examples; student -> expected scores."""
    course.copy_course(ROOT, root)
    course.generate_release(root)
    release = nbformat.read(course.release_path(root), as_version=4)
    examples = [e for e in read_examples(ROOT / "examples") if not students or e.student in students]
    unknown = set(students) - {e.student for e in examples}
    if unknown:
        raise SystemExit(f"no example named {sorted(unknown)} in {ROOT / 'examples'}")
    for example in examples:
        course.submit(root, example.student, fill(release, example.all_answers()))
    return {e.student: expected_scores(e.wrong) for e in examples}


def spin(n: int) -> list[subprocess.Popen]:
    """n processes that keep one core each busy until terminated."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="autograde runs in a row")
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 1, help="busy-loop processes")
    parser.add_argument("--student", action="append", default=[], help="grade only these examples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        print(f"releasing a course in {root} ...", flush=True)
        expected = build_class(root, args.student)
        print(f"class: {', '.join(expected)}; {args.busy} busy process(es); {args.runs} run(s)", flush=True)
        spinners = spin(args.busy)
        first, differing = None, 0
        try:
            for run in range(1, args.runs + 1):
                start = time.monotonic()
                result = course.nbgrader(root, "autograde", "backprop", "--force", check=False)
                elapsed = time.monotonic() - start
                log = result.stdout + result.stderr
                scores = course.read_scores(root)
                first = first or scores
                same = scores == first
                right = scores == expected
                differing += not (same and right)
                totals = ", ".join(f"{s} {_total(c)}" for s, c in sorted(scores.items()))
                print(f"run {run:2d}: {elapsed:6.1f} s, exit {result.returncode}, "
                      f"{log.count(CELL_TIMEOUT)} cell timeout(s), {log.count(NOTEBOOK_FAILED)} failed notebook(s), "
                      f"{'same as run 1' if same else 'DIFFERS from run 1'}, "
                      f"{'as expected' if right else 'NOT as expected'}: {totals}", flush=True)
                if not right:
                    for student, cells in sorted(scores.items()):
                        wrong = {g: s for g, s in cells.items() if s != expected[student].get(g)}
                        if wrong:
                            print(f"    {student}: {wrong}", flush=True)
        finally:
            for process in spinners:
                process.terminate()
                process.wait()
    print(f"{args.runs - differing} of {args.runs} runs gave the expected grades")
    return 1 if differing else 0


def _total(cells: dict[str, float | None]) -> str:
    if any(score is None for score in cells.values()):
        return "ungraded"
    return f"{sum(cells.values()):g}"


if __name__ == "__main__":
    sys.exit(main())
