"""Snippets: the best fragments of an article around the matched words, with their offsets.

The matched words are the ones the index's own analyzer turned into a query
term (so ``металл`` highlights ``металлов`` and ``металлами``). Usually they
are read back from the index: the term's postings hold the word positions the
analyzer gave it at indexing time, and the tokenizer maps positions to
character offsets. Exact forms and prefixes, which the index does not hold as
such, run the analyzer over the stored text instead. Either way the result is
character offsets into the original text; rendering (terminal colour, plain
markers, HTML) is a separate, final step.
"""

import html
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable

from indexer.analysis import find_words, word_spans
from indexer.errors import PoiskError
from search.postings import term_positions

__all__ = ["Snippet", "Span", "body_snippets", "find_matches", "indexed_matches", "make_snippets",
           "page_positions", "pieces", "render", "repeated_headline_end"]

FRAGMENT_CHARS = 180    # target fragment length
LEAD_CHARS = 50         # context kept before the first match of a fragment
MAX_FRAGMENTS = 3
SEPARATOR = " … "

STYLES = {
    "ansi": ("\x1b[1;33m", "\x1b[0m"),
    "plain": ("[", "]"),
}


@dataclass(frozen=True)
class Span:
    """A highlighted stretch, as offsets into the original text.

    >>> text = "выпуск металлов"
    >>> span = Span(7, 15)
    >>> text[span.start:span.end]
    'металлов'
    """

    start: int
    end: int


@dataclass(frozen=True)
class Snippet:
    """A fragment of the original text: ``text == original[start:end]``, highlights inside it.

    >>> Snippet(0, 6, "Никель", (Span(0, 6),)).marked()
    '[Никель]'
    """

    start: int
    end: int
    text: str
    highlights: tuple[Span, ...] = ()

    def marked(self, before: str = "[", after: str = "]",
               escape: Callable[[str], str] | None = None) -> str:
        """The fragment's text with each highlight wrapped in ``before``/``after``."""
        escape = escape or (lambda s: s)
        return "".join(before + escape(piece) + after if matched else escape(piece)
                       for piece, matched in pieces(self.text, self.highlights, self.start))


def pieces(text: str, spans: Iterable[Span], offset: int = 0) -> list[tuple[str, bool]]:
    """``text`` cut at the highlights: (piece, matched) pairs, for any way of marking them.

    ``spans`` are offsets into the original text, of which ``text`` starts at ``offset``.

    >>> pieces("выпуск металлов", (Span(7, 15),))
    [('выпуск ', False), ('металлов', True)]
    """
    out, at = [], 0
    for span in spans:
        start, end = span.start - offset, span.end - offset
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if at < len(text):
        out.append((text[at:], False))
    return out


def find_matches(text, analyzer, terms, prefixes=(), maybe=None):
    """Spans of the words in ``text`` whose analysis yields one of ``terms`` (or starts with a prefix).

    ``maybe``: a cheap check of a spelling before it is analysed (``indexer.analysis.find_words``).

    >>> from indexer.analysis import russian_analyzer
    >>> text = "Экспорт металлов и металлами"
    >>> [text[s.start:s.end] for s in find_matches(text, russian_analyzer(), {"металл"})]
    ['металлов', 'металлами']
    """
    prefixes = tuple(prefixes)

    def wanted(word_terms):
        return any(term in terms or (prefixes and kind != "exact" and term.startswith(prefixes))
                   for term, kind, _, _ in word_terms)

    return [Span(start, end) for start, end in find_words(analyzer, text, wanted, maybe)]


def indexed_matches(reader, docnum, field, text, terms, starts=None):
    """Spans of the words of ``text``, stored in ``field`` of document ``docnum``, that the
    index holds under one of ``terms`` (``starts``: the text's stored ``word_starts``).

    >>> reader = sample_index._searcher().reader()
    >>> docnum = next(reader.postings("id", "data/sibir-business/2026-02-10-tyva-litiy-sp").all_ids())
    >>> body = reader.stored_fields(docnum)["body"]
    >>> [body[s.start:s.end] for s in indexed_matches(reader, docnum, "body", body, {"шойгу"})]
    ['Шойгу', 'Шойгу', 'Шойгу']
    """
    positions = page_positions(reader, [docnum], (field,), terms)[docnum, field]
    return [Span(start, end) for start, end in word_spans(text, positions, starts)]


def page_positions(reader, docnums, fields, terms):
    """{(docnum, field): word positions} of ``terms`` in a page of documents.

    Each term's postings are opened once per segment that holds a page
    document and read forward through the page in document order, so a
    posting block is decoded at most once and only for the documents shown.

    >>> reader = sample_index._searcher().reader()
    >>> docnum = next(reader.postings("id", "data/sibir-business/2026-02-10-tyva-litiy-sp").all_ids())
    >>> sorted(page_positions(reader, [docnum], ("headline", "body"), {"шойгу"}))[0][1]
    'body'
    """
    found = defaultdict(set)
    for leaf, base in reader.leaf_readers():
        end = base + leaf.doc_count_all()
        local = sorted(n - base for n in docnums if base <= n < end)
        for field in fields if local else ():
            for term in terms:
                for n, positions in term_positions(leaf, field, term, local):
                    found[base + n, field].update(positions)
    return found


