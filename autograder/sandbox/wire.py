"""Length-prefixed messages of plain data over a stream socket.

Values: None, bool, int, float, str, lists (tuples become lists), dicts with str keys, float64
arrays, and the name markers of autograder.calls. Decoding never executes anything and rejects
malformed or oversized input with WireError.
"""

import socket
import struct

import numpy as np

from ..calls import Invalid, Own, Procedure, Ref

MAX_MESSAGE = 64 * 2**20
MAX_DEPTH = 8
_MARKERS = {b"O": Own, b"R": Ref, b"P": Procedure, b"X": Invalid}
_TAGS = {cls: tag for tag, cls in _MARKERS.items()}


class WireError(Exception):
    """The peer sent something that is not a well-formed message, or went away."""


def _encode(value, out: list, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None:
        out.append(b"N")
    elif value is True or value is False:
        out.append(b"T" if value else b"F")
    elif isinstance(value, int):
        out.append(b"i" + struct.pack("<q", value))
    elif isinstance(value, float):
        out.append(b"f" + struct.pack("<d", value))
    elif isinstance(value, str):
        raw = value.encode("utf-8", "replace")
        out.append(b"s" + struct.pack("<I", len(raw)) + raw)
    elif type(value) in _TAGS:
        raw = (value.description if isinstance(value, Invalid) else value.name).encode("utf-8", "replace")
        out.append(_TAGS[type(value)] + struct.pack("<I", len(raw)) + raw)
    elif isinstance(value, np.ndarray):
        arr = np.asarray(value, dtype="<f8", order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        header = struct.pack("<B", arr.ndim) + struct.pack(f"<{arr.ndim}I", *arr.shape)
        out.append(b"a" + header + arr.tobytes())
    elif isinstance(value, (list, tuple)):
        out.append(b"l" + struct.pack("<I", len(value)))
        for item in value:
            _encode(item, out, depth + 1)
    elif isinstance(value, dict):
        out.append(b"d" + struct.pack("<I", len(value)))
        for key, item in value.items():
            _encode(str(key), out, depth + 1)
            _encode(item, out, depth + 1)
    else:
        raise WireError(f"cannot send a {type(value).__name__}")


def encode(value) -> bytes:
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise WireError("truncated message")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def value(self, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        tag = self.take(1)
        if tag == b"N":
            return None
        if tag in (b"T", b"F"):
            return tag == b"T"
        if tag == b"i":
            return self.unpack("<q")[0]
        if tag == b"f":
            return self.unpack("<d")[0]
        if tag == b"s" or tag in _MARKERS:
            text = self.take(self.unpack("<I")[0]).decode("utf-8", "replace")
            return text if tag == b"s" else _MARKERS[tag](text)
        if tag == b"a":
            ndim = self.unpack("<B")[0]
            shape = self.unpack(f"<{ndim}I")
            count = int(np.prod(shape, dtype=np.int64)) if ndim else 1
            return np.frombuffer(self.take(8 * count), dtype="<f8").reshape(shape).astype(np.float64)
        if tag == b"l":
            return [self.value(depth + 1) for _ in range(self.unpack("<I")[0])]
        if tag == b"d":
            items = {}
            for _ in range(self.unpack("<I")[0]):
                key = self.value(depth + 1)
                if not isinstance(key, str):
                    raise WireError("dict key is not a string")
                items[key] = self.value(depth + 1)
            return items
        raise WireError(f"unknown tag {tag!r}")


def decode(data: bytes):
    reader = _Reader(data)
    value = reader.value()
    if reader.pos != len(data):
        raise WireError("trailing bytes after the message")
    return value


def send(sock: socket.socket, value) -> None:
    payload = encode(value)
    if len(payload) > MAX_MESSAGE:
        raise WireError(f"message of {len(payload)} bytes is over the {MAX_MESSAGE} limit")
    sock.sendall(struct.pack("<I", len(payload)) + payload)


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise WireError("the peer closed the connection")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket):
    """Receive one message (the socket's timeout, if set, applies to every read)."""
    (length,) = struct.unpack("<I", _recv_exactly(sock, 4))
    if length > MAX_MESSAGE:
        raise WireError(f"message of {length} bytes is over the {MAX_MESSAGE} limit")
    return decode(_recv_exactly(sock, length))
