"""Posting lists as flat arrays beside each segment, read with no decoding: a sidecar.

Whoosh stores a term's postings in zlib+pickle blocks and each posting's word
positions as a pickle of its own (``whoosh.formats.Positions.encode``):
reading them was a third of the CPU time of the slowest 5% of 1-3-word
searches on the 8.9k news index, paid again for every segment, and on a
query's first run there is no cache to help. ``write_sidecars`` writes, next
to each segment ``MAIN_<id>.seg``, every posting of every field once more as
plain arrays (``MAIN_<id>.poisk_postings``, its layout in
``MAIN_<id>.poisk_postings.json``): the segment's terms, sorted (``field NUL
term``), where each term's postings start, document numbers (int32, in
order), weights (float32, Whoosh's own: the same BM25 floats), and where each
posting's positions start in one array of positions (int32). A search maps
the file and slices it (``SegmentPostings``). The file is Whoosh's segment
name plus a suffix, so Whoosh deletes it with its segment after a merge.

Postings of deleted documents are kept, as in Whoosh's own blocks: searchers
drop deleted documents themselves. ``poisk optimize`` writes the sidecar of
every segment that lacks one; a segment without one is read through Whoosh.

>>> import tempfile, pathlib
>>> from indexer import build_index
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.txt").write_text("Никель\\nНорильский никель и никель.")
>>> _ = build_index([folder], folder / "ix")
>>> write_sidecars(folder / "ix")
1
>>> from indexer.storage import open_whoosh_index
>>> reader = open_whoosh_index(folder / "ix").reader()
>>> side = sidecar(reader)
>>> found = side.find("body", "никель".encode())
>>> side.postings(found)[0].tolist(), [p.tolist() for _, p in side.doc_positions(found, [0])]
([0], [[1, 3]])
"""

import itertools
import json
import mmap
import os
import threading
import weakref
from array import array
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.filedb.filestore import OverlayStorage
from whoosh.matching import FilterMatcher

__all__ = ["SegmentPostings", "sidecar", "write_sidecars"]

SUFFIX = ".poisk_postings"
VERSION = 1
# Section name -> dtype, in file order (each section starts 8-byte aligned).
SECTIONS = (("keys", np.uint8), ("key_starts", np.int64), ("post_starts", np.int64),
            ("docs", np.int32), ("weights", np.float32), ("pos_starts", np.int64),
            ("positions", np.int32))
FOUND_KEPT = 100_000  # term lookups remembered per segment
# Positions of a few postings far apart are read one posting a read; of many, or close
# together (within GATHER_SPAN times what is wanted), in one read of the stretch.
GATHER_SPAN = 8
GATHER_READS = 64
# Document numbers of the terms read last, kept across segments and searches: a query
# reads a term's list to score it, then again for the positions of the documents that
# may take the bonus and of the page (on the 100k index's headline queries, some 180
# reads a query without it). 8 million postings, 32 MB.
DOCS_KEPT = 8_000_000


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
    parts = {section: open(f"{name}.{section}.tmp", "wb") for section, _ in SECTIONS}
    counts = dict.fromkeys(parts, 0)

    def put(section, values):
        data = np.ascontiguousarray(values, dtype=dict(SECTIONS)[section])
        parts[section].write(data.tobytes())
        counts[section] += len(data)

    try:
        put("key_starts", [0])
        put("post_starts", [0])
        put("pos_starts", [0])
        keys_size = postings = positions = 0
        for fieldname in sorted(reader.schema.names()):  # NUL sorts first: keys stay sorted
            field = reader.schema[fieldname]
            if field.format is None or fieldname not in reader.indexed_field_names():
                continue
            positional = field.format.supports("positions")
            for btext in reader.lexicon(fieldname):
                docs, weights, lengths, flat = _term_postings(reader, fieldname, btext, positional)
                key = fieldname.encode("utf-8") + b"\0" + btext
                put("keys", np.frombuffer(key, dtype=np.uint8))
                keys_size += len(key)
                put("key_starts", [keys_size])
                put("docs", docs)
                put("weights", weights)
                postings += len(docs)
                put("post_starts", [postings])
                put("positions", flat)
                put("pos_starts", positions + np.cumsum(lengths, dtype=np.int64))
                positions += len(flat)
        for handle in parts.values():
            handle.close()
        _join(name, counts, reader.doc_count_all())
    finally:
        for section, handle in parts.items():
            handle.close()
            if os.path.exists(f"{name}.{section}.tmp"):
                os.remove(f"{name}.{section}.tmp")


