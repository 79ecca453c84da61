"""Inside the sandbox: a pre-warmed zygote that forks one child per submission.

The zygote imports numpy and matplotlib once, then waits on its control socket. For each
submission the grader sends a fresh socket and a shared-memory arena; the zygote forks a
child that applies the resource limits, runs the student's cells and answers calls by name
until told to exit or until it dies (or the grader asks the zygote to kill it). The zygote
reports how the child ended, then removes everything the child left behind (processes and
files), so no submission can affect the next one.

Privileges go before any student code runs (confine.py): the zygote is never root (a root
zygote becomes nobody: at once under bubblewrap, after pre-warming in limits-only mode, whose
Python may live where nobody cannot read), holds no capability, has no_new_privs, cannot be
read through /proc or ptrace, and runs under a seccomp filter; each child adds its own filter
(no new processes unless the limits allow them, no signals to others) and dies with the zygote.

What is the same for every child is prepared once, before any fork: the imports, the child's
seccomp program (confine.ChildFilter) and the compiled code of the source notebook's given
cells, which the grader sends when it starts the zygote (kernel.precompile). A child changes
only its own copy of any of it.

Nothing here judges anything. The child only calls student functions on the arguments the
grader sent and sends back what they returned. The collaborators it hands them are the
notebook's own public stand-ins (tanh, identity, logistic, double, half_squares), or graded
answers (the reference loss and sigmoid) computed by the grader during the call they serve.
"""

import builtins
import contextlib
import mmap
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import warnings

import numpy as np

from solutions import helpers

from ...calls import StudentError, to_plain
from ...homework.stand_ins import PUBLIC
from ..executor import Executor, describe, quiet
from . import confine, kernel, wire

SANDBOXED = os.environ.get("KIT_SANDBOX") == "bwrap"
# Every place a child may write to, emptied before the first child and after each one (in
# limits-only mode: the zygote's private temporary and matplotlib folders).
SCRATCH = ("/tmp", "/dev/shm", "/zygote") if SANDBOXED else ()
# Modules a student plausibly imports, loaded before a root zygote in limits-only mode becomes
# nobody (afterwards its Python may be unreadable); cheap enough to load everywhere.
PREWARMED = ("math", "cmath", "functools", "itertools", "collections", "copy", "random", "time", "statistics",
             "operator", "fractions", "decimal", "numbers", "string", "re", "json", "heapq", "bisect", "array",
             "dataclasses", "typing", "textwrap", "pprint", "datetime", "io", "struct", "warnings", "enum",
             "numpy.random", "numpy.linalg", "numpy.fft", "numpy.polynomial")
_ZYGOTE_PID = 0  # the zygote's pid, which a child checks is still its parent


def prewarm(plot: bool = False) -> None:
    """Import what every submission needs, once, before any fork; `plot`: draw a figure too,
    so that the backend and fonts are loaded as well."""
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in PREWARMED:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    kernel.patch_ipython()  # IPython itself was imported with kernel, before privileges went
    if plot:
        import io

        figure, axes = plt.subplots()
        axes.plot([0.0, 1.0], [1.0, 0.0], label="loss")
        axes.set_title("$x^2$ loss")
        axes.legend()
        figure.savefig(io.BytesIO(), format="png")
        plt.close(figure)


class Callback:
    """A reference collaborator computed by the grader: called like the function it names."""

    def __init__(self, name: str, sock: socket.socket):
        self.name, self._sock = name, sock

    def __call__(self, *args):
        request = {"op": "callback", "name": self.name, "args": [to_plain(a) for a in args]}
        # A time limit firing halfway through a message would leave the channel out of step:
        # it waits until the exchange is complete.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            wire.send(self._sock, request)
            reply = wire.recv(self._sock)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if reply.get("op") != "callback_result":
            raise RuntimeError(reply.get("message", "the reference collaborator is not available"))
        value = reply["value"]
        return tuple(value) if isinstance(value, list) else value


