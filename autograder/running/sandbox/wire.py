"""Length-prefixed messages of plain data over a stream socket.

Values: None, bool, int, float, str, lists (tuples become lists), dicts with str keys, float64
arrays, and the name markers of autograder.calls. Decoding never executes anything and rejects
malformed or oversized input with WireError.

A watched call's argument arrays do not travel in the message: they live in shared memory the
grader owns (Arena) and the message names their place, so the grader reads for itself what the
student's function did to them.
"""

import mmap
import os
import socket
import struct

import numpy as np

from ...calls import Invalid, Own, Ref

MAX_MESSAGE = 64 * 2**20
MAX_DEPTH = 8
_MARKERS = {b"O": Own, b"R": Ref, b"X": Invalid}
_TAGS = {cls: tag for tag, cls in _MARKERS.items()}
_MARKER_CODES = {tag[0]: cls for tag, cls in _MARKERS.items()}
_U32, _I64, _F64, _U64 = struct.Struct("<I"), struct.Struct("<q"), struct.Struct("<d"), struct.Struct("<Q")
_SHAPES = [struct.Struct(f"<B{n}I") for n in range(33)]
_DIMS = [struct.Struct(f"<{n}I") for n in range(33)]


class WireError(Exception):
    """The peer sent something that is not a well-formed message, or went away."""


class Arena:
    """Shared memory for the arguments of watched calls: the grader writes them, the child's
    function runs on views of them, and the grader reads them back after the call."""

    def __init__(self, size: int = 8 * 2**20):
        self.size = size
        self.fd = os.memfd_create("kit-arguments", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, size)
        self.map = mmap.mmap(self.fd, size)
        self.placed: dict[int, tuple[int, np.ndarray]] = {}  # id(array) -> (offset, array)
        self.top, self.written = 0, b""

    def reset(self) -> None:
        self.placed, self.top, self.written = {}, 0, b""

    def seal(self) -> None:
        """Remember what was written, so that `untouched` can tell at once if anything changed."""
        self.written = self.map[:self.top]

    def untouched(self) -> bool:
        return self.map[:self.top] == self.written

    def place(self, array: np.ndarray) -> int | None:
        """The offset of array's copy in the arena (the same for the same array), or None if full."""
        if id(array) in self.placed:
            return self.placed[id(array)][0]
        data = np.ascontiguousarray(array, dtype="<f8")
        if self.top + data.nbytes > self.size:
            return None
        offset = self.top
        self.map[offset:offset + data.nbytes] = data.tobytes()
        self.placed[id(array)] = (offset, array)
        self.top += (data.nbytes + 7) // 8 * 8 or 8
        return offset

    def now(self, offset: int, shape: tuple) -> np.ndarray:
        """A copy of what the arena holds at offset (after the child ran on it)."""
        count = int(np.prod(shape, dtype=np.int64))
        return np.frombuffer(self.map, dtype="<f8", count=count, offset=offset).reshape(shape).copy()

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


class _Encoder:
    def __init__(self, arena: Arena | None, shared: dict | None):
        self.out: list[bytes] = []
        self.arena, self.shared = arena, shared

    def array(self, value: np.ndarray) -> None:
        shape = value.shape
        if len(shape) > 32:
            raise WireError("array of too many dimensions")
        header = _SHAPES[len(shape)].pack(len(shape), *shape)
        offset = None
        if self.shared is not None:
            offset = self.shared.get(id(value))
        elif self.arena is not None:
            offset = self.arena.place(value)
        if offset is not None:
            self.out.append(b"m" + _U64.pack(offset) + header)
        else:
            self.out.append(b"a" + header + np.ascontiguousarray(value, dtype="<f8").tobytes())

    def value(self, value, depth: int) -> None:
        out = self.out
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if value is None:
            out.append(b"N")
        elif value is True or value is False:
            out.append(b"T" if value else b"F")
        elif isinstance(value, np.ndarray):
            self.array(value)
        elif isinstance(value, (list, tuple)):
            out.append(b"l" + _U32.pack(len(value)))
            for item in value:
                self.value(item, depth + 1)
        elif isinstance(value, int):
            out.append(b"i" + _I64.pack(value))
        elif isinstance(value, float):
            out.append(b"f" + _F64.pack(value))
        elif isinstance(value, str):
            raw = value.encode("utf-8", "replace")
            out.append(b"s" + _U32.pack(len(raw)) + raw)
        elif type(value) in _TAGS:
            raw = (value.description if isinstance(value, Invalid) else value.name).encode("utf-8", "replace")
            out.append(_TAGS[type(value)] + _U32.pack(len(raw)) + raw)
        elif isinstance(value, dict):
            out.append(b"d" + _U32.pack(len(value)))
            for key, item in value.items():
                self.value(str(key), depth + 1)
                self.value(item, depth + 1)
        else:
            raise WireError(f"cannot send a {type(value).__name__}")


