"""The grader's side of one submission's sandboxed child: the checks' Submission interface.

Every call crosses as names and plain arrays. Reference collaborators the child asks for are
computed here, and only while the call that handed them over is running. A child that dies
(exit, crash, a limit) or stops answering is replaced by a fresh one that re-runs the
student's cells, so one bad function costs only the calls that reach it.
"""

import socket
import time

import numpy as np

from ..calls import Invalid, Own, Ref, Returned, StudentError, Target, scrub
from ..collaborators import REFERENCE
from . import wire
from .launch import Limits, Zygote

# After this many dead children, the remaining calls of the submission fail at once.
MAX_RESTARTS = 6
# Time for the child to answer beyond its own limit (it stops itself first; this is the backstop).
GRACE_SECONDS = 3.0


def sanitize(value, depth: int = 0):
    """Keep only what a student function can legitimately return: float arrays and lists."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, bool) or value is None:
        return Invalid("None" if value is None else "a bool")
    if isinstance(value, (int, float)):
        return np.array(float(value))
    if isinstance(value, list) and depth < 4:
        return [sanitize(item, depth + 1) for item in value]
    return value if isinstance(value, Invalid) else Invalid(f"a {type(value).__name__}")


class RemoteSubmission:
    """Student functions living in a sandboxed child of `zygote`; see calls.Submission."""

    def __init__(self, zygote: Zygote, cells: list[tuple[str, str]], limits: Limits):
        self.zygote, self.cells, self.limits = zygote, cells, limits
        self.sock: socket.socket | None = None
        self.restarts = -1
        self.cell_errors: list[str] = []
        self.timed_out: set[str] = set()
        self.events: list[str] = []

    # -- the child's life ------------------------------------------------------------------
    def _spawn(self) -> None:
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise StudentError("the submission's process died too often; its remaining tests were not run")
        self.sock = self.zygote.fork(self.limits)
        self.sock.settimeout(len(self.cells) * self.limits.seconds + GRACE_SECONDS)
        try:
            wire.send(self.sock, {"op": "exec", "cells": [list(cell) for cell in self.cells]})
            ready = wire.recv(self.sock)
        except (wire.WireError, OSError) as error:
            self._lost(error)
            raise StudentError(f"running the notebook's cells failed: {self.events[-1]}") from None
        errors = ready.get("errors") if isinstance(ready, dict) else None
        if self.restarts == 0 and isinstance(errors, list):
            self.cell_errors = [str(e) for e in errors]

    def _lost(self, error: Exception) -> None:
        """The child stopped answering: find out how it ended, make sure it is gone."""
        if isinstance(error, (TimeoutError, socket.timeout)):
            # It ignored its own time limit: only killing the whole sandbox stops it for sure.
            self.zygote.restart()
            self.events.append("did not finish within its time limit and was stopped")
        else:
            try:
                self.events.append(self.zygote.reap())
            except (wire.WireError, OSError):
                self.zygote.restart()
                self.events.append("the submission's process stopped answering")
        if self.sock:
            self.sock.close()
        self.sock = None

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            wire.send(self.sock, {"op": "exit"})
            self.sock.close()
            self.zygote.reap()
        except (wire.WireError, OSError):
            self.zygote.restart()
        self.sock = None

    def __enter__(self) -> "RemoteSubmission":
        self._spawn()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- calls -----------------------------------------------------------------------------
    def _callback(self, message: dict, allowed: set[str]) -> dict:
        name = message.get("name")
        if name not in allowed or name not in REFERENCE:
            return {"op": "callback_error", "message": f"{name!r} is not available now"}
        try:
            args = [sanitize(a) for a in message.get("args", [])]
            if any(isinstance(a, (Invalid, list)) for a in args):
                raise TypeError("a collaborator takes numbers or arrays")
            with np.errstate(all="ignore"):
                result = REFERENCE[name](*args)
            return {"op": "callback_result", "value": [np.asarray(r, dtype=float) for r in result]}
        except Exception as error:
            return {"op": "callback_error", "message": f"{type(error).__name__}: {error}"}

    def _returned(self, item: dict) -> Returned:
        mutated = item.get("mutated") if isinstance(item.get("mutated"), list) else []
        after = item.get("after") if isinstance(item.get("after"), list) else []
        after = {pair[0]: sanitize(pair[1]) for pair in after
                 if isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int}
        return Returned(sanitize(item.get("value")), tuple(i for i in mutated if type(i) is int), after)

    def _exchange(self, request: dict, owns: list[str], refs: set[str], seconds: float) -> dict:
        """Send a request, answer the child's collaborator callbacks, return its final reply."""
        for name in owns:
            if name in self.timed_out:
                raise StudentError(f"{name} did not finish in an earlier check")
        if self.sock is None:
            self._spawn()
        deadline = time.monotonic() + seconds + GRACE_SECONDS
        try:
            wire.send(self.sock, request)
            while True:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                message = wire.recv(self.sock)
                op = message.get("op") if isinstance(message, dict) else None
                if op == "callback":
                    wire.send(self.sock, self._callback(message, refs))
                elif op in ("result", "results", "error"):
                    return message
                else:
                    raise wire.WireError("unexpected message")
        except (wire.WireError, OSError) as error:
            self._lost(error)
            if isinstance(error, (TimeoutError, socket.timeout)):
                self.timed_out.update(owns)
            raise StudentError(f"{' / '.join(owns) or 'the call'}: {self.events[-1]}") from None

    def _error(self, text, owns: list[str]) -> StudentError:
        text = scrub(text or "failed", 500)
        if "did not finish within" in text:
            self.timed_out.update(owns)
        return StudentError(text)

    def call(self, target: Target, *args, poison: dict | None = None) -> Returned:
        owns = [a.name for a in (target, *args) if isinstance(a, Own)]
        refs = {a.name for a in args if isinstance(a, Ref)}
        reply = self._exchange({"op": "call", "target": target, "args": list(args), "poison": poison}, owns, refs,
                               self.limits.seconds)
        if reply.get("op") != "result":
            raise self._error(reply.get("message"), owns)
        return self._returned(reply)

    def call_many(self, calls: list[tuple]) -> list:
        """All calls in one exchange; if the child dies on the way, each call again on its own."""
        owns = sorted({a.name for call in calls for a in call if isinstance(a, Own)})
        refs = {a.name for call in calls for a in call[1:] if isinstance(a, Ref)}
        request = {"op": "call_many", "calls": [[call[0], list(call[1:])] for call in calls]}
        try:
            reply = self._exchange(request, owns, refs, self.limits.seconds * len(calls))
        except StudentError:
            reply = {}
        items = reply.get("items") if reply.get("op") == "results" else None
        if not isinstance(items, list) or len(items) != len(calls):
            return [self._one(call) for call in calls]
        return [self._error(item.get("error"), [a.name for a in call if isinstance(a, Own)])
                if not isinstance(item, dict) or "error" in item else self._returned(item)
                for item, call in zip(items, calls)]

    def _one(self, call: tuple):
        try:
            return self.call(*call)
        except StudentError as error:
            return error
