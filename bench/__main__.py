"""``python -m bench``: one command that prints where poisk stands (see bench/README.md)."""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback

from bench import DEFAULT_CORPUS, DEFAULT_WORK, REPO_ROOT
from bench.corpus import datasets, every_kth, fingerprint, load_articles, write_jsonl
from bench.engines import ENGINES, make_engines, package_version
from bench.indexes import ensure_indexes
from bench.relevance import (
    DICT_SUFFIX, QUERY_SETS, load_queries, query_sets, run_relevance, sanitize_query)
from bench.report import format_report, targets
from bench.scale import run_scale
from bench.speed import latency_table, measure_indexing, measure_throughput


def parse_args(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Relevance and speed of poisk next to "
        "Whoosh + Snowball (the baseline) and tantivy (the speed reference).")
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS),
                        help="folder of the shared corpus (default: ../shared/corpus)")
    parser.add_argument("--work", default=str(DEFAULT_WORK),
                        help="cache of indexes and samples (default: %(default)s)")
    parser.add_argument("--out", help="JSON results file (default: bench/results/<time>.json)")
    parser.add_argument("--queries", type=int, default=500, metavar="N",
                        help="title and tag queries, every k-th (default: %(default)s; "
                        "XQuAD always runs all 1,190)")
    # 4,000: poisk writes batches of 1,000 on two cores, and 2,000 documents
    # (two batches, both on cold analyzer caches) measured its start, not its pace.
    parser.add_argument("--speed-docs", type=int, default=4000, metavar="N",
                        help="documents indexed for the speed figures (default: %(default)s)")
    parser.add_argument("--latency-queries", type=int, default=200, metavar="N",
                        help="queries per length group for latency (default: %(default)s)")
    parser.add_argument("--half", choices=("dev", "test"),
                        help="every other query only: tune on dev, report test (default: all)")
    parser.add_argument("--sets", default="", metavar="NAME,...",
                        help=f"relevance sets to run (default: all of {', '.join(QUERY_SETS)})")
    parser.add_argument("--full", action="store_true",
                        help="all queries, and the whole news corpus for the speed figures")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help="comma-separated subset of %(default)s")
    parser.add_argument("--only", choices=("relevance", "speed", "indexing"),
                        help="run one part only (indexing: the first half of speed)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached indexes")
    parser.add_argument("--processes", type=int, default=2,
                        help="parallel index builds and relevance runs (default: %(default)s)")
    parser.add_argument("--schema", default="", metavar="K=V,...",
                        help="options for poisk's make_schema(), e.g. policy=top")
    parser.add_argument("--ranking", default="", metavar="K=V,...",
                        help="poisk Ranking() fields, e.g. headline_boost=3,word_bonus=0.5")
    parser.add_argument("--ranking-b", metavar="K=V,...",
                        help="also run poisk-b: poisk on the same indexes with these Ranking() "
                        "fields instead (an A/B of two rankings in one run; '' for the defaults)")
    parser.add_argument("--scale", metavar="N,N,...",
                        help="scale mode instead: synthetic collections of these sizes")
    parser.add_argument("--scale-budget", type=float, default=3600, metavar="SECONDS",
                        help="skip scale points predicted to overrun this (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=20240601, help="seed of the synthetic docs")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.full:
        args.queries = args.speed_docs = None
    return args


def parse_options(text):
    """"a=1,b=x" -> {"a": 1, "b": "x"} (values read as JSON when they can be).

    >>> parse_options("headline_boost=3,policy=top")
    {'headline_boost': 3, 'policy': 'top'}
    """
    options = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value.strip()
    return options


def log(message):
    """Progress on stderr, the report on stdout."""
    print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def environment():
    """Machine, versions and the repository's commit, for the JSON file."""
    def git(*command):
        try:
            return subprocess.run(["git", *command], cwd=REPO_ROOT, capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "indexer", "search")),
            "versions": {p: package_version(p) for p in
                         ("whoosh-reloaded", "pymorphy3", "tantivy", "psutil")}}


def latency_groups(corpus, n):
    """Short (tag, 1-3 words) and headline-length (title) queries, sanitized."""
    return {"short": [sanitize_query(t) for _, t in every_kth(load_queries(corpus, "tag"), n)],
            "headline": [sanitize_query(t) for _, t in
                         every_kth(load_queries(corpus, "title"), n)]}


