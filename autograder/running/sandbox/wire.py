"""Length-prefixed messages of plain data over a stream socket.

Values: None, bool, int, float, str, lists (tuples become lists), dicts with str keys, float64
arrays, and the name markers of autograder.calls. Decoding never executes anything and rejects
malformed, truncated or oversized input with WireError, and nothing else.

A watched call's argument arrays do not travel in the message: they live in shared memory the
grader owns (Arena) and the message names their place, so the grader reads for itself what the
student's function did to them.

The format is made to be written and read in one loop over the values, with no call per value
and the arrays gathered in bulk. A message is a header of section sizes, then its sections:

    ints     int64: ints, text lengths, shared arrays' offsets and shapes, numbers of things sent before
    floats   float64
    dims     int64: the shape of each array sent whole, in order
    contents float64: those arrays' contents, in the same order
    ndims    one byte per array sent whole: its number of dimensions
    tags     one byte per value; a container is its opening tag, its items and a closing tag
    text     UTF-8 (invalid bytes are replaced on reading)

An array object, a string or a marker that occurs again in the same message is sent once and
named by its number afterwards; every occurrence of an array still decodes to an array of its
own. Both ends run on one machine: the numbers are in its byte order.
"""

import mmap
import os
import socket
import struct
from array import array as _packed
from itertools import chain
from operator import attrgetter

import numpy as np

from ...calls import Invalid, Own, Ref

MAX_MESSAGE = 64 * 2**20
MAX_DEPTH = 8  # containers nest at most this deep: the top value's items are at depth 1
MAX_DIMS = 32
_U32 = struct.Struct("<I")
# The format's version, then the sizes of the sections (see above): ints, floats, dims (in
# numbers), contents, ndims, tags, text (in bytes).
_HEADER = struct.Struct("<8I")
_VERSION = 0x6B697403
_F8 = np.dtype("<f8")
_NDARRAY = np.ndarray
(_NONE, _TRUE, _FALSE, _INT, _FLOAT, _STR, _OWN, _REF, _INVALID, _TEXT_AGAIN,
 _ARRAY, _ARRAY_AGAIN, _SHARED, _LIST, _DICT, _END, _END_DICT) = range(1, 18)
_MARKERS = {Own: _OWN, Ref: _REF, Invalid: _INVALID}
_KEYS = {str}  # the types a dict's keys may have
_dtype, _ndim, _shape = attrgetter("dtype"), attrgetter("ndim"), attrgetter("shape")


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


def encode(value, arena: Arena | None = None, shared: dict | None = None) -> bytes:
    """value as bytes. arena: put arrays into it (a watched call's arguments); shared: arrays
    that are views of the arena, by id -> offset (the child naming them in its reply)."""
    tags = bytearray()
    ints: list[int] = []
    floats: list[float] = []
    whole: list = []  # the arrays sent whole, in order (which also keeps them alive: see sent)
    sent: dict = {}  # id(array) -> its place in whole
    texts: list[bytes] = []
    known: dict = {}  # a str, or (marker class, text) -> its place in texts
    tag, num, nums, real, keep = tags.append, ints.append, ints.extend, floats.append, whole.append
    places = shared is not None or arena is not None
    ndarray = _NDARRAY
    budget = [MAX_MESSAGE]  # what decode allows arrays named again or shared (see _read)

    def put(items, depth: int) -> None:
        """Each of items, at this depth: one loop, a call only per container."""
        for v in items:
            t = type(v)
            if t is ndarray:
                key = id(v)
                k = sent.get(key)
                if k is not None:
                    budget[0] -= 8 * v.size
                    if budget[0] < 0:
                        raise WireError("arrays too large")
                    tag(_ARRAY_AGAIN)
                    num(k)
                    continue
                if places:
                    offset = shared.get(key) if shared is not None else arena.place(v)
                    if offset is not None:
                        shape = v.shape
                        budget[0] -= 8 * v.size
                        if len(shape) > MAX_DIMS or budget[0] < 0:
                            raise WireError("array of too many dimensions" if budget[0] >= 0 else "arrays too large")
                        tag(_SHARED)
                        nums((offset, len(shape)))
                        nums(shape)
                        continue
                sent[key] = len(whole)
                keep(v)
                tag(_ARRAY)
            elif t is list or t is tuple:
                if depth >= MAX_DEPTH:
                    raise WireError("value nested too deeply")
                tag(_LIST)
                put(v, depth + 1)
                tag(_END)
            elif t is str or t is Own or t is Ref or t is Invalid:
                key = v if t is str else (t, v.description if t is Invalid else v.name)
                k = known.get(key)
                if k is None:
                    known[key] = len(texts)
                    raw = str.encode(v if t is str else key[1], "utf-8", "replace")
                    texts.append(raw)
                    tag(_STR if t is str else _MARKERS[t])
                    num(len(raw))
                else:
                    tag(_TEXT_AGAIN)
                    num(k)
            elif v is None:
                tag(_NONE)
            elif v is True or v is False:
                tag(_TRUE if v else _FALSE)
            elif t is int:
                tag(_INT)
                num(v)
            elif t is float:
                tag(_FLOAT)
                real(v)
            elif t is dict:
                if depth >= MAX_DEPTH:
                    raise WireError("value nested too deeply")
                tag(_DICT)
                put([part for key, item in v.items() for part in (str(key), item)], depth + 1)
                tag(_END_DICT)
            else:
                put((_plainer(v),), depth)

    put((value,), 0)
    ndims = bytes(map(_ndim, whole)) if whole else b""  # ValueError past 255: checked below
    if ndims and max(ndims) > MAX_DIMS:
        raise WireError("array of too many dimensions")
    dims = list(chain.from_iterable(map(_shape, whole)))
    if set(map(_dtype, whole)) <= {_F8}:
        contents = b"".join(map(ndarray.tobytes, whole))
    else:
        contents = b"".join(a.astype(_F8).tobytes() for a in whole)
    text = b"".join(texts)
    sections = (ints, floats, dims, contents, ndims, tags, text)
    size = _HEADER.size + 8 * (len(ints) + len(floats) + len(dims)) + len(contents) + len(ndims) + len(tags) + len(text)
    if size > MAX_MESSAGE:
        raise WireError(f"message of {size} bytes is over the {MAX_MESSAGE} limit")
    try:
        packed = [_packed("q", ints).tobytes(), _packed("d", floats).tobytes() if floats else b"",
                  _packed("q", dims).tobytes() if dims else b""]
    except OverflowError:
        raise WireError("an int too large to send") from None
    return b"".join((_HEADER.pack(_VERSION, *map(len, sections)), *packed, contents, ndims, tags, text))


