"""``python -m bench.sphinx``: the distributed index (two Sphinx shards) next to the folder index.

Two parts, each in one run, so every ratio is taken under the same load:

- ``relevance``: the headline and tag sets (and their dictionary forms) on a
  slice of the news corpus (``--docs``, every k-th article), both engines
  indexing the same slice; a query counts when one of its relevant articles is
  in the slice, and only those articles are relevant. ``--half`` as in
  ``python -m bench``.
- ``build``: the first ``--docs`` synthetic articles of ``bench.scale`` indexed
  by both engines, docs/s of wall and of CPU time (``searchd`` included).
- ``speed INDEX...``: latency p50/p95 (wall and the client thread's CPU) of
  1-3-word and headline-length queries, top 10 with snippets, and queries/s
  with 8 concurrent clients (threads sharing one open index), on each index
  given: a folder index, or a folder holding a ``cluster/`` of
  ``bench.engines.PoiskSphinxEngine`` (started for the run). The CPU of that
  cluster's ``searchd`` processes during the 8-client run is read from
  ``/proc``, so the engine's own work is counted too.

Each part prints one JSON object (``--out FILE`` also writes it) with the load
average before and after.
"""

import argparse
import dataclasses
import json
import os
import time

from bench import DEFAULT_CORPUS
from bench.__main__ import latency_groups
from bench.corpus import NEWS_FILE, datasets, every_kth
from bench.engines import PoiskEngine, PoiskSphinxEngine, cluster_cpu
from bench.indexes import ensure_index
from bench.relevance import DEPTH, evaluate, metric_names, query_sets
from bench.scale import synthetic_file
from bench.speed import measure_indexing, measure_latency, measure_throughput, warm_up

SETS = ("title", "tag")


@dataclasses.dataclass(frozen=True)
class Slice:
    """Every k-th article of a dataset (``n`` of them), as ``bench.indexes`` caches datasets."""

    base: object
    n: int

    @property
    def name(self):
        return f"{self.base.name}-{self.n}"

    def key(self):
        return [*self.base.key(), "slice", self.n]

    def articles(self):
        return every_kth(self.base.articles(), self.n)


def relevance(corpus, work, docs, half, queries):
    """{set: {engine: metrics}} on a slice of ``docs`` articles, both engines, one run."""
    sets = query_sets(corpus, queries, half, names=SETS)
    engines = [PoiskEngine(), PoiskSphinxEngine()]
    results = {"load_average_before": os.getloadavg(), "docs": docs, "half": half}
    for dataset_name in sorted({dataset for dataset, _, _ in sets.values()}):
        piece = Slice(datasets(corpus)[dataset_name], docs)
        ids = {article.id for article in piece.articles()}
        for engine in engines:
            meta = ensure_index(work, engine, piece)
            with _opened(engine, meta["path"]) as searcher:
                for name, (dataset, chosen, qrels) in sets.items():
                    if dataset != dataset_name:
                        continue
                    kept = {q: relevant & ids for q, relevant in qrels.items() if relevant & ids}
                    metrics = evaluate(lambda text: searcher.search(text, limit=DEPTH),
                                       chosen, kept)
                    results.setdefault(name, {})[engine.name] = metrics
                    print(f"{name:10} {engine.name:13} " + "  ".join(
                        f"{m}={metrics[m]:.3f}" for m in metric_names(name)) +
                        f"  ({metrics['queries']} queries)", flush=True)
    results["load_average_after"] = os.getloadavg()
    return results


class _opened:
    def __init__(self, engine, path):
        self.searcher = engine.open(path)

    def __enter__(self):
        return self.searcher

    def __exit__(self, *exc):
        self.searcher.close()


def build(corpus, work, docs, seed, engines):
    """Index the first ``docs`` synthetic articles (``bench.scale``) with each engine, one
    after the other, each in a child process: docs/s of wall time and of CPU time
    (the indexing process and its workers, plus the ``searchd`` processes for the
    shards). The indexes stay in ``WORK/{engine}-{docs}`` for ``speed``."""
    source, _ = synthetic_file(work, os.path.join(corpus, NEWS_FILE), docs, seed)
    results = {"load_average_before": os.getloadavg(), "docs": docs, "seed": seed}
    for engine in (e for e in (PoiskEngine(), PoiskSphinxEngine()) if e.name in engines):
        path = os.path.join(work, f"{engine.name}-{docs}")
        point = measure_indexing(engine, source, path, docs)
        engine_cpu = os.path.join(path, "searchd-cpu.json")
        if os.path.exists(engine_cpu):
            with open(engine_cpu, encoding="utf-8") as f:
                point.update(json.load(f))
        cpu = point["cpu_seconds"] + point.get("searchd_cpu_seconds", 0)
        point["docs_per_all_cpu_s"] = round(point["docs"] / cpu, 1)
        point["load_average"] = os.getloadavg()
        results[engine.name] = point
        print(json.dumps({engine.name: point}), flush=True)
    results["load_average_after"] = os.getloadavg()
    return results


