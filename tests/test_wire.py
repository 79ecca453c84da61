"""The grader-child message codec (autograder.running.sandbox.wire), driven directly: every value
type through a round trip, arrays sent once but decoded as arrays of their own, the arena's
places keeping watched arguments aliased, and hostile bytes (truncated, flipped, garbage, too big,
too deep) refused with WireError and nothing else."""

import contextlib
import math
import os
import random

import numpy as np
import pytest

from autograder.calls import Invalid, Own, Ref
from autograder.running.sandbox import wire
from autograder.running.sandbox.worker import Shared

ALLOWED = (type(None), bool, int, float, str, list, dict, np.ndarray, Own, Ref, Invalid)


def same(a, b) -> bool:
    """Equal as the wire carries them: tuples as lists, arrays as float64 bytes and shape."""
    if isinstance(a, np.ndarray):
        return (type(b) is np.ndarray and b.dtype == np.float64 and a.shape == b.shape
                and np.ascontiguousarray(a, "<f8").tobytes() == b.tobytes())
    if isinstance(a, (list, tuple)):
        return type(b) is list and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return (type(b) is dict and list(map(str, a)) == list(b)
                and all(same(x, y) for x, y in zip(a.values(), b.values())))
    if isinstance(a, float):
        return type(b) is float and (math.isnan(a) and math.isnan(b) or a == b
                                     and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


class Tagged(np.ndarray):
    """An array subclass, as a student's function may return (np.matrix is one)."""


def kinds(value, depth: int = 0):
    """Every object in a decoded value (raises if one is of a type the wire may not give)."""
    assert type(value) in ALLOWED, type(value)
    assert depth <= wire.MAX_DEPTH
    yield value
    if isinstance(value, list):
        for item in value:
            yield from kinds(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            yield from kinds(item, depth + 1)
    elif isinstance(value, np.ndarray):
        assert value.dtype == np.float64 and value.flags.writeable
    elif isinstance(value, (str, Own, Ref, Invalid)):
        text = value if isinstance(value, str) else value.description if isinstance(value, Invalid) else value.name
        assert type(text) is str
        text.encode("utf-8")  # valid text: no lone surrogates


def round_trip(value):
    return wire.decode(wire.encode(value))


def network(rng: np.random.Generator):
    """A two-layer network's weights and biases, as drive.train sends them."""
    return ([rng.standard_normal((3, 2)), rng.standard_normal((1, 3))],
            [rng.standard_normal((3, 1)), rng.standard_normal((1, 1))])


def call_many(rng: np.random.Generator) -> dict:
    """One training stage as remote.call_many sends it: eight calls on the same Ws and bs."""
    Ws, bs = network(rng)
    x = rng.standard_normal((2, 8))
    return {"op": "call_many", "calls": [[Own("forward_prop"), x[:, [t]], Own("sigmoid"), Ws, bs] for t in range(8)]}


def messages(rng: np.random.Generator) -> list[bytes]:
    """A sample of the messages both sides send, as bytes."""
    arena = wire.Arena(1 << 16)
    Ws, bs = network(rng)
    watched = wire.encode({"op": "call", "target": Own("backward_prop"), "args": [Ref("loss"), Ws, bs, Ws],
                           "poison": None, "watch": True}, arena=arena)
    arena.close()
    return [
        wire.encode(call_many(rng)),
        watched,
        wire.encode({"op": "results", "items": [[[[rng.standard_normal((2, 1))] * 3, Invalid("None")], False],
                                                "ValueError: shapes … differ"]}),
        wire.encode({"op": "callback", "name": "sigmoid", "args": [rng.standard_normal((3, 4))]}),
        wire.encode({"op": "exec", "cells": [["imports", "import numpy as np\nprint('é')"]], "report_every": 0.5}),
        wire.encode({"op": "ready", "errors": [], "pid": 12, "n": -(2**63), "x": 1e300, "ok": True}),
    ]


# -- round trips ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    None, True, False, 0, -1, 2**63 - 1, -(2**63), 0.0, -0.0, 1.5, float("inf"), float("-inf"), float("nan"),
    "", "plain", "é ∑ 😀", "\0", Own("forward_prop"), Ref("sigmoid"), Invalid("a str"),
    [], [[]], {}, {"": None}, (1, 2.0, "three"),
    np.array(2.5), np.zeros(0), np.zeros((0, 3)), np.arange(6.0), np.arange(6.0).reshape(2, 3),
    np.arange(24.0).reshape(2, 3, 4), np.full((1,) * wire.MAX_DIMS, 3.0),
    np.array([np.nan, -0.0, np.inf]), np.arange(12.0).reshape(3, 4).T, np.arange(5), np.array([True, False]),
    np.float32(1.25) * np.ones((2, 2), np.float32), np.arange(4.0).view(Tagged),
], ids=repr)
def test_every_value_type_comes_back_the_same(value):
    back = round_trip(value)
    assert same(value, back), (value, back)
    list(kinds(back))