def _plainer(v):
    """A value of a subclass of an accepted type (np.float64, np.matrix, a str or dict
    subclass...) as its plain kind; WireError for anything else."""
    if isinstance(v, np.ndarray):  # a new object, kept alive by the message's table of arrays
        return v.view(np.ndarray)
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, Invalid):
        return Invalid(v.description)
    for marker in (Own, Ref):
        if isinstance(v, marker):
            return marker(v.name)
    raise WireError(f"cannot send a {type(v).__name__}")


def _no_shared(offset: int, shape: tuple):
    raise WireError("a shared array where none was expected")


def decode(data, resolve=_no_shared):
    """The value in data (bytes or bytearray). resolve(offset, shape) gives the object a shared
    array names."""
    if type(data) is not bytearray:  # numpy makes arrays on a writable buffer many times faster
        data = bytearray(data)
    size = len(data)
    if size > MAX_MESSAGE:
        raise WireError(f"message of {size} bytes is over the {MAX_MESSAGE} limit")
    if size < _HEADER.size:
        raise WireError("truncated message")
    version, n_ints, n_floats, n_dims, n_contents, n_ndims, n_tags, n_text = _HEADER.unpack_from(data)
    if version != _VERSION:
        raise WireError("not a message of this format")
    ends, at = [], _HEADER.size
    for n in (8 * n_ints, 8 * n_floats, 8 * n_dims, n_contents, n_ndims, n_tags, n_text):
        at += n
        ends.append(at)
    if at != size:
        raise WireError("truncated message" if at > size else "trailing bytes after the message")
    if n_contents % 8:
        raise WireError("bad array contents")
    try:
        with memoryview(data) as view:
            ints = view[_HEADER.size:ends[0]].cast("q").tolist()
            floats = view[ends[0]:ends[1]].cast("d").tolist()
            dims = view[ends[1]:ends[2]].cast("q").tolist()
        arrays = _arrays(data, dims, data[ends[3]:ends[4]], ends[2], ends[3])
        return _read(data[ends[4]:ends[5]], ints, floats, arrays, data, ends[5], resolve)
    except WireError:
        raise
    except Exception as error:  # any other failure on a malformed message is the same refusal
        raise WireError(f"malformed message ({type(error).__name__})") from None


def _arrays(data: bytearray, dims: list, ndims: bytearray, start: int, end: int) -> list:
    """The arrays sent whole, each on a copy of its own bytes (never a view of another's)."""
    if ndims and max(ndims) > MAX_DIMS or dims and min(dims) < 0 or sum(ndims) != len(dims):
        raise WireError("bad array shapes")
    ndarray, f8 = _NDARRAY, _F8
    arrays = []
    keep = arrays.append
    at = k = 0
    for ndim in ndims:
        if ndim == 2:
            shape = (rows, cols) = dims[k], dims[k + 1]
            size = 8 * rows * cols
        else:
            shape = tuple(dims[k:k + ndim])
            size = 8
            for n in shape:
                size *= n
        k += ndim
        if start + at + size > end:
            raise WireError("truncated array contents")
        keep(ndarray(shape, f8, data[start + at:start + at + size]))
        at += size
    if start + at != end:
        raise WireError("trailing bytes after the arrays")
    return arrays


