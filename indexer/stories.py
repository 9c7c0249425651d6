"""One story once: near-duplicate articles found by a MinHash sketch of their lemma shingles.

Each article's body is read as its words' lemmas (the index's own analyzer,
first lemma of each word, stop words dropped); every run of ``SHINGLE``
lemmas is a shingle. The sketch is a bottom-k MinHash (Broder 1997): the
``SKETCH_SIZE`` smallest 32-bit hashes of the article's shingles. A shingle's
hash is computed from its lemmas' numbers (``lemma_id``, each lemma hashed
once) with numpy, the same in every process and Python version. Two
sketches estimate the Jaccard similarity of the two shingle sets (exactly,
for articles shorter than the sketch). Two articles tell the same story when
that similarity reaches ``THRESHOLD`` and their dates are at most
``MAX_DAYS`` apart.

The sketch is computed at index time, in the process that writes the
article, by the ``StoryField`` of the index schema, and kept in a column.
It indexes no terms: the sketch's smallest hashes as terms, to find an
article's candidates by query, cost 6-10% of indexing speed on Telegram
posts (measured); ``search.api.Index.similar`` compares the articles of
the same days instead.

Chosen on 440 hand-labelled pairs of Telegram posts (bench/stories.py,
bench/story-pairs.tsv): lemma 3-shingles, threshold 0.3 and one day gave
precision 0.963 and recall 0.563; without the date rule precision was 0.741
(the same template news, "отражена атака беспилотника", on different days).

>>> a = sketch_of("цб повысить ключевой ставка 19 21".split())  # 4 shingles
>>> b = sketch_of("цб повысить ключевой ставка 19 21 подписаться".split())  # and 1 more
>>> similarity(a, b), same_story(a, b)
(0.8, True)
"""

import datetime
import hashlib
import struct

import numpy as np
from whoosh import columns, formats
from whoosh.fields import FieldType

from indexer.analysis import WORD_RE, MorphFilter, WordTokenizer

__all__ = ["KEYS", "MAX_DAYS", "SHINGLE", "SKETCH_SIZE", "THRESHOLD", "StoryField",
           "first_lemmas", "lemma_id", "lemma_words", "packed_sketch", "same_story", "similarity",
           "sketch_of"]

SHINGLE = 3        # lemmas per shingle (_bottom_k combines three numbers)
SKETCH_SIZE = 128  # hashes kept per article (bottom-k); 512 bytes in the column
KEYS = 8           # articles sharing none of their smallest hashes are not compared
THRESHOLD = 0.3    # estimated Jaccard similarity of the shingle sets
MAX_DAYS = 1       # dated articles further apart are different stories

_PACK = struct.Struct(">I")


def lemma_words(text: str, analyzer) -> list:
    """The first lemma of each word of ``text``, as ``analyzer`` indexes it (stop words dropped).

    >>> from indexer.analysis import russian_analyzer
    >>> lemma_words("ЦБ повысил ставку до 21%", russian_analyzer())
    ['цб', 'повысить', 'ставка', '21']
    """
    morph = _own_morph(analyzer)
    if morph is not None:
        # poisk's own analyzer: its cached terms of each word, without a Token
        # per term (68 against 113 microseconds a Telegram post, measured),
        # each spelling looked up once (a long article repeats half its words).
        # A word's first term is its most likely lemma; a stop word has none.
        return first_lemmas(WORD_RE.findall(text), morph)
    words, last = [], None
    for token in analyzer(text, positions=True, mode="index"):
        if token.pos != last and getattr(token, "kind", "lemma") == "lemma":
            words.append(token.text)
            last = token.pos
    return words


def _own_morph(analyzer) -> MorphFilter | None:
    """The MorphFilter of poisk's own analyzer (``WordTokenizer() | MorphFilter()``), else None."""
    items = getattr(analyzer, "items", ())
    if len(items) == 2 and type(items[0]) is WordTokenizer and isinstance(items[1], MorphFilter):
        return items[1]
    return None


