"""Posting lists as flat arrays beside each segment, read with no decoding: a sidecar.

Whoosh stores a term's postings in zlib+pickle blocks and each posting's word
positions as a pickle of its own (``whoosh.formats.Positions.encode``):
reading them was a third of the CPU time of the slowest 5% of 1-3-word
searches on the 8.9k news index, paid again for every segment, and on a
query's first run there is no cache to help. A sidecar holds, next to each
segment ``MAIN_<id>.seg``, every posting of every field once more as
plain arrays (``MAIN_<id>.poisk_postings``, its layout in
``MAIN_<id>.poisk_postings.json``): the segment's terms, sorted (``field NUL
term``), where each term's postings start, document numbers (int32, in
order), weights (float32, Whoosh's own: the same BM25 floats), and where each
posting's positions start in one array of positions (int32). A search maps
the file and slices it (``SegmentPostings``). The file is Whoosh's segment
name plus a suffix, so Whoosh deletes it with its segment after a merge.

Postings of deleted documents are kept, as in Whoosh's own blocks: searchers
drop deleted documents themselves. The lean segment writer makes each new
segment's sidecar from the postings it holds (``SidecarBuilder``,
``indexer.writer``), a merge makes the merged segment's from the merged ones
(``merge_sidecars``, ``indexer.merging``), and ``write_sidecars`` (``poisk
optimize``) decodes Whoosh's blocks for a segment that lacks one (an index
written before); a segment without one is read through Whoosh.

>>> import tempfile, pathlib
>>> from indexer import build_index
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.txt").write_text("Никель\\nНорильский никель и никель.")
>>> _ = build_index([folder], folder / "ix")
>>> write_sidecars(folder / "ix")  # the writer made it
0
>>> from indexer.storage import open_whoosh_index
>>> reader = open_whoosh_index(folder / "ix").reader()
>>> side = sidecar(reader)
>>> found = side.find("body", "никель".encode())
>>> side.postings(found)[0].tolist(), [p.tolist() for _, p in side.doc_positions(found, [0])]
([0], [[1, 3]])
"""

import heapq
import itertools
import json
import mmap
import operator
import os
import threading
import weakref
from array import array
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.filedb.filestore import OverlayStorage
from whoosh.matching import FilterMatcher

__all__ = ["PostingCache", "SegmentPostings", "SidecarBuilder", "merge_sidecars", "sidecar", "write_sidecars"]

SUFFIX = ".poisk_postings"
VERSION = 1
# Section name -> dtype, in file order (each section starts 8-byte aligned).
SECTIONS = (("keys", np.uint8), ("key_starts", np.int64), ("post_starts", np.int64),
            ("docs", np.int32), ("weights", np.float32), ("pos_starts", np.int64),
            ("positions", np.int32))
FOUND_KEPT = 100_000  # term lookups remembered per segment
# What a process may hold of the sidecars' maps: past it (looked at every CHECK_EVERY
# postings whose positions were read) their pages are dropped from its resident memory.
MAPPED_BUDGET = 256 << 20
CHECK_EVERY = 2_000
# Document numbers of the terms read last, kept across segments and searches: a query
# reads a term's list to score it, then again for the positions of the documents that
# may take the bonus and of the page (on the 100k index's headline queries, some 180
# reads a query without it). 8 million postings, 32 MB.
DOCS_KEPT = 8_000_000
# Postings kept across queries (~20 bytes each: an id, a score, cache overhead):
# 2M is ~40 MB, every term of a 9k-article index several times over.
CACHE_POSTINGS = 2_000_000


# -- writing -----------------------------------------------------------------

def write_sidecars(index_dir) -> int:
    """Write the sidecar of each segment of the index at ``index_dir`` that lacks one (the
    caller holds poisk's writer lock, or the index is not being written); the number written."""
    from indexer.storage import open_whoosh_index

    ix = open_whoosh_index(index_dir)
    try:
        written = 0
        reader = ix.reader()
        try:
            for leaf, _base in reader.leaf_readers():
                if sidecar(leaf) is None:
                    write_sidecar(leaf, _folder(leaf))
                    written += 1
        finally:
            reader.close()
        return written
    finally:
        ix.close()


