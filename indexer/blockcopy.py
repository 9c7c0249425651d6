"""Merging segments by copying their posting blocks: no posting goes through Python alone.

Whoosh's merge (``SegmentWriter.add_reader``) reads every posting of every
segment through a matcher, sorts them all in its posting pool and writes them
again one ``add_posting`` call at a time: 116-142 CPU-seconds to merge ten
segments of 1,000 synthetic articles, about as much as indexing them. Here the
segments' terms are merged in key order and each term's blocks (Whoosh 2.7.5's
W3 codec, ``whoosh/codec/whoosh3.py``: a pickle of (id deltas, weights, values),
zlib-compressed, after a pickled block header) are unpacked, their document
numbers moved by the segment's base and packed again into blocks of the
codec's size: the values (word positions) are the same bytes objects, never
decoded. Per block, not per posting: one unpickling per old block, one
pickling per new one; the work per posting is in C (``accumulate``, ``map``,
tuple concatenation).

The blocks are cut where Whoosh's own merge cuts them (every ``blocklimit``
postings of a term, in document order) and hold what it computes (maximum
weight and field-length bytes per block; total weight, document frequency and
length bytes per term), so the files are those ``add_reader`` writes
(``tests/test_blockcopy.py`` compares them byte for byte, and every posting,
stored field, column and search through Whoosh's readers). Stored fields,
field lengths and columns are copied by Whoosh's own ``write_per_doc``.

Only segments without deleted documents, of the W3 codec, whose fields' formats
never write an empty value (``COPYABLE_FORMATS``) are copied (``copyable``);
anything else goes through ``add_reader`` (``indexer.merging``).
"""

import functools
import heapq
import io
import operator
import pickle
import zlib
from array import array
from itertools import accumulate, chain, groupby

from whoosh import formats
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3Codec, W3TermInfo
from whoosh.system import pack_int, pack_long, pack_ushort

from indexer.errors import PoiskError
from indexer.writer import w3_block

__all__ = ["COPYABLE_FORMATS", "copy_segments", "copyable"]

# Formats whose every posting has a value (positions, a frequency) or none at all
# (``Existence``): a block's values line up with its ids. A format could write
# empty values, which Whoosh's postings writer drops, and then they do not.
COPYABLE_FORMATS = (formats.Existence, formats.Frequency, formats.Positions)

TERM_INFO = W3TermInfo._struct  # flags, weight, df, min/max length byte, max weight, min/max id
BLOCK_LENGTH = pack_int  # a block's byte length, negative for a term's last block


def copyable(writer, readers) -> bool:
    """True if ``readers`` (segment readers) can be merged into ``writer`` by copying.

    >>> import tempfile
    >>> from indexer.storage import create_index
    >>> ix = create_index(tempfile.mkdtemp() + "/ix")
    >>> copyable(ix.writer(), [])
    False
    """
    schema = writer.schema
    fields = [schema[name] for name in schema.names()]
    return (bool(readers) and type(writer.codec) is W3Codec and not writer._added
            and writer.docnum == 0
            and all(type(reader._codec) is W3Codec and not reader.has_deletions()
                    for reader in readers)
            and not any(field.vector for field in fields)
            and all(field.format is None or type(field.format) in COPYABLE_FORMATS
                    for field in fields))


def copy_segments(writer, readers):
    """Add the segments of ``readers`` to ``writer`` (a Whoosh ``SegmentWriter`` that has
    nothing else), as ``add_reader`` of each in turn would; ``copyable`` must be True."""
    names = set(writer.schema.names())
    bases = []
    for reader in readers:
        bases.append(writer.docnum)
        _remember_columns(reader)
        # The names built as add_reader builds them: a stored dict's keys come in the order
        # of this set, which depends on how it was made.
        indexed = set(name for name in reader.indexed_field_names() if name in writer.schema)
        writer.write_per_doc(set(writer.schema.names()) | indexed, reader)
    fieldwriter = writer.fieldwriter
    lengths = _LengthBytes(readers, bases)
    stream = heapq.merge(*(_terms(reader, n, names) for n, reader in enumerate(readers)))
    field = None
    for key, group in groupby(stream, key=operator.itemgetter(0)):
        fieldname, tbytes = key
        if fieldname != field:
            if field is not None:
                fieldwriter.finish_field()
            field = fieldname
            fieldwriter.start_field(fieldname, writer.schema[fieldname])
            term = _TermWriter(fieldwriter, writer.schema[fieldname].format,
                               lengths.of(fieldname))
        term.write(tbytes, [(readers[n], bases[n], info) for _, n, info in group])
    if field is not None:
        fieldwriter.finish_field()
    writer._added = True