def _limit(kind: int, value: int) -> None:
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def _apply_limits(limits: dict, child_filter: confine.ChildFilter) -> None:
    confine.die_with_parent(_ZYGOTE_PID)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, int(limits["cpu_seconds"]))
    _limit(resource.RLIMIT_FSIZE, int(limits["file_mb"]) * 2**20)
    _limit(resource.RLIMIT_NPROC, int(limits["processes"]))
    address_space = _vm_size() + int(limits["memory_mb"]) * 2**20
    _limit(resource.RLIMIT_AS, address_space)
    # Student output on the real descriptors goes nowhere; prints are captured by quiet().
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    child_filter.load()


def _vm_size() -> int:
    """The address space in use, in bytes (VmSize: the first field of /proc/self/statm, in pages)."""
    fd = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        return int(os.read(fd, 256).split()[0]) * mmap.PAGESIZE
    finally:
        os.close(fd)


def run_cells(namespace: dict, cells: list, seconds: float, done=None) -> list[str]:
    """Execute the notebook's cells in order, as a kernel would (kernel.py: magics, get_ipython());
    returns the errors, one per cell. done(): called after each cell (the grader's clock runs per cell)."""
    errors = []
    shell = kernel.start(namespace)
    for label, source in cells:
        try:
            with quiet(), helpers.time_limit(seconds, f"cell {label}"):
                try:
                    shell.run(source, label)
                except helpers.TimeLimitExceeded:
                    raise
                except BaseException as exc:  # its text is student code: read under the limit
                    errors.append(f"{label}: {describe(exc)}")
        except helpers.TimeLimitExceeded:
            errors.append(f"{label}: TimeLimitExceeded: cell {label} did not finish within {seconds:g} s: "
                          "is there an endless loop?")
        if done is not None:
            done()
    return errors


class Shared:
    """The child's view of the grader's arena: a shared array becomes a writable view, the same
    object each time the same place is named (so aliased arguments stay aliased)."""

    def __init__(self, fd: int, size: int):
        self.map = mmap.mmap(fd, size)
        os.close(fd)
        self.views: dict[int, np.ndarray] = {}

    def resolve(self, offset: int, shape: tuple) -> np.ndarray:
        key = (offset, shape)
        if key not in self.views:
            count = 1
            for n in shape:
                count *= n
            if offset + 8 * count > len(self.map):
                raise wire.WireError("a shared array outside the arena")
            self.views[key] = np.ndarray(shape, dtype="<f8", buffer=self.map, offset=offset)
        return self.views[key]

    def names(self) -> dict[int, int]:
        """id(view) -> offset, for naming the grader's own arrays in a reply."""
        return {id(view): offset for (offset, _), view in self.views.items()}


def _watched(executor: Executor, msg: dict, shared: Shared) -> dict:
    """A watched call: on views of the grader's arena, reporting lists whose items changed
    (their items named by place where they are the grader's own arrays)."""
    args = msg["args"]
    before = {k: list(a) for k, a in enumerate(args) if isinstance(a, list)}

    def lists():  # the items a function put into a list are its objects: read under its limit
        names = shared.names()
        return [[k, [v if id(v) in names else to_plain(v) for v in args[k]]] for k, items in before.items()
                if len(items) != len(args[k]) or any(a is not b for a, b in zip(items, args[k]))]

    value, changed = executor.invoke(msg["target"], args, msg.get("poison"), then=lists)
    return {"op": "result", "value": value, "lists": changed}


_monotonic = time.monotonic  # bound before student code runs (it may replace time.monotonic)
# A frame of no bytes: the grader's clock, which runs per call of a batch and per cell, starts
# again (remote.RemoteSubmission counts them: never more than one per call or cell).
TICK = b"\0\0\0\0"


class Progress:
    """Tells the grader that a step (a call of a batch, a cell) is done, once `every` seconds
    (the grader's choice, below its margin) have passed since the request or the last report:
    the grader's clock for the next step starts again, and a fast batch costs no messages."""

    def __init__(self, sock: socket.socket):
        self.sock, self.every, self.since = sock, 0.0, 0.0

    def start(self) -> None:
        self.since = _monotonic()

    def done(self) -> None:
        now = _monotonic()
        if now - self.since >= self.every:
            self.sock.sendall(TICK)
            self.since = now


