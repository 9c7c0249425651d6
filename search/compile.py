"""Turning a parsed query into a Whoosh query, through the index's own analyzer.

This is the one storage-specific step of searching: another engine would get
its own compiler for the same query tree and the same analyzer output.

Every word goes through the analyzer attached to the index's text fields, so a
query term is produced exactly as the indexed terms were. A word's lemma
alternatives at one position become a disjunction whose members are weighted
by pymorphy3's probability (with a floor), so a rare wrong lemma of an
ambiguous word ("стали" -> "сталь") cannot outweigh the likely one.
"""

import datetime
import math
from dataclasses import dataclass, field, replace

from whoosh import query as wq
from whoosh import scoring
from whoosh.matching import (
    AndNotMatcher, FilterMatcher, NullMatcherClass, WrappingMatcher)
from whoosh.query import spans

from indexer.analysis import WEAK_MARK, MorphFilter, normal_word
from indexer.errors import QuerySyntaxError
from search.budget import CHECK_EVERY, Budget, CappedPrefix, check_time, compound_parts, \
    prefix_terms
from search.exact import DEFERRED, FormCheck, OnDemandMatcher, checked_on_demand, form_filter
from search.query import (
    AllOf, Alternatives, AnyOf, DateRange, Everything, FieldValue, Loose, Not, Phrase, Word)

__all__ = ["CompiledQuery", "QueryCompiler", "Ranking", "date_query"]

TEXT_FIELDS = ("headline", "body")
WORD_FIELDS = ("headline", "lead", "body")  # a plain word also scores in the lead
STORED_TEXT = {"headline": "headline", "lead": "body", "body": "body"}  # where =form is checked
MIN_PREFIX_CHARS = 2
# Interrogative words by their likeliest lemma: a question ("Какой указ поставил
# протестантизм вне закона") asks with them, the answer does not hold them. Snowball's
# stop list (Whoosh, tantivy) drops "какой", "кто", "зачем"; poisk's keeps them because
# it lemmatises, so "каких", "каком", "кем" all matched documents as one word.
QUESTION_LEMMAS = frozenset("какой каковой кто что сколько почему зачем куда откуда чей".split())


