"""The sandbox itself, under bubblewrap: bounded scratch space, a channel the child cannot jam,
argument changes read from memory the grader owns, no privileges in the child (checked from
inside it, with the grader as root), fresh scratch for every process, and no zygote or child
left when the grader is killed."""

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import nbformat
import numpy as np
import pytest

from autograder.authoring.selftest import sandbox_scores
from autograder.calls import Own, Ref, StudentError
from autograder.course import course
from autograder.running.sandbox.launch import KIT, Limits, Pool, bubblewrap
from autograder.running.sandbox.remote import RemoteSubmission

pytestmark = pytest.mark.skipif(bubblewrap() is None, reason="bubblewrap is not installed")

CELLS = [("imports", "import numpy as np\nimport os\nimport stat\nimport struct"), ("fill", '''
def fill(where):
    """MiB written into `where`, one 1 MiB file at a time, until the first error."""
    written = 0
    while written < 512:
        try:
            with open(os.path.join(where, f"fill-{written}"), "wb") as handle:
                handle.write(b"\\0" * 2 ** 20)
        except OSError:
            break
        written += 1
    return float(written)
'''), ("jam", '''
def jam(x):
    junk = struct.pack("<I", 1000) + b"\\7" * 64
    for fd in range(3, 64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, junk)
        except OSError:
            pass
    return x
'''), ("halve", '''
def halve(zs, x):
    for z in zs:
        z *= 0.5
    zs.reverse()
    x[0, 0] = 7.0
    return 1.0
''')]


@pytest.fixture(scope="module")
def pool():
    with Pool(1, "bwrap", Limits(scratch_mb=24)) as pool:
        yield pool


def test_writing_past_the_scratch_limit_fails_inside_the_call_and_costs_it_only(pool):
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(scratch_mb=24)) as sub:
        written = {where: float(sub.call(Own("fill"), where).value)
                   for where in ("/tmp", "/dev/shm", "/zygote", "/dev")}
        assert 0 < written["/tmp"] < 24
        assert written["/dev/shm"] <= 1 and written["/zygote"] <= 1 and written["/dev"] == 0
        assert sum(written.values()) <= 24
        # The child that hit the limits still answers: only those calls were affected.
        assert float(sub.call(Own("fill"), "/nonexistent").value) == 0.0
        assert sub.restarts == 0
    # The next submission finds the scratch space empty again.
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits(scratch_mb=24)) as sub:
        assert float(sub.call(Own("fill"), "/tmp").value) == written["/tmp"]


def test_junk_on_the_channel_ends_the_child_at_once_and_fails_that_call_only(pool):
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits()) as sub:
        with pytest.raises(StudentError, match="was stopped"):
            sub.call(Own("jam"), np.ones((2, 1)))
        assert any("sent" in event for event in sub.events)
        # A fresh child takes over for the next call.
        assert np.array_equal(sub.call(Own("fill"), "/nonexistent").value, np.array(0.0))
        assert sub.restarts == 1


def test_watched_call_sees_in_place_changes_as_a_kernel_would(pool):
    x = np.array([[1.0], [2.0]])
    z1, z2 = np.array([[2.0]]), np.array([[4.0], [6.0]])
    zs = [z1, z2]
    with RemoteSubmission(pool.zygotes[0], CELLS, Limits()) as sub:
        returned = sub.call(Own("halve"), zs, x, watch=True)
    assert returned.mutated == (0, 1)
    # The caller's own objects are untouched; `changed` and `lists` say what a kernel would show.
    assert z1[0, 0] == 2.0 and x[0, 0] == 1.0 and zs == [z1, z2]
    now = {id(original): after for original, after in returned.changed}
    assert np.array_equal(now[id(z1)], [[1.0]]) and np.array_equal(now[id(z2)], [[2.0], [3.0]])
    assert np.array_equal(now[id(x)], [[7.0], [2.0]])
    assert returned.lists[0][0] is z2 and returned.lists[0][1] is z1