def test_nested_structures_and_subclasses_come_back_as_plain_data():
    rng = np.random.default_rng(1)
    value = {"op": "results", "items": [{"value": [rng.standard_normal((2, 1)), [rng.standard_normal(3), []]],
                                         "lists": False}, {"error": "boom"}],
             "nested": [[[[[[[1, "deep"]]]]]]], 7: (None, True), "marks": [Own("f"), Own("f"), Ref("f"), Invalid("f")],
             "numbers": [np.float64(0.1), 2**40, -7, 3.25]}
    back = round_trip(value)
    assert same(value, back)
    assert list(back) == ["op", "items", "nested", "7", "marks", "numbers"]
    assert type(back["numbers"][0]) is float
    assert back["marks"][0] == Own("f") and back["marks"][2] == Ref("f") and back["marks"][3] == Invalid("f")
    list(kinds(back))


def test_values_the_wire_cannot_carry_are_refused_when_sent():
    for value in (object(), {1, 2}, b"bytes", np.int64(3), np.bool_(True), 2**63, [1, lambda: 0], {"k": 1j},
                  np.array(["a"])):
        with pytest.raises((wire.WireError, ValueError, TypeError)) as caught:
            wire.encode(value)
        assert caught.type is wire.WireError or isinstance(value, np.ndarray)


def test_invalid_utf8_and_lone_surrogates_become_valid_text():
    back = round_trip(["\ud800x", Own("\udfffy")])
    assert back == ["?x", Own("?y")]
    raw = bytearray(wire.encode(["ab"]))
    raw[-2:] = b"\xff\xfe"
    (text,) = wire.decode(bytes(raw))
    assert text == "\ufffd\ufffd"


# -- arrays sent once, decoded apart ----------------------------------------------------------

def test_an_array_sent_several_times_travels_once_and_every_occurrence_is_its_own():
    rng = np.random.default_rng(2)
    big = rng.standard_normal((40, 40))
    value = [big, [big, big], {"again": big}]
    raw = wire.encode(value)
    assert len(raw) < 1.5 * big.nbytes  # its contents once
    def occurrences():
        back = wire.decode(raw)
        return [back[0], back[1][0], back[1][1], back[2]["again"]]

    copies = occurrences()
    assert len({id(c) for c in copies}) == 4
    for c in copies:
        assert np.array_equal(c, big) and c.flags.writeable
    copies[0][...] = 0.0
    copies[1] += 1.0
    assert np.array_equal(copies[2], big) and np.array_equal(copies[3], big)
    # Nothing an occurrence holds reaches the memory of another, its base included.
    for k in range(4):
        copies = occurrences()
        mine = copies[k] if copies[k].base is None else copies[k].base
        np.frombuffer(mine, dtype=np.uint8)[...] = 0xFF
        assert all(np.array_equal(c, big) for j, c in enumerate(copies) if j != k)


def test_the_calls_of_a_batch_get_arguments_of_their_own():
    message = wire.decode(wire.encode(call_many(np.random.default_rng(3))))
    calls = message["calls"]
    Ws = [call[3] for call in calls]
    assert len({id(w) for w in Ws}) == len(calls)  # the lists too
    leaves = [id(W) for w in Ws for W in w]
    assert len(set(leaves)) == len(leaves)
    before = [W.copy() for W in Ws[1]]
    Ws[0][0] *= 0.0
    Ws[0].append(np.zeros(1))
    assert all(np.array_equal(a, b) for a, b in zip(Ws[1], before)) and len(Ws[1]) == 2


def test_equal_but_distinct_arrays_are_each_sent():
    a = np.ones(3)
    b = np.ones(3)
    back = round_trip([a, b, a])
    assert all(np.array_equal(x, a) for x in back) and len({id(x) for x in back}) == 3
    assert len(wire.encode([a, b])) > len(wire.encode([a, a]))


# -- the arena ----------------------------------------------------------------------------------

