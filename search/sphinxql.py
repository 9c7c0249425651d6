"""Compiling a ``search.query`` tree into a SphinxQL ``MATCH()`` and attribute filters.

The words go through the same analyzer as the index (``indexer.manticore``
wrote each word's most likely lemma at its position, the other lemmas and
compound parts into ``*_alt`` fields, exact forms into ``*_forms`` fields):

- a word is its lemma alternatives, ``(сталь | стать)``, in the lemma fields; a
  compound matches whole or by all its parts; ``=form`` looks in the form fields;
- a phrase is the phrases of its words' lemma alternatives, ``("a b" | "a c")``,
  in the positional fields (each word's most likely lemma: see the README);
- ``source:``, ``tag:`` and ``id:`` are tokens of the ``meta`` field, so they
  combine with OR and NOT like words; ``*`` and a lone NOT use the token every
  document has; date ranges become ``WHERE date_key`` conditions.

>>> from indexer.analysis import russian_analyzer
>>> from search.query import parse_query
>>> compiled = SphinxCompiler(russian_analyzer()).compile(parse_query("стали -уголь"))
>>> compiled.match
'((@(headline,lead,body,headline_alt,body_alt) (стать | сталь)) -(@(headline,lead,body,headline_alt,body_alt) уголь))'
"""

import re
from dataclasses import dataclass, field
from itertools import product

from indexer.analysis import normal_word
from indexer.errors import QuerySyntaxError
from indexer.manticore import ALL_TOKEN, meta_token, sql_token
from search.compile import MIN_PREFIX_CHARS, Ranking, count_words
from search.query import (
    AllOf, Alternatives, AnyOf, DateRange, Everything, FieldValue, Loose, Not, Phrase, Word)

__all__ = ["FIELD_WEIGHTS", "SphinxCompiler", "SphinxQuery", "date_condition", "keyword_fields"]

LEMMA_FIELDS = {None: "headline,lead,body,headline_alt,body_alt",
                "headline": "headline,headline_alt", "body": "body,body_alt"}
FORM_FIELDS = {None: "headline_forms,body_forms", "headline": "headline_forms",
               "body": "body_forms"}
PHRASE_FIELDS = {None: "headline,body", "headline": "headline", "body": "body"}
MAX_PHRASE_VARIANTS = 16  # more lemma combinations than this: each word's likeliest lemma
EVERYTHING = f"(@meta {ALL_TOKEN})"
# A word that is one keyword of the index in the lemma fields: "(@(headline,...) никель)".
ONE_KEYWORD_RE = re.compile(r"\(@\([a-z_,]+\) [0-9a-zа-я_]+\)")
# Queries of up to this many one-keyword words may be answered by their articles holding
# every word first (SphinxQuery.every_word): with search.sphinx's TIER_RANKER, an
# article with one keyword more always ranks higher only up to 3 (4 words: 3 in every
# field, 48 * 3 * 100 + 30,000 + 999, can outrank 4 in body_alt alone, 40,000 + 4 * 500).
EVERY_WORD_MAX = 3
# The fields' weights in every ranker (search.sphinx): the query words each field matched,
# times the field's weight (the headline counts 1.5 times the body, as in the folder
# index; a less likely lemma half as much: dev headlines MRR@10 0.859 against 0.850).
FIELD_WEIGHTS = {"headline": 15, "lead": 10, "body": 10, "headline_alt": 8, "body_alt": 5,
                 "headline_forms": 15, "body_forms": 10, "meta": 1}
# A field (or fields) of a MATCH() and what it looks for there, up to the next field.
FIELD_PART_RE = re.compile(r"@(?:\(([a-z_,]+)\)|([a-z_]+)) ([^@]*)")
KEYWORD_RE = re.compile(r"[0-9a-zа-я_]+")


