"""Merging by copying posting blocks (indexer/blockcopy.py) gives what Whoosh's add_reader gives.

Four segments of 90, 90, 80 and 140 short articles over a small vocabulary, so
that common words have more postings than a block holds (128) and the merged
blocks are cut across segments, plus made-up words found in one segment only
(their blocks move whole), one of them in every article of the first segment
(two blocks, moved by the segment's base). Copies of the folder are merged into one segment by copying and by
``add_reader``: the files, every posting, stored field, column and length, and
the full ranking of a few hundred searches must be the same.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
from whoosh.reading import SegmentReader

import indexer.merging
from indexer import build_index
from indexer.blockcopy import copyable
from indexer.build import delete_documents
from indexer.merging import merge_segments
from indexer.sidecar import SUFFIX
from indexer.storage import open_whoosh_index
from search import open_index

DOCUMENTS, LAST, BATCH = 400, 140, 90
WORDS = ("комбинат никель медь палладий уголь алюминий сталь выпуск добыча рост спад завод "
         "рудник порт экспорт цена тонна план отчёт Норильск Кузбасс Хакасия Якутия Братск "
         "глубокая переработка редкоземельные металлы").split()
RARE = [a + b + c for a in ("ка", "ло", "ми", "ну") for b in ("ре", "то", "шу", "фи", "дэ")
        for c in ("жок", "ран", "тил", "вус", "пен")]  # 100 made-up words
LAST_WORD = "зубрелка"  # in every article of the last segment alone
SYLLABLES = ("ка", "ло", "ми", "ну", "ре", "то", "шу", "фи", "дэ", "жо")


def own_word(n):
    """A made-up word of article ``n`` alone: its digits as syllables."""
    return "".join(SYLLABLES[int(digit)] for digit in f"{n:03d}") + "вус"
TIMEOUT = 120  # seconds: a killed merge's run takes a few


def article(rng, n):
    common = rng.sample(WORDS[:6], 3)  # the first words are in most articles: long lists
    body = [rng.choice(WORDS) for _ in range(rng.randint(5, 60))] + rng.sample(RARE, 2) + [own_word(n)]
    if n >= DOCUMENTS - LAST:
        body.append(LAST_WORD)
    rng.shuffle(body)
    return {"id": f"doc-{n:04d}", "title": " ".join(common), "text": " ".join(body),
            "date": f"2026-{n % 12 + 1:02d}-{n % 28 + 1:02d}", "source": f"s{n % 3}"}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An index in four segments (fewer than a tier: the runs merge nothing)."""
    folder = tmp_path_factory.mktemp("blockcopy")
    rng = random.Random(15)
    lines = [json.dumps(article(rng, n), ensure_ascii=False) + "\n" for n in range(DOCUMENTS)]
    (folder / "first.jsonl").write_text("".join(lines[:-LAST]), encoding="utf-8")
    (folder / "last.jsonl").write_text("".join(lines[-LAST:]), encoding="utf-8")
    build_index([folder / "first.jsonl"], folder / "ix", batch_size=BATCH, workers=0)
    build_index([folder / "last.jsonl"], folder / "ix", batch_size=LAST, workers=0)
    assert [s.doc_count_all() for s in open_whoosh_index(folder / "ix")._segments()] == \
        [90, 90, 80, 140]
    return folder / "ix"


@pytest.fixture(scope="module")
def merged(source, tmp_path_factory):
    """(merged by copying, merged by add_reader): folders of one segment each."""
    folders = []
    for copy in (True, False):
        folder = tmp_path_factory.mktemp("merged") / f"copy-{copy}"
        shutil.copytree(source, folder)
        assert merge_segments(open_whoosh_index(folder), everything=True, copy=copy) == (4, 1)
        folders.append(folder)
    return tuple(folders)


def readers(folder):
    ix = open_whoosh_index(folder)
    return ix, [SegmentReader(ix.storage, ix.schema, s) for s in ix._segments()]