def test_collaborators_are_computed_by_the_grader(pool):
    cells = [("f", "def forward_prop(x, f, Ws, bs):\n    return [x, f(x)[0]], [x, x]\n")]
    with RemoteSubmission(pool.zygotes[0], cells, Limits()) as sub:
        hs, _ = sub.call(Own("forward_prop"), np.zeros((1, 1)), Ref("sigmoid"), [], []).value
    assert np.array_equal(hs[1], [[0.5]])


# --------------------------------------------------------------------------------------------
# No privileges in the child, whoever runs the grader (as root here, as in CI)
# --------------------------------------------------------------------------------------------

PROBES = [("probes", '''
import ctypes
import errno
import os

import numpy as np

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


def status(x):
    """uid x4, gid x4, CapInh, CapPrm, CapEff, CapBnd, CapAmb, NoNewPrivs, Seccomp."""
    fields = dict(line.rstrip("\\n").split(":\\t", 1) for line in open("/proc/self/status") if ":\\t" in line)
    values = [float(v) for v in fields["Uid"].split() + fields["Gid"].split()]
    values += [float(int(fields[k], 16)) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")]
    return np.array(values + [float(fields["NoNewPrivs"]), float(fields["Seccomp"])])


def _errno(result):
    return 0.0 if result == 0 else float(ctypes.get_errno())


def refusals(x):
    """errno (0: it worked) of: remounting /usr read-write, ptrace-attaching the zygote, opening
    its memory, signalling it, fork(), a SysV shared memory segment, a user namespace."""
    out = [_errno(libc.mount(b"none", b"/usr", None, 32 | 4096, None))]  # MS_REMOUNT | MS_BIND
    out.append(_errno(libc.ptrace(16, os.getppid(), None, None)))  # PTRACE_ATTACH
    try:
        open(f"/proc/{os.getppid()}/mem", "rb").close()
        out.append(0.0)
    except OSError as error:
        out.append(float(error.errno))
    try:
        os.kill(os.getppid(), 0)
        out.append(0.0)
    except OSError as error:
        out.append(float(error.errno))
    try:
        pid = os.fork()
    except OSError as error:
        out.append(float(error.errno))
    else:
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        out.append(0.0)
    segment = libc.shmget(0x4B4954, 4096, 0o1000 | 0o600)  # IPC_CREAT
    out.append(0.0 if segment >= 0 else float(ctypes.get_errno()))
    out.append(_errno(libc.unshare(0x10000000)))  # CLONE_NEWUSER
    return np.array(out)


def writable(x):
    """[folders walked, folders left unwalked]; raises naming any folder outside /tmp, /dev/shm
    and /zygote a file could be made in. Four levels deep: that reaches every mount point and
    the folders just below it (deeper folders of a mount share its flags, which
    writable_mounts checks), and keeps the walk far inside the call's time limit."""
    allowed = ("/tmp", "/dev/shm", "/zygote")
    folders, walked, bad = ["/"], 0, []
    while folders and walked < 50000:
        folder = folders.pop()
        if folder in ("/proc", "/sys") or folder.count("/") > 4:
            continue
        walked += 1
        probe = os.path.join(folder, ".kit-probe")
        try:
            os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            os.unlink(probe)
            if not any(folder == a or folder.startswith(a + "/") for a in allowed):
                bad.append(folder)
        except OSError:
            pass
        try:
            with os.scandir(folder) as entries:
                folders += [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            pass
    if bad:
        raise RuntimeError("writable: " + " ".join(sorted(bad))[:250])
    return np.array([float(walked), float(len(folders))])


def writable_mounts(x):
    """Mounts not read-only, other than the scratch places, /proc and the device nodes."""
    devices = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/pts")
    rw = []
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if "rw" in fields[5].split(",") and fields[4] not in ("/tmp", "/dev/shm", "/zygote", "/proc") + devices:
            rw.append(fields[4])
    if rw:
        raise RuntimeError("read-write mounts: " + " ".join(rw)[:250])
    return np.array(0.0)


PLACES = ("/tmp/kit-left", "/dev/shm/kit-file", "/zygote/kit-left", "/zygote/mpl/kit-left",
          "/tmp/closed/kit-left")


def plant(x):
    """Leave a file in every scratch place (one in a folder closed with chmod 000), a POSIX
    shared memory object and a SysV segment; 1 for each that could be made."""
    made = []
    for place in PLACES:
        try:
            os.makedirs(os.path.dirname(place), exist_ok=True)
            with open(place, "w") as handle:
                handle.write("kept")
            made.append(1.0)
        except OSError:
            made.append(0.0)
    try:
        os.chmod("/tmp/closed", 0)
        os.chmod("/tmp", 0o500)
    except OSError:
        pass
    libc.shm_open.restype = ctypes.c_int
    fd = libc.shm_open(b"/kit-left", os.O_CREAT | os.O_RDWR, 0o600)
    made.append(1.0 if fd >= 0 else 0.0)
    made.append(1.0 if libc.shmget(0x4B4954, 4096, 0o1000 | 0o600) >= 0 else 0.0)
    return np.array(made)


def found(x):
    """1 for each of plant's traces this process can see (opening what it closed, if it can), and
    1 if anything at all is in /dev/shm or /zygote."""
    for folder in ("/tmp", "/tmp/closed"):
        try:
            os.chmod(folder, 0o700)
        except OSError:
            pass
    seen = [float(os.path.exists(place)) for place in PLACES + ("/dev/shm/kit-left",)]
    seen.append(float(libc.shmget(0x4B4954, 0, 0) >= 0))
    seen.append(float(bool(os.listdir("/dev/shm") or os.listdir("/zygote"))))
    return np.array(seen)


def die(x):
    os._exit(3)
''')]


