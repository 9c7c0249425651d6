"""One story once: near-duplicate articles found by a MinHash sketch of their lemma shingles.

Each article's body is read as its words' lemmas (the index's own analyzer,
first lemma of each word, stop words dropped); every run of ``SHINGLE``
lemmas is a shingle. The sketch is a bottom-k MinHash (Broder 1997): the
``SKETCH_SIZE`` smallest 32-bit hashes of the article's shingles. Two
sketches estimate the Jaccard similarity of the two shingle sets (exactly,
for articles shorter than the sketch). Two articles tell the same story when
that similarity reaches ``THRESHOLD`` and their dates are at most
``MAX_DAYS`` apart.

The sketch is computed at index time, in the process that writes the
article, by the ``StoryField`` of the index schema: its column holds the
sketch, and its terms are the sketch's ``KEYS`` smallest hashes, so the
articles that may share a story with one article are one query away.

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
import heapq
import struct

from whoosh import columns, formats
from whoosh.fields import FieldType

__all__ = ["KEYS", "MAX_DAYS", "SHINGLE", "SKETCH_SIZE", "THRESHOLD", "StoryField",
           "candidate_keys", "lemma_words", "same_story", "similarity", "sketch_of"]

SHINGLE = 3        # lemmas per shingle
SKETCH_SIZE = 128  # hashes kept per article (bottom-k); 512 bytes in the column
KEYS = 8           # smallest hashes indexed as terms, to find candidates
THRESHOLD = 0.3    # estimated Jaccard similarity of the shingle sets
MAX_DAYS = 1       # dated articles further apart are different stories

_PACK = struct.Struct(">I")


def lemma_words(text: str, analyzer) -> list:
    """The first lemma of each word of ``text``, as ``analyzer`` indexes it (stop words dropped).

    >>> from indexer.analysis import russian_analyzer
    >>> lemma_words("ЦБ повысил ставку до 21%", russian_analyzer())
    ['цб', 'повысить', 'ставка', '21']
    """
    words, last = [], None
    for token in analyzer(text, positions=True, mode="index"):
        if token.pos != last and getattr(token, "kind", "lemma") == "lemma":
            words.append(token.text)
            last = token.pos
    return words


def sketch_of(words) -> tuple:
    """The bottom-k MinHash sketch of the shingles of a sequence of words: sorted hashes.

    >>> len(sketch_of(["a", "b", "c", "d"])), sketch_of([])
    (2, ())
    """
    if not words:
        return ()
    shingles = {" ".join(words[n:n + SHINGLE])
                for n in range(max(1, len(words) - SHINGLE + 1))}
    hashes = {int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "big")
              for s in shingles}
    return tuple(heapq.nsmallest(SKETCH_SIZE, hashes))


def similarity(a: tuple, b: tuple) -> float:
    """The Jaccard similarity of two articles' shingle sets, estimated from their sketches.

    The bottom-k estimator: of the k smallest hashes of both sketches
    together, the share found in each.

    >>> similarity((1, 2, 3), (2, 3, 4)), similarity((), (1,))
    (0.5, 0.0)
    """
    if not a or not b:
        return 0.0
    union = heapq.nsmallest(SKETCH_SIZE, set(a) | set(b))
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


def same_story(a: tuple, b: tuple, a_date: datetime.date | None = None,
               b_date: datetime.date | None = None) -> bool:
    """True when two articles (sketch, date) tell the same story.

    Articles that share none of their candidate keys are not compared: that is
    how ``poisk show --similar`` finds them, and it keeps grouping a page cheap.

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


def candidate_keys(sketch: tuple) -> list:
    """The terms that find an article's possible duplicates: its ``KEYS`` smallest hashes.

    Two articles whose shingle sets overlap by a share J share at least one
    with probability about 1 - (1 - J) ** KEYS (0.94 at J = 0.3).

    >>> candidate_keys((10, 255, 4096))
    ['0000000a', '000000ff', '00001000']
    """
    return [f"{h:08x}" for h in sketch[:KEYS]]


def pack(sketch: tuple) -> bytes:
    """The sketch as the column stores it (4 bytes a hash).

    >>> unpack(pack((1, 2 ** 32 - 1)))
    (1, 4294967295)
    """
    return b"".join(_PACK.pack(h) for h in sketch)


def unpack(raw: bytes) -> tuple:
    return tuple(h for (h,) in _PACK.iter_unpack(raw or b""))


class StoryField(FieldType):
    """A Whoosh field that takes an article's text and keeps its story sketch.

    Its terms are the sketch's candidate keys; its column holds the whole
    sketch. The sketch is made in the writing process, with the analyzer of
    the text fields (whose cache the body has just warmed).
    """

    def __init__(self, analyzer):
        super().__init__(formats.Existence(), analyzer, sortable=columns.VarBytesColumn())
        self._last = (None, ())

    def __getstate__(self):
        # Whoosh pickles the schema into the index: keep the last sketch out.
        return dict(self.__dict__, _last=(None, ()))

    def _sketch(self, text):
        # index() and to_column_value() get the same value one after the other.
        if self._last[0] is not text:
            self._last = (text, sketch_of(lemma_words(text, self.analyzer)))
        return self._last[1]

    def index(self, value, **kwargs):
        for key in candidate_keys(self._sketch(value)):
            yield key.encode("ascii"), 1, 1.0, b""

    def to_column_value(self, value):
        return pack(self._sketch(value))

    def from_column_value(self, value):
        return unpack(value)

    def process_text(self, qstring, mode="", **kwargs):
        return iter([qstring])
