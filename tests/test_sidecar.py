"""Posting sidecars (indexer/sidecar.py): the same postings as Whoosh's, the same searches.

The sample articles are indexed as several segments with deletions (the writer
makes each segment's sidecar); a copy of the folder has none. Every posting of every term, its weight and its
positions must be Whoosh's; every query of the parity table must give the
same page, scores and snippets with and without them; and a search must then
read no posting block of Whoosh's.
"""

import json
import shutil

import numpy as np
import pytest
from whoosh.codec.whoosh3 import W3LeafMatcher

from indexer import build_index
from indexer.build import delete_documents
from indexer.merging import merge_segments, optimize_index
from indexer.sidecar import SUFFIX, sidecar, write_sidecars
from indexer.storage import open_whoosh_index
from search import open_index
from tests.test_scoring_parity import DATA, DELETED, QUERIES


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(an index without sidecars, the same index with the sidecars its writer made)."""
    with_sidecars = tmp_path_factory.mktemp("sidecar") / "with"
    build_index([DATA], with_sidecars, batch_size=7, workers=0)  # several segments
    assert delete_documents(DELETED, with_sidecars) == len(DELETED)
    plain = with_sidecars.parent / "plain"
    shutil.copytree(with_sidecars, plain)
    for path in plain.glob("*" + SUFFIX + "*"):
        path.unlink()
    return plain, with_sidecars


def test_the_writer_writes_what_write_sidecars_decodes(folders, tmp_path):
    """The lean writer's sidecars, made from its postings in memory, are byte for byte
    those ``write_sidecars`` makes by reading Whoosh's blocks back."""
    made = {p.name: p.read_bytes() for p in folders[1].glob("*" + SUFFIX + "*")}
    rewritten = tmp_path / "rewritten"
    shutil.copytree(folders[0], rewritten)
    assert write_sidecars(rewritten) == len(made) // 2 > 1
    assert {p.name: p.read_bytes() for p in rewritten.glob("*" + SUFFIX + "*")} == made


def _whoosh_postings(leaf, field, term):
    matcher = leaf.postings(field, term)
    if hasattr(matcher, "child"):  # deleted documents kept, as the sidecar keeps them
        matcher = matcher.child
        matcher.reset()
    found = []
    while matcher.is_active():
        positions = matcher.value_as("positions") if matcher.supports("positions") else None
        found.append((matcher.id(), float(np.float32(matcher.weight())), positions))
        matcher.next()
    return found


def test_every_posting_is_whooshs(folders):
    reader = open_whoosh_index(folders[1]).reader()
    checked = 0
    for leaf, _ in reader.leaf_readers():
        side = sidecar(leaf)
        assert side is not None
        for field in leaf.indexed_field_names():
            for term in leaf.lexicon(field):
                number = side.find(field, term)
                docs, weights = side.postings(number)
                expected = _whoosh_postings(leaf, field, term)
                assert [(d, w) for d, w, _ in expected] == list(zip(docs.tolist(),
                                                                    weights.tolist()))
                if expected[0][2] is not None:
                    got = [p.tolist() for _, p in side.doc_positions(number, docs)]
                    assert got == [p for _, _, p in expected], (field, term)
                    keys = side.position_keys(number, docs, 7)
                    assert keys.tolist() == [((d + 7) << 32) | p for d, _, ps in expected
                                             for p in ps]
                checked += 1
        assert side.find("body", "флюгегехаймен".encode()) is None
        assert side.find("nofield", b"x") is None
    assert checked > 1000


@pytest.fixture(scope="module")
def both(folders):
    with open_index(folders[0]) as plain, open_index(folders[1]) as fast:
        yield plain, fast


@pytest.mark.parametrize("text", QUERIES)
def test_same_page_and_snippets_with_sidecars(both, text):
    pages = [index.search(text, limit=5, offset=1) for index in both]
    assert [h.to_dict() for h in pages[0]] == [h.to_dict() for h in pages[1]]
    assert pages[0].total == pages[1].total


@pytest.mark.parametrize("text", ["никель", "редкоземельные металлы", '"глубокая переработка"'])
def test_a_search_reads_no_posting_block(both, monkeypatch, text):
    """Scores, the phrase and bonus checks and the snippets all come from the sidecar."""
    reads = []
    original = W3LeafMatcher._read_data
    monkeypatch.setattr(W3LeafMatcher, "_read_data", lambda self: reads.append(1) or original(self))
    plain, fast = both
    plain.refresh()  # no term scores kept from an earlier search
    fast.refresh()
    assert fast.search(text, limit=5).hits[0].snippets
    assert reads == []
    plain.search(text, limit=5)
    assert reads  # Whoosh's blocks are what the plain index reads


