"""A poisk index on a distributed Sphinx/Manticore cluster, behind the same API as a folder.

``open_index("manticore://127.0.0.1:9306/poisk")`` returns a ``SphinxIndex``:
the same ``search``, ``get``, ``stats`` and typed results as ``search.api.Index``.
A query is rewritten as on a folder index (wrong layout, typos, synonyms:
``search.rewrite``, with the document frequencies asked of the engine), compiled
by ``search.sphinxql`` and sent to the distributed index, which fans it out to
the shards and merges their answers; snippets come from poisk's own highlighter
over the stored text, so they are the same as from a folder index: the page's
rows carry each text's table of where its words' lemmas start
(``indexer.manticore.term_offsets``), as a folder index's postings carry
positions, so no word of the page is analysed again. When a shard
does not answer, the others still do: the result says so
(``SearchResult.partial``, with the engine's message in ``warnings``). A
headline-length query's best matches are ordered again on the client by the
folder index's BM25F (``search.rerank``).

One page is one round trip: the ``SELECT`` of the page (with its stored text)
and its ``SHOW META`` go as one multi-statement; each thread keeps its own
connection to each ``searchd`` it talks to.
"""

import datetime
import functools
import threading
import time
from typing import Any, Iterable, NoReturn

import numpy

from indexer.analysis import (
    CYRILLIC_RE, EXACT_MARK, HYPHENS_RE, WORD_RE, morph_analyzer, normal_word)
from indexer.analysis import russian_analyzer
from indexer.errors import PoiskError
from indexer.fields import EXTRACTED, stored_document
from indexer.manticore import (
    ShardDown, connect, doc_key, lexicon_table, parse_url, read_layout, read_lexicon,
    read_offsets, sql_token)
from search.api import (
    DID_YOU_MEAN_GAIN, FEW_RESULTS, MAX_LIMIT, MAX_OFFERS, SORTS, DateArg, Document, Hit,
    IndexStats, SearchResult, _offered, filter_arguments)
from search.compile import Ranking
from search.query import Loose, Not, Word, add_filters, parse_query
from search.rerank import (
    RERANK_DEPTH, FieldStats, bm25f_scores, field_lengths, lead_of, query_words)
from search.rewrite import Rewrite, Rewriter, searched_text
from search.snippets import Span, body_snippets, find_matches
from search.spelling import Speller, edit_distance, edits1
from search.sphinxql import FIELD_WEIGHTS as FIELD_WEIGHT
from search.sphinxql import SphinxCompiler, SphinxQuery, keyword_fields
from search.synonyms import Synonyms, default_file

__all__ = ["EngineLexicon", "EngineVocabulary", "GuessedVocabulary", "SphinxIndex",
           "SpellingFilter", "WordHashes"]

COLUMNS = "id, doc_id, headline_text, body_text, date_key, source, tags, url, " + \
    ", ".join(EXTRACTED)
# The query words each field matched, times the field's weight (sphinxql.FIELD_WEIGHTS),
# then BM25. Chosen on a
# third of the XQuAD-ru questions (397, MRR@10 in one run, 2 shards): this 0.921,
# (lcs + word count) 0.908, lcs*10 + BM25 0.891, Sphinx's sph04 0.857, its
# default proximity_bm25 (lcs*1000 + BM25) 0.842, plain BM25 0.761. Sphinx
# 2.2's bm25a() and bm25f() (with index_field_lengths = 1) ranked far worse on the
# dev headlines (MRR@10 0.08-0.70 against 0.85, any k1, IDF or scale tried).
FIELD_WEIGHTS = ", ".join(f"{field}={weight}" for field, weight in FIELD_WEIGHT.items())
PLAIN_RANKER = "expr('sum(word_count*user_weight)*100+bm25')"
# Queries of 2..Ranking.all_words_max words: the folder index's all-words tier
# first, by the distinct query lemmas the article holds anywhere (a word's
# lemma alternatives count apart: Sphinx cannot group them). Dev tags nDCG@10
# 0.563 against 0.545 without it (folder index 0.572).
TIER_RANKER = "expr('doc_word_count*10000+sum(word_count*user_weight)*100+bm25')"
BM25_MAX = 999  # Sphinx's bm25 factor is 0..999

# A query of one keyword (most one-word queries): Sphinx's own bm25 ranker, which reads no
# word positions, gives WEIGHT() = 1000 * (the matched fields' weights) + bm25, and
# PLAIN_RANKER's value, 100 * those weights + bm25 (a field holds the one keyword or not),
# is computed from it: the same order and scores without reading hits. searchd CPU of the
# one-keyword pages of the 100 short queries on 100,000 articles: 6.7 -> 5.0 ms a page,
# every page the same (54 of 54, ids and scores).
ONE_KEYWORD_RANKER = "bm25"
ONE_KEYWORD_SCORE = "IDIV(WEIGHT(), 1000) * 100 + WEIGHT() % 1000"