def encode(value, arena: Arena | None = None, shared: dict | None = None) -> bytes:
    """value as bytes. arena: put arrays into it (a watched call's arguments); shared: arrays
    that are views of the arena, by id -> offset (the child naming them in its reply)."""
    encoder = _Encoder(arena, shared)
    encoder.value(value, 0)
    return b"".join(encoder.out)


class _Reader:
    def __init__(self, data: bytes, resolve):
        self.data, self.pos, self.resolve = data, 0, resolve

    def take(self, n: int) -> int:
        """Advance past n bytes; returns where they start."""
        start = self.pos
        if n < 0 or start + n > len(self.data):
            raise WireError("truncated message")
        self.pos = start + n
        return start

    def unpack(self, fmt: struct.Struct):
        return fmt.unpack_from(self.data, self.take(fmt.size))

    def shape(self) -> tuple:
        ndim = self.data[self.take(1)]
        if ndim > 32:
            raise WireError("bad array header")
        return _DIMS[ndim].unpack_from(self.data, self.take(4 * ndim))

    def value(self, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        tag = self.data[self.take(1)]
        if tag == 97:  # a
            shape = self.shape()
            count = 1
            for n in shape:
                count *= n
            if count > MAX_MESSAGE // 8:
                raise WireError("array too large")
            start = self.take(8 * count)
            return np.frombuffer(self.data, dtype="<f8", count=count, offset=start).reshape(shape).copy()
        if tag == 108:  # l
            (n,) = self.unpack(_U32)
            if n > len(self.data):
                raise WireError("bad list length")
            return [self.value(depth + 1) for _ in range(n)]
        if tag == 109:  # m
            (offset,) = self.unpack(_U64)
            return self.resolve(offset, self.shape())
        if tag == 78:  # N
            return None
        if tag in (84, 70):  # T, F
            return tag == 84
        if tag == 105:  # i
            return self.unpack(_I64)[0]
        if tag == 102:  # f
            return self.unpack(_F64)[0]
        if tag == 115 or tag in _MARKER_CODES:  # s, or a marker
            (n,) = self.unpack(_U32)
            start = self.take(n)
            text = bytes(self.data[start:start + n]).decode("utf-8", "replace")
            return text if tag == 115 else _MARKER_CODES[tag](text)
        if tag == 100:  # d
            items = {}
            for _ in range(self.unpack(_U32)[0]):
                key = self.value(depth + 1)
                if not isinstance(key, str):
                    raise WireError("dict key is not a string")
                items[key] = self.value(depth + 1)
            return items
        raise WireError(f"unknown tag {tag}")


def _no_shared(offset: int, shape: tuple):
    raise WireError("a shared array where none was expected")


def decode(data: bytes, resolve=_no_shared):
    """The value in data. resolve(offset, shape) gives the object a shared array names."""
    reader = _Reader(data, resolve)
    try:
        value = reader.value()
    except (struct.error, ValueError, TypeError, UnicodeError) as error:
        raise WireError(f"malformed message ({type(error).__name__})") from None
    if reader.pos != len(data):
        raise WireError("trailing bytes after the message")
    return value


def send(sock: socket.socket, value, arena: Arena | None = None, shared: dict | None = None) -> None:
    payload = encode(value, arena, shared)
    if len(payload) > MAX_MESSAGE:
        raise WireError(f"message of {len(payload)} bytes is over the {MAX_MESSAGE} limit")
    if arena is not None:
        # Before the peer can see the request: sealed after it, a change the peer made in the
        # meantime (a busy machine can pause this process that long) would look like the original.
        arena.seal()
    sock.sendall(_U32.pack(len(payload)) + payload)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        chunk = sock.recv_into(view[got:], n - got)
        if not chunk:
            raise WireError("the peer closed the connection")
        got += chunk
    return bytes(buffer)


def recv(sock: socket.socket, resolve=_no_shared):
    """Receive one message (the socket's timeout, if set, applies to every read)."""
    (length,) = _U32.unpack(_recv_exactly(sock, 4))
    if length > MAX_MESSAGE:
        raise WireError(f"message of {length} bytes is over the {MAX_MESSAGE} limit")
    return decode(_recv_exactly(sock, length), resolve)
