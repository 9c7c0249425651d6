"""poisk: full-text search for Russian regional-industry news, under one import name.

The public API of ``indexer`` (building an index) and ``search`` (querying it),
every name of their ``__all__``, for embedders who prefer ``poisk`` to the two
package names of the layout.

>>> from poisk import build_index, open_index
>>> open_index is __import__("search").open_index
True
"""

import indexer as _indexer
import search as _search
from indexer import *  # noqa: F401,F403
from search import *  # noqa: F401,F403

__all__ = sorted(set(_indexer.__all__) | set(_search.__all__))
