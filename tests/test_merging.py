"""Segments merge by a tiered policy at the end of runs; `poisk optimize` merges all;
stray tables of contents of killed commits are removed."""

import pytest
from click.testing import CliRunner

from indexer import build_index
from indexer import merging
from indexer.merging import SEGMENTS_PER_TIER, segments_to_merge
from indexer.storage import open_whoosh_index
from search import open_index
from search.cli import cli
from tests.conftest import DATA

# (documents, deleted[, bytes]) per segment -> the positions merged
POLICY = [
    ([(1000, 0)] * 9, []),
    ([(1000, 0)] * 10, list(range(10))),
    ([(12000, 0)] * 9 + [(1000, 0)] * 9, []),
    ([(12000, 0)] * 10 + [(1000, 0)] * 3, list(range(10))),
    ([(12000, 5000), (1000, 0)], [0]),
    ([(1, 0)] * 12, list(range(12))),
    # at most MAX_MERGE_SEGMENTS at once (two file descriptors each) ...
    ([(1000, 0)] * 1000, list(range(100))),
    # ... and MAX_MERGED_BYTES (5 GiB) together, given each segment's bytes
    ([(10000, 0, 1 << 30)] * 10, list(range(5))),
    # a segment of half that or more waits for `poisk optimize`
    ([(100000, 0, 3 << 30)] * 10, []),
    ([(100000, 0, 3 << 30)] * 10 + [(10000, 0, 1 << 28)] * 10, list(range(10, 20))),
]


@pytest.mark.parametrize("sizes, merged", POLICY)
def test_the_tiered_policy(sizes, merged):
    assert segments_to_merge(sizes) == merged


def segments(path):
    return len(open_whoosh_index(path)._segments())


def test_a_run_merges_a_bounded_number_of_segments_at_a_time(tmp_path, monkeypatch, sample_index):
    """30 one-article commits with merges of at most 4: 30 -> 27 -> ... -> 9 segments,
    one commit per merge (a run used to merge all 30 at once, whatever their count)."""
    monkeypatch.setattr(merging, "MAX_MERGE_SEGMENTS", 4)
    merged_at_once = []
    merge_into = merging._merge_into
    monkeypatch.setattr(merging, "_merge_into", lambda writer, picked, copy=True: (
        picked and merged_at_once.append(len(picked)), merge_into(writer, picked, copy)))
    report = build_index([DATA], tmp_path / "ix", batch_size=1, workers=0)
    assert report.added == 30
    assert merged_at_once == [4] * 7
    assert segments(tmp_path / "ix") == 9
    with open_index(tmp_path / "ix") as merged:
        for query in ("металл", "никель -уголь"):
            assert [h.id for h in merged.search(query, limit=30).hits] == \
                [h.id for h in sample_index.search(query, limit=30).hits]


def test_a_run_of_many_commits_ends_with_few_segments(tmp_path, sample_index):
    report = build_index([DATA], tmp_path / "ix", batch_size=1, workers=0)
    assert report.added == 30
    assert segments(tmp_path / "ix") < SEGMENTS_PER_TIER
    with open_index(tmp_path / "ix") as merged:
        for query in ("металл", "\"глубокая переработка\"", "никель -уголь", "ред*"):
            got = merged.search(query, limit=30)
            want = sample_index.search(query, limit=30)
            assert got.total == want.total
            assert {h.id for h in got.hits} == {h.id for h in want.hits}


def test_optimize_merges_every_segment_and_removes_stray_files(tmp_path):
    build_index([DATA], tmp_path / "ix", batch_size=5, workers=0)  # 6 segments: one tier
    assert segments(tmp_path / "ix") == 6
    stray = tmp_path / "ix" / "_MAIN_3.toc.1764160000.123"
    stray.write_bytes(b"half a table of contents")
    result = CliRunner().invoke(cli, ["optimize", "--index", str(tmp_path / "ix")])
    assert (result.exit_code, result.output) == (0, "6 segments merged into 1\n")
    assert not stray.exists()
    again = CliRunner().invoke(cli, ["optimize", "--index", str(tmp_path / "ix")])
    assert again.output == "1 segment, nothing to merge\n"
    with open_index(tmp_path / "ix") as index:
        assert index.search("*").total == 30


def test_a_run_removes_stray_tables_of_contents(tmp_path):
    build_index([DATA], tmp_path / "ix")
    stray = tmp_path / "ix" / "_MAIN_7.toc.1764160000.5"
    stray.write_bytes(b"x")
    assert build_index([DATA], tmp_path / "ix").skipped == 30
    assert not stray.exists()
