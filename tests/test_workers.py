"""Large runs: batches written by worker processes make the same index as one process does."""

import gc
import os
import random

import pytest
from whoosh.index import TOC

from indexer.build import index_articles
from indexer.fields import document_fields
from indexer.segments import WORKER_TEMP_RE, write_segment
from indexer.sources import Article
from indexer.storage import create_index, open_whoosh_index
from search import open_index

DOCUMENTS = 400
BATCH = 50
QUERIES = ["никель", "выпуск никеля", '"редкоземельных металлов"', "=меди", "медь -уголь", "*"]

PLANTS = ["Норильский комбинат", "Кузнецкий комбинат", "Комбинат в Братске", "Рудник на Чукотке"]
ACTIONS = ["нарастил выпуск", "сократил добычу", "отчитался о поставках"]
METALS = ["никеля", "меди", "угля", "редкоземельных металлов", "палладия"]


def articles(count, seed=7, edition=""):
    rng = random.Random(seed)
    return [Article(id=f"doc-{n:04d}", headline=f"{rng.choice(PLANTS)} {rng.choice(ACTIONS)}",
                    body=" ".join(f"{rng.choice(PLANTS)} {rng.choice(ACTIONS)} "
                                  f"{rng.choice(METALS)}{edition}." for _ in range(5)),
                    source="synthetic")
            for n in range(count)]


def answers(path):
    with open_index(path) as index:
        return {query: (result.total, [hit.id for hit in result.hits])
                for query in QUERIES
                for result in [index.search(query, limit=20, snippets=False)]}


def segment_files_in_order(path):
    """The folder holds only what the last commit lists: its segments and table of contents."""
    ix = open_whoosh_index(path)
    listed = {segment.segment_id() for segment in ix._segments()}
    names = os.listdir(path)
    assert not [name for name in names if WORKER_TEMP_RE.fullmatch(name) or name == "MAIN.tmp"]
    segment_file = TOC._segment_pattern(ix.indexname)
    on_disk = {match.group(1) for match in map(segment_file.fullmatch, names) if match}
    assert on_disk == listed
    assert len([name for name in names if name.endswith(".toc")]) == 1
    return len(listed)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory):
    path = tmp_path_factory.mktemp("serial") / "ix"
    report = index_articles(articles(DOCUMENTS), path, batch_size=BATCH, workers=0)
    assert (report.added, report.failed) == (DOCUMENTS, 0)
    return path


def test_workers_build_the_same_index_as_one_process(one_process, tmp_path):
    report = index_articles(articles(DOCUMENTS), tmp_path / "ix", batch_size=BATCH, workers=2)
    assert (report.added, report.updated, report.failed) == (DOCUMENTS, 0, 0)
    assert answers(tmp_path / "ix") == answers(one_process)
    assert segment_files_in_order(tmp_path / "ix") == DOCUMENTS // BATCH
    with open_whoosh_index(tmp_path / "ix").searcher() as searcher:
        stored = [fields["id"] for fields in searcher.all_stored_fields()]
    assert stored == [article.id for article in articles(DOCUMENTS)]  # commits in record order


def test_updates_in_a_worker_run_replace_the_old_versions(one_process, tmp_path):
    path = tmp_path / "ix"
    index_articles(articles(DOCUMENTS), path, batch_size=BATCH, workers=2)
    changed = articles(DOCUMENTS, edition=" и золота")[::4]  # every 4th, across all segments
    new = [Article(id=f"new-{n}", headline="Золото", body="Добыча золота.") for n in range(60)]
    report = index_articles([*articles(DOCUMENTS)[1::4], *changed, *new], path,
                            batch_size=BATCH, workers=2)
    assert (report.added, report.updated, report.skipped) == (60, len(changed), DOCUMENTS // 4)
    with open_index(path) as index:
        assert index.doc_count == DOCUMENTS + 60
        result = index.search("золото", limit=1000, snippets=False, group=False)
        assert sorted(hit.id for hit in result.hits) == sorted(
            [article.id for article in changed] + [article.id for article in new])
    segment_files_in_order(path)


def test_the_command_line_takes_the_number_of_workers(tmp_path):
    from click.testing import CliRunner

    from search.cli import cli
    from tests.conftest import DATA

    result = CliRunner().invoke(cli, ["index", str(DATA), "--index", str(tmp_path / "ix"),
                                      "--batch-size", "4", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("30 added, 0 updated, 0 skipped, 0 failed in ")
    assert segment_files_in_order(tmp_path / "ix") == 8  # 30 documents in batches of 4


def test_the_garbage_collector_rests_while_a_segment_is_written(tmp_path):
    ix = create_index(tmp_path / "ix")
    seen = []
    documents = [document_fields(a, "digest") for a in articles(3)]
    assert gc.isenabled()
    write_segment(ix, ix.schema, documents, tick=lambda: seen.append(gc.isenabled()))
    assert seen == [False, False, False] and gc.isenabled()

    def stop():
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_segment(ix, ix.schema, documents, tick=stop)
    assert gc.isenabled()  # back on after a failure too
    ix.close()
