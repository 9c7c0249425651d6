"""Finding listed names in an article by lemma: the engine behind the region and industry fields.

An article's words are taken once, in order, with the lemmas the index's own
analyzer gives them (its cache already holds most words, so extraction adds
little to indexing). A ``Lexicon`` of names, each a short phrase, finds every
place where a name's words follow one another, longest name first.

>>> lexicon = Lexicon([("Нижний Тагил", "Свердловская"), ("красноярский", "Красноярский")])
>>> [name.values for name in lexicon.find(Words("В Нижнем Тагиле и красноярские заводы"))]
[('Свердловская',), ('Красноярский',)]

Two-word names that share their last word also match coordinated: "над Брянской,
Тульской и Тверской областями" names all three ``X область``.
"""

from dataclasses import dataclass
from itertools import compress, count

import functools
import re

from indexer.analysis import WORD_RE, MorphFilter, morph_analyzer, normal_word, split_words

__all__ = ["Lexicon", "Name", "Words", "word_terms"]

# Words that join coordinated names: "Брянской, Московской и Смоленской областями".
CONJUNCTIONS = frozenset(("и", "или", "а", "также"))
# At most this many words between a coordinated name's first word and its last
# (nine regions and their conjunction in a list of drone reports).
MAX_COORDINATED = 12
# Feminine singular adjective endings, and the nouns such a list may leave out.
FEMININE = ("ая", "ой", "ую", "ей")
ELLIPTIC = frozenset(("область",))
# Adjective endings: a capitalised adjective before a street's noun names the street even
# where its lemmas include a town's ("на Кузнецком мосту" is in Moscow, not Кузнецк).
ADJECTIVE = ("ий", "ый", "ой", "ая", "яя", "ое", "ее", "ого", "его", "ому", "ему", "ом", "ем",
             "ую", "юю", "ей")
# Endings no form of a town in -ск has (Петровск, -а, -у, -ом, -е), only its adjective's: a
# capitalised "Петровский пассаж", "Мариинского театра", "Октябрьской революции" is no town.
ADJECTIVE_ONLY = ("ий", "ый", "ой", "ая", "яя", "ое", "ее", "ого", "его", "ому", "ему", "ую",
                  "юю", "ые", "ие", "ых", "их", "ым", "им", "ей")
# "-ом" after these is the adjective too ("в Петровском пассаже"): the town's is "в Петровске".
LOCATIVE = frozenset(("в", "во", "на", "о", "об", "при"))
# ... also after "и"/"или" if one of them comes at most this many words before.
LIST_BACK = 4
# A compound adjective whose first part ends in "-ско" joins two names: a relation
# ("российско-китайский") or an honorary title ("Севастопольско-Феодосийский полк"), not a
# place; its parts' lemmas would otherwise name the first place. (A name that is the whole
# compound still counts: Приморско-Ахтарск.)
COMPOUND_RE = re.compile(r"\w+ско-\w", re.IGNORECASE)

# "дома" at most this many words after a club's quoted name: a home match ("Московский
# «Локомотив» в матче 21-го тура чемпионата России дома сыграл вничью").
HOME_WITHIN = 10

# Guillemets and curly quotes open and close a name: «Тосно» is a football club, «Вечерняя
# Москва» a newspaper. Straight quotes are left alone: they do not say which side they are.
QUOTES_RE = re.compile(r"[«»“”„]")
OPENING = frozenset("«„“")
# Ranks and titles written before a surname: "генерала Суровикина" is a man, not Суровикино.
RANKS = frozenset(("генерал", "генерал-полковник", "генерал-лейтенант", "генерал-майор",
                   "полковник", "подполковник", "майор", "капитан", "лейтенант", "адмирал",
                   "маршал", "сержант", "господин", "г-н"))

# The first lemmas of every lexicon's names, and the lemmas their contexts ask
# for: a word that has none of them starts no name and is no name's context;
# most words are dismissed by this one test. Replaced (not
# changed) when a lexicon is loaded, so an article's words made before that
# see that their start lemmas are out of date.
_first_lemmas = frozenset()

_default_filter = None


def word_terms(analyzer=None):
    """A function word -> its (text, kind, weight, part) terms: the analyzer's cached one.

    >>> word_terms()("Норильске")[0][:2]
    ('норильск', 'lemma')
    """
    global _default_filter
    for item in getattr(analyzer, "items", ()):
        if isinstance(item, MorphFilter):
            return item.terms
    if _default_filter is None:
        _default_filter = MorphFilter()
    return _default_filter.terms


