"""poisk's benchmark: relevance and speed next to Whoosh's Snowball analyzer and tantivy.

Run ``python -m bench`` from the repository root; see ``bench/README.md``.
The modules can be used on their own, e.g. to tune ranking::

    from bench.relevance import load_queries, load_qrels, evaluate
"""

import pathlib

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpus"
DEFAULT_WORK = pathlib.Path("/tmp/poisk-bench")
