"""poisk's search layer: morphology-aware queries over a poisk index, with snippets.

>>> from search import open_index, search
"""

from indexer.errors import (
    IndexCorrupted, IndexLocked, IndexNotFound, PoiskError, QuerySyntaxError, SourceError)
from search.api import Document, Hit, Index, IndexStats, SearchResult, open_index, search
from search.compile import Ranking
from search.query import parse_query
from search.snippets import Snippet, Span, render
from search.trend import Point, Trend

__all__ = [
    "Document",
    "Hit",
    "Index",
    "IndexCorrupted",
    "IndexLocked",
    "IndexNotFound",
    "IndexStats",
    "PoiskError",
    "Point",
    "QuerySyntaxError",
    "Ranking",
    "SearchResult",
    "Snippet",
    "SourceError",
    "Span",
    "Trend",
    "open_index",
    "parse_query",
    "render",
    "search",
]
