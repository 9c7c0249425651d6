"""The query language, parsed into a small tree that knows nothing of the storage engine.

Plain words match any form; ``"..."`` is a phrase (``"..."~3`` allows three
words between), ``=word`` an exact form, ``word*`` a prefix; ``AND OR NOT``
(or ``И ИЛИ НЕ``), parentheses and ``-word``; text fields ``title:`` and
``body:`` (also on a group: ``title:(нефть OR газ)``); filters ``source:``,
``tag:``, ``date:2025-11-01..2025-11-30``, which every hit must pass and which
never score. The parser is lenient: a stray quote, parenthesis or operator is
read as well as it can be, never fatal. A query with nothing to search for, an
unknown field or a date it cannot read is an error.

>>> parse_query('никель -"медный завод" date:2026-03')  # doctest: +NORMALIZE_WHITESPACE
Loose(items=(Word(text='никель', field=None, exact=False, prefix=False),
             Not(item=Phrase(words=('медный', 'завод'), slop=0, field=None))),
      required=(DateRange(start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 31)),))
"""

import calendar
import dataclasses
import datetime
import re
from dataclasses import dataclass
from typing import Callable

from indexer.errors import QuerySyntaxError
from indexer.fields import FIELDS as INDEX_FIELDS

__all__ = [
    "AllOf", "Alternatives", "AnyOf", "DateRange", "Everything", "FieldValue", "FilterField",
    "Loose", "Not",
    "Phrase", "Word", "add_filters", "filter_nodes", "is_filter", "parse_query",
    "parse_date_bound",
]

MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class FilterField:
    """A keyword field that filters: hits must carry the value; it never scores.

    ``multi``: a document carries several values (tags), so repeated filters
    of the field mean all of them; of a one-value field (source) any of them.
    The filter fields are those of ``indexer.fields.FIELDS`` marked ``filter``
    (a new one, such as a region, is one entry there), and ``id``.
    """
    field: str
    names: tuple
    multi: bool = False
    lowercase: bool = True
    # A value as typed -> as indexed: "Кузбасс" -> "кемеровская область — кузбасс".
    normalize: Callable[[str], str] | None = None


FILTER_FIELDS = (
    *(FilterField(spec.name, spec.aliases, multi=spec.kind == "keywords",
                  normalize=spec.filter_term)
      for spec in INDEX_FIELDS if spec.filter),
    FilterField("id", ("id",), lowercase=False),  # ids are matched as written
)

# Field names as users type them -> the field they mean.
TEXT_FIELDS = {"title": "headline", "headline": "headline", "заголовок": "headline",
               "body": "body", "text": "body", "текст": "body"}
VALUE_FIELDS = {name: spec.field for spec in FILTER_FIELDS for name in spec.names}
DATE_FIELDS = ("date", "дата")
KNOWN_FIELDS = (*TEXT_FIELDS, *VALUE_FIELDS, *DATE_FIELDS)
# "name:rest" with a name of letters is meant as a field ("sourse:mash");
# "10:30", "https://..." and a word before a colon ("Итоги:") are words.
FIELD_RE = re.compile(r"([^\W\d_]+):(?!//)(\S.*)", re.DOTALL)
OPERATORS = {"AND": "AND", "И": "AND", "OR": "OR", "ИЛИ": "OR", "NOT": "NOT", "НЕ": "NOT"}
QUOTES = {'"': '"', "«": "»", "„": "“", "“": "”"}


@dataclass(frozen=True)
class Word:
    """One word: any form (``exact=False``), that form only, or a prefix.

    ``fuzzy`` (``word~``, ``word~2``): also words this many edits away (search.rewrite).
    """
    text: str
    field: str | None = None
    exact: bool = False
    prefix: bool = False
    fuzzy: int = dataclasses.field(default=0, repr=False)


@dataclass(frozen=True)
class Phrase:
    """Words in this order, ``slop`` extra words allowed between neighbours."""
    words: tuple
    slop: int = 0
    field: str | None = None