# Spellings known to start no listed name, per terms function (analyzer) and
# set of first lemmas; forgotten past IDLE_SIZE spellings, as the analyzer's cache.
_idle = {}
IDLE_SIZE = 200_000


def _idle_spellings(terms, firsts) -> set:
    owner = getattr(terms, "__self__", terms)
    entry = _idle.get(id(owner))
    if entry is None or entry[0] is not owner or entry[1] is not firsts \
            or len(entry[2]) > IDLE_SIZE:
        entry = _idle[id(owner)] = (owner, firsts, set())
    return entry[2]


class Words:
    """An article's words in order, and the lemmas they have that may start a listed name.

    Lemmas come from the analyzer's own cache (``word_terms``), looked up once
    per distinct spelling in the article; nothing else is kept per word.

    >>> words = Words("Угольщики Кузбасса")
    >>> words.item(1), words.has(frozenset({"уголь"}))
    ((True, frozenset({'кузбасс'})), False)
    """

    def __init__(self, text: str, terms=None, body: str | None = None, splits=()):
        self.terms = terms or word_terms()
        # quoted: the position of the first word inside a quote -> the position after its last
        self.surfaces, self.quoted = [], {}
        # splits: the texts' split_words, if made already (add_extracted)
        self._split(text, splits[0] if splits else None)
        # With a body, ``text`` is the headline: the body's words follow its own.
        self.body_from = len(self.surfaces)
        if body is not None:
            self._split(body, splits[1] if splits else None)
        self.found = {}  # lexicon -> the names it found here (each lexicon looks once)
        self._starts = None
        self._starts_of = None  # the _first_lemmas they were found with
        self._places = None  # (the starts they were found with, positions)

    def _split(self, text: str, split=None) -> None:
        words, gaps = split or split_words(text)
        first = len(self.surfaces)
        self.surfaces += words
        if not QUOTES_RE.search(text):  # most texts
            return
        # The quotes are in the gaps between the words: gap i comes before word i.
        opened = None
        for at in compress(count(), map(QUOTES_RE.search, gaps)):
            for mark in QUOTES_RE.findall(gaps[at]):
                if mark in OPENING and not (mark == "“" and opened is not None):  # „name“
                    opened = first + at
                elif opened is not None:
                    self.quoted[opened] = first + at
                    opened = None

    def item(self, at: int) -> tuple:
        """The word at ``at`` as (capitalised, its lemmas and its compound parts' lemmas)."""
        surface = self.surfaces[at]
        return surface[0].isupper(), self._item_lemmas(surface)

    def _item_lemmas(self, surface: str) -> frozenset:
        lemmas = frozenset(t for t, kind, _, _ in self.terms(surface) if kind != "exact")
        # A stop word has no terms: it stands for itself, so a name can hold
        # one ("Москва и область").
        return lemmas or frozenset((normal_word(surface),))

    @property
    def starts(self) -> dict:
        """Spelling -> its lemmas that start some listed name, whole-word lemmas first."""
        if self._starts is None or self._starts_of is not _first_lemmas:
            terms, firsts = self.terms, _first_lemmas
            self._starts, self._starts_of = {}, firsts
            idle = _idle_spellings(terms, firsts)
            # Most spellings were seen before and start nothing: a set difference
            # leaves the rest to look at (extraction cost 16% of indexing -> ~9%).
            for surface in set(self.surfaces).difference(idle):
                lemmas = [t for t, kind, _, _ in terms(surface) if t in firsts and kind != "exact"]
                if lemmas:
                    self._starts[surface] = lemmas
                else:
                    idle.add(surface)
        return self._starts

    @property
    def places(self) -> list:
        """The positions of the words that may start a listed name (a few in a hundred)."""
        starts = self.starts
        if self._places is None or self._places[0] is not starts:
            # compress/map: the loop over every word runs in C (3 times faster than a
            # list comprehension, measured)
            self._places = (starts, list(compress(count(), map(starts.__contains__,
                                                               self.surfaces))))
        return self._places[1]

    def has(self, wanted: frozenset) -> bool:
        """Whether some word of the article has one of these lemmas: a listed name's context
        (a lexicon adds its context lemmas to the lemmas ``starts`` looks for).

        >>> Words("Угольщики Кузбасса").has(frozenset({"кузбасс", "алмаз"}))
        True
        """
        return any(not wanted.isdisjoint(lemmas) for lemmas in self.starts.values())


