"""A poisk index on a distributed Sphinx/Manticore cluster, behind the same API as a folder.

``open_index("manticore://127.0.0.1:9306/poisk")`` returns a ``SphinxIndex``:
the same ``search``, ``get``, ``stats`` and typed results as ``search.api.Index``.
A query is compiled by ``search.sphinxql`` and sent to the distributed index,
which fans it out to the shards and merges their answers; snippets come from
poisk's own highlighter over the stored text, so they are the same as from a
folder index. When a shard does not answer, the others still do: the result
says so (``SearchResult.partial``, with the engine's message in ``warnings``).
"""

import datetime
import threading

from indexer.analysis import russian_analyzer
from indexer.errors import PoiskError
from indexer.fields import EXTRACTED, stored_document
from indexer.manticore import ShardDown, connect, doc_key, parse_url, read_layout
from search.api import (
    MAX_LIMIT, SORTS, Document, Hit, IndexStats, SearchResult, filter_arguments)
from search.query import add_filters, parse_query
from search.snippets import find_matches, make_snippets
from search.sphinxql import SphinxCompiler

__all__ = ["SphinxIndex"]

COLUMNS = "id, doc_id, headline_text, body_text, date_key, source, tags, url, " + \
    ", ".join(EXTRACTED)
# The query words each field matched, times the field's weight (the headline
# counts 1.5 times the body, as in the folder index), then BM25. Chosen on a
# third of the XQuAD-ru questions (397, MRR@10 in one run, 2 shards): this 0.921,
# (lcs + word count) 0.908, lcs*10 + BM25 0.891, Sphinx's sph04 0.857, its
# default proximity_bm25 (lcs*1000 + BM25) 0.842, plain BM25 0.761.
FIELD_WEIGHTS = ("headline=15, lead=10, body=10, headline_alt=15, body_alt=10, "
                 "headline_forms=15, body_forms=10, meta=1")
RANKER = "expr('sum(word_count*user_weight)*100+bm25')"


