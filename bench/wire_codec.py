"""CPU of the grader-child message codec: an earlier commit's (read from git; by default the
last one with the per-value codec) against this tree's, in one run.

    .venv/bin/python bench/wire_codec.py [--base f117926] [--repeat 20]

Grades one reference submission in a sandboxed child and records every message of its
exchange as the grader saw it: the values it sent (with the arrays it put in the arena) and the
values it received. Then each codec encodes and decodes all of them, both directions, best of
--repeat, and the ratios are printed. Times, not assertions.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import grade_throughput  # noqa: E402

from autograder.course import course  # noqa: E402
from autograder.grading.sandbox_per_process import grade_here  # noqa: E402
from autograder.running.sandbox import wire  # noqa: E402
from autograder.running.sandbox.launch import Limits, resolve  # noqa: E402


def base_codec(base: str) -> types.ModuleType:
    """wire.py as it is on the branch `base`, as a module beside this tree's."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{base}:autograder/running/sandbox/wire.py"],
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("autograder.running.sandbox._wire_base")
    module.__package__ = "autograder.running.sandbox"
    exec(compile(source, f"{base}:wire.py", "exec"), module.__dict__)  # our own file, at another commit
    return module


def capture() -> tuple[list, list]:
    """[(value, {id(array): arena offset})] the grader sent and received grading one reference."""
    sent, got = [], []
    encode, decode = wire.encode, wire.decode

    def recording_encode(value, arena=None, shared=None):
        payload = encode(value, arena, shared)
        placed = {id(array): offset for offset, array in arena.placed.values()} if arena is not None else {}
        sent.append((value, placed))
        return payload

    def recording_decode(data, resolve=wire._no_shared):
        named = {}

        def noted(offset, shape):
            array = resolve(offset, shape)
            named[id(array)] = offset
            return array

        value = decode(data, noted)
        got.append((value, named))
        return value

    root = grade_throughput.build_class(Path(tempfile.mkdtemp()) / "class", 1, reference_only=True)
    source = course.source_path(root).read_text()
    folder = sorted((root / "submitted").glob("*/backprop"))[0]
    limits, mode = Limits(), resolve(os.environ.get("MODE", "auto"))
    grade_here("warm-up", folder, source, limits, mode)
    wire.encode, wire.decode = recording_encode, recording_decode
    try:
        grade_here("reference", folder, source, limits, mode)
    finally:
        wire.encode, wire.decode = encode, decode
    return sent, got


class _Placed:
    """Stands in for the arena: the offsets the arrays had when the message was captured."""

    def __init__(self, offsets: dict):
        self.offsets = offsets

    def place(self, array):
        return self.offsets.get(id(array))


def _encode_all(codec, messages: list, sent: bool) -> list[bytes]:
    if sent:
        return [codec.encode(value, _Placed(placed) if placed else None) for value, placed in messages]
    return [codec.encode(value, shared=named or None) for value, named in messages]


def _decode_all(codec, payloads: list[bytes]) -> None:
    for payload in payloads:
        codec.decode(payload, _child_views())


def _child_views():
    """A child's resolve: the same array for the same place."""
    views: dict = {}
    return lambda offset, shape: views.setdefault((offset, shape), np.zeros(shape))


def best_ms(work, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best * 1000


def measure(codec, sent: list, got: list, repeat: int) -> tuple[list[float], list[bytes], list[bytes]]:
    """CPU ms of [encode sent, encode received, decode sent, decode received], and the bytes."""
    out, back = _encode_all(codec, sent, True), _encode_all(codec, got, False)
    works = [lambda: _encode_all(codec, sent, True), lambda: _encode_all(codec, got, False),
             lambda: _decode_all(codec, out), lambda: _decode_all(codec, back)]
    return [best_ms(work, repeat) for work in works], out, back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="f117926", help="the commit whose codec is the baseline")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sent, got = capture()
    print(f"one reference submission: {len(sent)} messages sent, {len(got)} received")
    rows = {}
    for name, codec in ((args.base, base_codec(args.base)), ("this tree", wire)):
        rows[name], out, back = measure(codec, sent, got, args.repeat)
        print(f"{name:>10}: {sum(map(len, out)):7d} B sent, {sum(map(len, back)):7d} B received; CPU ms: "
              f"encode sent {rows[name][0]:5.2f}, received {rows[name][1]:5.2f}; decode sent {rows[name][2]:5.2f}, "
              f"received {rows[name][3]:5.2f}; total {sum(rows[name]):5.2f}")
    before, after = rows[args.base], rows["this tree"]
    print("ratio (base / this tree): " + ", ".join(f"{label} {b / a:.1f}x" for label, b, a in zip(
        ("encode sent", "encode received", "decode sent", "decode received"), before, after))
          + f"; total {sum(before) / sum(after):.1f}x")


if __name__ == "__main__":
    main()
