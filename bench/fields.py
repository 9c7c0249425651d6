"""Regions and industries: precision and recall on hand-labelled articles, and what extraction
costs an indexing run.

    python -m bench.fields                      # quality on bench/labels/regions-industries.tsv
    python -m bench.fields --speed 2000         # and indexing with and without extraction
    python -m bench.fields --labels held-out    # on the held-out sample (labelled unseen)
    python -m bench.fields --draw 100           # draw the held-out sample, ids to label
    python -m bench.fields --draw 60 --labels blind --texts   # a fresh sample, with its texts

The labels (``bench/labels/regions-industries.tsv``, rules in ``bench/labels/README.md``)
give ids of the shared corpora and the labels read by hand; no corpus text is stored.
Each article is judged on the text its labeller read: the headline and the first
``TG_CHARS`` characters of a Telegram post's body, ``NEWS_CHARS`` of a news article's.
"""

import argparse
import json
import os
import random
import re
import tempfile
from collections import Counter

from bench.corpus import NEWS_FILE
from indexer import industries, regions
from indexer.extract import Words
from indexer.footers import Footers
from indexer.sources import read_sources

LABEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "labels")
LABELS = os.path.join(LABEL_DIR, "regions-industries.tsv")
HELD_OUT = os.path.join(LABEL_DIR, "held-out.tsv")
BLIND = os.path.join(LABEL_DIR, "blind.tsv")
BLIND2 = os.path.join(LABEL_DIR, "blind-2.tsv")
BLIND3 = os.path.join(LABEL_DIR, "blind-3.tsv")
BLIND4 = os.path.join(LABEL_DIR, "blind-4.tsv")
BLIND5 = os.path.join(LABEL_DIR, "blind-5.tsv")
BLIND6 = os.path.join(LABEL_DIR, "blind-6.tsv")
LABEL_SETS = {"tuned": LABELS, "held-out": HELD_OUT, "blind": BLIND, "blind-2": BLIND2,
              "blind-3": BLIND3, "blind-4": BLIND4, "blind-5": BLIND5, "blind-6": BLIND6}
# Each sample after the first is drawn with its own seed from the same four
# strata, leaving out every article of the samples drawn before it: the
# held-out one after the tuned one, the blind one (labelled from the texts
# alone, committed before the extractors ever ran on them) after both, and the
# second blind one (80 articles, drawn after the rules written on the first's errors)
# after all three, the third (100, after the rules written on the second's) after all four,
# the fourth (100, after the rules written on the third's) after all five, the fifth (80,
# after the rules written on the fourth's) after all six, the sixth (120, after the rules
# written on the fifth's: passing names, footers, different industry names) after all seven.
HELD_OUT_SEED = 20261127
SEEDS = {"tuned": 20261126, "held-out": HELD_OUT_SEED, "blind": 20261207, "blind-2": 20261271,
         "blind-3": 20261373, "blind-4": 20261479, "blind-5": 20261587, "blind-6": 20261693}
KEYWORD_RE = re.compile(r"област|край|республик|губернатор|завод|шахт|нефт|газ|энерг|уг(?:о)?л"
                        r"|металл|комбинат|урожай|порт", re.IGNORECASE)
TOPICS = ("regions", "energy", "ng_energiya", "economics", "business")
TG_FILE = "tg-news-posts.jsonl.gz"
TG_CHARS = 1500
NEWS_CHARS = 700
DEFAULT_CORPUS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "..", "shared", "corpus")


def read_labels(path=LABELS):
    """id -> (stratum, set of regions, set of industries)."""
    labels = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            doc_id, stratum, regs, inds = line.rstrip("\n").split("\t")
            labels[doc_id] = (stratum, _split(regs), _split(inds))
    return labels


def _split(text):
    return {value.strip() for value in text.split(";") if value.strip()}


def labelled_texts(corpus, ids, footers=None):
    """id -> the text its labeller read (headline and the start of the body); with a
    ``Footers``, learnt here from every post of the corpora as an indexing run learns them,
    without the channel footers that text ends with (as extraction reads it)."""
    texts, read = {}, {}
    for name in (TG_FILE, NEWS_FILE):
        for article in read_sources([os.path.join(corpus, name)]):
            if footers is not None and hasattr(article, "body"):
                footers.learn(article.source, article.body)
            if getattr(article, "id", None) in ids:
                limit = TG_CHARS if article.id.startswith("tg-") else NEWS_CHARS
                read[article.id] = (article.source, article.headline, article.body[:limit])
    for doc_id, (source, headline, body) in read.items():
        cut = len(body) if footers is None else footers.start(source, body)
        texts[doc_id] = headline + "\n" + body[:cut]
    missing = ids - set(texts)
    if missing:
        raise SystemExit(f"{len(missing)} labelled ids are not in {corpus}: {sorted(missing)[:3]}")
    return texts