@dataclass
class SphinxQuery:
    """A ``MATCH()`` expression, ``WHERE`` conditions, and what the highlighter looks for."""

    match: str
    where: list = field(default_factory=list)
    terms: set = field(default_factory=set)
    prefixes: set = field(default_factory=set)
    negative: bool = False  # compiling what NOT excludes
    words: int = 1  # the words of the query's top level (the ranker's tier is for 2..4)
    rerank: list | None = None  # the words search.rerank scores, for a headline-length query
    # ``match`` with every word required, when the query is 2..EVERY_WORD_MAX words of one
    # keyword each and nothing else: its best matches are the query's (search.sphinx).
    every_word: str | None = None
    # The MATCH() of each of those words, when one has synonyms (so they are not one
    # keyword each): then the articles holding every word come first only as far as
    # they outrank any other (search.sphinx.absent_word_bound).
    word_matches: list | None = None
    # ``match`` without its very common words (``MAYBE``), when the query's top level has
    # some: what the engine ranks when the client orders the best matches again with
    # every word (search.rerank), as those words only rank what the others match.
    rare_match: str | None = None

    @property
    def one_keyword(self) -> bool:
        """Whether the match is one keyword in the lemma fields and nothing else."""
        return ONE_KEYWORD_RE.fullmatch(self.match) is not None


