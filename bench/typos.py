"""``python -m bench.typos``: queries as people type them (issue 11), measured in one run.

Query sets, all derived deterministically from the bench's own sets (``bench.relevance``):

- ``title`` / ``tag``: the clean sets, as in the main bench;
- ``title+drop``, ``title+swap``: each headline with one letter dropped from one word, or two
  neighbouring letters of one word swapped (the word and the letter chosen by a generator seeded
  with the query id; words of 4+ letters, not acronyms; the first letter is never dropped);
- ``title+layout``: each headline typed on the Latin keys (``search.layout.to_latin``);
- ``tag+typo``: each tag query of a 4+ letter word with one letter dropped or swapped
  (alternately), scored on the same queries' judgments; ``tag+typo`` only holds tags that have
  such a word, and ``tag@typo`` is the same tags spelt right;
- ``tag+syn``: every tag query that is a name in ``data/synonyms.tsv``, asked with each *other*
  name of its group (``ес`` asked as ``Евросоюз``, ``Европейский союз``), judged by the tag's
  articles. The file was written by someone who had seen the tag list, so this set flatters it;
- ``title@syn``: the clean headlines to which the rewriting adds a synonym (chosen on the index,
  by ``Index.rewriter``): headlines and judgments the synonyms file was not written from.

Engines: poisk (layout, typo correction and synonyms on), ``poisk-as-typed`` (the same index,
``corrections=False, synonyms=False``), ``poisk-no-synonyms`` (corrections on, synonyms off; on
the two synonym sets only), and the baselines. Then the CPU cost of correction per
query (``rewrite_cost``): corrections on against off, for the rewriting alone and for the whole
search, on clean and misspelt queries.
"""

import argparse
import dataclasses
import datetime
import json
import os
import random
import sys
import time

from bench import DEFAULT_CORPUS, DEFAULT_WORK, REPO_ROOT
from bench.corpus import datasets, every_kth
from bench.engines import PoiskEngine, make_engines
from bench.indexes import ensure_index
from bench.relevance import evaluate, load_qrels, load_queries, sanitize_query
from bench.speed import percentiles

SETS = ("title", "title+drop", "title+swap", "title+layout",
        "tag", "tag@typo", "tag+typo", "tag+syn")
METRICS = {"title": ("mrr@10", "ndcg@10", "recall@100"), "tag": ("ndcg@10", "recall@100")}
AS_TYPED = "poisk-as-typed"
NO_SYNONYMS = "poisk-no-synonyms"
SYNONYM_SETS = ("title@syn", "tag+syn")
VARIANTS = ("poisk", AS_TYPED, NO_SYNONYMS)
UNTIMED = 3600.0
# The baselines run on the headline sets only (their index without headlines); the tag sets
# would need a second index per baseline, and the question there is poisk with and without.
BASELINE_DATASETS = ("news-nohead",)


def misspell(text, kind, key):
    """The text with one typo of ``kind`` ("drop" or "swap") in one word, or None if no word fits.

    >>> misspell("Цены на никель выросли", "drop", "q1")
    'Цены на ниель выросли'
    >>> misspell("Цены на никель выросли", "swap", "q1")
    'Цены на никель выорсли'
    """
    rng = random.Random(f"{key}:{kind}")
    words = text.split()
    fit = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha() and not w.isupper()]
    if not fit:
        return None
    i = rng.choice(fit)
    word = words[i]
    if kind == "drop":
        j = rng.randrange(1, len(word))
        words[i] = word[:j] + word[j + 1:]
    else:
        pairs = [j for j in range(len(word) - 1) if word[j] != word[j + 1]]
        if not pairs:
            return None
        j = rng.choice(pairs)
        words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


def synonym_queries(tag_queries, analyzer):
    """[(qid, other name)] for every tag that names a synonym group, one per other name."""
    from search.synonyms import Synonyms, _key, default_file

    table = Synonyms.load([default_file()], analyzer)
    queries = []
    for qid, text in tag_queries:
        key = _key(text, analyzer)
        for group in table.groups:
            if key and any(other == key for _, other in group):
                queries += [(qid, name) for name, other in group if other != key]
    return [(f"{qid}~{n}", text) for n, (qid, text) in enumerate(queries)]


