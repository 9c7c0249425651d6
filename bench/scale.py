"""Scale: synthetic collections of N documents, and how cost grows with N.

Documents are recombined from real ru-kw-news sentences with a fixed seed:
document i takes a real headline and as many random sentences as a random real
article has, so lengths follow the corpus. One random stream makes the first
10,000 documents of the 100,000 set the 10,000 set itself. The vocabulary
cannot grow past the corpus's own (a real collection's keeps growing), so
index size and term-dictionary costs are, if anything, under-estimated.

Each (engine, N) point is saved under ``<work>/scale`` as soon as it is done;
a later run with the same options skips finished points, so a long series can
be resumed. A point whose predicted build time (from the engine's previous
point) would overrun the time budget is skipped and reported as such.
"""

import dataclasses
import json
import os
import random
import re
import time

from indexer.sources import Article

from bench.corpus import count_words, fingerprint, load_articles, read_jsonl
from bench.speed import latency_table, measure_indexing

SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+")


def synthesize(articles, n, seed):
    """Yield ``n`` synthetic ``Article`` recombined from the sentences of ``articles``."""
    sentences, lengths = [], []
    for article in articles:
        parts = [s for line in article.body.split("\n") for s in SENTENCE_END_RE.split(line)
                 if s.strip()]
        sentences.extend(parts)
        lengths.append(len(parts))
    headlines = [a.headline for a in articles if a.headline]
    rng = random.Random(seed)
    for i in range(n):
        body = " ".join(rng.choice(sentences) for _ in range(max(1, rng.choice(lengths))))
        yield Article(id=f"syn-{i:07d}", headline=rng.choice(headlines), body=body,
                      source="synthetic")


def synthetic_file(work, corpus_file, n, seed, log=print):
    """A JSONL file holding at least ``n`` synthetic documents (made once, then reused)."""
    folder = os.path.join(work, "scale")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"synthetic-seed{seed}.jsonl")
    meta_path = path + ".json"
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        if meta["docs"] >= n and meta["corpus"] == _corpus_key(corpus_file):
            return path, meta
    log(f"writing {n:,} synthetic documents to {path} ...")
    articles = load_articles(corpus_file)
    docs = 0
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for article in synthesize(articles, n, seed):
            record = dataclasses.asdict(article)
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            docs += 1
    os.replace(path + ".tmp", path)
    meta = {"docs": docs, "corpus": _corpus_key(corpus_file), "seed": seed}
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    return path, meta


def _corpus_key(corpus_file):
    stat = os.stat(corpus_file)
    return [os.path.abspath(corpus_file), stat.st_size]


def count_file_words(path, n):
    """Words (poisk's word pattern) in the first ``n`` documents of a synthetic file."""
    return sum(count_words(article) for article in read_jsonl(path, n))


def run_scale(engines, sizes, corpus_file, work, seed, budget, query_groups, log=print):
    """Index N synthetic documents with each engine, one at a time; latency on each index.

    Returns a list of points: {engine, n, docs_per_s, words_per_s, seconds,
    size_bytes, peak_rss_bytes, latency} or {engine, n, skipped: reason}.
    """
    sizes = sorted(sizes)
    path, _meta = synthetic_file(work, corpus_file, sizes[-1], seed, log)
    started = time.perf_counter()
    points, previous = [], {}
    for n in sizes:
        for engine in engines:
            point = _scale_point(engine, n, path, corpus_file, work, seed, query_groups,
                                 budget - (time.perf_counter() - started),
                                 previous.get(engine.name), log)
            points.append(point)
            if "skipped" not in point:
                previous[engine.name] = point
    return points


def _scale_point(engine, n, path, corpus_file, work, seed, query_groups, left, previous, log):
    """One (engine, N) point: resumed from disk, skipped for the budget, or measured."""
    key = fingerprint([engine.fingerprint(), _corpus_key(corpus_file), seed, n])
    point_file = os.path.join(work, "scale", f"point-{engine.name}-{n}-{key}.json")
    if os.path.exists(point_file):
        log(f"  {engine.name:8} {n:>9,} docs: done earlier (resumed)")
        with open(point_file, encoding="utf-8") as f:
            return json.load(f)
    if previous:
        predicted = 1.2 * n / previous["docs_per_s"]
        if predicted > left:
            reason = (f"predicted {predicted / 60:.0f} min of indexing, "
                      f"{max(left, 0) / 60:.0f} min of the budget left")
            log(f"  {engine.name:8} {n:>9,} docs: skipped ({reason})")
            return {"engine": engine.name, "n": n, "skipped": reason}
    log(f"  {engine.name:8} {n:>9,} docs: indexing ...")
    index_dir = os.path.join(work, "scale", f"index-{engine.name}-{n}")
    point = {"engine": engine.name, "n": n, "seed": seed}
    point.update(measure_indexing(engine, path, index_dir, n))
    point["words"] = count_file_words(path, n)
    point["words_per_s"] = round(point["words"] / point["seconds"])
    searcher = engine.open(index_dir)
    try:
        point["latency"] = latency_table(searcher, query_groups)
    finally:
        searcher.close()
    # The index stays (in <work>/scale) so that latency can be measured again
    # after a change to searching, without indexing N documents again.
    with open(point_file, "w", encoding="utf-8") as f:
        json.dump(point, f)
    log(f"  {engine.name:8} {n:>9,} docs: {point['docs_per_s']} docs/s, "
        f"{point['peak_rss_bytes'] / 2**20:.0f} MiB peak RSS")
    return point