class SphinxCompiler:
    """Compiles query trees with the index's analyzer.

    ``reader``, when given (``doc_frequency(field, term)``, ``doc_count_all()``,
    as a Whoosh reader or ``search.sphinx.EngineVocabulary``), applies the folder
    index's common-word rule (``Ranking.common_share``): in a query of
    ``common_min_words`` words or more, a word all of whose lemmas are in more
    than that share of the documents only ranks the documents the other words
    match (``MAYBE``), and finds none of its own. On 2,000 news articles it cut
    the engine's CPU for a headline-length query from 106 to 22 ms and raised
    the dev headlines' MRR@10 from 0.834 to 0.848 (one run, load 17).
    """

    def __init__(self, analyzer, ranking=None, reader=None):
        self.analyzer = analyzer
        self.ranking = ranking or Ranking()
        self.reader = reader

    def compile(self, tree) -> SphinxQuery:
        compiled = SphinxQuery(match="")
        # A long query's compounds match by any part (Ranking.compound_any_part).
        self._any_part = (self.ranking.compound_any_part
                          and count_words(tree) > self.ranking.all_words_max)
        if isinstance(tree, Loose):
            compiled.words = sum(not isinstance(i, Not) for i in tree.items)
        match = self._node(tree, compiled, top=True)
        if match is None and not compiled.where:
            raise QuerySyntaxError(
                "nothing to search for: the query holds only stop words or punctuation")
        compiled.match = match or EVERYTHING
        if compiled.rare_match is not None:
            compiled.rare_match = compiled.match.replace(*compiled.rare_match, 1)
        return compiled

    def _node(self, node, compiled, top=False):
        if isinstance(node, Word):
            return self._word(node, compiled)
        if isinstance(node, Phrase):
            return self._phrase(node, compiled)
        if isinstance(node, FieldValue):
            kind = {"source": "s", "tags": "t", "id": "i"}.get(node.field, node.field)
            return f"(@meta {meta_token(kind, node.value)})"
        if isinstance(node, Everything):
            return EVERYTHING
        if isinstance(node, DateRange):
            if not top:
                raise QuerySyntaxError("a date: range can only narrow the whole query here "
                                       "(not inside OR or NOT) with a manticore:// index")
            compiled.where.append(date_condition(node.start, node.end))
            return None
        if isinstance(node, Not):
            inner = self._node(node.item, SphinxQuery("", negative=True))
            return f"({EVERYTHING} -{inner})" if inner else None
        if isinstance(node, AllOf):
            return _group(" ", [self._node(i, compiled, top) for i in node.items])
        if isinstance(node, AnyOf):
            return _group(" | ", [self._node(i, compiled) for i in node.items])
        if isinstance(node, Loose):
            return self._loose(node, compiled, top)
        if isinstance(node, Alternatives):
            # Synonyms and fuzzy spellings (search.rewrite): any of them. Sphinx 2.2
            # cannot weigh one branch of an OR below another, so a match of another
            # name counts as much as the word typed (0.5 on a folder index).
            return _group(" | ", [self._node(node.item, compiled),
                                  *(self._node(o, compiled) for o in node.others)])
        raise TypeError(f"unknown query node {node!r}")

    def _loose(self, node, compiled, top):
        positive = [i for i in node.items if not isinstance(i, Not)]
        common = [i for i in positive if self._is_common(i)] \
            if len(positive) >= self.ranking.common_min_words else []
        rare = [i for i in positive if i not in common]
        if not any(self._found(i) for i in rare):
            rare, common = positive, []  # the common words are all there is
        compiled_words = [self._node(i, compiled) for i in rare]
        words = _group(" | ", compiled_words)
        if top and not common and not node.required and len(rare) == len(node.items) \
                and 2 <= len(rare) <= EVERY_WORD_MAX and all(compiled_words):
            if _distinct_keywords(compiled_words):
                compiled.every_word = _group(" ", compiled_words)
            elif any(isinstance(i, Alternatives) for i in rare) and \
                    not any("*" in w for w in compiled_words):  # a prefix: keywords uncounted
                # A word with synonyms: on the 100 short queries of 100,000 articles,
                # генпрокуратура россии cost searchd 127 -> 65 ms; taken for any word of
                # several keywords, гранпри россии cost 92 -> 137 (no article holds both
                # words, and the page of any word was asked after all).
                compiled.every_word = _group(" ", compiled_words)
                compiled.word_matches = compiled_words
        if words and common:
            common = _group(" | ", [self._node(i, compiled) for i in common])
            with_common = f"({words} MAYBE {common})"
            if top:  # (this part of the match, it without the common words): compile()
                compiled.rare_match = (with_common, words)
            words = with_common
        required = [self._node(i, compiled, top) for i in node.required]
        excluded = [self._node(i.item, SphinxQuery("", negative=True))
                    for i in node.items if isinstance(i, Not)]
        parts = [p for p in [words, *required] if p]
        excluded = [f"-{e}" for e in excluded if e]
        if not parts and not excluded:
            return None
        return _group(" ", (parts or [EVERYTHING]) + excluded)

    def _word(self, word, compiled):
        if word.prefix:
            stem = sql_token(normal_word(word.text))
            if len(stem) < MIN_PREFIX_CHARS:
                raise QuerySyntaxError(
                    f"the prefix {word.text + '*'!r} is too short: give at least "
                    f"{MIN_PREFIX_CHARS} letters before *")
            compiled.prefixes.add(normal_word(word.text))
            return f"(@({LEMMA_FIELDS[word.field]}) {stem}*)"
        positions = self._analyze(word.text)
        per_position = []
        for terms in positions:
            if word.exact:
                forms = sorted({t for t, kind, part in terms if kind == "exact" and part == 0})
                compiled.terms.update(forms)
                per_position.append(f"(@({FORM_FIELDS[word.field]}) "
                                    f"{_any(f[1:] for f in forms)})")
            else:
                compiled.terms.update(t for t, kind, _ in terms if kind != "exact")
                any_part = self._any_part and not compiled.negative
                per_position.append(f"(@({LEMMA_FIELDS[word.field]}) {_lemmas(terms, any_part)})")
        return _group(" ", per_position)

    def _phrase(self, phrase, compiled):
        steps, forms = [], []
        for text in phrase.words:
            exact = text.startswith("=")
            for terms in self._analyze(text.lstrip("=")):
                lemmas = [t for t, kind, part in terms if kind == "lemma" and part == 0]
                if exact:
                    found = {t for t, kind, part in terms if kind == "exact" and part == 0}
                    forms.append(f"(@({FORM_FIELDS[phrase.field]}) "
                                 f"{_any(f[1:] for f in sorted(found))})")
                    compiled.terms.update(found)
                else:
                    compiled.terms.update(lemmas)
                steps.append([sql_token(t) for t in lemmas])
        if not steps:
            return None
        variants = 1
        for step in steps:
            variants *= len(step)
        if variants > MAX_PHRASE_VARIANTS:
            steps = [step[:1] for step in steps]
        # Sphinx's "..."~N: all the words within a window N words longer than the phrase.
        slop = f"~{phrase.slop * (len(steps) - 1)}" if phrase.slop and len(steps) > 1 else ""
        phrases = [f'"{" ".join(words)}"{slop}' for words in product(*steps)]
        query = f"(@({PHRASE_FIELDS[phrase.field]}) {_any(phrases)})"
        return _group(" ", [query, *forms])

    def _lemmas_of(self, item):
        """The lemmas of a plain word, or None for anything else."""
        if not isinstance(item, Word) or item.exact or item.prefix:
            return None
        return [t for terms in self._analyze(item.text) for t, kind, _ in terms if kind == "lemma"]

    def _is_common(self, item):
        lemmas = self.reader and self._lemmas_of(item)
        if not lemmas:
            return False
        limit = self.ranking.common_share * max(1, self.reader.doc_count_all())
        return all(self.reader.doc_frequency("body", t) > limit for t in lemmas)

    def _found(self, item):
        """Whether the index may hold the item: a plain word, when one of its lemmas is there."""
        lemmas = self.reader and self._lemmas_of(item)
        return lemmas is None or any(self.reader.doc_frequency("body", t) for t in lemmas)

    def _analyze(self, text):
        by_position = {}
        for t in self.analyzer(text, positions=True, mode="query"):
            by_position.setdefault(t.pos, []).append((t.text, t.kind, t.part))
        return [by_position[p] for p in sorted(by_position)]