# Longer (headline-length) queries: the matched words weighed by their IDF (sum_idf, with
# idf='plain': log(N/n)), as the folder index's BM25F and word bonus weigh a rare word above a
# common one, then BM25 with term-frequency saturation (bm25a, k1 as Ranking.k1). Headlines,
# MRR@10 on 2,000 news, one run a half (load 19-21): test 0.816 -> 0.823 (dictionary form
# 0.820 -> 0.830), dev 0.859 -> 0.863 (0.854 -> 0.863). One-word tag queries lost with it
# (test nDCG@10 0.572 -> 0.566): they keep PLAIN_RANKER. Worse: the matched-word count kept
# in front (test 0.814), tf_idf in place of sum_idf (dev 0.807). Their best 20 matches are then
# ordered again by search.rerank (dev 0.863 -> 0.884); as rankers, dev MRR@10 (load 14): the lead
# weighted 20, 0.851; tf_idf added, 0.797 (with bm25a 0.826); bm25f(lead, body) for bm25a 0.863.
LONG_RANKER = ("expr('sum(sum_idf*user_weight)*100+bm25a(2.0,0.75)*1000'), "
               "idf='plain,tfidf_unnormalized'")


def ranker(compiled: SphinxQuery, ranking: Ranking) -> str:
    """The ``OPTION ranker=`` of a compiled query: the all-words tier for 2..``all_words_max``
    words, as on a folder index, IDF-weighted words above that."""
    if compiled.words > ranking.all_words_max:
        return LONG_RANKER
    return TIER_RANKER if compiled.words > 1 else PLAIN_RANKER


# A re-ranked query's very common words (SphinxQuery.rare_match) are left to the client's
# re-ranking, which counts every word: the engine chooses its best matches by the other
# words. Ranking the common words' hits of every article the others match was most of a
# headline-length page's cost: searchd CPU 30.2 -> 12.8 ms a page (40 of the speed bench's
# pages, 100,000 articles, one client). Dev headlines on 2,000 news, 10 asked, MRR@10 (one
# run, load 9-13): 0.884 -> 0.882, dictionary form 0.885 -> 0.880; re-ranking 40, 0.882 / 0.884;
# test 0.861 -> 0.852 and 0.851 -> 0.843: off (a ranking change must tie or win on every set).
COMMON_ON_CLIENT = False

# Articles read once to average the text fields' lengths (search.rerank).
FIELD_SAMPLE = 500

# The document count sets which words are too common for synonyms (Ranking.common_share);
# it is asked again after this many seconds, not on every search.
COUNT_SECONDS = 10.0


