"""The query language, parsed into a small tree that knows nothing of the storage engine.

Plain words match any form; ``"..."`` is a phrase (``"..."~3`` allows three
words between), ``=word`` an exact form, ``word*`` a prefix; ``AND OR NOT``
(or ``И ИЛИ НЕ``), parentheses and ``-word``; fields ``title:``, ``source:``,
``tag:``, ``date:2025-11-01..2025-11-30``. The parser is lenient: a stray
quote, parenthesis or operator is read as well as it can be, never fatal.
Only a query with nothing to search for, or a date it cannot read, is an error.

>>> parse_query('никель -"медный завод" date:2026-03')  # doctest: +NORMALIZE_WHITESPACE
Loose(items=(Word(text='никель', field=None, exact=False, prefix=False),
             Not(item=Phrase(words=('медный', 'завод'), slop=0, field=None))),
      required=(DateRange(start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 31)),))
"""

import calendar
import datetime
import re
from dataclasses import dataclass

from indexer.errors import QuerySyntaxError
from indexer.fields import filter_fields

__all__ = [
    "AllOf", "AnyOf", "DateRange", "Everything", "FieldValue", "Loose", "Not",
    "Phrase", "Word", "parse_query", "parse_date_bound",
]

MAX_QUERY_CHARS = 2000

# Field names as users type them -> the field they mean.
TEXT_FIELDS = {"title": "headline", "headline": "headline", "заголовок": "headline",
               "body": "body", "text": "body", "текст": "body"}
VALUE_FIELDS = {**filter_fields(), "id": "id"}
DATE_FIELDS = {"date", "дата"}
OPERATORS = {"AND": "AND", "И": "AND", "OR": "OR", "ИЛИ": "OR", "NOT": "NOT", "НЕ": "NOT"}
QUOTES = {'"': '"', "«": "»", "„": "“", "“": "”"}


@dataclass(frozen=True)
class Word:
    """One word: any form (``exact=False``), that form only, or a prefix."""
    text: str
    field: str | None = None
    exact: bool = False
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words in this order, ``slop`` extra words allowed between neighbours."""
    words: tuple
    slop: int = 0
    field: str | None = None


@dataclass(frozen=True)
class FieldValue:
    """An exact value of a keyword field (source, tags, id)."""
    field: str
    value: str


@dataclass(frozen=True)
class DateRange:
    """Dates from ``start`` to ``end`` inclusive; either may be open (None)."""
    start: datetime.date | None
    end: datetime.date | None


@dataclass(frozen=True)
class Everything:
    """``*``: every document (useful with filters)."""


@dataclass(frozen=True)
class Not:
    item: object


@dataclass(frozen=True)
class AllOf:
    """Explicit AND: every item must match."""
    items: tuple


@dataclass(frozen=True)
class AnyOf:
    """Explicit OR."""
    items: tuple


@dataclass(frozen=True)
class Loose:
    """Words side by side: ranked by how many match; ``required`` must match, ``Not`` items must not."""
    items: tuple
    required: tuple = ()



TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<quote>["«„“])
  | (?P<text>[^\s()"«»„“”]+)
  | (?P<stray>[»”])
""", re.VERBOSE)


def parse_query(text):
    """Parse a query string into a tree of the dataclasses above.

    >>> parse_query("металл OR =металлов")
    AnyOf(items=(Word(text='металл', field=None, exact=False, prefix=False), Word(text='металлов', field=None, exact=True, prefix=False)))
    """
    if not isinstance(text, str):
        raise QuerySyntaxError("the query must be text")
    if len(text) > MAX_QUERY_CHARS:  # cut at a space, never inside a word
        cut = text.rfind(" ", 0, MAX_QUERY_CHARS)
        text = text[:cut if cut > 0 else MAX_QUERY_CHARS]
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    parser = _Parser(_lex(text))
    tree = parser.parse()
    if tree is None:
        raise QuerySyntaxError("empty query: type some words to search for (or * for everything)")
    return tree


def _lex(text):
    """Tokens: ("open"|"close"|"op"|"phrase"|"text", value, extra)."""
    tokens, at = [], 0
    while at < len(text):
        match = TOKEN_RE.match(text, at)
        kind, value = match.lastgroup, match.group()
        at = match.end()
        if kind == "quote":
            closing = QUOTES[value]
            end = text.find(closing, at)
            end = len(text) if end < 0 else end  # an unclosed quote runs to the end
            phrase, at = text[at:end], end + 1
            slop = re.match(r"~(\d{1,3})", text[at:])
            if slop:
                at += slop.end()
            tokens.append(("phrase", phrase, int(slop.group(1)) if slop else 0))
        elif kind == "text" and value in OPERATORS:
            tokens.append(("op", OPERATORS[value], None))
        elif kind in ("open", "close", "text"):
            tokens.append((kind, value, None))
    return tokens


