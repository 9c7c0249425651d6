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

import ctypes
import functools
import math
import multiprocessing
import os
import re
from dataclasses import dataclass

from whoosh.index import LockError
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from indexer.blockcopy import copy_segments, copyable
from indexer.errors import IndexLocked, PoiskError
from indexer.segments import POLL_SECONDS, commit_segment, start_worker, worker_index
from indexer.sidecar import SUFFIX as SIDECAR_SUFFIX
from indexer.sidecar import merge_sidecars, write_sidecars

__all__ = ["SEGMENTS_PER_TIER", "MergeProcess", "merge_segments", "optimize_index",
           "remove_stray_files", "tiered_merge"]

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


def segments_to_merge(sizes, full=False):
    """Positions of the segments to merge, given each one's (documents, deleted[, bytes]).

    The fullest tier with ``SEGMENTS_PER_TIER`` segments is merged, smallest tier
    first, at most ``MAX_MERGE_SEGMENTS`` of them and ``MAX_MERGED_BYTES`` together
    (segments of half that or more wait for ``poisk optimize``); segments with many
    deleted documents are always rewritten. Called again after each merge, the
    policy merges what remains (``merge_segments``).

    ``full`` (merges during a run, ``MergeProcess``): only a group that reaches one of
    those limits, of segments without deletions; the end of the run merges the rest.
    So each document is merged once: a run of a million articles in batches of 1,000
    merges 100 segments at a time, not 10 into 10,000 and those again into 100,000.

    >>> segments_to_merge([(1000, 0)] * 9)
    []
    >>> segments_to_merge([(50000, 0)] + [(1000, 0)] * 10)
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> segments_to_merge([(50000, 20000), (1000, 0)])
    [0]
    >>> len(segments_to_merge([(1000, 0)] * 1000))
    100
    >>> segments_to_merge([(1000, 0)] * 99, full=True)
    []
    >>> segments_to_merge([(1000, 1)] + [(1000, 0)] * 100, full=True) == list(range(1, 101))
    True
    >>> segments_to_merge([(10000, 0, 1 << 30)] * 3, full=True)  # 5 GiB reached by 5
    []
    >>> merged_earlier = [(50, 0)] * 99 + [(5000, 0)] + [(50, 0)] * 2
    >>> segments_to_merge(merged_earlier, full=True) == [*range(99), 100]
    True
    """
    sizes = [(docs, deleted, rest[0] if rest else 0) for docs, deleted, *rest in sizes]
    chosen = set() if full else {n for n, (docs, deleted, _) in enumerate(sizes)
                                 if docs and deleted > MAX_DELETED_SHARE * docs}
    tiers = {}
    for n, (docs, deleted, size) in enumerate(sizes):
        if size < MAX_MERGED_BYTES // 2 and not (full and deleted):
            tiers.setdefault(tier(docs - deleted), []).append(n)
    for level in sorted(tiers):
        if len(tiers[level]) >= SEGMENTS_PER_TIER:
            members = tiers[level]
            if full:  # smallest first: a segment merged earlier in the run is not merged again
                members = sorted(members, key=lambda n: sizes[n][0] - sizes[n][1])
            group, reached = _fitting(members, sizes)
            if len(group) > 1 and (reached or not full):
                chosen.update(group)
                break
    return sorted(chosen)


def _fitting(members, sizes):
    """The first of ``members`` that fit one merge (``MAX_MERGE_SEGMENTS``, ``MAX_MERGED_BYTES``),
    and whether a limit stopped them (rather than the end of ``members``)."""
    group, total = [], 0
    for n in members:
        if total + sizes[n][2] > MAX_MERGED_BYTES:
            return group, True
        group.append(n)
        total += sizes[n][2]
        if len(group) == MAX_MERGE_SEGMENTS:
            return group, True
    return group, False