def test_segments_without_deletions_are_copied_the_others_go_through_whoosh(source, tmp_path):
    ix, found = readers(source)
    assert copyable(ix.writer(), found)
    shutil.copytree(source, tmp_path / "ix")
    assert delete_documents(["doc-0003"], tmp_path / "ix") == 1
    ix, found = readers(tmp_path / "ix")
    assert not copyable(ix.writer(), found)


def test_a_merge_takes_the_copying_path(source, tmp_path, monkeypatch):
    calls = []
    real = indexer.merging.copy_segments
    monkeypatch.setattr(indexer.merging, "copy_segments",
                        lambda writer, found: calls.append(len(found)) or real(writer, found))
    shutil.copytree(source, tmp_path / "ix")
    assert merge_segments(open_whoosh_index(tmp_path / "ix"), everything=True) == (4, 1)
    assert calls == [4]


def whoosh_files(folder):
    """The merged segment's files inside its compound file, named without the segment id."""
    ix = open_whoosh_index(folder)
    [segment] = ix._segments()
    storage = segment.open_compound_file(ix.storage)
    name = segment.segment_id()
    return {n.replace(name, ""): bytes(storage.open_file(n).read()) for n in storage.list()}


def test_the_files_are_byte_for_byte_add_readers(merged):
    copied, whooshs = map(whoosh_files, merged)
    assert sorted(copied) == sorted(whooshs)
    assert {name for name in copied if copied[name] != whooshs[name]} == set()


def postings(reader, field, term):
    """Every posting of a term decoded by Whoosh's own matcher, and its blocks' maxima."""
    matcher = reader.postings(field, term)
    fmt = reader.schema[field].format
    positional = fmt.supports("positions")
    found, blocks = [], []
    while matcher.is_active():
        blocks.append((matcher.block_max_id(), matcher.block_max_weight(),
                       matcher.block_min_length(), matcher.block_max_length()))
        found.append((matcher.id(), matcher.weight(),
                      matcher.value_as("positions") if positional else matcher.value()))
        matcher.next()
    return found, sorted(set(blocks))


def test_the_data_has_every_kind_of_term(source):
    """Terms of many segments cut across them, terms of one segment, of one block and of
    two: each way of copying a term is taken."""
    _, parts = readers(source)
    found = {}
    for part in parts:
        for (field, term), info in part._terms.items():
            found.setdefault((field, term), []).append(info.doc_frequency())
    body = {term: dfs for (field, term), dfs in found.items() if field == "body"}
    assert sum(len(dfs) == 1 for dfs in body.values()) >= DOCUMENTS
    assert [dfs for dfs in body.values() if len(dfs) == 1 and dfs[0] > 128] == [[LAST]]
    assert sum(len(dfs) == 4 and sum(dfs) > 128 for dfs in body.values()) >= 10


def test_every_posting_and_term_statistic_is_the_same(merged):
    (_, [copied]), (_, [whooshs]) = readers(merged[0]), readers(merged[1])
    terms = list(copied.all_terms())
    assert terms == list(whooshs.all_terms())
    long_lists = 0
    for field, term in terms:
        info, other = copied.term_info(field, term), whooshs.term_info(field, term)
        assert (info.weight(), info.doc_frequency(), info.min_length(), info.max_length(),
                info.max_weight(), info.min_id(), info.max_id()) == \
            (other.weight(), other.doc_frequency(), other.min_length(), other.max_length(),
             other.max_weight(), other.min_id(), other.max_id()), (field, term)
        mine = postings(copied, field, term)
        assert mine == postings(whooshs, field, term), (field, term)
        long_lists += len(mine[1]) > 1
    assert long_lists >= 20  # terms of several blocks, cut across segments