class _Parser:
    """Recursive descent with recovery: or := and (OR and)*; and := unary (AND? unary)*."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.at = 0
        self.depth = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else (None, None, None)

    def take(self):
        token = self.peek()
        self.at += 1
        return token

    def parse(self):
        items = []
        while self.at < len(self.tokens):
            item = self.parse_or()
            if item is not None:
                items.append(item)
            elif self.peek()[0] in ("close", "op"):
                self.take()  # a stray ")" or a dangling operator: skip it
        return _loose(items)

    def parse_or(self):
        left = self.parse_and()
        options = [left] if left is not None else []
        while self.peek() == ("op", "OR", None):
            self.take()
            right = self.parse_and()
            if right is not None:
                options.append(right)
        if len(options) > 1:
            return AnyOf(tuple(_unwrap(o) for o in options))
        return options[0] if options else None

    def parse_and(self):
        loose, strict = [], None
        while True:
            kind, value, _ = self.peek()
            if kind is None or kind == "close" or (kind, value) == ("op", "OR"):
                break
            if (kind, value) == ("op", "AND"):
                self.take()
                right = _unwrap(self.parse_unary())
                if right is not None and loose:
                    left = _unwrap(loose.pop())
                    strict = AllOf((*(left.items if isinstance(left, AllOf) else (left,)), right))
                    loose.append(strict)
                elif right is not None:
                    loose.append(right)
                continue
            item = self.parse_unary()
            if item is None:
                if self.peek()[0] == "op":
                    continue
                break
            loose.append(item)
        return _loose(loose)

    def parse_unary(self):
        kind, value, extra = self.peek()
        if (kind, value) == ("op", "NOT"):
            self.take()
            item = _unwrap(self.parse_unary())
            return Not(item) if item is not None else None
        if kind == "op":
            return None
        if kind == "open":
            self.take()
            self.depth += 1
            inner = self.parse_or() if self.depth < 50 else None
            self.depth -= 1
            if self.peek()[0] == "close":
                self.take()
            return inner
        if kind == "phrase":
            self.take()
            return _phrase(value, extra, None)
        if kind == "text":
            self.take()
            return self.parse_text(value)
        return None

    def parse_text(self, value):
        negate, require = value.startswith("-"), value.startswith("+")
        if negate or require:
            value = value[1:]
        name, colon, rest = value.partition(":")
        if not value:
            # "-" or "+" right before a phrase or a group: -"медный завод"
            item = self.parse_unary() if self.peek()[0] in ("phrase", "open") else None
        elif colon and (name.lower() in TEXT_FIELDS or name.lower() in VALUE_FIELDS
                        or name.lower() in DATE_FIELDS):
            item = self.parse_field(name.lower(), rest)
        else:
            item = _word(value, None)
        if item is None:
            return None
        if negate:
            return Not(item)
        return _Required(item) if require else item

    def parse_field(self, name, rest):
        if not rest and self.peek()[0] == "phrase":
            _, phrase, slop = self.take()
            rest, quoted = phrase, (phrase, slop)
        else:
            quoted = None
        if name in DATE_FIELDS:
            return _date_range(rest)
        if not rest.strip():
            return None
        if name in VALUE_FIELDS:
            return FieldValue(VALUE_FIELDS[name], rest.strip())
        if quoted:
            return _phrase(quoted[0], quoted[1], TEXT_FIELDS[name])
        return _word(rest, TEXT_FIELDS[name])


@dataclass(frozen=True)
class _Required:
    """``+word``: a side-by-side item that every hit must match."""
    item: object


def _unwrap(item):
    return item.item if isinstance(item, _Required) else item


def _word(value, field):
    exact = value.startswith("=")
    value = value.lstrip("=")
    prefix = value.endswith("*")
    value = value.rstrip("*")
    if not value:
        return Everything() if prefix and not exact else None
    return Word(value, field, exact=exact, prefix=prefix)


def _phrase(text, slop, field):
    words = tuple(text.split())
    if not words:
        return None
    if len(words) == 1:
        return _word(words[0], field)
    return Phrase(words, slop, field)


def _loose(items):
    """Group side-by-side items; unwrap a group of one."""
    plain, required = [], []
    for item in items:
        if isinstance(item, _Required):
            required.append(item.item)
        elif isinstance(item, DateRange):
            required.append(item)
        else:
            plain.append(item)
    if not plain and not required:
        return None
    if len(plain) == 1 and not required:
        return plain[0]
    if not plain and len(required) == 1 and not isinstance(required[0], DateRange):
        return required[0]
    return Loose(tuple(plain), tuple(required))


def _date_range(text):
    text = text.strip()
    if ".." in text:
        first, _, last = text.partition("..")
        start = parse_date_bound(first, end=False) if first else None
        end = parse_date_bound(last, end=True) if last else None
    else:
        start, end = parse_date_bound(text, end=False), parse_date_bound(text, end=True)
    if start and end and start > end:
        raise QuerySyntaxError(f"date range {text!r} ends before it starts")
    return DateRange(start, end)


def parse_date_bound(text, end=False):
    """A day, month or year as a date: its first day, or its last when ``end``.

    >>> parse_date_bound("2026-02", end=True)
    datetime.date(2026, 2, 28)
    >>> parse_date_bound("2024-11-31")
    Traceback (most recent call last):
    ...
    indexer.errors.QuerySyntaxError: no such date '2024-11-31': November 2024 has 30 days
    """
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text.strip())
    try:
        if not match:
            raise ValueError
        year, month, day = match.group(1), match.group(2), match.group(3)
        year = int(year)
        month = int(month) if month else (12 if end else 1)
        if not 1 <= month <= 12:
            raise QuerySyntaxError(f"no such date {text!r}: a month is 01 to 12")
        last_day = calendar.monthrange(year, month)[1]
        if day and not 1 <= int(day) <= last_day:
            raise QuerySyntaxError(f"no such date {text!r}: {calendar.month_name[month]} "
                                   f"{year} has {last_day} days")
        return datetime.date(year, month, int(day) if day else (last_day if end else 1))
    except ValueError:
        raise QuerySyntaxError(
            f"cannot read the date {text!r}: use YYYY-MM-DD, YYYY-MM or YYYY, "
            "and A..B for a range") from None
