"""Finding listed names in an article by lemma: the engine behind the region and industry fields.

An article's words are taken once, in order, with the lemmas the index's own
analyzer gives them (its cache already holds most words, so extraction adds
little to indexing). A ``Lexicon`` of names, each a short phrase, finds every
place where a name's words follow one another, longest name first.

>>> lexicon = Lexicon([("Нижний Тагил", "Свердловская"), ("красноярский", "Красноярский")])
>>> [name.values for name in lexicon.find(Words("В Нижнем Тагиле и красноярские заводы"))]
[('Свердловская',), ('Красноярский',)]
"""

from dataclasses import dataclass

from indexer.analysis import WORD_RE, MorphFilter, normal_word

__all__ = ["Lexicon", "Name", "Words", "word_terms"]

# The first lemmas of every lexicon's names: a word that has none of them
# starts no name, and most words are dismissed by this one test. Replaced (not
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


class Words:
    """An article's words in order, and the lemmas they have that may start a listed name.

    Lemmas come from the analyzer's own cache (``word_terms``), looked up once
    per distinct spelling in the article; nothing else is kept per word.

    >>> words = Words("Угольщики Кузбасса")
    >>> words.item(1), "уголь" in words.lemmas
    ((True, frozenset({'кузбасс'})), False)
    """

    def __init__(self, text: str, terms=None):
        self.terms = terms or word_terms()
        self.surfaces = WORD_RE.findall(text)
        self.found = {}  # lexicon -> the names it found here (each lexicon looks once)
        self._starts = None
        self._starts_of = None  # the _first_lemmas they were found with
        self._lemmas = None

    def item(self, at: int) -> tuple:
        """The word at ``at`` as (capitalised, its lemmas and its compound parts' lemmas)."""
        surface = self.surfaces[at]
        lemmas = frozenset(t for t, kind, _, _ in self.terms(surface) if kind != "exact")
        # A stop word has no terms: it stands for itself, so a name can hold
        # one ("Подписаться на Москву", a channel's footer).
        return surface[0].isupper(), lemmas or frozenset((normal_word(surface),))

    @property
    def starts(self) -> dict:
        """Spelling -> its lemmas that start some listed name, whole-word lemmas first."""
        if self._starts is None or self._starts_of is not _first_lemmas:
            terms, firsts = self.terms, _first_lemmas
            self._starts, self._starts_of = {}, firsts
            for surface in set(self.surfaces):
                lemmas = [t for t, kind, _, _ in terms(surface) if t in firsts and kind != "exact"]
                if lemmas:
                    self._starts[surface] = lemmas
        return self._starts

    @property
    def lemmas(self) -> frozenset:
        """Every lemma of the article (for names that need context)."""
        if self._lemmas is None:
            self._lemmas = frozenset().union(*(self.item(at)[1]
                                               for at in range(len(self.surfaces))))
        return self._lemmas


@dataclass(frozen=True)
class Name:
    """A listed name: its words' lemmas, which of them must be capitalised, what it stands for
    (one value or several: "Донбасс"), and the lemmas one of which the article must hold for it
    to count (none: it always counts)."""

    lemmas: tuple
    proper: tuple
    values: tuple
    context: frozenset = frozenset()
    text: str = ""


def top_lemma(word: str, terms=None) -> str:
    """The most likely lemma of a word, as the analyzer gives it.

    >>> top_lemma("Тагиле")
    'тагил'
    """
    found = [t for t, kind, _, part in (terms or word_terms())(word)
             if kind == "lemma" and part == 0]
    return found[0] if found else normal_word(word)


class Lexicon:
    """Names (phrases of one to a few words) to find in ``Words``, each standing for a value.

    A capitalised word of a name matches only a capitalised word of the text;
    lower-case words match in any case. Entries are (text, value) or
    (text, value, context lemmas).
    """

    def __init__(self, entries, terms=None):
        merged = {}
        for entry in entries:
            text, value, context = (*entry, ())[:3]
            words = WORD_RE.findall(text)
            key = (tuple(top_lemma(w, terms) for w in words), tuple(w[0].isupper() for w in words),
                   frozenset(top_lemma(w, terms) for w in context))
            merged.setdefault(key, (text, []))[1].append(value)
        self.by_first = {}
        for (lemmas, proper, context), (text, values) in merged.items():
            name = Name(lemmas, proper, tuple(dict.fromkeys(values)), context, text)
            self.by_first.setdefault(lemmas[0], []).append(name)
        for names in self.by_first.values():
            names.sort(key=lambda n: -len(n.lemmas))  # longest first
        global _first_lemmas
        _first_lemmas = _first_lemmas | frozenset(self.by_first)

    def find(self, words: Words) -> list:
        """The names found, in text order; a word belongs to one name at most."""
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
        found, at, size = [], 0, len(words.surfaces)
        if starting:
            while at < size:
                names = starting.get(words.surfaces[at])
                name = names and next((n for n in names if self._matches(n, words, at)), None)
                if name:
                    found.append(name)
                    at += len(name.lemmas)
                else:
                    at += 1
        words.found[self] = found
        return found

    @staticmethod
    def _matches(name, words, at):
        size = len(name.lemmas)
        if at + size > len(words.surfaces):
            return False
        for k in range(1, size):
            capital, lemmas = words.item(at + k)
            if name.lemmas[k] not in lemmas or (name.proper[k] and not capital):
                return False
        return not name.context or bool(name.context & words.lemmas)