@dataclass(frozen=True)
class Ranking:
    """The ranking knobs, tuned on the dev queries (see bench/).

    >>> Ranking().headline_boost > 1
    True
    """

    headline_boost: float = 1.5   # BM25F: a headline match counts this much more
    lead_boost: float = 1.0       # and a match in the lead (first paragraph)
    k1: float = 2.0               # BM25 term-frequency saturation
    b: float = 0.75               # BM25 length normalisation
    headline_b: float | None = None  # the same for one field (None: b)
    lead_b: float | None = None
    word_bonus: float = 0.06      # long queries: added per matched word, times the word's IDF
                                  # (0.3 at an IDF of 5, the constant it replaced)
    all_words_max: int = 4        # queries of up to this many words rank by words matched first:
    all_words_tier: float = 1000.0  # added per matched word, above any BM25F score
    min_alternative: float = 0.3  # floor for a less likely lemma's weight
    weak_reading: float = 0.3     # a reading the indexer found unlikely in its context
    short_query_words: int = 3    # the bonus below applies to queries this short:
    proximity_boost: float = 1.0  # two query words within proximity_slop positions
    proximity_slop: int = 4
    max_proximity_pairs: int = 6
    common_min_words: int = 3
    common_share: float = 0.1     # in queries of that many words, a word in more than this share
                                  # of documents only adds to matches of the others
    term_at_a_time: bool = True   # rank with search.scoring (same results as Whoosh's
                                  # matchers, which False uses)
    nouns_in_queries: bool = True  # "выплавка стали": the noun is meant, the verb counts
                                   # weak_reading (see QueryCompiler._meant_nouns)
    tail_after: int | None = None  # e.g. 10: in a query of common_min_words words or more,
                                   # articles that hold only its very common words follow
                                   # this many hits, merged by score with the rest (None: not
                                   # at all; off: dev headline Recall@100 0.978 -> 0.976)
    question_b: float | None = 0.5  # a question (QueryCompiler._is_question: it starts with a
                                    # question word or ends with "?") is searched without its
                                    # question words and with this b for the body (None: as
                                    # any other query). XQuAD MRR@10 dev 0.941 -> 0.946, test
                                    # 0.939 -> 0.948 (test Recall@10 -1 question); 2 of 500 dev
                                    # headlines are questions, headline sets unchanged
    floor_after: int | None = 50  # in a query longer than all_words_max words, hits past this
                                  # rank alternate with plain BM25F's (no word bonus, no
                                  # common-word rule) best floor_depth, so an article plain
                                  # BM25F ranks high stays in the first 100 (None: off); the
                                  # first floor_after never change
    floor_depth: int = 30         # dev no-standfirst Recall@100 +1 query (2 sets) over 20,
                                  # which tied 10; every other set of both halves the same
    floor_share: int = 1          # past floor_after, each of the query's own hits is followed
                                  # by up to this many of the floor's
    floor_lead_boost: float | None = 0.0  # the lead's boost in the floor (None: lead_boost):
                                          # the articles the lead pushes past 100 hold the
                                          # query words further down (see README, Ranking)
    compound_any_part: bool = False  # in a query of more than all_words_max words, a hyphenated
                                     # word matches by any of its parts too (scores summed).
                                     # XQuAD test Recall@10 0.983 -> 0.987, dev no-standfirst
                                     # MRR@10 0.600 -> 0.602, but test no-standfirst 0.626 ->
                                     # 0.625: off (a change must tie or win on every set)
    weak_matches_count: bool = True  # False: a word matched through a weak reading alone does
                                     # not count for the bonus above (QueryCompiler._counted;
                                     # ambiguity set 0.34 -> 0.43, XQuAD dev MRR@10 -0.001: off)

    def field_b(self) -> dict[str, float]:
        """Whoosh's per-field length normalisation (``BM25F(headline_B=...)``).

        >>> Ranking(lead_b=0.3).field_b()
        {'lead_B': 0.3}
        """
        chosen = {"headline": self.headline_b, "lead": self.lead_b}
        return {f"{name}_B": b for name, b in chosen.items() if b is not None}

    def weighting(self, question: bool = False) -> scoring.BM25F:
        """Whoosh's BM25F with these knobs; for a question (``CompiledQuery.question``) the
        body's b is ``question_b``, the headline and the lead keep theirs.

        >>> Ranking(question_b=0.5).weighting(question=True)._field_B
        {'headline': 0.75, 'lead': 0.75}
        """
        if not question or self.question_b is None:
            return scoring.BM25F(B=self.b, K1=self.k1, **self.field_b())
        fields = {"headline_B": self.b, "lead_B": self.b, **self.field_b()}
        return scoring.BM25F(B=self.question_b, K1=self.k1, **fields)

    def matched_word_bonus(self, words: int, idf: float) -> float:
        """What a document gains for holding one word of a query of ``words`` words.

        Up to ``all_words_max`` words, a tier: every matched word adds more than
        any BM25F score, so articles with all the words come first, then those
        with all but one, and so on, each tier by BM25F. Longer (headline-length)
        queries get a soft form: ``word_bonus`` times the word's IDF, so missing
        a rare word costs more than missing a common one.

        >>> Ranking().matched_word_bonus(2, idf=5.0), Ranking().matched_word_bonus(8, idf=5.0)
        (1000.0, 0.3)
        """
        if words <= 1:
            return 0.0
        if words <= self.all_words_max:
            return self.all_words_tier
        return round(self.word_bonus * idf, 6)

@dataclass
class CompiledQuery:
    """A Whoosh query plus what the highlighter needs to find the matched words."""

    query: object
    terms: set = field(default_factory=set)
    prefixes: set = field(default_factory=set)
    negative: bool = False  # compiling what NOT excludes
    question: bool = False  # question words were left out (Ranking.question_b)
    tail: object = None  # what may follow the first Ranking.tail_after hits (search.api)
    floor: object = None  # plain BM25F of a long query's words (Ranking.floor_after, search.api)
    floor_only: object = None  # the floor's matches that the query itself does not match
    checked: bool = False   # it has =form nodes outside NOT (see search.exact.CheckedRanking)


