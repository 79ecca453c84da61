"""Starting sandboxed zygotes: bubblewrap when it is installed, resource limits otherwise.

Under bubblewrap a zygote sees a read-only Python, numpy and matplotlib, a read-only copy of
the kit's public modules (SANDBOX_FILES), a private /tmp, and nothing else: no course folder,
no source/, solutions/ or gradebook, no other submission, no network. Without bubblewrap it
runs in an empty temporary folder with the same resource limits, and says loudly that student
code could then read any file this user can.

Student code never runs with privileges (confine.py): whoever starts the grader, the zygote
drops every capability, sets no_new_privs and loads a seccomp filter before it forks a child.
When the grader is root, bubblewrap runs without a user namespace (in one, the sandbox's uid
would still be root's to the kernel, which RLIMIT_NPROC does not bind) and the zygote becomes
nobody inside it; in limits-only mode it becomes nobody once it has pre-warmed.

Run as root, a zygote can also be started under an unprivileged user (`user`), so that what
that user may not read or write (folders closed to it by their permissions) stays out of reach
whether or not bubblewrap works; the Gradescope runner does this.
"""

import contextlib
import importlib.util
import os
import pwd
import py_compile
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ...homework import spec
from . import confine, wire

KIT = Path(__file__).resolve().parents[3]

# The only kit files a sandbox gets: public code, no reference solutions, no checks.
SANDBOX_FILES = (
    "autograder/__init__.py", "autograder/calls.py", "autograder/untrusted.py", "autograder/homework/__init__.py",
    "autograder/homework/stand_ins.py", "autograder/running/__init__.py", "autograder/running/executor.py",
    "autograder/running/sandbox/__init__.py", "autograder/running/sandbox/confine.py",
    "autograder/running/sandbox/kernel.py", "autograder/running/sandbox/wire.py",
    "autograder/running/sandbox/worker.py", "solutions/__init__.py",
    "solutions/helpers.py",
)

BOOTSTRAP = ("import sys; sys.path[:0] = sys.argv[2:]; sys.argv[1:] = sys.argv[1:2]; "
             "from autograder.running.sandbox.worker import main; main()")


@dataclass(frozen=True)
class Limits:
    """Per-submission resource limits, applied to each forked child.

    seconds: wall-clock limit of one call into student code (and of one notebook cell);
    cpu_seconds: CPU time for the whole submission; memory_mb: address space on top of the
    pre-warmed interpreter; processes: RLIMIT_NPROC (0: no new processes or threads, which
    the child's seccomp filter also refuses);
    file_mb: largest file it may write; scratch_mb: all it may write, in all its writable
    places together (under bubblewrap: /tmp, /zygote and /dev/shm are tmpfs of bounded size);
    submission_seconds: wall-clock budget of the whole submission, cells and calls together,
    kept by the grader (remote.RemoteSubmission).
    """

    seconds: float = 5.0
    cpu_seconds: int = 120
    memory_mb: int = 1024
    processes: int = 0
    file_mb: int = 16
    scratch_mb: int = 32
    submission_seconds: float = spec.SUBMISSION_SECONDS

    def tmpfs_sizes(self) -> dict[str, int]:
        """Bytes of each writable tmpfs in the sandbox: /tmp gets most, the others what they need."""
        total = max(3, self.scratch_mb) * 2**20
        return {"/tmp": total - 2 * 2**20, "/zygote": 2**20, "/dev/shm": 2**20}


class SandboxError(Exception):
    """A zygote could not be started or stopped answering; the message says what to do."""


def bubblewrap() -> str | None:
    return shutil.which("bwrap")


def _account(user: str | None) -> pwd.struct_passwd | None:
    if user is None:
        return None
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise SandboxError(f"there is no user {user!r} to run student code as: create it "
                           f"(useradd --system {user}) or choose another") from None


def _open_parents(targets: tuple[str, ...]) -> list[str]:
    """bubblewrap arguments that make the folders above each bind target traversable (it would
    make them mode 700, root's, closed to the zygote once it is nobody)."""
    made: list[str] = []
    for target in targets:
        parent = os.path.dirname(os.path.normpath(target))
        chain = []
        while parent not in ("/", "") and parent.split("/")[1] not in ("usr", "bin", "lib", "lib64", "sbin"):
            chain.insert(0, parent)
            parent = os.path.dirname(parent)
        made += [folder for folder in chain if folder not in made]
    return [arg for folder in made for arg in ("--perms", "0755", "--dir", folder)]


