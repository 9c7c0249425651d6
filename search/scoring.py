"""Term-at-a-time scoring: the compiled Whoosh query, evaluated over posting arrays.

Whoosh answers a query by walking a tree of matchers document by document,
scoring every match in Python (~85 us per matched document for a 10-word
query). This module evaluates the *same* query tree, the one
``search.compile`` produces, a node at a time over whole arrays: each term's
posting list is read once per segment as arrays (document numbers, term
frequencies, field lengths), BM25F is computed for the whole list in one
vector operation, and the tree's nodes combine score arrays as Whoosh's
matchers combine scores (an Or adds, an And intersects and adds,
DisjunctionMax takes the best, AndNot removes, ``_Rescored`` scales and
adds). The ranking rules therefore stay defined once, in ``search.compile``:
a rule changed there changes the tree this module walks.

A node it does not know (a prefix, an exact form, a date range, any future
query class) is evaluated by Whoosh's own matcher for that node, so results
never differ, only speed. Positions are read for one kind of node only, the
span queries of phrases and of the proximity bonus, and for the bonus only on
the documents that can still reach the page: their score when they match is
known without positions (Whoosh scores a span match as the sum of its
words), so the bonus is checked from the best-placed document down until no
other can overtake the page.

>>> from search.compile import QueryCompiler
>>> from search.query import parse_query
>>> searcher = sample_index._searcher()
>>> query = QueryCompiler(sample_index.analyzer, reader=searcher.reader()).compile(
...     parse_query("металл")).query
>>> total, top = TermScorer(searcher).rank(query).top(3)
>>> total, len(top)
(10, 3)
"""

import itertools
from array import array

import numpy as np
from whoosh import query as wq
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.query import spans
from whoosh.reading import TermNotFound
from whoosh.scoring import bm25
from whoosh.util.numeric import byte_to_length

from indexer.sidecar import PostingCache, sidecar
from search.budget import CHECK_EVERY, SearchTimeout, check_time
from search.compile import _AndNot, _ExactForms, _Rescored
from search.matchers import FixedMatchers, fix_matchers
from search.postings import block_ids, doc_positions, unfiltered

__all__ = ["PostingCache", "RankedMatches", "TermScorer"]

# The page's bonus is checked for this many documents at a time, more as needed.
FIRST_BATCH = 32

# byte -> field length, as Whoosh decodes the length column (0: no length).
_LENGTHS = np.array([0] + [byte_to_length(b) for b in range(1, 256)], dtype=np.float64)


