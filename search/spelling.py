"""Typos: a word the index does not know, corrected from the index's own vocabulary.

Two sources of candidates, both checked against the index (a candidate must
have postings) and both through the index's analyzer, so a correction keeps
the word's morphology:

- *word forms*: every spelling one edit away from the typed word (a letter
  dropped, added, replaced or two swapped) that pymorphy3's dictionary knows as
  a form of some word (``сакнции`` -> ``санкции``, ``металов`` -> ``металлов``);
- *index words*, when no form is found: the index's own terms within two edits
  of the typed word or of pymorphy3's guess at its normal form, found in a
  symmetric-delete table (``Lexicon``, made once per index generation, within
  the query's time budget). This catches names and words pymorphy3 does not
  know (``Навальнй`` -> ``навальный``).

Candidates rank by edit cost minus a bonus for document frequency: a swap
costs 0.8, a replacement by a neighbouring key 0.7, any other edit 1.

The index is seen through a reader's ``doc_frequency(field, term)`` and a
lexicon's ``near(word, limit)``, so another engine gives the same corrections
with its own two objects.

>>> from indexer.analysis import russian_analyzer
>>> speller = Speller(CachedReader(sample_index._searcher().reader()), russian_analyzer())
>>> [c.text for c in speller.corrections("паладия")]
['палладия']
"""

import itertools
import math
import re
import threading
from dataclasses import dataclass

import numpy

from indexer.analysis import WORD_RE, morph_analyzer, normal_word
from search.budget import check_time

__all__ = ["CachedReader", "Candidate", "Lexicon", "LexiconCache", "LexiconReading", "Speller",
           "edit_distance"]

TEXT_FIELDS = ("headline", "body")
RUSSIAN = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
LATIN = "abcdefghijklmnopqrstuvwxyz"
KEYBOARD_ROWS = ("йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю",
                 "qwertyuiop", "asdfghjkl", "zxcvbnm")
SWAP_COST = 0.8        # "сакнции": the commonest slip of fast typing
NEIGHBOUR_COST = 0.7   # a key next to the right one
FREQUENCY_WEIGHT = 0.3  # per decade of document frequency, taken off the cost
CLEAR_MARGIN = 0.3     # the best candidate is "clear" this far ahead of the next
MIN_CHARS = 4          # shorter words are left alone: one edit makes another word
# Longer words are left alone too: the longest words of pymorphy3's dictionary have
# about 30 letters, and a word's edit neighbourhood grows with its length (a
# 900-letter "word" took 8 s and 1.4 GB, a 12,000-letter one over 8 GB).
MAX_CHARS = 40
MAX_CANDIDATES = 5
RESPELL_GAIN = 10      # a known but rare word is respelt only into a word this many times as common
CORRECTABLE_RE = re.compile(r"[а-яёa-z]+", re.IGNORECASE)
LEXICON_TERM_RE = re.compile(r"[а-яa-z]{3,30}")


def _neighbours():
    """Keys that touch on a staggered keyboard: same row +-1, the row above at c, c+1, below at c-1, c."""
    near = {}
    for rows in (KEYBOARD_ROWS[:3], KEYBOARD_ROWS[3:]):
        for r, row in enumerate(rows):
            for c, key in enumerate(row):
                around = {row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)}
                if r > 0:
                    around |= {rows[r - 1][i] for i in (c, c + 1) if i < len(rows[r - 1])}
                if r + 1 < len(rows):
                    around |= {rows[r + 1][i] for i in (c - 1, c) if 0 <= i < len(rows[r + 1])}
                near[key] = around
    return near


NEIGHBOURS = _neighbours()


def max_edits(word: str) -> int:
    """How many edits a word of this length may be corrected by (Elasticsearch's AUTO rule).

    >>> max_edits("руда"), max_edits("никель")
    (1, 2)
    """
    return 1 if len(word) < 6 else 2