@dataclass(frozen=True)
class Name:
    """A listed name: its words' lemmas, which of them must be capitalised, what it stands for
    (one value or several: "Донбасс"), the lemmas one of which the article must hold for it
    to count (none: it always counts), and the lemmas one of which the word just before it
    must have (none: any word; "в Москве" is the city, "решение Москвы" the state); and the
    negations of both: lemmas none of which the article may hold, or the word before have."""

    lemmas: tuple
    proper: tuple
    values: tuple
    context: frozenset = frozenset()
    text: str = ""
    after: frozenset = frozenset()
    unless: frozenset = frozenset()
    not_after: frozenset = frozenset()


def _person(words: Words, at: int) -> bool:
    """Whether the word at ``at`` comes before a surname: a first name, a patronymic or a rank
    ("Сергей Суровикин", "генерала Суровикина"). Not an initial: "С." and "В" sentence-initial
    read alike once the full stop is gone."""
    surface = words.surfaces[at]
    return (not words.item(at)[1].isdisjoint(RANKS)
            or surface[0].isupper() and _first_name(surface))


@functools.lru_cache(maxsize=20_000)
def _first_name(surface: str) -> bool:
    """Whether pymorphy3's likeliest reading of a word is a first name or a patronymic."""
    tag = morph_analyzer().parse(surface)[0].tag
    return "Name" in tag or "Patr" in tag


def top_lemma(word: str, terms=None) -> str:
    """The most likely lemma of a word, as the analyzer gives it.

    >>> top_lemma("Тагиле")
    'тагил'
    """
    found = [t for t, kind, _, part in (terms or word_terms())(word)
             if kind == "lemma" and part == 0]
    return found[0] if found else normal_word(word)


def _split(words, lemma) -> tuple:
    """("алмаз", "!договор") -> (frozenset({"алмаз"}), frozenset({"договор"})), as lemmas."""
    return (frozenset(lemma(w) for w in words if not w.startswith("!")),
            frozenset(lemma(w[1:]) for w in words if w.startswith("!")))