def _remember_columns(reader):
    """Make ``reader`` (a segment reader, closed after the merge) remember which columns its
    segment has. ``write_per_doc`` asks for each document's length in each field, and
    Whoosh looks for the lengths column of a field without one (an unindexed field) on
    disk each time: 100,000 ``os.path.exists`` calls, 5 of 128 CPU-s merging ten segments
    of 1,000 synthetic articles (cProfile)."""
    perdoc = reader._perdoc
    perdoc.has_column = functools.lru_cache(maxsize=None)(perdoc.has_column)


def _terms(reader, number, names):
    """((field, term bytes), reader number, term info bytes) of a segment's terms, in key
    order."""
    terms = reader._terms
    unmap, last = terms._fieldunmap, None
    for keybytes, info in terms._tindex.items():
        key = (unmap[int.from_bytes(keybytes[:2], "big")], keybytes[2:])
        if last is not None and key <= last:
            raise PoiskError(f"segment {reader.segment().segment_id()}: its terms are out of "
                             f"order at {key!r}: the segment is damaged; rebuild the index "
                             "(`poisk index --rebuild`)")
        last = key
        if key[0] in names:  # add_reader drops fields the schema no longer has
            yield key, number, info


class _LengthBytes:
    """Each field's length bytes (``length_to_byte``) of every document of the merged
    segment, 0 where the document has no length, as ``write_per_doc`` wrote them."""

    def __init__(self, readers, bases):
        self.readers, self.bases = readers, bases
        self.fields = {}

    def of(self, fieldname):
        found = self.fields.get(fieldname)
        if found is None:
            found = array("B")
            for reader in self.readers:
                perdoc, count = reader._perdoc, reader.doc_count_all()
                column = "_%s_len" % fieldname
                if perdoc.has_column(column):
                    found.extend(perdoc.column_reader(column, LENGTHS_COLUMN))
                else:
                    found.extend(bytes(count))
            self.fields[fieldname] = found
        return found


class _TermWriter:
    """Writes one field's merged terms into the new segment's postings and term files."""

    def __init__(self, fieldwriter, fmt, lengths):
        self.postfile = fieldwriter._postfile
        self.add_term = fieldwriter._tindex.add
        self.field_id = pack_ushort(fieldwriter._fieldid)
        codec = fieldwriter._codec
        self.limit, self.compression = codec._blocklimit, codec._compression
        self.fixed_size = fmt.fixed_value_size()
        self.lengths = lengths

    def write(self, tbytes, sources):
        """Write the term ``tbytes`` from its (reader, document base, term info bytes)
        sources."""
        if len(sources) == 1 and not sources[0][2][0]:  # one segment's, not inlined
            self._move(tbytes, *sources[0])
            return
        self._write(tbytes, *self._gather([(reader, base, W3TermInfo.from_bytes(info))
                                           for reader, base, info in sources]))

    def _gather(self, sources):
        """(ids, weights, values) of a term's postings in its (reader, base, W3TermInfo)
        sources, ids moved by the bases."""
        ids, weights, values = array("I"), [], []
        for reader, base, info in sources:
            for block_ids, block_weights, block_values in _read_term(reader, info,
                                                                     self.fixed_size):
                ids.extend(map(base.__add__, block_ids))
                weights.extend(block_weights)
                values.append(block_values)
        if self.fixed_size is None or self.fixed_size < 0:
            values = list(chain.from_iterable(values))
            if len(values) != len(ids):
                raise PoiskError("a posting without a value: this segment cannot be copied")
        elif self.fixed_size:
            values = b"".join(values)
        return ids, weights, values

    def _move(self, tbytes, reader, base, info):
        """Write a term found in one segment: its blocks stay as they were cut (where
        add_reader cuts them, if the segment was written with the same block size) and keep
        their statistics (add_reader computes the same ones, ``_write``); only the document
        numbers move, the first of each block (the others are deltas)."""
        _, weight, count, min_length, max_length, max_weight, min_id, max_id = \
            TERM_INFO.unpack_from(info)
        offset = int.from_bytes(info[TERM_INFO.size:TERM_INFO.size + 8], "big")
        length = int.from_bytes(info[TERM_INFO.size + 8:TERM_INFO.size + 12], "big")
        postfile = self.postfile
        start = postfile.tell()
        postfile.write(WHOOSH3_HEADER_MAGIC)
        for header, data, last in _blocks(reader, offset, length):
            block_count, block_max, block_weight, compression, block_min_length, \
                block_max_length = header
            data = _first_moved(zlib.decompress(data) if compression else data, base)
            if self.compression:
                data = zlib.compress(data, self.compression)
            if isinstance(block_weight, float):  # as a float32 weight, add_reader's
                block_weight = array("f", (block_weight,))[0]
            header = pickle.dumps((block_count, block_max + base, block_weight,
                                   self.compression, block_min_length, block_max_length), 2)
            size = len(header) + len(data)
            postfile.write(BLOCK_LENGTH(-size if last else size) + header + data)
        info = TERM_INFO.pack(False, weight, count, min_length, max_length, max_weight,
                              min_id + base, max_id + base)
        self.add_term(self.field_id + tbytes,
                      info + pack_long(start) + pack_int(postfile.tell() - start))

    def _write(self, tbytes, ids, weights, values):
        postfile, limit, size = self.postfile, self.limit, self.fixed_size
        start = postfile.tell()
        postfile.write(WHOOSH3_HEADER_MAGIC)
        total, max_weight, min_length, max_length = 0, 0, None, 0
        count = len(ids)
        for at in range(0, count, limit):
            end = min(at + limit, count)
            block_ids, block_weights = ids[at:end], weights[at:end]
            if size is None or size < 0:
                block_values = tuple(values[at:end])
            elif size == 0:
                block_values = None
            else:
                block_values = values[at * size:end * size]
            lengths = list(filter(None, map(self.lengths.__getitem__, block_ids)))
            block_min = min(lengths) if lengths else None
            block_max = max(lengths, default=0)
            block_max_weight = max(0, max(block_weights))
            self.postfile.write(w3_block(block_ids, block_weights, block_values,
                                         self.compression, block_max_weight, block_min,
                                         block_max, last=end == count))
            # W3TermInfo.add_block, with the lengths as their bytes (the order is the same)
            total += sum(block_weights)
            max_weight = max(max_weight, block_max_weight)
            if block_min is not None:
                min_length = block_min if min_length is None else min(min_length, block_min)
            max_length = max(max_length, block_max)
        info = TERM_INFO.pack(False, total, count, min_length or 0, max_length, max_weight,
                              ids[0], ids[-1])
        self.add_term(self.field_id + tbytes,
                      info + pack_long(start) + pack_int(postfile.tell() - start))


