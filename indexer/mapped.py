"""Reading a merged segment's parts from its memory map, without copying them.

Whoosh writes a committed segment as one compound file (``MAIN_<id>.seg``),
maps it into memory and opens each part (postings, terms, stored articles,
columns) as a ``BufferFile``, whose ``BytesIO`` copies the part into the
process's own memory. A fresh process that searched ``никель`` once on the
mixed index (one segment of 450 MB) held 229 MB, 207 MB of it those copies
(tracemalloc); a larger index costs every searching process more. Here each
part is read from the map itself: the pages are the file's, shared with every
other process and given back under memory pressure.

But a mapped page, once touched, stays in the process's resident memory, and
the kernel maps whole folios of the page cache around each touch. The stored
articles and the story sketches are read a document at a time at random
places: after 200 1-3-word and 200 headline searches of the 100,000-article
index they held 120 and 48 MiB of it (``bench/resident.py``). Those columns
(``READ_COLUMNS``) are read with ``os.pread`` instead (``ReadPart``): nothing
of them is mapped in, the kernel's page cache still serves them.
"""

import os
import struct
import weakref
from array import array

import numpy as np
from whoosh import columns
from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile

__all__ = ["MappedPart", "ReadPart", "install"]

# Whoosh's column of stored fields and poisk's story sketches: large, and read a
# document at a time (``<segment id>.<field>.col`` in the compound file).
READ_COLUMNS = ("._stored.col", ".story.col")


class _View:
    """A read-only file over a memoryview (seek, tell, read, readline): no copy but what is read.

    >>> part = _View(memoryview(b"ab\\ncd"))
    >>> part.readline(), part.read(1), part.tell(), part.read(), part.read()
    (b'ab\\n', b'c', 4, b'd', b'')
    >>> part.seek(1), part.peek(2), list(part)
    (1, b'b\\n', [b'b\\n', b'cd'])
    """

    PEEK = 1024  # a posting block's header is a pickle of some 100 bytes

    def __init__(self, view):
        self._view = view
        self._length = len(view)
        self._pos = 0
        self.closed = False

    def _slice(self, start, end):
        """Bytes ``start:end`` (``end`` within the part)."""
        return self._view[start:end].tobytes()

    def read(self, size=-1):
        start = self._pos
        end = self._length if size is None or size < 0 else min(self._length, start + size)
        data = self._slice(start, end) if end > start else b""
        self._pos = start + len(data)
        return data

    def peek(self, size=1):
        """Up to ``PEEK`` bytes ahead, not consumed: the C unpickler reads through them and then
        skips what it used, in two calls instead of one per field."""
        end = min(self._length, self._pos + min(max(size, 1), self.PEEK))
        return self._slice(self._pos, end) if end > self._pos else b""

    def readline(self, size=-1):
        start, limit = self._pos, self._length
        if size is not None and size >= 0:
            limit = min(limit, start + size)
        end = start
        while end < limit:  # in steps: a memoryview has no find
            chunk = self._slice(end, min(end + 256, limit))
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        return self.read(end - start)

    def __iter__(self):
        return iter(self.readline, b"")

    def seek(self, offset, whence=0):
        base = (0, self._pos, self._length)[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self):
        return self._pos

    def close(self):
        self.closed = True


class MappedPart(BufferFile):
    """Whoosh's ``BufferFile`` over a part of a mapped compound file, reading from the map."""

    def __init__(self, buf, name=None, onclose=None):
        super().__init__(b"", name=name, onclose=onclose)
        self._buf = buf
        self.file = _View(buf)
        # The view's own methods, one call fewer each (reading postings calls them
        # some 700 times per query).
        self.read, self.readline, self.seek, self.tell = (
            self.file.read, self.file.readline, self.file.seek, self.file.tell)


class _Read(_View):
    """``_View``'s file over a stretch of a file descriptor, read with ``os.pread``."""

    def __init__(self, fd, offset, length):
        self._fd, self._offset = fd, offset
        super().__init__(b"")
        self._length = length

    def _slice(self, start, end):
        return os.pread(self._fd, end - start, self._offset + start)