# Spelling -> its first lemma ("" for a stop word), per MorphFilter, forgotten
# past FIRST_SIZE spellings.
_firsts = {}
FIRST_SIZE = 200_000


def _first_lemmas(morph) -> dict:
    entry = _firsts.get(id(morph))
    if entry is None or entry[0] is not morph or len(entry[1]) > FIRST_SIZE:
        entry = _firsts[id(morph)] = (morph, {})
    return entry[1]


def first_lemmas(words: list, morph: MorphFilter) -> list:
    """The first lemma of each of ``words`` (spellings) as ``morph`` gives it, stop words dropped.

    >>> first_lemmas(["ЦБ", "повысил", "ставку", "до", "21"], MorphFilter())
    ['цб', 'повысить', 'ставка', '21']
    """
    first = _first_lemmas(morph)
    for word in set(words).difference(first):  # a set difference: most were seen before
        terms = morph.terms(word)
        first[word] = terms[0][0] if terms else ""
    return [lemma for lemma in map(first.__getitem__, words) if lemma]


# Spelling -> the number (lemma_id) of its first lemma, 0 for a stop word, per
# MorphFilter; and lemma -> its number. Forgotten past FIRST_SIZE entries.
_spelling_ids = {}
_lemma_ids = {}


def lemma_id(lemma: str) -> int:
    """A lemma's number for the story hashes: the first 8 bytes of the BLAKE2b digest of its
    UTF-8 (never Python's ``hash()``, which each process salts), 1 for a digest of 0 (0 marks a
    stop word).

    >>> lemma_id("ставка")
    11122945782947875866
    """
    number = _lemma_ids.get(lemma)
    if number is None:
        if len(_lemma_ids) > FIRST_SIZE:
            _lemma_ids.clear()
        digest = hashlib.blake2b(lemma.encode("utf-8"), digest_size=8).digest()
        number = _lemma_ids[lemma] = int.from_bytes(digest, "big") or 1
    return number


def packed_sketch(words: list, morph: MorphFilter) -> bytes:
    """The sketch of an article's body words (spellings) as the story column stores it: made
    where the article's words are already split for the extracted fields
    (``indexer.fields.add_extracted``), so the body is not split again.

    Each spelling's lemma number is cached (one dictionary lookup a word, which is most of
    the cost); the sketch equals ``sketch_of(first_lemmas(words, morph))``.

    >>> morph = MorphFilter()
    >>> words = "ЦБ повысил ключевую ставку до 21%".split()
    >>> unpack(packed_sketch(words, morph)) == sketch_of(first_lemmas(words, morph))
    True
    """
    entry = _spelling_ids.get(id(morph))
    if entry is None or entry[0] is not morph or len(entry[1]) > FIRST_SIZE:
        entry = _spelling_ids[id(morph)] = (morph, {})
    ids = entry[1]
    for word in set(words).difference(ids):  # most were seen before
        terms = morph.terms(word)
        ids[word] = lemma_id(terms[0][0]) if terms else 0
    numbers = np.fromiter(map(ids.__getitem__, words), dtype=np.uint64, count=len(words))
    return _bottom_k(numbers[numbers != 0]).astype(">u4").tobytes()  # as pack() writes it


def sketch_of(words) -> tuple:
    """The bottom-k MinHash sketch of the shingles of a sequence of words: sorted hashes.

    >>> len(sketch_of(["a", "b", "c", "d"])), sketch_of([])
    (2, ())
    >>> sketch_of(["цб", "повысить", "ставка"])  # the same in every process and version
    (1391533845,)
    """
    numbers = np.fromiter(map(lemma_id, words), dtype=np.uint64, count=len(words))
    return tuple(_bottom_k(numbers).tolist())


