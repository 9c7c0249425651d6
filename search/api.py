"""The library API: open an index, search it, read typed results.

>>> import tempfile, pathlib
>>> from indexer import build_index
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.txt").write_text(" date 2026-03-14 Рост выпуска никеля\\n\\nКомбинат нарастил выпуск металлов.")
>>> _ = build_index([folder], folder / "ix")
>>> with open_index(folder / "ix") as index:
...     result = index.search("металл")
>>> result.total, result.hits[0].snippets[0].marked()
(1, 'Комбинат нарастил выпуск [металлов].')
"""

import datetime
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from whoosh import collectors, sorting
from whoosh.fields import DATETIME
from whoosh.searching import Searcher
from whoosh.util.times import long_to_datetime

from indexer.analysis import EXACT_MARK, word_spans
from indexer.fields import json_value, public_fields, stored_document
from indexer.errors import IndexCorrupted, PoiskError, QuerySyntaxError
from indexer.manticore import is_engine_url
from indexer.storage import LOCK_FILE, IndexPath, open_whoosh_index, resolve_index_dir
from indexer.stories import same_story, similarity
from search.budget import GRACE_SECONDS, Budget, SearchTimeout, TimedCollector, deduplicate, \
    expired, time_limit, within_limits
from search.compile import QueryCompiler, Ranking
from search.exact import CheckedRanking
from search.matchers import FixedMatchers
from search.query import DateRange, add_filters, filter_nodes, parse_query
from search.rewrite import Rewrite, Rewriter, searched_text
from search.scoring import PostingCache, TermScorer
from search.snippets import Snippet, Span, body_snippets, find_matches, page_positions
from search.columns import column_values
from search.grouping import Story, page_of_stories, same_days, story_columns
from search.spelling import CachedReader, LexiconCache, Speller
from search.synonyms import Synonyms, default_file
from search.facets import Facets, count_facets
from search.trend import PERIODS, Trend, column_dates, make_trend

if TYPE_CHECKING:
    from search.sphinx import SphinxIndex

# A date bound: a date, or text in the query language's forms ("2026-03-14", "2026-03", "2026").
DateArg = datetime.date | str | None

__all__ = ["Document", "Hit", "Index", "IndexStats", "SearchResult", "open_index", "search"]

SORTS = ("relevance", "date")
MAX_LIMIT = 1000
# What Whoosh's date column holds for an article without a date (2**64 - 1).
NO_DATE = DATETIME().default
FEW_RESULTS = 3        # a search finding fewer articles looks for a better spelling
DID_YOU_MEAN_GAIN = 5  # which is offered when it finds this many times as many
MAX_OFFERS = 3


@dataclass(frozen=True)
class Document:
    """A stored article, as ``poisk show`` prints it.

    Its attributes are the public fields of ``indexer.fields.FIELDS``, declared
    here for type checkers (tests/test_fields.py keeps the two the same).

    >>> document = sample_index.get("data/sibir-business/2026-02-10-tyva-litiy-sp")
    >>> document.headline
    'В Туве выбрали подрядчика для литиевого проекта'
    >>> document.to_dict()["date"]
    '2026-02-10'
    """

    id: str
    headline: str
    body: str
    date: datetime.date | None
    source: str
    url: str | None
    tags: tuple[str, ...]
    regions: tuple[str, ...]
    districts: tuple[str, ...]
    industries: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The article as JSON values (``poisk show --json``)."""
        return _fields_json(self, hit=False)


@dataclass(frozen=True)
class Hit:
    """One search result: the article's fields (the table's, but the body),
    its score and its snippets.

    >>> hit = sample_index.search("Шойгу").hits[0]
    >>> hit.date, hit.source, [hit.headline[s.start:s.end] for s in hit.headline_highlights]
    (datetime.date(2026, 2, 10), 'sibir-business', [])
    >>> [hit.snippets[0].text[h.start - hit.snippets[0].start:h.end - hit.snippets[0].start]
    ...  for h in hit.snippets[0].highlights]
    ['Шойгу']

    ``similar`` holds the ids of the matches that tell the same story and were
    folded into this hit (see ``search.grouping``).
    """

    id: str
    headline: str
    date: datetime.date | None
    source: str
    url: str | None
    tags: tuple[str, ...]
    regions: tuple[str, ...]
    districts: tuple[str, ...]
    industries: tuple[str, ...]
    score: float
    snippets: tuple[Snippet, ...] = ()
    headline_highlights: tuple[Span, ...] = ()
    similar: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The hit as JSON values, offsets as ``[start, end]`` pairs (``poisk search --json``).

        >>> hit = sample_index.search("Шойгу").hits[0].to_dict()
        >>> hit["date"], hit["snippets"][0]["highlights"][0]
        ('2026-02-10', [544, 549])
        """
        return {
            **_fields_json(self, hit=True), "score": self.score,
            "headline_highlights": [[s.start, s.end] for s in self.headline_highlights],
            "snippets": [{"start": s.start, "end": s.end, "text": s.text,
                          "highlights": [[h.start, h.end] for h in s.highlights]}
                         for s in self.snippets],
            "similar": list(self.similar),
        }