def draw(corpus, per_stratum, seed=HELD_OUT_SEED, exclude=()):
    """A fresh sample of ids by stratum (the strata of bench/labels/README.md), none of
    ``exclude``: ``per_stratum`` ids of each, in the corpus's order shuffled by ``seed``."""
    import gzip

    rng, strata = random.Random(seed), {}
    for name, prefix in ((TG_FILE, "tg"), (NEWS_FILE, "news")):
        with gzip.open(os.path.join(corpus, name), "rt", encoding="utf-8") as f:
            records = [json.loads(line) for line in f]
        records = [r for r in records if r["id"] not in exclude]
        if prefix == "tg":
            keyword = [r for r in records
                       if KEYWORD_RE.search(r.get("title", "") + " " + r.get("text", ""))]
        else:
            keyword = [r for r in records if r.get("topic") in TOPICS]
        picked = rng.sample(records, per_stratum)
        chosen = {r["id"] for r in picked}
        strata[f"{prefix}-random"] = [r["id"] for r in picked]
        strata[f"{prefix}-{'keyword' if prefix == 'tg' else 'topic'}"] = [
            r["id"] for r in rng.sample([r for r in keyword if r["id"] not in chosen], per_stratum)]
    return strata


def score(labels, predicted, which):
    """Per label and in total: true positives, false positives, false negatives."""
    counts = {}
    for doc_id, (_, *wanted) in labels.items():
        truth, guess = wanted[which], predicted[doc_id][which]
        for label in truth | guess:
            c = counts.setdefault(label, Counter(tp=0, fp=0, fn=0))
            c["tp" if label in truth and label in guess else "fp" if label in guess else "fn"] += 1
    total = Counter(tp=0, fp=0, fn=0)
    for c in counts.values():
        total.update(c)
    return counts, total


def wilson(hits, total, z=1.96):
    """The 95% Wilson score interval of a proportion, as (low, high); None for no trials.

    >>> wilson(24, 31)
    (0.602, 0.886)
    """
    if not total:
        return None
    p, z2 = hits / total, z * z
    centre, half = p + z2 / (2 * total), z * (p * (1 - p) / total + z2 / (4 * total * total)) ** 0.5
    return (round((centre - half) / (1 + z2 / total), 3), round((centre + half) / (1 + z2 / total), 3))


def ratios(c):
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
    return precision, recall


def quality(corpus, labels_file=LABELS):
    labels = read_labels(labels_file)
    texts = labelled_texts(corpus, set(labels), Footers())
    predicted = {}
    for doc_id, text in texts.items():
        headline, _, body = text.partition("\n")  # as indexing reads them (the lead counts)
        words = Words(headline, body=body)
        predicted[doc_id] = (set(regions.subjects(words)), set(industries.industries(words)))
    report = {"articles": len(labels), "strata": dict(Counter(s for s, _, _ in labels.values()))}
    for which, name in ((0, "regions"), (1, "industries")):
        counts, total = score(labels, predicted, which)
        precision, recall = ratios(total)
        report[name] = {"micro": {"precision": precision, "recall": recall, **total},
                        "labels": {label: dict(zip(("precision", "recall"), ratios(c)), **c)
                                   for label, c in sorted(counts.items())}}
    report["errors"] = [
        {"id": doc_id, "regions": {"missed": sorted(truth_r - got[0]), "extra": sorted(got[0] - truth_r)},
         "industries": {"missed": sorted(truth_i - got[1]), "extra": sorted(got[1] - truth_i)}}
        for doc_id, (_, truth_r, truth_i) in labels.items()
        for got in [predicted[doc_id]] if got != (truth_r, truth_i)]
    return report


def speed(corpus, docs, work):
    """Indexing the same documents with and without extraction, each in a fresh child process,
    twice in alternation; figures of the same run."""
    from bench.corpus import load_articles, write_jsonl
    from bench.engines import PoiskEngine
    from bench.speed import measure_indexing

    docs_file = os.path.join(work, "fields-speed.jsonl")
    write_jsonl(load_articles(os.path.join(corpus, NEWS_FILE), limit=docs), docs_file)
    runs = []
    for attempt in range(2):
        for engine in (PoiskEngine(), NoExtractionEngine()):
            result = measure_indexing(engine, docs_file, os.path.join(work, "fields-ix"))
            runs.append({"engine": engine.name, "attempt": attempt, **result})
    return runs


