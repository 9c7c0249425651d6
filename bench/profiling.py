"""Where poisk spends its time: cProfile over indexing and over searching with snippets.

    python -m bench.profiling index [--docs 500]
    python -m bench.profiling search [--queries 50] [--kind title|tag]

``index`` profiles ``index_articles`` on the first N spread-out news articles
(a fresh index, cold analyzer cache); ``search`` profiles ``search(limit=10,
snippets=True)`` over N sanitized queries on the cached news index of a
previous ``python -m bench`` run (after a warm-up on other queries). Both print
the top functions by own time and by cumulative time.
"""

import argparse
import cProfile
import os
import pstats
import shutil
import tempfile

from bench import DEFAULT_CORPUS, DEFAULT_WORK
from bench.corpus import datasets, every_kth
from bench.engines import PoiskEngine
from bench.indexes import ensure_index
from bench.relevance import load_queries, sanitize_query


def profile_indexing(corpus, docs):
    """A cProfile ``Profile`` of poisk indexing ``docs`` news articles."""
    articles = every_kth(datasets(corpus)["news"].articles(), docs)
    folder = tempfile.mkdtemp(prefix="poisk-profile-")
    profiler = cProfile.Profile()
    try:
        profiler.runcall(PoiskEngine().build, articles, os.path.join(folder, "index"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return profiler


def profile_search(corpus, work, queries, kind):
    """A cProfile ``Profile`` of ``queries`` searches with snippets on the news index."""
    engine = PoiskEngine()
    meta = ensure_index(work, engine, datasets(corpus)["news"])
    texts = [sanitize_query(t) for _, t in load_queries(corpus, kind)]
    chosen, warmup = every_kth(texts, queries), every_kth(texts[1::2], 20)
    searcher = engine.open(meta["path"])
    profiler = cProfile.Profile()
    try:
        for text in warmup:
            searcher.search(text, limit=10, snippets=True)
        for text in chosen:
            profiler.runcall(searcher.search, text, limit=10, snippets=True)
    finally:
        searcher.close()
    return profiler


def main(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.profiling")
    parser.add_argument("what", choices=("index", "search"))
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--kind", choices=("title", "tag"), default="title")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--work", default=str(DEFAULT_WORK))
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    if args.what == "index":
        profiler = profile_indexing(args.corpus, args.docs)
    else:
        profiler = profile_search(args.corpus, args.work, args.queries, args.kind)
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