def tiered_merge(writer, segments, copy=True):
    """A Whoosh ``mergetype``: merge what ``segments_to_merge`` picks; returns the rest.
    ``copy``: copy posting blocks where ``indexer.blockcopy`` can (else Whoosh's merge)."""
    folder = getattr(writer.storage, "folder", None)
    sizes = [(s.doc_count_all(), s.deleted_count(), size)
             for s, size in zip(segments, _bytes(folder, segments))]
    picked = set(segments_to_merge(sizes))
    if len(picked) == 1 and not sizes[next(iter(picked))][1]:
        return segments
    _merge_into(writer, [segments[n] for n in sorted(picked)], copy)
    return [s for n, s in enumerate(segments) if n not in picked]


def _bytes(folder, segments):
    """The bytes of each segment's files in ``folder`` (its sidecar too); 0s in memory."""
    if folder is None:
        return [0] * len(segments)
    totals = dict.fromkeys((s.segment_id() for s in segments), 0)
    with os.scandir(folder) as entries:
        for entry in entries:
            segment_id = entry.name.partition(".")[0]
            if segment_id in totals:
                try:
                    totals[segment_id] += entry.stat().st_size
                except FileNotFoundError:  # deleted since listed
                    pass
    return list(totals.values())


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
    _place(getattr(writer, "poisk_sidecar", None))


def _place(sidecar):
    if sidecar is not None:
        temporary, final = sidecar
        os.replace(temporary, final)
        os.replace(temporary + ".json", final + ".json")


# -- merges during a run, beside its workers ---------------------------------------------------

# The merging process's name in ps and top (at most 15 bytes), waiting and merging.
MERGE_PROCESS_NAMES = (b"poisk-merge", b"poisk-merging")
PR_SET_NAME = 15  # linux/prctl.h


@dataclass
class MergedSegment:
    """What a ``MergeProcess`` wrote: the merged segment (not committed), the ids of the
    segments it replaces in their order in it, and its sidecar (temporary, final path)."""

    segment: object
    merged_from: list
    sidecar: tuple | None


def pick_during_run(ix, merged=frozenset()):
    """The committed segments of ``ix`` a merge beside the run's workers takes now: a full
    group of one tier, none with deletions (``segments_to_merge(full=True)``); [] if none.
    ``merged``: ids of segments this run merged, left to the end of the run (one merged from
    batches under 100 stays in the smallest tier: a run in batches of 50 merged its first
    5,000 articles twice, measured)."""
    segments = [s for s in ix._segments() if s.segment_id() not in merged]
    counts = {}
    for s in segments:
        if not s.deleted_count():
            level = tier(s.doc_count_all())
            counts[level] = counts.get(level, 0) + 1
    if max(counts.values(), default=0) < SEGMENTS_PER_TIER:
        return []  # the usual answer, without listing the folder
    sizes = [(s.doc_count_all(), s.deleted_count(), size)
             for s, size in zip(segments, _bytes(ix.storage.folder, segments))]
    return [segments[n] for n in segments_to_merge(sizes, full=True)]


def merge_apart(ix, schema, segments) -> MergedSegment:
    """Merge committed ``segments`` of ``ix`` into a new segment, written under its own name and
    not committed (a worker's batch is written the same way); nothing of the index changes.
    The caller commits it (``commit_segment(..., merged_from=...)``) and places its sidecar."""
    writer = SegmentWriter(ix, _lk=False)  # the run holds poisk's lock; commits take Whoosh's
    writer.schema = schema
    try:
        _merge_into(writer, segments)
        segment = writer._finalize_segment()
    except BaseException:
        writer.cancel()
        raise
    writer._finish()
    return MergedSegment(segment, [s.segment_id() for s in segments],
                         getattr(writer, "poisk_sidecar", None))


def commit_merged(ix, merged: MergedSegment, clean=False):
    """Commit a ``merge_apart`` segment in place of its sources, then place its sidecar and
    delete the sources' files: no table of contents lists them again and nobody writes
    them, while other files no commit lists yet may be a worker's batch in progress. (Kept
    to the run's end, they took as much disk again as the articles merged: 8.4 GiB at
    344,000 articles of the million.)"""
    commit_segment(ix, merged.segment, clean=clean, merged_from=merged.merged_from)
    _place(merged.sidecar)
    remove_segment_files(ix.storage.folder, merged.merged_from)