def _read(tags: bytearray, ints: list, floats: list, arrays: list, data: bytearray, text: int, resolve):
    """The one value of a message whose sections decode() has found, in one loop over its tags
    (the most frequent first)."""
    numbers, reals, fresh = iter(ints), iter(floats), iter(arrays)
    nxt, next_float, next_array = numbers.__next__, reals.__next__, fresh.__next__
    copy = _NDARRAY.copy
    text_end = len(data)
    # An array named again, or shared, is made anew each time: together they may come to no
    # more than the largest message could carry whole.
    budget = MAX_MESSAGE
    texts: list = []
    top: list = []
    current = top
    append = current.append
    parents: list = []
    for tag in tags:
        if tag == _END:
            current = parents.pop()
            append = current.append
        elif tag == _ARRAY:
            append(next_array())
        elif tag == _LIST or tag == _DICT:  # a dict is its keys and values in turn, up to _END_DICT
            if len(parents) >= MAX_DEPTH:
                raise WireError("value nested too deeply")
            inner: list = []
            append(inner)
            parents.append(current)
            current = inner
            append = inner.append
        elif tag == _ARRAY_AGAIN:
            k = nxt()
            if k < 0:
                raise WireError("bad array number")
            array = arrays[k]
            budget -= array.nbytes
            if budget < 0:
                raise WireError("arrays too large")
            append(copy(array))
        elif tag == _TEXT_AGAIN:
            k = nxt()
            if k < 0:
                raise WireError("bad text number")
            append(texts[k])
        elif _STR <= tag <= _INVALID:
            n = nxt()
            if n < 0 or text + n > text_end:
                raise WireError("truncated message")
            word = str(data[text:text + n], "utf-8", "replace")
            text += n
            if tag != _STR:
                word = Own(word) if tag == _OWN else Ref(word) if tag == _REF else Invalid(word)
            texts.append(word)
            append(word)
        elif tag == _END_DICT:
            items = current
            current = parents.pop()
            append = current.append
            pairs = iter(items)
            made = dict(zip(pairs, pairs))
            if len(items) % 2 or not {*map(type, made)} <= _KEYS:
                raise WireError("dict key is not a string")
            current[-1] = made
        elif tag == _SHARED:
            offset, ndim = nxt(), nxt()
            if offset < 0 or not 0 <= ndim <= MAX_DIMS:
                raise WireError("bad shared array")
            shape = tuple([nxt() for _ in range(ndim)])
            count = 8
            for n in shape:
                if n < 0:
                    raise WireError("bad shared array")
                count *= n
            budget -= count
            if budget < 0:
                raise WireError("arrays too large")
            append(resolve(offset, shape))
        elif tag == _INT:
            append(nxt())
        elif tag == _FLOAT:
            append(next_float())
        elif tag == _NONE:
            append(None)
        elif tag == _TRUE:
            append(True)
        elif tag == _FALSE:
            append(False)
        else:
            raise WireError(f"unknown tag {tag}")
    if parents or len(top) != 1:
        raise WireError("truncated message")
    if text != text_end or numbers.__length_hint__() or reals.__length_hint__() or fresh.__length_hint__():
        raise WireError("trailing bytes after the message")
    return top[0]


def send(sock: socket.socket, value, arena: Arena | None = None, shared: dict | None = None) -> None:
    payload = encode(value, arena, shared)
    if len(payload) > MAX_MESSAGE:
        raise WireError(f"message of {len(payload)} bytes is over the {MAX_MESSAGE} limit")
    if arena is not None:
        # Before the peer can see the request: sealed after it, a change the peer made in the
        # meantime (a busy machine can pause this process that long) would look like the original.
        arena.seal()
    sock.sendall(_U32.pack(len(payload)) + payload)


def _recv_exactly(sock: socket.socket, n: int) -> bytearray:
    """n bytes, in a buffer of their own (which decode reads without a copy)."""
    buffer = bytearray(n)
    view, got = memoryview(buffer), 0
    while got < n:
        chunk = sock.recv_into(view[got:], n - got)
        if not chunk:
            raise WireError("the peer closed the connection")
        got += chunk
    return buffer


def recv(sock: socket.socket, resolve=_no_shared):
    """Receive one message (the socket's timeout, if set, applies to every read)."""
    (length,) = _U32.unpack(_recv_exactly(sock, 4))
    if length > MAX_MESSAGE:
        raise WireError(f"message of {length} bytes is over the {MAX_MESSAGE} limit")
    return decode(_recv_exactly(sock, length), resolve)
