"""The grader's side of one submission's sandboxed child: the checks' Submission interface.

Every call crosses as names and plain arrays. Reference collaborators the child asks for are
computed here, and only while the call that handed them over is running. A watched call's
arguments live in shared memory this process owns, so what the student's function did to them
is read here, not reported by code that runs next to it. A child that dies (exit, crash, a
limit), stops answering or sends anything malformed is ended at once and replaced by a fresh
one that re-runs the student's cells, so one bad function costs only the calls that reach it.

Time is kept here, whatever the child does with its signals: each call (and each cell) gets
its limit plus a small margin, counted from the child's last word (it says when each call of a
batch is done), and the submission as a whole gets a budget for all the time its child spends
running cells and calls. Past a limit the child is killed; once the budget is spent every
remaining call fails at once, and what was judged before keeps its verdict.
"""

import socket
import struct
import time

import numpy as np

from ...calls import Invalid, Own, Ref, Returned, StudentError, Target, scrub
from ...homework.collaborators import REFERENCE
from ..executor import leaves, same_bytes
from . import wire
from .launch import Limits, SandboxError, Zygote

# After this many dead children, the remaining calls of the submission fail at once.
MAX_RESTARTS = 6
# Time for the child to answer beyond a call's (or a cell's) limit: it stops itself first with
# SIGALRM, and this is the bound when it does not (signals masked or ignored).
GRACE_SECONDS = 1.0
# The child's word that one call of a batch (or one cell) is done: a frame of no bytes. It says
# so only once this long has passed since its last word, so that a step's limit plus the margin
# still covers a step begun just before (and a batch of fast calls sends none).
TICK = object()
REPORT_EVERY = GRACE_SECONDS / 2
# A message's body follows its length prefix at once; a child that announces more than it
# sends is jamming the channel.
BODY_SECONDS = 1.0


def sanitize(value, depth: int = 0):
    """Keep only what a student function can legitimately return: float arrays and lists."""
    kind = type(value)
    if kind is np.ndarray:
        return value
    if kind is list and depth < 4:  # the common cases first, by exact type
        return [item if type(item) is np.ndarray else sanitize(item, depth + 1) for item in value]
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, bool) or value is None:
        return Invalid("None" if value is None else "a bool")
    if isinstance(value, (int, float)):
        return np.array(float(value))
    if isinstance(value, list) and depth < 4:
        return [sanitize(item, depth + 1) for item in value]
    return value if isinstance(value, Invalid) else Invalid(f"a {type(value).__name__}")


class Jammed(wire.WireError):
    """The child sent bytes that are not a message it may send now."""


