"""The Russian analyzer: one object for indexing, querying and highlighting.

``russian_analyzer()`` is ``WordTokenizer() | MorphFilter()``. The tokenizer
finds words and keeps their character offsets; the filter turns each word into
the terms stored in the index, all at the word's position:

- lemmas (``kind="lemma"``): the plausible pymorphy3 normal forms, lower-cased
  with ``ё`` folded to ``е``;
- parts of hyphenated compounds (``kind="part"``), lemmatized one by one;
- the exact surface form (``kind="exact"``), marked with a leading ``=``. It
  is made for queries and highlighting but not stored in the index
  (``mode="index"``): exact forms doubled the postings, and so the cost of
  indexing, and dropping them (with their ranking bonus) moved relevance by
  -0.001 to +0.009 on the bench's query sets (see the README).
  ``search.compile`` checks ``=word`` queries against the stored text.

Stop words produce no terms but keep their position, so phrases line up.
The filter changes only ``token.text`` (and its own ``kind``/``weight``),
never the offsets.

>>> [(t.pos, t.text) for t in russian_analyzer()("цены на сталь", positions=True)]
[(0, 'цена'), (0, '=цены'), (2, 'сталь'), (2, '=сталь')]
"""

import collections
import copy
import os
import re
import threading
import unicodedata
from array import array
from collections import defaultdict
from itertools import accumulate, chain
from operator import add

from whoosh.analysis import Filter, Token, Tokenizer

__all__ = [
    "EXACT_MARK",
    "WORDS_KEY",
    "WEAK_MARK",
    "MorphFilter",
    "STOP_WORDS",
    "WordTokenizer",
    "analyze",
    "normal_text",
    "normal_word",
    "russian_analyzer",
    "find_words",
    "split_words",
    "unpack_word_starts",
    "word_spans",
    "word_starts",
]

EXACT_MARK = "="

# A word: a decimal number ("1,5", "3.2"), or letters/digits joined by hyphens
# ("научно-технологического", "Комсомольск-на-Амуре", "Ан-124"). En and em
# dashes separate words; only the hyphen and its Unicode twins join them.
# Combining marks (U+0300-U+036F) belong to the letter before them: "й"
# written as "и" + U+0306 and a stress mark ("за\u0301мок") stay inside the word.
# Written as runs of one character class (the two classes share no character, so
# nothing backtracks): the same words as "[^\W_](?:[^\W_]|[\u0300-\u036f])*",
# found in 0.68-0.76 of the time (the same spans on 4,000 news, 3,000 posts and 500
# synthetic articles; an indexed article's texts are each split by it once,
# split_words). Not possessive ("++"): that needs Python 3.11 and
# poisk runs on 3.10; it was 0.90 of this one's time on 2,000 news.
_LETTERS = r"[^\W_]+(?:[\u0300-\u036f]+[^\W_]*)*"
WORD_RE = re.compile(rf"\d+(?:[.,]\d+)+|{_LETTERS}(?:[-\u2010\u2011]{_LETTERS})*")
_SPLIT_RE = re.compile(f"({WORD_RE.pattern})")  # the words kept between the gaps (split_words)
# A document handed to the writer may carry a text field's words, split already, under
# this prefix and the field's name ("_words_body"): Whoosh ignores names starting "_".
WORDS_KEY = "_words_"
HYPHENS_RE = re.compile(r"[-\u2010\u2011]")
CYRILLIC_RE = re.compile(r"[а-яё]")

# Function words only: prepositions, conjunctions, particles, pronouns and the
# forms of "быть"/"который". Content words that other lists drop ("может",
# "два", "больше", "сейчас") stay searchable: in news they carry meaning.
STOP_WORDS = frozenset("""
а без бы был была были было быть в вам вас во вот все всего всех вы где да для до
его ее ей ему если есть же за и из или им их к как ко когда кого который которая
которого которое которой котором которую которые которым которыми которых ли меня
мне мы на над не него нее ней нем ни них но ну о об он она они оно от перед по под
при про с со так также там то тоже того тогда тот у уж уже чем что чтобы чье эта
эти это этого этой этом этот эту я
""".split())