class SphinxIndex:
    """An open distributed index. Safe to share between threads (one connection per thread
    and ``searchd``)."""

    def __init__(self, url: str, ranking: Ranking | None = None,
                 synonym_files: Iterable[str] = ()) -> None:
        self.path = url
        self.url = parse_url(url)
        self.analyzer = russian_analyzer()
        self.ranking = ranking or Ranking()
        self._local = threading.local()
        self._connections: list = []
        self._lock = threading.Lock()
        self._synonym_files = [f for f in (default_file(), *synonym_files) if f]
        self._synonyms: Synonyms | None = None
        self._layout: list | None = None
        self._count = (0, -COUNT_SECONDS)  # (documents, when asked)
        self._common: tuple = ({}, time.monotonic())  # ({token: documents}, since when)
        self._lengths: dict | None = None  # average field lengths (field_stats)
        self.lexicon = EngineLexicon(self)
        self.rerank_depth = RERANK_DEPTH  # search.rerank (0: the engine's order stands)
        self.common_on_client = COMMON_ON_CLIENT
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

    def refresh(self) -> None:
        """Nothing to do: a real-time index shows each write at once."""

    @property
    def doc_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM {name}")[0][0][0] or 0)

    def search(self, query: str, *, limit: int = 10, offset: int = 0, since: DateArg = None,
               until: DateArg = None, source: str | Iterable[str] | None = None,
               tags: str | Iterable[str] = (), sort: str = "relevance", snippets: bool = True,
               group: bool = True, facets: bool = False, synonyms: bool = True,
               corrections: bool = True, **fields: Any) -> SearchResult:
        """Run a query on every shard; a ``SearchResult`` as ``search.api.Index.search`` gives,
        with the same rewriting (``corrections``, ``synonyms``).

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
        filters = filter_arguments(source, tags, since, until, **fields)

        def reranked(compiled):
            return bool(compiled.rerank) and sort == "relevance" and self.rerank_depth > 0

        def page(compiled):
            if reranked(compiled):  # the engine's best matches, ordered again below
                # Ranked on the rare words only: the re-ranking counts the common ones.
                return self._page_sql(compiled, sort, True, 0,
                                      max(self.rerank_depth, offset + limit),
                                      compiled.rare_match if self.common_on_client else None)
            return self._page_sql(compiled, sort, snippets, offset, limit)

        def fetch(compiled, keywords=False):
            sql = page(compiled)
            # A guess (``keywords``) of a word with synonyms too, once recent searches have
            # found which words are very common (``_remember_common``): it gives those no
            # synonyms, so it is most often the query as compiled (генпрокуратура россии:
            # searchd 42 -> 18 ms of CPU on 100,000 articles, the page the same). Before
            # that, россия (94% of the articles) would get РФ and the page seldom stand.
            if compiled.every_word and sort == "relevance" and \
                    ranker(compiled, self.ranking) == TIER_RANKER and \
                    not (keywords and compiled.word_matches and not self._common[0]):
                return self._every_word_first(compiled, sql, offset + limit, keywords)
            return self._query(sql, keywords, raw=True)

        guess = self._guess(query, filters, synonyms, corrections)
        rows, meta = fetch(guess, keywords=True) if guess else (None, None)
        # The page's SHOW META tells how many articles hold each of its words:
        # what the rewriting asks (without a round trip when the guess named them all).
        rewriter = self.rewriter(synonyms, corrections,
                                 EngineVocabulary(self, _keyword_docs(meta or ())))
        compiled, rewrites = self._compile(query, filters, rewriter)
        self._remember_common(rewriter)
        stats = self.field_stats() if reranked(compiled) else None
        if guess is None or page(compiled) != page(guess):
            rows, meta = fetch(compiled)
        if stats is not None:
            rows = self._reranked(rows, compiled, rewriter.speller.reader, stats)
            rows = rows[offset:offset + limit]
        hits = tuple(self._hit(row, compiled, snippets) for row in rows)
        warnings = tuple(value for key, value in meta if key == "warning")
        total = int(dict(meta).get("total_found", 0))
        offers = _offered(query, rewrites)
        if corrections and total < FEW_RESULTS and not offers:
            offers = self._better_spellings(query, filters, rewriter, total)
        return SearchResult(query=query, total=total, offset=offset, hits=hits,
                            partial=bool(warnings), warnings=warnings,
                            searched=searched_text(query, rewrites), rewrites=rewrites,
                            did_you_mean=offers)

    def rewriter(self, synonyms: bool = True, corrections: bool = True,
                 vocabulary: "EngineVocabulary | None" = None) -> Rewriter:
        """The ``search.rewrite.Rewriter`` of this index: its vocabulary is the engine's."""
        vocabulary = vocabulary or EngineVocabulary(self)
        speller = Speller(vocabulary, self.analyzer, vocabulary)
        # As on a folder index, very common words get no synonyms; with neither
        # synonyms nor corrections no word's frequency is needed.
        max_df = self.ranking.common_share * max(1, vocabulary.doc_count_all()) \
            if synonyms else None
        return Rewriter(speller, self._synonym_table() if synonyms else None, corrections,
                        max_df=max_df)

    def facets(self, query: str, **options: Any) -> NoReturn:
        """Not on a Manticore index yet: a clear error instead of a missing method."""
        raise PoiskError("facets are not counted on a Manticore index yet")

    def similar(self, doc_id: str) -> NoReturn:
        """Not here: a Manticore index keeps no story sketches (``poisk show --similar``)."""
        raise PoiskError("a Manticore index keeps no story sketches: `show --similar` needs a "
                         "local poisk index")

    def trend(self, query: str, **options: Any) -> NoReturn:
        """Not here yet: ``poisk trend`` reads a local index's date column."""
        raise PoiskError("`poisk trend` needs a local poisk index (a Manticore index has no "
                         "date column to count from here)")

    def get(self, doc_id: str) -> Document | None:
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
        for shard, host, port in self.layout():
            status = dict(self._shard_rows(host, port, f"SHOW INDEX {shard} STATUS"))
            size += int(status.get("ram_bytes", 0)) + int(status.get("disk_bytes", 0))
        low, high = dates[0] if dates and dates[0][0] else (0, 0)
        ranked = sorted(((s, int(n)) for s, n in sources), key=lambda kv: (-kv[1], kv[0]))
        return IndexStats(path=str(self.url), documents=sum(n for _, n in ranked),
                          first_date=_from_key(low), last_date=_from_key(high),
                          sources=tuple(ranked), size_bytes=size)

    def layout(self) -> list:
        """The shards as (real-time index, host, port), read from the engine once."""
        if self._layout is None:
            self._layout = read_layout(self._connection(), self.url)
        return self._layout

    def keyword_docs(self, tokens: Iterable[str]) -> dict:
        """{token: documents holding it} over every shard that answers (``CALL KEYWORDS``).

        A shard that does not answer counts nothing: the search after it says the
        results are partial.
        """
        text = " ".join(dict.fromkeys(t for t in tokens if t))
        counts: dict = {}
        if not text:
            return counts
        for shard, host, port in self.layout():
            try:
                rows = self._shard_rows(host, port, "CALL KEYWORDS(%s, %s, 1)", (text, shard))
            except ShardDown:
                continue
            for row in rows:
                counts[row[1]] = counts.get(row[1], 0) + int(row[3])
        return counts

    def document_count(self) -> int:
        """The number of documents, asked again at most every ``COUNT_SECONDS``."""
        count, when = self._count
        if time.monotonic() - when >= COUNT_SECONDS:
            self._count = count, when = self.doc_count, time.monotonic()
        return count

    # -- plumbing ---------------------------------------------------------

    def _guess(self, query, filters, synonyms, corrections):
        """The compiled query of a short query (under ``Ranking.common_min_words`` words) as it
        is when every word is in the index and none is too common for synonyms, made
        without asking the engine; None for longer queries (the common-word rule most
        often applies to them).

        ``search`` sends the guess's page at once and then compiles the query again
        with the frequencies its ``SHOW META`` gave: when both compile the same (no typo,
        no wrong layout), the page stands, in one round trip instead of three (the
        words' frequencies on each shard, then the page)."""
        tree = parse_query(query)
        words = sum(not isinstance(i, Not) for i in tree.items) if isinstance(tree, Loose) else 1
        if words >= self.ranking.common_min_words or \
                (corrections and not self._lexicons_hold_every_word(tree)):
            return None
        try:
            return self._compile(query, filters, self.rewriter(
                synonyms, corrections, GuessedVocabulary(self)))[0]
        except PoiskError:
            return None  # said by the real compile (stop words only, a bad date range)

    def _lexicons_hold_every_word(self, tree) -> bool:
        """False when the shards' lexicons hold no lemma of one of the query's plain words (a
        typo, the wrong layout): a guessed page would be asked for nothing, as the rewriting
        respells that word (навальнй: 6 round trips -> 3, the guess and the counts of the
        spellings no shard holds left out)."""
        lexicon = self.lexicon.words()
        if lexicon is None:
            return True
        items = tree.items if isinstance(tree, Loose) else [tree]
        for item in items:
            if isinstance(item, Word) and not (item.exact or item.prefix):
                lemmas = [t.text for t in self.analyzer(item.text, mode="query")
                          if t.kind != "exact"]
                if lemmas and not lexicon.holding(lemmas):
                    return False
        return True

    def _remember_common(self, rewriter):
        """Keep the words a search found too common for synonyms (``Rewriter.max_df``) for
        ``COUNT_SECONDS``, so that a guess (``GuessedVocabulary``) gives them none: a guess
        of ``генпрокуратура россии`` gave россия (in 94% of the articles) its synonym РФ,
        and its page, over every article with either, was asked for nothing."""
        common, since = self._common
        if time.monotonic() - since >= COUNT_SECONDS:
            common = {}
            self._common = (common, time.monotonic())
        if rewriter.max_df is not None:
            known = rewriter.speller.reader._df
            common.update((t, df) for t, df in list(known.items()) if df > rewriter.max_df)

    def _page_sql(self, compiled, sort, snippets, offset, limit, match=None):
        order = "date_key DESC, WEIGHT() DESC" if sort == "date" else "WEIGHT() DESC"
        offsets = "headline_offsets, body_offsets, " if snippets else ""
        rank, score = ranker(compiled, self.ranking), "WEIGHT()"
        if rank == PLAIN_RANKER and compiled.one_keyword and sort == "relevance":
            rank, score, order = ONE_KEYWORD_RANKER, ONE_KEYWORD_SCORE, "score DESC"
        # max_matches: each shard keeps and sends only the page's rows (its stored
        # text among them). At 1,000, Sphinx's default, a short query cost searchd
        # 99 ms of CPU on 10,000 articles against 5 ms at 20 (total_found counts
        # every match either way).
        return (f"SELECT {COLUMNS}, {offsets}{score} AS score FROM {{name}} "
                f"WHERE {_where(compiled, match)} "
                f"ORDER BY {order} LIMIT {offset}, {limit} OPTION "
                f"ranker={rank}, field_weights=({FIELD_WEIGHTS}), "
                f"max_matches={offset + limit}")

    def _every_word_first(self, compiled, sql, needed, keywords):
        """The page of a query of 2..3 one-keyword words (``SphinxQuery.every_word``): the
        articles holding every word rank above all others (TIER_RANKER), so when there
        are ``needed`` of them the page is theirs, in the same order with the same scores,
        and the engine ranks only them; the total is the query's own, counted without
        ranking, in the same round trip. Otherwise the page is asked again as it is.
        searchd CPU of such pages (29 of the 100 short queries, 100,000 articles): 15.2 ->
        11.7 ms, every page the same."""
        every = sql.replace(f"MATCH('{compiled.match}')", f"MATCH('{compiled.every_word}')", 1)
        count = f"SELECT id FROM {{name}} WHERE {_where(compiled)} LIMIT 1 " \
            "OPTION ranker=none, max_matches=1"
        rows, meta, counted = self._query(every, keywords, count=count, raw=True)
        words = [(key, value) for key, value in meta if key.startswith(("keyword[", "docs["))]
        if int(dict(meta).get("total_found", 0)) >= needed and (
                compiled.word_matches is None
                or rows[-1][-1] > absent_word_bound(compiled.word_matches)):
            # A shard down warns in both statements' SHOW META: said once.
            warned = [(key, value) for key, value in meta if key == "warning"]
            return rows, words + counted + [w for w in warned if w not in counted]
        rows, meta = self._query(sql, raw=True)
        return rows, words + meta

    def _compile(self, query, filters, rewriter) -> tuple:
        tree = parse_query(query)
        vocabulary = rewriter.speller.reader
        words = sum(not isinstance(i, Not) for i in tree.items) if isinstance(tree, Loose) else 1
        # Rewriting and the common-word rule ask the words' frequencies: one round trip.
        if rewriter.correct or rewriter.synonyms is not None or \
                words >= self.ranking.common_min_words:
            vocabulary.prefetch(_query_terms(self.analyzer, query))
        tree, rewrites = rewriter.rewrite(tree)
        compiler = SphinxCompiler(self.analyzer, self.ranking, vocabulary)
        compiled = compiler.compile(add_filters(tree, filters))
        if compiled.words > self.ranking.all_words_max:
            compiled.rerank = query_words(tree, self.analyzer, self.ranking)
        return compiled, rewrites

    def _reranked(self, rows, compiled, vocabulary, stats):
        """The candidate rows (``COLUMNS``, the offset tables, the engine's weight) ordered by
        the folder index's score (``search.rerank``), which becomes their score; the words'
        document counts are the ones the query was compiled with."""
        terms = [term for word in compiled.rerank for term, _ in word]
        rows = [(*row[:3], _text(row[3]), *row[4:]) for row in rows]  # the body's lead, as text
        vocabulary.prefetch(terms)
        df = {sql_token(t): vocabulary.doc_frequency("body", t) for t in terms}
        scores = bm25f_scores(compiled.rerank, rows, df, stats, self.ranking,
                              body_at=3, headline_table_at=-3, body_table_at=-2)
        order = sorted(range(len(rows)), key=lambda i: -scores[i])  # stable: ties as ranked
        return [(*rows[i][:-1], scores[i]) for i in order]

    def field_stats(self) -> FieldStats:
        """The document count and the text fields' average lengths, these from a sample of
        ``FIELD_SAMPLE`` articles (ids are hashes: the first ones are a random sample),
        read once."""
        if self._lengths is None:
            rows, _ = self._query(f"SELECT body_text, headline_offsets, body_offsets FROM {{name}} "
                                  f"ORDER BY id ASC LIMIT {FIELD_SAMPLE} "
                                  f"OPTION max_matches={FIELD_SAMPLE}")
            totals: dict = {}
            for body, headline_table, body_table in rows:
                for field, length in field_lengths(headline_table, body_table,
                                                           lead_of(body)).items():
                    totals[field] = totals.get(field, 0) + length
            self._lengths = {f: total / max(1, len(rows)) for f, total in totals.items()}
        return FieldStats(self.document_count(), self._lengths)

    def _better_spellings(self, query, filters, rewriter, total):
        """Queries with a rare word respelt that find several times as many articles."""
        offers = []
        for original, candidate in rewriter.respellings(parse_query(query)):
            better = searched_text(query, [Rewrite("typo", original, candidate)])
            compiled, _ = self._compile(better, filters, self.rewriter())
            _, meta = self._query(f"SELECT id FROM {{name}} WHERE {_where(compiled)} LIMIT 1 "
                                  "OPTION ranker=none, max_matches=1")
            if int(dict(meta).get("total_found", 0)) >= max(FEW_RESULTS,
                                                            DID_YOU_MEAN_GAIN * total):
                offers.append(better)
        return tuple(offers[:MAX_OFFERS])

    def _synonym_table(self):
        with self._lock:
            if self._synonyms is None:
                self._synonyms = Synonyms.load(self._synonym_files, self.analyzer)
            return self._synonyms

    def _connection(self, host=None, port=None):
        """This thread's connection to a ``searchd`` (default: the index's own)."""
        key = (host or self.url.host, port or self.url.port)
        connections = getattr(self._local, "connections", None)
        if connections is None:
            connections = self._local.connections = {}
        connection = connections.get(key)
        if connection is None:
            what = f"the searchd of {self.url}" if key == (self.url.host, self.url.port) \
                else f"searchd at {key[0]}:{key[1]}"
            connection = connections[key] = connect(*key, what)
            with self._lock:
                self._connections.append(connection)
        return connection

    def _query(self, sql, keywords=False, count=None, raw=False):
        """Rows of one statement and the engine's ``SHOW META`` after it, in one round trip:
        its match count and warnings, and with ``keywords`` each word's document count.
        With ``count``, a second statement in the same round trip, whose match count and
        warnings come third. With ``raw``, the rows' strings are left as UTF-8 bytes
        (``_stored`` and the offset tables' readers take either): a page's offset
        tables are more than half of its bytes and are only searched, never decoded
        (a headline-length page of 20 rows on 10,000 articles cost the client 2.6 ms of
        CPU decoded, 1.1 as bytes).

        A headline-length query's ``SHOW META`` lists about 30 words in 90 rows, which
        the client decodes one by one, for counts it already has (``EngineVocabulary``)."""
        short = "SHOW META LIKE 'total_found'; SHOW META LIKE 'warning'"
        text = f"{sql}; {'SHOW META' if keywords else short}"
        if count:
            text += f"; {count}; {short}"
        rows, *metas = self._execute(None, text.replace("{name}", self.url.name), raw=raw)
        if raw:
            metas = [[tuple(_text(value) for value in row) for row in rows] for rows in metas]
        if count is None:
            return rows, [row for rows in metas for row in rows]
        first = 1 if keywords else 2
        return (rows, [row for rows in metas[:first] for row in rows],
                [row for rows in metas[first + 1:] for row in rows])

    def _shard_rows(self, host, port, sql, args=None):
        return self._execute((host, port), sql, args)[0]

    def _execute(self, key, sql, args=None, raw=False):
        """Every result set of ``sql`` (one or two statements) on one ``searchd``; with
        ``raw``, strings as bytes."""
        import pymysql

        host, port = key or (None, None)
        try:
            connection = self._connection(host, port)
            connection.use_unicode = not raw  # read as each result set's columns are
            try:
                with connection.cursor() as cursor:
                    cursor.execute(sql, args)
                    results = [cursor.fetchall()]
                    while cursor.nextset():
                        results.append(cursor.fetchall())
                    return results + [()] * (2 - len(results))
            finally:
                connection.use_unicode = True
        except pymysql.err.OperationalError as error:
            self._forget(host, port)
            if error.args[0] == 1064:  # the engine's own error, with its reason
                raise self._cannot_answer(error) from None
            where = self.url if key is None else f"{host}:{port}"
            raise ShardDown(f"the searchd of {where} failed ({_reason(error)}); "
                            "start it (`poisk cluster start`) and try again") from None
        except pymysql.err.MySQLError as error:
            raise self._cannot_answer(error) from None

    def _cannot_answer(self, error):
        reason = _reason(error)
        hint = "; its shards lack columns this poisk reads: make the cluster again (`poisk " \
            "cluster init` in a new folder) and index again" if "unknown column" in reason else ""
        return PoiskError(f"{self.url} cannot answer: {reason}{hint}")

    def _forget(self, host=None, port=None):
        key = (host or self.url.host, port or self.url.port)
        connection = getattr(self._local, "connections", {}).pop(key, None)
        if connection is not None:
            with self._lock:
                if connection in self._connections:
                    self._connections.remove(connection)

    def _hit(self, row, compiled, snippets):
        stored = _stored(row)
        headline, body = stored["headline"], stored["body"]
        body_snips, headline_spans = (), ()
        if snippets:
            terms, prefixes = compiled.terms, compiled.prefixes
            if prefixes or any(term.startswith(EXACT_MARK) for term in terms):
                # Not in the stored tables (as on a folder index): analyse the text.
                spellings = SpellingFilter(terms, prefixes)
                headline_spans, body_spans = (
                    find_matches(text, self.analyzer, terms, prefixes, spellings)
                    for text in (headline, body))
            else:
                headline_spans, body_spans = (
                    _spans(text, read_offsets(table, terms))
                    for text, table in ((headline, row[-3]), (body, row[-2])))
            body_snips = body_snippets(headline, body, body_spans)
        return Hit(**stored_document(stored, hit=True), score=float(row[-1]),
                   snippets=body_snips, headline_highlights=tuple(headline_spans))


