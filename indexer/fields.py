"""The fields of a poisk index, each defined once in ``FIELDS``.

One ``FieldSpec`` says everything about a field: its Whoosh type, how its value is
read from an ``Article`` (or extracted from the article's words), how it is stored
and read back, whether it is part of the content hash, whether ``Hit``,
``Document``, ``--json`` and ``poisk show`` carry it, and whether it is a keyword
field a filter can match (``source:``, ``tag:``). The schema
(``indexer.storage.make_schema``), the document writer (``indexer.build``), the
content hash (``Article.content_hash``), the ``Hit`` and ``Document`` classes
(``search.api``), ``--json`` and ``poisk show`` all read this table, so adding a
field is one entry here (plus an extractor when it is derived from the text).

>>> [spec.name for spec in FIELDS if spec.filter]
['source', 'tags', 'regions', 'districts', 'industries']
>>> stored_document({"id": "a", "tags": "никель,медь"})["tags"]
('никель', 'медь')
"""

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any, Callable

from whoosh.fields import DATETIME, ID, KEYWORD, STORED, TEXT

from indexer import industries, regions
from indexer.analysis import WORDS_KEY, MorphFilter, split_words, word_starts
from indexer.extract import Words, word_terms
from indexer.footers import FOOTER
from indexer.stories import StoryField, packed_sketch

__all__ = ["EXTRACTED", "FIELDS", "FieldSpec", "add_extracted", "by_name", "content_hash", "document_fields",
           "filter_fields", "json_value", "public_fields", "schema_fields", "stored_document"]

# Kinds of value: how a field's value is converted between Python, the index and JSON.
#   text      str, stored as is ("" when missing)
#   optional  str or None (a missing url is not stored)
#   date      datetime.date or None; Whoosh stores a datetime
#   keywords  tuple of str; stored comma-joined (a value never holds a comma)
KINDS = ("text", "optional", "date", "keywords")


@dataclass(frozen=True)
class FieldSpec:
    """One field of the index.

    >>> by_name("tags").json_key, by_name("tags").filter
    ('tags', True)
    """

    name: str                          # Whoosh field, Hit/Document attribute and JSON key
    whoosh: Callable[[Any], Any]       # the Whoosh field type, given the text analyzer
    kind: str = "text"                 # see KINDS
    read: Callable[[Any], Any] | None = None  # value from an Article (default: its attribute)
    hashed: bool = True                # part of the content hash (skip unchanged articles)
    public: bool = True                # an attribute of Document, a JSON key, shown by `show`
    in_hit: bool = True                # also an attribute of Hit (the body is not)
    filter: bool = False               # a keyword field that filters can match
    aliases: tuple = ()                # names a query may use for it: `tag:`, `тег:`
    label: str | None = None           # `poisk show` prints "label: value" for it
    facet: bool = False                # `poisk facets` counts the matches by its values
    # A field extracted from the article's words (regions, industries) rather
    # than read from its source: the extractor, and the version of its data
    # (part of the content hash, so new data re-indexes the articles).
    extract: Callable[[Words], tuple] | None = None
    version: Callable[[], str] | None = None
    resolve: Callable[[str], str] | None = None  # a filter value as typed -> the indexed value

    @property
    def python_type(self) -> Any:
        """The type of the attribute ``Hit`` and ``Document`` carry."""
        return {"text": str, "optional": str | None, "date": datetime.date | None,
                "keywords": tuple}[self.kind]

    @property
    def json_key(self) -> str:
        return self.name

    def value_of(self, article) -> Any:
        """The field's value for an ``Article``."""
        return self.read(article) if self.read else getattr(article, self.name)

    def to_index(self, value) -> Any:
        """The value as Whoosh takes it; ``None`` when nothing is to be written."""
        if self.kind == "date":
            return value and datetime.datetime.combine(value, datetime.time())
        if self.kind == "keywords":
            return ",".join(value)
        if self.kind == "optional":
            return value or None
        return value or ""

    def from_index(self, stored) -> Any:
        """A stored value back as Python (the inverse of ``to_index``)."""
        if self.kind == "date":
            return stored.date() if isinstance(stored, datetime.datetime) else stored or None
        if self.kind == "keywords":
            return tuple(t for t in (stored or "").split(",") if t)
        if self.kind == "optional":
            return stored or None
        return stored or ""

    def filter_term(self, value: str) -> str:
        """The indexed term a filter value stands for (``Кузбасс`` -> the subject's name).

        >>> by_name("regions").filter_term("в Норильске"), by_name("tags").filter_term("Никель")
        ('красноярский край', 'никель')
        """
        return (self.resolve(value) if self.resolve else value).lower()

    def hash_text(self, value) -> str:
        if self.kind == "keywords":
            return "\x1f".join(value)
        return str(value or "")