# All-capital words of 2-4 letters are acronyms ("РФ", "СФУ", "ИНТЦ", "ГМК",
# "ИИ"): pymorphy3 would turn "ИИ" into "ия". Longer capitals are usually
# shouted ordinary words ("КРАСНОЯРСК, 14 марта.") and are lemmatized.
ACRONYM_MAX_LEN = 4

# Which normal forms a lower-case word keeps (chosen by measurement, see
# bench/ and the README):
#   "pos": the most likely lemma of each part of speech. "стали" keeps "стать"
#          (VERB, 0.975) and "сталь" (NOUN, 0.025), "мыла" keeps "мыло" and
#          "мыть"; but "выплавку" keeps only "выплавка" (NOUN, 0.67), not the
#          same-POS guess "выплавок" (0.33).
#   "all": every normal form pymorphy3 offers; "top": the most likely only.
LEMMA_POLICIES = ("pos", "all", "top")
DEFAULT_POLICY = "pos"

# A capitalised word keeps up to this many normal forms, whatever their share:
# pymorphy3 guesses names badly ("Верховец" -> "верховца" first, "верховец"
# second), and the shared forms make "Верховец", "Верховца", "Верховцу" meet.
MAX_NAME_LEMMAS = 4

# Spellings each of the filter's caches holds in its newer generation (``Recent``).
CACHE_SIZE = 300_000

# Ambiguity weighed when indexing. A reading pymorphy3 rates below WEAK_SHARE of
# the word's likeliest one, with another part of speech ("стали" -> "сталь",
# 0.025 of "стать"; "стекла" -> "стечь"), is indexed as a weak term, WEAK_MARK +
# lemma ("~сталь"), which queries weigh down (search.compile). A noun under a
# likelier verb is decided by its neighbours. Of 413 hand-labelled "стали" of the
# shared corpus (bench/sets/stali-senses.tsv, python -m bench.senses) 404 are the
# verb, so the noun is weak unless the words around it make it the noun: a
# preposition, numeral, comparative, adjective (not a nominative plural) or noun
# in an oblique case or the singular (the verb needs a plural subject) before it
# ("из стали", "тонн стали", "крепче стали", "нержавеющей стали", "рынок стали"), or a finite verb after it ("выплавка стали
# выросла"). The verb wins over those when the next word is an infinitive, a
# short adjective or participle, a comparative, an adverb, a predicative, an
# instrumental, a numeral, a nominative subject ("стали пить", "стали известны",
# "стали лидерами", "стали акции ВТБ", "стали 52 человека"), or when an
# instrumental stands among the three words before it ("жертвами теракта
# стали"). That rule indexes 18 of the 404 verbs as the noun and keeps all 9
# nouns; the old one (the noun unless the next word said verb) indexed 136 verbs
# as the noun.
WEAK_MARK = "~"
WEAK_SHARE = 0.3
VERB_CONTEXT = frozenset({"INFN", "ADJS", "PRTS", "COMP", "ADVB", "PRED", "NUMR"})
SUBJECT_POS = frozenset({"NOUN", "NPRO"})
NOUN_BEFORE_POS = frozenset({"PREP", "NUMR", "COMP"})  # "крепче стали"
OBLIQUE_CASES = frozenset({"gent", "datv", "loct", "accs"})
# Quantifiers of a nominative subject after the verb ("стали около тысячи городов").
SUBJECT_WORDS = frozenset({"около", "свыше", "одна", "одной", "одним", "одно"})
CONTEXT_WORDS = 3

_UNKNOWN = object()  # a cache's marker for a word not looked at yet


class Recent(dict):
    """A cache of at most about ``2 * size`` keys that keeps the recently used ones.

    Reads are plain ``dict`` reads; a miss asks ``recall``, which moves the key back
    from the older generation. When ``put`` finds the cache full, what it holds
    becomes the older generation and the cache starts empty: a word used since
    the last turnover survives it, one not used for two turnovers is forgotten.
    (It was one dict cleared when full: a 100k-article run lost every frequent
    word's analysis each time its 300,000 spellings filled up.)

    >>> cache = Recent(2)
    >>> cache.put("a", 1); cache.put("b", 2); cache.put("c", 3)  # "a", "b" turn older
    >>> cache.recall("a"), cache.get("b"), cache.recall("x") is _UNKNOWN
    (1, None, True)
    >>> sorted(cache), sorted(cache.older)
    (['a', 'c'], ['b'])
    """

    __slots__ = ("size", "older")

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.older = {}

    def recall(self, key):
        """The value of a key missing from the newer generation (moved back into it), or
        ``_UNKNOWN``."""
        found = self.older.pop(key, _UNKNOWN)
        if found is not _UNKNOWN:
            self.put(key, found)
        return found

    def made(self, key, make):
        """The value of a key missing from the newer generation: recalled from the older,
        or ``make()`` and kept."""
        found = self.recall(key)
        if found is _UNKNOWN:
            found = make()
            self.put(key, found)
        return found

    def put(self, key, value) -> None:
        if len(self) >= self.size:
            self.older = dict(self)
            self.clear()
        self[key] = value