class QueryCompiler:
    """Compiles ``search.query`` trees with one analyzer and one set of ranking knobs.

    >>> from indexer.analysis import russian_analyzer
    >>> from search.query import parse_query
    >>> compiled = QueryCompiler(russian_analyzer()).compile(parse_query("металлов"))
    >>> sorted(compiled.terms)  # the lemma and its weak twin (see _with_weak)
    ['~металл', 'металл']
    """

    def __init__(self, analyzer, ranking=None, reader=None, budget=None):
        self.analyzer = analyzer
        self.ranking = ranking or Ranking()
        self.reader = reader  # for document frequencies; None compiles without them
        self.budget = budget or Budget()  # what one query may cost (search.budget)
        self._analyzed = {}

    def compile(self, tree):
        compiled = CompiledQuery(query=None)
        bonuses = []
        # The proximity bonus lifted short (tag-like) queries and hurt
        # headline-length ones (MRR@10 0.73 -> 0.69, measured).
        words = count_words(tree)
        self._short = words <= self.ranking.short_query_words
        self._long = words > self.ranking.all_words_max
        self._nouns = self._meant_nouns(tree) if self.ranking.nouns_in_queries else {}
        main = self._node(tree, compiled, bonuses, top=True)
        if main is None:
            raise QuerySyntaxError(
                "nothing to search for: the query holds only stop words or punctuation")
        if compiled.tail is not None:  # the articles only the common words find
            compiled.tail = _AndNot(compiled.tail, main)
        if compiled.floor is not None:  # the articles only the common words find
            compiled.floor_only = _AndNot(compiled.floor, main)
        if bonuses:
            main = wq.AndMaybe(main, _Or(bonuses))
        compiled.query = main
        return compiled

    # -- tree nodes -------------------------------------------------------

    def _node(self, node, compiled, bonuses, top=False):
        if isinstance(node, Word):
            return self._word(node, compiled, bonuses)
        if isinstance(node, Phrase):
            return self._phrase(node, compiled)
        if isinstance(node, FieldValue):
            return _unscored(wq.Term(node.field, node.value))
        if isinstance(node, DateRange):
            return _unscored(date_query(node))
        if isinstance(node, Everything):
            return wq.Every()
        if isinstance(node, Not):
            return self._exclude(wq.Every(), [node.item])
        if isinstance(node, AllOf):
            positive = [i for i in node.items if not isinstance(i, Not)]
            parts = [q for q in (self._node(i, compiled, bonuses) for i in positive) if q]
            return self._exclude(_combine(wq.And, parts),
                                 [i.item for i in node.items if isinstance(i, Not)])
        if isinstance(node, AnyOf):
            parts = [q for q in (self._node(i, compiled, bonuses) for i in node.items) if q]
            return _combine(_Or, parts)
        if isinstance(node, Loose):
            return self._loose(node, compiled, bonuses, top)
        if isinstance(node, Alternatives):  # synonyms and fuzzy spellings (search.rewrite)
            first = self._node(node.item, compiled, bonuses)
            others = [_Rescored(q, scale=node.weight) for q in
                      (self._node(i, compiled, []) for i in node.others) if q is not None]
            parts = [q for q in (first, *others) if q is not None]
            return parts[0] if len(parts) == 1 else wq.DisjunctionMax(parts) if parts else None
        raise TypeError(f"unknown query node {node!r}")

    def _loose(self, node, compiled, bonuses, top=False):
        positive = [i for i in node.items if not isinstance(i, Not)]
        negative = [i.item for i in node.items if isinstance(i, Not)]
        if self.ranking.question_b is not None and self._is_question(positive):
            compiled.question = True
            positive = [i for i in positive if not self._is_question_word(i)] or positive
        words, common, plain, found = [], [], [], 0
        for item in positive:
            q = self._node(item, compiled, bonuses)
            if q is not None:
                plain.append(q)
                # Each matched item adds a bonus: documents with more of the
                # query's words rank first, yet documents with fewer still match.
                plus = self.ranking.matched_word_bonus(len(positive), self._idf(item))
                q = self._counted(item, q, plus, compiled) if plus else q
                long_enough = len(positive) >= self.ranking.common_min_words
                if long_enough and self._is_common(item):
                    common.append(q)
                else:
                    words.append(q)
                    found += not self._found_nowhere(item)
        if not found:
            # No other word is in any article: the common words are all there is.
            words, common = words + common, []
        # A very common word ("год", "россия") in a long query scores only the
        # documents the other words found: scanning its postings for new matches
        # cost most of a headline query's time and added little (measured).
        bonuses.extend(common)
        if self._short:
            bonuses.extend(self._proximity([i for i in positive if isinstance(i, Word)]))
        required = [q for q in (self._node(i, compiled, bonuses) for i in node.required) if q]
        main = _combine(_Or, words)
        if required:
            main = wq.And([main, *required]) if main else _combine(wq.And, required)
        if top and common and main is not None and self.ranking.tail_after is not None:
            # Scored as the common words score in a match of the others (their bonus).
            tail = _combine(_Or, common)
            compiled.tail = self._exclude(wq.And([tail, *required]) if required else tail,
                                          negative)
        if (top and main is not None and self.ranking.floor_after is not None
                and len(positive) > self.ranking.all_words_max):
            floor = _combine(_Or, self._floor_words(positive, plain))
            compiled.floor = self._exclude(wq.And([floor, *required]) if required else floor,
                                           negative)
        return self._exclude(main, negative)

    def _floor_words(self, items, plain):
        """The floor's word queries: ``plain`` (``items`` as the query scores them), or
        ``items`` compiled again with the lead at ``Ranking.floor_lead_boost``."""
        boost = self.ranking.floor_lead_boost
        if boost is None or boost == self.ranking.lead_boost:
            return plain
        other = QueryCompiler(self.analyzer, replace(self.ranking, lead_boost=boost),
                              self.reader, self.budget)
        other._analyzed, other._nouns = self._analyzed, self._nouns
        other._short, other._long = self._short, self._long
        return [other._node(item, CompiledQuery(query=None), []) for item in items]

    def _counted(self, item, query, plus, compiled):
        """``query`` plus ``plus`` where the item matched: a word, only where it matched in
        a full reading. A match through a weak reading alone ("стали" the verb for
        "выплавка стали", or a ``~сталь`` the indexer weighed down) keeps its score but
        does not count as a matched word."""
        if (self.ranking.weak_matches_count or not isinstance(item, Word) or item.prefix
                or item.exact or not self._has_weak(item)):
            return _Rescored(query, plus=plus)
        full = self._word(item, compiled, [], readings="full")
        weak = self._word(item, compiled, [], readings="weak")
        if weak is None:
            return _Rescored(full, plus=plus)
        return wq.DisjunctionMax([_Rescored(full, plus=plus), weak])

    def _exclude(self, main, negative):
        """``main`` without every document that a search for any of ``negative`` finds."""
        excluded = [q for q in (self._node(i, CompiledQuery(None, negative=True), [])
                                for i in negative) if q]
        if not excluded:
            return main
        return _AndNot(main or wq.Every(), _combine(_Or, excluded))

    def _word(self, word, compiled, bonuses, readings="all"):
        fields = (word.field,) if word.field else WORD_FIELDS
        if word.prefix:
            stem = normal_word(word.text)
            if len(stem) < MIN_PREFIX_CHARS:
                raise QuerySyntaxError(
                    f"the prefix {word.text + '*'!r} is too short: give at least "
                    f"{MIN_PREFIX_CHARS} letters before *")
            compiled.prefixes.add(stem)
            # The most frequent terms, chosen once in one field for all fields.
            terms = self.reader and prefix_terms(self.reader, fields[-1], stem, self.budget)
            return self._per_field(fields, lambda f: CappedPrefix(f, stem, terms))
        positions = self._analyze(word.text)
        if not positions:
            return None
        per_position = []
        # A compound matches by any one part only where a missing word is no exclusion:
        # in a long query's soft rule, never in what NOT excludes.
        any_part = self.ranking.compound_any_part and self._long and not compiled.negative
        for terms in positions:
            nouns = self._nouns.get(word, ())
            query = self._per_field(fields, lambda f, terms=terms: self._lemma_query(
                f, terms, nouns, readings, any_part))
            if word.exact:
                forms = {t for t, _, part in terms["exact"] if part == 0}
                compiled.terms.update(forms)
                query = _exact_forms(query, [forms], fields, self.analyzer, compiled)
            else:
                compiled.terms.update(t for t, _, _ in terms["lemma"] + terms["part"])
                compiled.terms.update(WEAK_MARK + t for t, _, _ in terms["lemma"])
            per_position.append(query)
        return _combine(wq.And, per_position)

    def _phrase(self, phrase, compiled):
        fields = (phrase.field,) if phrase.field else TEXT_FIELDS
        steps, gap, max_gap, forms = [], 1, 1, []
        for text in phrase.words:
            exact = text.startswith("=")
            positions = self._analyze(text.lstrip("="))
            if not positions:
                gap += 1  # a stop word: the next word may come one position later
                continue
            for terms in positions:
                if steps:
                    max_gap = max(max_gap, gap)
                gap = 1
                chosen = _with_weak([(t, 1.0) for t, _, part in terms["lemma"] if part == 0], 1.0)
                if exact:
                    forms.append({t for t, _, part in terms["exact"] if part == 0})
                    compiled.terms.update(forms[-1])
                else:
                    compiled.terms.update(t for t, _ in chosen)
                steps.append(chosen)
        if not steps:
            return None
        if len(steps) == 1:
            query = self._per_field(fields, lambda f: _alternatives(f, steps[0]))
        else:
            slop = max_gap + phrase.slop

            def near(f):
                return spans.SpanNear2([_span_alternatives(f, s) for s in steps], slop=slop)
            query = self._per_field(fields, near)
        if forms and query is not None:
            # The phrase in any form, in an article that has the exact forms.
            query = _exact_forms(query, forms, fields, self.analyzer, compiled)
        return query

    # -- helpers ----------------------------------------------------------

    def _idf(self, item):
        """log(N / df) of a plain word's likeliest lemma in the body (1.0 without a reader)."""
        if self.reader is None or not isinstance(item, Word) or item.prefix:
            return 1.0
        positions = self._analyze(item.text)
        if not positions or not positions[0]["lemma"]:
            return 1.0
        count = max(1, self.reader.doc_count_all())
        return math.log(count / max(1, self.reader.doc_frequency("body", positions[0]["lemma"][0][0])))

    def _found_nowhere(self, item):
        """A plain word none of whose lemmas is in any headline or body."""
        if self.reader is None or not isinstance(item, Word) or item.prefix:
            return False
        lemmas = [t for terms in self._analyze(item.text) for t, _, part in terms["lemma"]]
        lemmas += [WEAK_MARK + t for t in lemmas]
        return not any(self.reader.doc_frequency(f, t) for f in TEXT_FIELDS for t in lemmas)

    def _has_weak(self, item):
        """Whether a plain word may match through a weak reading alone: a verb reading
        under a noun meant, or a weak twin in the index (without a reader: yes)."""
        if item in self._nouns:
            return True
        if self.reader is None:
            return True
        lemmas = [t for terms in self._analyze(item.text) for t, _, part in terms["lemma"]]
        return any(self.reader.doc_frequency(f, WEAK_MARK + t)
                   for f in TEXT_FIELDS for t in lemmas)

    def _is_question(self, items):
        """Whether plain words ``items`` ask a question: the first that is not a stop word is
        a question word ("В каком году ..."), or the last ends with "?"."""
        words = [i for i in items if isinstance(i, Word) and self._analyze(i.text)]
        last = items[-1] if items else None
        return bool(words) and (self._is_question_word(words[0]) or (
            isinstance(last, Word) and last.text.endswith("?")))

    def _is_question_word(self, item):
        """A plain word whose likeliest lemma is an interrogative one ("каких": какой)."""
        if not isinstance(item, Word) or item.exact or item.prefix or item.field:
            return False
        positions = self._analyze(item.text)
        return (len(positions) == 1 and bool(positions[0]["lemma"])
                and positions[0]["lemma"][0][0] in QUESTION_LEMMAS)

    def _is_common(self, item):
        if self.reader is None or not isinstance(item, Word) or item.exact or item.prefix:
            return False
        limit = self.ranking.common_share * max(1, self.reader.doc_count_all())
        lemmas = [t for terms in self._analyze(item.text) for t, _, part in terms["lemma"]]
        return bool(lemmas) and all(self.reader.doc_frequency("body", t) > limit for t in lemmas)

    def _analyze(self, text):
        """Terms by position: [{"lemma": [(text, weight, part)], "part": [...], "exact": [...]}].

        Memoized: the word query, the common-word check and the proximity bonus
        all ask for the same words.
        """
        analyzed = self._analyzed.get(text)
        if analyzed is None:
            analyzed = self._analyzed[text] = self._analyze_now(text)
        return analyzed

    def _analyze_now(self, text):
        by_position = {}
        for t in self.analyzer(text, positions=True, mode="query"):
            slot = by_position.setdefault(t.pos, {"lemma": [], "part": [], "exact": []})
            slot[t.kind].append((t.text, t.weight, t.part))
        return [by_position[p] for p in sorted(by_position)]

    def _meant_nouns(self, tree):
        """{Word: its noun readings meant in this query} for a query of two or more words.

        A query names things: a word whose likeliest reading is a verb and which has a
        noun reading (``MorphFilter``'s readings decided by context, "стали": сталь) is
        read as the noun ("выплавка стали"), unless the next query word makes it the verb
        by the indexer's own test ("стали известны").
        """
        morph = next((f for f in getattr(self.analyzer, "items", ()) if isinstance(f, MorphFilter)),
                     None)
        if morph is None or count_words(tree) < 2:
            return {}
        meant = {}
        for words in _word_runs(tree):
            for word, following in zip(words, [*words[1:], None]):
                nouns = morph._readings(word.text)[1]  # the indexer's own decision, shared
                if nouns and not (following and morph._signals_verb(following.text)):
                    meant[word] = nouns
        return meant

    def _lemma_query(self, field_name, terms, nouns=(), readings="all", any_part=False):
        """One position's terms in one field: its lemmas weighted by pymorphy3 (with a floor)
        and their weak twins; ``readings`` "full" or "weak" keeps one kind only. A compound
        matches whole, or by all its parts (``any_part``: by any of them, scores summed)."""
        floor, weak = self.ranking.min_alternative, self.ranking.weak_reading
        lemmas = [t for t, _, _ in terms["lemma"]]
        # A noun meant in the query counts fully, the verb reading as a weak one.
        full = [(t, 1.0 if t in nouns else max(w, floor))
                for t, w, _ in terms["lemma"] if not nouns or t in nouns]
        weakened = [(t, weak) for t in lemmas if nouns and t not in nouns]
        twins = [(WEAK_MARK + t, w * weak) for t, w in [*full, *weakened]]
        chosen = {"all": [*full, *weakened, *twins], "full": full,
                  "weak": [*weakened, *twins]}[readings]
        whole = _alternatives(field_name, chosen)
        if readings == "weak" or whole is None:
            return whole
        if len({part for _, _, part in terms["part"]}) < 2:
            return whole
        # A compound matches whole ("Ангаро-Енисейский") or by its distinct parts,
        # at most Budget.max_compound_parts of them.
        parts = [_alternatives(field_name, [(t, max(w, floor)) for t, w in alternatives])
                 for alternatives in compound_parts(terms["part"], self.budget)]
        return _Or([whole, _combine(_Or if any_part else wq.And, parts)])

    def _per_field(self, fields, make):
        queries = []
        for f in fields:
            boost = self._field_boost(f)
            q = make(f) if boost else None
            if q is not None:
                if boost != 1:
                    q = _Rescored(q, scale=boost) if isinstance(q, spans.SpanQuery) else \
                        q.with_boost(q.boost * boost)
                queries.append(q)
        return _combine(_Or, queries)

    def _field_boost(self, field_name):
        if field_name == "headline":
            return self.ranking.headline_boost
        return self.ranking.lead_boost if field_name == "lead" else 1.0

    def _proximity(self, words):
        """Bonus queries for neighbouring query words found close together in the body."""
        plain = [w for w in words if not w.prefix and w.field in (None, "body")]
        pairs = list(zip(plain, plain[1:]))[: self.ranking.max_proximity_pairs]
        bonuses = []
        for first, second in pairs:
            a, b = self._analyze(first.text), self._analyze(second.text)
            if not a or not b:
                continue
            alts_a = _with_weak([(t, 1.0) for t, _, p in a[-1]["lemma"] if p == 0], 1.0)
            alts_b = _with_weak([(t, 1.0) for t, _, p in b[0]["lemma"] if p == 0], 1.0)
            if alts_a and alts_b:
                near = spans.SpanNear2(
                    [_span_alternatives("body", alts_a), _span_alternatives("body", alts_b)],
                    slop=self.ranking.proximity_slop, ordered=False)
                bonuses.append(_Rescored(near, scale=self.ranking.proximity_boost))
        return bonuses