def _keywords(analyzer=None):
    return KEYWORD(stored=True, commas=True, lowercase=True, scorable=True)


# The table. Order matters: it is the order of the content hash, of the
# attributes of Hit and Document and of the keys of --json.
FIELDS = (
    FieldSpec("id", lambda a: ID(unique=True, stored=True, sortable=True)),
    FieldSpec("headline", lambda a: TEXT(analyzer=a, stored=True, phrase=True)),
    FieldSpec("body", lambda a: TEXT(analyzer=a, stored=True, phrase=True), in_hit=False),
    # The lead (first paragraph) again, as its own BM25F field: news puts the
    # gist of a story there. Frequencies only; phrases use the body.
    FieldSpec("lead", lambda a: TEXT(analyzer=a, phrase=False), hashed=False, public=False),
    FieldSpec("date", lambda a: DATETIME(stored=True, sortable=True), kind="date"),
    FieldSpec("source", lambda a: KEYWORD(stored=True, commas=True, lowercase=True),
              filter=True, aliases=("source", "источник"), facet=True),
    FieldSpec("url", lambda a: STORED(), kind="optional"),
    FieldSpec("tags", _keywords, kind="keywords", filter=True, aliases=("tag", "tags", "тег"),
              label="tags"),
    # Extracted from the headline and body (indexer.regions, indexer.industries).
    FieldSpec("regions", _keywords, kind="keywords", filter=True,
              aliases=("region", "regions", "регион"), label="regions", facet=True,
              extract=regions.subjects, version=regions.version, resolve=regions.resolve_subject),
    FieldSpec("districts", _keywords, kind="keywords", filter=True,
              aliases=("district", "округ"), label="districts", facet=True,
              extract=regions.districts, version=regions.version,
              resolve=regions.resolve_district),
    FieldSpec("industries", _keywords, kind="keywords", filter=True,
              aliases=("industry", "industries", "отрасль"), label="industries", facet=True,
              extract=industries.industries, version=industries.version,
              resolve=industries.resolve_industry),
    # Bookkeeping: the digest that lets a run skip unchanged articles, and
    # where the article was read from (file and line).
    FieldSpec("content_hash", lambda a: ID(sortable=True), kind="optional",
              read=lambda article: None, hashed=False, public=False),  # set by document_fields
    FieldSpec("origin", lambda a: STORED(), hashed=False, public=False),
    # The story sketch (indexer.stories), made from the body as the article is
    # written: reposts of one story are grouped in results.
    FieldSpec("story", StoryField, read=lambda article: article.body, hashed=False,
              public=False),
    # Where each word of the body starts (two bytes a word): snippets turn the
    # word positions the index holds into characters without tokenizing the
    # body again, which cost about 1 ms per long article (search.snippets).
    # Set by add_extracted, from the one split of the body that also feeds the
    # analysis, the extracted fields and the story sketch.
    FieldSpec("word_starts", lambda a: STORED(), kind="optional",
              read=lambda article: None, hashed=False, public=False),
)

_BY_NAME = {spec.name: spec for spec in FIELDS}

# The extracted fields, in table order (other engines store them as columns).
EXTRACTED = tuple(spec.name for spec in FIELDS if spec.extract)


def by_name(name: str) -> FieldSpec:
    """The spec of a field.

    >>> by_name("date").kind
    'date'
    """
    return _BY_NAME[name]


