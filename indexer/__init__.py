"""poisk's indexer: read Russian news, lemmatize it with pymorphy3, store it in a Whoosh index.

>>> from indexer import build_index, russian_analyzer
"""

from indexer.analysis import analyze, normal_word, russian_analyzer
from indexer.build import IndexReport, build_index, delete_documents, index_articles
from indexer.errors import (
    IndexCorrupted, IndexLocked, IndexNotFound, PoiskError, QuerySyntaxError, SourceError)
from indexer.sources import Article, Rejected, read_sources
from indexer.storage import DEFAULT_INDEX_DIR, INDEX_ENV_VAR, resolve_index_dir

__all__ = [
    "Article",
    "DEFAULT_INDEX_DIR",
    "INDEX_ENV_VAR",
    "IndexCorrupted",
    "IndexLocked",
    "IndexNotFound",
    "IndexReport",
    "PoiskError",
    "QuerySyntaxError",
    "Rejected",
    "SourceError",
    "analyze",
    "build_index",
    "delete_documents",
    "index_articles",
    "normal_word",
    "read_sources",
    "resolve_index_dir",
    "russian_analyzer",
]