def remove_segment_files(index_dir, segment_ids) -> int:
    """Delete the files of the segments ``segment_ids`` (``MAIN_<id>.<anything>``); how many.

    >>> remove_segment_files("/nonexistent", ["MAIN_abc"])
    0
    """
    ids = set(segment_ids)
    return _remove_files(index_dir, lambda name: name.split(".")[0] in ids)


def _remove_files(index_dir, wanted) -> int:
    """Delete the files of ``index_dir`` whose names ``wanted`` accepts, as far as it can;
    how many it found."""
    try:
        names = [name for name in os.listdir(index_dir) if wanted(name)]
    except OSError:
        return 0
    for name in names:
        try:
            os.remove(os.path.join(index_dir, name))
        except OSError:
            pass
    return len(names)


class MergeProcess:
    """One process, beside a run's workers, that merges the segments the run has committed.

    Started before the workers (a fork, no thread), it drops the run's lock and dies with
    the run as they do (``indexer.segments.start_worker``), and merges one group at a time
    (``merge_apart``): the run keeps committing batches meanwhile and commits the merge
    when it is done (``commit_merged``). A killed merge or run leaves the merged segment's
    files listed by no table of contents: the run's last commit, or the next run's,
    removes them.
    """

    def __init__(self, index_dir, lock_fd=None):
        context = multiprocessing.get_context("fork")
        self._conn, theirs = context.Pipe()
        self._process = context.Process(
            target=_merge_loop,
            args=(theirs, self._conn, os.getpid(), lock_fd, os.fspath(index_dir)),
            daemon=True)
        self._process.start()
        theirs.close()
        self.busy = False

    def start(self, segments):
        """Begin merging ``segments`` (committed, without deletions); one merge at a time."""
        assert not self.busy
        self._conn.send(segments)
        self.busy = True

    def result(self, wait=False, waiting=None) -> MergedSegment | None:
        """The finished merge, or None if it is still running (``wait``: wait for it, calling
        ``waiting`` every ``POLL_SECONDS``; an exception it raises stops the wait)."""
        while not self._conn.poll(POLL_SECONDS if wait else 0):
            if not wait:
                return None
            if not self._process.is_alive() and not self._conn.poll():
                break
            if waiting is not None:
                waiting()
        try:
            done = self._conn.recv()
        except (EOFError, OSError):
            done = f"the merging process died (exit code {self._process.exitcode})"
        self.busy = False
        if isinstance(done, str):
            raise PoiskError(f"a merge failed ({done}); the index holds the last completed "
                             "commit: run the same command again")
        return done

    def close(self, kill=False):
        """End the process: at once with ``kill`` (a merge in progress is dropped)."""
        if kill:
            self._process.kill()
        else:
            try:
                self._conn.send(None)
            except OSError:
                pass
        self._process.join()
        self._conn.close()


def _merge_loop(conn, runs_end, parent_pid, lock_fd, index_dir):
    runs_end.close()  # the run's end of the pipe: the run alone holds it
    start_worker(parent_pid, lock_fd, index_dir, None)
    ix, schema = worker_index()
    while True:
        _name_process(MERGE_PROCESS_NAMES[0])
        try:
            segments = conn.recv()
        except EOFError:
            return
        if segments is None:
            return
        _name_process(MERGE_PROCESS_NAMES[1])
        try:
            done = merge_apart(ix, schema, segments)
        except Exception as error:  # noqa: BLE001 - told to the run, which stops with it
            done = f"{type(error).__name__}: {error}"
        conn.send(done)


def _name_process(name):
    try:
        ctypes.CDLL(None).prctl(PR_SET_NAME, name)
    except (OSError, AttributeError):
        pass  # not Linux


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
    return _remove_files(index_dir, lambda name: bool(STRAY_TOC_RE.fullmatch(name))
                         or name.startswith(MERGING_PREFIX))