class TermScorer:
    """Evaluates compiled queries on one Whoosh searcher, as Whoosh would score them.

    ``rank(query)`` gives a ``RankedMatches``: the exact number of matches and
    the best ``n`` of them, ordered as Whoosh's top-N collector orders them
    (score, then document number).
    """

    def __init__(self, searcher, cache: PostingCache | None = None, generation: int = 0) -> None:
        self.searcher = searcher
        self.segments = searcher.subsearchers or [(searcher, 0)]
        self.size = searcher.reader().doc_count_all()
        self.cache = cache if cache is not None else PostingCache()
        self.generation = generation
        self.context = searcher.context()
        self.approximated = False  # a lazy evaluation took a span query as matching
        self._matchers = {}  # (segment, field, term) -> posting list read for positions
        self._live = None

    def rank(self, query) -> "RankedMatches":
        """Every match of ``query`` (a compiled Whoosh query), ready to cut into pages."""
        if isinstance(query, FixedMatchers):
            query = query.child
        bonus = None
        if isinstance(query, wq.AndMaybe):  # compile's optional bonuses, added to matches
            query, bonus = query.a, query.b
        check_time()
        mask, scores = self.evaluate(query)
        return RankedMatches(self, mask, scores, bonus)

    # -- nodes ----------------------------------------------------------------

    def evaluate(self, node, lazy=False, within=None):
        """(mask, scores) over every document number: which documents ``node`` matches and
        their scores (0 where it does not match).

        ``lazy``: span queries are taken as matching wherever all their words
        do, which gives each document its score if it matches (an upper bound
        of the exact one). ``within``: the documents where span queries and
        excluded ``=forms`` are checked exactly (sorted document numbers; None
        for all).
        """
        if isinstance(node, FixedMatchers):
            return self.evaluate(node.child, lazy, within)
        if isinstance(node, _Rescored):
            if lazy and (node.scale < 0 or node.plus < 0):
                lazy = False  # no longer an upper bound
            mask, scores = self.evaluate(node.child, lazy, within)
            return mask, np.where(mask, scores * node.scale + node.plus, 0.0)
        if type(node) is wq.Term:
            return self._term(node)
        if type(node) is wq.Every and node.fieldname in (None, "", "*"):
            return self.live.copy(), np.where(self.live, float(node.boost), 0.0)
        if isinstance(node, wq.AndNot):
            return self._and_not(node, lazy, within)
        if isinstance(node, wq.AndMaybe):
            mask, scores = self.evaluate(node.a, lazy, within)
            bmask, bscores = self.evaluate(node.b, lazy, within)
            return mask, scores + np.where(mask & bmask, bscores, 0.0)
        if type(node) in (wq.Or, wq.DisjunctionMax, wq.And) or _is_plain_or(node):
            return self._compound(node, lazy, within)
        if isinstance(node, _ExactForms) and not node.deferrable:
            return self._exact_forms(node, lazy, within)
        if isinstance(node, spans.SpanNear2) and lazy:
            self.approximated = True
            return self._all_of(node.qs, lazy, within)
        if isinstance(node, spans.SpanNear2) and _near_terms(node) is not None:
            return self._near(node, within)
        return self._by_whoosh(node, within)

    def _compound(self, node, lazy, within):
        parts = [self.evaluate(q, lazy, within) for q in node.subqueries]
        if not parts:
            return self._nothing()
        if len(parts) == 1:
            return parts[0]  # Whoosh ignores a one-clause compound's boost
        if isinstance(node, wq.DisjunctionMax):
            mask = np.logical_or.reduce([m for m, _ in parts])
            best = np.maximum.reduce([np.where(m, s, -np.inf) for m, s in parts])
            scores = np.where(mask, best, 0.0)
        elif isinstance(node, wq.And):
            mask = np.logical_and.reduce([m for m, _ in parts])
            scores = np.where(mask, _tree_sum([s for _, s in parts]), 0.0)
        else:
            mask = np.logical_or.reduce([m for m, _ in parts])
            scores = _tree_sum([s for _, s in parts])  # 0 where a clause misses
        if node.boost != 1.0:
            scores = scores * node.boost
        return mask, scores

    def _all_of(self, queries, lazy, within):
        """A span query's words, all present: their summed score, as its matcher gives it."""
        parts = [self.evaluate(q, lazy, within) for q in queries]
        mask = np.logical_and.reduce([m for m, _ in parts])
        return mask, np.where(mask, _tree_sum([s for _, s in parts]), 0.0)

    def _near(self, node, within):
        """A phrase or proximity query exactly, where all its words are (in ``within``):
        their positions read for those documents only, the spans found in bulk.

        Whoosh's span matcher (what this replaces, same matches and scores)
        stepped through every document holding all the words from the start of
        each segment, built span objects for each and compared them pairwise:
        73% of the CPU time of the slowest 5% of 1-3-word queries on the news
        index, most of it for the proximity bonus of a page's candidates.
        """
        mask, scores = self._all_of(node.qs, False, within)
        docs = np.flatnonzero(mask) if within is None else within[mask[within]]
        found = np.zeros(self.size, dtype=bool)
        if len(docs):
            keys = [self._positions(terms, docs) for terms in _near_terms(node)]
            found[_spanned(keys, node.slop, node.ordered, node.mindist)] = True
        return found, np.where(found, scores, 0.0)

    def _positions(self, terms, docs):
        """Sorted keys ``docnum << 32 | position`` of ``terms`` (one phrase place: any of
        them) in the documents ``docs`` (sorted document numbers)."""
        keys = []
        for number, (sub, offset) in enumerate(self.segments):
            reader = sub.reader()
            lo, hi = np.searchsorted(docs, [offset, offset + reader.doc_count_all()])
            if lo == hi:
                continue
            check_time()
            side = sidecar(reader)
            if side is not None:  # the segment's positions as arrays (indexer.sidecar)
                for fieldname, text in terms:
                    found = side.find(fieldname, text)
                    if found is not None:
                        keys.append(side.position_keys(found, docs[lo:hi] - offset, offset))
                continue
            local = (docs[lo:hi] - offset).tolist()
            for fieldname, text in terms:
                matcher = self._opened(number, reader, fieldname, text)
                for docnum, positions in doc_positions(matcher, local) if matcher else ():
                    keys.append(np.asarray(positions, dtype=np.int64) + ((docnum + offset) << 32))
        return np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)

    def _opened(self, number, reader, fieldname, text):
        """A term's posting list in segment ``number`` (None: not there), looked up once per
        search and back at its start on each use: the bonus is checked in rounds."""
        key = (number, fieldname, text)
        if key not in self._matchers:
            try:
                self._matchers[key] = unfiltered(reader.postings(fieldname, text))
            except TermNotFound:
                self._matchers[key] = None
        matcher = self._matchers[key]
        if matcher is not None:
            matcher.reset()
        return matcher

    def _and_not(self, node, lazy, within):
        mask, scores = self.evaluate(node.a, lazy, within)
        if isinstance(node, _AndNot) or type(node) is wq.AndNot:
            # Exactly, but only where it matters: where the positive part matches
            # (`никель -=года` checked the stored text of every article with
            # `год` in any form, 1.5 s of CPU on the 8.9k news index).
            excluded, _ = self.evaluate(node.b, False, np.flatnonzero(mask))
            mask = mask & ~excluded
            return mask, np.where(mask, scores, 0.0)
        return self._by_whoosh(node, within)

    def _exact_forms(self, node, lazy, within):
        """The candidates of an ``=form`` node under NOT whose stored text has the forms,
        checked only for the documents in ``within`` (None: every candidate)."""
        mask, scores = self.evaluate(node.child, lazy, within)
        candidates = np.flatnonzero(mask) if within is None else within[mask[within]]
        kept = np.zeros(self.size, dtype=bool)
        for docnum in candidates.tolist():
            check_time()  # each candidate's text is read and looked through
            kept[docnum] = node.has_forms(self.searcher.stored_fields(docnum))
        return kept, np.where(kept, scores, 0.0)

    def _nothing(self):
        return np.zeros(self.size, dtype=bool), np.zeros(self.size)

    # -- terms ----------------------------------------------------------------

    def _term(self, term):
        """A term's BM25F scores, as Whoosh's BM25FScorer computes them, times its boost."""
        field = self.searcher.schema[term.fieldname] if term.fieldname in self.searcher.schema \
            else None
        try:
            btext = field.to_bytes(term.text) if field else None
        except ValueError:
            btext = None
        mask, scores = self._nothing()
        if btext is None:
            return mask, scores
        ids, values = self._term_scores(term.fieldname, btext, field.scorable)
        mask[ids] = True
        scores[ids] = values * term.boost if term.boost != 1.0 else values
        mask &= self.live  # Whoosh skips deleted documents
        return mask, np.where(mask, scores, 0.0)

    def _key(self, fieldname, btext):
        """A term's cache key: its scores depend on the weighting's k1 and b
        (``Ranking.question_b`` scores some queries with another b)."""
        weighting = self.searcher.weighting
        return (self.generation, "term", fieldname, btext, weighting.K1,
                weighting._field_B.get(fieldname, weighting.B))

    def _term_scores(self, fieldname, btext, scorable):
        key = self._key(fieldname, btext)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        segments = []
        for number, (sub, offset) in enumerate(self.segments):
            check_time()
            reader = sub.reader()
            side = sidecar(reader)
            if side is not None:  # the segment's postings as arrays (indexer.sidecar)
                found = side.find(fieldname, btext)
                if found is not None:
                    segments.append((number, sub, offset, *side.postings(found)))
                continue
            try:
                segments.append((number, sub, offset,
                                 *_postings(reader.postings(fieldname, btext))))
            except TermNotFound:  # not in this segment
                continue
        ids, values = [], []
        if not segments:  # Whoosh asks no statistics of a term in no segment
            result = (np.zeros(0, dtype=np.int64), np.zeros(0))
            self.cache.put(key, result)
            return result
        weighting = self.searcher.weighting
        # Whoosh's own IDF formula, given the document frequency counted here
        # (postings of deleted documents included, as Whoosh counts them).
        idf = weighting.idf(_Counted(self.searcher, sum(len(s[3]) for s in segments)),
                            fieldname, btext)
        avgfl = self.searcher.avg_field_length(fieldname) or 1
        k1, b = weighting.K1, weighting._field_B.get(fieldname, weighting.B)
        for number, sub, offset, docs, tf in segments:
            if scorable:
                fl = self._lengths(number, sub, fieldname)[docs]
                score = bm25(idf, tf, fl, avgfl, b, k1)  # Whoosh's own, on arrays
            else:
                score = tf  # Whoosh's WeightScorer
            ids.append(docs + offset)
            values.append(score)
        result = (np.concatenate(ids), np.concatenate(values))
        self.cache.put(key, result)
        return result

    def held_terms(self, docnum: int, fields, terms) -> set:
        """The ``terms`` that document ``docnum`` may hold in one of ``fields``: every term
        but those whose scored postings, still cached, show it is not there.

        The page's snippets then read positions of these terms only.

        >>> from search.compile import QueryCompiler
        >>> from search.query import parse_query
        >>> searcher = sample_index._searcher()
        >>> scorer = TermScorer(searcher)
        >>> query = QueryCompiler(sample_index.analyzer).compile(parse_query("никель Шойгу"))
        >>> (docnum, _), = scorer.rank(query.query).top(1)[1]  # no Шойгу in it
        >>> sorted(scorer.held_terms(docnum, ("headline", "body"), {"никель", "шойгу"}))
        ['никель']
        """
        held = set()
        for text in terms:
            for fieldname in fields:
                cached = self.cache.get(self._key(fieldname, text.encode("utf-8")))
                if cached is None or _holds(cached[0], docnum):
                    held.add(text)
                    break
        return held

    def _lengths(self, number, sub, fieldname):
        """One segment's lengths of ``fieldname``, by segment document number."""
        key = (self.generation, "lengths", number, fieldname)
        lengths = self.cache.get(key)
        if lengths is None:
            reader = sub.reader()
            lengths = _segment_lengths(reader, fieldname)
            self.cache.put(key, lengths)
        return lengths

    @property
    def live(self):
        """True for every document number not deleted."""
        if self._live is None:
            key = (self.generation, "live")
            live = self.cache.get(key)
            if live is None:
                live = np.ones(self.size, dtype=bool)
                for sub, offset in self.segments:
                    reader = sub.reader()
                    if reader.has_deletions():  # (all_doc_ids for every segment: 60 ms
                        # of a first search's CPU on the mixed index, 27k documents)
                        live[offset:offset + reader.doc_count_all()] = False
                        live[np.fromiter(reader.all_doc_ids(), dtype=np.int64) + offset] = True
                self.cache.put(key, live)
            self._live = live
        return self._live

    # -- what only Whoosh knows -----------------------------------------------

    def _by_whoosh(self, node, within):
        """Any other node, through Whoosh's matchers (with poisk's fixes), segment by segment.

        ``within``: only these document numbers are visited (sorted), by skipping.
        """
        mask, scores = self._nothing()
        for sub, offset in self.segments:
            check_time()
            if within is None:
                matcher = fix_matchers(node.matcher(sub, self.context))
                for visited in itertools.count(1):
                    if not matcher.is_active():
                        break
                    docnum = matcher.id() + offset
                    mask[docnum], scores[docnum] = True, matcher.score()
                    matcher.next()
                    if visited % CHECK_EVERY == 0:
                        check_time()
                continue
            count = sub.reader().doc_count_all()
            here = within[(within >= offset) & (within < offset + count)]
            if not len(here):
                continue  # no matcher built (its postings opened) for nothing
            matcher = fix_matchers(node.matcher(sub, self.context))
            for visited, docnum in enumerate(here, 1):
                if visited % CHECK_EVERY == 0:
                    check_time()
                local = int(docnum) - offset
                if not matcher.is_active():
                    break
                if matcher.id() < local:
                    matcher.skip_to(local)
                if matcher.is_active() and matcher.id() == local:
                    mask[docnum], scores[docnum] = True, matcher.score()
        return mask, scores


