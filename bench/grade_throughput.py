"""Stock `nbgrader autograde`, nbgrader routed through the kit, and the kit's grader on the same
generated class, in one run (optionally Otter-Grader 7's `otter run` too).

    .venv/bin/python bench/grade_throughput.py [--n 70] [--small 10] [--workers 2] [--otter PATH]

Prints, with the wall times: the ratios against stock nbgrader (BACKPROP_KIT_NBGRADER=stock) of
the kit's `grade` and of `nbgrader autograde` routed through the kit (and against `otter run`, two
at a time, when --otter names an `otter` executable or one is on PATH: never a dependency of the
project); the fixed cost (one submission end to end, with and without the self-test, and the
interpreter and imports alone); the marginal cost (the slope between --small and --n
submissions); the floor (CPU of every check on the reference in one process); and the stages of
the kit's run (start-up, grading, as its run log records them). Times, not assertions: nothing
here fails on a slow machine.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.authoring import selftest  # noqa: E402
from autograder.course import course, records  # noqa: E402
from autograder.course.submissions import fill, reference_answers  # noqa: E402
from autograder.homework import spec  # noqa: E402
from autograder.judging.scoring import grade_cells  # noqa: E402
from autograder.judging.visible import visible_tests  # noqa: E402
from autograder.running.in_process import InProcess  # noqa: E402
from solutions import backprop  # noqa: E402
from tests.submissions import MUTANTS, STYLES  # noqa: E402

BIN = Path(sys.executable).parent
OTTER_HOMEWORK = Path("/work/shared/peers/otter")


def variants(reference_only: bool = False) -> list[dict[str, str]]:
    """The answers the class cycles through: the correct styles, then each mutant."""
    reference = reference_answers()
    if reference_only:
        return [reference]
    return [dict(s.answers) for s in STYLES] + [{**reference, m.function: m.source} for m in MUTANTS]


_released: list[Path] = []  # one released course (gradebook included), copied for each class


def build_class(root: Path, n: int, reference_only: bool = False) -> Path:
    if not _released:
        template = root.parent / "released"
        course.copy_course(ROOT, template)
        course.generate_release(template)
        selftest.before_grading(template)  # as after an instructor's first `grade` (its fingerprint is copied)
        _released.append(template)
    shutil.copytree(_released[0], root)
    release = nbformat.read(course.release_path(root), as_version=4)
    answers = variants(reference_only)
    for i in range(n):
        course.submit(root, f"student{i:04d}", fill(release, answers[i % len(answers)]))
    return root


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
                            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})})
    elapsed = time.monotonic() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{result.stderr[-2000:]}")
    return elapsed


def kit_grade(root: Path, workers: int, *extra: str) -> tuple[float, float]:
    """Wall seconds of `python -m autograder grade --force`, and the seconds its run log records
    from reading the class to the last score written (the rest is start-up and self-test)."""
    wall = timed([sys.executable, "-m", "autograder", "grade", spec.ASSIGNMENT, "--force", "--workers",
                  str(workers), *extra], root)
    inside = json.loads(records.run_log(root).read_text().splitlines()[-1])["seconds"]
    return wall, inside


def routed(root: Path) -> float:
    return timed([str(BIN / "nbgrader"), "autograde", spec.ASSIGNMENT, "--force"], root)


def stock(root: Path) -> float:
    return timed([str(BIN / "nbgrader"), "autograde", spec.ASSIGNMENT, "--force"], root,
                 {course.STOCK_SWITCH: "stock"})


# --- Otter-Grader 7, when installed (the homework ported to Otter lives in OTTER_HOMEWORK) ------

def otter_notebook(answers: dict[str, str]) -> nbformat.NotebookNode:
    """Otter's student notebook with each answer cell holding the function it asks for."""
    nb = nbformat.read(OTTER_HOMEWORK / "dist" / "student" / "backprop.ipynb", as_version=4)
    answers = {**reference_answers(), **answers}
    for cell in nb.cells:
        if cell.cell_type == "code" and "otter_answer_cell" in cell.metadata.get("tags", []):
            for name in spec.FUNCTIONS:
                if f"def {name}(" in cell.source:
                    cell.source = answers[name]
    return nb


def otter_class(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True)
    answers = variants()
    paths = []
    for i in range(n):
        path = folder / f"student{i:04d}.ipynb"
        nbformat.write(otter_notebook(answers[i % len(answers)]), path)
        paths.append(path)
    return paths


