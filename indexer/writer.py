"""A leaner Whoosh segment writer: the same segment files, written with fewer Python calls.

Whoosh's ``SegmentWriter`` analyses each text field into a Token per term, puts
every posting into a sorting pool as a tuple, sorts the pool and then hands the
postings one by one to the codec, which reads the document's field length back
from disk for each of them. A profile of ``poisk index --workers 0`` on 2,000
news (README, Benchmarks) put about a third of the run there and another third
in the Token stream. ``SegmentWriter`` here:

- analyses poisk's own text fields (``WordTokenizer() | MorphFilter()``) with
  ``MorphFilter.index_terms``: one regex pass, the finished terms of each
  spelling cached, no Token objects;
- collects a segment's postings per field and term in memory, already in
  document order (a batch is one segment, about 1,000 articles: Whoosh's own
  pool held them in memory too, ``indexer.segments.WRITER_MB``), and writes each
  term's postings as whole blocks through Whoosh's postings writer, with the
  field lengths read once per document.

The files are byte for byte those Whoosh's own writer makes of the same
documents (``tests/test_writer.py`` compares them), so the index format is
unchanged and any other field type or analyzer goes through Whoosh's own code.
"""

import operator
import struct
import zlib
from array import array
from hashlib import md5
from itertools import chain
from pickle import dumps

from whoosh import formats
from whoosh.analysis import CompositeAnalyzer
from whoosh.filedb import filetables
from whoosh.filedb.filestore import FileStorage
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.writing import SegmentWriter as WhooshSegmentWriter

from indexer.analysis import WORD_RE, WORDS_KEY, MorphFilter, WordTokenizer
from indexer.sidecar import SidecarBuilder

TERM_INFO = W3TermInfo._struct  # flags, weight, df, min/max length, max weight, ids
HASH_LENGTHS = filetables._lengths  # a hash file entry's key and value lengths

__all__ = ["SegmentWriter", "morph_filter", "w3_block"]


def morph_filter(analyzer):
    """The ``MorphFilter`` of poisk's own analyzer, or None for any other analyzer.

    >>> from indexer.analysis import russian_analyzer
    >>> type(morph_filter(russian_analyzer())).__name__, morph_filter(None)
    ('MorphFilter', None)
    """
    items = getattr(analyzer, "items", ()) if isinstance(analyzer, CompositeAnalyzer) else ()
    if len(items) == 2 and type(items[0]) is WordTokenizer and type(items[1]) is MorphFilter:
        return items[1]
    return None


def _positions(morph, value, surfaces=None):
    """term -> its positions in ``value``, as ``Positions.word_values`` collects them
    (a word whose terms repeat one text lists its position twice, as Whoosh does).

    The words are grouped by spelling first (one dictionary append a word: half the
    CPU of sorting them and ``groupby``, measured on 600 words), so the analysis is
    per distinct spelling rather than per word; the few words decided by their
    neighbours ("стали") are analysed where they stand.

    >>> from indexer.analysis import MorphFilter
    >>> _positions(MorphFilter(), "Сталь и сталь; стали пить")
    {'сталь': [0, 2], 'стать': [3], '~сталь': [3], 'пить': [4]}
    """
    if surfaces is None:  # else the words of value, split already (WORDS_KEY)
        surfaces = WORD_RE.findall(value)
    at_of = {}
    get = at_of.get
    for pos, surface in enumerate(surfaces):
        at = get(surface)
        if at is None:
            at_of[surface] = [pos]
        else:
            at.append(pos)
    poses = {}
    merged = []  # texts whose positions came from more than one spelling: sorted at the end
    index_texts = morph.index_texts
    known = morph.known_texts  # the cache behind index_texts, read without a call
    for surface, at in at_of.items():
        texts = known(surface, index_texts)
        if texts is index_texts:  # not in the cache
            texts = index_texts(surface)
        if texts is None:  # decided by the words around each occurrence
            for pos in at:
                for text in morph.context_texts(surfaces, pos):
                    poses[text] = poses.get(text, []) + [pos]  # never extends a shared list
                    merged.append(text)
            continue
        for text in texts:
            found = poses.get(text)
            if found is None:
                poses[text] = at
            elif found is at:  # the word's terms repeat a text: each position twice
                poses[text] = sorted(at * 2)
            else:
                poses[text] = found + at
                merged.append(text)
    for text in merged:
        poses[text].sort()
    return poses