def count_words(node) -> int:
    """Plain and exact words in the tree, outside NOT."""
    if isinstance(node, Word):
        return 1
    if isinstance(node, Phrase):
        return len(node.words)
    if isinstance(node, Alternatives):
        return count_words(node.item)
    if isinstance(node, (Loose, AllOf, AnyOf)):
        return sum(count_words(i) for i in (*node.items, *getattr(node, "required", ())))
    return 0


def _word_runs(node):
    """The runs of plain words of the tree, in query order (outside NOT): the neighbours
    that tell a word's reading.

    >>> from search.query import parse_query
    >>> [[w.text for w in run] for run in _word_runs(parse_query("выплавка стали -чугун"))]
    [['выплавка', 'стали']]
    """
    if isinstance(node, Word):
        return [[node]] if not (node.prefix or node.exact) else []
    if isinstance(node, Alternatives):
        return _word_runs(node.item)
    if not isinstance(node, (Loose, AllOf, AnyOf)):
        return []
    runs, run = [], []
    for item in (*node.items, *getattr(node, "required", ())):
        if isinstance(item, Word) and not (item.prefix or item.exact):
            run.append(item)
        elif isinstance(item, Alternatives) and isinstance(item.item, Word):
            run.append(item.item)
        else:
            runs += [run] + _word_runs(item) if run else _word_runs(item)
            run = []
    return [r for r in runs + [run] if r]


