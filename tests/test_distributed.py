"""Grading on a real Dask cluster over loopback: a scheduler and worker processes started with
Dask's own command line, the kit's grader as the coordinator (`--scheduler ADDRESS`)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, read_examples
from tests.conftest import ROOT, kit_grade, released_course
from tests.submissions import STYLES

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler on 127.0.0.1 and two single-threaded worker processes (with their nannies)."""
    folder = tmp_path_factory.mktemp("dask")
    scheduler_file = folder / "scheduler.json"
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                  "--scheduler-file", str(scheduler_file), *common],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    workers = subprocess.Popen([str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file), "--nworkers",
                                "2", "--nthreads", "1", "--host", "127.0.0.1", *common],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    from distributed import Client

    try:
        for _ in range(300):
            if scheduler_file.exists():
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in (workers, scheduler):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def make_class(root: Path, copies: int) -> dict[str, dict]:
    root, release = released_course(root)
    expected = {}
    for example in read_examples(ROOT / "examples"):
        course.submit(root, example.student, fill(release, example.all_answers()))
        expected[example.student] = expected_scores(example.wrong)
    for i in range(copies):
        style = STYLES[i % len(STYLES)]
        course.submit(root, f"style{i:02d}", fill(release, style.answers))
        expected[f"style{i:02d}"] = expected_scores(())
    return expected


def test_cluster_grades_like_the_local_pool(cluster, tmp_path):
    expected = make_class(tmp_path / "course", 6)
    result = kit_grade(tmp_path / "course", "--scheduler", cluster)
    assert result.returncode == 0, result.stderr[-2000:]
    assert course.read_scores(tmp_path / "course") == expected


def test_a_worker_killed_mid_run_loses_no_submission(cluster, tmp_path):
    from distributed import Client

    root = tmp_path / "course"
    expected = make_class(root, 14)
    grading = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "backprop", "--scheduler", cluster],
                               cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Client(cluster, timeout="30s") as client:
        victim = None
        for _ in range(600):  # wait until a worker is busy grading, then kill it outright
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                victim = client.run(os.getpid, workers=busy[:1])[busy[0]]
                break
            time.sleep(0.05)
        assert victim, "no worker ever started grading"
        os.kill(victim, signal.SIGKILL)
    out, err = grading.communicate(timeout=600)
    assert grading.returncode == 0, err[-2000:]
    assert course.read_scores(root) == expected