def test_a_sidecar_not_matching_its_segment_is_not_read(folders, tmp_path):
    copy = tmp_path / "ix"
    shutil.copytree(folders[1], copy)
    layouts = sorted(copy.glob("*" + SUFFIX + ".json"))
    layout = json.loads(layouts[0].read_text())
    layout["documents"] += 1  # another segment's
    layouts[0].write_text(json.dumps(layout))
    layouts[1].unlink()  # a sidecar whose writing stopped before its layout
    reader = open_whoosh_index(copy).reader()
    opened = [sidecar(leaf) is not None for leaf, _ in reader.leaf_readers()]
    assert opened.count(False) == 2
    with open_index(copy) as index, open_index(folders[0]) as plain:
        assert [h.to_dict() for h in index.search("никель металл")] == \
            [h.to_dict() for h in plain.search("никель металл")]


def test_optimize_writes_the_merged_segments_sidecar(folders, tmp_path):
    copy = tmp_path / "ix"
    shutil.copytree(folders[1], copy)
    before = {p.name for p in copy.glob("*" + SUFFIX + "*")}
    assert optimize_index(copy)[1] == 1
    after = {p.name for p in copy.glob("*" + SUFFIX + "*")}
    assert len(after) == 2 and not after & before  # the merged segments' went with them
    reader = open_whoosh_index(copy).reader()
    assert sidecar(reader.leaf_readers()[0][0]) is not None


def test_positions_of_a_few_documents_far_apart(folders):
    reader = open_whoosh_index(folders[1]).reader()
    checked = 0
    for leaf, _ in reader.leaf_readers():
        side = sidecar(leaf)
        for term in leaf.lexicon("body"):
            expected = _whoosh_postings(leaf, "body", term)
            if len(expected) < 3:
                continue
            few = [expected[0], expected[-1]]  # the first and the last document
            docs = [d for d, _, _ in few]
            got = [(d, p.tolist()) for d, p in side.doc_positions(side.find("body", term), docs)]
            assert got == [(d, p) for d, _, p in few], term
            keys = side.position_keys(side.find("body", term), docs, 0)
            assert keys.tolist() == [(d << 32) | p for d, _, ps in few for p in ps]
            checked += 1
    assert checked > 100


def test_searching_maps_no_document_list(folders):
    """Document numbers and weights, stored articles and story sketches are read into the
    process's memory, not mapped: a mapped page stays resident once touched (Linux: the
    pages a process maps in are in /proc/self/pagemap)."""
    from bench.resident import mapped_parts
    from indexer.mapped import READ_COLUMNS, ReadPart

    pytest.importorskip("fcntl")  # Linux and the like
    with open_index(folders[1]) as index:
        for text in QUERIES:
            index.search(text, limit=10)
        resident = mapped_parts(folders[1])
    sidecars = {name: parts for name, parts in resident.items() if name.endswith(SUFFIX)}
    assert sidecars and all("keys" in parts for parts in sidecars.values())
    for parts in sidecars.values():
        assert "docs" not in parts and "weights" not in parts, parts
    # The segment's stored articles and story sketches: read with pread (what a tiny
    # segment's pages show is blurred by the kernel mapping pages around each touch).
    reader = open_whoosh_index(folders[1]).reader()
    read = []
    for leaf, _ in reader.leaf_readers():
        storage = leaf._perdoc._storage
        for name in storage.list():
            part = storage.open_file(name)
            assert isinstance(part, ReadPart) == name.endswith(READ_COLUMNS), name
            read.append(isinstance(part, ReadPart))
    assert read.count(True) == 2 * len(reader.leaf_readers()) and read.count(False)


def test_mapped_pages_past_the_budget_are_dropped(folders, both, monkeypatch):
    """Past MAPPED_BUDGET the sidecars' pages leave the process's resident memory; what is
    read after that is the same."""
    from bench.resident import mapped_parts
    from indexer import sidecar as module

    pytest.importorskip("fcntl")
    _, fast = both
    expected = [[h.to_dict() for h in fast.search(text, limit=5)] for text in QUERIES]
    assert any(parts["total"] for name, parts in mapped_parts(folders[1]).items()
               if name.endswith(SUFFIX))
    dropped = []
    original = module.SegmentPostings.drop_pages
    monkeypatch.setattr(module.SegmentPostings, "drop_pages",
                        lambda self: dropped.append(1) or original(self))
    monkeypatch.setattr(module, "MAPPED_BUDGET", -1)
    monkeypatch.setattr(module, "CHECK_EVERY", 1)
    fast.refresh()
    assert [[h.to_dict() for h in fast.search(text, limit=5)] for text in QUERIES] == expected
    assert dropped
    for side in list(module._maps):
        side.drop_pages()
    assert not [parts for name, parts in mapped_parts(folders[1]).items()
                if name.endswith(SUFFIX) and parts["total"]]


