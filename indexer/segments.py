"""Writing batches of documents as Whoosh segments, on every core, and committing them in order.

An indexing run cuts its documents into batches. Each batch is written as one
complete segment (analysis, postings, stored fields) by ``write_segment``:
in the run's own process for a small run, or in worker processes for a large
one, so that two batches are written at once on two cores. The run's process
then commits the segments strictly in batch order, one commit per batch: the
table of contents (TOC) lists the earlier segments plus this one, with the
old versions of updated documents marked deleted. A crash therefore leaves
the index at the last commit, a prefix of the run in record order, whichever
worker was ahead.

Whoosh's own ``MpWriter`` was measured and not used: its parent process writes
every posting of the commit itself (most of the cost), and its forked children
would keep running, holding a copy of the writer lock, if the parent were
killed. Here the workers
are forked before the first commit, close their copy of the lock at once and
die with the parent (``PR_SET_PDEATHSIG``); they never write a TOC.

Whoosh deletes the files of segments that a new TOC does not list. A worker
writes its segment's files while the run commits earlier batches, so commits
inside a run leave unlisted files alone; the run's last commit, when no worker
is busy, removes them (and whatever a killed run left behind).
"""

import concurrent.futures
import contextlib
import ctypes
import gc
import multiprocessing
import os
import re
import shutil
import signal
from collections import deque
from dataclasses import dataclass, field

from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, FileIndex, LockError, clean_files

from indexer.analysis import WORDS_KEY
from indexer.errors import IndexLocked, PoiskError
from indexer.extract import word_terms
from indexer.fields import add_extracted
from indexer.footers import FOOTER
from indexer.writer import SegmentWriter

__all__ = ["SegmentResult", "SegmentPipeline", "commit_segment", "default_workers",
           "write_segment"]

# Each writer keeps up to this many MB of postings in memory before sorting
# them to temporary files. At 128 a batch of 1,000 news articles spilled to
# disk: 6,000 synthetic articles indexed at 116 instead of 144 documents/s,
# and the peak memory of the run fell only from 913 to 895 MiB (measured).
WRITER_MB = 256

# Each worker holds its own pymorphy3 dictionaries, analyzer cache and
# postings buffer (about 400 MB at its peak, measured on two cores); more
# workers than cores would only compete for them.
MAX_WORKERS = 4

PR_SET_PDEATHSIG = 1  # linux/prctl.h

# How often a run waiting for a worker looks up (Ctrl-C, progress): a run
# stops within this of Ctrl-C even while every worker is in a long batch.
POLL_SECONDS = 0.1

# A worker's temporary folder in the index folder: "MAIN-<pid>.tmp".
WORKER_TEMP_PREFIX = "MAIN-"
WORKER_TEMP_RE = re.compile(re.escape(WORKER_TEMP_PREFIX) + r"\d+\.tmp")


@dataclass
class SegmentResult:
    """What writing one batch produced: the new segment (None if nothing was written) and
    the positions in the batch of the documents Whoosh failed on, with the reason.

    >>> SegmentResult(None, [(1, "ValueError: x")]).written(3)
    [0, 2]
    """

    segment: object
    failures: list = field(default_factory=list)
    stopped_at: int | None = None  # strict mode: the first failure, nothing after it written

    def written(self, size):
        """Positions of the documents that are in the segment."""
        failed = {position for position, _ in self.failures}
        end = size if self.stopped_at is None else self.stopped_at
        return [n for n in range(end) if n not in failed]