def _with_weak(weighted, scale):
    """Lemma alternatives with their weak twins (``~сталь``: a reading the indexer weighed
    down, see ``indexer.analysis.WEAK_MARK``), which count ``scale`` as much.

    >>> _with_weak([("сталь", 1.0)], 0.3)
    [('сталь', 1.0), ('~сталь', 0.3)]
    """
    return [*weighted, *((WEAK_MARK + t, w * scale) for t, w in weighted)]


def _alternatives(field_name, weighted):
    """One position's alternative terms: the best-scoring one counts, not their sum."""
    terms = [wq.Term(field_name, text, boost=weight) for text, weight in dict(weighted).items()]
    if not terms:
        return None
    # Whoosh's DisjunctionMaxMatcher.score can take a child's score from another
    # document; search/matchers.py fixes it for every scored search (FixedMatchers).
    return terms[0] if len(terms) == 1 else wq.DisjunctionMax(terms)


def _span_alternatives(field_name, weighted):
    """One phrase position's alternative terms, as a query whose matches carry spans.

    A plain Or, not SpanOr: Whoosh's SpanOr cannot estimate its size, which
    phrase matching asks for (every phrase with an ambiguous word failed).
    """
    terms = [wq.Term(field_name, text) for text, _ in weighted]
    return terms[0] if len(terms) == 1 else _Or(terms)