def _status(pool: Pool) -> np.ndarray:
    with RemoteSubmission(pool.zygotes[0], PROBES, Limits()) as sub:
        assert sub.cell_errors == []
        return np.asarray(sub.call(Own("status"), np.zeros(1)).value)


def _assert_unprivileged(status: np.ndarray) -> None:
    uids, gids, caps, nnp, seccomp = status[:4], status[4:8], status[8:13], status[13], status[14]
    assert all(uids != 0) and all(gids != 0), status
    assert list(caps) == [0.0] * 5  # inheritable, permitted, effective, bounding, ambient
    assert nnp == 1 and seccomp == 2  # no_new_privs; a seccomp filter


def test_the_child_holds_no_privilege(pool):
    _assert_unprivileged(_status(pool))


def test_mount_ptrace_fork_ipc_and_namespaces_are_refused_inside(pool):
    with RemoteSubmission(pool.zygotes[0], PROBES, Limits(processes=0)) as sub:
        mount, ptrace, memory, signal, fork, sysv, userns = sub.call(Own("refusals"), np.zeros(1)).value
    assert mount == errno.EPERM and ptrace == errno.EPERM and fork == errno.EPERM
    assert memory in (errno.EACCES, errno.EPERM) and signal == errno.EPERM
    assert sysv == errno.EPERM and userns == errno.EPERM


def test_nothing_is_writable_but_the_sized_scratch_places(pool):
    with RemoteSubmission(pool.zygotes[0], PROBES, Limits(seconds=60, scratch_mb=24, submission_seconds=120)) as sub:
        walked, left = sub.call(Own("writable"), np.zeros(1)).value
        assert 20 < walked and left == 0  # the walk reached the whole tree, within its bound
        assert float(sub.call(Own("writable_mounts"), np.zeros(1)).value) == 0.0


def test_nothing_a_child_leaves_reaches_the_next_child(pool):
    with RemoteSubmission(pool.zygotes[0], PROBES, Limits()) as sub:
        assert list(sub.call(Own("found"), np.zeros(1)).value) == [0.0] * 8
        made = sub.call(Own("plant"), np.zeros(1)).value
        assert list(made) == [1.0] * 6 + [0.0]  # every file could be made; no SysV segment
        assert list(sub.call(Own("found"), np.zeros(1)).value) == [1.0] * 6 + [0.0, 1.0]  # it sees its own
        with pytest.raises(StudentError):
            sub.call(Own("die"), np.zeros(1))
        # The same submission's next process finds none of it.
        assert list(sub.call(Own("found"), np.zeros(1)).value) == [0.0] * 8
        assert sub.restarts == 1
        sub.call(Own("plant"), np.zeros(1))
    # Nor does the next submission's.
    with RemoteSubmission(pool.zygotes[0], PROBES, Limits()) as sub:
        assert list(sub.call(Own("found"), np.zeros(1)).value) == [0.0] * 8