class _Counted:
    """A searcher's statistics with a term's document frequency already counted."""

    def __init__(self, searcher, doc_frequency):
        self._count = searcher.doc_count_all()
        self._frequency = doc_frequency

    def get_parent(self):
        return self

    def doc_frequency(self, fieldname, text):
        return self._frequency

    def doc_count_all(self):
        return self._count


class RankedMatches:
    """The matches of one query: ``total`` and ``top(n)``, each page cut from the same arrays.

    The main query's scores are exact; an optional bonus (``AndMaybe``) is added
    exactly where it needs positions only for the documents that can reach the
    first ``n``.
    """

    def __init__(self, scorer: TermScorer, mask, scores, bonus) -> None:
        self.scorer = scorer
        self.total = int(mask.sum())
        self.docs = np.flatnonzero(mask)
        self.scores = scores[self.docs]
        self.exact = None  # known final scores (NaN: not yet)
        self.timed_out = False  # the bonus checks ran out of time: ranked by what is known
        self.upper = self.scores
        if bonus is not None:
            scorer.approximated = False
            bmask, bscores = scorer.evaluate(bonus, lazy=True)
            self.upper = self.scores + np.where(bmask, bscores, 0.0)[self.docs]
            if scorer.approximated:  # else the bonus is exact already
                self.bonus = bonus
                self.exact = np.full(len(self.docs), np.nan)
            else:
                self.scores = self.upper

    def top(self, n: int) -> tuple:
        """(total, [(docnum, score)] of the best ``n``), best first, ties by document number.

        Out of time while checking the bonus (``timed_out``), the page holds
        what is known: checked documents with their bonus, the others without.
        """
        if self.exact is None:
            return self.total, _best(self.docs, self.scores, n)
        if not self.timed_out:
            try:
                return self.total, self._refined(n)
            except SearchTimeout:
                self.timed_out = True
        known = np.where(np.isnan(self.exact), self.scores, self.exact)
        return self.total, _best(self.docs, known, n)

    def _refined(self, n):
        order = np.lexsort((self.docs, -self.upper))  # the order of the upper bounds
        batch = FIRST_BATCH
        done = 0
        while True:
            todo = order[done:done + max(batch, n)]
            self._check(todo[np.isnan(self.exact[todo])])
            done += len(todo)
            known = order[:done]
            best = _best(self.docs[known], self.exact[known], n)
            if done >= len(order):
                return best
            # A document below can only reach the page with its upper bound.
            if len(best) == n:
                last_doc, last_score = best[-1]
                nxt = order[done]
                if (self.upper[nxt], -self.docs[nxt]) < (last_score, -last_doc):
                    return best
            batch *= 4

    def _check(self, positions):
        """Exact final scores of the documents at ``positions`` of ``self.docs``."""
        if not len(positions):
            return
        check_time()
        docs = np.sort(self.docs[positions])
        bmask, bscores = self.scorer.evaluate(self.bonus, lazy=False, within=docs)
        at = np.searchsorted(self.docs, docs)
        self.exact[at] = self.scores[at] + np.where(bmask[docs], bscores[docs], 0.0)