class _Or(wq.Or):
    """Whoosh's Or, always matched as a tree of unions that advance together.

    On segments under 5,000 documents Whoosh answers an Or of three or more
    clauses with a preloaded array: every posting of every clause is read and
    scored up front, even for optional bonus clauses that only documents of the
    main query need, and the array has no positions, so a phrase or proximity
    bonus with a three-lemma word ("погорилая") failed. Measured on the news
    index (100 queries per group, one run after the other): median search time 13 -> 5 ms for
    1-3 words and 120 -> 91 ms for headline-length queries.
    """

    matcher_type = wq.Or.DEFAULT_MATCHER


def _unscored(query):
    """A filter: it decides which documents match and adds nothing to their score."""
    return _Rescored(query, scale=0.0)


class _AndNot(wq.AndNot):
    """Whoosh's AndNot with a matcher that also excludes the first document.

    Whoosh's ``AndNotMatcher`` only looks for the first positive document in the
    negative matcher when both start on the same document, so a segment whose
    first match was excluded let it through: ``Путин -Трамп`` returned articles
    with Трамп (one or two per query on the 27k mixed index).
    """

    def matcher(self, searcher, context=None):
        positive = self.a.matcher(searcher, context)
        if isinstance(positive, NullMatcherClass):
            return positive
        negative = self.b.matcher(searcher, searcher.boolean_context())
        if isinstance(negative, NullMatcherClass) or not negative.is_active():
            return positive
        return _AndNotMatcher(positive, negative)