class Lexicon:
    """Names (phrases of one to a few words) to find in ``Words``, each standing for a value.

    A capitalised word of a name matches only a capitalised word of the text;
    lower-case words match in any case. Entries are (text, value),
    (text, value, context lemmas) or (text, value, context lemmas, lemmas one of
    which the word before the name must have); a lemma written "!лемма" in either
    is one that must not be there.
    """

    def __init__(self, entries, terms=None, not_before=(), features=(), time_words=(),
                 places=()):
        # A lexicon of places: a name that fills a quote is an organisation's («Тосно», a club)
        # unless one of these words comes before it (КПП «Верхний Ларс»), and a name after a
        # first name, a rank or an initial is a surname (генерал Суровикин, not Суровикино);
        # an adjective before a quoted name qualifies that organisation ("московского
        # «Спартака»") unless в/на/о/при come before it ("в московском «Крокусе»") or "дома"
        # after it (a home match).
        self.places = frozenset(places)
        # A one-word lower-case name (an adjective) followed by one of these is
        # some other thing's name: "на Карельском бульваре" is a street of Moscow.
        self.not_before = frozenset(not_before)
        # A one-word name of either case followed by one of these names a feature
        # or a species: "Балтийское море" ("Балтийском" is also a form of Балтийск).
        self.features = frozenset(features)
        # A name after "по" after a number or one of these words is a time zone:
        # "в 19:17 по Москве", "в 10 часов по Екатеринбургу".
        self.time_words = frozenset(time_words)
        merged = {}
        for entry in entries:
            text, value, context, after = (*entry, (), ())[:4]
            words = WORD_RE.findall(text)
            key = (tuple(top_lemma(w, terms) for w in words), tuple(w[0].isupper() for w in words),
                   *_split(context, lambda w: top_lemma(w, terms)), *_split(after, normal_word))
            merged.setdefault(key, (text, []))[1].append(value)
        self.by_first = {}
        for (lemmas, proper, context, unless, after, not_after), (text, values) in merged.items():
            name = Name(lemmas, proper, tuple(dict.fromkeys(values)), context, text, after,
                        unless, not_after)
            self.by_first.setdefault(lemmas[0], []).append(name)
        for names in self.by_first.values():
            names.sort(key=lambda n: -len(n.lemmas))  # longest first
        global _first_lemmas
        _first_lemmas = _first_lemmas | frozenset(self.by_first).union(
            *(n.context | n.unless for names in self.by_first.values() for n in names))

    def find(self, words: Words) -> list:
        """The names found, in text order; a word belongs to one name at most."""
        return [name for _, name in self.find_at(words)]

    def find_at(self, words: Words) -> list:
        """(position of its first word, name) of every name found, in text order."""
        found = words.found.get(self)
        if found is not None:
            return found
        starting = {}
        for surface, lemmas in words.starts.items():
            capital = surface[0].isupper()
            names = [n for lemma in lemmas for n in self.by_first.get(lemma, ())
                     if capital or not n.proper[0]]
            if names:
                starting[surface] = names
        found, free = [], 0  # free: the first word no name found so far holds
        if starting:
            # Only the places where a name may start are visited (a few in a hundred words).
            for at in words.places:
                if at < free or words.surfaces[at] not in starting:
                    continue
                for name in starting[words.surfaces[at]]:
                    step = self._matches(name, words, at)
                    if step:
                        found.append((at, name))
                        free = at + step
                        break
        words.found[self] = found
        return found

    def _matches(self, name, words, at) -> int:
        """How many words the name takes at ``at`` (0: it is not there)."""
        if name.context and not words.has(name.context):
            return 0
        if name.unless and words.has(name.unless):
            return 0
        before = words.item(at - 1)[1] if at else frozenset()
        if (name.after and not before & name.after) or before & name.not_after:
            return 0
        size = len(name.lemmas)
        if at + size > len(words.surfaces):
            return 0
        if size == 1 and at + 1 < len(words.surfaces):
            following = words.item(at + 1)[1]
            if following & self.features or following & self.not_before and (
                    not name.proper[0] or words.surfaces[at].endswith(ADJECTIVE)):
                return 0
        if size == 1 and name.proper[0] and name.lemmas[0].endswith("ск") and (
                words.surfaces[at].endswith(ADJECTIVE_ONLY)
                or words.surfaces[at].endswith("ом") and self._locative(words, at)):
            return 0
        if size == 1 and self.places and "-" not in name.lemmas[0] \
                and COMPOUND_RE.match(words.surfaces[at]):
            return 0
        if self.time_words and at > 1 and "по" in before and (
                words.surfaces[at - 2][0].isdigit() or words.item(at - 2)[1] & self.time_words):
            return 0
        if self.places and (words.quoted.get(at) == at + size and not before & self.places
                            or size == 1 and name.proper[0] and at and _person(words, at - 1)
                            or size == 1 and not name.proper[0] and at + 1 in words.quoted
                            and not before & LOCATIVE and not self._at_home(words, at + 1)):
            return 0
        for k in range(1, size):
            capital, lemmas = words.item(at + k)
            if name.lemmas[k] not in lemmas or (name.proper[k] and not capital):
                return 1 if size == 2 and self._coordinated(name, words, at + k) else 0
        return size

    @staticmethod
    def _at_home(words, at) -> bool:
        """Whether the quoted name at ``at`` plays at home: "Московский «Локомотив» дома
        проиграл" places the match in the club's city ("дома" within HOME_WITHIN words)."""
        after = words.quoted[at]
        return "дома" in (w.lower() for w in words.surfaces[after:after + HOME_WITHIN])

    @staticmethod
    def _locative(words, at) -> bool:
        """Whether the word at ``at`` follows в/на/о/при, or closes a list that one opens:
        "в подмосковных Люберцах и Октябрьском" is the settlement Октябрьский, not Октябрьск."""
        for k in range(at - 1, max(at - 1 - LIST_BACK, -1), -1):
            lemmas = words.item(k)[1]
            if lemmas & LOCATIVE:
                return True
            if k == at - 1 and not lemmas & CONJUNCTIONS:
                return False
        return False

    def _coordinated(self, name, words, at) -> bool:
        """Whether ``at`` starts a list of first words of names ending like ``name`` (or
        conjunctions) that ends in that last word: "Тульской и Тверской областями"."""
        last, members = name.lemmas[-1], [words.surfaces[at - 1]]
        for k in range(at, min(at + MAX_COORDINATED, len(words.surfaces))):
            lemmas = words.item(k)[1]
            if last in lemmas:
                return k > at
            if lemmas & CONJUNCTIONS:
                continue
            if not any(n.lemmas[1:] == (last,) for lemma in lemmas
                       for n in self.by_first.get(lemma, ())):
                break
            members.append(words.surfaces[k])
        # A list of adjectives in the feminine singular with no noun after them
        # stands for that noun: "над Брянской, Московской и Смоленской — по два".
        return len(members) > 1 and last in ELLIPTIC and all(
            w.endswith(FEMININE) for w in members)