# A shingle's hash: its three lemma numbers combined with odd multipliers (so
# the order counts), then MurmurHash3's 64-bit finaliser; the top 32 bits.
# numpy's uint64 arithmetic wraps modulo 2**64, as the finaliser wants. With
# each spelling's number cached, the sketches of 600 news articles took 0.19
# CPU s against 0.55 with a BLAKE2b digest of each shingle's bytes (measured),
# which had been a third of extraction's cost.
_MIX = tuple(np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F))
_FMIX = tuple(np.uint64(c) for c in (33, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 32))


def _bottom_k(numbers: np.ndarray) -> np.ndarray:
    """The ``SKETCH_SIZE`` smallest shingle hashes of a sequence of lemma numbers, sorted."""
    if not len(numbers):
        return np.zeros(0, np.uint32)
    if len(numbers) < SHINGLE:  # one shingle of the whole, padded with 0 (no lemma's number)
        numbers = np.concatenate([numbers, np.zeros(SHINGLE - len(numbers), np.uint64)])
    shift, first, second, top = _FMIX
    h = numbers[:-2] * _MIX[0] + numbers[1:-1] * _MIX[1] + numbers[2:]
    h ^= h >> shift
    h *= first
    h ^= h >> shift
    h *= second
    h ^= h >> shift
    return np.unique((h >> top).astype(np.uint32))[:SKETCH_SIZE]


def similarity(a: tuple, b: tuple) -> float:
    """The Jaccard similarity of two articles' shingle sets, estimated from their sketches.

    The bottom-k estimator: of the k smallest hashes of both sketches
    together, the share found in each.

    >>> similarity((1, 2, 3), (2, 3, 4)), similarity((), (1,))
    (0.5, 0.0)
    """
    if not a or not b:
        return 0.0
    union = sorted(set(a) | set(b))[:SKETCH_SIZE]  # heapq.nsmallest's answer, in C
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


def same_story(a: tuple, b: tuple, a_date: datetime.date | None = None,
               b_date: datetime.date | None = None) -> bool:
    """True when two articles (sketch, date) tell the same story.

    Articles that share none of their ``KEYS`` smallest hashes are not compared
    (the same story shares one with probability about 1 - (1 - J) ** KEYS,
    0.94 at J = 0.3): that keeps grouping a page cheap.

    >>> day = datetime.date(2024, 11, 18)
    >>> same_story((1, 2, 3), (1, 2, 3), day, day), same_story((1, 2, 3), (1, 2, 3), day,
    ...                                                         day + datetime.timedelta(days=2))
    (True, False)
    """
    if a_date and b_date and abs((a_date - b_date).days) > MAX_DAYS:
        return False
    if set(a[:KEYS]).isdisjoint(b[:KEYS]):
        return False
    return similarity(a, b) >= THRESHOLD


def pack(sketch: tuple) -> bytes:
    """The sketch as the column stores it (4 bytes a hash).

    >>> unpack(pack((1, 2 ** 32 - 1)))
    (1, 4294967295)
    """
    return struct.pack(f">{len(sketch)}I", *sketch)


def unpack(raw: bytes) -> tuple:
    return tuple(h for (h,) in _PACK.iter_unpack(raw or b""))


class StoryField(FieldType):
    """A Whoosh field that takes an article's text and keeps its story sketch in a column.

    The sketch is made in the writing process, with the analyzer of the text
    fields (whose cache the body has just warmed). The field indexes and
    stores nothing else.
    """

    indexed = False

    def __init__(self, analyzer):
        super().__init__(formats.Existence(), analyzer, sortable=columns.VarBytesColumn())

    def to_column_value(self, value):
        if isinstance(value, bytes):  # made by packed_sketch with the extracted fields
            return value
        morph = _own_morph(self.analyzer)
        if morph is not None:
            return packed_sketch(WORD_RE.findall(value), morph)
        return pack(sketch_of(lemma_words(value, self.analyzer)))

    def from_column_value(self, value):
        return unpack(value)