def _join(name, counts, documents):
    """The sections into one file (each 8-byte aligned), then its layout: the layout last,
    so a sidecar is read only once whole."""
    layout = {"version": VERSION, "documents": documents, "sections": {}}
    with open(name + ".tmp", "wb") as out:
        for section, dtype in SECTIONS:
            out.write(b"\0" * (-out.tell() % 8))
            layout["sections"][section] = [out.tell(), counts[section]]
            with open(f"{name}.{section}.tmp", "rb") as part:
                while chunk := part.read(1 << 24):
                    out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(name + ".tmp", name)
    with open(name + ".json.tmp", "w") as out:
        json.dump(layout, out)
    os.replace(name + ".json.tmp", name + ".json")


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

    The term table (``keys``, ``key_starts``, ``post_starts``: some 10 MB at
    100,000 articles) is mapped and searched in place. The postings and
    positions are read with ``os.pread`` into arrays of the process's own,
    just the slice asked for: a page of a mapped file stays in the process's
    resident memory once touched, and the kernel maps whole folios of the page
    cache around each touch (5,000 reads of 8 bytes at random places of the
    100k index's sidecar mapped 568 MiB). Reading the same slices through the
    map cost the searches as much CPU (see README, Benchmarks).
    """

    MAPPED = ("keys", "key_starts", "post_starts")  # the sections first in the file
    _numbers = itertools.count()  # each sidecar's own, for its entries in _kept_docs

    def __init__(self, path: str, layout: dict) -> None:
        self._number = next(self._numbers)
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)
        self._at = {}  # section -> (byte offset, dtype)
        mapped_end = 0
        for section, dtype in SECTIONS:
            start, count = layout["sections"][section]
            self._at[section] = (start, np.dtype(dtype))
            if section in self.MAPPED:
                mapped_end = max(mapped_end, start + count * np.dtype(dtype).itemsize)
        self._map = b""
        if mapped_end:
            self._map = mmap.mmap(self._fd, mapped_end, access=mmap.ACCESS_READ)
        data = np.frombuffer(self._map, dtype=np.uint8)
        for section in self.MAPPED:
            start, count = layout["sections"][section]
            dtype = self._at[section][1]
            setattr(self, section, data[start:start + count * dtype.itemsize].view(dtype))
        self._keys_at = layout["sections"]["keys"][0]
        self.terms = len(self.key_starts) - 1
        self._found = {}  # key -> term number (or None), for the terms asked for

    def read(self, section: str, lo: int, hi: int) -> np.ndarray:
        """Items ``lo:hi`` of one of the sections read from the file (not ``MAPPED``)."""
        start, dtype = self._at[section]
        lo, hi = int(lo), int(hi)
        if hi <= lo:
            return np.zeros(0, dtype=dtype)
        size = (hi - lo) * dtype.itemsize
        data = os.pread(self._fd, size, start + lo * dtype.itemsize)
        if len(data) != size:
            raise OSError(f"sidecar cut short: {len(data)} of {size} bytes")
        return np.frombuffer(data, dtype=dtype)

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
        at = np.searchsorted(ids, docs)
        held = at < len(ids)
        held[held] = ids[at[held]] == docs[held]
        return lo + at[held], docs[held]

    def _position_ranges(self, numbers):
        """(starts, ends) in the positions array of the postings ``numbers`` (sorted)."""
        pairs = self._pieces("pos_starts", numbers, numbers + 2).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    def _pieces(self, section, starts, ends):
        """Items ``starts[i]:ends[i]`` of a section for each i (both sorted), concatenated."""
        counts = ends - starts
        total = int(counts.sum())
        if not total:
            return np.zeros(0, dtype=self._at[section][1])
        span = int(ends[-1] - starts[0])
        if span <= GATHER_SPAN * total or len(starts) > GATHER_READS:
            # One read over the whole stretch, then the pieces of it.
            flat = self.read(section, starts[0], ends[-1])
            offsets = np.repeat(starts - starts[0] - np.cumsum(counts) + counts, counts)
            return flat[offsets + np.arange(total)]
        # Few and far apart (a page's documents in a long posting list): a read each.
        return np.concatenate([self.read(section, lo, hi) for lo, hi in
                               zip(starts.tolist(), ends.tolist())])

    def doc_positions(self, term: int, docs):
        """(document, positions array) for those of ``docs`` (sorted segment numbers) the
        term is in."""
        numbers, held = self._held(term, docs)
        if not len(numbers):
            return
        starts, ends = self._position_ranges(numbers)
        flat = self._pieces("positions", starts, ends)
        at = 0
        for doc, count in zip(held.tolist(), (ends - starts).tolist()):
            yield doc, flat[at:at + count]
            at += count

    def position_keys(self, term: int, docs, offset: int) -> np.ndarray:
        """``(docnum + offset) << 32 | position`` of the term in ``docs`` (sorted), in order."""
        numbers, held = self._held(term, docs)
        if not len(numbers):
            return np.zeros(0, dtype=np.int64)
        starts, ends = self._position_ranges(numbers)
        counts = ends - starts
        if not counts.sum():
            return np.zeros(0, dtype=np.int64)
        flat = self._pieces("positions", starts, ends)
        return (np.repeat(held + offset, counts) << 32) | flat.astype(np.int64)


class _Kept:
    """Arrays by key, the least recently used dropped first past ``limit`` items in all."""

    def __init__(self, limit):
        self.limit, self._size = limit, 0
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            if key in self._entries:
                self._size -= len(self._entries.pop(key))
            self._entries[key] = value
            self._size += len(value)
            while self._size > self.limit and self._entries:
                self._size -= len(self._entries.popitem(last=False)[1])


_kept_docs = _Kept(DOCS_KEPT)

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