class SphinxIndex:
    """An open distributed index. Safe to share between threads (one connection per thread)."""

    def __init__(self, url, ranking=None):
        self.path = url
        self.url = parse_url(url)
        self.analyzer = russian_analyzer()
        self.ranking = ranking
        self._local = threading.local()
        self._connections = []
        self._lock = threading.Lock()
        self._query("SELECT id FROM {name} LIMIT 1")  # a clear error now if it is not there

    def __enter__(self) -> "SphinxIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def refresh(self):
        """Nothing to do: a real-time index shows each write at once."""

    @property
    def doc_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM {name}")[0][0][0] or 0)

    def search(self, query, *, limit=10, offset=0, since=None, until=None, source=None,
               tags=(), sort="relevance", snippets=True, group=True, facets=False,
               **fields) -> SearchResult:
        """Run a query on every shard; a ``SearchResult`` as ``search.api.Index.search`` gives.

        ``group`` is accepted and does nothing: a Manticore index keeps no story sketches.
        ``facets`` is refused: counting every match is not done on shards yet.
        """
        if facets:
            raise PoiskError("facets are not counted on a Manticore index yet")
        if sort not in SORTS:
            raise PoiskError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        if offset < 0 or not 0 < limit <= MAX_LIMIT:
            raise PoiskError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
        # The filters are query nodes, as in search.api (one definition of a filter).
        tree = add_filters(parse_query(query),
                           filter_arguments(source, tags, since, until, **fields))
        compiled = SphinxCompiler(self.analyzer).compile(tree)
        where = [f"MATCH('{compiled.match}')", *compiled.where]
        order = "date_key DESC, WEIGHT() DESC" if sort == "date" else "WEIGHT() DESC"
        rows, meta = self._query(
            f"SELECT {COLUMNS}, WEIGHT() AS score FROM {{name}} WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT {offset}, {limit} OPTION ranker={RANKER}, "
            f"field_weights=({FIELD_WEIGHTS}), max_matches={max(1000, offset + limit)}")
        hits = tuple(self._hit(row, compiled, snippets) for row in rows)
        warnings = tuple(value for key, value in meta if key == "warning")
        return SearchResult(query=query, total=int(dict(meta).get("total_found", 0)),
                            offset=offset, hits=hits, partial=bool(warnings),
                            warnings=warnings)

    def facets(self, query, **options):
        """Not on a Manticore index yet: a clear error instead of a missing method."""
        raise PoiskError("facets are not counted on a Manticore index yet")

    def similar(self, doc_id: str) -> tuple:
        """Not here: a Manticore index keeps no story sketches (``poisk show --similar``)."""
        raise PoiskError("a Manticore index keeps no story sketches: `show --similar` needs a "
                         "local poisk index")

    def trend(self, query: str, **options):
        """Not here yet: ``poisk trend`` reads a local index's date column."""
        raise PoiskError("`poisk trend` needs a local poisk index (a Manticore index has no "
                         "date column to count from here)")

    def get(self, doc_id):
        """The stored article with this id, or ``None``."""
        rows, _ = self._query(f"SELECT {COLUMNS} FROM {{name}} WHERE id = {doc_key(doc_id)}")
        return Document(**stored_document(_stored(rows[0]))) if rows else None

    def stats(self) -> IndexStats:
        """Document count, date range, sources, and the size of every shard in memory and on disk."""
        sources, meta = self._query("SELECT source, COUNT(*) AS n FROM {name} GROUP BY source "
                                    "ORDER BY n DESC LIMIT 10000 OPTION max_matches=10000")
        _refuse_partial(meta, "stats")
        dates, _ = self._query("SELECT MIN(date_key), MAX(date_key) FROM {name} "
                               "WHERE date_key > 0")
        size = 0
        for shard, host, port in read_layout(self._connection(), self.url):
            connection = connect(host, port, f"shard {shard}")
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"SHOW INDEX {shard} STATUS")
                    status = dict(cursor.fetchall())
            finally:
                connection.close()
            size += int(status.get("ram_bytes", 0)) + int(status.get("disk_bytes", 0))
        low, high = dates[0] if dates and dates[0][0] else (0, 0)
        ranked = sorted(((s, int(n)) for s, n in sources), key=lambda kv: (-kv[1], kv[0]))
        return IndexStats(path=str(self.url), documents=sum(n for _, n in ranked),
                          first_date=_from_key(low), last_date=_from_key(high),
                          sources=tuple(ranked), size_bytes=size)

    # -- plumbing ---------------------------------------------------------

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = connect(self.url.host, self.url.port, f"the searchd of {self.url}")
            with self._lock:
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    def _query(self, sql):
        """Rows of one statement and the engine's ``SHOW META`` after it."""
        import pymysql

        try:
            with self._connection().cursor() as cursor:
                cursor.execute(sql.format(name=self.url.name))
                rows = cursor.fetchall()
                cursor.execute("SHOW META")
                return rows, cursor.fetchall()
        except pymysql.err.OperationalError as error:
            self._forget()
            if error.args[0] == 1064:  # the engine's own error, with its reason
                raise PoiskError(f"{self.url} cannot answer: {_reason(error)}") from None
            raise ShardDown(f"the searchd of {self.url} failed ({_reason(error)}); "
                            "start it (`poisk cluster start`) and try again") from None
        except pymysql.err.MySQLError as error:
            raise PoiskError(f"{self.url} cannot answer: {_reason(error)}") from None

    def _forget(self):
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def _hit(self, row, compiled, with_snippets):
        stored = _stored(row)
        headline, body = stored["headline"], stored["body"]
        snippets, headline_spans = (), ()
        if with_snippets:
            terms, prefixes = compiled.terms, compiled.prefixes
            snippets = make_snippets(body, find_matches(body, self.analyzer, terms, prefixes))
            headline_spans = tuple(find_matches(headline, self.analyzer, terms, prefixes))
        return Hit(**stored_document(stored, hit=True), score=float(row[-1]),
                   snippets=snippets, headline_highlights=headline_spans)


def _stored(row):
    """A row of ``COLUMNS`` as the stored fields ``indexer.fields`` reads."""
    _, doc_id, headline, body, date_key, source, tags, url = row[:8]
    extracted = dict(zip(EXTRACTED, row[8:8 + len(EXTRACTED)]))
    return {"id": doc_id, "headline": headline, "body": body, "date": _from_key(date_key),
            "source": source, "tags": tags, "url": url, **extracted}


def _from_key(key):
    key = int(key or 0)
    return datetime.date(key // 10000, key // 100 % 100, key % 100) if key else None


def _refuse_partial(meta, what):
    warnings = [value for key, value in meta if key == "warning"]
    if warnings:
        raise ShardDown(f"{what} need every shard: {warnings[0]}")


def _reason(error):
    return str(error.args[-1]).rstrip("\x00").replace("\n", " ")