def _fields_json(record, hit):
    """The attributes of the field table as JSON values."""
    return {spec.json_key: json_value(getattr(record, spec.name))
            for spec in public_fields(hit=hit)}


@dataclass(frozen=True)
class SearchResult:
    """The total number of matching articles and one page of hits.

    >>> result = sample_index.search("металл", limit=3, snippets=False)
    >>> result.total, len(result)
    (10, 3)
    """

    query: str
    total: int
    offset: int
    hits: tuple[Hit, ...]
    # True when total is an estimate: a query with =forms checks only the
    # candidates that can reach the page and a sample of the rest
    # (search.exact.CheckedRanking); hits are exact.
    total_estimated: bool = False
    # True when some of the index did not answer (see ``warnings``) or the search
    # ran out of its time budget (search.budget): total and hits are what was
    # found until then, snippets may be missing.
    partial: bool = False
    warnings: tuple[str, ...] = ()
    facets: Facets | None = None  # search(..., facets=True): counts of every match
    searched: str = ""        # the query as searched, when layout or typos were corrected
    rewrites: tuple = ()      # search.rewrite.Rewrite: each correction, synonym, fuzzy word
    did_you_mean: tuple = ()  # other queries worth trying (strings), best first

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass(frozen=True)
class IndexStats:
    """What ``poisk stats`` prints.

    >>> stats = sample_index.stats()
    >>> stats.documents, stats.first_date, stats.sources[0]
    (30, datetime.date(2025, 9, 1), ('dv-vedomosti', 10))
    """

    path: str
    documents: int
    first_date: datetime.date | None
    last_date: datetime.date | None
    sources: tuple[tuple[str, int], ...]  # (source, documents) pairs, most documents first
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """The statistics as plain JSON types (``poisk stats --json``).

        >>> sample_index.stats().to_dict()["sources"]["sibir-business"]
        10
        """
        return {"path": self.path, "documents": self.documents,
                "first_date": json_value(self.first_date), "last_date": json_value(self.last_date),
                "sources": dict(self.sources), "size_bytes": self.size_bytes}