class EngineVocabulary:
    """The index's vocabulary as ``search.spelling.Speller`` reads it, asked of the engine.

    It stands for both the reader (``doc_frequency``, ``doc_count_all``) and the
    lexicon (``near``). Frequencies come from ``CALL KEYWORDS`` on every shard, a
    batch of words per round trip, and are kept for one search (the index
    changes under it). A term's count is over all text fields of the article,
    where a folder index counts the headline and the body apart (the larger one).
    """

    def __init__(self, index: SphinxIndex, known: dict | None = None) -> None:
        self.index = index
        self._df: dict = dict(known or {})

    def doc_count_all(self) -> int:
        return self.index.document_count()

    def doc_frequency(self, field: str, term: str) -> int:
        """Documents holding ``term`` (in any text field: ``field`` is not told apart)."""
        token = sql_token(term)
        if token not in self._df:
            self.prefetch([term])
        return self._df[token]

    def prefetch(self, terms: Iterable[str]) -> None:
        """Ask for the frequencies of all these terms at once: of those the shards'
        lexicons hold (``EngineLexicon``); the others are in no article."""
        tokens = [t for t in dict.fromkeys(map(sql_token, terms)) if t not in self._df]
        words = self.index.lexicon.words() if tokens else None
        if words is not None:
            held = set(words.holding(tokens))
            self._df.update((t, 0) for t in tokens if t not in held)
            tokens = [t for t in tokens if t in held]
        if tokens:
            counts = self.index.keyword_docs(tokens)
            self._df.update((t, counts.get(t, 0)) for t in tokens)

    def near(self, word: str, limit: int) -> list:
        """(term, cost) of the index's terms one edit from ``word``.

        Sphinx 2.2 cannot list its dictionary, so the spellings one edit away are
        made here and those in the shards' lexicons (``EngineLexicon``) looked up; a
        cluster without lexicons is asked all of them (about 600 for an 8-letter
        word, one round trip per shard). Terms two edits away are not found on this
        engine.
        """
        candidates = [word, *dict.fromkeys(w for w, _ in edits1(word))]
        words = self.index.lexicon.words()
        if words is not None:  # the shards' own words: ask only of those
            candidates = words.holding(candidates)
        self.prefetch(candidates)
        found = ((t, edit_distance(word, t, limit)) for t in candidates
                 if self._df.get(sql_token(t)) and self._is_lemma(t))
        return sorted((t, c) for t, c in found if c <= limit)

    def _is_lemma(self, term):
        """Whether the analyzer makes ``term`` of itself: the engine's dictionary also holds
        the exact forms (``никеля``), a folder index's lexicon only lemmas."""
        return any(t.text == term for spelling in (term, term.capitalize())  # names keep more
                   for t in self.index.analyzer(spelling, mode="query") if t.kind != "exact")