def speed(corpus, paths, queries, clients, rerank_off=False):
    """Latency and queries/s of each index, one after the other, in this process.

    CPU is counted three ways: the client thread per query (latency), the whole
    client process during the 8-client run, and that cluster's ``searchd``
    processes during the same run. ``rerank_off``: each cluster is measured a
    second time without ``search.rerank`` (as ``PATH#rerank=0``)."""
    groups = latency_groups(corpus, queries)
    results = {"load_average_before": os.getloadavg(), "queries_per_group": queries}
    runs = [(path, None) for path in paths]
    if rerank_off:
        runs += [(path, 0) for path in paths if os.path.isdir(os.path.join(path, "cluster"))]
    for path, depth in runs:
        sphinx = os.path.isdir(os.path.join(path, "cluster"))
        engine = PoiskSphinxEngine() if sphinx else PoiskEngine()
        searcher = engine.open(path)
        cluster = getattr(searcher, "cluster", None)
        if depth is not None:
            searcher.index.rerank_depth = depth
            path = f"{path}#rerank={depth}"
        try:
            point = {"engine": engine.name, "load_average": os.getloadavg()}
            point["latency"] = _latency(searcher, groups, cluster)
            point["throughput"] = {}
            for group, texts in groups.items():
                engine_cpu = cluster_cpu(cluster) if cluster else 0.0
                client_cpu = time.process_time()
                measured = measure_throughput(searcher, texts, clients=clients)
                measured["client_cpu_ms_per_query"] = round(
                    1000 * (time.process_time() - client_cpu) / len(texts), 1)
                if cluster:
                    measured["searchd_cpu_ms_per_query"] = round(
                        1000 * (cluster_cpu(cluster) - engine_cpu) / len(texts), 1)
                measured["load_average"] = os.getloadavg()
                point["throughput"][group] = measured
            results[path] = point
            print(json.dumps({path: point}, ensure_ascii=False), flush=True)
        finally:
            searcher.close()
    results["load_average_after"] = os.getloadavg()
    return results


def _latency(searcher, groups, cluster):
    """``bench.speed.latency_table``'s figures, plus for a cluster its ``searchd`` processes'
    CPU per query, as a mean over the group: ``/proc`` counts it in ticks of 10 ms, too
    coarse for one query's percentiles."""
    warm_up(searcher, groups)
    table = {}
    for group, queries in groups.items():
        for mode, snippets in (("search", False), ("snippets", True)):
            engine_cpu = cluster_cpu(cluster) if cluster else 0.0
            figures = measure_latency(searcher, queries, snippets)
            if cluster:
                figures["searchd_cpu_ms_mean"] = round(
                    1000 * (cluster_cpu(cluster) - engine_cpu) / len(queries), 1)
            table.setdefault(group, {})[mode] = figures
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.sphinx", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--out", help="also write the JSON here")
    parts = parser.add_subparsers(dest="part", required=True)
    rel = parts.add_parser("relevance", help="headline and tag sets on a slice of the news")
    rel.add_argument("--work", default="/tmp/poisk-bench-sphinx")
    rel.add_argument("--docs", type=int, default=3000, help="articles in the slice")
    rel.add_argument("--half", choices=("dev", "test"), default="test")
    rel.add_argument("--queries", type=int, default=None, help="queries per set (every k-th)")
    bld = parts.add_parser("build", help="index N synthetic articles with both engines")
    bld.add_argument("--work", default="/tmp/poisk-bench-sphinx")
    bld.add_argument("--docs", type=int, default=10000)
    bld.add_argument("--seed", type=int, default=20240601, help="seed of the synthetic docs")
    bld.add_argument("--engines", default="poisk,poisk-sphinx")
    spd = parts.add_parser("speed", help="latency and 8-client queries/s of the given indexes")
    spd.add_argument("paths", nargs="+", metavar="INDEX")
    spd.add_argument("--queries", type=int, default=100, help="queries per group")
    spd.add_argument("--clients", type=int, default=8)
    spd.add_argument("--rerank-off", action="store_true",
                     help="measure each cluster again without the client's re-ranking")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.part == "relevance":
        results = relevance(args.corpus, args.work, args.docs, args.half, args.queries)
    elif args.part == "build":
        results = build(args.corpus, args.work, args.docs, args.seed, args.engines.split(","))
    else:
        results = speed(args.corpus, args.paths, args.queries, args.clients, args.rerank_off)
    results["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(results, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