@contextlib.contextmanager
def arena_pair(size: int, seen: int | None = None):
    """The grader's arena and the child's view of it (of its first `seen` bytes), closed after."""
    arena = wire.Arena(size)
    shared = Shared(os.dup(arena.fd), size if seen is None else seen)
    try:
        yield arena, shared
    finally:
        shared.map.close()
        arena.close()


def test_watched_arguments_keep_their_aliasing_through_the_arena():
    with arena_pair(1 << 16) as (arena, shared):
        W, b = np.arange(6.0).reshape(3, 2), np.ones((3, 1))
        twin = W.copy()
        raw = wire.encode({"args": [[W, b], W, twin, (b,)]}, arena=arena)
        assert wire._HEADER.unpack_from(raw)[4] == 0  # no contents travel: they are in the arena
        args = wire.decode(raw, shared.resolve)["args"]
        # The same array is the same view each time; a distinct one (equal or not) is not.
        assert args[0][0] is args[1] and args[0][1] is args[3][0] and args[2] is not args[1]
        args[1][0, 0] = 42.0  # the student's function changes its argument in place
        offset = arena.placed[id(W)][0]
        assert arena.now(offset, W.shape)[0, 0] == 42.0 and W[0, 0] == 0.0
        assert not arena.untouched()
        # The child's reply names the arena's arrays by place; the grader resolves them to its own.
        reply = wire.encode({"value": [args[1], args[1] * 2.0]}, shared=shared.names())
        mine = {offset: array for offset, array in arena.placed.values()}
        value = wire.decode(reply, lambda offset, shape: mine[offset])["value"]
        assert value[0] is W and np.array_equal(value[1], 2 * arena.now(offset, W.shape))


def test_a_full_arena_sends_the_rest_whole():
    with arena_pair(64) as (arena, shared):
        small, large = np.ones(2), np.ones(100)
        back = wire.decode(wire.encode([small, large, large], arena=arena), shared.resolve)
        assert back[0].base is not None and np.shares_memory(back[0], np.frombuffer(shared.map, np.uint8))
        assert np.array_equal(back[1], large) and back[1] is not back[2]


def test_a_shared_array_outside_the_arena_or_unexpected_is_refused():
    with arena_pair(64, seen=16) as (arena, shared):  # the child's view is too small for it
        raw = wire.encode([np.ones(4)], arena=arena)
        with pytest.raises(wire.WireError):
            wire.decode(raw)  # nobody expects a shared array here
        with pytest.raises(wire.WireError):
            wire.decode(raw, shared.resolve)


# -- hostile bytes ------------------------------------------------------------------------------

def raw_message(tags: bytes, ints=(), floats=(), dims=(), contents=b"", ndims=b"", text=b"") -> bytes:
    """A message put together section by section, as a peer that does not use encode could."""
    from array import array

    sections = [array("q", ints).tobytes(), array("d", floats).tobytes(), array("q", dims).tobytes(), contents,
                bytes(ndims), bytes(tags), text]
    header = wire._HEADER.pack(wire._VERSION, len(ints), len(floats), len(dims), len(contents), len(ndims),
                               len(tags), len(text))
    return header + b"".join(sections)


def refused(data, resolve=wire._no_shared) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(data, resolve)


def test_raw_messages_mean_what_encode_means():
    assert wire.decode(raw_message(bytes([wire._LIST, wire._INT, wire._STR, wire._END]), ints=[5, 2],
                                   text=b"hi")) == [5, "hi"]


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused():
    deep = []
    for _ in range(wire.MAX_DEPTH - 1):
        deep = [deep]
    assert round_trip(deep) == deep
    with pytest.raises(wire.WireError):
        wire.encode([deep])
    with pytest.raises(wire.WireError):
        wire.encode({"k": [deep]})
    for n in (wire.MAX_DEPTH + 1, 10_000, 1_000_000):
        refused(raw_message(bytes([wire._LIST]) * n + bytes([wire._END]) * n))
        refused(raw_message(bytes([wire._DICT]) * n))