def edits1(word: str):
    """(spelling, cost) for every single edit of a lower-case word.

    >>> edits = dict(edits1("кот"))
    >>> edits["окт"], edits["ко"], edits["кит"], edits["кто"], edits["коот"]
    (0.8, 1.0, 1.0, 0.8, 1.0)
    """
    alphabet = RUSSIAN if re.search("[а-я]", word) else LATIN
    for i in range(len(word)):
        yield word[:i] + word[i + 1:], 1.0
        if i + 1 < len(word) and word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2:], SWAP_COST
        for letter in alphabet:
            if letter != word[i]:
                cost = NEIGHBOUR_COST if letter in NEIGHBOURS.get(word[i], ()) else 1.0
                yield word[:i] + letter + word[i + 1:], cost
    for i in range(len(word) + 1):
        for letter in alphabet:
            yield word[:i] + letter + word[i:], 1.0


def edit_distance(a: str, b: str, limit: int = 2) -> float:
    """Weighted optimal-string-alignment distance (swaps and neighbouring keys cost less).

    >>> edit_distance("сакнция", "санкция"), edit_distance("никкль", "никель")
    (0.8, 0.7)
    """
    if abs(len(a) - len(b)) > limit:
        return float(limit + 1)
    previous2, previous = None, [float(j) for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current = [float(i)] + [0.0] * len(b)
        for j in range(1, len(b) + 1):
            if a[i - 1] == b[j - 1]:
                replace = 0.0
            else:
                replace = NEIGHBOUR_COST if b[j - 1] in NEIGHBOURS.get(a[i - 1], ()) else 1.0
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + replace)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + SWAP_COST)
        previous2, previous = previous, current
    return round(previous[-1], 3)


@dataclass(frozen=True)
class Candidate:
    """A correction: what to search instead, its edit cost and its document frequency."""

    text: str
    cost: float
    df: int

    @property
    def rank(self) -> float:
        """Lower is better: the edit cost less a bonus per decade of document frequency."""
        return self.cost - FREQUENCY_WEIGHT * math.log10(1 + self.df)


class CachedReader:
    """A Whoosh reader whose document frequencies are looked up once (in every segment).

    ``Speller`` reads an index through ``doc_frequency(field, term)`` (and
    ``Lexicon.of`` through ``leaf_readers()``); another engine gives an object with
    the same methods. Keep one per reader: a frequency looked up by one query is
    not looked up in every segment again by the next.

    >>> reader = CachedReader(sample_index._searcher().reader())
    >>> reader.doc_frequency("body", "никель"), reader.doc_frequency("body", "никкель")
    (4, 0)
    """

    MAX_CACHED = 200_000  # about 30 MB; the cache starts over when full

    def __init__(self, reader):
        self.reader = reader
        self._df = {}

    def doc_frequency(self, field: str, term: str) -> int:
        key = (field, term)
        df = self._df.get(key)
        if df is None:
            if len(self._df) >= self.MAX_CACHED:
                self._df.clear()
            df = self._df[key] = self.reader.doc_frequency(field, term)
        return df

    def leaf_readers(self):
        return self.reader.leaf_readers()

    def doc_count_all(self) -> int:
        return self.reader.doc_count_all()