def keyword_fields(match: str) -> dict:
    """{keyword: the fields it is looked for in} of a ``MATCH()`` expression (a phrase's
    slop counted as a keyword too: a bound made with it is only higher).

    >>> found = keyword_fields('((@(headline,body) "генеральный прокуратура") | (@meta s1))')
    >>> {keyword: sorted(fields) for keyword, fields in found.items()}
    {'генеральный': ['body', 'headline'], 'прокуратура': ['body', 'headline'], 's1': ['meta']}
    """
    found = {}
    for listed, one, text in FIELD_PART_RE.findall(match):
        fields = set((listed or one).split(","))
        for keyword in KEYWORD_RE.findall(text):
            found.setdefault(keyword, set()).update(fields)
    return found


def _distinct_keywords(words):
    """Whether each compiled word is one keyword (``ONE_KEYWORD_RE``), none twice."""
    return all(w and ONE_KEYWORD_RE.fullmatch(w) for w in words) and \
        len({w.rpartition(" ")[2] for w in words}) == len(words)


def _lemmas(terms, any_part=False):
    """One word's lemma alternatives; a compound whole or by all of its parts (``any_part``:
    by any of them).

    >>> terms = [("гугенот-поселенец", "lemma", 0), ("гугенот", "part", 1), ("поселенец", "part", 2)]
    >>> _lemmas(terms), _lemmas(terms, any_part=True)
    ('(гугенот_поселенец | (гугенот поселенец))', '(гугенот_поселенец | гугенот | поселенец)')
    """
    whole = _any(sql_token(t) for t, kind, part in terms if kind == "lemma")
    parts = sorted({part for _, kind, part in terms if kind == "part"})
    if len(parts) < 2:
        return whole
    by_part = [_any(sql_token(t) for t, kind, p in terms if kind == "part" and p == n)
               for n in parts]
    return f"({whole} | {' | '.join(by_part)})" if any_part else \
        f"({whole} | ({' '.join(by_part)}))"


def _any(alternatives):
    unique = list(dict.fromkeys(alternatives))
    return unique[0] if len(unique) == 1 else f"({' | '.join(unique)})"


def _group(joiner, parts):
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else "(" + joiner.join(parts) + ")"


def date_condition(start, end) -> str:
    """A ``WHERE`` condition on ``date_key`` (YYYYMMDD; 0 for an undated article).

    >>> import datetime
    >>> date_condition(datetime.date(2026, 3, 1), None)
    'date_key BETWEEN 20260301 AND 99991231'
    """
    low = start.year * 10000 + start.month * 100 + start.day if start else 1
    high = end.year * 10000 + end.month * 100 + end.day if end else 99991231
    return f"date_key BETWEEN {low} AND {high}"