def write_sidecar(reader, folder) -> None:
    """The sidecar of one segment's ``reader`` into ``folder``, renamed into place when whole."""
    name = os.path.join(folder, reader.segment().segment_id() + SUFFIX)
    with _Sections(name, reader.doc_count_all()) as out:
        for fieldname in sorted(reader.schema.names()):  # NUL sorts first: keys stay sorted
            field = reader.schema[fieldname]
            if field.format is None or fieldname not in reader.indexed_field_names():
                continue
            positional = field.format.supports("positions")
            for btext in reader.lexicon(fieldname):
                docs, weights, lengths, flat = _term_postings(reader, fieldname, btext, positional)
                key = fieldname.encode("utf-8") + b"\0" + btext
                out.put_terms([key], [len(docs)], docs, weights, lengths, flat)


class _Sections:
    """A sidecar written section by section into temporary files, then joined into one
    (``_join``) when the ``with`` block ends without an error."""

    def __init__(self, name, documents):
        self.name, self.documents = name, documents
        self.parts = {section: open(f"{name}.{section}.tmp", "wb") for section, _ in SECTIONS}
        self.counts = dict.fromkeys(self.parts, 0)
        self.keys_size = self.postings = self.positions = 0
        for section in ("key_starts", "post_starts", "pos_starts"):
            self.put(section, [0])

    def put(self, section, values):
        data = np.ascontiguousarray(values, dtype=dict(SECTIONS)[section])
        self.parts[section].write(data.tobytes())
        self.counts[section] += len(data)

    def put_terms(self, keys, counts, docs, weights, lengths, flat):
        """Terms in key order: their keys, postings per term, and per posting its document,
        weight and number of positions; ``flat`` the positions, in posting order."""
        joined = b"".join(keys)
        self.put("keys", np.frombuffer(joined, dtype=np.uint8))
        self.put("key_starts", self.keys_size + np.cumsum([len(k) for k in keys],
                                                          dtype=np.int64))
        self.keys_size += len(joined)
        self.put("post_starts", self.postings + np.cumsum(counts, dtype=np.int64))
        self.postings += len(docs)
        self.put("docs", docs)
        self.put("weights", weights)
        self.put("pos_starts", self.positions + np.cumsum(lengths, dtype=np.int64))
        self.put("positions", flat)
        self.positions += len(flat)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        for handle in self.parts.values():
            handle.close()
        try:
            if kind is None:
                _join(self.name, self.counts, self.documents)
        finally:
            for section in self.parts:
                if os.path.exists(f"{self.name}.{section}.tmp"):
                    os.remove(f"{self.name}.{section}.tmp")


# Merged terms handled at once by ``merge_sidecars``: bounds its memory.
MERGE_CHUNK = 20_000
# ... and their postings: 20,000 terms of 100,000 synthetic articles held up to 13.4 million
# postings (a run of common words), 1.8 GB at the merge's peak (measured); a million articles
# would hold ten times as many. A chunk ends at the term that reaches this many.
MERGE_POSTINGS = 2_000_000
# Terms of one sidecar listed at a time (their key offsets as Python ints: all of them, from
# 1,000 segments at once, took about 2 GB).
KEYS_AT_ONCE = 4096


def merge_sidecars(readers, name) -> bool:
    """The sidecar (at path ``name``) of the segment Whoosh makes by merging the segments
    of ``readers`` in this order (``SegmentWriter.add_reader``: live documents renumbered
    from 0 in order, deleted documents and terms left with no posting dropped), made from
    their sidecars without decoding a posting. False (nothing written) if one of them
    has none."""
    sides = [sidecar(reader) for reader in readers]
    if any(side is None for side in sides):
        return False
    docmaps, base = [], 0
    for reader in readers:
        live = np.fromiter(reader.all_doc_ids(), dtype=np.int64)
        docmap = np.full(reader.doc_count_all(), -1, dtype=np.int64)
        docmap[live] = base + np.arange(len(live))
        docmaps.append(docmap)
        base += len(live)
    with _Sections(name, base) as out:
        chunk, postings = [], 0
        stream = heapq.merge(*(_keys_of(side, n) for n, side in enumerate(sides)))
        for key, group in itertools.groupby(stream, key=operator.itemgetter(0)):
            found = list(group)
            chunk.append((key, [(n, term) for _, n, term, _ in found]))
            postings += sum(count for _, _, _, count in found)
            if len(chunk) >= MERGE_CHUNK or postings >= MERGE_POSTINGS:
                _merge_chunk(sides, docmaps, chunk, out)
                chunk, postings = [], 0
        _merge_chunk(sides, docmaps, chunk, out)
    return True


