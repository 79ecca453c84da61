"""Nothing outlives the grader: `python -m autograder grade` killed with SIGKILL mid-run leaves no
grading worker, bubblewrap or zygote running."""

import signal
import subprocess
import sys
import time

import pytest

from autograder.course import course
from autograder.course.submissions import fill, reference_answers
from autograder.running.sandbox.launch import bubblewrap
from tests.conftest import command_line, descendants, released_course, wait_until_gone

pytestmark = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed")

# Correct, and slow on every call: each submission holds its worker for many seconds.
SLOW_LOSS = '''import time


def loss(yhat, y):
    time.sleep(1.0)
    diff = yhat - y
    return 0.5 * diff ** 2, diff
'''


def test_a_grader_killed_outright_leaves_no_process(tmp_path):
    root, release = released_course(tmp_path / "course")
    for k in range(4):
        course.submit(root, f"slow{k}", fill(release, {**reference_answers(), "loss": SLOW_LOSS}))
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", "backprop", "--workers", "2"],
                              cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        below = {}
        for _ in range(1200):  # until both workers grade, each in its sandbox (a bounded wait)
            below = descendants(grader.pid)
            if sum("bwrap" in command_line(pid).split(" ")[0] for pid in below) >= 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the grader never had two sandboxes running: {[command_line(p) for p in below]}")
        assert grader.poll() is None, "the grader finished before it could be killed"
        grader.send_signal(signal.SIGKILL)
        grader.wait(timeout=60)
        # Workers, their bubblewrap and its zygote and child: all gone within a bounded wait.
        assert wait_until_gone(below, 30.0) == {}
    finally:
        if grader.poll() is None:
            grader.kill()
            grader.wait()