def fast_positions(field, value, words=None):
    """term text -> its positions in a text field of poisk's analyzer (``_positions``), or
    None where Whoosh's own ``field.index`` must analyse it. ``words``: the words of
    ``value`` (``split_words``), if split already."""
    morph = morph_filter(getattr(field, "analyzer", None))
    if morph is None or not isinstance(value, str) or type(field.format) not in (
            formats.Positions, formats.Frequency):
        return None
    # The terms are kept by their text and encoded once per segment, as it is written:
    # WORD_RE's words hold no unpaired surrogate (no letter), so none fails to encode.
    return _positions(morph, value, words)


# A one-position value's pickle, by position: most postings hold one position. Each
# value is made a new bytes object by the concatenation: a block's values are pickled
# together, and one object twice would be pickled once (a memo reference), which
# Whoosh's files never hold.
_ONE = pack_uint(1)
_ONE_TAILS = {}


def encode_positions(positions):
    """``formats.Positions.encode``'s bytes, a one-position list from a cache.

    >>> encode_positions([7]) == formats.Positions().encode([7])
    True
    """
    if len(positions) == 1:
        tail = _ONE_TAILS.get(positions[0])
        if tail is None:
            tail = _ONE_TAILS[positions[0]] = dumps(positions, 2)  # the delta of one is itself
        return _ONE + tail
    return _encode(positions)


_encode = formats.Positions.encode.__get__(formats.Positions())


def _whoosh_items(field, value):
    """(term bytes, frequency, weight, value bytes, positions) of ``field.index(value)``,
    the positions decoded (None without them)."""
    fmt = field.format
    decode = fmt.decode_positions if fmt is not None and fmt.supports("positions") else None
    return [(tbytes, freq, weight, vbytes, decode(vbytes) if decode else None)
            for tbytes, freq, weight, vbytes in field.index(value)]


