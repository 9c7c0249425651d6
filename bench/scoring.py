"""``python -m bench.scoring``: the term-at-a-time scorer against Whoosh's matchers, one run.

The same index is opened twice, ``Ranking(term_at_a_time=False)`` (Whoosh's
matcher tree, the path it replaces) and ``True`` (``search.scoring``). Each
query of the bench's two latency groups (``tag``: 1-3 words; ``title``:
headline length; sanitized, spread evenly over the query files) runs four
times in turn: old and new without snippets, old and new with them, top 10,
stories grouped, as ``poisk search`` runs it. Both paths get the same warm-up
(the first ``--warmup`` queries of each group, all four ways) and no time
budget, so neither is cut short. Reported per group and path: CPU
(``time.thread_time``) and wall percentiles in ms, and how many queries gave
the same total and the same top 10 (ids and scores) both ways. The process's
peak RSS (``ru_maxrss``) closes the report, with the resident memory at the end split
into anonymous memory and mapped file pages.

``--taat-only``: the term-at-a-time path alone (no agreement count).
``--snippets-first``: each query runs with snippets first, then without, so
the figures with snippets are those of a query's first run.
The process's peak RSS then is that of one open index searching.

``--relevance``: instead, the held-out half of the bench's tag sets (``tag``
and ``tag+dict``, judged on the news corpus) evaluated both ways on the given
index (``bench.relevance.evaluate``, top 100, as the relevance bench runs
poisk), and how many queries gave the same 100 ids in the same order.
"""

import argparse
import json
import resource
import sys
import time

from bench import DEFAULT_CORPUS
from bench.corpus import every_kth
from bench.relevance import load_queries, sanitize_query
from bench.speed import percentiles

WAYS = (("whoosh", False), ("taat", True))


def query_groups(corpus, n):
    """{"short": tag queries (1-3 words), "headline": title queries}, ``n`` of each."""
    return {"short": [sanitize_query(t) for _, t in every_kth(load_queries(corpus, "tag"), n)],
            "headline": [sanitize_query(t) for _, t in
                         every_kth(load_queries(corpus, "title"), n)]}


def open_both(path, ways=WAYS):
    from search import Ranking, open_index
    from search.budget import Budget

    unlimited = Budget(seconds=float("inf"), snippet_seconds=float("inf"))
    return {name: open_index(path, ranking=Ranking(term_at_a_time=flag), budget=unlimited)
            for name, flag in ways}


def timed(index, text, snippets):
    """(result or None, CPU seconds, wall seconds) of one top-10 search."""
    started, cpu_started = time.perf_counter(), time.thread_time()
    try:
        result = index.search(text, limit=10, snippets=snippets)
    except Exception:  # only stop words: skipped the same way on both paths
        result = None
    return result, time.thread_time() - cpu_started, time.perf_counter() - started


def same(a, b):
    return a.total == b.total and [(h.id, h.score) for h in a] == [(h.id, h.score) for h in b]


def measure(indexes, queries, warmup, snippets_first=False):
    order = (True, False) if snippets_first else (False, True)
    for text in queries[:warmup]:
        for snippets in order:
            for name in indexes:
                timed(indexes[name], text, snippets)
    samples = {(name, snippets): ([], []) for name in indexes for snippets in (False, True)}
    agree = answered = 0
    for text in queries:
        for snippets in order:
            results = {}
            for name in indexes:
                results[name], cpu, wall = timed(indexes[name], text, snippets)
                if results[name] is not None:
                    samples[name, snippets][0].append(cpu)
                    samples[name, snippets][1].append(wall)
            if not snippets and len(results) == 2 and results["whoosh"] is not None:
                answered += 1
                agree += same(results["whoosh"], results["taat"])
    table = {}
    for (name, snippets), (cpu, wall) in samples.items():
        key = f"{name}{'+snippets' if snippets else ''}"
        c, w = percentiles(cpu), percentiles(wall)
        table[key] = {"cpu_p50": c["p50"], "cpu_p95": c["p95"], "wall_p50": w["p50"],
                      "wall_p95": w["p95"], "n": c["n"]}
    if answered:
        table["same_total_and_top10"] = f"{agree}/{answered}"
    return table


def relevance(indexes, corpus, sets=("tag", "tag+dict")):
    from bench.relevance import DEPTH, evaluate, query_sets

    chosen = query_sets(corpus, half="test", names=[name.split("+")[0] for name in sets])
    report = {}
    for name in sets:
        _dataset, queries, qrels = chosen[name]
        runs = {way: {} for way, _ in WAYS}

        def ranked(way):
            def run(text):
                hits = indexes[way].search(text, limit=DEPTH, snippets=False).hits
                runs[way][text] = [h.id for h in hits]
                return runs[way][text]
            return run
        report[name] = {way: evaluate(ranked(way), queries, qrels) for way, _ in WAYS}
        same_lists = sum(runs["whoosh"].get(t) == runs["taat"].get(t) for _, t in queries)
        report[name]["same_top100"] = f"{same_lists}/{len(queries)}"
    return report


def memory_split():
    """The process's resident memory now, in MiB: anonymous (its own) and file pages (the
    index's mapped files, shared with other processes and dropped first under pressure).
    Linux only (``/proc/self/status``); None elsewhere."""
    try:
        with open("/proc/self/status") as status:
            fields = dict(line.split(":", 1) for line in status)
    except OSError:
        return None
    return {name: round(int(fields[name].split()[0]) / 1024)
            for name in ("VmRSS", "RssAnon", "RssFile") if name in fields}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--index", default="/work/indexes/news", help="a poisk index folder")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--queries", type=int, default=200, help="per group (default 200)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--relevance", action="store_true",
                        help="the tag sets' held-out half both ways instead of latency")
    parser.add_argument("--taat-only", action="store_true",
                        help="time the term-at-a-time path alone (large indexes, where "
                        "Whoosh's matchers take seconds a query)")
    parser.add_argument("--snippets-first", action="store_true",
                        help="each query's first run with snippets, then without (the "
                        "snippets' figures are a first run's, not a repeated query's)")
    args = parser.parse_args(argv)
    import os
    load_before = os.getloadavg()
    indexes = open_both(args.index, WAYS[1:] if args.taat_only else WAYS)
    if args.relevance:
        print(json.dumps(relevance(indexes, args.corpus), ensure_ascii=False, indent=1))
        return
    report = {"index": args.index, "documents": indexes["taat"].doc_count,
              "snippets_first": args.snippets_first,
              "queries_per_group": args.queries, "load_average_before": load_before}
    for group, queries in query_groups(args.corpus, args.queries).items():
        print(f"{group}: {len(queries)} queries x {2 * len(indexes)} ...", file=sys.stderr)
        report[group] = measure(indexes, queries, args.warmup, args.snippets_first)
    report["load_average_after"] = os.getloadavg()
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["rss_at_end_mib"] = memory_split()
    from bench.resident import mapped_parts
    report["mapped_index_mib"] = mapped_parts(args.index)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