def default_workers():
    """Worker processes for a large run: one per core, at most ``MAX_WORKERS``; 0 on one core.

    >>> default_workers() in range(0, MAX_WORKERS + 1)
    True
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cores or 1) < 2 else min(cores, MAX_WORKERS)


def write_segment(ix, schema, documents, strict=False, tick=None):
    """Write ``documents`` (dicts of field values) into one new segment; nothing is committed.

    ``tick`` is called after each document: it counts progress, and an
    exception it raises (Ctrl-C) drops the segment.

    A document Whoosh fails on leaves postings of the fields it had analysed
    in the writer, so the writer is dropped and the batch's good documents are
    written again into a fresh one: nothing of a failed document ever reaches
    the segment. ``strict`` stops at the first failure.
    """
    with collector_paused():
        return _write_segment(ix, schema, documents, strict, tick)


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while a segment is written, back on after.

    A batch makes hundreds of thousands of lists and tuples that live until
    the segment is written (its postings) and grows the analyser's caches: the
    collector's passes walked them again and again, 3.0 of 21.0 CPU-s of
    writing 500 news and 500 synthetic articles in one process (its own
    callbacks timed them; load 12). Indexing makes little cyclic garbage: what
    there is goes at the first collection after the segment.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_segment(ix, schema, documents, strict, tick):
    # An index made before a stored field was added (word_starts) is written
    # without it: its pickled schema does not know the field.
    known = set(schema.names()) | {FOOTER}  # where a channel's footer starts (indexer.footers)
    documents = [{k: v for k, v in fields.items() if k in known} for fields in documents]
    known.update(WORDS_KEY + name for name in schema.names())
    writer, good, failures = _segment_writer(ix, schema), [], []
    terms = word_terms(schema["body"].analyzer)
    try:
        for position, fields in enumerate(documents):
            try:
                fields = {k: v for k, v in add_extracted(fields, terms).items() if k in known}
                writer.add_document(**fields)
            except (OSError, MemoryError):
                raise  # the machine, not the document
            except Exception as error:
                writer.cancel()
                failures.append((position, f"{type(error).__name__}: {error}"))
                writer = _segment_writer(ix, schema)
                for earlier in good:
                    writer.add_document(**earlier)
                if strict:
                    return SegmentResult(_finish(writer, good), failures, stopped_at=position)
                continue
            good.append(fields)
            if tick is not None:
                tick()
        return SegmentResult(_finish(writer, good), failures)
    except BaseException:
        if not writer.is_closed:
            writer.cancel()
        raise


def _segment_writer(ix, schema):
    # The run holds poisk's lock, and Whoosh's own is taken only by commits:
    # writers of segments take neither. Every writer of the run shares one
    # schema object, so the analyzer's cache of parsed words stays warm from
    # batch to batch (Whoosh would unpickle a fresh, cold one per writer).
    writer = SegmentWriter(ix, _lk=False, limitmb=WRITER_MB)
    writer.schema = schema
    return writer


def _finish(writer, good):
    if not good:
        writer.cancel()
        return None
    segment = writer._finalize_segment()
    writer._finish()
    return segment


def commit_segment(ix, segment, replaced_ids=(), clean=True, merged_from=()):
    """Commit one written segment: a new TOC with the earlier segments, ``segment`` and the
    old versions of ``replaced_ids`` deleted. ``clean`` removes files no TOC lists.

    ``merged_from``: the ids of the segments ``segment`` was merged from, in their order in
    it (each without deletions when the merge began): the TOC lists ``segment`` in their
    place, with the documents deleted in them since then deleted in it (Lucene's
    ``commitMergedDeletes``: document n of the k-th is document n + the documents of
    those before it).

    >>> import tempfile
    >>> from indexer.storage import create_index
    >>> ix = create_index(tempfile.mkdtemp() + "/ix")
    >>> result = write_segment(ix, ix.schema, [{"id": "a", "body": "Никель"}])
    >>> commit_segment(ix, result.segment)
    >>> ix.doc_count()
    1
    """
    try:
        writer = ix.writer()  # Whoosh's lock, for the moment of the commit
    except LockError as error:
        raise IndexLocked(f"the index at {ix.storage.folder} is locked by another writer") \
            from error
    try:
        for doc_id in replaced_ids:
            writer.delete_by_term("id", doc_id)
        segments = list(writer.segments)
        if merged_from:
            segments = _replace_merged(segments, segment, merged_from)
        elif segment is not None:
            segments.append(segment)
        writer._close_segment()
        TOC(writer.schema, segments, writer.generation).write(ix.storage, ix.indexname)
        if clean:
            clean_files(ix.storage, ix.indexname, writer.generation, segments)
    except OSError as error:
        raise PoiskError(
            f"cannot write the index at {ix.storage.folder} ({error.strerror or error}); "
            "it still holds the last completed commit") from error
    finally:
        writer._finish()


def _replace_merged(segments, merged, merged_from):
    """``segments`` without those of ``merged_from`` and with ``merged`` after the others (where
    Whoosh's merge puts a merged segment), their later deletions carried into it."""
    by_id = {s.segment_id(): s for s in segments}
    base = 0
    for segment_id in merged_from:
        source = by_id[segment_id]  # only the run commits, and it merges each segment once
        for docnum in source.deleted_docs():
            merged.delete_document(base + docnum)
        base += source.doc_count_all()
    if base != merged.doc_count_all():
        raise PoiskError(f"a merged segment holds {merged.doc_count_all()} documents, its "
                         f"sources {base}: the merge is not committed")
    gone = set(merged_from)
    return [s for s in segments if s.segment_id() not in gone] + [merged]


class SegmentPipeline:
    """Batches written by worker processes, returned in the order they were submitted.

    ``submit`` hands a batch to a worker, first waiting for the oldest batch
    when every worker is busy; ``next_result`` waits for the oldest. Results
    are (batch, SegmentResult) pairs, ``batch`` being whatever the caller
    passed along with the documents.
    """

    def __init__(self, index_dir, workers, strict=False, lock_fd=None, counter=None,
                 waiting=None):
        remove_worker_leftovers(index_dir)
        self.strict = strict
        self.workers = workers
        self.waiting = waiting  # called every POLL_SECONDS while a result is awaited
        self._pending = deque()
        self._pool = worker_pool(index_dir, workers, lock_fd, counter)

    @property
    def busy(self):
        """True while a submitted batch has not been returned."""
        return bool(self._pending)

    def submit(self, batch, documents):
        """Hand ``documents`` to a worker; returns the oldest finished batches if all were busy."""
        done = [self.next_result()] if len(self._pending) >= self.workers else []
        self._pending.append((batch, self._pool.submit(_write_in_worker, documents, self.strict)))
        return done

    def next_result(self):
        """Wait for the oldest batch still being written: (batch, SegmentResult).

        While it waits, ``waiting`` is called every ``POLL_SECONDS``; an
        exception it raises (Ctrl-C) stops the wait.
        """
        batch, future = self._pending[0]
        try:
            while True:
                try:
                    result = future.result(timeout=POLL_SECONDS)
                    break
                except concurrent.futures.TimeoutError:
                    if self.waiting is not None:
                        self.waiting()
        except concurrent.futures.process.BrokenProcessPool as error:
            raise PoiskError(f"an indexing worker died ({error}); the index holds the last "
                             "completed commit: run the same command again") from None
        self._pending.popleft()
        return batch, result

    def close(self, kill=False):
        """Wait for the workers to end; ``kill`` ends them at once, dropping their batches."""
        for _, future in self._pending:
            future.cancel()
        close_pool(self._pool, kill)


def worker_pool(index_dir, processes, lock_fd=None, counter=None):
    """A pool of ``processes`` forked processes that write into ``index_dir`` (each with its own
    temporary folder), dropping the run's lock and dying with the run (``start_worker``)."""
    return concurrent.futures.ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("fork"), initializer=start_worker,
        initargs=(os.getpid(), lock_fd, os.fspath(index_dir), counter))