class RemoteSubmission:
    """Student functions living in a sandboxed child of `zygote`; see calls.Submission."""

    def __init__(self, zygote: Zygote, cells: list[tuple[str, str]], limits: Limits):
        self.zygote, self.cells, self.limits = zygote, cells, limits
        self.sock: socket.socket | None = None
        self.arena = wire.Arena()
        self.restarts = -1
        self.cell_errors: list[str] = []
        self.timed_out: set[str] = set()
        self.events: list[str] = []
        # Seconds the child may still spend on this submission (cells and calls together).
        self.budget = float(limits.submission_seconds)
        # Why every remaining call fails at once (the budget is spent, the child cannot start).
        self.over: str | None = None
        # A fault of the sandbox itself (not of the submission) met during a call: see grade_one.
        self.sandbox_failure: SandboxError | None = None

    # -- the channel -----------------------------------------------------------------------
    def _recv(self, deadline: float, resolve=wire._no_shared):
        """One message from the child before the deadline; Jammed if it is malformed."""
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        head = self._exactly(4)
        (length,) = struct.unpack("<I", head)
        if length == 0:
            return TICK
        if length > wire.MAX_MESSAGE:
            raise Jammed(f"a message of {length} bytes")
        self.sock.settimeout(max(0.01, min(deadline - time.monotonic(), BODY_SECONDS + length / 2**27)))
        try:
            message = wire.decode(self._exactly(length), resolve)
        except TimeoutError:
            raise Jammed("a message shorter than announced") from None
        except wire.WireError as error:
            raise Jammed(str(error)) from None
        if not isinstance(message, dict):
            raise Jammed("a message that is not a request or a reply")
        return message

    def _exactly(self, n: int) -> bytearray:
        """n bytes, in a buffer of their own (wire.decode reads a bytearray without a copy)."""
        buffer = bytearray(n)
        view, got = memoryview(buffer), 0
        while got < n:
            chunk = self.sock.recv_into(view[got:], n - got)
            if not chunk:
                raise wire.WireError("the peer closed the connection")
            got += chunk
        return buffer

    # -- the child's life ------------------------------------------------------------------
    def _timed(self, steps: int) -> "_Clock":
        """A clock for one exchange of `steps` steps (calls or cells), each allowed the per-call
        limit plus GRACE_SECONDS from the end of the last, all within the remaining budget."""
        if self.budget <= 0 and self.over is None:
            self.over = self._too_slow()
        if self.over is not None:
            raise StudentError(self.over)
        return _Clock(self, steps)

    def _too_slow(self) -> str:
        return (f"the submission's functions were too slow: together with its cells they used up its time "
                f"budget of {self.limits.submission_seconds:g} s; its remaining tests were not run")

    def _spawn(self) -> None:
        """A fresh child that has run the cells; on failure, every later call fails (self.over)."""
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.over = (f"the submission's code broke its grading process {MAX_RESTARTS + 1} times; "
                         "its remaining tests were not run")
            raise StudentError(self.over)
        clock = self._timed(len(self.cells))
        try:
            self.sock = self.zygote.fork(self.limits, self.arena)
        except OSError as error:
            raise SandboxError(f"the sandbox stopped answering ({error})") from None
        try:
            wire.send(self.sock, {"op": "exec", "cells": [list(cell) for cell in self.cells],
                                  "report_every": REPORT_EVERY})
            while True:
                ready = self._recv(clock.deadline())
                if ready is not TICK:
                    break
                clock.step()
            if ready.get("op") != "ready":
                raise Jammed("an unexpected reply to running the cells")
        except (wire.WireError, OSError) as error:
            self._lost(error, clock)
            if self.over is None and isinstance(error, TimeoutError):
                self.over = (f"a cell of the notebook did not finish within {self.limits.seconds:g} s and "
                             "its process was stopped; its tests were not run")
            elif self.over is None:
                self.over = f"{self.events[-1]} while the notebook's cells ran; its tests were not run"
            raise StudentError(self.over) from None
        finally:
            clock.stop()
        errors = ready.get("errors")
        if self.restarts == 0 and isinstance(errors, list):
            self.cell_errors = [str(e) for e in errors]

    def _lost(self, error: Exception, clock: "_Clock | None" = None) -> None:
        """The child stopped answering, died or jammed the channel: make sure it is gone."""
        if isinstance(error, TimeoutError):
            stopped = self.zygote.stop_child()
            if clock is not None and clock.out_of_budget():
                self.over = self._too_slow()
                self.events.append(f"used up the submission's time budget and was stopped ({stopped})")
            else:
                self.events.append(f"did not finish within its time limit and was stopped ({stopped})")
        elif isinstance(error, Jammed):
            self.zygote.stop_child()
            self.events.append(f"the submission's process sent {error} and was stopped")
        else:
            try:
                ended = self.zygote.reap(timeout=2.0)
            except (wire.WireError, OSError):
                ended = self.zygote.stop_child()
            self.events.append(f"the submission's code broke its grading process ({ended})")
        if self.sock:
            self.sock.close()
        self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            try:
                wire.send(self.sock, {"op": "exit"})
                self.sock.close()
                self.zygote.reap(timeout=2.0)
            except (wire.WireError, OSError):
                self.zygote.stop_child()
            self.sock = None
        self.arena.close()

    def __enter__(self) -> "RemoteSubmission":
        try:
            self._spawn()
        except StudentError as error:  # the submission's fault: its calls fail, with the reason
            self.cell_errors = [str(error)]
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- calls -----------------------------------------------------------------------------
    def _callback(self, message: dict, allowed: set[str]) -> dict:
        name = message.get("name")
        if name not in allowed or name not in REFERENCE:
            return {"op": "callback_error", "message": f"{name!r} is not available now"}
        try:
            args = message.get("args")
            args = [sanitize(a) for a in args] if isinstance(args, list) else []
            if any(isinstance(a, (Invalid, list)) for a in args):
                raise TypeError("a collaborator takes numbers or arrays")
            with np.errstate(all="ignore"):
                result = REFERENCE[name](*args)
            return {"op": "callback_result",
                    "value": [None if r is None else np.asarray(r, dtype=float) for r in result]}
        except Exception as error:
            return {"op": "callback_error", "message": f"{type(error).__name__}: {scrub(error)}"}

    def _exchange(self, request: dict, owns: list[str], refs: set[str], steps: list[list[str]] | None = None,
                  watch: bool = False) -> dict:
        """Send a request, answer the child's collaborator callbacks, return its final reply.
        steps: the student functions of each call in the request (the child reports the end of
        each; the one running when time runs out is the one that did not finish); None: one call
        of all of `owns`. Raises StudentError
        for anything the child did, SandboxError (also kept in sandbox_failure, since a check
        would take it for a failure of its own) when the sandbox itself failed."""
        try:
            return self._exchange_once(request, owns, refs, steps, watch)
        except SandboxError as failure:
            self.sandbox_failure = failure
            raise

    def _exchange_once(self, request: dict, owns: list[str], refs: set[str], steps: list[list[str]] | None,
                       watch: bool) -> dict:
        steps = [owns] if steps is None else steps
        if self.over is not None:
            raise StudentError(self.over)
        for name in owns:
            if name in self.timed_out:
                raise StudentError(f"{name} did not finish in an earlier check")
        if self.sock is None:
            self._spawn()
        clock = self._timed(len(steps))
        try:
            self.arena.reset()
            wire.send(self.sock, request, arena=self.arena if watch else None)  # seals the arena
            while True:
                message = self._recv(clock.deadline(), self._original if watch else wire._no_shared)
                if message is TICK:
                    clock.step()
                    continue
                op = message.get("op")
                if op == "callback":
                    wire.send(self.sock, self._callback(message, refs))
                elif op in ("result", "results", "error"):
                    return message
                else:
                    raise Jammed("an unexpected message")
        except (wire.WireError, OSError) as error:
            self._lost(error, clock)
            if self.over is not None:
                raise StudentError(self.over) from None
            if isinstance(error, TimeoutError):
                self.timed_out.update(steps[min(clock.done, len(steps) - 1)])
            raise StudentError(f"{' / '.join(owns) or 'the call'}: {self.events[-1]}") from None
        finally:
            clock.stop()

    def _original(self, offset: int, shape: tuple):
        """The grader's own array the child names by its place in the arena."""
        for placed_offset, array in self.arena.placed.values():
            if placed_offset == offset and array.shape == shape:
                return array
        return Invalid("an array the grader did not send")

    def _error(self, text, owns: list[str]) -> StudentError:
        text = scrub(text or "failed", 500)
        if "did not finish within" in text:
            self.timed_out.update(owns)
        return StudentError(text)

    def call(self, target: Target, *args, poison: dict | None = None, watch: bool = False) -> Returned:
        owns = [a.name for a in (target, *args) if isinstance(a, Own)]
        refs = {a.name for a in args if isinstance(a, Ref)}
        request = {"op": "call", "target": target, "args": list(args), "poison": poison, "watch": watch}
        reply = self._exchange(request, owns, refs, None, watch)
        if reply.get("op") != "result":
            raise self._error(reply.get("message"), owns)
        if not watch:
            return Returned(sanitize(reply.get("value")))
        return self._watched(args, reply)

    def _watched(self, args: tuple, reply: dict) -> Returned:
        """What the call did to its arguments, read from the arena (and lists, as reported)."""
        changed = []
        for offset, original in self.arena.placed.values():
            now = self.arena.now(offset, original.shape)
            if not same_bytes(original, now):
                changed.append((original, now))
        touched = {id(original) for original, _ in changed}
        mutated = {k for k, arg in enumerate(args) if any(id(leaf) in touched for leaf in leaves(arg))}
        lists = {}
        for item in reply.get("lists") if isinstance(reply.get("lists"), list) else []:
            if (isinstance(item, list) and len(item) == 2 and type(item[0]) is int and 0 <= item[0] < len(args)
                    and isinstance(args[item[0]], list) and isinstance(item[1], list)):
                lists[item[0]] = [v if any(v is o for _, o in self.arena.placed.values()) else sanitize(v)
                                  for v in item[1]]
                mutated.add(item[0])
        return Returned(self._detached(reply.get("value"), True), tuple(sorted(mutated)), lists, changed)

    def call_many(self, calls: list[tuple], watch: bool = False) -> list:
        """All calls in one exchange; if the child dies on the way, each call again on its own."""
        owns = sorted({a.name for call in calls for a in call if isinstance(a, Own)})
        refs = {a.name for call in calls for a in call[1:] if isinstance(a, Ref)}
        request = {"op": "call_many", "calls": [list(call) for call in calls]}
        steps = [[a.name for a in call if isinstance(a, Own)] for call in calls]
        try:
            reply = self._exchange(request, owns, refs, steps, watch)
        except StudentError:
            reply = {}
        items = reply.get("items") if reply.get("op") == "results" else None
        if not isinstance(items, list) or len(items) != len(calls):
            return [self._one(call, watch) for call in calls]
        touched = {}  # id of a grader's array the batch changed -> (that array, its contents now)
        if watch and not self.arena.untouched():
            for offset, original in self.arena.placed.values():
                now = self.arena.now(offset, original.shape)
                if not same_bytes(original, now):
                    touched[id(original)] = (original, now)
        results = []
        for item, call in zip(items, calls):
            # The child's word on each call: [its value, whether it changed a list argument's items],
            # or the text of its error.
            if type(item) is not list or len(item) != 2:
                results.append(self._error(item if isinstance(item, str) else None,
                                           [a.name for a in call if isinstance(a, Own)]))
                continue
            value, lists = item[0], item[1] is not False
            arrays = [touched[id(leaf)] for leaf in leaves(list(call[1:])) if id(leaf) in touched] if touched else []
            changed = watch and (lists or bool(arrays))
            results.append(Returned(self._detached(value, watch), (0,) if changed else (),
                                    {-1: None} if watch and lists else {}, arrays))
        return results

    def _detached(self, value, watch: bool):
        """A returned value as plain data of its own (never one of the grader's arrays)."""
        value = sanitize(value)
        if not watch:
            return value
        mine = {id(original) for _, original in self.arena.placed.values()}

        def detach(v):
            if isinstance(v, list):
                return [detach(item) for item in v]
            return v.copy() if isinstance(v, np.ndarray) and id(v) in mine else v

        return detach(value)

    def _one(self, call: tuple, watch: bool = False):
        try:
            return self.call(*call, watch=watch)
        except StudentError as error:
            return error


class _Clock:
    """The deadlines of one exchange with the child, charged to its submission's budget."""

    def __init__(self, sub: RemoteSubmission, steps: int):
        self.sub, self.steps, self.done = sub, steps, 0
        self.start = time.monotonic()
        self.step_ends = self.start + sub.limits.seconds + GRACE_SECONDS
        self.budget_ends = self.start + max(sub.budget, 0.0)

    def deadline(self) -> float:
        return min(self.step_ends, self.budget_ends)

    def step(self) -> None:
        """The child finished one step: the next gets its own limit. More ticks than steps jam."""
        self.done += 1
        if self.done > self.steps:
            raise Jammed("more progress reports than calls")
        self.step_ends = time.monotonic() + self.sub.limits.seconds + GRACE_SECONDS

    def out_of_budget(self) -> bool:
        """Whether the deadline that passed was the budget's rather than the step's."""
        return self.budget_ends <= self.step_ends

    def stop(self) -> None:
        self.sub.budget -= time.monotonic() - self.start
        self.start = time.monotonic()  # stop() twice charges once
