"""What one query may cost: a cost model and a budget, as mature engines keep them.

Measured on the 18k-post index before these limits: ``по*`` alone took 4.3 s,
500 copies of it ran for 21 minutes in 2 GB, 30 copies of ``=года`` up to 51 s,
a hyphenated word of 280 parts over 120 s. Elasticsearch and Lucene bound the
same things (``max_expansions``, ``max_clause_count``/``TooManyClauses``,
search timeouts); poisk does it here:

- identical items of a query are searched once (``по* по*`` is ``по*``);
- a prefix expands to its ``max_expansions`` most frequent terms;
- a compound word matches by at most ``max_compound_parts`` distinct parts;
- a query of more than ``max_words`` words or ``max_prefixes`` prefixes is
  refused with a clear error (Lucene's ``TooManyClauses``);
- a search that runs past ``seconds`` stops: the result holds what was found
  so far and is marked partial.

>>> from search.query import parse_query
>>> deduplicate(parse_query("по* по* никель по*"))  # doctest: +NORMALIZE_WHITESPACE
Loose(items=(Word(text='по', field=None, exact=False, prefix=True),
             Word(text='никель', field=None, exact=False, prefix=False)), required=())
"""

import contextlib
import contextvars
import heapq
import time
from dataclasses import dataclass, replace

from whoosh import collectors, scoring
from whoosh import query as wq

from indexer.errors import QuerySyntaxError
from search.query import AllOf, AnyOf, Loose, Not, Phrase, Word

__all__ = ["Budget", "CHECK_EVERY", "CappedPrefix", "GRACE_SECONDS", "SearchTimeout",
           "TimedCollector", "check_time", "compound_parts", "deduplicate", "expired",
           "prefix_terms", "time_limit", "within_limits"]


@dataclass(frozen=True)
class Budget:
    """The limits of one query.

    >>> Budget().max_expansions
    50
    """

    # Elasticsearch's default max_expansions for prefix queries. On the 27k
    # mixed index "по" starts 4,382 body terms; 50 cover the common words.
    max_expansions: int = 50
    # Expansions are chosen in the index's largest segment, scanning at most
    # this many of its terms: reading one term's statistics costs ~20 us, and
    # across the 27 segments of a fresh index ~1 ms (measured).
    max_scanned_terms: int = 5000
    max_prefixes: int = 10
    max_words: int = 64
    max_compound_parts: int = 8
    # Seconds of the searching thread's CPU time (time.thread_time), not of the
    # wall clock: on a loaded machine (load 12 on 2 cores) a wall-clock budget cut
    # a cold "редкоземельные металлы" short after 0.06 s of its own work, and the
    # partial page was the first segments' matches. CPU time is what a hostile
    # query takes from the machine.
    seconds: float = 1.2  # finding and ranking the matches
    # Snippets of one page: a hit begun in time is finished, later hits have none.
    snippet_seconds: float = 0.4
    # Looking for a better spelling to offer ("did you mean") when a search finds
    # few articles: each respelt query is searched once more.
    offer_seconds: float = 0.2


# Ranking that ran out of time gets this much more (CPU seconds) to find one page
# of what it can: the =form checks of its best candidates, or Whoosh's matchers
# collecting in document order where term-at-a-time scoring had ranked nothing.
GRACE_SECONDS = 0.1
# Documents (or terms) visited between two looks at the clock in a loop: a look
# costs ~0.1 us, a document ~10-50 us.
CHECK_EVERY = 256


class SearchTimeout(Exception):
    """Raised inside a search when its time budget is spent; never leaves ``search.api``."""


_deadline = contextvars.ContextVar("poisk_search_deadline", default=None)