def run_relevance_part(args, engines, results):
    """Build (or reuse) the relevance indexes and evaluate every set."""
    log("relevance: loading queries and their dictionary forms ...")
    names = [n.strip() for n in args.sets.split(",") if n.strip()] or None
    sets = query_sets(args.corpus, args.queries, half=args.half, names=names)
    log(f"relevance: {len(sets)} query sets x {len(engines)} engines, "
        f"{args.processes} processes ...")
    by_set, indexes = run_relevance(engines, datasets(args.corpus), sets, args.work,
                                    args.rebuild, args.processes, log)
    order = [name + suffix for name in QUERY_SETS for suffix in ("", DICT_SUFFIX)]
    results["relevance"] = {name: {e.name: by_set[name][e.name] for e in engines}
                            for name in order if name in by_set}
    results["relevance_indexes"] = {f"{d}/{e}": meta for (e, d), meta in indexes.items()}


def run_indexing_part(args, engines, results):
    """Indexing throughput and memory, one child process per engine."""
    news = datasets(args.corpus)["news"]
    engines = [e for e in engines if e.name != "poisk-b"]  # the same engine, timed once
    articles = every_kth(load_articles(news.path), args.speed_docs)
    sample = os.path.join(args.work, f"speed-sample-{fingerprint([news.key(), len(articles)])}"
                          ".jsonl")
    os.makedirs(args.work, exist_ok=True)
    docs, words = write_jsonl(articles, sample)
    del articles
    results["load_average_before_speed"] = os.getloadavg()
    results["indexing"] = {}
    for engine in engines:
        log(f"indexing speed: {engine.name}, {docs:,} docs in a child process ...")
        measured = measure_indexing(engine, sample, os.path.join(args.work, "speed", engine.name))
        measured["words"] = words
        measured["words_per_s"] = round(words / measured["seconds"])
        results["indexing"][engine.name] = measured
    results["load_average_after_speed"] = os.getloadavg()  # again after latency, in speed


def run_speed_part(args, engines, results):
    """Indexing throughput and memory (one child per engine), then query latency."""
    run_indexing_part(args, engines, results)
    news = datasets(args.corpus)["news"]
    engines = [e for e in engines if e.name != "poisk-b"]  # the same engine, timed once
    log("latency: making sure the news indexes exist ...")
    paths = ensure_indexes(args.work, [(e, news) for e in engines], args.processes)
    groups = latency_groups(args.corpus, args.latency_queries)
    results["latency"] = {}
    for engine in engines:
        log(f"latency: {engine.name}, {sum(map(len, groups.values()))} queries x 2 ...")
        searcher = engine.open(paths[engine.name, "news"]["path"])
        try:
            results["latency"][engine.name] = latency_table(searcher, groups)
            log(f"throughput: {engine.name}, 8 concurrent clients ...")
            results.setdefault("throughput", {})[engine.name] = {
                group: measure_throughput(searcher, queries, clients=8)
                for group, queries in groups.items()}
        finally:
            searcher.close()
    results["config"]["latency_index_docs"] = paths[engines[0].name, "news"]["docs"]
    results["load_average_after_speed"] = os.getloadavg()


def run_part(name, function, results, *args):
    """Run one part, timed; an error is logged and recorded, and the other parts still run."""
    started = time.perf_counter()
    try:
        function(*args)
    except Exception as error:  # report what was measured even if one part breaks
        log(f"{name} failed: {type(error).__name__}: {error}")
        results.setdefault("errors", {})[name] = traceback.format_exc()
    results.setdefault("part_seconds", {})[name] = round(time.perf_counter() - started, 1)


def main(argv=None):
    """Run the benchmark, print the report, write the JSON file."""
    args = parse_args(argv)
    started = time.perf_counter()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or str(REPO_ROOT / "bench" / "results" / f"{stamp}.json")
    engines, notes = make_engines(args.engines, parse_options(args.schema),
                                  parse_options(args.ranking),
                                  None if args.ranking_b is None else parse_options(args.ranking_b))
    results = {"started": stamp, "command": " ".join(sys.argv), "environment": environment(),
               "config": {k: v for k, v in vars(args).items()}, "notes": notes}
    results["config"]["engines"] = [e.name for e in engines]
    if args.scale:
        sizes = [int(n.replace("_", "")) for n in args.scale.split(",") if n.strip()]
        corpus_file = datasets(args.corpus)["news"].path
        results["scale"] = run_scale(engines, sizes, corpus_file, args.work, args.seed,
                                     args.scale_budget, latency_groups(args.corpus, 100), log)
    else:
        if args.only in (None, "relevance"):
            run_part("relevance", run_relevance_part, results, args, engines, results)
        if args.only in (None, "speed"):
            run_part("speed", run_speed_part, results, args, engines, results)
        if args.only == "indexing":
            run_part("indexing", run_indexing_part, results, args, engines, results)
    results["targets"] = targets(results)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["out"] = out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=1)
    print(format_report(results))


if __name__ == "__main__":
    main()