# Stress marks (acute and grave) written over Russian vowels in dictionaries and
# textbooks: no composed Cyrillic letter carries them, so NFKC keeps them.
STRESS_MARKS_RE = re.compile("[\u0300\u0301]")


def normal_text(text):
    """Text in the Unicode form words are compared in: NFKC, without stress marks.

    NFKC rather than NFC: NFC composes "и" + U+0306 into "й" and "е" + U+0308
    into "ё", and NFKC also folds full-width and other compatibility letters
    ("ｎｉｃｋｅｌ" is "nickel", "ﬁ" is "fi"), which a reader means as the
    ordinary letters. The length may change, so offsets into the result are
    not offsets into the article.

    >>> normal_text("И\u0306ошкар-Ола за\u0301мок ｎｉｃｋｅｌ")
    'Йошкар-Ола замок nickel'
    """
    if text.isascii() or (unicodedata.is_normalized("NFKC", text)
                          and not STRESS_MARKS_RE.search(text)):
        return text
    return STRESS_MARKS_RE.sub("", unicodedata.normalize("NFKC", text))


def normal_word(text):
    """Lower-case a word and fold ``ё`` to ``е``: the one normalisation used everywhere.

    Unicode is normalised first (``normal_text``). Offsets are not affected:
    only a token's text is normalised, never the article.

    >>> normal_word("Редкозём"), normal_word("И\u0306ошкар-Ола"), normal_word("ｎｉｃｋｅｌ")
    ('редкозем', 'йошкар-ола', 'nickel')
    """
    return normal_text(text).lower().replace("ё", "е")


_morph = None
_morph_lock = threading.Lock()


def _dictionary_path(pymorphy3):
    """Where the Russian dictionary is, without pymorphy3's search of every installed
    package's entry points (``importlib.metadata``: about 30 ms of CPU, half of what creating
    the analyzer took, paid by every ``poisk search``). None: let pymorphy3 look (its
    environment variable set, or the dictionary installed some other way)."""
    if pymorphy3.MorphAnalyzer.DICT_PATH_ENV_VARIABLE in os.environ:
        return None
    try:
        import pymorphy3_dicts_ru
    except ImportError:
        return None
    return pymorphy3_dicts_ru.get_path()


def morph_analyzer():
    """The process-wide pymorphy3 MorphAnalyzer, created on first use.

    >>> morph_analyzer() is morph_analyzer()
    True
    """
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                import pymorphy3

                _morph = pymorphy3.MorphAnalyzer(path=_dictionary_path(pymorphy3), lang="ru")
    return _morph


class WordTokenizer(Tokenizer):
    """Yields each word of the text with its position and character offsets.

    >>> [(t.text, t.startchar) for t in WordTokenizer()("Ан-124 сел", chars=True)]
    [('Ан-124', 0), ('сел', 7)]
    """

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if not tokenize:
            t.original = t.text = value
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        for pos, match in enumerate(WORD_RE.finditer(value), start_pos):
            t.text = match.group()
            t.boost = 1.0
            if keeporiginal:
                t.original = t.text
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            yield t