def test_stored_fields_lengths_and_columns_are_the_same(merged, source):
    (_, [copied]), (_, [whooshs]) = readers(merged[0]), readers(merged[1])
    assert copied.doc_count_all() == whooshs.doc_count_all() == DOCUMENTS
    assert list(copied.iter_docs()) == list(whooshs.iter_docs())
    schema = copied.schema
    for field in schema.names():
        assert copied.field_length(field) == whooshs.field_length(field)
        assert [copied.doc_field_length(n, field) for n in range(DOCUMENTS)] == \
            [whooshs.doc_field_length(n, field) for n in range(DOCUMENTS)]
        if schema[field].column_type and copied.has_column(field):
            assert list(copied.column_reader(field)) == list(whooshs.column_reader(field))
    _, parts = readers(source)
    assert [fields["id"] for fields in copied.all_stored_fields()] == \
        [fields["id"] for part in parts for fields in part.all_stored_fields()]


def queries():
    rng = random.Random(7)
    words = [w.lower() for w in WORDS]
    found = list(words)
    found += [" ".join(rng.sample(words, rng.randint(2, 3))) for _ in range(60)]
    found += [own_word(n) for n in range(0, DOCUMENTS, 20)] + RARE[::10] + [LAST_WORD]
    found += [f'"{a} {b}"' for a, b in zip(words, words[1:])]
    found += [f"{a} -{b}" for a, b in zip(words, reversed(words))]
    return found


@pytest.mark.parametrize("sidecars", [False, True])
def test_every_search_ranks_the_same(merged, tmp_path, sidecars):
    """Without sidecars every search reads Whoosh's blocks; with them (a few queries: they
    come from ``merge_sidecars``, tested in tests/test_sidecar.py) the scorer's arrays."""
    folders = merged
    if not sidecars:
        folders = [shutil.copytree(folder, tmp_path / folder.name) for folder in merged]
        for folder in folders:
            for path in folder.glob("*" + SUFFIX + "*"):
                path.unlink()
    with open_index(folders[0]) as copied, open_index(folders[1]) as whooshs:
        for text in queries()[::5] if sidecars else queries():
            mine, theirs = (index.search(text, limit=DOCUMENTS, snippets=False, group=False)
                            for index in (copied, whooshs))
            assert mine.total == theirs.total, text
            assert [(h.id, h.score) for h in mine.hits] == \
                [(h.id, h.score) for h in theirs.hits], text


def test_a_killed_copying_merge_leaves_the_segments_whole(source, tmp_path):
    """SIGKILL while the merge writes the merged postings: the index keeps its four segments
    and every search; the next ``poisk optimize`` merges and removes what the kill left."""
    index = tmp_path / "ix"
    shutil.copytree(source, index)
    before = {s.segment_id() for s in open_whoosh_index(index)._segments()}
    with open_index(index) as opened:
        expected = [(h.id, h.score) for h in opened.search("никель медь", limit=DOCUMENTS).hits]
    process = subprocess.Popen([sys.executable, "-m", "search", "optimize", "--index",
                                str(index)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT
    while not merged_postings_written(index, before):
        assert process.poll() is None, "the merge ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=TIMEOUT)
    assert {s.segment_id() for s in open_whoosh_index(index)._segments()} == before
    with open_index(index) as opened:
        assert opened.doc_count == DOCUMENTS
        assert [(h.id, h.score) for h in opened.search("никель медь",
                                                       limit=DOCUMENTS).hits] == expected
    finished = subprocess.run([sys.executable, "-m", "search", "optimize", "--index",
                               str(index)], capture_output=True, text=True, timeout=TIMEOUT)
    assert (finished.returncode, finished.stdout) == (0, "4 segments merged into 1\n")
    [segment] = open_whoosh_index(index)._segments()
    assert sorted(name.split(".")[0] for name in os.listdir(index) if name.startswith("MAIN_")
                  and not name.startswith("MAIN_WRITELOCK")) == [segment.segment_id()] * 3


def merged_postings_written(index, before):
    """True once a segment no table of contents lists has postings on disk (a file that
    vanishes between the listing and the look is skipped)."""
    for name in os.listdir(index):
        if name.endswith(".pst") and name.split(".")[0] not in before:
            try:
                if os.path.getsize(os.path.join(index, name)) > 0:
                    return True
            except FileNotFoundError:
                continue
    return False