def _keys_of(side, number):
    """(key, number, term number, postings) of each term of a sidecar, in key order."""
    data, at = side._map, side._keys_at
    for first in range(0, side.terms, KEYS_AT_ONCE):
        starts = side.key_starts[first:first + KEYS_AT_ONCE + 1].tolist()
        counts = np.diff(side.post_starts[first:first + KEYS_AT_ONCE + 1]).tolist()
        for term, count in enumerate(counts):
            yield data[at + starts[term]:at + starts[term + 1]], number, first + term, count


def _merge_chunk(sides, docmaps, chunk, out):
    """Write the merged postings of ``chunk``'s terms (key, [(input, term), ...])."""
    if not chunk:
        return
    merged, docs, weights, starts, ends, sources = [], [], [], [], [], []
    by_input = [[] for _ in sides]  # each input's (term, merged term) in the chunk
    for m, (_, found) in enumerate(chunk):
        for n, term in found:
            by_input[n].append((term, m))
    for n, (side, mine) in enumerate(zip(sides, by_input)):
        if not mine:
            continue
        first, last = mine[0][0], mine[-1][0]  # a chunk is a range of keys: terms in a row
        post = side.post_starts[first:last + 2]
        lo, hi = int(post[0]), int(post[-1])
        merged.append(np.repeat(np.array([m for _, m in mine], dtype=np.int64), np.diff(post)))
        docs.append(docmaps[n][side.read("docs", lo, hi)])
        weights.append(side.read("weights", lo, hi))
        pos = side.read("pos_starts", lo, hi + 1)
        offset = sum(len(s) for s in sources) - int(pos[0])
        starts.append(pos[:-1] + offset)
        ends.append(pos[1:] + offset)
        sources.append(side.read("positions", pos[0], pos[-1]))
    merged, docs = np.concatenate(merged), np.concatenate(docs)
    weights, starts, ends = np.concatenate(weights), np.concatenate(starts), np.concatenate(ends)
    positions = np.concatenate(sources)
    kept = docs >= 0  # postings of deleted documents go, as in Whoosh's merge
    order = np.flatnonzero(kept)[np.lexsort((docs[kept], merged[kept]))]
    counts = np.bincount(merged[order], minlength=len(chunk))
    lengths = ends[order] - starts[order]
    flat = np.repeat(starts[order] - np.cumsum(lengths) + lengths, lengths) + \
        np.arange(lengths.sum())
    out.put_terms([key for (key, _), count in zip(chunk, counts) if count],
                  counts[counts > 0], docs[order], weights[order], lengths,
                  positions[flat])


def _join(name, counts, documents):
    """The sections' temporary files into one sidecar (``_write_file``)."""
    def chunks(section):
        with open(f"{name}.{section}.tmp", "rb") as part:
            while chunk := part.read(1 << 24):
                yield chunk

    _write_file(name, counts, documents, chunks)


def _write_file(name, counts, documents, chunks):
    """The sections (``chunks(section)`` yields each one's bytes) into one file, each 8-byte
    aligned, then its layout: the layout last, so a sidecar is read only once whole."""
    layout = {"version": VERSION, "documents": documents, "sections": {}}
    with open(name + ".tmp", "wb") as out:
        for section, dtype in SECTIONS:
            out.write(b"\0" * (-out.tell() % 8))
            layout["sections"][section] = [out.tell(), counts[section]]
            for chunk in chunks(section):
                out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(name + ".tmp", name)
    with open(name + ".json.tmp", "w") as out:
        json.dump(layout, out)
    os.replace(name + ".json.tmp", name + ".json")


