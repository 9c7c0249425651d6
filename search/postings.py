"""Reading Whoosh posting lists a block at a time, without its per-posting method calls.

Whoosh 2.7.5 stores a term's postings in blocks (``whoosh/codec/whoosh3.py``):
a header with the block's last document number, then one pickle of (document
numbers as deltas, weights, values). Its matcher decodes the numbers through a
Python generator and steps through them one call at a time; here they are
summed in numpy, a block is skipped on its header alone, and a posting's value
(its word positions) is decoded only for the documents asked for.
"""

import bisect
import threading
import weakref
from collections import OrderedDict

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching import FilterMatcher
from whoosh.reading import TermNotFound

from indexer.sidecar import sidecar

__all__ = ["block_ids", "doc_positions", "term_positions", "unfiltered"]


def unfiltered(matcher):
    """The posting list under a matcher that hides deleted documents, from its start
    (callers keep their own list of live documents)."""
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
        matcher.reset()
    return matcher


def block_ids(matcher: W3LeafMatcher) -> np.ndarray:
    """The document numbers of the matcher's current block (segment numbers, in order)."""
    if matcher._byteids:  # never for postings; Whoosh's own decoding then
        matcher._read_ids()
        return np.asarray(matcher._ids, dtype=np.int64)
    if matcher._data is None:
        matcher._read_data()
    return np.cumsum(np.asarray(matcher._data[0], dtype=np.int64))  # whoosh's delta_decode


def term_positions(reader, fieldname: str, text, docs):
    """``doc_positions`` of a term in one segment's ``reader``; nothing if it lacks the term
    (looked up once: asking ``(field, text) in reader`` first cost a second lookup), from
    the segment's sidecar (``indexer.sidecar``) when it has one."""
    side = sidecar(reader)
    if side is not None:
        btext = text if isinstance(text, bytes) else reader.schema[fieldname].to_bytes(text)
        found = side.find(fieldname, btext)
        if found is None:
            return iter(())
        return ((doc, positions.tolist()) for doc, positions in side.doc_positions(found, docs))
    try:
        matcher = reader.postings(fieldname, text)
    except TermNotFound:
        return iter(())
    return doc_positions(matcher, docs)


def doc_positions(matcher, docs):
    """(document, positions) of a posting list for those of ``docs`` (sorted segment
    document numbers) it holds.

    >>> reader = sample_index._searcher().reader()
    >>> leaf, base = reader.leaf_readers()[0]
    >>> docnum = next(leaf.postings("body", "шойгу").all_ids())
    >>> [(n == docnum, len(p)) for n, p in doc_positions(leaf.postings("body", "шойгу"), [docnum])]
    [(True, 3)]
    """
    matcher = unfiltered(matcher)
    if type(matcher) is not W3LeafMatcher:
        for docnum in docs:
            if not matcher.is_active():
                return
            matcher.skip_to(docnum)
            if matcher.is_active() and matcher.id() == docnum:
                yield docnum, matcher.value_as("positions")
        return
    k, decode = 0, matcher.format.decode_positions
    while matcher.is_active() and k < len(docs):
        last = matcher._maxid  # the block header's last document number
        if docs[k] <= last:
            ids, values = _decoded_block(matcher)
            while k < len(docs) and docs[k] <= last:
                at = bisect.bisect_left(ids, docs[k])
                if at < len(ids) and ids[at] == docs[k]:
                    yield docs[k], decode(values[at])
                k += 1
        if k < len(docs):
            matcher._next_block()


# Posting blocks read for positions, kept decoded (document numbers, values) across
# searches, the least recently used dropped first: the proximity bonus is checked on a
# page's candidates in rounds, and the page's snippets then read the same blocks again.
# Keyed by the posting file of a segment reader (gone with it) and the block's offset.
CACHED_BLOCKS = 2048
_blocks: OrderedDict = OrderedDict()
_blocks_lock = threading.Lock()


def _decoded_block(matcher):
    """(document numbers as a list, encoded values) of the matcher's current block."""
    postfile = matcher._postfile
    key = (id(postfile), matcher._dataoffset)
    with _blocks_lock:
        entry = _blocks.get(key)
        if entry is not None and entry[0]() is postfile:
            _blocks.move_to_end(key)
            return entry[1], entry[2]
    ids = block_ids(matcher).tolist()
    matcher._read_values()
    values = matcher._values
    try:
        owner = weakref.ref(postfile)
    except TypeError:  # a file object that cannot be referred to weakly: not cached
        return ids, values
    with _blocks_lock:
        _blocks[key] = (owner, ids, values)
        while len(_blocks) > CACHED_BLOCKS:
            _blocks.popitem(last=False)
    return ids, values