class SegmentWriter(WhooshSegmentWriter):
    """Whoosh's ``SegmentWriter`` with poisk's text fields analysed without Tokens and the
    postings written in bulk (see the module's docstring). Takes the same arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # field -> term (text, or bytes from Whoosh's analysis) -> [(docnum, weight, value
        # bytes, positions start, count)]
        self._postings = {}
        self._side = None  # the segment's SidecarBuilder, filled as its postings are written
        self._flat = array("i")  # every posting's positions, in the order added (SidecarBuilder)

    def add_document(self, **fields):
        """As ``whoosh.writing.SegmentWriter.add_document`` (Whoosh 2.7.5), postings kept here."""
        self._check_state()
        perdocwriter, schema, docnum = self.perdocwriter, self.schema, self.docnum
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        # Analyse every field before anything is added: a document that fails
        # leaves no postings behind.
        analysed = {}
        for fieldname in fieldnames:
            value = fields.get(fieldname)
            field = schema[fieldname]
            if value is None or not field.indexed:
                continue
            if field.separate_spelling() or field.vector:
                raise NotImplementedError(f"field {fieldname!r}: spelling and vectors are "
                                          "not written by indexer.writer")
            poses = fast_positions(field, value, fields.get(WORDS_KEY + fieldname))
            analysed[fieldname] = _whoosh_items(field, value) if poses is None else poses
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if fieldname in analysed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    terms = self._postings.setdefault(fieldname, {})
                    items = analysed[fieldname]
                    if type(items) is dict:
                        length = self._add_positions(terms, items, field, fieldboost)
                    else:
                        length = self._add_items(terms, items, field.scorable, fieldboost)
                customval = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, customval if field.stored else None,
                                       length)
                column = field.column_type
                if column and customval is not None:
                    perdocwriter.add_column_value(fieldname, column,
                                                  field.to_column_value(customval))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    def _add_positions(self, terms, poses, field, fieldboost):
        """Add a text's postings from ``fast_positions``' term -> positions; its length."""
        docnum, fmt = self.docnum, field.format
        boost = fmt.field_boost
        counts = list(map(len, poses.values()))
        if type(fmt) is formats.Positions:
            flat = self._flat  # the positions go to the flat array (SidecarBuilder)
            start = len(flat)
            flat.extend(chain.from_iterable(poses.values()))
            for text, positions, count in zip(poses, poses.values(), counts):
                posting = (docnum, count * boost * fieldboost, encode_positions(positions),
                           start, count)
                start += count
                postings = terms.get(text)
                if postings is None:
                    terms[text] = [posting]
                else:
                    postings.append(posting)
        else:
            for text, count in zip(poses, counts):
                posting = (docnum, count * boost * fieldboost, pack_uint(count), -1, 0)
                postings = terms.get(text)
                if postings is None:
                    terms[text] = [posting]
                else:
                    postings.append(posting)
        return sum(counts) if field.scorable else 0

    def _add_items(self, terms, items, scorable, fieldboost):
        """Add a field's postings from ``_whoosh_items``; its length."""
        docnum, flat, length = self.docnum, self._flat, 0
        for tbytes, freq, weight, vbytes, poses in items:
            if scorable:
                length += freq
            if poses is None:
                posting = (docnum, weight * fieldboost, vbytes, -1, 0)
            else:  # the positions go to the flat array (SidecarBuilder)
                posting = (docnum, weight * fieldboost, vbytes, len(flat), len(poses))
                flat.extend(poses)
            postings = terms.get(tbytes)
            if postings is None:
                terms[tbytes] = [posting]
            else:
                postings.append(posting)
        return length

    def _flush_segment(self):
        self.perdocwriter.close()
        lengths = self.per_document_reader() if self.codec.length_stats else None
        side = SidecarBuilder(self._flat) if isinstance(self.storage, FileStorage) else None
        try:
            _write_postings(self.fieldwriter, self.schema, self._postings, lengths,
                            self.docnum, side)
        finally:
            if lengths is not None:
                lengths.close()
        self._postings = {}
        self.fieldwriter.close()
        self._side = side

    def _assemble_segment(self):
        super()._assemble_segment()
        if self._side is not None:
            # The segment's sidecar (indexer.sidecar), from the postings in hand: every
            # index searches with one without ``poisk optimize`` decoding them again.
            # Written after the compound file, which would swallow it.
            self._side.write(self.storage.folder, self.newsegment.segment_id(), self.docnum)
            self._side = None
        self._flat = array("i")


