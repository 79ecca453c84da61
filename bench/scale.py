"""How the kit's grader scales: a generated class of thousands of submissions graded with one and
two local workers, on a Dask cluster over loopback, and with SQLite against PostgreSQL.

    .venv/bin/python bench/scale.py [--n 2000] [--postgres postgresql://...]

Prints submissions per second for each way, the 2-versus-1 scaling ratio, the Dask path's cost
over the local pool, SQLite against PostgreSQL, and the grader's peak memory (resident set of the
coordinator process; each sandbox zygote is reported apart). --postgres defaults to
KIT_TEST_POSTGRES (`bash .ci/postgres.sh` starts a server and prints its URL).
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.course import course  # noqa: E402
from autograder.course.submissions import fill, reference_answers  # noqa: E402
from autograder.homework import spec  # noqa: E402
from tests.submissions import MUTANTS, STYLES  # noqa: E402

BIN = Path(sys.executable).parent


def build(root: Path, n: int, db_url: str | None = None) -> Path:
    course.copy_course(ROOT, root)
    if db_url:
        config = root / "nbgrader_config.py"
        config.write_text(re.sub(r"^c\.CourseDirectory\.db_url =.*$", f"c.CourseDirectory.db_url = {db_url!r}",
                                 config.read_text(), flags=re.MULTILINE))
    course.generate_release(root)
    release = nbformat.read(course.release_path(root), as_version=4)
    reference = reference_answers()
    variants = [s.answers for s in STYLES] + [{**reference, m.function: m.source} for m in MUTANTS]
    texts = [nbformat.writes(fill(release, v)) for v in variants]
    for i in range(n):
        folder = root / "submitted" / f"s{i:05d}" / spec.ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{spec.NOTEBOOK}.ipynb").write_text(texts[i % len(texts)])
    return root


def grade(root: Path, *args: str) -> tuple[float, float, float]:
    """Wall seconds of one forced grading run, the coordinator's peak RSS and a zygote's (MiB)."""
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "autograder", "grade", spec.ASSIGNMENT, "--force", *args],
                            cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    me, peak, zygote = psutil.Process(proc.pid), 0.0, 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, me.memory_info().rss / 2**20)
            for child in me.children(recursive=True):
                if "autograder.running.sandbox.worker" in " ".join(child.cmdline()):
                    zygote = max(zygote, child.memory_info().rss / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
    if proc.returncode != 0:
        raise SystemExit(f"grading failed in {root} (exit {proc.returncode})")
    return time.monotonic() - start, peak, zygote


def dask_cluster(folder: Path, workers: int):
    scheduler_file = folder / "scheduler.json"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--scheduler-file", str(scheduler_file), "--no-dashboard"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    while not scheduler_file.exists():
        time.sleep(0.1)
    procs.append(subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file),
                                   "--nworkers", str(workers), "--nthreads", "1", "--no-dashboard",
                                   "--host", "127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    address = json.loads(scheduler_file.read_text())["address"]
    from distributed import Client

    with Client(address) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def postgres_database(url: str) -> str:
    import psycopg2
    from sqlalchemy.engine import make_url

    name = f"kit_scale_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="submissions in the class")
    parser.add_argument("--postgres", default=os.environ.get("KIT_TEST_POSTGRES"), help="server URL")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = build(Path(tmp) / "sqlite", args.n)
        print(f"class: {args.n} submissions ({len(STYLES)} correct styles and {len(MUTANTS)} mutants, cycled)")
        for label, extra in (("local, 1 worker", ["--workers", "1"]), ("local, 2 workers", ["--workers", "2"])):
            rows.append((label, *grade(root, *extra)))
            print(f"{label:28s} {rows[-1][1]:7.1f} s  {args.n / rows[-1][1]:6.1f}/s  "
                  f"coordinator peak {rows[-1][2]:.0f} MiB, a sandbox zygote {rows[-1][3]:.0f} MiB", flush=True)
        address, procs = dask_cluster(Path(tmp), 2)
        try:
            rows.append(("Dask on loopback, 2 workers", *grade(root, "--scheduler", address)))
            print(f"{rows[-1][0]:28s} {rows[-1][1]:7.1f} s  {args.n / rows[-1][1]:6.1f}/s  "
                  f"coordinator peak {rows[-1][2]:.0f} MiB", flush=True)
        finally:
            for proc in procs:
                os.killpg(proc.pid, signal.SIGKILL)
        if args.postgres:
            pg_root = build(Path(tmp) / "postgres", args.n, postgres_database(args.postgres))
            rows.append(("PostgreSQL, 2 workers", *grade(pg_root, "--workers", "2")))
            print(f"{rows[-1][0]:28s} {rows[-1][1]:7.1f} s  {args.n / rows[-1][1]:6.1f}/s  "
                  f"coordinator peak {rows[-1][2]:.0f} MiB", flush=True)
    t = {label: seconds for label, seconds, *_ in rows}
    print(f"\nscaling, 2 workers against 1: {t['local, 1 worker'] / t['local, 2 workers']:.2f}x")
    print(f"Dask on loopback against the local pool: {t['Dask on loopback, 2 workers'] / t['local, 2 workers']:.2f}x "
          "the time")
    if "PostgreSQL, 2 workers" in t:
        print(f"PostgreSQL against SQLite: {t['PostgreSQL, 2 workers'] / t['local, 2 workers']:.2f}x the time")
    print(f"coordinator peak memory: {max(r[2] for r in rows):.0f} MiB")


if __name__ == "__main__":
    main()