class _AndNotMatcher(AndNotMatcher):
    def _find_first(self):
        if self.a.is_active() and self.b.is_active():
            self._find_next()

    def _find_next(self):
        """Whoosh's loop past the excluded documents, with the time budget checked in it:
        ``* -год -россия ...`` stepped over most of the index here, past its budget
        (1.52 s of CPU against 1.23 s with the check, 1-segment mixed index)."""
        pos, neg = self.a, self.b
        if not neg.is_active():
            return False
        pos_id, moved, steps = pos.id(), False, 0
        if neg.id() < pos_id:
            neg.skip_to(pos_id)
        while pos.is_active() and neg.is_active() and pos_id == neg.id():
            steps += 1
            if steps % CHECK_EVERY == 0:
                check_time()
            moved = pos.next() or moved
            if not pos.is_active():
                break
            pos_id = pos.id()
            neg.skip_to(pos_id)
        return moved


def _combine(kind, queries):
    queries = [q for q in queries if q is not None]
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else kind(queries)


def date_query(node):
    """A Whoosh date range for a ``DateRange`` node, whole days inclusive.

    >>> import datetime
    >>> date_query(DateRange(datetime.date(2026, 3, 1), None)).startdate
    datetime.datetime(2026, 3, 1, 0, 0)
    """
    start = node.start and datetime.datetime.combine(node.start, datetime.time.min)
    end = node.end and datetime.datetime.combine(node.end, datetime.time.max)
    return wq.DateRange("date", start, end)