def _near_terms(node):
    """The (field, term bytes) of each place of a span query, or None when the bulk
    span check does not apply (a place that is not a term or terms; several places
    in any order, whose chained spans only Whoosh's matcher finds)."""
    if node.mindist < 1 or (not node.ordered and len(node.qs) != 2):
        return None
    places = []
    for query in node.qs:
        terms = [query] if type(query) is wq.Term else list(query.subqueries) \
            if _is_plain_or(query) else None
        if terms is None or any(type(t) is not wq.Term or not isinstance(t.text, str)
                                for t in terms):
            return None
        places.append([(t.fieldname, t.text.encode("utf-8")) for t in terms])
    return places


def _spanned(keys, slop, ordered, mindist):
    """Document numbers where the places' positions (``keys`` of ``_positions``) make a span
    as Whoosh's ``SpanNear2`` finds one: in order, each place ``mindist..slop`` positions
    after the previous one; out of order (two places), that far before or after.

    >>> a, b = np.array([5, 20]), np.array([7, (1 << 32) + 9])
    >>> _spanned([a, b], 2, True, 1).tolist(), _spanned([b, a], 4, False, 1).tolist()
    ([0], [0])
    >>> _spanned([b, a], 2, True, 1).tolist()  # 7 comes after 5, not before
    []
    """
    gaps = np.arange(mindist, slop + 1, dtype=np.int64)
    if not ordered:
        gaps = np.concatenate([-gaps, gaps])
    ends = keys[0]
    for place in keys[1:]:
        reachable = (ends[:, None] + gaps).ravel()
        ends = place[np.isin(place, reachable)]
    return np.unique(ends >> 32)