def test_a_child_can_still_plot_after_the_scratch_places_are_emptied(pool):
    cells = [("plot", "import io\nimport matplotlib.pyplot as plt\nimport numpy as np\n\n"
                      "def plot(x):\n    figure, axes = plt.subplots()\n    axes.plot(x[:, 0])\n"
                      "    axes.set_title('loss')\n    buffer = io.BytesIO()\n"
                      "    figure.savefig(buffer, format='png')\n"
                      "    plt.close(figure)\n    return np.array(float(len(buffer.getvalue()) > 1000))\n")]
    for _ in range(2):
        with RemoteSubmission(pool.zygotes[0], cells, Limits()) as sub:
            assert sub.cell_errors == [] and float(sub.call(Own("plot"), np.ones((3, 1))).value) == 1.0


def test_limits_only_mode_as_root_is_unprivileged_too():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loud warning about limits-only mode
        with Pool(1, "limits") as pool:
            _assert_unprivileged(_status(pool))
            with RemoteSubmission(pool.zygotes[0], PROBES, Limits()) as sub:
                mount, ptrace, memory, signal, fork, sysv, userns = sub.call(Own("refusals"), np.zeros(1)).value
    assert (mount, ptrace, signal, fork, sysv, userns) == (errno.EPERM,) * 6
    assert memory in (errno.EACCES, errno.EPERM)


def test_limits_only_mode_as_root_still_grades_the_reference_in_full():
    source = nbformat.read(course.source_path(KIT), as_version=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdicts = sandbox_scores(source, "limits")
    assert verdicts and all(why is None for why in verdicts.values()), verdicts


WATCHED = '''
import os, sys, time
import numpy as np
from autograder.calls import Own
from autograder.running.sandbox.launch import Limits, Pool
from autograder.running.sandbox.remote import RemoteSubmission

pool = Pool(1, sys.argv[1])
cells = [("pid", "import os\\nimport time\\nimport numpy as np\\n\\ndef pid(x):\\n"
                 "    return np.array(float(os.getpid()))\\n\\ndef nap(x):\\n    time.sleep(30.0)\\n    return x\\n")]
sub = RemoteSubmission(pool.zygotes[0], cells, Limits(seconds=60, submission_seconds=120))
print(pool.zygotes[0].proc.pid, int(sub.call(Own("pid"), np.zeros(1)).value), pool.kit_copy,
      pool.zygotes[0].private_tmp, flush=True)
sub.call(Own("nap"), np.zeros(1))
'''


@pytest.mark.parametrize("mode", ["limits", "bwrap"])
def test_zygote_and_child_end_when_the_grader_is_killed(mode, tmp_path):
    """Even a zygote that cannot react (stopped) and a child busy in a call."""
    script = tmp_path / "grader.py"
    script.write_text(WATCHED)
    grader = subprocess.Popen([sys.executable, "-W", "ignore", str(script), mode], cwd=KIT,
                              stdout=subprocess.PIPE, text=True)
    try:
        zygote, child, *left = grader.stdout.readline().split()
        zygote, child = int(zygote), int(child)
        os.kill(zygote, signal.SIGSTOP)
        time.sleep(0.5)  # the child is in its call by now
    finally:
        grader.kill()
        grader.wait()
    # Under bubblewrap the child's pid is its own namespace's: look for the zygote's group only.
    watched = [zygote] if mode == "bwrap" else [zygote, child]
    for _ in range(100):
        alive = [pid for pid in watched if _alive(pid)]
        if not alive:
            break
        time.sleep(0.1)
    for folder in (f for f in left if f.startswith("/tmp")):  # what the killed grader could not remove
        for path in (folder, folder + "-mpl"):
            shutil.rmtree(path, ignore_errors=True)
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