def _read_term(reader, info, fixed_size):
    """(ids, weights, values) of each block of a term of ``reader`` (ids from 0 of the
    segment; weights one float per posting; values as the block holds them: a tuple of
    bytes, or the joined bytes of a fixed size, or None)."""
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        if fixed_size is not None and fixed_size >= 0:
            values = b"".join(values) if fixed_size else None
        yield ids, weights, values
        return
    offset, length = info.extent()
    if isinstance(length, tuple):  # W3TermInfo.from_bytes leaves it unpacked (Whoosh 2.7.5)
        (length,) = length
    for header, data, _ in _blocks(reader, offset, length):
        count, compression = header[0], header[3]
        deltas, weights, values = pickle.loads(zlib.decompress(data) if compression else data)
        if weights is None:
            weights = (1.0,) * count
        elif isinstance(weights, float):
            weights = (weights,) * count
        yield accumulate(deltas), weights, values


def _blocks(reader, offset, length):
    """(header, data bytes, is the last) of each block of the term whose postings are at
    ``offset`` in ``reader``'s postings file: a header is (postings, largest id, largest
    weight, compression, length bytes smallest and largest)."""
    data = reader._terms._postfile.get(offset, length)
    if data[:4] != WHOOSH3_HEADER_MAGIC:
        raise PoiskError(f"a damaged posting list at {offset} of segment "
                         f"{reader.segment().segment_id()}: rebuild the index")
    stream, at, last = io.BytesIO(data), 4, False
    while not last:
        size = int.from_bytes(data[at:at + 4], "big", signed=True)
        last, end = size < 0, at + 4 + abs(size)
        stream.seek(at + 4)
        header = pickle.load(stream)
        yield header, data[stream.tell():end], last
        at = end


# Pickle opcodes of a non-negative int (protocol 2), by the largest value each holds
INT_OPCODES = ((0xFF, b"K", 1), (0xFFFF, b"M", 2), (0x7FFFFFFF, b"J", 4))


def _first_moved(data, base):
    """The pickle (protocol 2) of a block's (id deltas, weights, values) with the first
    delta, the block's first id, raised by ``base``: the bytes ``pickle.dumps`` makes of
    it, the rest copied (ints are never memoised).

    >>> data = pickle.dumps(((5, 1, 2, 9), None, (b"ab",)), 2)
    >>> pickle.loads(_first_moved(data, 1000))
    ((1005, 1, 2, 9), None, (b'ab',))
    >>> _first_moved(data, 1000) == pickle.dumps(((1005, 1, 2, 9), None, (b"ab",)), 2)
    True
    """
    at = 3 if data[2:3] == b"(" else 2  # a MARK starts a tuple of more than three
    for largest, opcode, size in INT_OPCODES:
        if data[at:at + 1] == opcode:
            first = int.from_bytes(data[at + 1:at + 1 + size], "little", signed=opcode == b"J")
            end = at + 1 + size
            break
    else:
        raise PoiskError("a posting block of an unknown layout: merge with add_reader")
    first += base
    for largest, opcode, size in INT_OPCODES:
        if first <= largest:
            return data[:at] + opcode + first.to_bytes(size, "little") + data[end:]
    raise PoiskError("a document number past 2**31")