class MorphFilter(Filter):
    """Replaces each word by its terms: lemmas, compound parts, exact form (not when indexing).

    Each yielded token has ``kind`` ("lemma", "part" or "exact"), ``weight``
    (the lemma's share of pymorphy3's probability, top lemma = 1) and ``part``
    (0 for the whole word, 1, 2, ... for the parts of a hyphenated compound).

    >>> [t.text for t in (WordTokenizer() | MorphFilter())("ИИ в РФ")]
    ['ии', '=ии', 'рф', '=рф']
    >>> [t.text for t in (WordTokenizer() | MorphFilter())("ИИ в РФ", mode="index")]
    ['ии', 'рф']
    """

    def __init__(self, policy=DEFAULT_POLICY, cache_size=CACHE_SIZE):
        if policy not in LEMMA_POLICIES:
            raise ValueError(f"policy must be one of {LEMMA_POLICIES}")
        self.policy = policy
        self.cache_size = cache_size
        self._new_caches()

    def _new_caches(self):
        self._cache = Recent(self.cache_size)  # spelling -> its terms
        self._weak = Recent(self.cache_size)  # spelling -> weak readings; "~" spelling -> tag
        self._index_texts = Recent(self.cache_size)  # spelling -> indexed texts
        self._parses = Recent(self.cache_size)  # lower-case word -> its readings (_parse)

    def __eq__(self, other):
        return type(self) is type(other) and self.policy == other.policy

    def __getstate__(self):
        # Whoosh pickles the schema into the index: keep the cache out of it.
        state = self.__dict__.copy()
        for name in ("_cache", "_weak", "_index_texts", "_parses"):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        state.pop("min_share", None)  # indexes from before the lemma policy existed
        state.setdefault("policy", DEFAULT_POLICY)
        state.setdefault("cache_size", CACHE_SIZE)
        self.__dict__.update(state)
        self._new_caches()

    def __call__(self, tokens):
        held = None  # a word whose weak readings wait for the next word
        before = collections.deque(maxlen=CONTEXT_WORDS + 1)  # the words up to ``held``
        for t in tokens:
            if held is not None:
                yield from self._emit(held, self.weak_lemmas(held.text, t.text,
                                                             tuple(before)[:-1]))
                held = None
            if t.mode != "index":
                yield from self._emit(t, ())
                continue
            before.append(t.text)
            if self._readings(t.text)[1]:
                held = copy.copy(t)  # the tokenizer reuses t for the next word
            else:
                yield from self._emit(t, self._readings(t.text)[0])
        if held is not None:
            yield from self._emit(held, self.weak_lemmas(held.text, None, tuple(before)[:-1]))

    def _emit(self, t, weak):
        indexing = t.mode == "index"
        for text, kind, weight, part in self.terms(t.text):
            if indexing and kind == "exact":
                continue
            t.text = WEAK_MARK + text if part == 0 and text in weak else text
            t.kind = kind
            t.weight = weight
            t.part = part
            yield t

    def index_terms(self, surfaces):
        """The terms each word of ``surfaces`` is indexed under, in order: for each word
        the texts ``__call__`` yields for it in ``mode="index"`` (the writer's fast path,
        without a Token per term; ``indexer.writer``).

        >>> MorphFilter().index_terms(["Цены", "на", "сталь"])
        [('цена',), (), ('сталь',)]
        """
        index_texts = self.index_texts
        return [self.context_texts(surfaces, at) if texts is None else texts
                for at, texts in enumerate(map(index_texts, surfaces))]

    @property
    def known_texts(self):
        """``get`` of the cache of ``index_texts`` (which may forget a word: ask it then).

        >>> f = MorphFilter(); f.known_texts("на", "?"), f.index_texts("на"), f.known_texts("на")
        ('?', (), ())
        """
        return self._index_texts.get

    def index_texts(self, surface):
        """The texts a word is indexed under, cached; None for a word its context decides
        ("стали": ``context_texts``).

        >>> f = MorphFilter()
        >>> f.index_texts("Стекла"), f.index_texts("на"), f.index_texts("стали")
        (('стекло', '~стечь'), (), None)
        """
        found = self._index_texts.get(surface, _UNKNOWN)
        if found is _UNKNOWN:
            found = self._index_texts.made(surface, lambda: self._index_texts_now(surface))
        return found

    def _index_texts_now(self, surface):
        always, by_context = self._readings(surface)
        return None if by_context else self._texts(surface, always)

    def context_texts(self, surfaces, at):
        """The texts the word ``surfaces[at]`` is indexed under, given the words around it."""
        following = surfaces[at + 1] if at + 1 < len(surfaces) else None
        weak = self.weak_lemmas(surfaces[at], following,
                                tuple(surfaces[max(0, at - CONTEXT_WORDS):at]))
        return self._texts(surfaces[at], weak)

    def _texts(self, surface, weak):
        """What ``_emit`` makes of a word's terms when indexing, given its weak lemmas."""
        return tuple(WEAK_MARK + text if part == 0 and text in weak else text
                     for text, kind, _, part in self.terms(surface) if kind != "exact")

    def weak_lemmas(self, surface, following, preceding=()):
        """The lemmas of ``surface`` indexed as weak terms, given the word after it
        (or None) and the words before it (``preceding``, nearest last).

        >>> f = MorphFilter()
        >>> f.weak_lemmas("стали", "пить"), f.weak_lemmas("стали", "выросла")
        (frozenset({'сталь'}), frozenset())
        >>> f.weak_lemmas("стали", None, ("тонн",)), f.weak_lemmas("стали", "в", ("компании",))
        (frozenset(), frozenset())
        >>> f.weak_lemmas("стали", "в", ("Россияне",)), f.weak_lemmas("стали", "акции", ("дня",))
        (frozenset({'сталь'}), frozenset({'сталь'}))
        >>> f.weak_lemmas("стекла", None), f.weak_lemmas("металла", None)
        (frozenset({'стечь'}), frozenset())
        """
        always, by_context = self._readings(surface)
        if by_context and not self._noun_context(preceding, following):
            return always | by_context
        return always

    def _noun_context(self, preceding, following):
        """Whether the words around an ambiguous word make it the noun (see WEAK_SHARE)."""
        if following is not None and self._signals_verb(following):
            return False
        if any(self._tag(word).case == "ablt" for word in preceding):
            return False  # "жертвами теракта стали"
        if preceding:
            tag = self._tag(preceding[-1])
            if (tag.POS in NOUN_BEFORE_POS
                    or tag.POS in ("ADJF", "PRTF") and not (tag.case == "nomn" and tag.number == "plur")
                    or tag.POS == "NOUN" and (tag.case in OBLIQUE_CASES or tag.number == "sing")):
                return True
        return following is not None and self._tag(following).POS == "VERB"

    def _readings(self, surface):
        """(always weak, weak after a verb's context) lemmas of a word, cached."""
        cached = self._weak.get(surface)
        if cached is None:
            cached = self._weak.made(surface, lambda: self._weak_now(surface))
        return cached

    def _weak_now(self, surface):
        lemmas = [(text, weight) for text, kind, weight, part in self.terms(surface)
                  if kind == "lemma" and part == 0]
        if len(lemmas) < 2 or min(w for _, w in lemmas) >= WEAK_SHARE:
            return frozenset(), frozenset()
        pos_of = {}
        for lemma, _, pos in self._parse(normal_word(surface)):
            pos_of.setdefault(lemma, pos)
        top = pos_of.get(lemmas[0][0])
        minor = {text for text, weight in lemmas[1:]
                 if weight < WEAK_SHARE and pos_of.get(text) not in (None, top)}
        by_context = {text for text in minor if top == "VERB" and pos_of[text] == "NOUN"}
        return frozenset(minor - by_context), frozenset(by_context)

    def _signals_verb(self, surface):
        """Whether the next word marks the one before as a verb (see WEAK_SHARE)."""
        tag = self._tag(surface)
        return (tag.POS in VERB_CONTEXT or tag.case == "ablt" or surface.isdigit()
                or normal_word(surface) in SUBJECT_WORDS
                or tag.case == "nomn" and (tag.POS in SUBJECT_POS
                                           or tag.POS in ("ADJF", "PRTF") and tag.number == "plur"))

    def _tag(self, surface):
        """The likeliest pymorphy3 tag of a word, cached."""
        key = WEAK_MARK + surface
        cached = self._weak.get(key)
        if cached is None:
            cached = self._weak.made(
                key, lambda: morph_analyzer().parse(normal_word(surface))[0].tag)
        return cached

    def _parse(self, word):
        """(lemma, score, part of speech) of each pymorphy3 parse of a lower-case word,
        cached: "Комбинат" and "комбинат" are two spellings (``terms``) but one parse
        (one in eight of the parses of 300 news articles was a case twin's)."""
        found = self._parses.get(word)
        if found is None:
            found = self._parses.made(word, lambda: _readings(word))
        return found

    def terms(self, surface):
        """The (text, kind, weight, part) terms of one word, cached.

        >>> MorphFilter().terms("Улан-Удэ")  # doctest: +NORMALIZE_WHITESPACE
        (('улан-удэ', 'lemma', 1.0, 0), ('=улан-удэ', 'exact', 1.0, 0),
         ('улан', 'part', 1.0, 1), ('=улан', 'exact', 1.0, 1),
         ('удэ', 'part', 1.0, 2), ('=удэ', 'exact', 1.0, 2))
        """
        cached = self._cache.get(surface)
        if cached is None:
            cached = self._cache.made(surface, lambda: tuple(self._analyze(surface)))
        return cached

    def _analyze(self, surface):
        word = normal_word(surface)
        if word in STOP_WORDS and not _is_acronym(surface):
            return
        for lemma, weight in self._lemmas(surface, word):
            yield lemma, "lemma", weight, 0
        yield EXACT_MARK + word, "exact", 1.0, 0
        parts = HYPHENS_RE.split(surface)
        if len(parts) > 1:
            for number, part in enumerate(parts, 1):
                part_word = normal_word(part)
                if part_word in STOP_WORDS and not _is_acronym(part):
                    continue
                for lemma, weight in self._lemmas(part, part_word):
                    yield lemma, "part", weight, number
                yield EXACT_MARK + part_word, "exact", 1.0, number

    def _lemmas(self, surface, word):
        if _is_acronym(surface) or not CYRILLIC_RE.search(word):
            yield word.replace(",", "."), 1.0
            return
        shares, pos_of = defaultdict(float), {}
        for lemma, score, pos in self._parse(word):
            shares[lemma] += score
            pos_of.setdefault(lemma, pos)
        ranked = sorted(shares.items(), key=lambda item: -item[1])
        top = ranked[0][1] or 1.0
        if surface[0].isupper() or self.policy == "all":
            kept = ranked[:MAX_NAME_LEMMAS] if self.policy != "all" else ranked
        elif self.policy == "top":
            kept = ranked[:1]
        else:
            seen_pos, kept = set(), []
            for lemma, share in ranked:
                if pos_of[lemma] not in seen_pos:
                    seen_pos.add(pos_of[lemma])
                    kept.append((lemma, share))
        for lemma, share in kept:
            yield lemma, round(share / top, 3)


