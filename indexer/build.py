"""Indexing runs: add new articles, update changed ones, skip unchanged ones, commit in batches.

A run commits every ``batch_size`` documents. A crash (even SIGKILL) loses at
most the batch in progress: Whoosh writes a new table of contents only when a
commit is complete, so readers and the next run see the last committed state,
and the next run skips what that commit already holds (by content hash).
"""

import contextlib
import datetime
import fcntl
import os
import signal
import threading
import time
from dataclasses import dataclass, field

from whoosh.index import LockError

from indexer.errors import IndexCorrupted, IndexLocked, PoiskError, SourceError
from indexer.sources import Article, Rejected, read_sources
from indexer.storage import (
    LOCK_FILE, create_index, ensure_index_dir, open_whoosh_index, resolve_index_dir,
    whoosh_index_exists)

__all__ = ["BATCH_SIZE", "IndexReport", "build_index", "delete_documents", "index_articles"]

# Documents per commit: what a crash can lose, traded against commit cost
# (each commit writes a segment and may merge small ones).
BATCH_SIZE = 1000


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
    problems: list = field(default_factory=list)

    @property
    def written(self):
        return self.added + self.updated

    @property
    def documents_per_second(self):
        return round(self.written / self.elapsed, 1) if self.elapsed else 0.0


def build_index(paths, index_dir=None, *, source=None, rebuild=False, strict=False,
                batch_size=BATCH_SIZE, wait=0.0, on_progress=None, schema=None):
    """Index the articles found in ``paths`` (files and folders) into ``index_dir``.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text(" date 2026-03-14 Никель\\n\\nКомбинат.")
    >>> report = build_index([folder], folder / "ix")
    >>> report.added, build_index([folder], folder / "ix").skipped
    (1, 1)
    """
    records = read_sources(paths, source=source)
    return index_articles(records, index_dir, rebuild=rebuild, strict=strict,
                          batch_size=batch_size, wait=wait, on_progress=on_progress,
                          schema=schema)


def index_articles(records, index_dir=None, *, rebuild=False, strict=False,
                   batch_size=BATCH_SIZE, wait=0.0, on_progress=None, schema=None):
    """Index an iterable of ``Article`` (and ``Rejected``) records.

    >>> import tempfile
    >>> from indexer.sources import Article
    >>> articles = [Article(id="a1", headline="Никель", body="Выпуск никеля вырос.")]
    >>> index_articles(articles, tempfile.mkdtemp() + "/ix").added
    1

    A record that cannot be read, or that Whoosh fails to index, is counted in
    the report and the run goes on. ``strict`` commits what came before the
    first such record and raises ``SourceError`` there.
    """
    index_dir = ensure_index_dir(resolve_index_dir(index_dir))
    report = IndexReport()
    started = time.perf_counter()
    with _deferred_interrupt() as interrupted, \
            writer_lock(index_dir, wait, interrupted) as locked:
        if not locked:
            report.interrupted = True  # Ctrl-C while waiting for another writer
        else:
            if rebuild or not whoosh_index_exists(index_dir):
                ix = create_index(index_dir, schema)
            else:
                ix = open_whoosh_index(index_dir)
            try:
                _index_records(ix, records, report, interrupted, strict, batch_size, on_progress)
            finally:
                ix.close()
    report.elapsed = time.perf_counter() - started
    return report


def _index_records(ix, records, report, interrupted, strict, batch_size, on_progress):
    known = _known_hashes(ix)
    seen = {}
    batch = _Batch(ix)
    try:
        for record in records:
            outcome = _index_one(batch, record, known, seen)
            if isinstance(outcome, Rejected):
                if strict:
                    batch.commit(reopen=False)
                    raise SourceError(
                        f"{outcome} (--strict: stopped at the first bad record; the "
                        f"{report.written} documents written before it are committed)")
                report.failed += 1
                report.problems.append(outcome)
            else:
                setattr(report, outcome, getattr(report, outcome) + 1)
            if len(batch) >= batch_size:
                batch.commit()
            if on_progress:
                on_progress(report)
            if interrupted.is_set():
                report.interrupted = True
                break
        batch.commit(reopen=False)
    except BaseException:
        batch.cancel()
        raise


