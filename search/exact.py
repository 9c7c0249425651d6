"""Checking ``=form`` queries against the stored text, fast.

The index holds no exact forms (see ``indexer.analysis``): a ``=санкций``
query finds the articles with ``санкция`` in any form and keeps those whose
stored headline or body has the word ``санкций``. Running the analyzer over
every such article cost about 5 s on a common word (each unseen spelling goes
through pymorphy3). Here one regular expression finds the wanted spellings,
case- and ``ё``-blind, between non-letters, in C; each place it finds is then
confirmed by the analyzer on the few words around it (a whitespace-bounded
chunk tokenizes as it does inside the whole text), which rules out what the
expression alone would take, such as the ``5`` of ``1,5``.
"""

import bisect
import contextlib
import contextvars
import math
import re

from whoosh.matching import FilterMatcher

from indexer.analysis import EXACT_MARK, find_words, normal_text
from search.budget import GRACE_SECONDS, SearchTimeout, check_time, time_limit

__all__ = ["CheckedRanking", "DEFERRED", "FormCheck", "OnDemandMatcher", "checked_on_demand",
           "form_filter", "unchecked"]

# Letters and digits: a wanted form must not touch one on either side
# (a hyphen may, since the parts of a compound have exact forms of their own).
_BEFORE, _AFTER = r"(?<![^\W_])", r"(?![^\W_])"


class FormCheck:
    """Does a text hold, for each set of ``required`` exact terms (``=санкций``), one of them?

    >>> from indexer.analysis import russian_analyzer
    >>> check = FormCheck([{"=санкций"}], russian_analyzer())
    >>> check("Новых САНКЦИЙ не будет"), check("санкции введены"), check("анти-санкций")
    (True, False, True)
    >>> FormCheck([{"=5"}], russian_analyzer())("рост на 1,5 процента")
    False
    """

    def __init__(self, required, analyzer):
        self.required = [frozenset(forms) for forms in required]
        self.analyzer = analyzer
        self._any_form = frozenset().union(*self.required)
        wanted = sorted({f[len(EXACT_MARK):] for forms in self.required for f in forms},
                        key=len, reverse=True)
        self._bare = tuple(wanted)
        alternatives = "|".join(re.escape(w).replace("е", "[её]") for w in wanted)
        self.pattern = re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.IGNORECASE)

    def __call__(self, *texts):
        missing = set(self.required)
        for text in texts:
            # The forms are in normal_word's Unicode form; so must the text be
            # ("й" stored as "и" + U+0306, full-width letters). Only a yes or no
            # is wanted here, so offsets into the normalised text do not matter.
            text = normal_text(text or "")
            # A plain substring search first (C, no regular expression): most
            # candidates have the lemma in other forms only and stop here.
            folded = text.lower().replace("ё", "е")
            if not any(form in folded for form in self._bare):
                continue
            for match in self.pattern.finditer(text):
                found = self._confirm(text, match)
                missing = {forms for forms in missing if not forms & found}
                if not missing:
                    return True
        return not missing

    def _confirm(self, text, match):
        """The wanted exact terms the analyzer finds in the words around ``match``."""
        start, end = match.start(), match.end()
        while start and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        chunk = text[start:end]
        found = set()

        def wanted(terms):
            hits = {t for t, kind, _, _ in terms if kind == "exact"} & self._any_form
            found.update(hits)
            return bool(hits)

        find_words(self.analyzer, chunk, wanted)
        return found


# -- checking only what can reach the page ----------------------------------
#
# Reading a candidate's stored text costs about 0.3 ms (zlib and unpickling
# about as much as the check itself): =санкций has 1,237 candidates on the
# 8.9k news index, 0.3-0.5 s for every one. A page needs a few dozen.

DEFERRED = "deferred"  # an ``_ExactForms`` matcher passes every candidate unchecked
BATCH = 16             # candidates checked at a time, in rank order, at least
FIRST_SHARE = 0.8      # of the best-ranked candidates, about this share has the forms
SAMPLE = 48            # unchecked candidates checked evenly spread, to estimate the total
_checks = contextvars.ContextVar("poisk_form_checks", default=None)