def test_oversized_messages_and_arrays_are_refused_without_building_them():
    refused(bytes(wire.MAX_MESSAGE + 1))
    # Shapes that would need far more memory than the message holds.
    refused(raw_message(bytes([wire._ARRAY]), dims=[2**31, 2**31], ndims=[2]))
    refused(raw_message(bytes([wire._ARRAY]), dims=[2**62, 0, 2**62], ndims=[3]))
    refused(raw_message(bytes([wire._ARRAY]), dims=[-1, -8], ndims=[2], contents=bytes(64)))
    refused(raw_message(bytes([wire._ARRAY]), dims=[1] * 40, ndims=[40], contents=bytes(8)))
    # One array named again and again would decode to more than any message can carry.
    big = np.zeros(2**20 // 8)
    raw = wire.encode([big, big])
    header = list(wire._HEADER.unpack_from(raw))
    tags_at = len(raw) - header[6] - header[7]
    again = raw[tags_at + 2:tags_at + 3]  # the second occurrence's tag
    many = (raw[:tags_at + 2] + again * 100 + raw[tags_at + 3:])
    header[1] += 99
    header[6] += 99
    ints_at = wire._HEADER.size
    many = wire._HEADER.pack(*header) + many[ints_at:ints_at + 8] + bytes(8 * 99) + many[ints_at + 8:]
    refused(many)
    with pytest.raises(wire.WireError):
        wire.encode([big] * 100)
    with pytest.raises(wire.WireError):
        wire.encode(np.zeros(wire.MAX_MESSAGE // 8 + 1))


def test_a_header_that_lies_about_its_sections_is_refused():
    raw = wire.encode({"op": "call", "args": [np.ones((2, 2)), "x", 1, 2.0]})
    header = wire._HEADER.unpack_from(raw)
    for k in range(1, len(header)):
        for delta in (-1, 1, 2**31):
            changed = list(header)
            changed[k] = (changed[k] + delta) % 2**32
            refused(wire._HEADER.pack(*changed) + raw[wire._HEADER.size:])
    refused(wire._HEADER.pack(header[0] ^ 1, *header[1:]) + raw[wire._HEADER.size:])


def test_every_truncation_and_any_trailing_byte_is_refused():
    for raw in messages(np.random.default_rng(4)):
        resolve = _lenient_resolve()
        assert wire.decode(raw, resolve) is not None
        for cut in range(len(raw)):
            refused(raw[:cut], resolve)
        refused(raw + b"\0", resolve)


def _lenient_resolve():
    """A child's resolve on an arena of its own: any place inside it is a view."""
    views = {}
    memory = bytearray(1 << 16)

    def resolve(offset, shape):
        count = int(np.prod(shape))
        if offset + 8 * count > len(memory):
            raise wire.WireError("a shared array outside the arena")
        return views.setdefault((offset, shape), np.ndarray(shape, "<f8", memory, offset))

    return resolve


def test_fuzzed_messages_give_plain_values_or_wire_errors_only():
    rng = random.Random(20260417)
    base = messages(np.random.default_rng(5))
    tags = list(range(0, 20)) + [255]
    outcomes = {"refused": 0, "read": 0}
    for trial in range(4000):
        raw = bytearray(rng.choice(base))
        how = trial % 5
        if how == 0:  # flip a few bytes anywhere
            for _ in range(rng.randint(1, 8)):
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        elif how == 1:  # flip bytes of the tags and the text, past the packed numbers
            header = wire._HEADER.unpack_from(raw)
            start = len(raw) - header[6] - header[7]
            for _ in range(rng.randint(1, 4)):
                raw[rng.randrange(start, len(raw))] = rng.choice(tags)
        elif how == 2:  # change one packed number
            header = wire._HEADER.unpack_from(raw)
            count = header[1] + header[2] + header[3]
            if count:
                at = wire._HEADER.size + 8 * rng.randrange(count)
                raw[at:at + 8] = rng.choice([-1, 0, 1, 7, 2**31, 2**62, -(2**63), rng.getrandbits(63)]).to_bytes(
                    8, "little", signed=True)
        elif how == 3:  # cut and splice two messages
            other = rng.choice(base)
            raw = raw[:rng.randrange(len(raw))] + other[rng.randrange(len(other)):]
        else:  # a valid header over garbage
            raw = raw[:wire._HEADER.size] + bytes(rng.randrange(256) for _ in range(len(raw) - wire._HEADER.size))
        try:
            value = wire.decode(bytes(raw), _lenient_resolve())
        except wire.WireError:
            outcomes["refused"] += 1
            continue
        list(kinds(value))
        outcomes["read"] += 1
    assert outcomes["refused"] > 1000 and outcomes["read"] > 100, outcomes


def test_garbage_of_every_length_is_refused():
    rng = random.Random(7)
    for n in list(range(64)) + [rng.randrange(64, 5000) for _ in range(300)]:
        data = bytes(rng.randrange(256) for _ in range(n))
        try:
            list(kinds(wire.decode(data, _lenient_resolve())))
        except wire.WireError:
            pass