class Lexicon:
    """The index's words (its terms) in a symmetric-delete table.

    Each term is filed under itself and every spelling with one letter deleted,
    so a lookup with up to two deletions of the query finds every term one edit
    away and most terms two edits away (all but two replacements, or two
    letters missing from the query), in a few dozen lookups.

    The table is two numpy arrays: the hash of each term with one letter
    deleted, sorted, and the term it came from. On the 27k-article mixed index
    (138,680 words, 1.14M deletions) a dict of lists of terms took 2.0 s of CPU
    and 240 MB to build; the arrays take 0.4 s and 14 MB. Python's string
    hash has 64 bits: two spellings sharing one would add a term that the
    edit distance then weighs like any other, about once in 10^13 lookups.

    >>> lexicon = Lexicon.of(sample_index._searcher().reader())
    >>> [term for term, _ in lexicon.near("никкль", 1)]
    ['никель']
    """

    def __init__(self, terms, hashes=None) -> None:
        """``hashes``, when already made: ``deletion_hashes(terms)`` of ``terms`` sorted and distinct."""
        self._sorted = sorted(set(terms)) if hashes is None else list(terms)
        self.terms = frozenset(self._sorted)
        if hashes is None:
            hashes = deletion_hashes(self._sorted)
        lengths = numpy.fromiter(map(len, self._sorted), numpy.int64, len(self._sorted))
        owners = numpy.repeat(numpy.arange(len(self._sorted), dtype=numpy.int32), lengths)
        order = numpy.argsort(hashes)
        self._hashes, self._owners = hashes[order], owners[order]

    @classmethod
    def of(cls, reader) -> "Lexicon":
        """The words of the text fields of a Whoosh reader (every segment), read whole.

        Only the term lists are read (no posting information): on the 8.9k-article
        bench index that is 164k terms from ten segments.
        """
        return LexiconReading().read(reader)

    def near(self, word: str, limit: int) -> list:
        """(term, cost) of the terms within ``limit`` edits of ``word`` (see above).

        Nothing for a word longer than ``MAX_CHARS``: its neighbourhood would cost
        seconds and gigabytes, and no term is near it.
        """
        if len(word) > MAX_CHARS:
            return []
        keys = {word}
        frontier = {word}
        for _ in range(limit):
            frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
            keys |= frontier
        found = keys & self.terms
        wanted = numpy.fromiter(map(hash, keys), numpy.int64, len(keys))
        starts = numpy.searchsorted(self._hashes, wanted, "left")
        ends = numpy.searchsorted(self._hashes, wanted, "right")
        for start, end in zip(starts.tolist(), ends.tolist()):
            found.update(self._sorted[n] for n in self._owners[start:end].tolist())
        costs = ((term, edit_distance(word, term, limit)) for term in found)
        return sorted((t, c) for t, c in costs if c <= limit)


def deletion_hashes(terms) -> "numpy.ndarray":
    """The hash of each term with one letter deleted: term by term, letter by letter.

    >>> list(deletion_hashes(["кот"])) == [hash("от"), hash("кт"), hash("ко")]
    True
    """
    count = sum(map(len, terms))
    return numpy.fromiter((hash(t[:i] + t[i + 1:]) for t in terms for i in range(len(t))),
                          numpy.int64, count)


class LexiconReading:
    """Makes a reader's ``Lexicon`` within the current search's time budget.

    On the mixed index reading the term lists costs 0.3 s of CPU (186k terms)
    and hashing the deletions 0.3 s. ``read`` raises ``SearchTimeout`` when the
    budget runs out and keeps what it has done: the next ``read`` (another
    search on the same index generation) goes on from there.

    >>> from search.budget import SearchTimeout, time_limit
    >>> reading, reader = LexiconReading(), sample_index._searcher().reader()
    >>> reading.CHUNK = 100
    >>> with time_limit(0):
    ...     reading.read(reader)
    Traceback (most recent call last):
    ...
    search.budget.SearchTimeout
    >>> whole = Lexicon.of(reader).terms
    >>> 0 < len(reading.words) < len(whole), reading.read(reader).terms == whole
    (True, True)
    """

    CHUNK = 4096  # terms between two looks at the clock

    def __init__(self) -> None:
        self.words = set()
        self.done = 0      # (segment, field) pairs read whole, in the reader's order
        self.last = None   # the last term read of the next pair
        self.sorted = None  # the words, once all are read
        self.hashed = []   # deletion_hashes of the first sorted words, a chunk each

    def read(self, reader) -> Lexicon:
        pairs = [(leaf, name) for leaf, _ in reader.leaf_readers()
                 for name in TEXT_FIELDS if name in leaf.schema]
        for leaf, name in pairs[self.done:]:
            terms = itertools.takewhile(lambda term, name=name: term[0] == name,
                                        leaf.terms_from(name, self.last or b""))
            while True:
                chunk = [text for _, text in itertools.islice(terms, self.CHUNK)]
                if chunk:
                    words = (raw.decode("utf-8") if isinstance(raw, bytes) else raw
                             for raw in chunk)
                    self.words.update(w for w in words if LEXICON_TERM_RE.fullmatch(w))
                    self.last = chunk[-1]
                if len(chunk) < self.CHUNK:
                    break
                check_time()  # after a chunk: every read gets somewhere
            self.done, self.last = self.done + 1, None
        if self.sorted is None:
            self.sorted, self.words = sorted(self.words), set()
        for start in range(self.CHUNK * len(self.hashed), len(self.sorted), self.CHUNK):
            self.hashed.append(deletion_hashes(self.sorted[start:start + self.CHUNK]))
            check_time()
        hashes = numpy.concatenate(self.hashed) if self.hashed else numpy.zeros(0, numpy.int64)
        return Lexicon(self.sorted, hashes)