def test_a_terms_documents_are_read_once_a_search(both, monkeypatch):
    """Scoring, the bonus check and the page's snippets share one read of a term's list."""
    from indexer import sidecar as module

    reads = []
    original = module.SegmentPostings.read
    monkeypatch.setattr(module.SegmentPostings, "read", lambda self, section, lo, hi: (
        reads.append((id(self), section, int(lo))) or original(self, section, lo, hi)))
    if hasattr(module, "_kept_docs"):  # none kept from earlier searches
        monkeypatch.setattr(module, "_kept_docs", module.PostingCache(module.DOCS_KEPT))
    _, fast = both
    fast.refresh()
    assert fast.search("никель металл", limit=10).hits[0].snippets
    docs = [read for read in reads if read[1] == "docs"]
    assert docs and len(docs) == len(set(docs))


def test_a_merge_writes_the_merged_sidecar_from_the_segments_ones(folders, tmp_path):
    """Merging (deleted documents dropped, documents renumbered) makes the merged segment's
    sidecar from the merged ones: byte for byte what decoding the merged segment gives."""
    merged = tmp_path / "merged"
    shutil.copytree(folders[1], merged)
    ix = open_whoosh_index(merged)
    assert merge_segments(ix, everything=True) == (5, 1)
    ix.close()
    made = {p.name: p.read_bytes() for p in merged.glob("*" + SUFFIX + "*")}
    assert len(made) == 2
    decoded = tmp_path / "decoded"
    shutil.copytree(merged, decoded)
    for path in decoded.glob("*" + SUFFIX + "*"):
        path.unlink()
    assert write_sidecars(decoded) == 1
    assert {p.name: p.read_bytes() for p in decoded.glob("*" + SUFFIX + "*")} == made


def test_every_segment_of_a_run_that_merges_has_its_sidecar(tmp_path):
    build_index([DATA], tmp_path / "ix", batch_size=2, workers=0)  # 15 batches: a merge
    reader = open_whoosh_index(tmp_path / "ix").reader()
    leaves = [leaf for leaf, _ in reader.leaf_readers()]
    assert len(leaves) < 15
    assert all(sidecar(leaf) is not None for leaf in leaves)


def test_a_merge_holds_a_bounded_number_of_postings_at_once(folders, tmp_path, monkeypatch):
    """The merged sidecar is made a few terms at a time, each chunk ending at the term that
    reaches ``MERGE_POSTINGS`` (memory grows with the postings held, not the terms); the
    sidecar is the same as made in one piece."""
    import indexer.sidecar as module
    whole = tmp_path / "whole"
    shutil.copytree(folders[1], whole)
    assert merge_segments(open_whoosh_index(whole), everything=True) == (5, 1)
    chunks = []
    real = module._merge_chunk

    def counting(sides, docmaps, chunk, out):
        sizes = [sum(int(sides[n].post_starts[t + 1] - sides[n].post_starts[t])
                     for n, t in found) for _, found in chunk]  # each term's postings
        chunks.append((sum(sizes), sizes[-1] if sizes else 0))
        return real(sides, docmaps, chunk, out)

    monkeypatch.setattr(module, "_merge_chunk", counting)
    monkeypatch.setattr(module, "MERGE_POSTINGS", 200)
    monkeypatch.setattr(module, "KEYS_AT_ONCE", 7)
    bounded = tmp_path / "bounded"
    shutil.copytree(folders[1], bounded)
    assert merge_segments(open_whoosh_index(bounded), everything=True) == (5, 1)
    assert len(chunks) > 5
    assert all(total < 200 + last for total, last in chunks)
    def contents(folder):  # by suffix: the merged segments' names are random
        return {p.name.split(".", 1)[1]: p.read_bytes() for p in folder.glob("*" + SUFFIX + "*")}

    assert contents(bounded) == contents(whole)
    assert len(contents(whole)) == 2