@contextlib.contextmanager
def time_limit(seconds):
    """Give the searches in this block (this thread or task) ``seconds`` of CPU time.

    >>> with time_limit(0):
    ...     check_time()
    Traceback (most recent call last):
    ...
    search.budget.SearchTimeout
    """
    token = _deadline.set(time.thread_time() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def check_time():
    """Raise ``SearchTimeout`` once the current search's time is spent (cheap to call often).

    >>> check_time()  # no limit outside time_limit()
    """
    if expired():
        raise SearchTimeout


def expired():
    """True once the current search's time is spent.

    >>> expired()
    False
    """
    deadline = _deadline.get()
    return deadline is not None and time.thread_time() >= deadline


def deduplicate(node):
    """The query tree with identical sibling items kept once (their first place).

    >>> from search.query import parse_query
    >>> deduplicate(parse_query("=года =года OR =года"))
    Word(text='года', field=None, exact=True, prefix=False)
    """
    if isinstance(node, Not):
        return Not(deduplicate(node.item))
    if isinstance(node, (AllOf, AnyOf)):
        items = _distinct(node.items)
        return items[0] if len(items) == 1 else replace(node, items=items)
    if isinstance(node, Loose):
        items, required = _distinct(node.items), _distinct(node.required)
        if len(items) == 1 and not required and not isinstance(items[0], Not):
            return items[0]
        return Loose(items, required)
    return node


def _distinct(items):
    return tuple(dict.fromkeys(deduplicate(item) for item in items))


def within_limits(tree, budget):
    """Raise ``QuerySyntaxError`` when the query holds more words or prefixes than allowed.

    >>> from search.query import parse_query
    >>> within_limits(parse_query(" ".join(f"w{n}*" for n in range(11))), Budget())
    Traceback (most recent call last):
    ...
    indexer.errors.QuerySyntaxError: the query has 11 different prefixes (word*); the limit is 10: use fewer or longer ones
    """
    words, prefixes = _count(tree)
    if prefixes > budget.max_prefixes:
        raise QuerySyntaxError(
            f"the query has {prefixes} different prefixes (word*); the limit is "
            f"{budget.max_prefixes}: use fewer or longer ones")
    if words > budget.max_words:
        raise QuerySyntaxError(
            f"the query has {words} different words; the limit is {budget.max_words}: "
            "keep the words that matter")


def _count(node):
    """(words, prefixes) in the tree, NOT included: each costs postings to read."""
    if isinstance(node, Word):
        return (0, 1) if node.prefix else (1, 0)
    if isinstance(node, Phrase):
        return len(node.words), 0
    if isinstance(node, Not):
        return _count(node.item)
    children = (*getattr(node, "items", ()), *getattr(node, "required", ()))
    counts = [_count(child) for child in children]
    return sum(w for w, _ in counts), sum(p for _, p in counts)


def prefix_terms(reader, field_name, prefix, budget):
    """The ``max_expansions`` most frequent terms of ``field_name`` starting with ``prefix``.

    Frequencies are read in the largest segment (after merging, most of the
    index), at most ``max_scanned_terms`` of them; a term missing there but
    present in a smaller segment is found only when the largest has fewer
    than ``max_expansions`` candidates.

    >>> reader = sample_index._searcher().reader()
    >>> prefix_terms(reader, "body", "редкозем", Budget())
    ['редкоземельный', 'редкозем']
    """
    leaves = sorted(((leaf.doc_count_all(), n) for n, (leaf, _) in
                     enumerate(reader.leaf_readers())), reverse=True)
    segments = [reader.leaf_readers()[n][0] for _, n in leaves]
    chosen = {}
    for leaf in segments:
        found = []
        for scanned, (term, info) in enumerate(leaf.iter_prefix(field_name, prefix)):
            if scanned >= budget.max_scanned_terms:
                break
            if scanned % CHECK_EVERY == 0:
                check_time()
            found.append((info.doc_frequency(), term))
        for frequency, term in heapq.nlargest(budget.max_expansions, found):
            chosen.setdefault(term, frequency)
        if len(chosen) >= budget.max_expansions:
            break
    best = heapq.nlargest(budget.max_expansions, chosen.items(), key=lambda kv: (kv[1], kv[0]))
    return [term.decode("utf-8") if isinstance(term, bytes) else term for term, _ in best]


def compound_parts(part_terms, budget):
    """A compound word's parts as lists of (term, weight), distinct, at most ``max_compound_parts``.

    ``part_terms`` are the analyzer's (text, weight, part number) triples.

    >>> compound_parts([("россия", 1.0, 1), ("россия", 1.0, 2), ("рф", 1.0, 3)], Budget())
    [[('россия', 1.0)], [('рф', 1.0)]]
    """
    by_part = {}
    for text, weight, part in part_terms:
        by_part.setdefault(part, []).append((text, weight))
    distinct = list(dict.fromkeys(tuple(alternatives) for _, alternatives in
                                  sorted(by_part.items())))
    return [list(alternatives) for alternatives in distinct[: budget.max_compound_parts]]


class TimedCollector(collectors.WrappingCollector):
    """Wraps a collector: checks the time budget between segments and every 256 matches.

    Put it inside a ``FilterCollector``, which calls ``collect`` for each
    document it lets through. Whatever was collected before the time ran out
    stays in the child's results.
    """

    def __init__(self, child):
        super().__init__(child)
        self._seen = 0

    def set_subsearcher(self, subsearcher, offset):
        check_time()
        super().set_subsearcher(subsearcher, offset)

    def collect_matches(self):
        for sub_docnum in self.child.matches():
            self.collect(sub_docnum)

    def collect(self, sub_docnum):
        self._seen += 1
        if self._seen % CHECK_EVERY == 0:
            check_time()
        return self.child.collect(sub_docnum)


class CappedPrefix(wq.Prefix):
    """Whoosh's prefix query over a given list of terms (``prefix_terms``; every term when
    the list is None), each matching term adding a constant (the boost) to the score.

    Whoosh's own ``Prefix`` means to score a constant but passes "no weighting",
    which its searcher replaces with BM25F: every expanded term then computed
    BM25F statistics over every segment, most of the time of ``по*``.

    >>> CappedPrefix("body", "по", ["после"])._btexts(None)
    [b'\\xd0\\xbf\\xd0\\xbe\\xd1\\x81\\xd0\\xbb\\xd0\\xb5']
    """

    def __init__(self, fieldname, text, terms=None, boost=1.0):
        super().__init__(fieldname, text, boost=boost, constantscore=False)
        self.terms = None if terms is None else tuple(terms)

    def __eq__(self, other):
        return super().__eq__(other) and self.terms == getattr(other, "terms", None)

    def __hash__(self):
        return super().__hash__() ^ hash(self.terms)

    def _btexts(self, ixreader):
        if self.terms is None:
            return super()._btexts(ixreader)
        return [term.encode("utf-8") for term in self.terms]

    def matcher(self, searcher, context=None):
        context = (context or searcher.context()).set(weighting=_CONSTANT)
        return super().matcher(searcher, context)


class _ConstantScorer(scoring.BaseScorer):
    def supports_block_quality(self):
        return True

    def score(self, matcher):
        return 1.0

    def max_quality(self):
        return 1.0

    def block_quality(self, matcher):
        return 1.0


class _ConstantWeighting(scoring.WeightingModel):
    def scorer(self, searcher, fieldname, text, qf=1):
        return _ConstantScorer()


_CONSTANT = _ConstantWeighting()