def make_sets(corpus, limit):
    """{set name: (dataset name, [(qid, text)], qrels)}."""
    from indexer.analysis import russian_analyzer

    qrels = load_qrels(os.path.join(corpus, "ru-kw-news-qrels.tsv"))
    titles = [(q, sanitize_query(t)) for q, t in every_kth(load_queries(corpus, "title"), limit)]
    tags = [(q, sanitize_query(t)) for q, t in every_kth(load_queries(corpus, "tag"), limit)]
    sets = {"title": ("news-nohead", titles), "tag": ("news", tags)}
    for kind in ("drop", "swap"):
        sets[f"title+{kind}"] = ("news-nohead", [(q, misspell(t, kind, q) or t) for q, t in titles])
    from search.layout import to_latin
    sets["title+layout"] = ("news-nohead", [(q, to_latin(t)) for q, t in titles])
    typo = [(q, misspell(t, ("drop", "swap")[n % 2], q)) for n, (q, t) in enumerate(tags)]
    kept = {q for q, t in typo if t}
    sets["tag@typo"] = ("news", [(q, t) for q, t in tags if q in kept])
    sets["tag+typo"] = ("news", [(q, t) for q, t in typo if t])
    synonyms = synonym_queries(load_queries(corpus, "tag"), russian_analyzer())
    for qid, _ in synonyms:
        qrels[qid] = qrels.get(qid.split("~")[0], set())
    sets["tag+syn"] = ("news", synonyms)
    return {name: (dataset, queries, {q: qrels[q] for q, _ in queries if q in qrels})
            for name, (dataset, queries) in sets.items()}


class _AsTyped:
    """poisk's searcher with layout/typo correction (and, unless ``corrections``, synonyms) off."""

    def __init__(self, searcher, corrections=False):
        self.inner = searcher
        self.corrections = corrections

    def search(self, text, limit=10, snippets=False):
        result = self.inner.index.search(text, limit=limit, snippets=snippets,
                                         corrections=self.corrections, synonyms=False)
        return [hit.id for hit in result.hits]

    def close(self):
        self.inner.close()


def synonym_headlines(index, title_set):
    """``title@syn``: the clean headlines to which the rewriting adds synonyms.

    Headlines and their judgments come from the corpus, not from whoever wrote the
    synonyms file, so this set is not flattered as ``tag+syn`` is.
    """
    from search.query import parse_query

    dataset, queries, qrels = title_set
    kept = [(q, t) for q, t in queries
            if any(n.kind == "synonym" for n in index.rewriter().rewrite(parse_query(t))[1])]
    return dataset, kept, {q: qrels[q] for q, _ in kept if q in qrels}


def run_relevance(engines, sets, corpus, work, log, variants=None,
                  with_synonym_headlines=True):
    """({set: {engine: metrics}}, {set: size}): every engine on every set, poisk also as typed,
    and on the synonym sets without synonyms (corrections on); ``variants`` picks among them."""
    collections = datasets(corpus)
    sets = dict(sets)
    variants = variants or VARIANTS
    results = {name: {} for name in (*sets, "title@syn")}
    for engine in engines:
        for dataset in sorted({d for d, _, _ in sets.values()}):
            if not isinstance(engine, PoiskEngine) and dataset not in BASELINE_DATASETS:
                continue
            meta = ensure_index(work, engine, collections[dataset])
            searcher = engine.open(meta["path"])
            runs = [(engine.name, searcher, sets)]
            if isinstance(engine, PoiskEngine):
                # No time budget: on a loaded machine a long headline query would come
                # back partial, and the figures would depend on the load.
                searcher.index.budget = dataclasses.replace(
                    searcher.index.budget, seconds=UNTIMED, snippet_seconds=UNTIMED)
                if with_synonym_headlines and "title" in sets and dataset == sets["title"][0]:
                    sets["title@syn"] = synonym_headlines(searcher.index, sets["title"])
                runs.append((AS_TYPED, _AsTyped(searcher), sets))
                runs.append((NO_SYNONYMS, _AsTyped(searcher, corrections=True),
                             {k: v for k, v in sets.items() if k in SYNONYM_SETS}))
                runs = [r for r in runs if r[0] in variants]
            for name, run, chosen in runs:
                for set_name, (d, queries, qrels) in chosen.items():
                    if d == dataset:
                        results[set_name][name] = evaluate(
                            lambda text, run=run: run.search(text, limit=100), queries, qrels)
                        log(f"{set_name:13} {name:15} " + "  ".join(
                            f"{m}={results[set_name][name][m]:.3f}" for m in _metrics(set_name)))
            searcher.close()
    return results, {k: len(v[1]) for k, v in sets.items()}


COST_SETS = ("tag", "tag+typo", "title", "title+drop", "title+layout")


def _cpu(action):
    """CPU seconds of this process spent in ``action()`` (not wall time: the machine is shared)."""
    started = time.process_time()
    action()
    return time.process_time() - started


