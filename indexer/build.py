"""Indexing runs: add new articles, update changed ones, skip unchanged ones, commit in batches.

A run commits every ``batch_size`` documents, in record order; a large run
writes its batches on every core (``indexer.segments``). A crash (even
SIGKILL) loses at most the batches in progress: Whoosh writes a new table of
contents only when a commit is complete, so readers and the next run see the
last committed state, and the next run skips what that commit already holds
(by content hash).
"""

import contextlib
import errno
import fcntl
import multiprocessing
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, LockError, clean_files

from indexer.fields import document_fields
from indexer.manticore import is_engine_url
from indexer.errors import IndexCorrupted, IndexLocked, PoiskError, SourceError
from indexer.footers import Footers
from indexer.merging import (
    MergeProcess, commit_merged, merge_segments, pick_during_run, remove_stray_files)
from indexer.segments import (
    SegmentPipeline, commit_segment, default_workers, remove_worker_leftovers, write_segment)
from indexer.sources import Article, Rejected, read_sources
from indexer.storage import (
    LOCK_FILE, MARKER_FILE, TOC_RE, IndexPath, create_index, ensure_index_dir, open_whoosh_index,
    resolve_index_dir, whoosh_index_exists)

__all__ = ["BATCH_SIZE", "IndexReport", "build_index", "delete_documents", "index_articles"]

# Documents per commit: what a crash can lose, traded against the number of
# segments (each commit adds one, and every query visits every segment).
BATCH_SIZE = 1000

# ``--rebuild`` of an existing index writes the new index in this folder inside
# the index folder (same file system, same lock) and switches to it at the end.
REBUILD_FOLDER = "REBUILD.tmp"


@dataclass
class IndexReport:
    """What an indexing run did.

    >>> IndexReport(added=3, elapsed=1.5).documents_per_second
    2.0
    """

    added: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    problems: list[Rejected] = field(default_factory=list)
    processed: int = 0  # records done so far: skipped, failed or written (progress bars)
    removed: int = 0  # prune: articles whose source file or record is gone
    rebuild_dropped: bool = False  # an unfinished --rebuild: the index is as it was before

    @property
    def written(self) -> int:
        return self.added + self.updated

    @property
    def documents_per_second(self) -> float:
        return round(self.written / self.elapsed, 1) if self.elapsed else 0.0


def build_index(paths: Iterable[IndexPath], index_dir: IndexPath | None = None, *,
                source: str | None = None, rebuild: bool = False, strict: bool = False,
                batch_size: int = BATCH_SIZE, wait: float = 0.0,
                on_progress: Callable[[IndexReport], None] | None = None, schema: Any = None,
                workers: int | None = None, prune: bool = False) -> IndexReport:
    """Index the articles found in ``paths`` (files and folders) into ``index_dir``.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text(" date 2026-03-14 Никель\\n\\nКомбинат.")
    >>> report = build_index([folder], folder / "ix")
    >>> report.added, build_index([folder], folder / "ix").skipped
    (1, 1)
    """
    paths = list(paths)
    records = read_sources(paths, source=source)
    return index_articles(records, index_dir, rebuild=rebuild, strict=strict,
                          batch_size=batch_size, wait=wait, on_progress=on_progress,
                          schema=schema, workers=workers, prune=paths if prune else None)