class EngineLexicon:
    """The words of every shard, from the lexicons ``poisk index`` writes beside them
    (``indexer.manticore.lexicon_tokens``: each shard's words and a few more), read
    once by a client and again in part when their rows change (their ids are looked
    at, at most every ``COUNT_SECONDS``, when a typo needs them).

    ``words()`` is None when a shard has no lexicon table (a cluster made before
    them), every lexicon is empty, or a shard does not answer: then spellings are
    asked of the engine as they are.
    """

    def __init__(self, index: SphinxIndex) -> None:
        self.index = index
        self._lock = threading.Lock()
        self._rows: dict = {}  # shard -> {row id: the hashes of its words}
        self._words: WordHashes | None = None
        self._checked = -COUNT_SECONDS

    def words(self) -> "WordHashes | None":
        with self._lock:
            if time.monotonic() - self._checked >= COUNT_SECONDS:
                self._words = self._read()
                self._checked = time.monotonic()
            return self._words

    def _read(self):
        import pymysql

        changed = False
        for shard, host, port in self.index.layout():
            try:
                connection = self.index._connection(host, port)
                ids = read_lexicon(connection, shard, "id")
                if ids is None:
                    return None
                known = self._rows.setdefault(shard, {})
                ids = {key for key, in ids}
                new = sorted(ids - known.keys())
                for start in range(0, len(new), 100):
                    keys = new[start:start + 100]
                    with connection.cursor() as cursor:
                        cursor.execute(f"SELECT id, words FROM {lexicon_table(shard)} WHERE id "
                                       f"IN ({','.join(map(str, keys))}) LIMIT {len(keys)} "
                                       f"OPTION max_matches={len(keys)}")
                        known.update((key, _hashes(words.split()))
                                     for key, words in cursor.fetchall())
            except ShardDown:
                return None
            except pymysql.err.MySQLError:
                self.index._forget(host, port)
                return None
            gone = known.keys() - ids
            for key in gone:
                del known[key]
            changed = changed or bool(new or gone)
        if self._words is None or changed:
            hashes = [h for rows in self._rows.values() for h in rows.values()]
            words = WordHashes(numpy.concatenate(hashes) if hashes else _hashes([]))
            return words if len(words) else None
        return self._words