def form_filter(searcher, has_forms):
    """How an ``=form`` node's matcher on ``searcher`` filters its candidates now:
    None (check each one up front), ``DEFERRED`` (pass them unchecked; a
    ``CheckedRanking`` checks them later) or a set-like object that checks,
    on demand, the documents of ``searcher`` a ``CheckedRanking`` asks about.

    >>> form_filter(None, bool) is None  # outside a CheckedRanking
    True
    """
    mode = _checks.get()
    if mode is None or mode is DEFERRED:
        return mode
    return _OnDemand(mode, searcher, has_forms)


def checked_on_demand(searcher, has_forms):
    """A set of the documents of ``searcher`` that have the forms, each checked when first
    asked: NOT ``=form`` checks only the documents the rest of the query reaches.

    >>> checked = checked_on_demand(None, bool)
    >>> checked._known
    {}
    """
    return _OnDemand(None, searcher, has_forms)


class _OnDemand:
    """``n in self``: document ``n`` is one of ``allowed`` (sorted; None: any) and has the
    forms, checked once; ``following(n)``: the first allowed document after ``n``, or None."""

    def __init__(self, allowed, searcher, has_forms):
        self.allowed, self.searcher, self.has_forms = allowed, searcher, has_forms
        self._known = {}

    def __contains__(self, n):
        if n not in self._known:
            k = self.allowed is not None and bisect.bisect_left(self.allowed, n)
            if k is not False and (k == len(self.allowed) or self.allowed[k] != n):
                return False
            check_time()
            self._known[n] = self.has_forms(self.searcher.stored_fields(n))
        return self._known[n]

    def following(self, n):
        k = bisect.bisect_right(self.allowed, n)
        return self.allowed[k] if k < len(self.allowed) else None


class OnDemandMatcher(FilterMatcher):
    """The matches of ``child`` that ``ids`` (an ``_OnDemand``) keeps, skipping to
    the allowed documents rather than stepping through every posting."""

    def _find_next(self):
        child, ids, moved = self.child, self._ids, False
        while child.is_active() and child.id() not in ids:
            following = ids.following(child.id())
            if following is None:
                child.skip_to(self._ids.searcher.doc_count_all())  # past the end
                return True
            moved = child.skip_to(following) or moved
        return moved