def index_articles(records: Iterable[Article | Rejected], index_dir: IndexPath | None = None, *,
                   rebuild: bool = False, strict: bool = False, batch_size: int = BATCH_SIZE,
                   wait: float = 0.0, on_progress: Callable[[IndexReport], None] | None = None,
                   schema: Any = None, workers: int | None = None,
                   prune: Iterable[IndexPath] | None = None) -> IndexReport:
    """Index an iterable of ``Article`` (and ``Rejected``) records.

    >>> import tempfile
    >>> from indexer.sources import Article
    >>> articles = [Article(id="a1", headline="Никель", body="Выпуск никеля вырос.")]
    >>> index_articles(articles, tempfile.mkdtemp() + "/ix").added
    1

    A record that cannot be read, or that Whoosh fails to index, is counted in
    the report and the run goes on. ``strict`` commits what came before the
    first such record and raises ``SourceError`` there. ``workers`` is the
    number of processes that write batches once a run outgrows one batch
    (default: one per core, see ``indexer.segments``; 0 writes in this process).
    ``prune`` (files and folders) removes the articles read from them before
    that this run did not see: their file or their record is gone.
    """
    if is_engine_url(resolve_index_dir(index_dir)):  # a distributed index: indexer.shards
        from indexer.shards import index_into_engine
        return index_into_engine(records, resolve_index_dir(index_dir), rebuild=rebuild,
                                 strict=strict, batch_size=batch_size, on_progress=on_progress)
    workers = default_workers() if workers is None else workers
    index_dir = resolve_index_dir(index_dir)
    created = not os.path.lexists(index_dir)
    index_dir = ensure_index_dir(index_dir)
    report = IndexReport()
    started = time.perf_counter()
    with _deferred_interrupt() as interrupted, \
            writer_lock(index_dir, wait, interrupted) as lock:
        if lock is None:
            report.interrupted = True  # Ctrl-C while waiting for another writer
        else:
            rebuilding = os.path.join(index_dir, REBUILD_FOLDER)
            shutil.rmtree(rebuilding, ignore_errors=True)  # a killed rebuild's
            replacing = rebuild and whoosh_index_exists(index_dir)
            if replacing:
                ix = create_index(rebuilding, schema)
            elif rebuild or not whoosh_index_exists(index_dir):
                ix = create_index(index_dir, schema)
            else:
                ix = open_whoosh_index(index_dir, write=True)
            remove_stray_files(index_dir)
            run = _Run(ix, report, strict, workers, lock.fileno(), interrupted, on_progress,
                       replacing)
            try:
                seen = _index_records(ix, records, report, strict, batch_size, run)
                if prune is not None and not report.interrupted:
                    report.removed = _prune(ix, prune, seen, report.problems)
                complete = not report.interrupted
                if complete:
                    _merge(ix, report)
                if replacing and complete:
                    _switch(ix, index_dir)
                elif replacing:
                    report.rebuild_dropped = True
                    report.added = report.updated = 0
            except (OSError, PoiskError) as error:
                cause = error if isinstance(error, OSError) else error.__cause__
                if not isinstance(cause, OSError):
                    raise
                _remove_uncommitted(ix.storage.folder)
                if replacing:
                    _remove_uncommitted(index_dir)  # segments moved in before the switch failed
                raise _write_error(index_dir, cause, replacing) from None
            finally:
                ix.close()
                if replacing:
                    shutil.rmtree(rebuilding, ignore_errors=True)
    report.elapsed = time.perf_counter() - started
    if created and not report.written:
        # Nothing to search: a run whose every record failed (or was
        # interrupted first) leaves no empty index behind.
        shutil.rmtree(index_dir, ignore_errors=True)
    return report


def _switch(ix, index_dir):
    """Make the index rebuilt in ``ix`` (a folder inside ``index_dir``) the index.

    Its segment files move into ``index_dir`` (renames: nothing is copied), then
    one table of contents of the next generation lists them alone: readers see
    the old index until that file is renamed into place, and the new one after.
    A kill before it leaves the old index whole (the moved files, listed by no
    table of contents, go with the next commit); after it, the new one.
    """
    storage, folder = FileStorage(index_dir), ix.storage.folder
    segment_file = TOC._segment_pattern(ix.indexname)
    for name in os.listdir(folder):
        if segment_file.fullmatch(name):
            os.replace(os.path.join(folder, name), os.path.join(index_dir, name))
    segments = ix._segments()
    generation = 1 + max((int(m.group(1)) for m in map(TOC_RE.fullmatch, os.listdir(index_dir))
                          if m), default=-1)
    TOC(ix.schema, segments, generation).write(storage, ix.indexname)
    os.replace(os.path.join(folder, MARKER_FILE), os.path.join(index_dir, MARKER_FILE))
    clean_files(storage, ix.indexname, generation, segments)


def _remove_uncommitted(folder, indexname="MAIN"):
    """After a failed write (a full disk, a folder not writable): delete what no commit lists,
    the half-written segment and the writers' temporary files, so the space comes back and the
    index opens as its last commit left it."""
    remove_worker_leftovers(folder)
    remove_stray_files(folder)
    shutil.rmtree(os.path.join(folder, f"{indexname}.tmp"), ignore_errors=True)
    storage = FileStorage(folder)
    try:
        toc = TOC.read(storage, indexname)
        clean_files(storage, indexname, toc.generation, toc.segments)
    except Exception:  # noqa: BLE001 - cleaning up is best effort: the error is reported next
        pass


