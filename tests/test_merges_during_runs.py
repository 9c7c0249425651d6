"""Merges beside a run's workers: started when the policy finds a full group, committed
while batches keep coming, deletions made meanwhile carried to the merged segment."""

import os

import pytest

from indexer import merging
from indexer.build import index_articles
from indexer.fields import document_fields
from indexer.merging import MERGING_PREFIX, commit_merged, merge_apart, pick_during_run
from indexer.segments import commit_segment, write_segment
from indexer.sources import Article
from indexer.sidecar import SUFFIX
from indexer.storage import create_index, open_whoosh_index
from search import open_index
from tests.test_workers import QUERIES, articles, segment_files_in_order

DOCUMENTS = 400
BATCH = 25  # 16 batches


@pytest.fixture
def small_groups(monkeypatch):
    """Groups of 4 segments, so that 16 batches make several merges during the run."""
    monkeypatch.setattr(merging, "SEGMENTS_PER_TIER", 4)
    monkeypatch.setattr(merging, "MAX_MERGE_SEGMENTS", 4)


def segments(path):
    return [(s.doc_count_all(), s.deleted_count()) for s in open_whoosh_index(path)._segments()]


def ids_and_gold(path):
    """The id of every live document, and those that say "золото"."""
    with open_index(path) as index:
        every = index.search("*", limit=1000, snippets=False, group=False)
        gold = index.search("золото", limit=1000, snippets=False, group=False)
        return sorted(h.id for h in every.hits), sorted(h.id for h in gold.hits)


def scored(path):
    """Every hit of each query as (id, score): the order of equal scores is the segments'."""
    with open_index(path) as index:
        return {query: sorted((h.id, round(h.score, 9)) for h in index.search(
                    query, limit=DOCUMENTS, snippets=False, group=False).hits)
                for query in QUERIES}


def test_a_run_commits_merges_while_its_workers_write(small_groups, tmp_path):
    """Before, a run merged only after its last batch: here merged segments (more than a
    batch's documents) are committed while most batches are still to come."""
    path = tmp_path / "ix"
    seen = []  # (documents processed, largest committed segment) at each progress report

    def progress(report):  # in the run's process, between its commits
        seen.append((report.processed, max((docs for docs, _ in segments(path)), default=0)))

    report = index_articles(articles(DOCUMENTS), path, batch_size=BATCH, workers=2,
                            on_progress=progress)
    assert (report.added, report.failed) == (DOCUMENTS, 0)
    merged_at = [processed for processed, largest in seen if largest > BATCH]
    assert merged_at and merged_at[0] < DOCUMENTS, seen  # before the last batch was read
    # each merge during the run takes 4 batches, never a segment it merged (each article is
    # merged once before the end of the run)
    assert max(largest for processed, largest in seen if processed < DOCUMENTS) == 4 * BATCH
    baseline = tmp_path / "serial"
    index_articles(articles(DOCUMENTS), baseline, batch_size=BATCH, workers=0)
    assert scored(path) == scored(baseline)
    segment_files_in_order(path)  # nothing left of the merges but what the TOC lists
    assert not [name for name in os.listdir(path) if name.startswith(MERGING_PREFIX)]


def test_updates_while_segments_merge_replace_every_old_version(small_groups, tmp_path):
    """Three runs leave three segments; a fourth run's first batch makes a group of four, and
    its next batches update every article of the three: they delete old versions in
    segments the merging process is merging at that moment. Each id once, each the new
    version, and each old version's deletion carried into the merged segment."""
    path = tmp_path / "ix"
    old = articles(3 * 100)
    for at in range(0, len(old), 100):
        index_articles(old[at:at + 100], path, batch_size=100, workers=0)
    assert segments(path) == [(100, 0)] * 3
    new = [Article(id=f"new-{n}", headline="Золото", body="Добыча золота.") for n in range(BATCH)]
    report = index_articles([*new, *articles(len(old), edition=" и золота")], path,
                            batch_size=BATCH, workers=2)
    assert (report.added, report.updated) == (BATCH, len(old))
    expected = sorted([a.id for a in old] + [a.id for a in new])
    assert ids_and_gold(path) == (expected, expected)
    segment_files_in_order(path)


def write(ix, batch):
    return write_segment(ix, ix.schema, [document_fields(a, a.content_hash) for a in batch])


def test_deletions_made_during_a_merge_are_carried_to_the_merged_segment(tmp_path):
    """Lucene's commitMergedDeletes: three segments merge apart; meanwhile a batch updates one
    article of the first and one of the third; the merge's commit deletes them in it."""
    path = tmp_path / "ix"
    ix = create_index(path)
    old = articles(40)
    for at in range(0, 40, 10):
        commit_segment(ix, write(ix, old[at:at + 10]).segment)
    merged = merge_apart(ix, ix.schema, ix._segments()[:3])
    assert len(ix._segments()) == 4  # nothing committed yet
    new = [a for a in articles(40, edition=" и золота") if a.id in ("doc-0005", "doc-0025")]
    commit_segment(ix, write(ix, new).segment, [a.id for a in new], clean=False)  # as a run
    assert [s.deleted_count() for s in ix._segments()] == [1, 0, 1, 0, 0]
    sources = set(merged.merged_from)
    assert [name for name in os.listdir(path) if name.split(".")[0] in sources]
    in_progress = write(ix, articles(41)[40:]).segment.segment_id()  # as a worker's batch
    commit_merged(ix, merged)
    # the sources' files go at once; an uncommitted batch's stay
    assert not [name for name in os.listdir(path) if name.split(".")[0] in sources]
    assert [name for name in os.listdir(path) if name.split(".")[0] == in_progress]
    commit_segment(ix, None)  # the run's last commit: what no TOC lists goes
    assert segments(path) == [(10, 0), (2, 0), (30, 2)]
    assert segment_files_in_order(path) == 3
    assert ids_and_gold(path) == (sorted(a.id for a in old), ["doc-0005", "doc-0025"])
    merged_id = ix._segments()[-1].segment_id()
    assert (path / (merged_id + SUFFIX)).exists()  # its sidecar, in place
    assert not [name for name in os.listdir(path) if name.startswith(MERGING_PREFIX)]
    ix.close()


@pytest.mark.parametrize("sizes, picked", [
    ([(25, 0)] * 3, []),  # a tier not yet full
    ([(25, 0)] * 4, [0, 1, 2, 3]),
    ([(25, 1)] + [(25, 0)] * 4, [1, 2, 3, 4]),  # none with deletions: their numbers move
    ([(25, 1)] + [(25, 0)] * 3, []),
    # the smallest first: a merged segment of the same tier (under 1,000 documents) waits,
    # or a run in batches of 50 merged its first 5,000 articles twice (measured)
    ([(25, 0), (100, 0), (25, 0), (25, 0), (25, 0)], [0, 2, 3, 4]),
])
def test_the_merge_beside_the_workers_takes_full_groups_without_deletions(
        small_groups, tmp_path, sizes, picked):
    path = tmp_path / "ix"
    ix = create_index(path)
    every, at = articles(300), 0
    for docs, deleted in sizes:
        batch, at = every[at:at + docs], at + docs
        commit_segment(ix, write(ix, batch).segment)
        if deleted:
            commit_segment(ix, None, [batch[0].id])
    all_segments = ix._segments()
    assert [all_segments.index(s) for s in pick_during_run(ix)] == picked
    ix.close()