class Index:
    """An open poisk index. Safe to share between threads; close it (or use ``with``) when done.

    >>> Index("/nonexistent")
    Traceback (most recent call last):
    ...
    indexer.errors.IndexNotFound: no index at /nonexistent: run `poisk index PATH...` first
    """

    def __init__(self, path: IndexPath | None = None, ranking: Ranking | None = None,
                 budget: Budget | None = None, synonym_files: Iterable[str] = ()) -> None:
        self.path = resolve_index_dir(path)
        self.budget = budget or Budget()
        self._ix = open_whoosh_index(self.path)
        self.ranking = ranking or Ranking()
        self._weighting = self.ranking.weighting()
        self._question_weighting = self.ranking.weighting(question=True)
        self._local = threading.local()
        self._searchers = []
        self._lock = threading.Lock()
        self._generation = 0
        self._closed = False
        self._lexicons = LexiconCache()
        self._postings = PostingCache()  # term scores kept across queries (search.scoring)
        self._synonym_files = [f for f in (default_file(), *synonym_files) if f]
        self._synonyms = None
        # The schema of a searcher, kept: Whoosh unpickles a new one on each
        # ``ix.schema``, which also reads the newest table of contents without
        # the retries of Whoosh's reader, so a commit between its listing and
        # its opening the file raised FileNotFoundError (a CLI search during a
        # run, about 1 in 20 at load 12).
        self.schema = self._searcher().schema
        self.analyzer = self.schema["body"].analyzer

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every searcher this index opened (``with open_index(...)`` does it).

        >>> index = open_index(sample_index.path)
        >>> index.close()
        """
        with self._lock:
            self._closed = True
            for searcher in self._searchers:
                searcher.close()
            self._searchers.clear()
        self._ix.close()

    def refresh(self) -> None:
        """See documents committed since the index was opened (or last refreshed).

        Each thread switches to a new searcher on its next search and closes
        its old one itself, so a search in progress elsewhere is never cut off.

        >>> sample_index.refresh()
        >>> sample_index.doc_count
        30
        """
        with self._lock:
            self._ix = open_whoosh_index(self.path)
            self._generation += 1

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called: searching then raises ``PoiskError``.

        >>> index = open_index(sample_index.path)
        >>> index.close()
        >>> index.closed
        True
        >>> index.search("никель")
        Traceback (most recent call last):
        ...
        indexer.errors.PoiskError: the index is closed: open it again with open_index()
        """
        return self._closed

    def _searcher(self):
        if self._closed:
            raise PoiskError("the index is closed: open it again with open_index()")
        local = self._local
        searcher = getattr(local, "searcher", None)
        if searcher is not None and local.generation == self._generation:
            return searcher
        with self._lock:
            if searcher is not None and searcher in self._searchers:
                self._searchers.remove(searcher)
                searcher.close()
            try:
                searcher = self._ix.searcher(weighting=self._weighting)
            except Exception as error:
                raise IndexCorrupted(f"cannot read the index at {self.path} ({error}); rebuild "
                                     "it with `poisk index --rebuild PATH...`") from error
            self._searchers.append(searcher)
            local.searcher, local.generation = searcher, self._generation
        return searcher

    @property
    def doc_count(self) -> int:
        """The number of documents in the index.

        >>> sample_index.doc_count
        30
        """
        return self._searcher().doc_count()

    def search(self, query: str, *, limit: int = 10, offset: int = 0, since: DateArg = None,
               until: DateArg = None, source: str | Iterable[str] | None = None,
               tags: str | Iterable[str] = (), sort: str = "relevance", snippets: bool = True,
               group: bool = True, facets: bool = False, synonyms: bool = True,
               corrections: bool = True, **fields: Any) -> SearchResult:
        """Run a query; returns a ``SearchResult`` with the total and one page of ``Hit``.

        ``since``/``until`` are dates (or "YYYY-MM-DD" strings), ``source`` a source
        name or several (any of them), ``tags`` a tag or several (every hit carries
        all of them), ``sort`` "relevance" or "date". They filter exactly as
        ``date:``, ``source:`` and ``tag:`` in the query do; ``fields`` filter on the
        other keyword fields as ``region:`` does (``regions="Кузбасс"``,
        ``districts=``, ``industries=``; several values: all of them). ``group``
        shows each story once: its reposts are folded into its best hit
        (``Hit.similar``), and ``offset``/``limit`` count stories. ``facets``
        also counts every match by region, industry, source and month
        (``SearchResult.facets``). ``corrections=False`` searches the words as
        typed (no layout or typo correction), ``synonyms=False`` without the
        synonyms files.

        >>> result = sample_index.search('"глубокая переработка"', since="2026-01-01")
        >>> result.total, sorted(hit.date.isoformat() for hit in result.hits)
        (4, ['2026-02-10', '2026-03-14', '2026-04-08', '2026-04-21'])
        """
        if sort not in SORTS:
            raise PoiskError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        if offset < 0 or not 0 < limit <= MAX_LIMIT:
            raise PoiskError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
        tree = deduplicate(parse_query(query))
        within_limits(tree, self.budget)
        filters = filter_arguments(source, tags, since, until, **fields)
        options = dict(limit=limit, offset=offset, sort=sort, snippets=snippets, group=group,
                       facets=facets, synonyms=synonyms, corrections=corrections)
        try:
            return self._search_once(query, tree, filters, **options)
        except _SnapshotFailed:
            # Most likely another writer's merge removed a file of this searcher's
            # snapshot between two steps: once more on the index as it is now.
            self.refresh()
        try:
            return self._search_once(query, tree, filters, **options)
        except _SnapshotFailed as failed:
            error = failed.__cause__
            raise IndexCorrupted(f"the index at {self.path} failed to answer ({error}); "
                                 "rebuild it with `poisk index --rebuild PATH...`") from error

    def _search_once(self, query, tree, filters, *, limit, offset, sort, snippets, group, facets,
                     synonyms, corrections):
        """``search`` on this thread's searcher (``_SnapshotFailed``: the index failed to answer)."""
        searcher, timed_out = self._searcher(), []
        with time_limit(self.budget.seconds):
            try:
                # Corrections count in the budget: the first to need the index's
                # words reads them (search.spelling.LexiconReading).
                tree, rewriter, rewrites = self._rewrite(tree, filters, synonyms, corrections)
                compiled = QueryCompiler(self.analyzer, self.ranking, searcher.reader(),
                                         self.budget).compile(tree)
                if compiled.question and self.ranking.question_b is not None:
                    # The same reader, scored with the question's b (Ranking.question_b).
                    searcher = Searcher(searcher.reader(), weighting=self._question_weighting,
                                        closereader=False)
                by_terms = sort == "relevance" and self.ranking.term_at_a_time
                ranker = TermScorer(searcher, self._postings, self._local.generation).rank \
                    if by_terms else None
                checked = compiled.checked and CheckedRanking(
                    searcher, FixedMatchers(compiled.query), lambda n: _collector(n, sort),
                    by_score=sort == "relevance", ranker=ranker)
                total, page = self._page(searcher, compiled.query, sort, offset, limit, group,
                                         timed_out, checked, compiled.tail,
                                         None if compiled.floor is None
                                         else (compiled.floor, compiled.floor_only))
                ids = column_values(searcher.reader(), "id",
                                    [n for story in page for n in story.similar], translate=True)
            except SearchTimeout:  # out of time before the search began (or while correcting)
                return SearchResult(query=query, total=0, offset=offset, hits=(), partial=True)
            except PoiskError:
                raise
            except Exception as error:
                raise _SnapshotFailed from error
        hits, late = [], False
        with time_limit(self.budget.snippet_seconds):
            try:
                for story in page:
                    late = late or (snippets and expired())  # later hits go without snippets
                    hits.extend(self._hits(searcher, [story], compiled, snippets and not late,
                                           ids))
            except PoiskError:
                raise
            except Exception as error:  # reading the page's stored articles
                raise _SnapshotFailed from error
        counted = None
        if facets:  # every match counted, in a budget of its own
            with time_limit(self.budget.seconds):
                _, docnums, counts_partial = self._all_matches(query, filters, compiled)
            counted = count_facets(query, searcher.reader(), docnums, partial=counts_partial)
        offers = _offered(query, rewrites)
        if corrections and total < FEW_RESULTS and not offers:
            offers = self._better_spellings(query, filters, rewriter, total)
        return SearchResult(query=query, total=total, offset=offset, hits=tuple(hits),
                            total_estimated=bool(checked and checked.estimated),
                            partial=bool(timed_out) or late, facets=counted,
                            searched=searched_text(query, rewrites), rewrites=rewrites,
                            did_you_mean=offers)

    def rewriter(self, synonyms=True, corrections=True):
        """The ``search.rewrite.Rewriter`` that turns queries into what is searched.

        >>> from search.query import parse_query
        >>> sample_index.rewriter().rewrite(parse_query("нарильский"))[1][0].searched
        'норильский'
        """
        searcher = self._searcher()
        generation, reader = self._local.generation, self._cached_reader(searcher)
        speller = Speller(reader, self.analyzer, lambda: self._lexicons.get(generation, reader))
        # Very common words ("россия") get no synonyms, as the compiler scores them
        # apart in long queries: an expanded one would no longer be recognised.
        max_df = self.ranking.common_share * max(1, searcher.reader().doc_count_all())
        return Rewriter(speller, self._synonym_table() if synonyms else None, corrections,
                        max_df=max_df)

    def _cached_reader(self, searcher):
        """The searcher's ``CachedReader``: one per thread's searcher, as the reader is."""
        local = self._local
        cached = getattr(local, "cached_reader", None)
        if cached is None or cached.reader is not searcher.reader():
            local.cached_reader = CachedReader(searcher.reader())
        return local.cached_reader

    def _rewrite(self, tree, filters, synonyms=True, corrections=True):
        """(the tree as searched, with its filters; the rewriter; the rewrites)."""
        rewriter = self.rewriter(synonyms, corrections)
        tree, rewrites = rewriter.rewrite(tree)
        return add_filters(tree, filters), rewriter, rewrites

    def _synonym_table(self):
        with self._lock:
            if self._synonyms is None:
                self._synonyms = Synonyms.load(self._synonym_files, self.analyzer)
            return self._synonyms

    def _better_spellings(self, query, filters, rewriter, total):
        """Queries with a rare word respelt that find several times as many articles
        (those found in the budget's ``offer_seconds``: each costs a search)."""
        offers = []
        with time_limit(self.budget.offer_seconds):
            try:
                for original, candidate in rewriter.respellings(parse_query(query)):
                    better = searched_text(query, [Rewrite("typo", original, candidate)])
                    tree, _, _ = self._rewrite(parse_query(better), filters)
                    searcher = self._searcher()
                    compiled = QueryCompiler(self.analyzer, self.ranking, searcher.reader(),
                                             self.budget).compile(tree)
                    collector = _collector(1, "relevance")
                    searcher.search_with_collector(compiled.query, collector)
                    if len(collector.results()) >= max(FEW_RESULTS, DID_YOU_MEAN_GAIN * total):
                        offers.append(better)
                    if len(offers) == MAX_OFFERS:
                        break
            except SearchTimeout:
                pass  # the offers found so far
        return tuple(offers)

    def facets(self, query: str, *, limit: int = 10, since: DateArg = None,
               until: DateArg = None, source: str | Iterable[str] | None = None,
               tags: str | Iterable[str] = (), **fields: Any) -> Facets:
        """Count every article matching ``query`` by region, district, industry, source and
        month: a ``search.Facets`` (``limit`` values per field, most first). Takes the
        filters of ``search``.

        >>> facets = sample_index.facets("редкоземельные металлы", regions="Якутия")
        >>> facets.total, facets.counts["regions"]
        (1, [('Республика Саха (Якутия)', 1)])
        """
        filters = filter_arguments(source, tags, since, until, **fields)
        with time_limit(self.budget.seconds):
            searcher, docnums, partial = self._all_matches(query, filters)
        return count_facets(query, searcher.reader(), docnums, limit, partial=partial)

    def _all_matches(self, query, filters, compiled=None):
        """(searcher, every matching document number in document order, partial): the
        matches of ``query`` under ``filters`` (or of its ``compiled`` form), unscored and
        unlimited, for facets and trends.

        Call it within ``time_limit``: a query that runs out of time gives the
        matches found until then, and ``partial`` says so.
        """
        searcher = self._searcher()
        if compiled is None:
            tree = deduplicate(parse_query(query))
            within_limits(tree, self.budget)
            try:
                tree, _, _ = self._rewrite(tree, filters)
                compiled = QueryCompiler(self.analyzer, self.ranking, searcher.reader(),
                                         self.budget).compile(tree)
            except SearchTimeout:  # out of time while correcting or expanding
                return searcher, [], True
        collector = TimedCollector(collectors.UnsortedCollector())
        try:
            searcher.search_with_collector(FixedMatchers(compiled.query), collector)
            partial = False
        except SearchTimeout:
            partial = True
        except PoiskError:
            raise
        except Exception as error:
            raise IndexCorrupted(f"the index at {self.path} failed to answer ({error}); "
                                 "rebuild it with `poisk index --rebuild PATH...`") from error
        return searcher, sorted(collector.child.results().docs()), partial

    def _page(self, searcher, query, sort, offset, limit, group, timed_out, checked=None,
              tail=None, floor=None):
        """(total, the page's ``Story`` values): ranked matches, grouped into stories or not.

        A search out of time ranks what it found so far and says so in ``timed_out``.
        ``checked``: the ``CheckedRanking`` of a query with =forms, which ranks instead.
        ``tail``: the articles that may follow the first ``Ranking.tail_after`` hits
        (``CompiledQuery.tail``), merged by score with the rest. ``floor``: the
        (``CompiledQuery.floor``, ``floor_only``) pair of a long query (``Ranking.floor_after``).
        """
        first = self._ranking(searcher, query, sort, timed_out, checked)
        after = self.ranking.tail_after
        if tail is None or checked or sort != "relevance" or after is None:
            ranked = first
        else:
            rest = self._ranking(searcher, tail, sort, timed_out)

            def ranked(n):
                total, top = first(n)
                if n <= after:
                    return total, top
                more, others = rest(n - after)
                merged = sorted(top[after:] + others, key=lambda hit: (-hit[1], hit[0]))
                return total + more, top[:after] + merged[:n - after]
        if floor is not None and not checked and sort == "relevance":
            ranked = self._floored(ranked, searcher, floor, sort, timed_out)
        if group:
            return page_of_stories(ranked, searcher.reader(), offset, limit)
        total, top = ranked(offset + limit)
        return total, [Story(docnum, score) for docnum, score in top[offset:]]

    def _floored(self, ranked, searcher, floor, sort, timed_out):
        """``ranked`` past ``Ranking.floor_after`` in turn with the best ``floor_depth`` of
        plain BM25F (``floor``: the query and its matches that ``ranked`` lacks), each article
        once; those the query does not match add to the total."""
        after, depth = self.ranking.floor_after, self.ranking.floor_depth
        plain, outside = (self._ranking(searcher, q, sort, timed_out) for q in floor)
        known = []

        def floored(n):
            if n <= after:
                return ranked(n)
            # n of the merged list take at most n of ranked's and the floor's in it
            total, top = ranked(n + depth)
            if not known:
                best = plain(depth)[1]
                others = {docnum for docnum, _ in outside(depth)[1]}
                known.append((best, sum(docnum in others for docnum, _ in best)))
            best, more = known[0]
            return total + more, interleave(top, best, after, self.ranking.floor_share)[:n]
        return floored

    def _ranking(self, searcher, query, sort, timed_out, checked=None):
        """``ranked(n)``: (total, the best ``n`` matches of ``query`` as (docnum, score))."""
        matches = []

        def ranked(n):
            if checked:
                total, top = checked.top(n)
                if checked.timed_out:
                    timed_out.append(n)
                return total, top
            if sort == "relevance" and self.ranking.term_at_a_time:
                return ranked_by_terms(n)
            return collected(n)

        def collected(n):
            collector = _collector(n, sort)
            try:
                searcher.search_with_collector(FixedMatchers(query), collector)
            except SearchTimeout:
                timed_out.append(n)
            results = collector.results()
            return len(results), [(results.docnum(k), results.score(k))
                                  for k in range(results.scored_length())]

        def ranked_by_terms(n):
            if not matches:  # a larger window of stories reuses the scores
                try:
                    scorer = TermScorer(searcher, self._postings, self._local.generation)
                    matches.append(scorer.rank(query))
                except SearchTimeout:
                    # Nothing ranked in time: what Whoosh's matchers collect (in
                    # document order) in a grace period, rather than no hits.
                    timed_out.append(n)
                    with time_limit(GRACE_SECONDS):
                        found = collected(max(1, searcher.doc_count_all()))
                    matches.append(found)
            if isinstance(matches[0], tuple):
                total, top = matches[0]
                return total, top[:n]
            total, top = matches[0].top(n)
            if matches[0].timed_out:
                timed_out.append(n)
            return total, top
        return ranked

    def similar(self, doc_id: str) -> tuple[Hit, ...]:
        """The articles that tell the same story as ``doc_id``, most alike first.

        Each is a ``Hit`` (without snippets) whose ``score`` is the estimated
        share of shingles the two articles have in common.

        >>> sample_index.similar("data/sibir-business/2026-02-10-tyva-litiy-sp")
        ()
        """
        searcher = self._searcher()
        reader = searcher.reader()
        docnum = searcher.document_number(id=doc_id)
        if docnum is None:
            raise PoiskError(f"no article with id {doc_id!r}")
        sketch, date = story_columns(reader, [docnum])[docnum]
        candidates = [n for n in same_days(reader, date) if n != docnum] if sketch else []
        found = sorted((similarity(sketch, other), n)
                       for n, (other, day) in story_columns(reader, candidates).items()
                       if same_story(sketch, other, date, day))
        return tuple(Hit(**stored_document(searcher.stored_fields(n), hit=True),
                         score=round(share, 4)) for share, n in reversed(found))

    def trend(self, query: str, *, by: str = "month", since: DateArg = None,
              until: DateArg = None, source: str | Iterable[str] | None = None,
              tags: str | Iterable[str] = (), **fields: Any) -> Trend:
        """Count every article matching ``query`` per month, week or day: a ``search.Trend``.

        Takes the filters of ``search``. All matches are counted, not a page of
        them, from the index's date column (no document is loaded).

        >>> trend = sample_index.trend("металл", since="2026-01-01")
        >>> trend.total, [(p.label, p.count) for p in trend.points][:3]
        (7, [('2026-01', 2), ('2026-02', 1), ('2026-03', 2)])
        """
        if by not in PERIODS:
            raise PoiskError(f"unknown period {by!r}: use one of {', '.join(PERIODS)}")
        filters = filter_arguments(source, tags, since, until, **fields)
        dates = next((n for n in filters if isinstance(n, DateRange)), DateRange(None, None))
        first, last = dates.start, dates.end
        with time_limit(self.budget.seconds):
            searcher, docnums, partial = self._all_matches(query, filters)
        dates, undated = column_dates(searcher.reader(), docnums)
        return make_trend(query, dates, by, first, last, undated, partial=partial)

    def get(self, doc_id: str) -> Document | None:
        """The stored article with this id, or ``None``.

        >>> sample_index.get("no-such-id") is None
        True
        """
        fields = self._searcher().document(id=doc_id)
        if fields is None:
            return None
        return Document(**stored_document(fields))

    def stats(self) -> IndexStats:
        """Document count, date range, sources and size on disk.

        >>> sample_index.stats().size_bytes > 0
        True
        """
        searcher = self._searcher()
        reader = searcher.reader()
        dates = []
        if reader.has_column("date"):
            column = reader.column_reader("date", translate=False)
            dates = [v for v in (column[n] for n in reader.all_doc_ids()) if v != NO_DATE]
        counts = {}
        for source in reader.lexicon("source"):
            live = [n for n in reader.postings("source", source).all_ids()
                    if not reader.is_deleted(n)]
            if live:
                counts[source.decode("utf-8")] = len(live)
        size = sum(_file_size(entry) for entry in os.scandir(self.path)
                   if entry.name != LOCK_FILE)
        return IndexStats(
            path=self.path, documents=searcher.doc_count(),
            first_date=_column_date(min(dates)) if dates else None,
            last_date=_column_date(max(dates)) if dates else None,
            sources=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            size_bytes=size)

    def _hits(self, searcher, page, compiled, with_snippets, ids):
        """The page's ``Hit`` objects: stored fields, snippets, headline highlights, reposts."""
        docnums = [story.docnum for story in page]
        stored = [searcher.stored_fields(n) for n in docnums]
        spans = self._page_matches(searcher, docnums, stored, compiled) if with_snippets else {}
        hits = []
        for story, fields in zip(page, stored):
            snippets, headline_spans = (), ()
            if with_snippets:
                headline, body = fields.get("headline", ""), fields.get("body", "")
                snippets = body_snippets(headline, body, spans[story.docnum, "body"])
                headline_spans = tuple(spans[story.docnum, "headline"])
            hits.append(Hit(**stored_document(fields, hit=True),
                            score=round(float(story.score or 0.0), 4), snippets=snippets,
                            headline_highlights=headline_spans,
                            similar=tuple(ids[n] for n in story.similar)))
        return tuple(hits)

    def _page_matches(self, searcher, docnums, stored, compiled):
        """{(docnum, field): spans} of the matched words in the page's headlines and bodies."""
        terms, prefixes = compiled.terms, compiled.prefixes
        fields = ("headline", "body")
        if prefixes or any(term.startswith(EXACT_MARK) for term in terms):
            # Not in the index as such: run the analyzer over the text.
            return {(n, f): find_matches(s.get(f, ""), self.analyzer, terms, prefixes)
                    for n, s in zip(docnums, stored) for f in fields}
        # Read back from the index where its analyzer put the terms: no
        # word of the text is analysed again (most were not in the cache),
        # and the body's stored word offsets map positions to characters.
        if self.ranking.term_at_a_time:  # not the terms the scorer saw missing
            scorer = TermScorer(searcher, self._postings, self._local.generation)
            terms = set().union(*(scorer.held_terms(n, fields, terms) for n in docnums))
        positions = page_positions(searcher.reader(), docnums, fields, terms)
        return {(n, f): [Span(*span) for span in word_spans(
                    s.get(f, ""), positions.get((n, f)),
                    s.get("word_starts") if f == "body" else None)]
                for n, s in zip(docnums, stored) for f in fields}


