"""``python -m bench.side_by_side``: poisk's folder index next to two Sphinx shards, in one run.

XQuAD-ru relevance (all 1,190 questions, and in dictionary form), then a slice
of the news corpus (``--docs``, every k-th article): indexing speed and CPU,
latency with and without snippets, and queries/s with 8 concurrent clients.
The smaller brother of ``python -m bench --engines poisk,poisk-sphinx``, for a
machine where the whole bench does not fit in the time at hand.
"""

import argparse
import json
import os
import time

from bench import DEFAULT_CORPUS
from bench.__main__ import latency_groups
from bench.corpus import datasets, every_kth, load_articles
from bench.engines import make_engines
from bench.indexes import ensure_index
from bench.relevance import DEPTH, evaluate, query_sets
from bench.speed import latency_table, measure_throughput


def relevance(engine, corpus, work, sets):
    """MRR@10 and Recall@10 of one engine on XQuAD-ru, as asked and in dictionary form."""
    meta = ensure_index(work, engine, datasets(corpus)["xquad"])
    searcher = engine.open(meta["path"])
    try:
        return {name: evaluate(lambda text: searcher.search(text, limit=DEPTH), *sets[name][1:])
                for name in ("xquad", "xquad+dict")}
    finally:
        searcher.close()


def speed(engine, articles, corpus, work):
    """Indexing the slice (wall and CPU of this process and its children), then latency and qps."""
    path = os.path.join(work, f"slice-{engine.name}")
    before, started = os.times(), time.perf_counter()
    docs = engine.build(iter(articles), path)
    after, seconds = os.times(), time.perf_counter() - started
    cpu = sum(after[:4]) - sum(before[:4])
    result = {"indexing": {"docs": docs, "seconds": round(seconds, 1),
                           "docs_per_s": round(docs / seconds, 1), "cpu_seconds": round(cpu, 1)}}
    searcher = engine.open(path)
    try:
        groups = latency_groups(corpus, 100)
        result["latency"] = latency_table(searcher, groups)
        result["throughput"] = {group: measure_throughput(searcher, queries, clients=8)
                                for group, queries in groups.items()}
    finally:
        searcher.close()
    return result


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--work", default="/tmp/poisk-side-by-side")
    parser.add_argument("--docs", type=int, default=1000, help="news articles for the speed part")
    args = parser.parse_args()
    engines, _ = make_engines(["poisk", "poisk-sphinx"])
    sets = query_sets(args.corpus, 200)
    articles = every_kth(load_articles(datasets(args.corpus)["news"].path), args.docs)
    results = {"load_average_before": os.getloadavg()}
    for engine in engines:
        results[engine.name] = {"relevance": relevance(engine, args.corpus, args.work, sets)}
    for engine in engines:
        results[engine.name].update(speed(engine, articles, args.corpus, args.work))
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