class LexiconCache:
    """One ``Lexicon`` per index generation, read on first need by one thread at a time
    (a search that ran out of time leaves what it read to the next)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key, self._lexicon, self._reading = None, None, None

    def get(self, key, reader) -> Lexicon:
        with self._lock:
            if self._key != key:
                self._key, self._lexicon, self._reading = key, None, LexiconReading()
            if self._lexicon is None:
                self._lexicon = self._reading.read(reader)
                self._reading = None
            return self._lexicon


class Speller:
    """Corrections of query words against one index: its reader and analyzer.

    ``reader`` needs ``doc_frequency(field, term)`` (a ``CachedReader``, or another
    engine's equivalent); ``lexicon`` is a ``Lexicon`` (or anything with its
    ``near``) or a function that makes one when first needed (by default made from
    the reader, once per speller).
    """

    def __init__(self, reader, analyzer, lexicon=None) -> None:
        self.reader = reader
        self.analyzer = analyzer
        self._lexicon = lexicon if lexicon is not None else (lambda: Lexicon.of(reader))
        self._df = {}
        self._found = {}  # (word, known_below) -> corrections: the layout check asks twice

    @property
    def lexicon(self) -> Lexicon:
        if callable(self._lexicon):
            self._lexicon = self._lexicon()
        return self._lexicon

    def term_df(self, term: str) -> int:
        """Documents holding ``term`` in the headline or the body (the larger count)."""
        df = self._df.get(term)
        if df is None:
            df = self._df[term] = max(self.reader.doc_frequency(f, term) for f in TEXT_FIELDS)
        return df

    def word_df(self, word: str):
        """Documents holding the word in any form (its best term), or None for a stop word.

        >>> speller = Speller(CachedReader(sample_index._searcher().reader()),
        ...                   sample_index.analyzer)
        >>> speller.word_df("никеля"), speller.word_df("никкеля"), speller.word_df("на")
        (4, 0, None)
        """
        terms = [t.text for t in self.analyzer(word, mode="query") if t.kind != "exact"]
        return max(map(self.term_df, terms)) if terms else None

    def typed_df(self, word: str) -> int:
        """Documents holding the word as typed, as one whole word: none when the tokenizer
        splits it (``j,jcnhbk``, ``,`` typed for ``б``, is not known for ``j``) or
        only its parts are known (``Pfgfl-2017`` for ``2017``). The "as typed" side of
        the layout decision.

        >>> speller = Speller(CachedReader(sample_index._searcher().reader()),
        ...                   sample_index.analyzer)
        >>> [(speller.word_df(w), speller.typed_df(w)) for w in ("Rusal", "Rusal,ybr", "Rusal-2")]
        [(3, 3), (3, 0), (3, 0)]
        """
        if not WORD_RE.fullmatch(word):
            return 0
        terms = [t.text for t in self.analyzer(word, mode="query")
                 if t.kind == "lemma" and t.part == 0]
        return max(map(self.term_df, terms), default=0)

    def corrections(self, word: str, known_below: int = 1) -> list:
        """Candidates for a word in fewer than ``known_below`` documents (default: unknown), best first.

        With the default, a word pymorphy3's dictionary knows is never a typo. For a
        word the index knows, only candidates ``RESPELL_GAIN`` times as frequent count.
        """
        key = (word, known_below)
        if key not in self._found:
            self._found[key] = self._corrections(word, known_below)
        return self._found[key]

    def _corrections(self, word, known_below):
        df = self.word_df(word) if correctable(word) else None
        if df is None or df >= known_below:
            return []
        lower = normal_word(word)
        if known_below == 1 and morph_analyzer().word_is_known(lower):
            return []  # a real word the index lacks ("ёлка") is not a typo: offered, not forced
        found = {}
        for form, cost in edits1(lower):
            if morph_analyzer().word_is_known(form):
                self._consider(found, _recase(form, word), cost)
        if not found:
            # Names and words pymorphy3 does not know: the index's own terms. This
            # needs the lexicon, made once per index generation (0.9 s of CPU on the mixed index).
            limit = max_edits(lower)
            guesses = {lower, *(normal_word(p.normal_form) for p in morph_analyzer().parse(lower))}
            for guess in sorted(guesses):  # a set: its order would vary between runs
                for term, cost in self.lexicon.near(guess, limit):
                    self._consider(found, _recase(term, word), cost)
        ranked = sorted((c for c in found.values() if c.df >= RESPELL_GAIN * df),
                        key=lambda c: (c.rank, c.text))
        return ranked[:MAX_CANDIDATES]

    def similar(self, word: str, limit: int) -> list:
        """Index terms within ``limit`` edits of the word or of its lemmas: ``word~``.

        >>> speller = Speller(CachedReader(sample_index._searcher().reader()),
        ...                   sample_index.analyzer)
        >>> [c.text for c in speller.similar("уголь", 1)]
        ['уголь', 'угол']
        """
        found = {}
        for term in {t.text for t in self.analyzer(word, mode="query") if t.kind == "lemma"} \
                | {normal_word(word)}:
            for near, cost in self.lexicon.near(term, limit):
                if near not in found or cost < found[near].cost:
                    found[near] = Candidate(near, cost, self.term_df(near))
        return sorted((c for c in found.values() if c.df), key=lambda c: (c.rank, c.text))

    def _consider(self, found, text, cost):
        """Keep the cheapest spelling of each distinct set of terms (никеля ~ никель)."""
        terms = frozenset(t.text for t in self.analyzer(text, mode="query") if t.kind != "exact")
        if not terms or (terms in found and found[terms].cost <= cost):
            return
        df = max(map(self.term_df, terms))
        if df:
            found[terms] = Candidate(text, cost, df)


def correctable(word: str) -> bool:
    """Letters only, long enough, and not an acronym (``ESG``, ``ГЭС`` stay as typed).

    >>> [correctable(w) for w in ("сакнции", "ESG", "Ан-124", "ток", "никель" * 10)]
    [True, False, False, False, False]
    """
    return MIN_CHARS <= len(word) <= MAX_CHARS and bool(CORRECTABLE_RE.fullmatch(word)) and not word.isupper()


def is_clear(candidates: list) -> bool:
    """One candidate, or the best well ahead of the next: search it without asking."""
    return len(candidates) == 1 or (
        len(candidates) > 1 and candidates[1].rank - candidates[0].rank >= CLEAR_MARGIN)


def _recase(text: str, like: str) -> str:
    return text[:1].upper() + text[1:] if like[:1].isupper() else text
