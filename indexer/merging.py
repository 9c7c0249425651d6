"""Merging segments: a tiered policy at the end of indexing runs, and ``poisk optimize``.

Every commit adds one segment and every search visits every segment: at about
1,000 segments searches and runs failed with "Too many open files" under the
common limit of 1,024 descriptors, and at 4,096 a search took four times as
long (issue 10). Like Lucene's TieredMergePolicy, segments are grouped in
tiers by size (powers of ``TIER_FACTOR`` documents); when a tier holds
``SEGMENTS_PER_TIER`` segments they are merged into one of the next tier. An
index of N documents written in batches of 1,000 therefore keeps fewer than
``SEGMENTS_PER_TIER`` segments per tier, about 9 x log10(N / 1,000) + 9.
A segment with more than ``MAX_DELETED_SHARE`` of its documents deleted is
rewritten as well (its deleted documents still cost reads).

Merging copies the merged segments' posting blocks with their document numbers
moved (``indexer.blockcopy``, no analysis, no posting decoded on its own);
segments with deleted documents, or of another codec or format, go through
Whoosh's own ``SegmentWriter.add_reader``, which writes the same files more slowly.
"""

import functools
import math
import os
import re

from whoosh.index import LockError
from whoosh.reading import SegmentReader

from indexer.blockcopy import copy_segments, copyable
from indexer.errors import IndexLocked
from indexer.sidecar import SUFFIX as SIDECAR_SUFFIX
from indexer.sidecar import merge_sidecars, write_sidecars

__all__ = ["SEGMENTS_PER_TIER", "merge_segments", "optimize_index", "remove_stray_files",
           "tiered_merge"]

SEGMENTS_PER_TIER = 10
TIER_FACTOR = 10
SMALLEST_TIER = 1000  # documents: one batch; smaller segments count as this tier
MAX_DELETED_SHARE = 0.2
# At most this many segments merge at once: a merge holds two file descriptors a
# segment, and a run of 1,000 batches merged whole needed over 2,000, twice the common
# limit of 1,024 (issue 15's million-article plan).
MAX_MERGE_SEGMENTS = 100
# The policy makes no segment larger than this (Lucene's TieredMergePolicy default
# maxMergedSegmentMB, 5 GB), and leaves alone one of half that or more until
# ``poisk optimize``: a merge writes its whole output before it deletes its input, so
# merging ten 100,000-article segments of 3 GB would need 30 GB free at once.
MAX_MERGED_BYTES = 5 << 30

# A table of contents Whoosh writes as "_MAIN_N.toc.<time>" and renames when
# it is complete: left over only by a killed commit.
STRAY_TOC_RE = re.compile(r"_MAIN_\d+\.toc\.\d+(\.\d+)?")
# A merged segment's sidecar waits under this prefix for its merge's commit.
MERGING_PREFIX = "poisk-merging-"


def tier(documents):
    """The tier of a segment of ``documents`` live documents.

    >>> [tier(n) for n in (1, 1000, 9999, 10000, 250000)]
    [0, 0, 0, 1, 2]
    """
    return int(math.log(max(documents, SMALLEST_TIER) / SMALLEST_TIER, TIER_FACTOR))


def segments_to_merge(sizes):
    """Positions of the segments to merge, given each one's (documents, deleted[, bytes]).

    The fullest tier with ``SEGMENTS_PER_TIER`` segments is merged, smallest tier
    first, at most ``MAX_MERGE_SEGMENTS`` of them and ``MAX_MERGED_BYTES`` together
    (segments of half that or more wait for ``poisk optimize``); segments with many
    deleted documents are always rewritten. Called again after each merge, the
    policy merges what remains (``merge_segments``).

    >>> segments_to_merge([(1000, 0)] * 9)
    []
    >>> segments_to_merge([(50000, 0)] + [(1000, 0)] * 10)
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> segments_to_merge([(50000, 20000), (1000, 0)])
    [0]
    >>> len(segments_to_merge([(1000, 0)] * 1000))
    100
    """
    sizes = [(docs, deleted, rest[0] if rest else 0) for docs, deleted, *rest in sizes]
    chosen = {n for n, (docs, deleted, _) in enumerate(sizes)
              if docs and deleted > MAX_DELETED_SHARE * docs}
    tiers = {}
    for n, (docs, deleted, size) in enumerate(sizes):
        if size < MAX_MERGED_BYTES // 2:
            tiers.setdefault(tier(docs - deleted), []).append(n)
    for level in sorted(tiers):
        if len(tiers[level]) >= SEGMENTS_PER_TIER:
            group = _fitting(tiers[level], sizes)
            if len(group) > 1:
                chosen.update(group)
                break
    return sorted(chosen)


def _fitting(members, sizes):
    """The first of ``members`` that fit one merge (``MAX_MERGE_SEGMENTS``, ``MAX_MERGED_BYTES``)."""
    group, total = [], 0
    for n in members:
        if len(group) == MAX_MERGE_SEGMENTS or total + sizes[n][2] > MAX_MERGED_BYTES:
            break
        group.append(n)
        total += sizes[n][2]
    return group