class _SnapshotFailed(Exception):
    """The searcher failed to answer (its ``__cause__``); ``Index.search`` tries once more."""


def interleave(ranked: list, other: list, after: int, share: int = 1) -> list:
    """``ranked``'s first ``after`` hits, then one of ``ranked``'s and ``share`` of ``other``'s
    in turn, each document (the first of a (docnum, score) pair) once, at its first place.

    >>> interleave([(1, 9.0), (2, 8.0), (3, 7.0)], [(4, 2.0), (2, 1.5), (5, 1.0)], after=1)
    [(1, 9.0), (2, 8.0), (4, 2.0), (3, 7.0), (5, 1.0)]
    >>> interleave([(1, 9.0), (2, 8.0), (3, 7.0)], [(4, 2.0), (2, 1.5), (5, 1.0)], 1, share=2)
    [(1, 9.0), (2, 8.0), (4, 2.0), (5, 1.0), (3, 7.0)]
    """
    merged, seen = list(ranked[:after]), {docnum for docnum, _ in ranked[:after]}
    pending = [(iter(ranked[after:]), 1), (iter(other), share)]
    while pending:
        for source, takes in list(pending):
            for _ in range(takes):
                pair = next((pair for pair in source if pair[0] not in seen), None)
                if pair is None:
                    pending.remove((source, takes))
                    break
                seen.add(pair[0])
                merged.append(pair)
    return merged


