"""Near-duplicate stories: precision and recall on labelled pairs, and the indexing-speed cost.

    python -m bench.stories quality [--corpus DIR]
    python -m bench.stories speed [--corpus DIR] [--docs N] [--work DIR]
    python -m bench.stories latency --index DIR [--corpus DIR] [--queries N]

``quality`` reads the hand-labelled pairs of ``bench/story-pairs.tsv`` (ids of
tg-news-posts; how they were drawn and labelled is in its header), sketches
both posts with poisk's own code (``indexer.stories``: the index's analyzer,
the sketch, ``same_story`` with the dates) and reports precision and recall
of ``same_story``, weighted by stratum (each labelled pair stands for its
stratum's pairs / labelled pairs) and unweighted, on all pairs and on each
half (even and odd lines).

``speed`` indexes the same documents twice in fresh child processes, one
after the other, with poisk's schema and with the story field replaced by a
field that does nothing, and reports documents per second and per CPU-second
of each: Telegram posts (short) and ru-kw-news articles (long).

``latency`` runs the bench's short and headline queries (``--queries`` of
each) on an index, top 10 with snippets, grouped and not, twice in turn
after a warm-up, and reports the second round's percentiles (wall and CPU).
"""

import argparse
import datetime
import gzip
import json
import os
import pathlib
import re

from whoosh.fields import FieldType

from bench import DEFAULT_WORK
from bench.corpus import every_kth, load_articles, write_jsonl
from bench.engines import PoiskEngine
from bench.speed import WARMUP_QUERIES, measure_indexing, measure_latency

PAIRS = pathlib.Path(__file__).with_name("story-pairs.tsv")
STRATUM_RE = re.compile(r"# stratum (\S+): .*: (\d+) labelled of (\d+)")
TELEGRAM_FILE = "tg-news-posts.jsonl.gz"
NEWS_FILE = "ru-kw-news.jsonl.gz"


def read_pairs(path=PAIRS):
    """(a, b, same, stratum) rows and {stratum: (labelled, pairs)} from the labels file."""
    rows, strata = [], {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stratum = STRATUM_RE.fullmatch(line)
        if stratum:
            strata[stratum[1]] = (int(stratum[2]), int(stratum[3]))
        elif line and not line.startswith(("#", "a\t")):
            a, b, same, stratum = line.split("\t")
            rows.append((a, b, int(same), stratum))
    return rows, strata


def precision_recall(rows, predicted, weights):
    """Weighted precision and recall of ``predicted`` (a set of row indexes) on ``rows``."""
    tp = fp = fn = 0.0
    for n, (_, _, same, stratum) in enumerate(rows):
        weight = weights[stratum]
        if n in predicted:
            tp, fp = (tp + weight, fp) if same else (tp, fp + weight)
        elif same:
            fn += weight
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def quality(corpus):
    from indexer.analysis import russian_analyzer
    from indexer.stories import lemma_words, same_story, sketch_of

    rows, strata = read_pairs()
    wanted = {i for a, b, _, _ in rows for i in (a, b)}
    posts = {}
    with gzip.open(os.path.join(corpus, TELEGRAM_FILE), "rt", encoding="utf-8") as f:
        for line in f:
            post = json.loads(line)
            if post["id"] in wanted:
                posts[post["id"]] = post
    analyzer = russian_analyzer()
    story = {i: (sketch_of(lemma_words(p["text"], analyzer)),
                 p["date"] and datetime.date.fromisoformat(p["date"])) for i, p in posts.items()}
    predicted = {n for n, (a, b, _, _) in enumerate(rows)
                 if same_story(story[a][0], story[b][0], story[a][1], story[b][1])}
    weighted = {name: pairs / labelled for name, (labelled, pairs) in strata.items()}
    plain = {name: 1.0 for name in strata}
    print(f"{len(rows)} labelled pairs, {sum(r[2] for r in rows)} of the same story; "
          f"{len(predicted)} grouped by same_story")
    for title, subset in (("all", range(len(rows))), ("even", range(0, len(rows), 2)),
                          ("odd", range(1, len(rows), 2))):
        part = [rows[n] for n in subset]
        chosen = {k for k, n in enumerate(subset) if n in predicted}
        p_w, r_w = precision_recall(part, chosen, weighted)
        p, r = precision_recall(part, chosen, plain)
        print(f"{title:>5}: weighted precision {p_w:.3f} recall {r_w:.3f}   "
              f"unweighted precision {p:.3f} recall {r:.3f}   ({len(part)} pairs)")


class _NoField(FieldType):
    """A field that indexes, stores and keeps nothing: the baseline without story sketches."""

    indexed = False

    def __init__(self, analyzer=None):
        self.format = self.analyzer = None
        self.column_type = None


class _NoStoriesEngine(PoiskEngine):
    name = "poisk-without-stories"

    def build(self, articles, path):
        from indexer.build import index_articles
        from indexer.storage import make_schema

        schema = make_schema()
        schema.remove("story")
        schema.add("story", _NoField())
        report = index_articles(articles, path, rebuild=True, schema=schema)
        return report.written


def speed(corpus, docs, work):
    os.makedirs(work, exist_ok=True)
    for name in (TELEGRAM_FILE, NEWS_FILE):
        articles = every_kth(load_articles(os.path.join(corpus, name)), docs)
        sample = os.path.join(work, f"stories-{name}.jsonl")
        count, words = write_jsonl(articles, sample)
        del articles
        print(f"{name}: {count} documents, {words} words")
        for engine in (_NoStoriesEngine(), PoiskEngine(), _NoStoriesEngine(), PoiskEngine()):
            measured = measure_indexing(engine, sample, os.path.join(work, "stories-speed"))
            print(f"  {engine.name:<24} {measured['docs_per_s']:>7} docs/s  "
                  f"{measured['docs_per_cpu_s']:>7} docs/CPU-s  "
                  f"{measured['size_bytes'] / 2 ** 20:6.1f} MiB", flush=True)


class _Searcher:
    def __init__(self, index, group):
        self.index, self.group = index, group

    def search(self, text, limit=10, snippets=False):
        return self.index.search(text, limit=limit, snippets=snippets, group=self.group)


def latency(corpus, index_dir, queries):
    from bench.__main__ import latency_groups
    from search import open_index

    groups = latency_groups(corpus, queries)
    with open_index(index_dir) as index:
        for text in groups["short"][:WARMUP_QUERIES]:
            index.search(text)
        for round_ in (1, 2):
            for group in (False, True):
                for name, texts in groups.items():
                    stats = measure_latency(_Searcher(index, group), texts, True)
                    if round_ == 2:
                        print(f"{name:>8} group={group!s:<5}  p50 {stats['p50']:7.1f} ms  "
                              f"p95 {stats['p95']:7.1f} ms  CPU p50 {stats['cpu_p50']:7.1f} ms  "
                              f"CPU p95 {stats['cpu_p95']:7.1f} ms  ({stats['n']} queries)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.stories", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("quality", "speed", "latency"))
    root = pathlib.Path(__file__).resolve().parent.parent
    parser.add_argument("--corpus", default=str(root.parent / "shared" / "corpus"))
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--work", default=str(DEFAULT_WORK))
    parser.add_argument("--index", help="the index for latency")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    if args.part == "quality":
        quality(args.corpus)
    elif args.part == "speed":
        speed(args.corpus, args.docs, args.work)
    else:
        latency(args.corpus, args.index, args.queries)


if __name__ == "__main__":
    main()