class Zygote:
    """One pre-warmed sandboxed interpreter, forking a child per submission.

    user: run it (bubblewrap included) as this unprivileged user instead of the grader's own;
    needs root. None: as the grader's user.
    given: (label, source) of the cells every submission runs as they are, in order (the source
    notebook's given cells: public text, never an answer), which the zygote compiles once for all
    its children (kernel.precompile); a child compiles any other cell itself. Or a function giving
    them, called once while the first sandbox boots (the caller reads the notebook meanwhile).
    """

    def __init__(self, kit_copy: Path, use_bwrap: bool, limits: Limits = Limits(), user: str | None = None,
                 given: "tuple[tuple[str, str], ...] | Callable[[], tuple]" = ()):
        self.kit_copy, self.use_bwrap, self.limits, self.given = kit_copy, use_bwrap, limits, given
        self.account = _account(user)
        # Who student code runs as: the named user, nobody when we are root, else ourselves.
        self.uid, self.gid = ((self.account.pw_uid, self.account.pw_gid) if self.account else
                              (confine.NOBODY, confine.NOBODY) if os.geteuid() == 0 else (os.geteuid(), os.getegid()))
        self.proc: subprocess.Popen | None = None
        self.private_tmp: str | None = None
        self.start()

    def _command(self, fd: int) -> list[str]:
        python = os.path.realpath(sys.executable)
        site = sysconfig.get_paths()["purelib"]
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               **{k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_CORETYPE")
                  or k == "OPENBLAS_L2_SIZE"}}
        if not self.use_bwrap:
            self.private_tmp = tempfile.mkdtemp(prefix="kit-sandbox-")
            os.mkdir(self.private_tmp + "-mpl", 0o700)
            if os.geteuid() == 0:  # the zygote's, once it is no longer root
                for folder in (self.private_tmp, self.private_tmp + "-mpl"):
                    os.chown(folder, self.uid, self.gid)
            self._env = {**env, "TMPDIR": self.private_tmp, "MPLCONFIGDIR": self.private_tmp + "-mpl",
                         "KIT_SANDBOX": "limits", "KIT_PARENT": str(os.getpid())}
            return [python, "-S", "-E", "-c", BOOTSTRAP, str(fd), str(self.kit_copy), site]
        self._env = None
        sizes = self.limits.tmpfs_sizes()
        # As root: every namespace but the user's (the zygote drops root itself); otherwise all
        # of them, the user's included, which bubblewrap needs to work unprivileged.
        if os.geteuid() == 0 and self.account is None:
            namespaces = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        else:
            namespaces = ["--unshare-all", "--cap-drop", "ALL"]
        # Every writable place is a tmpfs of bounded size (host memory otherwise); /dev itself,
        # a tmpfs bubblewrap makes without a size, is read-only once its nodes exist.
        args = ["bwrap", *namespaces, "--die-with-parent", "--new-session", "--clearenv",
                "--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev",
                "--size", str(sizes["/dev/shm"]), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
                "--size", str(sizes["/tmp"]), "--tmpfs", "/tmp",
                "--size", str(sizes["/zygote"]), "--tmpfs", "/zygote", "--chdir", "/tmp",
                *_open_parents((sys.base_prefix, "/kit/site", "/kit/code")),
                "--ro-bind", sys.base_prefix, sys.base_prefix,
                "--ro-bind", site, "/kit/site", "--ro-bind", str(self.kit_copy), "/kit/code"]
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink(f"/{link}"):
                args += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
            elif os.path.isdir(f"/{link}"):
                args += ["--ro-bind", f"/{link}", f"/{link}"]
        for key, value in {**env, "KIT_SANDBOX": "bwrap", "MPLCONFIGDIR": "/zygote/mpl"}.items():
            args += ["--setenv", key, value]
        # Last: the root bubblewrap made, with every mount point in it, becomes read-only too.
        return args + ["--remount-ro", "/", "--", python, "-S", "-E", "-c", BOOTSTRAP, str(fd), "/kit/code",
                       "/kit/site"]

    def start(self) -> None:
        # One message per packet: a late `kill` never runs into the next `fork`.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = self._command(theirs.fileno())
        who = ({"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
               if self.account else {})
        self.proc = subprocess.Popen(command, pass_fds=[theirs.fileno()], env=self._env, cwd=self.private_tmp,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True, **who)
        theirs.close()
        self.ctrl = ours
        self.ctrl.settimeout(120)
        if callable(self.given):
            try:
                self.given = tuple(self.given())
            except Exception:  # then each child compiles them, as it does any other cell
                self.given = ()
        try:
            hello = self._recv()
        except (wire.WireError, OSError) as error:
            # Read why before kill() closes the pipe; the group is killed first so the read ends.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.stderr else ""
            self.kill()
            raise SandboxError(f"the grading sandbox did not start ({error}):\n{err}") from None
        if hello.get("op") != "ready":
            raise SandboxError("the grading sandbox sent an unexpected greeting")
        for batch in _batches(self.given):
            self.ctrl.send(wire.encode({"op": "given", "cells": batch}))

    def _recv(self) -> dict:
        data = self.ctrl.recv(1 << 16)
        if not data:
            raise wire.WireError("the sandbox closed its control connection")
        message = wire.decode(data)
        if not isinstance(message, dict):
            raise wire.WireError("unexpected message from the sandbox")
        return message

    def fork(self, limits: Limits, arena: wire.Arena) -> socket.socket:
        """A connection to a new child of this zygote, which shares the arena's memory."""
        ours, theirs = socket.socketpair()
        command = {"op": "fork", "limits": asdict(limits), "arena": arena.size}
        socket.send_fds(self.ctrl, [wire.encode(command)], [theirs.fileno(), arena.fd])
        theirs.close()
        return ours

    def reap(self, timeout: float = 10.0) -> str:
        """Wait for the zygote's report that the current child ended; returns how it ended."""
        self.ctrl.settimeout(timeout)
        return str(self._recv().get("status", "the submission's process ended"))

    def stop_child(self) -> str:
        """End the current child at once (it is not waited for); returns how it ended. A zygote
        that does not confirm within a second is replaced."""
        try:
            self.ctrl.send(wire.encode({"op": "kill"}))
            return self.reap(timeout=1.0)
        except (wire.WireError, OSError):
            self.restart()
            return "the submission's process was stopped"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        if getattr(self, "ctrl", None):
            self.ctrl.close()
        for folder in (self.private_tmp, (self.private_tmp or "") + "-mpl"):
            if folder and os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)

    def restart(self) -> None:
        self.kill()
        self.start()