# What a word's pymorphy3 readings are reduced to, by a reading's lemma and tag
# text: a part of speech is a set intersection each time a tag is asked for it
# (pymorphy3/tagset.py), and a lemma is shared by many of its forms. A few
# thousand tags (keyed by the tag's text, pymorphy3's ``_str``: ``str(tag)`` is a call
# more a reading); the lemmas kept like the analyser's own caches (``Recent``).
_POS_OF = {}
_LEMMA_WORDS = Recent(CACHE_SIZE)


def _readings(word):
    """(lemma, score, part of speech) of each pymorphy3 parse of a lower-case word.

    >>> _readings("стали")[:2]
    (('стать', 0.975342, 'VERB'), ('сталь', 0.010958, 'NOUN'))
    """
    readings = []
    for parse in morph_analyzer().parse(word):
        tag = parse.tag
        pos = _POS_OF.get(tag._str, _UNKNOWN)
        if pos is _UNKNOWN:
            pos = _POS_OF[tag._str] = tag.POS
        normal = parse.normal_form
        lemma = _LEMMA_WORDS.get(normal)
        if lemma is None:
            lemma = _LEMMA_WORDS.made(normal, lambda: normal_word(normal))
        readings.append((lemma, parse.score, pos))
    return tuple(readings)


def _is_acronym(surface):
    return 2 <= len(surface) <= ACRONYM_MAX_LEN and surface.isupper()