def _own_builtins() -> None:
    """Give the kit's modules here (and the standard-library ones its loop runs through) their own
    copy of the builtins, taken before any student code runs: a submission that replaces
    builtins.isinstance, abs or len breaks its own functions, not the channel that reports on
    them. Module globals are looked up before builtins, so binding the names there suffices."""
    from ... import calls
    from .. import executor

    pristine = {name: value for name, value in vars(builtins).items() if not name.startswith("_")}
    modules = [calls, executor, wire, kernel, sys.modules[__name__], helpers, contextlib, warnings, signal,
               sys.modules.get("enum"), sys.modules.get(np.errstate.__module__)]
    for module in modules:
        if module is not None:
            for name, value in pristine.items():
                module.__dict__.setdefault(name, value)


def serve(sock: socket.socket, limits: dict, shared: Shared) -> None:
    """The child's loop: run the cells, then answer calls until told to exit."""
    _own_builtins()
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    executor = Executor(namespace, lambda name: PUBLIC.get(name) or Callback(name, sock), limits["seconds"])

    progress = Progress(sock)
    while True:
        shared.views.clear()
        try:
            msg = wire.recv(sock, shared.resolve)
        except (wire.WireError, OSError):
            return
        progress.start()
        op = msg.get("op")
        if op == "exec":
            progress.every = float(msg.get("report_every", 0.0))
            errors = run_cells(namespace, msg["cells"], limits["seconds"], progress.done)
            wire.send(sock, {"op": "ready", "errors": errors})
        elif op == "call":
            try:
                if msg.get("watch"):
                    reply = _watched(executor, msg, shared)
                else:
                    reply = {"op": "result", "value": executor.invoke(msg["target"], msg["args"], msg.get("poison"))}
            except StudentError as error:
                reply = {"op": "error", "message": str(error)}
            _send(sock, reply, shared.names())
        elif op == "call_many":
            # Arguments are fresh from the message (unless watched: then arrays the calls were
            # given in common are views of the same place in the arena, as in a kernel).
            items = []
            for target, *args in msg["calls"]:
                before = [list(a) for a in args if isinstance(a, list)]
                item = executor.invoke_many([[target, *args]])[0]
                progress.done()
                if isinstance(item, StudentError):
                    items.append(str(item))
                    continue
                after = [a for a in args if isinstance(a, list)]
                reordered = any(len(a) != len(b) or any(x is not y for x, y in zip(a, b))
                                for a, b in zip(before, after))
                items.append([item, reordered])
            _send(sock, {"op": "results", "items": items})
        else:
            return


def _send(sock: socket.socket, reply: dict, names: dict | None = None) -> None:
    try:
        wire.send(sock, reply, shared=names)
    except wire.WireError as error:
        wire.send(sock, {"op": "error", "message": f"the result could not be sent back: {error}"})


def _work_folder() -> str:
    """The child's working folder, in the zygote's private temporary place, which is emptied
    before each child: one fixed name (a random one costs a random generator per child) unless
    something is left there."""
    try:
        work = os.path.join(tempfile.gettempdir(), "submission")
        os.mkdir(work, 0o700)
        return work
    except FileExistsError:
        return tempfile.mkdtemp(prefix="submission-")


def _child(fd: int, arena_fd: int, arena_size: int, limits: dict, child_filter: confine.ChildFilter) -> None:
    sock = socket.socket(fileno=fd)
    shared = Shared(arena_fd, arena_size)
    work = _work_folder()
    os.chdir(work)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", work)]
    _apply_limits(limits, child_filter)
    serve(sock, limits, shared)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        names = {signal.SIGKILL: "killed (a limit was reached)", signal.SIGXCPU: "over its CPU-time limit",
                 signal.SIGSEGV: "crashed (segmentation fault)"}
        name = names.get(sig, f"killed by {signal.Signals(sig).name}")
        return f"the submission's process was {name}"
    return f"the submission's process exited with status {os.WEXITSTATUS(status)}"