def _write_postings(fieldwriter, schema, postings, lengths, doccount, side=None):
    """Write every field's postings, fields and terms in sorted order (as Whoosh's pool
    hands them over), each term's postings in blocks of the codec's size; and into
    ``side`` (a ``SidecarBuilder``), if given."""
    for fieldname in sorted(postings):
        terms = postings[fieldname]
        if not terms:
            continue  # the pool would hold nothing of it: Whoosh's field map leaves it out
        field = schema[fieldname]
        if lengths is not None:
            length_of = [lengths.doc_field_length(n, fieldname) for n in range(doccount)]
        else:
            length_of = [0] * doccount
        fieldwriter.start_field(fieldname, field)
        writer = fieldwriter._postwriter
        limit = writer._blocklimit
        one_block = _OneBlock(fieldwriter, field.format, length_of)
        # A text field's terms are kept by their text (sorted as their UTF-8 would be)
        for text in sorted(terms):
            tbytes = text.encode("utf-8") if type(text) is str else text
            postings_of = terms[text]
            if len(postings_of) == 1:  # half the terms: no columns to make
                docnum, weight, value, start, count = postings_of[0]
                if side is not None:
                    positional = start >= 0
                    side.add(fieldname, tbytes, (docnum,), (weight,),
                             (start,) if positional else None, (count,) if positional else None)
                one_block._write_one(tbytes, docnum, weight, value)
                continue
            ids, weights, values, starts, counts = zip(*postings_of)
            if side is not None:
                positional = starts[0] >= 0
                side.add(fieldname, tbytes, ids, weights, starts if positional else None,
                         counts if positional else None)
            if len(ids) <= limit:
                one_block.write(tbytes, ids, weights, values)
                continue
            fieldwriter.start_term(tbytes)
            for start in range(0, len(ids), limit):
                if start:
                    writer._write_block()  # a full block, with more to come
                _fill_block(writer, ids[start:start + limit], weights[start:start + limit],
                            values[start:start + limit], length_of)
            fieldwriter.finish_term()
        fieldwriter.finish_field()


def _fill_block(writer, ids, weights, values, length_of):
    """Put one block's postings into Whoosh's postings writer at once, with the statistics
    ``W3PostingsWriter.add_posting`` keeps one posting at a time."""
    writer._ids = array("I", ids)
    writer._weights = array("f", weights)
    writer._values = [v for v in values if v]
    writer._maxweight = max(0, max(weights))
    lengths = [n for n in map(length_of.__getitem__, ids) if n]
    writer._minlength = min(lengths) if lengths else None
    writer._maxlength = max(lengths, default=0)


def w3_block(ids, weights, values, compression, max_weight, min_length, max_length,
             last=False):
    """One posting block as ``W3PostingsWriter._write_block`` writes it (Whoosh 2.7.5,
    ``whoosh/codec/whoosh3.py``): its byte length (negative for a term's last block), a
    pickled header and the pickled (id deltas, weights, values), compressed even when
    short (Whoosh's "comp = 0" under 20 bytes is overwritten). ``values`` as the block
    holds them: a tuple of bytes, the joined bytes of a fixed size, or None.

    >>> len(w3_block((3, 7), (1.0, 1.0), None, 0, 1.0, 1, 2, last=True)) > 4
    True
    """
    floats = array("f", weights)
    if floats.count(1.0) == len(floats):  # array.count: the comparisons in C
        mini_weights = None
    elif floats.count(floats[0]) == len(floats):
        mini_weights = floats[0]
    else:
        mini_weights = tuple(floats)
    deltas = tuple(map(operator.sub, ids, chain((0,), ids)))
    data = dumps((deltas, mini_weights, values), 2)
    if compression:
        data = zlib.compress(data, compression)
    header = dumps((len(ids), ids[-1], max_weight, compression, min_length or 0, max_length), 2)
    size = len(header) + len(data)
    return b"".join((pack_int(-size if last else size), header, data))


