"""Search speed by segment count: the same queries on the same documents in 1, 5 and 27 segments.

Every commit of an indexing run adds a segment and every search visits every
segment; the tiered merge policy (``indexer.merging``) keeps the count low. This
measures what a segment costs: it indexes ``--documents`` articles of the news
corpus in batches that make 27 segments, copies that index and merges the
copies into 5 segments and into 1 (Whoosh's ``add_reader``, as the merge policy
does; no analysis is redone, so the three hold identical postings), then runs
the same queries on each, interleaved, and reports each query's CPU time
(``time.process_time``, so other processes on the machine do not count) as p50
and p95 in ms, with the ratio to one segment.

    python -m bench.segments [--corpus ../shared/corpus] [--documents 2700] [--queries 300]
"""

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

from bench.corpus import NEWS_FILE, every_kth, load_articles
from bench.relevance import load_queries, sanitize_query
from indexer.fields import document_fields
from indexer.segments import commit_segment, write_segment
from indexer.storage import create_index, open_whoosh_index
from search import open_index

SEGMENT_COUNTS = (1, 5, 27)


def build(articles, folder, segments):
    """An index of ``articles`` in ``segments`` segments: written in that many batches, merged
    down from the largest count for the others (returns the folders by count)."""
    most = max(segments)
    batch = -(-len(articles) // most)
    base = os.path.join(folder, f"{most}")
    ix = create_index(base)
    try:  # one commit per batch, without the merge that ends an indexing run
        for start in range(0, len(articles), batch):
            documents = [document_fields(a, a.content_hash) for a in articles[start:start + batch]]
            commit_segment(ix, write_segment(ix, ix.schema, documents).segment)
    finally:
        ix.close()
    assert segment_count(base) == most, segment_count(base)
    folders = {most: base}
    for count in segments:
        if count != most:
            folders[count] = os.path.join(folder, f"{count}")
            shutil.copytree(base, folders[count])
            merge_into(folders[count], count)
            assert segment_count(folders[count]) == count
    return folders


def segment_count(path):
    ix = open_whoosh_index(path)
    try:
        return len(ix._segments())
    finally:
        ix.close()


def merge_into(path, count):
    """Merge the index at ``path`` into ``count`` segments of about equal size, one commit
    per new segment."""
    ix = open_whoosh_index(path)
    try:
        originals = [s.segment_id() for s in ix._segments()]
        size = -(-len(originals) // count)
        for start in range(0, len(originals), size):
            group = set(originals[start:start + size])
            if len(group) > 1:
                ix.writer().commit(mergetype=_merging(group))
    finally:
        ix.close()


def _merging(group):
    from whoosh.reading import SegmentReader

    def merge(writer, segments):
        kept = []
        for segment in segments:
            if segment.segment_id() in group:
                reader = SegmentReader(writer.storage, writer.schema, segment)
                writer.add_reader(reader)
                reader.close()
            else:
                kept.append(segment)
        return kept
    return merge


def measure(folders, queries, rounds=2):
    """{segment count: [CPU seconds of each query (best of ``rounds``)]}, the indexes taken
    in turn for each query, after one warm-up pass over every query."""
    opened = {count: open_index(path) for count, path in folders.items()}
    try:
        for index in opened.values():
            for query in queries:
                index.search(query, limit=10)
        times = {count: [] for count in opened}
        for query in queries:
            for count, index in opened.items():
                best = float("inf")
                for _ in range(rounds):
                    started = time.process_time()
                    index.search(query, limit=10)
                    best = min(best, time.process_time() - started)
                times[count].append(best)
        return times
    finally:
        for index in opened.values():
            index.close()


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(times, load):
    base = times[min(times)]
    lines = [f"{len(base)} queries, CPU ms per query (best of 2), load average {load:.1f}",
             f"{'segments':>8}  {'p50':>7}  {'p95':>7}  {'mean':>7}  {'p50 / 1 seg':>11}  "
             f"{'p95 / 1 seg':>11}"]
    figures = {}
    for count in sorted(times):
        values = times[count]
        p50, p95, mean = percentile(values, 0.5), percentile(values, 0.95), statistics.mean(values)
        figures[count] = {"p50_ms": p50 * 1000, "p95_ms": p95 * 1000, "mean_ms": mean * 1000}
        lines.append(f"{count:>8}  {p50 * 1000:7.2f}  {p95 * 1000:7.2f}  {mean * 1000:7.2f}  "
                     f"{p50 / percentile(base, 0.5):11.2f}  {p95 / percentile(base, 0.95):11.2f}")
    return "\n".join(lines), figures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.segments", description=__doc__)
    parser.add_argument("--corpus", default=os.path.join("..", "shared", "corpus"))
    parser.add_argument("--documents", type=int, default=2700)
    parser.add_argument("--queries", type=int, default=300, help="headline queries, spread evenly")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    articles = load_articles(os.path.join(args.corpus, NEWS_FILE), limit=args.documents)
    queries = [sanitize_query(text) for _, text in
               every_kth(load_queries(args.corpus, "title"), args.queries)]
    queries = [q for q in queries if q.strip()]
    with tempfile.TemporaryDirectory(prefix="poisk-segments-") as folder:
        started = time.process_time()
        folders = build(articles, folder, SEGMENT_COUNTS)
        print(f"indexed {len(articles)} articles into {max(SEGMENT_COUNTS)} segments and merged "
              f"copies in {time.process_time() - started:.0f} s CPU")
        times = measure(folders, queries)
    text, figures = report(times, os.getloadavg()[0])
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"documents": len(articles), "queries": len(queries), "figures": figures},
                      f, indent=1)


if __name__ == "__main__":
    main()