def tiered_merge(writer, segments, copy=True):
    """A Whoosh ``mergetype``: merge what ``segments_to_merge`` picks; returns the rest.
    ``copy``: copy posting blocks where ``indexer.blockcopy`` can (else Whoosh's merge)."""
    folder = getattr(writer.storage, "folder", None)
    sizes = [(s.doc_count_all(), s.deleted_count(), _bytes(folder, s)) for s in segments]
    picked = set(segments_to_merge(sizes))
    if len(picked) == 1 and not sizes[next(iter(picked))][1]:
        return segments
    _merge_into(writer, [segments[n] for n in sorted(picked)], copy)
    return [s for n, s in enumerate(segments) if n not in picked]


def _bytes(folder, segment):
    """The bytes of a segment's files in ``folder`` (its sidecar too); 0 in memory."""
    if folder is None:
        return 0
    prefix, total = segment.segment_id() + ".", 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(prefix):
                try:
                    total += entry.stat().st_size
                except FileNotFoundError:  # deleted since listed
                    pass
    return total


def _merge_all(writer, segments, copy=True):
    _merge_into(writer, segments, copy)
    return []


def _merge_into(writer, segments, copy=True):
    """Add ``segments`` to the merging ``writer``, and write the merged segment's postings
    sidecar from theirs (``indexer.sidecar.merge_sidecars``) while they are still there:
    the commit deletes them. It is written under a name of its own (``MERGING_PREFIX``),
    which the segment's compound file does not swallow, and renamed into place once the
    merge is committed (``_place_sidecar``). Any of them without one: the merged segment
    has none (``poisk optimize`` writes it)."""
    if not segments:
        return
    readers = [SegmentReader(writer.storage, writer.schema, s) for s in segments]
    try:
        if copy and copyable(writer, readers):
            copy_segments(writer, readers)
        else:
            for reader in readers:
                writer.add_reader(reader)
        folder = getattr(writer.storage, "folder", None)
        if folder is not None:
            final = os.path.join(folder, writer.newsegment.segment_id() + SIDECAR_SUFFIX)
            temporary = os.path.join(folder, MERGING_PREFIX + os.path.basename(final))
            if merge_sidecars(readers, temporary):
                writer.poisk_sidecar = (temporary, final)
    finally:
        for reader in readers:
            reader.close()


def _place_sidecar(writer):
    """Rename a merged segment's sidecar into place (its layout last: read only whole)."""
    temporary, final = getattr(writer, "poisk_sidecar", (None, None))
    if temporary is not None:
        os.replace(temporary, final)
        os.replace(temporary + ".json", final + ".json")


def merge_segments(ix, everything=False, copy=True):
    """Merge the segments of ``ix`` by the tiered policy (or all into one); the caller
    holds poisk's writer lock. Returns the number of segments before and after.
    ``copy=False`` merges through Whoosh's ``add_reader`` alone (tests, ``bench.merges``).

    >>> import tempfile
    >>> from indexer.storage import create_index
    >>> merge_segments(create_index(tempfile.mkdtemp() + "/ix"))
    (0, 0)
    """
    before = len(ix._segments())
    if before == 0 or (everything and before == 1 and not ix._segments()[0].deleted_count()):
        return before, before
    mergetype = functools.partial(_merge_all if everything else tiered_merge, copy=copy)
    count = before
    while True:  # one merge a commit, so the disk holds one merge's output at a time
        _commit_merge(ix, mergetype)
        merged, count = count, len(ix._segments())
        if everything or count >= merged:
            return before, count


def _commit_merge(ix, mergetype):
    try:
        writer = ix.writer()
    except LockError as error:
        raise IndexLocked(f"the index at {ix.storage.folder} is locked by another writer") \
            from error
    try:
        writer.commit(mergetype=mergetype)
    except BaseException:  # Ctrl-C or a full disk: the index keeps its last commit
        if not writer.is_closed:
            writer.cancel()
        remove_stray_files(ix.storage.folder)
        raise
    _place_sidecar(writer)


def optimize_index(index_dir, wait=0.0):
    """Merge every segment of the index at ``index_dir`` into one: (segments before, after).

    The merged segment gets its postings sidecar (``indexer.sidecar``).

    >>> import tempfile, pathlib
    >>> from indexer import build_index
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("Никель\\nКомбинат.")
    >>> _ = build_index([folder], folder / "ix")
    >>> _ = build_index([folder / "a.txt"], folder / "ix", source="other")
    >>> optimize_index(folder / "ix")
    (2, 1)
    """
    from indexer.build import writer_lock
    from indexer.storage import open_whoosh_index, resolve_index_dir

    index_dir = resolve_index_dir(index_dir)
    open_whoosh_index(index_dir).close()  # a clear error before touching the folder
    with writer_lock(index_dir, wait):
        remove_stray_files(index_dir)
        ix = open_whoosh_index(index_dir)
        try:
            counts = merge_segments(ix, everything=True)
        finally:
            ix.close()
        write_sidecars(index_dir)
        return counts


def remove_stray_files(index_dir):
    """Delete tables of contents a killed commit left half-written (the caller holds the lock).

    >>> remove_stray_files("/nonexistent")
    0
    """
    try:
        names = os.listdir(index_dir)
    except OSError:
        return 0
    stray = [name for name in names
             if STRAY_TOC_RE.fullmatch(name) or name.startswith(MERGING_PREFIX)]
    for name in stray:
        try:
            os.remove(os.path.join(index_dir, name))
        except OSError:
            pass
    return len(stray)