def russian_analyzer(policy=DEFAULT_POLICY):
    """The analyzer poisk attaches to its text fields.

    >>> [t.text for t in russian_analyzer()("редкоземельных металлов")]
    ['редкоземельный', '=редкоземельных', 'металл', '=металлов']
    """
    return WordTokenizer() | MorphFilter(policy=policy)


def analyze(text, analyzer=None):
    """(position, kind, term) for each term of ``text``: a readable view for tests and debugging.

    >>> analyze("Шойгу")
    [(0, 'lemma', 'шойгу'), (0, 'exact', '=шойгу')]
    """
    analyzer = analyzer or russian_analyzer()
    return [(t.pos, t.kind, t.text) for t in analyzer(text, positions=True)]


def split_words(text: str) -> tuple[list, list]:
    """The words of ``text`` as ``WORD_RE`` finds them, and the texts between them (one
    more than the words: gap i comes before word i), in one pass of the pattern.

    An article is split once when it is indexed: its words go to the analysis,
    the extracted fields and the story sketch, and the gaps give ``word_starts``.

    >>> split_words("Цены на сталь.")
    (['Цены', 'на', 'сталь'], ['', ' ', ' ', '.'])
    """
    parts = _SPLIT_RE.split(text)
    return parts[1::2], parts[0::2]