def _collector(limit, sort):
    """A collector that ranks and counts every match in one pass.

    Whoosh's default top-N collector prunes sub-queries once its page is full
    (``replace``), which undercounts the total on an index of several
    segments, and its block skipping then needs a second pass to count.
    """
    if sort == "date":
        # Undated articles hold NO_DATE, the largest value: newest first puts them last.
        undated_last = sorting.TranslateFacet(lambda v: -1 if v == NO_DATE else v,
                                              sorting.FieldFacet("date"))
        collector = collectors.SortingCollector(undated_last, limit=limit, reverse=True)
    else:
        collector = collectors.TopCollector(limit=limit, usequality=False, replace=0)
    return TimedCollector(collector)  # the time budget (search.budget)


def open_index(path: IndexPath | None = None, ranking: Ranking | None = None,
               budget: Budget | None = None,
               synonym_files: Iterable[str] = ()) -> "Index | SphinxIndex":
    """Open the index at ``path`` (default: ``$POISK_INDEX``, else ``$XDG_DATA_HOME/poisk/index``).

    ``synonym_files`` are the user's own synonyms files, used with poisk's
    ``data/synonyms.tsv`` (one group of tab-separated names per line).

    >>> open_index("/nonexistent").search("никель")
    Traceback (most recent call last):
    ...
    indexer.errors.IndexNotFound: no index at /nonexistent: run `poisk index PATH...` first
    """
    if is_engine_url(resolve_index_dir(path)):  # manticore://HOST:PORT/NAME
        from search.sphinx import SphinxIndex
        return SphinxIndex(resolve_index_dir(path), ranking, synonym_files)
    return Index(path, ranking, budget, synonym_files)