class _OneBlock:
    """Writes a term whose postings fit one block (most terms of a segment) in one go: the
    bytes of ``W3PostingsWriter._write_block(last=True)`` and of its ``W3TermInfo``
    (Whoosh 2.7.5, ``whoosh/codec/whoosh3.py``), without the per-posting calls."""

    def __init__(self, fieldwriter, fmt, length_of):
        writer = fieldwriter._postwriter
        self.postfile = writer._postfile
        self.compression = writer._compression
        self.terms = fieldwriter._tindex  # an OrderedHashWriter: see write's last lines
        self.term_file = self.terms.dbfile
        self.index_append = self.terms.index.append
        self.field_id = pack_ushort(fieldwriter._fieldid)
        self.fixed_size = fmt.fixed_value_size()
        # Each document's length as its byte, once: length_to_byte is monotonic and 0 only
        # for 0, so the byte of the least (greatest) non-zero length of a term's documents
        # is the least (greatest) non-zero byte.
        self.length_byte = list(map(length_to_byte, length_of))
        # The files' own methods, without StructFile's wrappers (two Python calls a term)
        self.post_tell, self.post_write = self.postfile.file.tell, self.postfile.file.write
        self.term_tell, self.term_write = self.term_file.file.tell, self.term_file.file.write
        # filetables.md5_hash's value (the low 32 bits of the MD5 as a number) from the digest's
        # last four bytes, without the hex text
        self.hash_of = _md5_low if self.terms.hashfn is filetables.md5_hash else self.terms.hashfn

    def write(self, tbytes, ids, weights, values):
        if len(ids) == 1:  # half a segment's terms: a one-posting block
            self._write_one(tbytes, ids[0], weights[0], values[0])
        else:
            self._write_many(tbytes, ids, weights, values)

    def _write_many(self, tbytes, ids, weights, values):
        start = self.post_tell()
        values = list(filter(None, values))
        if self.fixed_size is None or self.fixed_size < 0:
            mini_values = tuple(values)
        elif self.fixed_size == 0:
            mini_values = None
        else:
            mini_values = b"".join(values)
        max_weight = max(0, max(weights))
        lengths = list(filter(None, map(self.length_byte.__getitem__, ids)))
        min_length = min(lengths) if lengths else 0
        max_length = max(lengths, default=0)
        block = WHOOSH3_HEADER_MAGIC + w3_block(ids, weights, mini_values, self.compression,
                                                max_weight, min_length, max_length, last=True)
        self.post_write(block)
        term_info = TERM_INFO.pack(False, 0 + sum(array("f", weights)), len(ids), min_length,
                                   max_length, max_weight, ids[0], ids[-1])
        self._add_term(tbytes, term_info, start, len(block))

    def _write_one(self, tbytes, docnum, weight, value):
        """``write`` of a term with one posting: the same bytes, with none of the loops."""
        start = self.post_tell()
        if self.fixed_size is None or self.fixed_size < 0:
            mini_value = (value,) if value else ()
        elif self.fixed_size == 0:
            mini_value = None
        else:
            mini_value = value or b""
        stored = _F32.unpack(_F32.pack(weight))[0]  # the weight as the block's float array holds it
        max_weight = max(0, weight)
        length = self.length_byte[docnum]
        data = dumps(((docnum,), None if stored == 1.0 else stored, mini_value), 2)
        if self.compression:
            data = zlib.compress(data, self.compression)
        header = dumps((1, docnum, max_weight, self.compression, length, length), 2)
        size = len(header) + len(data)
        self.post_write(b"".join((WHOOSH3_HEADER_MAGIC, pack_int(-size), header, data)))
        term_info = TERM_INFO.pack(False, 0 + stored, 1, length, length, max_weight, docnum,
                                   docnum)
        self._add_term(tbytes, term_info, start, size + 8)  # 8: the magic and the size

    def _add_term(self, tbytes, term_info, start, size):
        # OrderedHashWriter.add(key, value) (whoosh/filedb/filetables.py) in one write: the
        # keys come in order (_write_postings sorts them), so its check is not repeated.
        key, value = self.field_id + tbytes, term_info + pack_long(start) + pack_int(size)
        at = self.term_tell()
        self.index_append(at)
        self.term_write(b"".join((HASH_LENGTHS.pack(len(key), len(value)), key, value)))
        h = self.hash_of(key)
        terms = self.terms
        terms.buckets[h & 255].append((h, at))
        terms.lastkey = key


_F32 = struct.Struct("f")


def _md5_low(key):
    """``whoosh.filedb.filetables.md5_hash``: the MD5's low 32 bits.

    >>> _md5_low(b"abc") == filetables.md5_hash(b"abc")
    True
    """
    return int.from_bytes(md5(key, usedforsecurity=False).digest()[-4:], "big")