class WordHashes:
    """A set of words kept as the sorted 64-bit hashes of their strings: the 456,211 words
    of the 100,000-article cluster took 114 MB of a client's memory as strings, 3.6 MB as
    hashes. Two words sharing a hash (about once in 10^13 lookups) only make one more
    spelling asked of the engine, which counts it as it is.

    >>> WordHashes(_hashes(["кот", "кошка"])).holding(["кит", "кошка", "кот"])
    ['кошка', 'кот']
    """

    def __init__(self, hashes: "numpy.ndarray") -> None:
        self.hashes = numpy.unique(hashes)

    def __len__(self) -> int:
        return len(self.hashes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordHashes) and numpy.array_equal(self.hashes, other.hashes)

    def holding(self, words: list) -> list:
        """Those of ``words`` (lemmas, as ``sql_token`` makes them tokens) in the set."""
        if not len(self.hashes) or not words:
            return []
        wanted = _hashes(map(sql_token, words))
        at = numpy.minimum(numpy.searchsorted(self.hashes, wanted), len(self.hashes) - 1)
        return [w for w, held in zip(words, (self.hashes[at] == wanted).tolist()) if held]


def _hashes(words) -> "numpy.ndarray":
    return numpy.fromiter(map(hash, words), numpy.int64)


class GuessedVocabulary(EngineVocabulary):
    """A vocabulary that asks the engine nothing but the document count: every word is in
    one article (so none is a typo), none is one edit away, and none is too common for
    synonyms but those recent searches found so (``SphinxIndex._guess``)."""

    def doc_frequency(self, field: str, term: str) -> int:
        return self.index._common[0].get(sql_token(term), 1)

    def prefetch(self, terms: Iterable[str]) -> None:
        pass

    def near(self, word: str, limit: int) -> list:
        return []