class CheckedRanking:
    """The top matches of a query with ``=form`` nodes, checking only the candidates that
    can reach them, and the total: exact when every candidate was checked, else
    estimated (``estimated``) from an evenly spread sample of the unchecked ones.

    ``query`` is ranked with its ``=form`` nodes unchecked (``DEFERRED``), which
    finds every candidate with a score no lower than its real one: a node is
    deferred only outside NOT, and Whoosh's And, Or and DisjunctionMax scores
    never grow when a part stops matching. Candidates are then checked in that
    order, scored again with the forms checked, until the ``n``-th best checked
    match ranks above every unchecked candidate. ``collector(limit)`` makes the
    collector that ranks; ``by_score`` is False when it sorts by another key
    (the date), which checking does not change. ``ranker``, when given, ranks
    the candidates instead (``search.scoring.TermScorer.rank``, with the
    ``=form`` nodes taken out: ``unchecked``), as the collector would.
    """

    def __init__(self, searcher, query, collector, by_score=True, ranker=None):
        self.searcher, self.query = searcher, query
        self._collector, self._by_score = collector, by_score
        self._ranker = ranker  # query -> search.scoring.RankedMatches, when it ranks by score
        self._candidates = None  # [(docnum, score)] in rank order, unchecked
        self._position = {}      # docnum -> its place among the candidates
        self._checked = {}       # docnum -> its sort key among checked matches, None: no match
        self._sample = ()
        self._stopped = False    # out of time: no more checks
        self.estimated = False
        self.timed_out = False

    def top(self, n):
        """(total matches, the best ``n`` as [(docnum, score)])."""
        if self._candidates is None:
            self._candidates = self._rank_unchecked()
            self._position = {d: k for k, (d, _) in enumerate(self._candidates)}
        # Ranking ran out of time: its candidates still get checked for one page.
        grace = time_limit(GRACE_SECONDS) if self.timed_out and not self._checked else \
            contextlib.nullcontext()
        try:
            with grace:
                while not self._stopped and not self._enough(n):
                    self._check(self._unchecked(self._batch(n)))
            if not self.timed_out:
                self._count()
        except SearchTimeout:
            self.timed_out = True
        self._stopped = self.timed_out
        top = sorted((key, docnum) for docnum, key in self._checked.items() if key)[:n]
        return self._total(), [(docnum, self._score(key)) for key, docnum in top]

    # -- steps ------------------------------------------------------------

    def _rank_unchecked(self):
        if self._ranker:  # term at a time, with the =form nodes taken out
            try:
                matches = self._ranker(unchecked(self.query))
                return matches.top(matches.total)[1]
            except SearchTimeout:
                self.timed_out = True
                return []
        collector = self._collector(max(1, self.searcher.doc_count_all()))
        token = _checks.set(DEFERRED)
        try:
            self.searcher.search_with_collector(self.query, collector)
        except SearchTimeout:
            self.timed_out = True  # rank what was found in time
        finally:
            _checks.reset(token)
        results = collector.results()
        return [(results.docnum(k), results.score(k)) for k in range(results.scored_length())]

    def _unchecked(self, count):
        return [d for d, _ in self._candidates if d not in self._checked][:count]

    def _batch(self, n):
        """How many candidates to check next to find ``n`` matches in all, at the share
        of candidates that matched so far (each batch re-runs the query, costly for a phrase)."""
        share = (self._matches() + 1) / (len(self._checked) + 1) if self._checked else FIRST_SHARE
        return max(BATCH, math.ceil((n - self._matches()) / max(share, 0.1)))

    def _matches(self):
        return sum(1 for key in self._checked.values() if key)

    def _enough(self, n):
        """True once the best ``n`` checked matches rank above every unchecked candidate."""
        position = next((k for k, (d, _) in enumerate(self._candidates)
                         if d not in self._checked), None)
        if position is None:
            return True
        keys = sorted(key for key in self._checked.values() if key)
        return len(keys) >= n and keys[n - 1] < self._key(position, *self._candidates[position])

    def _key(self, position, docnum, score):
        """A match's place in the ranking: by score, then document number, or by position."""
        return (-score, docnum) if self._by_score else (position, docnum)

    def _score(self, key):
        return -key[0] if self._by_score else self._candidates[key[0]][1]

    def _check(self, docnums):
        """Score ``docnums`` with their forms checked; record which still match."""
        check_time()
        found = _score_documents(self.searcher, self.query, docnums)
        for docnum in docnums:
            score = found.get(docnum)
            self._checked[docnum] = None if score is None else \
                self._key(self._position[docnum], docnum, score)

    def _count(self):
        """Check what is left when it is little, else an even sample of it (once)."""
        left = self._unchecked(len(self._candidates))
        if len(left) <= 2 * SAMPLE:
            self._check(left)
        elif not self._sample:
            # The middle of each of SAMPLE equal runs: the chance to have the form
            # falls along the ranking, so the first of each run would count high.
            self._sample = tuple(left[(2 * k + 1) * len(left) // (2 * SAMPLE)]
                                 for k in range(SAMPLE))
            self._check(list(self._sample))
        self.estimated = any(d not in self._checked for d, _ in self._candidates)

    def _total(self):
        matches = self._matches()
        if self.timed_out or not self.estimated:
            return matches  # out of time: what was found in time (the result is partial)
        left = sum(1 for d, _ in self._candidates if d not in self._checked)
        sampled = [d for d in self._sample if d in self._checked]
        share = sum(1 for d in sampled if self._checked[d]) / len(sampled) if sampled else 1.0
        return matches + round(share * left)


def unchecked(query):
    """``query`` with each ``=form`` node outside NOT replaced by its candidates' query.

    >>> from whoosh.query import Term
    >>> unchecked(Term("body", "санкция"))
    Term('body', 'санкция')
    """
    if getattr(query, "deferrable", False):
        return unchecked(query.child)
    if not any(_defers(child) for child in query.children()):
        return query
    return query.apply(unchecked)


def _defers(query):
    return getattr(query, "deferrable", False) or any(_defers(c) for c in query.children())


def _score_documents(searcher, query, docnums):
    """docnum -> score of those of ``docnums`` that ``query`` matches, forms checked."""
    scores, context = {}, searcher.context()
    for leaf, base in searcher.leaf_searchers():
        local = sorted(d - base for d in docnums if base <= d < base + leaf.doc_count_all())
        if not local:
            continue
        token = _checks.set(local)
        try:
            matcher = query.matcher(leaf, context)
        finally:
            _checks.reset(token)
        for n in local:
            if not matcher.is_active():
                break
            if matcher.id() < n:
                matcher.skip_to(n)
            if matcher.is_active() and matcher.id() == n:
                scores[base + n] = matcher.score()
    return scores
