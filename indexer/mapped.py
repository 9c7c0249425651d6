"""Reading a merged segment's parts from its memory map, without copying them.

Whoosh writes a committed segment as one compound file (``MAIN_<id>.seg``),
maps it into memory and opens each part (postings, terms, stored articles,
columns) as a ``BufferFile``, whose ``BytesIO`` copies the part into the
process's own memory. A fresh process that searched ``никель`` once on the
mixed index (one segment of 450 MB) held 229 MB, 207 MB of it those copies
(tracemalloc); a larger index costs every searching process more. Here each
part is read from the map itself: the pages are the file's, shared with every
other process and given back under memory pressure.
"""

from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile

__all__ = ["MappedPart", "install"]


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
        self._pos = 0
        self.closed = False

    def read(self, size=-1):
        start = self._pos
        data = self._view[start:None if size is None or size < 0 else start + size].tobytes()
        self._pos = start + len(data)
        return data

    def peek(self, size=1):
        """Up to ``PEEK`` bytes ahead, not consumed: the C unpickler reads through them and then
        skips what it used, in two calls instead of one per field."""
        return self._view[self._pos:self._pos + min(max(size, 1), self.PEEK)].tobytes()

    def readline(self, size=-1):
        start, limit = self._pos, len(self._view)
        if size is not None and size >= 0:
            limit = min(limit, start + size)
        end = start
        while end < limit:  # in steps: a memoryview has no find
            chunk = self._view[end:min(end + 256, limit)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        return self.read(end - start)

    def __iter__(self):
        return iter(self.readline, b"")

    def seek(self, offset, whence=0):
        base = (0, self._pos, len(self._view))[whence]
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


def install():
    """Make Whoosh open the parts of mapped compound segments as ``MappedPart`` (idempotent).

    >>> install()
    >>> compound.BufferFile is MappedPart
    True
    """
    compound.BufferFile = MappedPart
