"""Stock `nbgrader autograde` against the kit's grader on the same generated class, in one run.

    .venv/bin/python bench/grade_throughput.py [--n 40] [--workers 2]

Prints both wall times and their ratio (goal: the kit at least 10x faster), the kit's time per
submission and its overhead beyond the checks themselves (goal: under 50 ms), and the floor:
the CPU time the checks (visible and hidden) take on the reference solution in one process.
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
from autograder.course.submissions import fill, reference_answers  # noqa: E402
from autograder.homework import spec  # noqa: E402
from autograder.judging.scoring import grade_cells  # noqa: E402
from autograder.judging.visible import visible_tests  # noqa: E402
from autograder.running.in_process import InProcess  # noqa: E402
from solutions import backprop  # noqa: E402
from tests.submissions import MUTANTS, STYLES  # noqa: E402


def build_class(root: Path, n: int, reference_only: bool = False) -> None:
    course.copy_course(ROOT, root)
    course.generate_release(root)
    release = nbformat.read(course.release_path(root), as_version=4)
    reference = reference_answers()
    variants = [dict(s.answers) for s in STYLES] + [{**reference, m.function: m.source} for m in MUTANTS]
    variants = [reference] if reference_only else variants
    for i in range(n):
        course.submit(root, f"student{i:04d}", fill(release, variants[i % len(variants)]))


def floor_seconds(repeat: int = 20) -> float:
    """CPU seconds per submission of all checks on the reference, in this process."""
    visible = visible_tests(nbformat.read(course.source_path(ROOT), as_version=4))
    executor = InProcess({name: getattr(backprop, name) for name in spec.FUNCTIONS})
    grade_cells(executor, visible)  # warm caches, as a long-running grader would be
    start = time.process_time()
    for _ in range(repeat):
        grade_cells(executor, visible)
    return (time.process_time() - start) / repeat


def timed(args: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.monotonic()
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                                 **(env or {})})
    elapsed = time.monotonic() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{args[0]} failed:\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40, help="submissions in the class")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stock_root, kit_root = Path(tmp) / "stock", Path(tmp) / "kit"
        build_class(stock_root, args.n)
        build_class(kit_root, args.n)
        print(f"class: {args.n} submissions ({len(STYLES)} correct styles and {len(MUTANTS)} mutants, cycled)")
        # nbgrader_config.py routes `nbgrader autograde` through the kit; the switch restores stock.
        stock = timed([str(Path(sys.executable).parent / "nbgrader"), "autograde", spec.ASSIGNMENT], stock_root,
                      {"BACKPROP_KIT_NBGRADER": "stock"})
        print(f"stock nbgrader autograde: {stock:7.1f} s  ({stock / args.n:.2f} s per submission)")
        kit = timed([sys.executable, "-m", "autograder", "grade", spec.ASSIGNMENT, "--workers", str(args.workers)],
                    kit_root)
        print(f"kit grader ({args.workers} workers): {kit:7.1f} s  ({kit / args.n:.2f} s per submission, "
              "start-up included)")
        print(f"ratio stock / kit: {stock / kit:.1f}x")
        # Overhead: one worker grading copies of the reference, against the same checks in one process.
        ref_root, n_ref = Path(tmp) / "reference", 21
        build_class(ref_root, n_ref, reference_only=True)
        grade = [sys.executable, "-m", "autograder", "grade", spec.ASSIGNMENT, "--workers", "1"]
        once = timed(grade + ["--student", "student0000"], ref_root)  # start-up + 1 submission
        rest = timed(grade, ref_root)  # start-up + the other n_ref - 1 (the first is skipped)
        per_submission = (rest - once) / (n_ref - 2)
        floor = floor_seconds()
        print(f"floor (visible and hidden checks on the reference, one process): {floor * 1000:.0f} ms CPU "
              "per submission")
        # Wall time: the sandboxes' CPU does not reach this process's rusage (bubblewrap's namespace
        # reaps them), so a CPU figure here would undercount.
        print(f"kit, one worker, reference submissions: {per_submission * 1000:.0f} ms per submission; "
              f"overhead beyond the floor: {(per_submission - floor) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