def otter_seconds(otter: str, notebooks: list[Path], out: Path, parallel: int = 2) -> float:
    """`otter run` on each notebook, `parallel` at a time (Otter's `grade` needs Docker)."""
    autograder = sorted((OTTER_HOMEWORK / "dist" / "autograder").glob("backprop-autograder_*.zip"))[-1]

    def one(path: Path) -> None:
        target = out / path.stem
        target.mkdir(parents=True)
        subprocess.run([otter, "run", "-a", str(autograder), "-o", str(target), "--no-logo", str(path)],
                       capture_output=True, text=True, check=True)

    start = time.monotonic()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, notebooks))
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=70, help="submissions in the class")
    parser.add_argument("--small", type=int, default=10, help="the smaller class of the marginal cost's slope")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-stock", action="store_true", help="skip stock nbgrader (minutes on a large class)")
    parser.add_argument("--otter", default=shutil.which("otter"), help="an `otter` executable (Otter-Grader 7)")
    parser.add_argument("--otter-n", type=int, default=30, help="submissions Otter grades")
    args = parser.parse_args()
    print("Wall times on this machine as it is now; a busy machine inflates all of them.")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"class: {args.n} submissions ({len(STYLES)} correct styles and {len(MUTANTS)} mutants, cycled)")
        stock_s = None
        if not args.no_stock:
            stock_s = stock(build_class(tmp / "stock", args.n))
            print(f"stock nbgrader autograde:        {stock_s:7.1f} s  ({stock_s / args.n:.2f} s per submission)")
        routed_s = routed(build_class(tmp / "routed", args.n))
        print(f"nbgrader autograde via the kit:  {routed_s:7.1f} s  ({routed_s / args.n:.2f} s per submission)")
        kit_root = build_class(tmp / "kit", args.n)
        kit_s, kit_inside = kit_grade(kit_root, args.workers)
        print(f"kit grade ({args.workers} workers):            {kit_s:7.1f} s  ({kit_s / args.n:.3f} s per submission, "
              "start-up included)")
        if stock_s:
            print(f"ratio stock / kit grade:         {stock_s / kit_s:7.1f}x")
            print(f"ratio stock / routed nbgrader:   {stock_s / routed_s:7.1f}x")
        if args.otter:
            otter_s = otter_seconds(args.otter, otter_class(tmp / "otter", args.otter_n), tmp / "otter-out")
            small_root = build_class(tmp / "kit-otter", args.otter_n)
            kit_small, _ = kit_grade(small_root, args.workers)
            print(f"otter run, 2 at a time ({args.otter_n}):      {otter_s:7.1f} s; kit grade {kit_small:.1f} s; "
                  f"ratio {otter_s / kit_small:.1f}x")
        else:
            print("otter: not installed (see /work/shared/peers/otter/README.md; pass --otter PATH)")

        # Fixed cost: one submission; the first run of a homework pays the self-test, later ones do not.
        one_root = build_class(tmp / "one", 1)
        selftest.passed_file(one_root).unlink()
        first, _ = kit_grade(one_root, 1)
        again = [kit_grade(one_root, 1) for _ in range(3)]
        one_s, one_inside = min(again)
        imports = min(timed([sys.executable, "-m", "autograder", "--help"], one_root) for _ in range(3))
        print(f"fixed cost, 1 submission end to end: {one_s:.2f} s ({first:.2f} s on the homework's first run, "
              "with the self-test)")
        # The workers fork (and their sandboxes start) right after the command line's imports; the
        # coordinator meanwhile imports the grader and nbgrader and reads the gradebook. The run log's
        # seconds start once the class is read, so they hold whatever wait for the sandbox is left.
        print(f"  stages: interpreter and command-line imports (until the workers fork) {imports:.2f} s; "
              f"coordinator start-up (grader and nbgrader imports, self-test check, gradebook; the sandboxes "
              f"start meanwhile) {one_s - one_inside - imports:.2f} s; the rest of the sandbox's start, "
              f"grading and recording {one_inside:.2f} s")

        # Marginal cost: the slope between a small and the full class, on the same workers.
        small_root = build_class(tmp / "small", args.small)
        small_s, small_inside = kit_grade(small_root, args.workers)
        slope = (kit_s - small_s) / max(args.n - args.small, 1)
        print(f"marginal cost ({args.small} -> {args.n} submissions, {args.workers} workers): "
              f"{slope * 1000:.0f} ms wall per submission")
        print(f"  stages at {args.n}: start-up {kit_s - kit_inside:.2f} s, grading and recording {kit_inside:.2f} s")
        floor = floor_seconds()
        print(f"floor (visible and hidden checks on the reference, one process): {floor * 1000:.0f} ms CPU "
              "per submission")


if __name__ == "__main__":
    main()
