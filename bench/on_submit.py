"""On-submit feedback: how soon after `nbgrader submit` a student's page is fetchable, and how
fast the service gets through a deadline burst against the batch grader.

    .venv/bin/python bench/on_submit.py [--singles 10] [--burst 100]

A released course with an exchange; `python -m autograder watch` running as its own process.
Submissions land in the exchange's inbound/ as `nbgrader submit` leaves them (notebook, then
timestamp.txt, then submission_secret.txt; one real `nbgrader submit` first). Latency is from
the moment a submission is complete in inbound/ to the moment its page is where `nbgrader
fetch_feedback` looks. Prints p50/p95 for single submissions on an idle service (target: p50 <= 2 s,
p95 <= 5 s) and during a burst, and the burst's throughput against `python -m autograder grade`
on the same submissions (in submitted/ of a fresh course).
"""

import argparse
import datetime
import os
import secrets
import signal
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
from autograder.service import exchange  # noqa: E402
from autograder.service.ledger import quantile  # noqa: E402
from tests.submissions import MUTANTS, STYLES  # noqa: E402

COURSE_ID = "backprop-kit"


def env() -> dict:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def variants(release) -> list:
    answers = [dict(s.answers) for s in STYLES] + [{**reference_answers(), m.function: m.source} for m in MUTANTS]
    return [fill(release, a) for a in answers]


def stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")


def land(inbound: Path, student: str, nb) -> tuple[str, float]:
    """Place one submission as nbgrader submit does; (its secret, when it was complete)."""
    when = stamp()
    folder = inbound / f"{student}+{spec.ASSIGNMENT}+{when}"
    folder.mkdir()
    nbformat.write(nb, folder / f"{spec.NOTEBOOK}.ipynb")
    (folder / "timestamp.txt").write_text(when)
    secret = secrets.token_hex(64)
    (folder / "submission_secret.txt").write_text(secret)
    return secret, time.monotonic()


def wait_pages(outbound: Path, landed: dict[str, float], seconds: float) -> dict[str, float]:
    """secret -> seconds from landing to published, polling every 10 ms (bounded)."""
    names = {exchange.page_name(s): s for s in landed}
    out, deadline = {}, time.monotonic() + seconds
    while names and time.monotonic() < deadline:
        for name in [n for n in names if (outbound / n).is_file()]:
            secret = names.pop(name)
            out[secret] = time.monotonic() - landed[secret]
        time.sleep(0.01)
    if names:
        raise SystemExit(f"{len(names)} page(s) not published after {seconds} s")
    return out


def figures(label: str, latencies: list[float]) -> str:
    v = sorted(latencies)
    return f"{label}: n={len(v)} p50 {quantile(v, 0.5):.2f} s  p95 {quantile(v, 0.95):.2f} s  max {v[-1]:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None, help="the service's sandboxes (default: its own)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kit-on-submit-") as tmp:
        base = Path(tmp)
        root = course.copy_course(ROOT, base / "course")
        course.generate_release(root)
        release = nbformat.read(course.release_path(root), as_version=4)
        ex = base / "exchange"
        ex.mkdir(mode=0o777)
        with (root / "nbgrader_config.py").open("a") as config:
            config.write(f"\nc.Exchange.root = {str(ex)!r}\nc.KitWatch.limit = 1000\nc.KitWatch.poll_interval = 0.1\n")
        course.nbgrader(root, "release_assignment", spec.ASSIGNMENT)
        # One real `nbgrader submit`, from a student's own HOME.
        home = base / "home-first"
        (home / spec.ASSIGNMENT).mkdir(parents=True)
        nbformat.write(fill(release, reference_answers()), home / spec.ASSIGNMENT / f"{spec.NOTEBOOK}.ipynb")
        subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "submit", spec.ASSIGNMENT, "--course",
                        COURSE_ID, "--student=first", f"--Exchange.root={ex}"], cwd=home,
                       env={**env(), "HOME": str(home)}, check=True, capture_output=True)
        inbound, outbound = exchange.inbound(str(ex), COURSE_ID), exchange.outbound(str(ex), COURSE_ID)
        log = (base / "watch.log").open("w")
        command = [sys.executable, "-m", "autograder", "watch", spec.ASSIGNMENT]
        command += ["--workers", str(args.workers)] if args.workers else []
        service = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env())
        try:
            for _ in range(1200):
                if (outbound.is_dir() and any(outbound.glob("*.html"))) or service.poll() is not None:
                    break
                time.sleep(0.1)
            if service.poll() is not None:
                raise SystemExit(f"the service ended: {(base / 'watch.log').read_text()[-2000:]}")
            notebooks = variants(release)
            idle = []
            for i in range(args.singles):
                secret, when = land(inbound, f"idle{i:03d}", notebooks[i % len(notebooks)])
                idle += wait_pages(outbound, {secret: when}, 60).values()
                time.sleep(0.5)  # idle again
            landed = {}
            for i in range(args.burst):
                secret, when = land(inbound, f"burst{i:03d}", notebooks[i % len(notebooks)])
                landed[secret] = when
            first = min(landed.values())
            burst = wait_pages(outbound, landed, 900)
            burst_seconds = max(landed[s] + v for s, v in burst.items()) - first
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(120)
            log.close()
        # The batch grader on the same burst, in a fresh course's submitted/.
        batch_root = course.copy_course(ROOT, base / "batch")
        course.generate_release(batch_root)
        for i in range(args.burst):
            course.submit(batch_root, f"burst{i:03d}", notebooks[i % len(notebooks)])
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "autograder", "grade", spec.ASSIGNMENT], cwd=batch_root, env=env(),
                       check=True, capture_output=True)
        batch_seconds = time.monotonic() - start
        start = time.monotonic()
        subprocess.run([sys.executable, "-m", "autograder", "feedback", spec.ASSIGNMENT], cwd=batch_root, env=env(),
                       check=True, capture_output=True)
        feedback_seconds = time.monotonic() - start
    print(figures("idle service, one submission at a time", idle))
    print(figures(f"during a {args.burst}-submission burst", list(burst.values())))
    print(f"burst: {args.burst} pages published in {burst_seconds:.1f} s ({args.burst / burst_seconds:.2f}/s)")
    print(f"batch grader: `grade` {batch_seconds:.1f} s ({args.burst / batch_seconds:.2f}/s), "
          f"`grade` + `feedback` {batch_seconds + feedback_seconds:.1f} s (no release_feedback)")
    print(f"throughput ratio, service / batch grade: {batch_seconds / burst_seconds:.2f}; "
          f"service / batch grade + feedback: {(batch_seconds + feedback_seconds) / burst_seconds:.2f}")
    print(f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