class SpellingFilter:
    """Which spellings of a text may be analysed into one of the wanted terms, told without
    pymorphy3: when a query holds exact forms or prefixes, which the stored offset
    tables do not hold, the highlighter analyses only those spellings (a page of
    long articles holds thousands of distinct spellings, and a cold pymorphy3
    parse is the cost of a snippet).

    A spelling may yield a lemma if it starts as the lemma does (two letters), is
    a form of it (pymorphy3's paradigm of the lemma: ``люди`` for ``человек``), is
    a word pymorphy3 does not know (its guessed lemma may be anything), or has a
    hyphenated part that may. Checked on 600 news articles: every (spelling,
    term) pair the analyzer makes passes (358,283 pairs).

    >>> wanted = SpellingFilter({"человек", "=металлов"})
    >>> [w for w in ("людям", "Человека", "металлов", "металлы", "Улан-Удэ") if wanted(w)]
    ['людям', 'Человека', 'металлов']
    """

    def __init__(self, terms: Iterable[str], prefixes: Iterable[str] = ()) -> None:
        terms = set(terms)
        lemmas = {t for t in terms if not t.startswith(EXACT_MARK)}
        self.heads = tuple({t[:2] for t in lemmas} | {p[:2] for p in prefixes})
        self.forms = {t[1:] for t in terms if t.startswith(EXACT_MARK)}
        for lemma in lemmas:
            self.forms |= _paradigm(lemma)

    def __call__(self, surface: str) -> bool:
        word = normal_word(surface)
        if word in self.forms or (self.heads and word.replace(",", ".").startswith(self.heads)):
            return True  # "1,5": the lemma "1.5", the exact form "=1,5"
        if CYRILLIC_RE.search(word) and not morph_analyzer().word_is_known(word):
            return True
        return HYPHENS_RE.search(surface) is not None and any(
            self(part) for part in HYPHENS_RE.split(surface))