class SidecarBuilder:
    """A segment's sidecar gathered in memory, term by term in key order, then written:
    the lean writer's postings as it writes them (``indexer.writer``), with no decoding.
    The writer keeps every posting's positions in one flat array as it adds documents
    (a list kept per posting cost 17-21% more CPU on 1,000 news, a third of it the cyclic
    collector walking them, measured with it off); a term names where each of its
    postings' positions start there and how many there are.

    >>> import tempfile
    >>> builder = SidecarBuilder(array("i", [9, 1, 5, 0]))
    >>> builder.add("body", b"a", [0, 2], [1.0, 2.0], [3, 1], [1, 2])
    >>> builder.add("id", b"x", [1], [1.0], None, None)
    >>> name = builder.write(tempfile.mkdtemp(), "MAIN_s", 3)
    >>> side = SegmentPostings(name, json.load(open(name + ".json")))
    >>> side.postings(side.find("body", b"a"))[0].tolist(), side.read("positions", 0, 3).tolist()
    ([0, 2], [0, 1, 5])
    """

    def __init__(self, flat) -> None:
        self.flat = flat  # every posting's positions, in the order the writer added them
        self.keys = bytearray()
        self.key_starts = array("q", [0])
        self.post_starts = array("q", [0])
        self.docs = array("i")
        self.weights = array("f")
        self.counts = array("q")  # each posting's number of positions (0 without them)
        self.sources = array("q")  # where each posting's positions start in ``flat``
        self.prefixes = {}  # field name -> its keys' first bytes

    def add(self, fieldname: str, btext: bytes, ids, weights, starts, counts) -> None:
        """One term's postings, with where each one's positions start in the writer's flat
        array and how many (both None for a field without positions); terms must come in
        key order (fields sorted, then terms)."""
        prefix = self.prefixes.get(fieldname)
        if prefix is None:
            prefix = self.prefixes[fieldname] = fieldname.encode("utf-8") + b"\0"
        self.keys += prefix + btext
        self.key_starts.append(len(self.keys))
        self.docs.extend(ids)
        self.weights.extend(weights)
        self.post_starts.append(len(self.docs))
        if starts is None:
            self.counts.frombytes(bytes(self.counts.itemsize * len(ids)))  # zeros
            return
        self.counts.extend(counts)  # where they end is summed once, as the sidecar is written
        self.sources.extend(starts)

    def write(self, folder: str, segment_id: str, documents: int) -> str:
        """Write the sidecar of segment ``segment_id`` (``documents`` in all) into
        ``folder``; returns its path."""
        counts = np.frombuffer(self.counts, dtype=np.int64) if len(self.counts) else \
            np.zeros(0, dtype=np.int64)
        pos_starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        counts = counts[counts > 0]  # postings with positions, in order: as ``sources``
        sources = np.frombuffer(self.sources, dtype=np.int64) if len(self.sources) else \
            np.zeros(0, dtype=np.int64)
        gather = np.repeat(sources - np.cumsum(counts) + counts, counts) + \
            np.arange(counts.sum())
        sections = {"keys": self.keys, "key_starts": self.key_starts,
                    "post_starts": self.post_starts, "docs": self.docs,
                    "weights": self.weights, "pos_starts": pos_starts,
                    "positions": np.frombuffer(self.flat, dtype=np.int32)[gather]
                    if len(self.flat) else np.zeros(0, dtype=np.int32)}
        name = os.path.join(folder, segment_id + SUFFIX)
        _write_file(name, {section: len(data) for section, data in sections.items()},
                    documents, lambda section: [memoryview(sections[section])])
        return name


def _term_postings(reader, fieldname, btext, positional):
    """(document numbers, weights, positions per posting, positions) of one term in a segment,
    deleted documents included."""
    matcher = reader.postings(fieldname, btext)
    if isinstance(matcher, FilterMatcher):  # hides deleted documents
        matcher = matcher.child
        matcher.reset()
    decode = matcher.format.decode_positions if positional else None
    if type(matcher) is W3LeafMatcher:
        ids, weights, values = [], [], []
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            ids.extend(matcher._ids)
            weights.extend(matcher._weights)
            if positional:
                matcher._read_values()
                values.extend(matcher._values)
            matcher._next_block()
    else:  # postings kept inline in the term's entry
        ids, weights, values = [], [], []
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            if positional:
                values.append(matcher.value())
            matcher.next()
    decoded = [decode(v) for v in values] if positional else []
    lengths = np.array([len(p) for p in decoded], dtype=np.int64) if positional else \
        np.zeros(len(ids), dtype=np.int64)
    flat = array("i")
    for p in decoded:
        flat.extend(p)
    return (np.array(ids, dtype=np.int32), np.array(weights, dtype=np.float32), lengths,
            np.frombuffer(flat, dtype=np.int32))


# -- reading -----------------------------------------------------------------

