"""Indexing into a distributed Sphinx/Manticore index: each article to its shard, in batches.

Every batch is analysed here (poisk's own pymorphy3 analysis, see
``indexer.manticore``), split by shard and written with one ``REPLACE`` per
shard. Sphinx commits each statement on its own and logs it to its binlog
before it answers, so what a shard acknowledged survives a crash of that
shard. Unchanged articles are skipped by their content hash, as in a folder
index, so a run that stopped (a shard went down, Ctrl-C) completes when run
again, without duplicates: an article's Sphinx id is a hash of its poisk id.

>>> import datetime
>>> from indexer.sources import Article
>>> row = document_row(Article(id="a1", headline="Никель", body="Выплавка стали.",
...                            date=datetime.date(2026, 3, 14), tags=("металлургия",)),
...                    SphinxText())
>>> row["body"], row["body_alt"], row["date_key"]
('выплавка стать', 'выплавок сталь', 20260314)
"""

import multiprocessing
import signal
import time

from indexer.build import IndexReport, _deferred_interrupt, _prepare, _strict_stop
from indexer.errors import PoiskError
from indexer.fields import EXTRACTED, add_extracted
from indexer.manticore import (
    ALL_TOKEN, ShardDown, SphinxText, connect, doc_key, lexicon_rows, lexicon_table,
    lexicon_tokens, meta_token, parse_url, read_layout, read_lexicon)
from indexer.segments import default_workers
from indexer.sources import Article, Rejected

__all__ = ["delete_from_engine", "document_row", "fill_lexicon", "index_into_engine"]

# Below this many changed articles in a batch, forking workers costs more than it saves.
MIN_POOL_ARTICLES = 200


def document_row(article: Article, text: SphinxText) -> dict:
    """The column values of one article in a shard's real-time index."""
    headline, headline_alt, headline_forms, headline_offsets = text.fields(article.headline)
    body, body_alt, body_forms, body_offsets = text.fields(article.body)
    lead = text.fields(article.lead)[0] if article.lead else ""
    extracted = add_extracted({"headline": article.headline, "body": article.body},
                              text.morph.terms)
    meta = meta_tokens(article.id, article.source or "", article.tags, extracted)
    date = article.date
    return dict(
        id=doc_key(article.id), headline=headline, lead=lead, body=body,
        headline_alt=headline_alt, body_alt=body_alt, headline_forms=headline_forms,
        body_forms=body_forms, meta=" ".join(meta), doc_id=article.id,
        headline_text=article.headline, body_text=article.body, headline_offsets=headline_offsets,
        body_offsets=body_offsets, source=article.source or "",
        tags=",".join(article.tags), url=article.url or "",
        content_hash=article.content_hash,
        date_key=date.year * 10000 + date.month * 100 + date.day if date else 0,
        **{name: extracted[name] for name in EXTRACTED})


def meta_tokens(doc_id: str, source: str, tags, extracted: dict) -> list:
    """The tokens of an article's ``meta`` field: every article's, its source, id, tags and
    extracted values (also made from a shard's stored columns, ``fill_lexicon``)."""
    meta = [ALL_TOKEN, meta_token("s", source), meta_token("i", doc_id)]
    meta += [meta_token("t", tag) for tag in tags]
    meta += [meta_token(name, value) for name in EXTRACTED
             for value in extracted[name].split(",") if value]
    return meta


def index_into_engine(records, url, *, rebuild=False, strict=False, batch_size=1000,
                      on_progress=None) -> IndexReport:
    """Index ``Article`` (and ``Rejected``) records into the distributed index at ``url``."""
    report = IndexReport()
    started = time.perf_counter()
    writer = _ShardWriter(parse_url(url))
    try:
        with _deferred_interrupt() as interrupted:
            if rebuild:
                writer.truncate()
            _run(records, writer, report, interrupted, strict, batch_size, on_progress)
    finally:
        writer.close()
        report.elapsed = time.perf_counter() - started
    return report


def _run(records, writer, report, interrupted, strict, batch_size, on_progress):
    seen, batch = {}, []
    for record in records:
        outcome = _prepare(record, {}, seen)  # every new id is "added" until its shard says
        if isinstance(outcome, Rejected):
            if strict:
                writer.write(batch, report)
                raise _strict_stop(outcome, report)
            report.failed += 1
            report.problems.append(outcome)
        else:
            batch.append(record)
            if len(batch) >= batch_size:
                writer.write(batch, report)
                batch = []
        if on_progress:
            on_progress(report)
        if interrupted.is_set():
            report.interrupted = True
            break
    writer.write(batch, report)