class ReadPart(MappedPart):
    """A part of a compound segment read from its file with ``os.pread``: nothing mapped.

    >>> import tempfile
    >>> with tempfile.TemporaryFile() as handle:
    ...     _ = handle.write(b"..abcdef"); handle.flush()
    ...     part = ReadPart(handle.fileno(), 2, 4, "x.col")
    ...     part.get(1, 2), part.get(3, 9), part.read(2), part.get_array(0, "B", 2).tolist()
    (b'bc', b'd', b'ab', [97, 98])
    """

    def __init__(self, fd, offset, length, name=None):
        super().__init__(b"", name=name)
        self._buf = None
        self.file = _Read(fd, offset, length)
        self.read, self.readline, self.seek, self.tell = (
            self.file.read, self.file.readline, self.file.seek, self.file.tell)

    def get(self, position, length):
        end = min(self.file._length, position + length)
        return self.file._slice(position, end) if end > position else b""

    def subset(self, position, length, name=None):
        return BufferFile(self.get(position, length), name=name or self._name)


def _open_file(storage, name, *args, **kwargs):
    """``CompoundStorage.open_file``, reading ``READ_COLUMNS`` with ``os.pread``."""
    fd = getattr(storage, "_poisk_fd", None)
    if fd is not None and not storage.is_closed and name.endswith(READ_COLUMNS):
        offset, length = storage.range(name)
        return ReadPart(fd, offset, length, name=name)
    return _whoosh_open_file(storage, name, *args, **kwargs)


def _init(storage, dbfile, *args, **kwargs):
    """``CompoundStorage.__init__``, keeping a descriptor of the mapped file for ``ReadPart``
    (Whoosh closes its own once the file is mapped)."""
    fd = os.dup(dbfile.fileno()) if hasattr(dbfile, "fileno") else None
    try:
        _whoosh_init(storage, dbfile, *args, **kwargs)
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise
    if fd is not None:
        if storage._source is None:  # not mapped: Whoosh reads its parts from its own file
            os.close(fd)
        else:
            storage._poisk_fd = fd
            weakref.finalize(storage, os.close, fd)


def _offsets_and_lengths(reader):
    """``VarBytesColumn.Reader``'s offsets and lengths, the offsets (when not stored: up to
    32,768 documents a segment) summed by numpy where Whoosh adds them up in a Python loop,
    some 20 ms a column on the 27,000-article mixed index, paid by each first search."""
    dbfile, count = reader._dbfile, reader._doccount
    last = reader._basepos + reader._length - 1
    code = chr(dbfile.get_byte(last))
    if code == "X" or not count:  # offsets stored: Whoosh reads them as they are
        return _whoosh_offsets_and_lengths(reader)
    lengths = dbfile.get_array(last - struct.calcsize(code) * count, code, count)
    ends = np.cumsum(np.frombuffer(lengths, dtype=np.dtype(code)), dtype=np.int64)
    offsets = array("q")
    offsets.frombytes(np.concatenate(([0], ends[:-1])).astype(np.int64).tobytes())
    reader._offsets, reader._lengths = offsets, lengths


_whoosh_offsets_and_lengths = columns.VarBytesColumn.Reader._read_offsets_and_lengths
_whoosh_init = compound.CompoundStorage.__init__
_whoosh_open_file = compound.CompoundStorage.open_file


def install():
    """Make Whoosh open the parts of mapped compound segments as ``MappedPart``, and the
    ``READ_COLUMNS`` as ``ReadPart`` (idempotent).

    >>> install()
    >>> compound.BufferFile is MappedPart
    True
    """
    compound.BufferFile = MappedPart
    compound.CompoundStorage.__init__ = _init
    compound.CompoundStorage.open_file = _open_file
    columns.VarBytesColumn.Reader._read_offsets_and_lengths = _offsets_and_lengths