def _write_error(index_dir, error, replacing):
    """One line saying why the index could not be written, what it keeps and what to do."""
    free = ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        with contextlib.suppress(OSError):
            free = f"; {shutil.disk_usage(index_dir).free / 2**20:,.1f} MB free"
    kept = "the index is as it was before the rebuild" if replacing else \
        "the index keeps its last commit"
    hint = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
            errno.EFBIG: "raise the file size limit (ulimit -f)",
            errno.EACCES: "make the folder writable", errno.EPERM: "make the folder writable",
            errno.EROFS: "use a writable file system"}.get(error.errno, "fix that")
    return PoiskError(f"cannot write the index at {index_dir} ({error.strerror or error}{free}); "
                      f"{kept}: {hint} and run the same command again")


def _merge(ix, report):
    """Merge segments by the tiered policy (``indexer.merging``); Ctrl-C abandons the merge
    at once, keeping every commit of the run."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        merge_segments(ix)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _index_records(ix, records, report, strict, batch_size, run):
    known = _known_hashes(ix)
    seen = {}
    batch = []
    try:
        for record in records:
            outcome = _prepare(record, known, seen)
            if isinstance(outcome, Rejected):
                if strict:
                    run.write(batch)
                    run.finish()
                    raise _strict_stop(outcome, report, run.replacing)
                report.failed += 1
                report.problems.append(outcome)
            elif outcome == "skipped":
                report.skipped += 1
            else:
                batch.append(outcome)
                if len(batch) >= batch_size:
                    run.write(batch, more=True)
                    batch = []
                    if run.stopped:
                        break
            run.check()
        run.write(batch)
        run.finish()
    except _Interrupted:
        run.drop()
        report.interrupted = True
    except BaseException:
        run.abort()
        raise
    if run.interrupted.is_set():
        report.interrupted = True  # Ctrl-C came during the last commit: all of it is done
    return seen


def _prune(ix, paths, seen, problems):
    """Delete the articles read from under ``paths`` whose id this run did not see.

    An article's origin is its file and line (``data/a.jsonl:3``); a file this
    run failed to read keeps its articles (it was not seen whole). Returns how
    many were deleted.
    """
    roots = [os.path.abspath(p) for p in paths]
    failed = {_origin_file(p.origin) for p in problems}
    with ix.searcher() as searcher:
        stale = [fields["id"] for fields in searcher.all_stored_fields()
                 if fields["id"] not in seen
                 and _under(_origin_file(fields.get("origin", "")), roots, failed)]
    if stale:
        commit_segment(ix, None, stale)
    return len(stale)


def _origin_file(origin):
    """The file of an origin: ``data/a.jsonl:3`` -> ``/abs/data/a.jsonl``."""
    path, _, line = origin.rpartition(":")
    return os.path.abspath(path if line.isdigit() else origin) if origin else ""


def _under(path, roots, failed):
    return bool(path) and path not in failed and any(
        path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class _Interrupted(Exception):
    """Ctrl-C: stop at once, keeping what is committed and dropping the batches in progress."""


@dataclass
class _Pending:
    """A document on its way to a segment: written as "added" or "updated" (replacing its id)."""

    kind: str
    id: str
    origin: str
    fields: dict


def _prepare(record, known, seen):
    """A ``_Pending`` document, "skipped" (unchanged) or a ``Rejected``."""
    if isinstance(record, Rejected):
        return record
    if record.id in seen:
        return Rejected(record.origin, f"duplicate id {record.id!r} (first at {seen[record.id]})")
    seen[record.id] = record.origin
    digest = record.content_hash
    previous = known.get(record.id)
    if previous == digest:
        return "skipped"
    kind = "added" if previous is None else "updated"
    return _Pending(kind, record.id, record.origin, document_fields(record, digest))


class _Run:
    """Writes batches as segments and commits them in order, counting what each commit holds.

    The first batch that fills up starts the worker processes (a run that
    fits one batch is written in this process); each later batch goes to the
    next free worker. Beside them a ``MergeProcess`` merges committed segments
    whenever the policy finds a full group (``indexer.merging.pick_during_run``),
    so a long run does not leave all its merging to its end.
    """

    def __init__(self, ix, report, strict, workers, lock_fd, interrupted, on_progress=None,
                 replacing=False):
        self.ix = ix
        self.replacing = replacing  # a rebuild beside the index: its commits are not the index's
        self.schema = ix.schema  # one schema object: its analyzer cache lasts the run
        self.report = report
        self.strict = strict
        self.workers = workers
        self.lock_fd = lock_fd
        self.pipeline = None
        self.merger = None  # a MergeProcess, while the workers run
        self.merged = set()  # ids of the segments it made
        self.commits = 0
        self.stopped = None  # strict: the record Whoosh failed on
        self.interrupted = interrupted
        self.on_progress = on_progress
        self.written_here = 0  # documents written into segments by this process
        self.counter = multiprocessing.Value("q", 0) if workers else None  # ... by the workers
        self.footers = Footers()  # learnt from every batch of the run, before it is extracted

    def check(self):
        """Report progress; raise ``_Interrupted`` once Ctrl-C was pressed.

        Called after each record, each document written in this process and
        every ``POLL_SECONDS`` while waiting for a worker: a long batch never
        hides Ctrl-C for more than a document.
        """
        report = self.report
        report.processed = (report.skipped + report.failed + self.written_here
                            + (self.counter.value if self.counter is not None else 0))
        if self.on_progress:
            self.on_progress(report)
        if self.interrupted.is_set():
            raise _Interrupted

    def _tick(self):
        self.written_here += 1
        self.check()

    def write(self, batch, more=False):
        """Write a batch as a segment; ``more``: other batches may follow."""
        if not batch or self.stopped:
            return
        if self.pipeline is None and self.workers and more and self.commits == 0:
            # The merging process first: both fork, and neither pool nor pipe has a thread yet.
            self.merger = MergeProcess(self.ix.storage.folder, self.lock_fd)
            self.pipeline = SegmentPipeline(self.ix.storage.folder, self.workers, self.strict,
                                            self.lock_fd, self.counter, self.check)
        documents = [p.fields for p in batch]
        self.footers.mark(documents)  # channels' footers, left out of extraction
        if self.pipeline is None:
            self._commit(batch, write_segment(self.ix, self.schema, documents, self.strict,
                                              self._tick))
        else:
            for done in self.pipeline.submit(batch, documents):
                self._commit(*done)

    def finish(self):
        """Commit every batch still being written, then clean up after the workers."""
        workers_ran = self.pipeline is not None
        if workers_ran:
            while self.pipeline.busy:
                self._commit(*self.pipeline.next_result())
            self.pipeline.close()
            self.pipeline = None
        if self.merger is not None:
            self._merge_step(wait=True)
            self.merger.close()
            self.merger = None
        if workers_ran or self.commits == 0:
            # Removes the files of batches no commit lists (strict mode drops
            # those after a failure); a run with nothing to write commits once.
            commit_segment(self.ix, None)
        if self.stopped:
            raise _strict_stop(self.stopped, self.report, self.replacing)

    def abort(self, kill=False):
        if self.pipeline is not None:
            self.pipeline.close(kill=kill)
            self.pipeline = None
        if self.merger is not None:
            self.merger.close(kill=True)  # an unfinished merge is not worth waiting for
            self.merger = None

    def drop(self):
        """After Ctrl-C: end the workers and the merge now and remove the files of the batches
        and the merge not committed."""
        self.abort(kill=True)
        remove_worker_leftovers(self.ix.storage.folder)
        remove_stray_files(self.ix.storage.folder)
        commit_segment(self.ix, None)

    def _merge_step(self, wait=False):
        """Commit the merge beside the workers once it is done (``wait``: wait for it), and
        start the next one the policy finds (not when ``wait``: the run is ending)."""
        merger = self.merger
        if merger.busy:
            done = merger.result(wait, self.check)
            if done is None:
                return
            commit_merged(self.ix, done)  # no file cleaned: workers may be writing
            self.merged.add(done.segment.segment_id())
        if not wait and not self.stopped:
            picked = pick_during_run(self.ix, self.merged)
            if picked:
                merger.start(picked)

    def _commit(self, batch, result):
        if self.stopped:
            return  # strict: nothing after the first failure
        written = [batch[n] for n in result.written(len(batch))]
        replaced = [p.id for p in written if p.kind == "updated"]
        # Files no TOC lists stay while a worker or the merge may be writing them.
        writing = (self.pipeline is not None and self.pipeline.busy) or \
            (self.merger is not None and self.merger.busy)
        commit_segment(self.ix, result.segment, replaced, clean=not writing)
        self.commits += 1
        if self.merger is not None:
            self._merge_step()
        for pending in written:
            setattr(self.report, pending.kind, getattr(self.report, pending.kind) + 1)
        for position, reason in result.failures:
            rejected = Rejected(batch[position].origin, f"cannot index it ({reason})")
            if self.strict:
                self.stopped = rejected
                return
            self.report.failed += 1
            self.report.problems.append(rejected)


def _strict_stop(rejected, report, replacing):
    """The error of a strict run; a rebuild's commits are in the new generation, never switched in."""
    kept = ("the rebuild is abandoned and the index is as it was" if replacing else
            f"the {report.written} documents written before it are committed")
    return SourceError(f"{rejected} (--strict: stopped at the first bad record; {kept})")