def rewrite_cost(engine, corpus, work, sets, log, searches=100, path=None):
    """The CPU cost of correction (layout, typos, did-you-mean) per query, on against off.

    For each set, a freshly opened index (its reader's frequency cache empty, the
    lexicon of index words built before timing, as once per index generation), and
    per query: the rewriting of the parsed query with corrections on, then off
    (synonyms on in both), and for the first ``searches`` queries the whole search,
    on then off; reported as p50/p95 of the per-query difference in milliseconds.
    Off runs second, on the frequencies the on run cached, so the difference is
    if anything too large. Clean sets search the same words either way.
    """
    from search import open_index
    from search.query import parse_query

    path = path or ensure_index(work, engine, datasets(corpus)["news"])["path"]
    cost = {}
    for set_name in COST_SETS:
        with open_index(path) as index:
            build = _cpu(lambda: index.rewriter().speller.lexicon)
            cost.setdefault("lexicon_build_cpu_s", round(build, 2))
            cost.setdefault("lexicon_terms", len(index.rewriter().speller.lexicon.terms))
            rewrite, search = [], []
            for n, (_, text) in enumerate(sets[set_name][1]):
                tree = parse_query(text)
                on = _cpu(lambda: index.rewriter(corrections=True).rewrite(tree))
                rewrite.append(on - _cpu(lambda: index.rewriter(corrections=False).rewrite(tree)))
                if n < searches:
                    on = _cpu(lambda: index.search(text, limit=10, corrections=True))
                    search.append(on - _cpu(lambda: index.search(text, limit=10,
                                                                 corrections=False)))
        for label, samples in (("rewrite", rewrite), ("search", search)):
            cost[f"correction_cpu_ms {label} {set_name}"] = percentiles(samples)
            log(f"correction_cpu_ms {label} {set_name}: {percentiles(samples)}")
    return cost


def _metrics(set_name):
    return METRICS[set_name.split("+")[0].split("@")[0]]


def format_table(results):
    """The relevance table: one row per set and metric, one column per engine."""
    engines = list(dict.fromkeys(e for by in results.values() for e in by))
    lines = [f"{'set':26}" + "".join(f"{e:>18}" for e in engines)]
    for set_name, by_engine in results.items():
        for metric in _metrics(set_name):
            lines.append(f"{set_name + ' ' + metric:26}" + "".join(
                f"{by_engine[e][metric]:>18.3f}" if e in by_engine else f"{'':>18}"
                for e in engines))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.typos", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--work", default=str(DEFAULT_WORK))
    parser.add_argument("--queries", type=int, default=500, metavar="N")
    parser.add_argument("--engines", default="poisk,whoosh,tantivy")
    parser.add_argument("--cost-searches", type=int, default=100, metavar="N",
                        help="whole searches timed per set for the cost of correction")
    parser.add_argument("--only-cost", action="store_true", help="skip the relevance sets")
    parser.add_argument("--no-cost", action="store_true", help="skip the cost of correction")
    parser.add_argument("--cost-index", metavar="DIR",
                        help="a poisk index to measure the cost on (default: the news index)")
    parser.add_argument("--sets", help="comma-separated sets to score (default: all)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="poisk variants to score (default: all)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    def log(message):
        print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    engines, _ = make_engines([e for e in args.engines.split(",") if e])
    sets = make_sets(args.corpus, args.queries)
    log("sets: " + ", ".join(f"{k} {len(v[1])}" for k, v in sets.items()))
    chosen = {k: v for k, v in sets.items() if not args.sets or k in args.sets.split(",")}
    relevance, sizes = ({}, {}) if args.only_cost else run_relevance(
        engines, chosen, args.corpus, args.work, log, args.variants.split(","),
        with_synonym_headlines=not args.sets or "title@syn" in args.sets.split(","))
    results = {"relevance": relevance}
    poisk = [e for e in engines if isinstance(e, PoiskEngine)]
    if poisk and not args.no_cost:
        results["cost"] = rewrite_cost(poisk[0], args.corpus, args.work, sets, log,
                                       args.cost_searches, args.cost_index)
    out = args.out or str(REPO_ROOT / "bench" / "results" /
                          f"typos-{datetime.datetime.now():%Y%m%d-%H%M%S}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(dict(results, sets=sizes or {k: len(v[1]) for k, v in sets.items()}), f,
                  ensure_ascii=False, indent=1)
    print(format_table(results["relevance"]))
    for key, value in results.get("cost", {}).items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