def cost(corpus, docs, work, rounds=3):
    """What extraction (regions, districts, industries, the channel footers they leave out and
    the story sketch) costs indexing, in CPU time of this one process (``time.process_time``):
    the same ``docs`` news articles indexed ``rounds`` times with and without it, alternating,
    after one warm-up run (so both find pymorphy3's cache as warm), one process (``workers=0``),
    batches of 1,000. Without it, the fields' extractors return nothing and no sketch is made;
    the texts are still split once and their ``word_starts`` kept (``add_extracted`` does that
    for the writer), which is indexing's own work.

    Also extraction alone, ``rounds`` passes over the same articles with the index's analyzer
    warmed on them (in indexing, extraction runs first and its lookups parse each new word for
    the analyzer too, so it is not timed inside an indexing run): the CPU time inside the
    fields' extractors, the story sketch (``packed_sketch``) and learning and marking footers
    (``Footers.mark``, which the indexing run does in both cases)."""
    import dataclasses
    import shutil
    import time

    import indexer.fields
    from bench.corpus import load_articles
    from indexer import stories
    from indexer.build import index_articles
    from indexer.extract import word_terms
    from indexer.fields import FIELDS, add_extracted, packed_sketch
    from indexer.storage import make_schema

    articles = load_articles(os.path.join(corpus, NEWS_FILE), limit=docs)
    path = os.path.join(work, "fields-cost-ix")
    sketch = stories.StoryField.to_column_value
    spent = {"fields": 0.0, "story": 0.0}

    def timed(fn, what):
        def call(*args):
            started = time.process_time()
            try:
                return fn(*args)
            finally:
                spent[what] += time.process_time() - started
        return call

    nothing = [dataclasses.replace(spec, extract=lambda words: ()) if spec.extract else spec
               for spec in FIELDS]

    def run(extract):
        indexer.fields.FIELDS = FIELDS if extract else nothing
        indexer.fields.packed_sketch = packed_sketch if extract else (lambda words, morph: b"")
        stories.StoryField.to_column_value = sketch if extract else (lambda self, value: b"")
        shutil.rmtree(path, ignore_errors=True)
        started = time.process_time()
        index_articles(articles, path, rebuild=True, workers=0)
        return time.process_time() - started

    try:
        run(True)  # warm-up
        runs = [{"extraction": extract, "round": r, "cpu_seconds": round(run(extract), 2)}
                for r in range(rounds) for extract in (True, False)]
    finally:
        indexer.fields.FIELDS = FIELDS
        indexer.fields.packed_sketch = packed_sketch
        stories.StoryField.to_column_value = sketch
        shutil.rmtree(path, ignore_errors=True)
    analyzer = make_schema()["body"].analyzer
    for article in articles:  # warm its cache, as indexing the article does first
        for _ in analyzer(article.headline + "\n" + article.body, mode="index"):
            pass
    terms = word_terms(analyzer)
    alone = []
    indexer.fields.FIELDS = [dataclasses.replace(spec, extract=timed(spec.extract, "fields"))
                             if spec.extract else spec for spec in FIELDS]
    indexer.fields.packed_sketch = timed(packed_sketch, "story")
    try:
        for _ in range(rounds):
            spent.update(fields=0.0, story=0.0)
            documents = [{"headline": a.headline, "body": a.body, "story": a.body,
                          "source": a.source} for a in articles]
            started = time.process_time()
            Footers().mark(documents)  # as the indexing run does, before the documents are written
            footers = time.process_time() - started
            for document in documents:  # as indexing does it: the fields and the story sketch
                add_extracted(document, terms)
            alone.append({"fields_cpu_seconds": round(spent["fields"], 2),
                          "story_cpu_seconds": round(spent["story"], 2),
                          "footers_cpu_seconds": round(footers, 3)})
    finally:
        indexer.fields.FIELDS = FIELDS
        indexer.fields.packed_sketch = packed_sketch
    with_ = sum(r["cpu_seconds"] for r in runs if r["extraction"])
    without = sum(r["cpu_seconds"] for r in runs if not r["extraction"])
    inside = sum(a["fields_cpu_seconds"] + a["story_cpu_seconds"] + a["footers_cpu_seconds"]
                 for a in alone)
    return {"docs": len(articles), "runs": runs, "alone": alone,
            "cost": round(with_ / without - 1, 3),
            "direct_share": round(inside / with_, 3)}