def _holds(ids, docnum):
    at = np.searchsorted(ids, docnum)  # ids: segment by segment, each in order
    return at < len(ids) and ids[at] == docnum


def _best(docs, scores, n):
    if len(docs) > n:
        kth = np.partition(scores, len(scores) - n)[len(scores) - n]
        keep = scores >= kth
        docs, scores = docs[keep], scores[keep]
    order = np.lexsort((docs, -scores))[:n]
    return [(int(docs[i]), float(scores[i])) for i in order]


def _tree_sum(values):
    """The sum as Whoosh's binary tree of matchers adds it (``make_binary_tree``)."""
    if len(values) == 1:
        return values[0]
    half = len(values) // 2
    return _tree_sum(values[:half]) + _tree_sum(values[half:])


def _is_plain_or(node):
    """An Or that just adds its clauses' scores (compile's ``_Or``, Whoosh's own variants)."""
    return isinstance(node, wq.Or) and not node.minmatch and node.scale is None and \
        type(node).matcher is wq.Or.matcher


def _postings(matcher):
    """(segment document numbers, weights) of a posting list, read a block at a time."""
    matcher = unfiltered(matcher)  # deleted documents: the scorer's live mask drops them
    ids, weights = array("q"), array("d")
    if type(matcher) is W3LeafMatcher:
        # Whoosh 2.7.5's own block reading (search.postings). Weights are float32.
        blocks, weight_blocks = [], []
        while matcher.is_active():
            blocks.append(block_ids(matcher))
            matcher._read_weights()
            weight_blocks.append(_float32(matcher._weights))
            matcher._next_block()
        if not blocks:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(blocks), np.concatenate(weight_blocks)
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.frombuffer(ids, dtype=np.int64), np.frombuffer(weights, dtype=np.float64)


def _float32(weights):
    if isinstance(weights, array) and weights.typecode == "f":
        return np.frombuffer(weights, dtype=np.float32).astype(np.float64)
    return np.asarray(weights, dtype=np.float64)


def _segment_lengths(reader, fieldname):
    """A segment's field lengths as Whoosh decodes them (``doc_field_length``)."""
    count = reader.doc_count_all()
    column = None
    perdoc = getattr(reader, "_perdoc", None)
    if perdoc is not None and hasattr(perdoc, "_cached_reader"):
        column = perdoc._cached_reader("_%s_len" % fieldname, LENGTHS_COLUMN)
    if column is not None and getattr(column, "_fixedlen", None) == 1:
        raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
        codes = np.zeros(count, dtype=np.uint8)
        codes[:min(count, len(raw))] = raw[:count]
        return _LENGTHS[codes]
    return np.array([reader.doc_field_length(n, fieldname) or 0 for n in range(count)],
                    dtype=np.float64)
