"""The Gradescope autograder zip, run as Gradescope runs it.

The zip is unpacked into a fresh root laid out like Gradescope's container (/autograder/source,
/autograder/submission, /autograder/results, a writable /etc for setup.sh's user), made with
bubblewrap binds onto a temporary folder, without network. setup.sh runs there once, reusing
this kit's .venv (first on PATH, so pip finds every pinned requirement installed and downloads
nothing). Then run_autograder grades each notebook, and its results.json is compared with the
kit's own grader (`python -m autograder grade`) on the same notebook in a course copy.

Needs root (Gradescope runs as root; the runner switches to an unprivileged user) and bubblewrap.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import nbformat
import pytest

from autograder.course import course
from autograder.course.submissions import expected_scores, fill, read_example, reference_answers
from autograder.gradescope import package, runner
from autograder.homework import spec
from tests.conftest import ROOT, kit_grade, released_course
from tests.submissions import MUTANTS

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("bwrap"),
                                reason="runs Gradescope's root-owned layout: needs root and bubblewrap (`make setup`)")

# A hostile sigmoid cell: at import it tries to read the kit's code and the metadata, to list the
# closed folders and to forge the result (a results.json of its own, or a folder in its place so
# the grader cannot write). What it steals, it puts in its error message; stealing anything costs
# it the sigmoid cells, so a leak shows in the scores as well as in the output.
ATTACK = '''
import json
import os

import numpy as np

STOLEN = []
for path in ("/autograder/source/solutions/backprop.py", "/autograder/source/source/backprop/backprop.ipynb",
             "/autograder/source/gradescope.json", "/autograder/submission_metadata.json",
             "/proc/1/root/autograder/source/solutions/backprop.py"):
    try:
        with open(path) as f:
            STOLEN.append(f.read(300))
    except Exception:
        pass
for folder in ("/autograder/source", "/autograder/results", "/autograder/submission"):
    try:
        STOLEN.append(" ".join(os.listdir(folder)))
    except Exception:
        pass
for target in ("/autograder/results/results.json", "/proc/1/root/autograder/results/results.json"):
    try:
        with open(target, "w") as f:
            json.dump({"score": 999, "output": "FORGED", "tests": []}, f)
        STOLEN.append("wrote " + target)
    except Exception:
        pass
try:
    os.mkdir("/autograder/results/results.json.partial")
    STOLEN.append("blocked the results")
except Exception:
    pass


def sigmoid(z):
    if STOLEN:
        raise RuntimeError("STOLEN " + " | ".join(STOLEN))
    h = 1.0 / (1.0 + np.exp(-z))
    return h, h * (1.0 - h)
'''
METADATA = {"users": [{"name": "Ada Student", "email": "ada@example.edu"}], "previous_submissions": []}
MUTANT = next(m for m in MUTANTS if m.name == "backward_prop_overwrites_sum")


def place(folder: Path, files: dict[str, nbformat.NotebookNode | str | PurePosixPath]) -> None:
    """Write a submission: name -> a notebook, a text, or a path to link to."""
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, PurePosixPath):
            target.symlink_to(content)
        elif isinstance(content, str):
            target.write_text(content)
        else:
            nbformat.write(content, target)


class GradescopeRoot:
    """A folder laid out as Gradescope's container, and a way to run commands inside it as root."""

    def __init__(self, host: Path, zip_path: Path):
        self.host, self.autograder = host, host / "autograder"
        for name in ("source", "submission", "results"):
            (self.autograder / name).mkdir(parents=True)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(self.autograder / "source")
            for info in archive.infolist():
                os.chmod(self.autograder / "source" / info.filename, info.external_attr >> 16 & 0o777)
        shutil.copy2(self.autograder / "source" / "run_autograder", self.autograder / "run_autograder")
        # setup.sh adds a user: it needs an /etc of its own.
        shutil.copytree("/etc", host / "etc", symlinks=True, ignore_dangling_symlinks=True)

    def run(self, *command: str, python_open: bool = True) -> subprocess.CompletedProcess:
        """command as root in the Gradescope root. python_open: this Python's parent folders
        readable by all, as /usr is on Gradescope (else as bubblewrap makes them: root's only)."""
        pythons = sorted({p for p in (sys.prefix, sys.base_prefix) if not p.startswith("/usr/")})
        args = ["bwrap", "--die-with-parent", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--ro-bind", "/usr", "/usr", "--bind", str(self.host / "etc"), "/etc",
                "--bind", str(self.autograder), "/autograder", "--dev", "/dev", "--tmpfs", "/tmp",
                # The host's /proc: bubblewrap inside (the runner's) may mount a /proc of its own
                # only where the one above it is not partly covered, as bubblewrap's --proc is.
                "--bind", "/proc", "/proc"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                args += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        for python in pythons:
            if python_open:
                args += [arg for parent in reversed(Path(python).parents[:-1])
                         for arg in ("--perms", "0755", "--dir", str(parent))]
            args += ["--ro-bind", python, python]
        env = {"PATH": f"{sys.prefix}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "HOME": "/root", "LANG": "C.UTF-8", "PIP_NO_INDEX": "1"}
        args += ["--clearenv", *[a for key, value in env.items() for a in ("--setenv", key, value)],
                 "--chdir", "/autograder", "--", *command]
        return subprocess.run(args, capture_output=True, text=True, timeout=300)

    def grade(self, files: dict, sandbox: str = "auto", python_open: bool = True) -> tuple[dict, str]:
        """Submit files (see place), run run_autograder; its results.json and output."""
        for name in ("submission", "results"):
            shutil.rmtree(self.autograder / name)
            (self.autograder / name).mkdir()
        (self.autograder / "submission_metadata.json").write_text(json.dumps(METADATA))
        config = package.contents(ROOT, sandbox=sandbox)[package.CONFIG]  # as `--sandbox` would build it
        (self.autograder / "source" / package.CONFIG).write_bytes(config)
        place(self.autograder / "submission", files)
        result = self.run("/autograder/run_autograder", python_open=python_open)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads((self.autograder / "results" / "results.json").read_text()), result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("zip") / "backprop-gradescope.zip"
    result = subprocess.run([sys.executable, "-m", "autograder", "gradescope", "backprop", "--out", str(target)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return target


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Iterator[tuple[dict, Future]]:
    """The notebooks, and the kit's own per-cell scores for them (graded in a course copy in a
    thread, while the Gradescope root is set up)."""
    release = nbformat.read(course.release_path(ROOT), as_version=4)
    reference = reference_answers()
    notebooks = {
        "reference": fill(release, reference),
        "lecture": fill(release, read_example(ROOT / "examples" / "lecture_verbatim.py").all_answers()),
        "mutant": fill(release, {**reference, MUTANT.function: MUTANT.source}),
        "attack": fill(release, {**reference, "sigmoid": ATTACK}),
    }

    def grade_course(folder: Path) -> dict:
        root, _ = released_course(folder)
        for student, nb in notebooks.items():
            course.submit(root, student, nb)
        result = kit_grade(root)
        assert result.returncode == 0, result.stdout + result.stderr
        return course.read_scores(root)

    with ThreadPoolExecutor(max_workers=1) as pool:
        yield notebooks, pool.submit(grade_course, tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def gradescope(kit, built, tmp_path_factory) -> GradescopeRoot:
    """The Gradescope root after setup.sh (kit first: the course copy grades meanwhile)."""
    root = GradescopeRoot(tmp_path_factory.mktemp("gradescope"), built)
    setup = root.run("bash", "/autograder/source/setup.sh")
    assert setup.returncode == 0, setup.stdout + setup.stderr
    return root


def _per_cell(results: dict) -> dict[str, float]:
    return {test["name"].split(":")[0]: test["score"] for test in results["tests"]}


def test_zip_builds_identically_and_holds_the_grader_only(built, tmp_path):
    again = package.build(ROOT, tmp_path / "again.zip")
    assert again.read_bytes() == built.read_bytes()
    with zipfile.ZipFile(built) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        config = json.loads(archive.read(package.CONFIG))
        assert archive.read("requirements.lock") == (ROOT / "requirements.lock").read_bytes()
    for name in ("setup.sh", "run_autograder", "solutions/backprop.py", "autograder/homework/checks/combined.py",
                 "autograder/gradescope/runner.py", "source/backprop/backprop.ipynb"):
        assert name in infos, name
    assert {infos[n].external_attr >> 16 & 0o777 for n in ("setup.sh", "run_autograder")} == {0o755}
    assert {info.date_time for info in infos.values()} == {package.EPOCH}
    assert list(infos) == sorted(infos)
    # The grading code, the source notebook and Gradescope's files; no course state, tests or caches.
    assert [n for n in infos if not (n.endswith(".py") and n.split("/")[0] in ("autograder", "solutions"))
            and "__pycache__" not in n] == ["gradescope.json", "requirements.lock", "run_autograder", "setup.sh",
                                             "source/backprop/backprop.ipynb"]
    assert config["hidden_visibility"] == "after_published" and config["sandbox"] == "auto"


def test_setup_runs_offline_adds_the_user_and_closes_the_source(gradescope):
    assert (gradescope.autograder / "source").stat().st_mode & 0o777 == 0o700
    assert any(line.startswith(f"{package.STUDENT_USER}:") for line in (gradescope.host / "etc" / "passwd").open())


# How each is isolated: bubblewrap as the student user where it starts (it does here); resource
# limits only, as in Gradescope's usual container, for the attack (the weaker isolation) and the
# lecture's code; bubblewrap as root where the student user cannot reach this Python.
@pytest.mark.parametrize("name,sandbox,python_open,how", [
    pytest.param("reference", "auto", True, f"under bubblewrap, as {package.STUDENT_USER}", id="reference"),
    pytest.param("lecture", "limits", True, f"under resource limits only, as {package.STUDENT_USER}", id="lecture"),
    pytest.param("mutant", "auto", False, "under bubblewrap, as root", id="mutant"),
    pytest.param("attack", "limits", True, f"under resource limits only, as {package.STUDENT_USER}", id="attack"),
])
def test_results_match_the_kit_grader(gradescope, kit, name, sandbox, python_open, how):
    notebooks, graded = kit
    scores = graded.result()
    results, stdout = gradescope.grade({f"{name} (final).ipynb": notebooks[name]}, sandbox, python_open)
    assert _per_cell(results) == scores[name]
    assert results["score"] == sum(scores[name].values())
    assert how in stdout
    text = json.dumps(results)
    if name == "reference":
        assert results["score"] == spec.TOTAL_POINTS
    if name == "mutant":
        assert scores[name]["test_backward_prop_hidden"] == 0 and results["score"] < spec.TOTAL_POINTS
        hidden = {t["name"].split(":")[0]: t["visibility"] for t in results["tests"]}
        assert hidden == {c.grade_id: "after_published" if c.checks else "visible" for c in spec.TEST_CELLS}
        gradient = next(t for t in results["tests"] if t["name"].startswith("test_gradient_check"))
        assert gradient["status"] == "failed" and "DISAGREES with finite differences" in gradient["output"]
        assert results["output_format"] == "md" and "hidden tests" in results["output"]
    if name == "attack":
        assert scores[name] == expected_scores(())  # the kit's own grader is not fooled either
        assert "STOLEN" not in text and "FORGED" not in text and "BEGIN SOLUTION" not in text


def test_the_attack_does_steal_and_forge_when_run_as_root(gradescope):
    """The attack is real: as root, outside the sandbox, it reads the reference and forges."""
    (gradescope.autograder / "submission_metadata.json").write_text(json.dumps(METADATA))
    probe = gradescope.run("python3", "-c", ATTACK + "\nprint(len(STOLEN), STOLEN[0][:40])")
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout.split()[0]) >= 5 and "five functions" in probe.stdout
    assert "FORGED" in (gradescope.autograder / "results" / "results.json").read_text()
    (gradescope.autograder / "results" / "results.json.partial").rmdir()


def test_a_submission_it_cannot_grade_gets_zero_with_the_reason(built, tmp_path):
    """Run in this process on a copy of the layout: none of these cases reaches a sandbox."""
    notebook = fill(nbformat.read(course.release_path(ROOT), as_version=4), reference_answers())
    with zipfile.ZipFile(built) as archive:
        archive.extractall(tmp_path / "source")
    reference = tmp_path / "source" / "source" / "backprop" / "backprop.ipynb"
    cases = {
        "no notebook": ({"answers.py": "def loss(yhat, y): pass\n"}, "no notebook"),
        "two notebooks": ({"a.ipynb": notebook, "b/b.ipynb": notebook}, "2 notebooks"),
        "unreadable": ({"homework.ipynb": "{ this is not json"}, "could not be read"),
        # A link to the reference notebook is not graded in the submission's place.
        "link": ({"mine.ipynb": PurePosixPath(reference)}, "not a regular file"),
    }
    for case, (files, reason) in cases.items():
        shutil.rmtree(tmp_path / "submission", ignore_errors=True)
        place(tmp_path / "submission", files)
        assert runner.main(["--root", str(tmp_path)]) == 0
        results = json.loads((tmp_path / "results" / "results.json").read_text())
        assert results["score"] == 0 and len(results["tests"]) == len(spec.TEST_CELLS), case
        assert reason in results["output"] and all(reason in t["output"] for t in results["tests"]), case