def _known_hashes(ix):
    """id -> content hash of every live document, read from the sortable columns."""
    try:
        with ix.reader() as reader:
            if reader.doc_count_all() == 0:
                return {}
            ids = reader.column_reader("id")
            hashes = reader.column_reader("content_hash")
            return {ids[n]: hashes[n] for n in reader.all_doc_ids()}
    except Exception as error:  # Whoosh raises many kinds on damaged files
        raise IndexCorrupted(
            f"cannot read the index at {ix.storage.folder} ({type(error).__name__}: {error}); "
            "rebuild it with `poisk index --rebuild PATH...`") from error


def delete_documents(ids: Iterable[str], index_dir: IndexPath | None = None, *,
                     wait: float = 0.0) -> int:
    """Delete documents by id; returns how many were found and deleted.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("Никель\\nКомбинат.")
    >>> _ = build_index([folder], folder / "ix")
    >>> delete_documents([folder.name + "/a", "missing", folder.name + "/a"], folder / "ix")
    1
    """
    ids = list(dict.fromkeys(ids))  # an id given twice is deleted (and counted) once
    index_dir = resolve_index_dir(index_dir)
    if is_engine_url(index_dir):
        from indexer.shards import delete_from_engine
        return delete_from_engine(ids, index_dir)
    open_whoosh_index(index_dir).close()  # a clear error before touching the folder
    with writer_lock(index_dir, wait):
        ix = open_whoosh_index(index_dir)
        try:
            try:
                writer = ix.writer()
            except LockError as error:
                raise IndexLocked(f"the index at {index_dir} is locked by another writer") \
                    from error
            deleted = sum(writer.delete_by_term("id", doc_id) for doc_id in ids)
            writer.commit(merge=False)
        finally:
            ix.close()
    return deleted


@contextlib.contextmanager
def writer_lock(index_dir, wait=0.0, interrupted=None):
    """Hold the index's writer lock for a whole run, waiting up to ``wait`` seconds.

    The lock is an ``flock`` on a file in the index folder: the kernel releases
    it when its holder dies, so a killed run never leaves a stale lock. Yields
    the lock's open file once the lock is held, or None when the
    ``interrupted`` event is set while waiting for it.
    """
    path = os.path.join(index_dir, LOCK_FILE)
    try:
        handle = open(path, "a+", encoding="utf-8")
    except OSError as error:
        raise PoiskError(f"cannot lock the index at {index_dir} ({error.strerror}): "
                         "is the folder writable?") from None
    with handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if interrupted is not None and interrupted.is_set():
                    yield None
                    return
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise IndexLocked(
                        f"the index at {index_dir} is locked by another writer ({holder}); "
                        "wait for it to finish or pass --wait SECONDS") from None
                time.sleep(0.1)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield handle
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _deferred_interrupt():
    """Turn Ctrl-C into a flag the indexing loop checks between documents.

    Stopping between documents, never inside one, lets the run commit what it
    has done and leave a consistent index.
    """
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