def _index_one(batch, record, known, seen):
    """Add or update one record; returns "added", "updated", "skipped" or a Rejected."""
    if isinstance(record, Rejected):
        return record
    if record.id in seen:
        return Rejected(record.origin, f"duplicate id {record.id!r} (first at {seen[record.id]})")
    digest = record.content_hash
    previous = known.get(record.id)
    if previous == digest:
        seen[record.id] = record.origin
        return "skipped"
    kind = "added" if previous is None else "updated"
    try:
        batch.write(kind, _document_fields(record, digest))
    except (OSError, MemoryError):
        raise  # the machine, not the record: no point going on
    except Exception as error:
        return Rejected(record.origin, f"cannot index it ({type(error).__name__}: {error})")
    seen[record.id] = record.origin
    return kind


class _Batch:
    """The writes since the last commit, and the Whoosh writer that holds them.

    When Whoosh fails inside ``add_document``, the postings of the fields it
    had already analysed stay in its writer and would be committed as part of
    the next document. So a failed record costs the whole writer: it is
    cancelled and the batch's earlier documents are written again into a new
    one. Nothing of a failed record is ever committed.
    """

    def __init__(self, ix):
        self.ix = ix
        self.writer = _writer(ix)
        self.written = []  # (kind, fields) since the last commit

    def __len__(self):
        return len(self.written)

    def write(self, kind, fields):
        try:
            _send(self.writer, kind, fields)
        except BaseException:
            self.writer.cancel()
            self.writer = _writer(self.ix)
            for earlier in self.written:
                _send(self.writer, *earlier)
            raise
        self.written.append((kind, fields))

    def commit(self, reopen=True):
        try:
            self.writer.commit()
        except OSError as error:
            raise PoiskError(
                f"cannot write the index at {self.ix.storage.folder} ({error.strerror or error}); "
                "it still holds the last completed commit") from error
        self.written = []
        self.writer = _writer(self.ix) if reopen else None

    def cancel(self):
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None


def _send(writer, kind, fields):
    if kind == "added":
        writer.add_document(**fields)
    else:
        writer.update_document(**fields)


def _document_fields(article: Article, digest):
    date = article.date and datetime.datetime.combine(article.date, datetime.time())
    fields = dict(id=article.id, headline=article.headline, body=article.body, lead=article.lead,
                  source=article.source or "", tags=",".join(article.tags),
                  content_hash=digest, origin=article.origin)
    if date:
        fields["date"] = date
    if article.url:
        fields["url"] = article.url
    return fields


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


def _writer(ix):
    try:
        return ix.writer(limitmb=256)
    except LockError as error:
        raise IndexLocked(f"the index at {ix.storage.folder} is locked by another writer") from error


def delete_documents(ids, index_dir=None, *, wait=0.0):
    """Delete documents by id; returns how many were found and deleted.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.txt").write_text("Никель\\nКомбинат.")
    >>> _ = build_index([folder], folder / "ix")
    >>> delete_documents([folder.name + "/a", "missing"], folder / "ix")
    1
    """
    index_dir = resolve_index_dir(index_dir)
    open_whoosh_index(index_dir).close()  # a clear error before touching the folder
    with writer_lock(index_dir, wait):
        ix = open_whoosh_index(index_dir)
        try:
            writer = _writer(ix)
            deleted = sum(writer.delete_by_term("id", doc_id) for doc_id in ids)
            writer.commit()
        finally:
            ix.close()
    return deleted


@contextlib.contextmanager
def writer_lock(index_dir, wait=0.0, interrupted=None):
    """Hold the index's writer lock for a whole run, waiting up to ``wait`` seconds.

    The lock is an ``flock`` on a file in the index folder: the kernel releases
    it when its holder dies, so a killed run never leaves a stale lock. Yields
    True once the lock is held, or False when the ``interrupted`` event is set
    while waiting for it.
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
                    yield False
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
            yield True
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