def _exact_forms(query, forms, fields, analyzer, compiled):
    """``query`` kept where the stored text has the forms; outside NOT, checked lazily."""
    compiled.checked = compiled.checked or not compiled.negative
    return _ExactForms(query, forms, {STORED_TEXT[f] for f in fields}, analyzer,
                       deferrable=not compiled.negative)


class _ExactForms(wq.WrappingQuery):
    """The documents of ``child`` whose stored text has, for each set in ``required``,
    one of its exact forms (``=металлов``).

    The index holds no exact forms (see ``indexer.analysis``): ``child``, the
    same words in any form, finds the candidates, and ``search.exact.FormCheck``
    looks for the forms in their stored headline and body (a regular
    expression, confirmed by the analyzer where it matches). A ``deferrable``
    node (outside NOT) leaves the checks to ``search.exact.CheckedRanking``
    when it ranks, which checks only the candidates that can reach the page.
    """

    def __init__(self, child, required, fields, analyzer, deferrable=False):
        super().__init__(child)
        self.required = tuple(frozenset(forms) for forms in required)
        self.fields = tuple(sorted(fields))
        self.analyzer = analyzer
        self.deferrable = deferrable
        self._check = FormCheck(self.required, analyzer)

    def __eq__(self, other):
        return (type(self) is type(other) and self.child == other.child
                and (self.required, self.fields, self.deferrable)
                == (other.required, other.fields, other.deferrable))

    def __hash__(self):
        return hash(self.child) ^ hash((self.required, self.fields, self.deferrable))

    def _rewrap(self, child):
        return type(self)(child, self.required, self.fields, self.analyzer, self.deferrable)

    def matcher(self, searcher, context=None):
        m = self.child.matcher(searcher, context)
        if isinstance(m, NullMatcherClass) or not m.is_active():
            return m
        if not self.deferrable:  # under NOT: checked where the rest of the query asks
            return FilterMatcher(m, checked_on_demand(searcher, self.has_forms))
        later = form_filter(searcher, self.has_forms)
        if later is DEFERRED:
            return m
        if later is not None:
            return OnDemandMatcher(m, later)
        kept = set()
        for n in self.child.matcher(searcher).all_ids():
            check_time()  # each candidate's text is read and analysed
            if self.has_forms(searcher.stored_fields(n)):
                kept.add(n)
        return FilterMatcher(m, kept)

    def has_forms(self, stored: dict) -> bool:
        """Whether a stored article (its fields) has the required forms."""
        return self._check(*(stored.get(name) for name in self.fields))


class _Rescored(wq.WrappingQuery):
    """The child's score times ``scale`` plus ``plus``, for every document it matches.

    Span queries ignore Whoosh boosts; this wrapper weights them, and adds the
    per-word constant that makes documents with more query words rank first.
    """

    def __init__(self, child, scale=1.0, plus=0.0):
        super().__init__(child)
        self.scale = scale
        self.plus = plus

    def __eq__(self, other):
        return (type(self) is type(other) and self.child == other.child
                and (self.scale, self.plus) == (other.scale, other.plus))

    def __hash__(self):
        return hash(self.child) ^ hash((self.scale, self.plus))

    def _rewrap(self, child):
        return type(self)(child, self.scale, self.plus)

    def matcher(self, searcher, context=None):
        m = self.child.matcher(searcher, context)
        if isinstance(m, NullMatcherClass):
            return m
        return _RescoredMatcher(m, self.scale, self.plus)


class _RescoredMatcher(WrappingMatcher):
    def __init__(self, child, scale, plus):
        super().__init__(child)
        self.scale = scale
        self.plus = plus

    def copy(self):
        return type(self)(self.child.copy(), self.scale, self.plus)

    def _replacement(self, newchild):
        return type(self)(newchild, self.scale, self.plus)

    def max_quality(self):
        return self.child.max_quality() * self.scale + self.plus

    def block_quality(self):
        return self.child.block_quality() * self.scale + self.plus

    def score(self):
        return self.child.score() * self.scale + self.plus

    def _threshold(self, minquality):
        # The child's score that reaches ``minquality`` after scaling and adding.
        return max(0.0, (minquality - self.plus) / self.scale) if self.scale else 0.0

    def replace(self, minquality=0):
        r = self.child.replace(self._threshold(minquality) if minquality else 0)
        return self if r is self.child else self._replacement(r)

    def skip_to_quality(self, minquality):
        return self.child.skip_to_quality(self._threshold(minquality))