class SegmentPostings:
    """One segment's sidecar: a term's postings and positions as arrays.

    The file is mapped. Document numbers and weights, read a whole term's list at
    a time to score it, are read with ``os.pread`` into the process's own memory
    instead (a term's document numbers kept a while: ``DOCS_KEPT``): a page of a
    mapped file stays in the process's resident memory once touched, and the
    kernel maps whole folios of the page cache around each touch (5,000 reads of
    8 bytes at random places of the 100k index's sidecar mapped 568 MiB). The
    term table and the positions, read a few items at a time, stay mapped (read
    with ``pread`` they cost headline queries with snippets 10% more CPU); what
    a process holds of the maps is dropped when it passes ``MAPPED_BUDGET``.
    """

    _numbers = itertools.count()  # each sidecar's own, for its entries in _kept_docs

    def __init__(self, path: str, layout: dict) -> None:
        self._number = next(self._numbers)
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        self._at = {}  # section -> (byte offset, dtype)
        self._map = b""
        if os.path.getsize(path):
            self._map = mmap.mmap(self._fd, 0, access=mmap.ACCESS_READ)
            _maps.add(self)
        data = np.frombuffer(self._map, dtype=np.uint8)
        for section, dtype in SECTIONS:
            start, count = layout["sections"][section]
            self._at[section] = (start, np.dtype(dtype))
            if section not in ("docs", "weights"):  # those are read, not mapped
                size = np.dtype(dtype).itemsize
                setattr(self, section, data[start:start + count * size].view(dtype))
        self._keys_at = layout["sections"]["keys"][0]
        self.terms = len(self.key_starts) - 1
        self._found = {}  # key -> term number (or None), for the terms asked for

    def read(self, section: str, lo: int, hi: int) -> np.ndarray:
        """Items ``lo:hi`` of a section read from the file into the process's memory."""
        start, dtype = self._at[section]
        lo, hi = int(lo), int(hi)
        if hi <= lo:
            return np.zeros(0, dtype=dtype)
        size = (hi - lo) * dtype.itemsize
        data = os.pread(self._fd, size, start + lo * dtype.itemsize)
        if len(data) != size:
            raise OSError(f"sidecar cut short: {len(data)} of {size} bytes")
        return np.frombuffer(data, dtype=dtype)

    def drop_pages(self) -> None:
        """Take the map's pages out of the process's resident memory (the page cache keeps
        them: the next read maps them in again)."""
        if self._map and not self._map.closed:
            self._map.madvise(mmap.MADV_DONTNEED)

    def find(self, fieldname: str, btext: bytes) -> int | None:
        """The term's number in the segment, None if the segment lacks it (binary search)."""
        key = fieldname.encode("utf-8") + b"\0" + btext
        if key in self._found:
            return self._found[key]
        lo, hi = 0, self.terms
        starts, at = self.key_starts, self._keys_at
        while lo < hi:
            mid = (lo + hi) // 2
            if self._map[at + int(starts[mid]):at + int(starts[mid + 1])] < key:
                lo = mid + 1
            else:
                hi = mid
        found = lo if lo < self.terms and \
            self._map[at + int(starts[lo]):at + int(starts[lo + 1])] == key else None
        if len(self._found) >= FOUND_KEPT:
            self._found.clear()
        self._found[key] = found
        return found

    def postings(self, term: int) -> tuple:
        """(segment document numbers as int64, weights as float64) of term number ``term``."""
        lo, hi = self.post_starts[term], self.post_starts[term + 1]
        return (self.term_docs(term).astype(np.int64),
                self.read("weights", lo, hi).astype(np.float64))

    def term_docs(self, term: int) -> np.ndarray:
        """The document numbers of term number ``term`` (int32, read once while kept)."""
        key = (self._number, term)
        ids = _kept_docs.get(key)
        if ids is None:
            ids = self.read("docs", self.post_starts[term], self.post_starts[term + 1])
            _kept_docs.put(key, ids)
        return ids

    def _held(self, term, docs):
        """Posting numbers of ``docs`` (sorted) that the term holds, and which of ``docs``."""
        docs = np.asarray(docs, dtype=np.int64)
        lo, hi = int(self.post_starts[term]), int(self.post_starts[term + 1])
        if not len(docs) or hi == lo:
            return np.zeros(0, dtype=np.int64), docs[:0]
        ids = self.term_docs(term)
        at = np.searchsorted(ids, docs.astype(np.int32))  # int64 would cast all of ids
        held = at < len(ids)
        held[held] = ids[at[held]] == docs[held]
        return lo + at[held], docs[held]

    def doc_positions(self, term: int, docs):
        """(document, positions array) for those of ``docs`` (sorted segment numbers) the
        term is in."""
        numbers, held = self._held(term, docs)
        _mapped_reads(len(numbers))
        for number, doc in zip(numbers.tolist(), held.tolist()):
            yield doc, self.positions[self.pos_starts[number]:self.pos_starts[number + 1]]

    def position_keys(self, term: int, docs, offset: int) -> np.ndarray:
        """``(docnum + offset) << 32 | position`` of the term in ``docs`` (sorted), in order."""
        numbers, held = self._held(term, docs)
        _mapped_reads(len(numbers))
        starts, ends = self.pos_starts[numbers], self.pos_starts[numbers + 1]
        counts = ends - starts
        if not counts.sum():
            return np.zeros(0, dtype=np.int64)
        # Every posting's range of the positions array, in one gather.
        first = np.repeat(starts - np.cumsum(counts) + counts, counts)
        flat = first + np.arange(counts.sum())
        return (np.repeat(held + offset, counts) << 32) | self.positions[flat].astype(np.int64)