def repeated_headline_end(headline, body):
    """Where the body goes on after opening with its own headline (Telegram posts), else 0.

    >>> repeated_headline_end("Посол скончался.", "Посол скончался.\\nВрачи не успели.")
    17
    >>> repeated_headline_end("Посол", "Посольство закрыто.")
    0
    """
    headline = headline.strip()
    if not headline or not body.startswith(headline):
        return 0
    at = len(headline)
    if at < len(body) and not body[at].isspace():
        return 0
    while at < len(body) and body[at].isspace():
        at += 1
    return at if at < len(body) else 0


def body_snippets(headline, body, matches):
    """``make_snippets`` of the body, leaving out a first line that repeats the headline.

    >>> [s.text for s in body_snippets("Посол скончался.", "Посол скончался.\\nВрачи не успели.", [])]
    ['Врачи не успели.']
    """
    begin = repeated_headline_end(headline, body)
    if begin:
        matches = [m for m in matches if m.start >= begin]
    return make_snippets(body, matches, begin=begin)


def make_snippets(text, matches, max_fragments=MAX_FRAGMENTS, size=FRAGMENT_CHARS, begin=0):
    """Up to ``max_fragments`` fragments, richest in distinct matched words first, in text order.

    Fragments start at ``begin`` or later.

    >>> text = "Руда. " * 30 + "Завод выпустил никель. " + "Конец. " * 30
    >>> at = text.index("никель")
    >>> [s.marked() for s in make_snippets(text, [Span(at, at + 6)], size=60)]
    ['Завод выпустил [никель]. Конец. Конец. Конец. Конец. Конец.']
    """
    if not matches:
        end = _word_end(text, min(len(text), begin + size))
        return (Snippet(begin, end, text[begin:end]),) if text[begin:] else ()
    words = [text[m.start:m.end].lower() for m in matches]
    chosen, used = [], set()
    for _ in range(max_fragments):
        best = _best_window(text, matches, words, used, size, begin)
        if best is None:
            break
        start, end, inside = best
        used.update(inside)
        chosen.append((start, end, inside))
    chosen.sort()
    return tuple(Snippet(start, end, text[start:end], tuple(matches[i] for i in inside))
                 for start, end, inside in _merge(chosen))


def _best_window(text, matches, words, used, size, begin=0):
    """The window richest in distinct unused matches (then in unused matches), in one pass.

    A window starts shortly before an unused match and holds the matches that
    end within ``size`` characters of its start; the windows of successive
    matches slide forward, so each match enters and leaves the running counts once.
    """
    best, best_score = None, 0.0
    window = _Window(words)  # the unused matches among matches[i:j]
    j = 0
    for i, first in enumerate(matches):
        if i and i - 1 < j and i - 1 not in used:
            window.move(i - 1, -1)
        j = max(j, i)
        if i in used:
            continue
        start = _word_start(text, max(begin, first.start - LEAD_CHARS), first.start, begin)
        limit = start + size
        while j < len(matches) and matches[j].end <= limit:
            if j not in used:
                window.move(j, 1)
            j += 1
        while j > i and matches[j - 1].end > limit:  # a window that starts before the last
            j -= 1
            if j not in used:
                window.move(j, -1)
        score = window.distinct + 0.1 * window.total
        if score > best_score:
            best, best_score = (i, j, start, limit), score
    if best is None:
        return None
    i, j, start, limit = best
    inside = [k for k in range(i, j) if k not in used]
    end = _word_end(text, max(matches[inside[-1]].end, min(len(text), limit)))
    return start, end, inside


class _Window:
    """Running counts of the matched words inside a sliding window."""

    def __init__(self, words):
        self.words, self.counts = words, defaultdict(int)
        self.distinct = self.total = 0

    def move(self, match, step):
        word = self.words[match]
        before = self.counts[word]
        self.counts[word] = before + step
        self.total += step
        self.distinct += (before == 0) - (before + step == 0)


def _merge(chosen):
    merged = []
    for start, end, inside in chosen:
        if merged and start <= merged[-1][1]:
            previous = merged.pop()
            start, end, inside = previous[0], max(end, previous[1]), previous[2] + inside
        merged.append((start, end, sorted(set(inside))))
    return merged


def _word_start(text, at, match_start, begin=0):
    """Move ``at`` forward to the start of a word (or a sentence), never past the match."""
    if at <= begin:
        return begin
    sentence = text.rfind(". ", at, match_start)
    if sentence >= 0:
        return sentence + 2
    space = text.find(" ", at, match_start)
    return space + 1 if space >= 0 else match_start


def _word_end(text, at):
    """Move ``at`` back to the end of a word, so a fragment never ends mid-word."""
    if at >= len(text):
        return len(text)
    space = text.rfind(" ", 0, at + 1)
    return space if space > 0 else at


def render(snippets: Iterable[Snippet], style: str = "plain") -> str:
    """Fragments joined by " … ", matches marked for a terminal ("ansi"), a pipe ("plain") or HTML.

    >>> render((Snippet(0, 8, "Металлов", (Span(0, 8),)),), "html")
    '<mark>Металлов</mark>'
    >>> render((), "markdown")
    Traceback (most recent call last):
    ...
    indexer.errors.PoiskError: unknown style 'markdown': use one of html, ansi, plain
    """
    if style == "html":
        parts = [s.marked("<mark>", "</mark>", escape=html.escape) for s in snippets]
    else:
        if style not in STYLES:
            raise PoiskError(f"unknown style {style!r}: use one of html, {', '.join(STYLES)}")
        before, after = STYLES[style]
        parts = [s.marked(before, after) for s in snippets]
    return SEPARATOR.join(" ".join(p.split()) for p in parts)
