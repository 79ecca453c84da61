"""Inside the sandbox: a pre-warmed zygote that forks one child per submission.

The zygote imports numpy and matplotlib once, then waits on its control socket. For each
submission the grader sends a fresh socket; the zygote forks a child that applies the
resource limits, runs the student's cells and answers calls by name until told to exit or
until it dies. The zygote reports how the child ended, then removes everything the child
left behind (processes and files), so no submission can affect the next one.

Only public code is importable here (see launch.SANDBOX_FILES): reference collaborators that
are graded functions (loss, sigmoid) are called back in the grader's process.
"""

import builtins
import contextlib
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile

from solutions import helpers

from ..calls import Returned, StudentError, to_plain
from ..executor import Executor, quiet
from ..procedures import PUBLIC
from . import wire

SANDBOXED = os.environ.get("KIT_SANDBOX") == "bwrap"


def prewarm() -> None:
    """Import what every submission needs, once, before any fork."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy  # noqa: F401


class Callback:
    """A reference collaborator computed by the grader: called like the function it names."""

    def __init__(self, name: str, sock: socket.socket):
        self.name, self._sock = name, sock

    def __call__(self, *args):
        wire.send(self._sock, {"op": "callback", "name": self.name, "args": [to_plain(a) for a in args]})
        reply = wire.recv(self._sock)
        if reply.get("op") != "callback_result":
            raise RuntimeError(reply.get("message", "the reference collaborator is not available"))
        value = reply["value"]
        return tuple(value) if isinstance(value, list) else value


def _limit(kind: int, value: int) -> None:
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        pass


def _apply_limits(limits: dict) -> None:
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


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _strip_magics(source: str) -> str:
    """IPython magics and shell escapes are not Python; a student cell may hold them."""
    lines = source.splitlines()
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip()[:1] in ("%", "!")
                     else line for line in lines)


def run_cells(namespace: dict, cells: list, seconds: float) -> list[str]:
    """Execute the notebook's cells in order, as a kernel would; returns the errors, one per cell."""
    errors = []
    for label, source in cells:
        try:
            code = compile(_strip_magics(source), f"<{label}>", "exec")
            with quiet(), helpers.time_limit(seconds, f"cell {label}"):
                exec(code, namespace)
        except (Exception, SystemExit, helpers.TimeLimitExceeded) as exc:
            errors.append(f"{label}: {type(exc).__name__}: {str(exc)[:200]}")
    return errors


def serve(sock: socket.socket, limits: dict) -> None:
    """The child's loop: run the cells, then answer calls until told to exit."""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    # Other reference collaborators are answered by the grader, only during the call they serve.
    executor = Executor(namespace, lambda name: PUBLIC.get(name) or Callback(name, sock), limits["seconds"])
    while True:
        try:
            msg = wire.recv(sock)
        except (wire.WireError, OSError):
            return
        op = msg.get("op")
        if op == "exec":
            wire.send(sock, {"op": "ready", "errors": run_cells(namespace, msg["cells"], limits["seconds"])})
        elif op == "call":
            try:
                returned = executor.call(msg["target"], *msg["args"], poison=msg.get("poison"))
                reply = {"op": "result", **_result(returned)}
            except StudentError as error:
                reply = {"op": "error", "message": str(error)}
            _send(sock, reply)
        elif op == "call_many":
            items = executor.call_many([(call[0], *call[1]) for call in msg["calls"]])
            _send(sock, {"op": "results", "items": [{"error": str(item)} if isinstance(item, StudentError)
                                                    else _result(item) for item in items]})
        else:
            return


def _result(returned: Returned) -> dict:
    return {"value": returned.value, "mutated": list(returned.mutated),
            "after": [[i, v] for i, v in returned.after.items()]}


def _send(sock: socket.socket, reply: dict) -> None:
    try:
        wire.send(sock, reply)
    except wire.WireError as error:
        wire.send(sock, {"op": "error", "message": f"the result could not be sent back: {error}"})


def _child(fd: int, limits: dict) -> None:
    sock = socket.socket(fileno=fd)
    work = tempfile.mkdtemp(prefix="submission-")
    os.chdir(work)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", work)]
    _apply_limits(limits)
    serve(sock, limits)


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        names = {signal.SIGKILL: "killed (a limit was reached)", signal.SIGXCPU: "over its CPU-time limit",
                 signal.SIGSEGV: "crashed (segmentation fault)"}
        name = names.get(sig, f"killed by {signal.Signals(sig).name}")
        return f"the submission's process was {name}"
    return f"the submission's process exited with status {os.WEXITSTATUS(status)}"


def _clean_up() -> None:
    """Remove what the child left: its files (the temp folder is private to this zygote) and,
    in the sandbox, every other process."""
    if SANDBOXED:
        try:
            os.kill(-1, signal.SIGKILL)  # in our PID namespace: everyone but us and its init
        except ProcessLookupError:
            pass
    for entry in os.listdir(tempfile.gettempdir()):
        path = os.path.join(tempfile.gettempdir(), entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


def main() -> None:
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    prewarm()
    wire.send(ctrl, {"op": "ready", "pid": os.getpid()})
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 1)
        except OSError:
            return
        if not data:
            return
        command = wire.decode(data)
        if command.get("op") != "fork" or len(fds) != 1:
            return
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            try:
                _child(fds[0], command["limits"])
            finally:
                os._exit(0)
        os.close(fds[0])
        _, status = os.waitpid(pid, 0)
        _clean_up()
        wire.send(ctrl, {"op": "exited", "status": _describe(status)})


if __name__ == "__main__":
    main()
