"""poisk: full-text search for Russian regional-industry news, under one import name.

The public API of ``indexer`` (building an index) and ``search`` (querying it),
for embedders who prefer ``poisk`` to the two package names of the layout.

>>> from poisk import build_index, open_index
>>> open_index is __import__("search").open_index
True
"""

from indexer import (
    Article, IndexReport, Rejected, build_index, delete_documents, index_articles, read_sources)
from indexer.errors import (
    IndexCorrupted, IndexLocked, IndexNotFound, PoiskError, QuerySyntaxError, SourceError)
from search import (
    Document, Hit, Index, IndexStats, Ranking, SearchResult, Snippet, Span, open_index,
    parse_query, render, search)

__all__ = [
    "Article",
    "Document",
    "Hit",
    "Index",
    "IndexCorrupted",
    "IndexLocked",
    "IndexNotFound",
    "IndexReport",
    "IndexStats",
    "PoiskError",
    "QuerySyntaxError",
    "Ranking",
    "Rejected",
    "SearchResult",
    "Snippet",
    "SourceError",
    "Span",
    "build_index",
    "delete_documents",
    "index_articles",
    "open_index",
    "parse_query",
    "read_sources",
    "render",
    "search",
]