def _offered(query, rewrites):
    """The query with each other correction offered for a word (when the best was not clear)."""
    return tuple(searched_text(query, [Rewrite("typo", r.original, other)])
                 for r in rewrites if r.kind == "typo" for other in r.others)[:MAX_OFFERS]


def search(query: str, index: IndexPath | None = None, **options: Any) -> SearchResult:
    """Open the index, run one query, close it: for scripts that search once.

    >>> search("", "/nonexistent")
    Traceback (most recent call last):
    ...
    indexer.errors.IndexNotFound: no index at /nonexistent: run `poisk index PATH...` first
    """
    with open_index(index) as opened:
        return opened.search(query, **options)


def _file_size(entry):
    try:
        return entry.stat().st_size if entry.is_file() else 0
    except FileNotFoundError:  # a commit removed it while we listed the folder
        return 0


def filter_arguments(source, tags, since, until, **fields) -> tuple:
    """The filter arguments of ``search`` as query nodes; a bad date or an unknown field
    is a ``PoiskError``.

    >>> filter_arguments("mash", (), None, None)
    (FieldValue(field='source', value='mash'),)
    """
    try:
        return filter_nodes(sources=source, tags=tags, since=since, until=until, **fields)
    except QuerySyntaxError as error:
        raise PoiskError(str(error)) from None


def _column_date(value):
    """A date from the raw (untranslated) date column."""
    return long_to_datetime(value).date()