# The zygote reads one control message into a buffer of 64 KiB: given cells go in batches below
# that, and a cell too long for one message alone is left to each child to compile.
_GIVEN_MESSAGE = 60 * 2**10


def _batches(cells: tuple[tuple[str, str], ...]) -> list[list[list[str]]]:
    batches: list[list[list[str]]] = [[]]
    for label, source in cells:
        cell = [label, source]
        if len(wire.encode({"op": "given", "cells": [cell]})) > _GIVEN_MESSAGE:
            continue
        if len(wire.encode({"op": "given", "cells": batches[-1] + [cell]})) > _GIVEN_MESSAGE:
            batches.append([])
        batches[-1].append(cell)
    return [batch for batch in batches if batch]


def resolve(sandbox: str) -> str:
    """"bwrap" or "limits" for the --sandbox choice (auto: bubblewrap when installed), with a loud
    warning when student code will run without bubblewrap."""
    if sandbox == "bwrap" and not bubblewrap():
        raise SandboxError("bubblewrap (bwrap) is not installed: `sudo apt-get install bubblewrap`, "
                           "or run `make sandbox`")
    if sandbox != "limits" and bubblewrap() is not None:
        return "bwrap"
    warnings.warn("bubblewrap is not installed, so student code runs with resource limits only, "
                  "in an empty temporary folder, and CAN READ ANY FILE THIS USER CAN (the course, "
                  "the gradebook, other submissions). Install it: `sudo apt-get install bubblewrap`.",
                  stacklevel=3)
    return "limits"


def _bytecode(source: Path, target: Path) -> list[Path]:
    """The compiled form of a copied kit module, copied beside it: a zygote cannot write its own
    (the copy is read-only in the sandbox), and compiling the kit's modules at every start cost
    ~30 ms. Made in the kit's own __pycache__ when missing or stale (Python checks the source's
    size and time against it, and compiles anew in memory on a mismatch)."""
    cached = Path(importlib.util.cache_from_source(str(source)))
    try:
        if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
            py_compile.compile(str(source), cfile=str(cached), doraise=True)
        copy = Path(importlib.util.cache_from_source(str(target)))
        copy.parent.mkdir(exist_ok=True)
        shutil.copy2(cached, copy)
    except (OSError, py_compile.PyCompileError):  # a read-only install: the zygote compiles it
        return []
    return [copy]


class Pool:
    """The kit copy and the zygotes of one grading run (user, given: see Zygote)."""

    def __init__(self, workers: int, sandbox: str = "auto", limits: Limits = Limits(), user: str | None = None,
                 given: tuple[tuple[str, str], ...] = ()):
        self.use_bwrap = resolve(sandbox) == "bwrap"
        missing = confine.available()
        if missing is not None:
            raise SandboxError(f"student code cannot be confined: {missing}")
        self.kit_copy = Path(tempfile.mkdtemp(prefix="kit-public-"))
        copied = []
        for name in SANDBOX_FILES:
            target = self.kit_copy / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(KIT / name, target)
            copied += [target, *_bytecode(KIT / name, target)]
        # Another user's zygote (or a root one become nobody) reads the copy: public code only.
        for folder in (self.kit_copy, *(p for p in self.kit_copy.rglob("*") if p.is_dir())):
            os.chmod(folder, 0o755)
        for path in copied:
            os.chmod(path, 0o644)
        self.zygotes: list[Zygote] = []
        try:
            for _ in range(workers):
                self.zygotes.append(Zygote(self.kit_copy, self.use_bwrap, limits, user, given))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for zygote in self.zygotes:
            zygote.kill()
        shutil.rmtree(self.kit_copy, ignore_errors=True)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