class PostingCache:
    """Score arrays of terms and field lengths of segments, least recently used dropped first.

    Entries belong to one generation of the index (``Index.refresh`` starts a
    new one): statistics such as IDF change with every commit.

    >>> cache = PostingCache(max_postings=3)
    >>> cache.put((0, "a"), np.arange(2)); cache.put((0, "b"), np.arange(2))
    >>> cache.get((0, "a")) is None, len(cache.get((0, "b")))
    (True, 2)
    """

    def __init__(self, max_postings: int = CACHE_POSTINGS) -> None:
        self.max_postings = max_postings
        self._entries: OrderedDict = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        size = _size(value)
        with self._lock:
            if key in self._entries:
                self._size -= _size(self._entries.pop(key))
            self._entries[key] = value
            self._size += size
            while self._size > self.max_postings and self._entries:
                self._size -= _size(self._entries.popitem(last=False)[1])


def _size(value):
    return sum(len(v) for v in value) if isinstance(value, tuple) else len(value)


_kept_docs = PostingCache(DOCS_KEPT)

# Every open sidecar, whose mapped pages _mapped_reads may drop.
_maps = weakref.WeakSet()
_reads = [0, None]  # postings read through the maps since the last look; file pages then


def _mapped_reads(count):
    """Count postings read through the maps; every ``CHECK_EVERY`` of them, look at the
    process's resident file pages (``/proc/self/statm``) and drop the sidecars' pages when
    they have grown by ``MAPPED_BUDGET`` since the last drop."""
    _reads[0] += count
    if _reads[0] < CHECK_EVERY:
        return
    _reads[0] = 0
    now = _file_pages()
    if now is None:
        return
    if _reads[1] is None:
        _reads[1] = 0
    if now - _reads[1] > MAPPED_BUDGET:
        for side in list(_maps):
            side.drop_pages()
        _reads[1] = _file_pages() or 0


def _file_pages():
    """Bytes of file pages (and shared memory) the process holds resident; None off Linux."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[2]) * mmap.PAGESIZE
    except (OSError, ValueError, IndexError):
        return None

# A segment reader -> its sidecar (False: none), for as long as the reader lives.
_opened = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def sidecar(reader) -> SegmentPostings | None:
    """The sidecar of a segment reader, None when the segment has none (or not a whole one)."""
    try:
        with _lock:
            found = _opened.get(reader)
    except TypeError:
        return None
    if found is None:
        found = _open(reader) or False
        try:
            with _lock:
                _opened[reader] = found
        except TypeError:
            pass
    return found or None


def _open(reader):
    segment = getattr(reader, "segment", None)
    folder = _folder(reader)
    if segment is None or folder is None:
        return None
    name = os.path.join(folder, segment().segment_id() + SUFFIX)
    try:
        with open(name + ".json") as handle:
            layout = json.load(handle)
        if layout.get("version") != VERSION or layout.get("documents") != \
                reader.doc_count_all():
            return None
        return SegmentPostings(name, layout)
    except (OSError, ValueError, KeyError):
        return None


def _folder(reader):
    storage = getattr(reader, "_storage", None)
    while isinstance(storage, OverlayStorage):
        storage = storage.b
    return getattr(storage, "folder", None)