class NoExtractionEngine:
    """poisk with the extracted fields left empty: the cost of extraction is the difference."""

    name = "poisk-no-extraction"

    def build(self, articles, path):
        import indexer.segments

        indexer.segments.add_extracted = lambda document, terms=None: document
        from bench.engines import PoiskEngine

        return PoiskEngine().build(articles, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.fields", description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=DEFAULT_CORPUS)
    parser.add_argument("--labels", choices=sorted(LABEL_SETS), default="tuned",
                        help="tuned: the sample the gazetteer was corrected on; held-out: the "
                             "sample labelled after, never tuned on; blind: labelled last, its "
                             "figures taken once; blind-2: drawn and labelled after the rules written "
                             "on the blind sample's errors; blind-3: drawn and labelled after the "
                             "rules written on blind-2's errors; blind-4: after those written on "
                             "blind-3's; blind-5: after those written on blind-4's; blind-6: "
                             "after those written on blind-5's")
    parser.add_argument("--draw", type=int, metavar="N",
                        help="print the sample --labels names afresh: N articles (N/4 per "
                             "stratum, its seed, none of the samples before it) as label rows")
    parser.add_argument("--texts", action="store_true",
                        help="with --draw: print each article's text as its labeller reads it")
    parser.add_argument("--speed", type=int, metavar="DOCS", help="also measure indexing speed")
    parser.add_argument("--cost", type=int, metavar="DOCS",
                        help="measure what extraction costs indexing, in CPU time, one process")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --cost: runs with and without extraction, alternating")
    parser.add_argument("--work", default=tempfile.gettempdir())
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.draw:
        names = list(LABEL_SETS)
        before = set().union(*(read_labels(LABEL_SETS[n]) for n in names[:names.index(args.labels)]))
        strata = draw(args.corpus, args.draw // 4, SEEDS[args.labels], exclude=before)
        texts = labelled_texts(args.corpus, {i for ids in strata.values() for i in ids}) \
            if args.texts else {}
        for stratum, ids in strata.items():
            for doc_id in ids:
                print(f"{doc_id}\t{stratum}\t\t")
                if doc_id in texts:
                    print(texts[doc_id], end="\n\n")
        return
    if args.cost:
        figures = cost(args.corpus, args.cost, args.work, args.rounds)
        for run in figures["runs"]:
            print(f"round {run['round']}, {'with' if run['extraction'] else 'without'} "
                  f"extraction: {run['cpu_seconds']} CPU s for {figures['docs']} docs")
        for n, alone in enumerate(figures["alone"]):
            print(f"extraction alone, pass {n}: fields {alone['fields_cpu_seconds']} CPU s, "
                  f"story sketches {alone['story_cpu_seconds']} CPU s, "
                  f"footers {alone['footers_cpu_seconds']} CPU s")
        print(f"extraction costs {figures['cost']:.1%} of indexing CPU time (with / without - 1); "
              f"alone it takes {figures['direct_share']:.1%} of a run with it")
        if args.out:
            with open(args.out, "w", encoding="utf-8") as f:
                json.dump(figures, f, ensure_ascii=False, indent=1)
        return
    report = quality(args.corpus, LABEL_SETS[args.labels])
    for name in ("regions", "industries"):
        micro = report[name]["micro"]
        print(f"{name}: precision {_pct(micro['precision'])}, recall {_pct(micro['recall'])} "
              f"(tp {micro['tp']}, fp {micro['fp']}, fn {micro['fn']}; {report['articles']} articles; "
              f"95% Wilson {_interval(micro['tp'], micro['tp'] + micro['fp'])} / "
              f"{_interval(micro['tp'], micro['tp'] + micro['fn'])})")
        for label, c in report[name]["labels"].items():
            print(f"    {label:<45} P {_pct(c['precision']):>5}  R {_pct(c['recall']):>5}  "
                  f"tp {c['tp']:>3} fp {c['fp']:>3} fn {c['fn']:>3}")
    if args.speed:
        report["speed"] = speed(args.corpus, args.speed, args.work)
        for run in report["speed"]:
            print(f"{run['engine']:<22} {run['docs']} docs: {run['docs_per_s']} docs/s, "
                  f"{run['docs_per_cpu_s']} docs per CPU-second")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(report, f, ensure_ascii=False, indent=1)


def _interval(hits, total):
    bounds = wilson(hits, total)
    return "-" if bounds is None else f"{bounds[0]:.2f}-{bounds[1]:.2f}"


def _pct(value):
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
