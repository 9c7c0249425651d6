"""Relevance: query sets, qrels, metrics, and running every engine over every set.

Reusable for ranking work::

    queries = [(qid, sanitize_query(text)) for qid, text in load_queries(corpus, "title")]
    qrels = load_qrels(f"{corpus}/ru-kw-news-qrels.tsv")
    searcher = PoiskEngine(ranking_options={"headline_boost": 3}).open(path)
    evaluate(lambda text: searcher.search(text, limit=100), queries, qrels)

Queries are cleaned into plain words (``sanitize_query``) the same way for all
engines: raw headlines hold quotes, colons, dashes and capitalised AND/OR that
each engine's query language would read differently.
"""

import collections
import concurrent.futures
import csv
import gzip
import json
import math
import multiprocessing
import os
import time

from bench.corpus import WORD_RE, every_kth
from bench.engines import PoiskEngine
from bench.indexes import ensure_index, index_path

OPERATOR_WORDS = {"AND", "OR", "NOT", "И", "ИЛИ", "НЕ", "ANDNOT", "ANDMAYBE", "TO", "IN"}

# name -> (queries file, kind, qrels file, dataset, headline metrics)
QUERY_SETS = {
    "title": ("ru-kw-news-queries.jsonl.gz", "title", "ru-kw-news-qrels.tsv", "news-nohead",
              ("mrr@10", "ndcg@10", "recall@100")),
    "tag": ("ru-kw-news-queries.jsonl.gz", "tag", "ru-kw-news-qrels.tsv", "news",
            ("ndcg@10", "recall@100")),
    "xquad": ("xquad-ru-queries.jsonl.gz", "question", "xquad-ru-qrels.tsv", "xquad",
              ("mrr@10", "recall@10")),
    # The same queries on bodies without their standfirst (summary): the RiaNews
    # protocol. Rankings tuned on bodies with it need not carry over.
    "title-nosf": ("ru-kw-news-queries.jsonl.gz", "title", "ru-kw-news-qrels.tsv",
                   "news-nohead-nosf", ("mrr@10", "ndcg@10", "recall@100")),
    "tag-nosf": ("ru-kw-news-queries.jsonl.gz", "tag", "ru-kw-news-qrels.tsv", "news-nosf",
                 ("ndcg@10", "recall@100")),
}
HALVES = ("dev", "test")  # every other query: tune on "dev", report "test"
DICT_SUFFIX = "+dict"  # the same queries rewritten into dictionary forms
DEPTH = 100


def load_queries(corpus, kind):
    """[(query id, text)] of one kind ("title", "tag" or "question"), in file order."""
    name = next(spec[0] for spec in QUERY_SETS.values() if spec[1] == kind)
    with gzip.open(os.path.join(corpus, name), "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    return [(r["id"], r["text"]) for r in records if r["kind"] == kind]


def load_qrels(path):
    """{query id: set of relevant doc ids} from a BEIR-style TSV (score > 0 is relevant)."""
    qrels = collections.defaultdict(set)
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if float(row["score"]) > 0:
                qrels[row["query-id"]].add(row["corpus-id"])
    return dict(qrels)


def sanitize_query(text):
    """Plain words only: no quotes, operators, field prefixes or punctuation.

    Words keep inner hyphens and decimal points; capitalised operator words are
    lower-cased so no engine reads them as operators.

    >>> sanitize_query('F1.Гран-При: Феттель "осторожно надеется" И (AND) -1,5%')
    'F1 Гран-При Феттель осторожно надеется и and 1,5'
    """
    return " ".join(w.lower() if w in OPERATOR_WORDS else w for w in WORD_RE.findall(text))


def dictionary_form(text):
    """Each word replaced by its most likely pymorphy3 normal form.

    >>> dictionary_form("Редкоземельных металлов")
    'редкоземельный металл'
    """
    from indexer.analysis import morph_analyzer

    morph = morph_analyzer()
    return " ".join(morph.parse(word)[0].normal_form for word in text.split())


def evaluate(run_fn, queries, qrels, k=10, depth=DEPTH):
    """Mean MRR@k, nDCG@k, Recall@k and Recall@depth of ``run_fn(text) -> [doc id]``.

    A query that raises (e.g. ``QuerySyntaxError`` for stop words only) counts
    as a miss; failures are counted by exception type.

    >>> evaluate(lambda q: ["d2", "d1"], [("q1", "x")], {"q1": {"d1"}})["mrr@10"]
    0.5
    """
    sums = collections.Counter()
    failures, example = collections.Counter(), None
    evaluated, started = 0, time.perf_counter()
    for qid, text in queries:
        relevant = qrels.get(qid)
        if not relevant:
            continue
        evaluated += 1
        try:
            ranked = list(run_fn(text))[:depth]
        except Exception as error:  # a miss, counted by kind
            failures[type(error).__name__] += 1
            example = example or f"{text!r}: {type(error).__name__}: {error}"[:300]
            ranked = []
        gains = [doc in relevant for doc in ranked]
        first = next((i for i, hit in enumerate(gains[:k]) if hit), None)
        sums[f"mrr@{k}"] += 0.0 if first is None else 1.0 / (first + 1)
        dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(gains[:k]) if hit)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
        sums[f"ndcg@{k}"] += dcg / ideal
        sums[f"recall@{k}"] += sum(gains[:k]) / len(relevant)
        sums[f"recall@{depth}"] += sum(gains) / len(relevant)
    metrics = {name: round(sums[name] / evaluated, 4) if evaluated else 0.0
               for name in (f"mrr@{k}", f"ndcg@{k}", f"recall@{k}", f"recall@{depth}")}
    elapsed = time.perf_counter() - started
    metrics.update(queries=evaluated, failures=dict(failures), failure_example=example,
                   ms_per_query=round(1000 * elapsed / max(evaluated, 1), 2))
    return metrics