def word_starts(text, split=None):
    """The offset of each word of ``text`` (as the tokenizer counts words), packed for storing.

    Offsets are kept as differences in 16-bit numbers (two bytes a word); a text
    with a gap of 65,536 characters or more between two words gets ``None`` and
    is tokenized again when its words are highlighted. ``split``: the text's
    ``split_words``, if already made.

    >>> unpack_word_starts(word_starts("Цены на сталь"))
    [0, 5, 8]
    """
    words, gaps = split or split_words(text)
    # word i starts len(word i-1) + len(gap i) after word i-1 (the first: len(gap 0))
    deltas = list(map(add, map(len, gaps[:-1]), chain((0,), map(len, words))))
    if max(deltas, default=0) > 0xFFFF:
        return None
    return array("H", deltas).tobytes()


def unpack_word_starts(packed, count=None):
    """The first ``count`` (default: all) word offsets of ``word_starts``' output."""
    deltas = array("H")
    deltas.frombytes(packed)
    return list(accumulate(deltas[:count] if count is not None else deltas))


def word_spans(text, positions, starts=None):
    """(start, end) of the words of ``text`` at these token positions, as the tokenizer counts.

    ``starts`` is the text's ``word_starts``, stored with the article: it spares
    the tokenizing of the text up to the last position (about 1 ms on a long article).

    >>> word_spans("Цены на сталь", {0, 2})
    [(0, 4), (8, 13)]
    >>> word_spans("Цены на сталь", {0, 2}, word_starts("Цены на сталь"))
    [(0, 4), (8, 13)]
    """
    if not positions:
        return []
    last = max(positions)
    if starts is not None:
        offsets = unpack_word_starts(starts, last + 1)
        return [WORD_RE.match(text, offsets[p]).span() for p in sorted(positions)
                if p < len(offsets)]
    spans = []
    for position, match in enumerate(WORD_RE.finditer(text)):
        if position in positions:
            spans.append(match.span())
        if position >= last:
            break
    return spans


def find_words(analyzer, text, wanted, maybe=None):
    """(start, end) of each word of ``text`` whose terms, as ``analyzer`` makes them, are ``wanted``.

    ``wanted(terms)`` gets a word's (text, kind, weight, part) tuples and is asked
    once per distinct spelling; ``maybe(spelling)``, if given, is a cheap check
    that skips the analysis of a spelling that cannot be wanted. For poisk's own analyzer this runs its tokenizer's
    pattern and its filter's cached ``terms`` directly, without a Token per term,
    which makes highlighting several times cheaper; any other analyzer goes
    through its ordinary token stream.

    >>> find_words(russian_analyzer(), "ИИ и металлы", lambda terms: terms[0][0] == "металл")
    [(5, 12)]
    """
    items = getattr(analyzer, "items", ())
    if len(items) == 2 and type(items[0]) is WordTokenizer and isinstance(items[1], MorphFilter):
        # Decide each distinct spelling once, then find only the wanted ones:
        # an article repeats most of its words, and the second pass only tests
        # set membership.
        terms_of = items[1].terms
        hits = {surface for surface in set(WORD_RE.findall(text))
                if (maybe is None or maybe(surface)) and (terms := terms_of(surface))
                and wanted(terms)}
        if not hits:
            return []
        return [match.span() for match in WORD_RE.finditer(text) if match.group() in hits]
    by_word = {}
    for t in analyzer(text, chars=True, mode="index"):
        by_word.setdefault((t.startchar, t.endchar), []).append(
            (t.text, getattr(t, "kind", "lemma"), getattr(t, "weight", 1.0), getattr(t, "part", 0)))
    return [span for span, terms in by_word.items() if wanted(tuple(terms))]