def _unlock(folder: str) -> None:
    """Make every folder under `folder` listable and writable again: the child runs as the
    zygote's uid and may have closed some to keep them from being emptied."""
    stack = [folder]
    while stack:
        path = stack.pop()
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
            with os.scandir(path) as entries:
                stack += [e.path for e in entries if e.is_dir(follow_symlinks=False)]


def _empty(folder: str) -> None:
    """Remove everything inside `folder` (never following a link)."""
    if not os.path.isdir(folder) or os.path.islink(folder):
        return
    _unlock(folder)
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _clean_up(scratch: tuple[str, ...]) -> None:
    """Remove what the child left: every file in every place it could write to (all private to
    this zygote) and, in the sandbox, every other process."""
    if SANDBOXED:
        try:
            os.kill(-1, signal.SIGKILL)  # in our PID namespace: everyone but us and its init
        except ProcessLookupError:
            pass
    for folder in scratch:
        _empty(folder)


def _wait(ctrl: socket.socket, pid: int) -> int:
    """Wait for the child to end; a `kill` from the grader ends it at once. Returns its status."""
    pidfd = os.pidfd_open(pid)
    try:
        while True:
            ready, _, _ = select.select([ctrl, pidfd], [], [])
            if pidfd in ready:
                return os.waitpid(pid, 0)[1]
            data = ctrl.recv(1 << 16)
            if not data or wire.decode(data).get("op") == "kill":
                os.kill(pid, signal.SIGKILL)
                return os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)


def main() -> None:
    # The control socket carries one message per packet (SOCK_SEQPACKET), each unprefixed.
    global _ZYGOTE_PID
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    scratch = SCRATCH or (tempfile.gettempdir(), os.environ["MPLCONFIGDIR"])
    if SANDBOXED:
        if os.geteuid() == 0:  # bubblewrap's tmpfs places are root's: hand them to nobody
            for folder in scratch:
                os.chown(folder, confine.NOBODY, confine.NOBODY)
        confine.drop_root()
        prewarm()
    else:
        prewarm(plot=os.geteuid() == 0)
        for folder in scratch:  # files made as root could not be removed once nobody
            _empty(folder)
        confine.drop_root()
    parent = os.environ.get("KIT_PARENT")
    confine.die_with_parent(int(parent) if parent else None)
    confine.confine_zygote()
    # Built once here, loaded by each child: with processes (limits["processes"] > 0) or without.
    filters = {allowed: confine.ChildFilter(int(allowed)) for allowed in (False, True)}
    _ZYGOTE_PID = os.getpid()
    tempfile.gettempdir()  # found once (it writes a file to try each place), not by every child
    for folder in scratch:  # the first child finds them as empty as every later one
        _empty(folder)
    ctrl.send(wire.encode({"op": "ready", "pid": os.getpid()}))
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 2)
        except OSError:
            return
        if not data:
            return
        command = wire.decode(data)
        if command.get("op") == "kill":
            for fd in fds:
                os.close(fd)
            continue  # the child it meant has already ended and been reported
        if command.get("op") == "given" and not fds:
            # The source notebook's given cells, from the grader, before any fork: compiled once.
            cells = command.get("cells")
            if isinstance(cells, list) and all(isinstance(c, list) and len(c) == 2 and all(
                    isinstance(part, str) for part in c) for c in cells):
                kernel.precompile([(label, source) for label, source in cells])
            continue
        if command.get("op") != "fork" or len(fds) != 2:
            return
        child_filter = filters[int(command["limits"]["processes"]) > 0]
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            try:
                _child(fds[0], fds[1], command["arena"], command["limits"], child_filter)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        status = _wait(ctrl, pid)
        _clean_up(scratch)
        ctrl.send(wire.encode({"op": "exited", "status": _describe(status)}))


if __name__ == "__main__":
    main()
