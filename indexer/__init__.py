"""poisk's indexer: read Russian news, lemmatize it with pymorphy3, store it in a Whoosh index.

>>> from indexer import build_index, russian_analyzer
"""

import importlib
from typing import TYPE_CHECKING

from indexer.errors import (
    IndexCorrupted, IndexLocked, IndexNotFound, PoiskError, QuerySyntaxError, SourceError)
from indexer.startup import import_whoosh

import_whoosh()  # before any module of poisk imports Whoosh: without urllib and asyncio

if TYPE_CHECKING:  # type checkers see the names; at run time __getattr__ imports them
    from indexer.analysis import analyze, normal_word, russian_analyzer
    from indexer.build import IndexReport, build_index, delete_documents, index_articles
    from indexer.sources import Article, Rejected, read_sources
    from indexer.storage import DEFAULT_INDEX_DIR, INDEX_ENV_VAR, resolve_index_dir

# Imported on first use (PEP 562): `poisk search` needs neither the indexing
# run nor the readers of source files, and importing them cost ~0.1 s of start-up.
_LAZY = {
    "analyze": "indexer.analysis", "normal_word": "indexer.analysis",
    "russian_analyzer": "indexer.analysis",
    "IndexReport": "indexer.build", "build_index": "indexer.build",
    "delete_documents": "indexer.build", "index_articles": "indexer.build",
    "Article": "indexer.sources", "Rejected": "indexer.sources", "read_sources": "indexer.sources",
    "DEFAULT_INDEX_DIR": "indexer.storage", "INDEX_ENV_VAR": "indexer.storage",
    "resolve_index_dir": "indexer.storage",
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'indexer' has no attribute {name!r}")
    value = globals()[name] = getattr(importlib.import_module(_LAZY[name]), name)
    return value


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