@dataclass(frozen=True)
class FieldValue:
    """An exact value of a filter field (source, tags, id), normalised as the index stores it.

    >>> FieldValue("tags", " Металлургия ")
    FieldValue(field='tags', value='металлургия')
    """
    field: str
    value: str

    def __post_init__(self):
        spec = next((f for f in FILTER_FIELDS if f.field == self.field), None)
        if spec is None:
            raise QuerySyntaxError(f"{self.field!r} is not a filter field")
        value = str(self.value).strip()
        if spec.normalize:
            value = spec.normalize(value)
        object.__setattr__(self, "value", value.lower() if spec.lowercase else value)


@dataclass(frozen=True)
class DateRange:
    """Dates from ``start`` to ``end`` inclusive; either may be open (None)."""
    start: datetime.date | None
    end: datetime.date | None


@dataclass(frozen=True)
class Alternatives:
    """An item and other names for it (synonyms, fuzzy spellings): the best match counts,
    a match of the others at ``weight``. Made by search.rewrite, not by the parser."""
    item: object
    others: tuple
    weight: float = 0.5


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
            if isinstance(item, Not):  # NOT NOT x is x
                return item.item
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
        field = FIELD_RE.fullmatch(value)
        if not value:
            # "-" or "+" right before a phrase or a group: -"медный завод"
            item = self.parse_unary() if self.peek()[0] in ("phrase", "open") else None
        elif value.endswith(":") and _field_name(value[:-1]):
            # title:"..." or title:(...); a bare "title:" is dropped
            following = self.peek()[0] in ("phrase", "open")
            item = self.parse_field(_field_name(value[:-1]), None) if following else None
        elif field:
            item = self.parse_field(_field_name(field.group(1), strict=True), field.group(2))
        else:
            item = _word(value, None)
        if item is None:
            return None
        if negate:
            return Not(item)
        return _Required(item) if require else item

    def parse_field(self, name, rest):
        """``name:rest``, or with ``rest`` None the phrase or group that follows."""
        if rest is None and self.peek()[0] == "phrase":
            _, phrase, slop = self.take()
            return _field_item(name, phrase, slop)
        if rest is None:
            return _with_field(self.parse_unary(), name)
        return _field_item(name, rest, None)


def _field_name(name, strict=False):
    """The lower-cased field name if it is a known one; else None, or an error when ``strict``."""
    name = name.lower()
    if name in KNOWN_FIELDS:
        return name
    if strict:
        known = ", ".join(f"{n}:" for n in KNOWN_FIELDS)
        raise QuerySyntaxError(f"unknown field {name + ':'!r}: the fields are {known}")
    return None


def _field_item(name, text, slop):
    """One field's item: a date range, a filter value, or words in a text field.

    ``slop`` is None for an unquoted value, a number for a quoted phrase.
    """
    if name in DATE_FIELDS:
        return _date_range(text)
    if not text.strip():
        return None
    if name in VALUE_FIELDS:
        return FieldValue(VALUE_FIELDS[name], text)
    if slop is None:
        return _word(text, TEXT_FIELDS[name])
    return _phrase(text, slop, TEXT_FIELDS[name])


def _with_field(node, name):
    """A group under a field (``title:(нефть OR газ)``): the field applies to each word in it."""
    if node is None:
        return None
    if isinstance(node, _Required):
        return _Required(_with_field(node.item, name))
    if isinstance(node, Word) and not node.field:
        text = ("=" if node.exact else "") + node.text + ("*" if node.prefix else "") + (
            f"~{node.fuzzy}" if node.fuzzy else "")
        return _field_item(name, text, None)
    if isinstance(node, Phrase) and not node.field:
        return _field_item(name, " ".join(node.words), node.slop)
    if isinstance(node, Not):
        inner = _with_field(node.item, name)
        return Not(inner) if inner is not None else None
    if isinstance(node, (AllOf, AnyOf)):
        items = tuple(i for i in (_with_field(i, name) for i in node.items) if i is not None)
        return type(node)(items) if len(items) > 1 else (items[0] if items else None)
    if isinstance(node, Loose):
        return _loose([_with_field(i, name) for i in (*node.items, *node.required)])
    return node


@dataclass(frozen=True)
class _Required:
    """``+word``: a side-by-side item that every hit must match."""
    item: object