@functools.lru_cache(maxsize=4096)
def _paradigm(lemma):
    """Every form (normalised) of every dictionary word whose lemma this is."""
    forms = set()
    for parse in morph_analyzer().parse(lemma):
        if normal_word(parse.normal_form) == lemma:
            forms.update(normal_word(form.word) for form in parse.lexeme)
    return frozenset(forms)


def absent_word_bound(word_matches: list) -> int:
    """The highest ``TIER_RANKER`` score an article lacking one of these words (their
    ``MATCH()``: lemma alternatives, compound parts, synonyms) can have: 10,000 for each
    keyword of the other words, 100 times the weights of the fields each may be found in,
    and BM25's most. ``_every_word_first`` keeps the page of every word when its last
    row scores above it. ``генпрокуратура россии`` on 100,000 articles (load 13): the
    10th article of every word scores 45,320, one lacking a word at most 40,799; that
    page costs ``searchd`` 18 ms of CPU, the page of any word 66.

    >>> absent_word_bound(["(@(headline,body) (a | b))", "(@(headline) c)"])
    25999
    """
    keywords = [keyword_fields(match) for match in word_matches]
    best = 0
    for absent in range(len(keywords)):
        held: dict = {}
        for number, found in enumerate(keywords):
            for keyword, fields in found.items():
                if number != absent:
                    held.setdefault(keyword, set()).update(fields)
        fields = sum(FIELD_WEIGHT[f] for found in held.values() for f in found)
        best = max(best, 10000 * len(held) + 100 * fields + BM25_MAX)
    return best


def _query_terms(analyzer, query):
    """The lemmas of the query's words (operators and field names included: a few extra)."""
    return {t.text for t in analyzer(query, mode="query") if t.kind != "exact"}


def _spans(text, offsets):
    """The words of ``text`` that start at these offsets (a ``term_offsets`` table's)."""
    return [Span(*WORD_RE.match(text, at).span()) for at in offsets]


def _keyword_docs(meta) -> dict:
    """{token: documents holding it} from a ``SHOW META`` (``keyword[i]``, ``docs[i]``), summed
    over the shards that answered, as ``SphinxIndex.keyword_docs`` counts."""
    meta = dict(meta)
    return {word: int(meta.get(f"docs[{key[8:-1]}]", 0)) for key, word in meta.items()
            if key.startswith("keyword[")}


def _where(compiled: SphinxQuery, match: str | None = None) -> str:
    return " AND ".join([f"MATCH('{match or compiled.match}')", *compiled.where])


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _stored(row):
    """A row of ``COLUMNS`` (strings as ``str`` or UTF-8 bytes) as the stored fields
    ``indexer.fields`` reads."""
    _, doc_id, headline, body, date_key, source, tags, url = map(_text, row[:8])
    extracted = dict(zip(EXTRACTED, map(_text, row[8:8 + len(EXTRACTED)])))
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