def public_fields(hit: bool = False) -> tuple:
    """The fields ``Document`` (or, with ``hit``, ``Hit``) carries, in table order.

    >>> [spec.name for spec in public_fields(hit=True)]
    ['id', 'headline', 'date', 'source', 'url', 'tags', 'regions', 'districts', 'industries']
    """
    return tuple(s for s in FIELDS if s.public and (s.in_hit or not hit))


def filter_fields() -> dict:
    """Query field names (``tag``, ``тег``, ...) -> the keyword field they filter on.

    >>> filter_fields()["тег"]
    'tags'
    """
    return {alias: spec.name for spec in FIELDS if spec.filter for alias in spec.aliases}


def schema_fields(analyzer) -> dict:
    """Field name -> Whoosh field type, for ``whoosh.fields.Schema(**...)``.

    >>> sorted(schema_fields(None))[:3]
    ['body', 'content_hash', 'date']
    """
    return {spec.name: spec.whoosh(analyzer) for spec in FIELDS}


def content_hash(article) -> str:
    """A digest of everything indexed about an article (the hashed fields, in table order)."""
    parts = [spec.version() if spec.extract else spec.hash_text(spec.value_of(article))
             for spec in FIELDS if spec.hashed]
    return hashlib.sha1("\x1e".join(parts).encode("utf-8")).hexdigest()


def document_fields(article, digest: str) -> dict:
    """The values ``writer.add_document`` gets for an article (nothing for empty optional ones).

    >>> from indexer.sources import Article
    >>> sorted(document_fields(Article(id="a", headline="Н", body="Б"), "x"))
    ... # doctest: +NORMALIZE_WHITESPACE
    ['body', 'content_hash', 'headline', 'id', 'lead', 'origin', 'source', 'story', 'tags']
    """
    fields = {}
    for spec in FIELDS:
        if spec.extract:
            continue  # add_extracted, where the words are analysed
        value = spec.to_index(spec.value_of(article))
        if value is not None:
            fields[spec.name] = value
    fields["content_hash"] = digest
    return fields


def add_extracted(document: dict, terms=None) -> dict:
    """Fill in the extracted fields of a document from its headline and body, and its
    ``word_starts``; the texts' words go with it to the writer (``WORDS_KEY``).

    Runs where the document is written (a worker process), with ``terms`` of the
    index's own analyzer (``indexer.extract.word_terms``): extraction and
    indexing share its cache, so pymorphy3 parses each word once for both.

    >>> add_extracted({"headline": "Угольщики Кузбасса", "body": "Добыча угля выросла."})["regions"]
    'Кемеровская область — Кузбасс'
    """
    headline, body = document.get("headline", ""), document.get("body", "")
    splits = (split_words(headline), split_words(body))
    # A channel's footer (indexer.footers, marked by the run) names no region or industry.
    footer = document.pop(FOOTER, len(body))
    words = Words(headline, terms or word_terms(), body[:footer],
                  splits if footer == len(body) else (splits[0], split_words(body[:footer])))
    # The words go on to the writer (indexer.writer), which would split the texts again.
    document[WORDS_KEY + "headline"], document[WORDS_KEY + "body"] = splits[0][0], splits[1][0]
    starts = word_starts(body, splits[1])
    if starts is not None:  # None: a gap too long to store (word_starts)
        document["word_starts"] = starts
    for spec in FIELDS:
        if spec.extract:
            document[spec.name] = spec.to_index(spec.extract(words))
    morph = getattr(words.terms, "__self__", None)
    if isinstance(document.get("story"), str) and isinstance(morph, MorphFilter):
        # The story sketch of the body's words, the footer's included, split once for all
        # (StoryField takes it).
        document["story"] = packed_sketch(splits[1][0], morph)
    return document


def stored_document(stored: dict, hit: bool = False) -> dict:
    """Attribute -> Python value for ``Document`` (or ``Hit``), from Whoosh's stored fields.

    A field the index does not have (an index made before it existed) reads as empty.
    """
    return {spec.name: spec.from_index(stored.get(spec.name)) for spec in public_fields(hit)}


def json_value(value) -> Any:
    """A field value as JSON takes it: dates as ISO text, tuples as lists.

    >>> json_value(datetime.date(2026, 3, 14)), json_value(("a", "b"))
    ('2026-03-14', ['a', 'b'])
    """
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