def _unwrap(item):
    return item.item if isinstance(item, _Required) else item


def _word(value, field):
    exact = value.startswith("=")
    value = value.lstrip("=")
    fuzzy = re.fullmatch(r"(.*[^~])~([12]?)", value)  # "никель~", "никель~2"
    if fuzzy and not exact:
        return Word(fuzzy.group(1), field, fuzzy=int(fuzzy.group(2) or 1))
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
    """Group side-by-side items; unwrap a group of one. Filters and ``+word`` become required."""
    plain, required = [], []
    for item in items:
        if item is None:
            continue
        if isinstance(item, _Required):
            required.append(item.item)
        elif is_filter(item):
            required.append(item)
        else:
            plain.append(item)
    required = _group_filters(required)
    if not plain and not required:
        return None
    if len(plain) == 1 and not required:
        return plain[0]
    if not plain and len(required) == 1:
        return required[0]
    return Loose(tuple(plain), tuple(required))


def is_filter(node):
    """Whether a node only filters (a field value or a date range, or any-of those).

    >>> is_filter(parse_query("source:mash")), is_filter(parse_query("title:нефть"))
    (True, False)
    """
    if isinstance(node, AnyOf):
        return all(is_filter(i) for i in node.items)
    return isinstance(node, (FieldValue, DateRange))


def _group_filters(required):
    """Repeated values of a one-value field (``source:a source:b``) become any of them.

    >>> _group_filters([FieldValue("source", "a"), FieldValue("tags", "x"), FieldValue("source", "b")])
    [AnyOf(items=(FieldValue(field='source', value='a'), FieldValue(field='source', value='b'))), FieldValue(field='tags', value='x')]
    """
    multi = {f.field for f in FILTER_FIELDS if f.multi}
    grouped, order = {}, []
    for item in required:
        key = item.field if isinstance(item, FieldValue) and item.field not in multi else id(item)
        if key not in grouped:
            grouped[key] = []
            order.append(key)
        if item not in grouped[key]:
            grouped[key].append(item)
    return [grouped[k][0] if len(grouped[k]) == 1 else AnyOf(tuple(grouped[k])) for k in order]


def filter_nodes(sources=(), tags=(), since=None, until=None, **fields):
    """The filters of the API and the command line, as query nodes (the same as ``source:``,
    ``tag:`` and ``date:`` in a query). A string is one value, not a sequence of letters;
    several sources mean any of them, several tags all of them. ``fields`` gives values
    of the other filter fields by name (``regions="Кузбасс"``), as ``region:`` does.

    >>> filter_nodes(sources=["Mash", "rbc"], tags="Металлургия", since="2026-03")  # doctest: +NORMALIZE_WHITESPACE
    (AnyOf(items=(FieldValue(field='source', value='mash'), FieldValue(field='source', value='rbc'))),
     FieldValue(field='tags', value='металлургия'),
     DateRange(start=datetime.date(2026, 3, 1), end=None))
    """
    nodes = [FieldValue("source", s) for s in _values(sources)]
    nodes += [FieldValue("tags", t) for t in _values(tags)]
    nodes += [FieldValue(name, v) for name, values in fields.items() for v in _values(values)]
    if since or until:
        nodes.append(DateRange(_date_bound(since, end=False), _date_bound(until, end=True)))
    return tuple(_group_filters(nodes))


def add_filters(tree, filters):
    """The query ``tree`` with ``filters`` required of every hit.

    >>> add_filters(parse_query("нефть"), filter_nodes(sources="mash"))  # doctest: +NORMALIZE_WHITESPACE
    Loose(items=(Word(text='нефть', field=None, exact=False, prefix=False),),
          required=(FieldValue(field='source', value='mash'),))
    """
    if not filters:
        return tree
    if isinstance(tree, Loose):
        return Loose(tree.items, tuple(_group_filters([*tree.required, *filters])))
    return Loose((tree,), tuple(filters))


def _values(values):
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [str(v) for v in values if str(v).strip()]


def _date_bound(value, end):
    if value is None or value == "" or isinstance(value, datetime.date):
        return value or None
    return parse_date_bound(str(value), end=end)


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