def query_sets(corpus, limit=None, half=None, names=None):
    """{set name: (dataset name, [(qid, text)], qrels)}, sanitized, plus the "+dict" variants.

    ``limit`` spreads that many queries evenly over the title and tag sets;
    XQuAD (1,190 questions on 240 paragraphs) is always run in full. ``half``
    ("dev" or "test") keeps every other query of the file (dev: the 1st, 3rd,
    ...), before ``limit``: ranking is tuned on one half and reported on the other.
    ``names`` picks some of QUERY_SETS.
    """
    sets = {}
    for name, (_file, kind, qrels_file, dataset, _metrics) in QUERY_SETS.items():
        if names and name not in names:
            continue
        queries = load_queries(corpus, kind)
        if half:
            queries = queries[HALVES.index(half)::2]
        if name != "xquad":
            queries = every_kth(queries, limit)
        queries = [(qid, sanitize_query(text)) for qid, text in queries]
        qrels = load_qrels(os.path.join(corpus, qrels_file))
        qrels = {qid: qrels[qid] for qid, _ in queries if qid in qrels}
        sets[name] = (dataset, queries, qrels)
        sets[name + DICT_SUFFIX] = (
            dataset, [(qid, dictionary_form(text)) for qid, text in queries], qrels)
    return sets


def run_relevance(engines, corpora, sets, work, rebuild=False, processes=2, log=print):
    """Evaluate every engine on every set: ({set: {engine: metrics}}, {(engine, corpus): meta}).

    ``corpora`` maps the collection names of ``sets`` to ``bench.corpus.Dataset``.

    One task per index (engine, collection) builds the index if it is not cached,
    then runs that collection's query sets with every engine that searches that
    index (poisk and an A/B variant of its ranking share one); ``processes``
    tasks run side by side, the biggest first, so building and querying overlap
    on the cores.
    """
    grouped = {}
    for engine in engines:
        for dataset, chosen in by_collection(sets).items():
            key = index_path(work, engine, corpora[dataset])
            grouped.setdefault(key, ([], corpora[dataset], chosen))[0].append(engine)
    tasks = list(grouped.values())
    rank = {"poisk": 0, "whoosh": 1, "tantivy": 2}
    tasks.sort(key=lambda t: (t[1].name == "xquad", rank.get(t[0][0].name, 3), t[1].name))
    results, indexes = collections.defaultdict(dict), {}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = {pool.submit(evaluate_collection, work, group, dataset, chosen, rebuild):
                   dataset.name for group, dataset, chosen in tasks}
        for future in concurrent.futures.as_completed(futures):
            dataset = futures[future]
            meta, by_engine = future.result()
            for engine, by_set in by_engine.items():
                indexes[engine, dataset] = meta
                built = "cached" if meta["cached"] else f"built in {meta['seconds']:.0f} s"
                log(f"  {dataset}/{engine}: {meta['docs']} docs, index {built}")
                for name, metrics in by_set.items():
                    results[name][engine] = metrics
                    failures = f"  failed: {metrics['failures']}" if metrics["failures"] else ""
                    log(f"    {name:11} " + "  ".join(
                        f"{m}={metrics[m]:.3f}" for m in metric_names(name)) + failures)
    return dict(results), indexes


def by_collection(sets):
    """{collection name: {set name: (queries, qrels)}} for sets as made by ``query_sets``."""
    grouped = collections.defaultdict(dict)
    for name, (dataset, queries, qrels) in sets.items():
        grouped[dataset][name] = (queries, qrels)
    return grouped


def evaluate_collection(work, engines, dataset, chosen, rebuild=False):
    """Build (or reuse) one index and evaluate the chosen sets on it with each engine
    that searches it: (metadata, {engine name: {set: metrics}})."""
    meta = ensure_index(work, engines[0], dataset, rebuild)
    by_engine = {}
    for engine in engines:
        # poisk without its time limit: relevance, not the machine's load (bench.engines)
        timed = {"timed": False} if isinstance(engine, PoiskEngine) else {}
        searcher = engine.open(meta["path"], **timed)
        try:
            by_engine[engine.name] = {
                name: evaluate(lambda text: searcher.search(text, limit=DEPTH), queries, qrels)
                for name, (queries, qrels) in chosen.items()}
        finally:
            searcher.close()
    return meta, by_engine


def metric_names(set_name):
    """The metrics the issue asks for on this set."""
    return QUERY_SETS[set_name.removesuffix(DICT_SUFFIX)][4]