def close_pool(pool, kill=False):
    """Wait for a ``worker_pool``'s processes to end; ``kill`` ends them at once."""
    if kill:
        for process in list(pool._processes.values()):  # no public way to kill
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def worker_index():
    """Inside a ``worker_pool`` process: the index (``FileIndex``) and its one schema object."""
    return _worker["ix"], _worker["schema"]


def remove_worker_leftovers(index_dir):
    """Delete the temporary folders of workers of a killed run (the caller holds the lock).

    >>> remove_worker_leftovers("/nonexistent")
    """
    try:
        names = os.listdir(index_dir)
    except OSError:
        return
    for name in names:
        if WORKER_TEMP_RE.fullmatch(name):
            shutil.rmtree(os.path.join(index_dir, name), ignore_errors=True)


# -- inside a worker process -------------------------------------------------

_worker = {}


def start_worker(parent_pid, lock_fd, index_dir, counter):
    # Forked from the run: drop its copy of the writer lock (the kernel frees
    # a flock only when every copy is closed), leave Ctrl-C to the run, and
    # die with it rather than outlive a killed run.
    if lock_fd is not None:
        os.close(lock_fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: a worker of a killed run ends when its queue breaks
    if os.getppid() != parent_pid:
        os._exit(1)  # the run died before the signal was armed
    ix = FileIndex(_WorkerStorage(index_dir))
    _worker.update(ix=ix, schema=ix.schema, counter=counter)


class _WorkerStorage(FileStorage):
    """The index folder, with this process's own folder for temporary files.

    Every Whoosh writer keeps its temporary files in ``MAIN.tmp`` and deletes
    that folder when it is done: writers in two processes at once would
    delete each other's files.
    """

    def temp_storage(self, name=None):
        return super().temp_storage(f"{WORKER_TEMP_PREFIX}{os.getpid()}.tmp")


def _write_in_worker(documents, strict):
    return write_segment(_worker["ix"], _worker["schema"], documents, strict, _count_one)


def _count_one():
    """Count a written document in the run's shared counter (its progress bar reads it)."""
    counter = _worker["counter"]
    if counter is not None:
        with counter.get_lock():
            counter.value += 1