class _ShardWriter:
    """Connections to the shards of one distributed index, opened on first use."""

    def __init__(self, url):
        self.url = url
        head = connect(url.host, url.port, f"the searchd of {url}")
        try:
            self.layout = read_layout(head, url)
        finally:
            head.close()
        self.connections = {}
        self.lexicons = {}  # shard number -> the words of its lexicon, or None: it has none
        self.text = SphinxText()
        self.workers = default_workers()
        self.pool = None

    def write(self, batch, report):
        """Write the changed articles of ``batch``; count added/updated/skipped in ``report``."""
        try:
            self._write(batch, report)
        except ShardDown as error:
            raise ShardDown(f"{error} ({report.written} documents were written; run the "
                            "same command again to finish: nothing is indexed twice)") from None

    def _write(self, batch, report):
        by_shard = {}
        for article in batch:
            by_shard.setdefault(doc_key(article.id) % len(self.layout), []).append(article)
        changed = []  # (shard number, article, "added" or "updated")
        for number, articles in sorted(by_shard.items()):
            known = dict(self._execute(
                number, f"SELECT id, content_hash FROM {self.layout[number][0]} WHERE id IN "
                        f"({','.join(str(doc_key(a.id)) for a in articles)}) "
                        f"LIMIT {len(articles)} OPTION max_matches={len(articles)}"))
            for article in articles:
                previous = known.get(doc_key(article.id))
                if previous == article.content_hash:
                    report.skipped += 1
                else:
                    changed.append((number, article, "added" if previous is None else "updated"))
        rows = self._rows([article for _, article, _ in changed])
        for number in sorted(by_shard):
            mine = [(row, kind) for (n, _, kind), row in zip(changed, rows) if n == number]
            if mine:
                # The words first: a write cut short between the two leaves a word too many
                # in the lexicon (no harm: its count is asked), never one missing.
                self._add_words(number, [row for row, _ in mine])
                columns = list(mine[0][0])
                self._execute(number, f"REPLACE INTO {self.layout[number][0]} "
                                      f"({', '.join(columns)}) VALUES "
                                      f"({', '.join(['%s'] * len(columns))})",
                              [tuple(row.values()) for row, _ in mine])
            for _, kind in mine:
                setattr(report, kind, getattr(report, kind) + 1)

    def _add_words(self, number, rows):
        """Add the rows' words that its lexicon lacks to shard ``number``'s lexicon."""
        known = self._lexicon(number)
        if known is None:
            return
        new = set().union(*(lexicon_tokens(row["headline_text"], row["body_text"],
                                           row["headline_offsets"], row["body_offsets"],
                                           row["meta"])
                            for row in rows)) - known
        if new:
            self._execute(number, f"REPLACE INTO {lexicon_table(self.layout[number][0])} "
                                  "(id, note, words) VALUES (%s, '', %s)", lexicon_rows(new))
            known |= new

    def _lexicon(self, number):
        if number not in self.lexicons:
            rows = self._run(number, lambda connection: read_lexicon(
                connection, self.layout[number][0], "id, words"))
            self.lexicons[number] = None if rows is None else \
                {word for _, words in rows for word in words.split()}
        return self.lexicons[number]

    def _rows(self, articles):
        """The articles' rows, analysed in worker processes when there are enough of them."""
        if self.workers and len(articles) >= MIN_POOL_ARTICLES:
            if self.pool is None:
                self.pool = multiprocessing.get_context("fork").Pool(
                    self.workers, initializer=signal.signal,
                    initargs=(signal.SIGINT, signal.SIG_IGN))  # Ctrl-C is the main process's
            chunk = max(1, len(articles) // (4 * self.workers))
            return self.pool.map(_row_in_worker, articles, chunksize=chunk)
        return [document_row(article, self.text) for article in articles]

    def _execute(self, number, sql, many=None):
        def execute(connection):
            with connection.cursor() as cursor:
                if many is None:
                    cursor.execute(sql)
                    return cursor.fetchall()
                cursor.executemany(sql, many)
                return ()
        return self._run(number, execute)

    def _run(self, number, work):
        """``work(connection)`` on shard ``number``, its failures as poisk's errors."""
        import pymysql

        shard, host, port = self.layout[number]
        connection = self.connections.get(number)
        if connection is None:
            connection = self.connections[number] = connect(host, port, f"shard {shard}")
        try:
            return work(connection)
        except pymysql.err.OperationalError as error:
            self.connections.pop(number).close()
            raise ShardDown(f"shard {shard} at {host}:{port} failed ({error.args[-1]}); "
                            "start it (`poisk cluster start`)") from None
        except pymysql.err.MySQLError as error:
            raise PoiskError(f"shard {shard} at {host}:{port} refused a write "
                             f"({error.args[-1]})") from None

    def truncate(self):
        for number, (shard, _, _) in enumerate(self.layout):
            self._execute(number, f"TRUNCATE RTINDEX {shard}")
            if self._lexicon(number) is not None:
                self._execute(number, f"TRUNCATE RTINDEX {lexicon_table(shard)}")
                self.lexicons[number] = set()

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool = None
        for connection in self.connections.values():
            try:
                connection.close()
            except Exception:  # a shard that died: nothing left to close
                pass
        self.connections.clear()


_worker_text = None


def _row_in_worker(article):
    global _worker_text
    if _worker_text is None:
        _worker_text = SphinxText()  # one per worker: its word cache lasts the run
    return document_row(article, _worker_text)


def delete_from_engine(ids, url) -> int:
    """Delete articles by id from their shards; returns how many were there."""
    writer = _ShardWriter(parse_url(url))
    deleted = 0
    try:
        by_shard = {}
        for doc_id in set(ids):
            by_shard.setdefault(doc_key(doc_id) % len(writer.layout), []).append(doc_key(doc_id))
        for number, keys in sorted(by_shard.items()):
            found = writer._execute(
                number, f"SELECT id FROM {writer.layout[number][0]} WHERE id IN "
                        f"({','.join(map(str, keys))}) LIMIT {len(keys)}")
            if found:
                writer._execute(number, f"DELETE FROM {writer.layout[number][0]} WHERE id IN "
                                        f"({','.join(str(row[0]) for row in found)})")
                deleted += len(found)
    finally:
        writer.close()
    return deleted


# Articles read a statement when a lexicon is made from a shard's rows (their stored
# text and offset tables: about 30 KB an article of bench.scale).
FILL_PAGE = 500


def fill_lexicon(url: str) -> list:
    """Make every shard's lexicon again from the articles it holds (``poisk cluster
    lexicon``), for a cluster indexed before lexicons were written; returns the words
    of each shard. Run it while nothing indexes into the cluster: the rows it
    replaces are deleted after the new ones are written (searches meanwhile read
    either), and a word written between its reading and that deletion may be lost.
    """
    writer = _ShardWriter(parse_url(url))
    counts = []
    try:
        for number, (shard, _, _) in enumerate(writer.layout):
            old = writer._run(number, lambda c, shard=shard: read_lexicon(c, shard, "id"))
            if old is None:
                raise PoiskError(
                    f"shard {shard} has no lexicon table {lexicon_table(shard)}: add it to its "
                    "searchd configuration as `poisk cluster init` writes it (search/cluster.py, "
                    "SHARD_INDEX), restart that searchd and run this again")
            words, last = set(), 0
            while True:
                page = writer._execute(
                    number, f"SELECT id, headline_text, body_text, headline_offsets, "
                            f"body_offsets, doc_id, source, tags, {', '.join(EXTRACTED)} "
                            f"FROM {shard} WHERE id > {last} ORDER BY id ASC "
                            f"LIMIT {FILL_PAGE} OPTION max_matches={FILL_PAGE}")
                for row in page:
                    doc_id, source, tags = row[5:8]
                    meta = meta_tokens(doc_id, source, tags.split(",") if tags else (),
                                       dict(zip(EXTRACTED, row[8:])))
                    words |= lexicon_tokens(*row[1:5], " ".join(meta))
                if len(page) < FILL_PAGE:
                    break
                last = page[-1][0]
            rows = lexicon_rows(words)
            if rows:
                writer._execute(number, f"REPLACE INTO {lexicon_table(shard)} (id, note, words) "
                                        "VALUES (%s, '', %s)", rows)
            stale = {key for key, in old} - {key for key, _ in rows}
            if stale:
                writer._execute(number, f"DELETE FROM {lexicon_table(shard)} WHERE id IN "
                                        f"({','.join(map(str, sorted(stale)))})")
            counts.append(len(words))
    finally:
        writer.close()
    return counts
