"""The library as an embedder meets it: undated articles, a closed index, to_dict, the poisk package."""

import datetime
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import poisk
from indexer import Article, PoiskError, delete_documents, index_articles
from indexer.merging import optimize_index
from search import open_index, render
from search.cli import cli

# Two dated articles and one without a date (like 7,162 of the RT records).
ARTICLES = [
    Article(id="old", headline="Никель в 2020", body="Выпуск никеля.", date=datetime.date(2020, 1, 1)),
    Article(id="undated", headline="Никель без даты", body="Выпуск никеля и меди."),
    Article(id="new", headline="Никель в 2021", body="Экспорт никеля.", date=datetime.date(2021, 5, 2)),
]


@pytest.fixture(scope="module")
def undated_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("undated") / "ix"
    assert index_articles(ARTICLES, path, workers=0).added == 3
    return path


def test_stats_with_an_undated_article(undated_index):
    with open_index(undated_index) as index:
        stats = index.stats()
    assert (stats.documents, stats.first_date, stats.last_date) == (
        3, datetime.date(2020, 1, 1), datetime.date(2021, 5, 2))
    shown = CliRunner().invoke(cli, ["stats", "--index", str(undated_index)])
    assert shown.exit_code == 0 and "dates:     2020-01-01 .. 2021-05-02\n" in shown.output
    as_json = CliRunner().invoke(cli, ["stats", "--json", "--index", str(undated_index)])
    assert json.loads(as_json.output)["first_date"] == "2020-01-01"


@pytest.mark.parametrize("sort, ids", [
    ("date", ["new", "old", "undated"]),  # newest first, undated last
])
def test_sort_by_date_puts_undated_articles_last(undated_index, sort, ids):
    with open_index(undated_index) as index:
        assert [hit.id for hit in index.search("никель", sort=sort).hits] == ids
        assert [hit.id for hit in index.search("никель", sort=sort, limit=1, offset=2)] == ids[2:]


def test_a_closed_index_says_it_is_closed(undated_index):
    index = open_index(undated_index)
    index.search("никель")  # this thread now holds a searcher
    index.close()
    assert index.closed
    for call in (lambda: index.search("никель"), lambda: index.get("old"), index.stats):
        with pytest.raises(PoiskError, match=r"^the index is closed: open it again"):
            call()


def test_hit_to_dict_is_what_json_writes(undated_index):
    with open_index(undated_index) as index:
        hit = index.search("меди").hits[0]
    line = CliRunner().invoke(cli, ["search", "меди", "--json", "--index", str(undated_index)])
    assert json.loads(line.output.splitlines()[0]) == {"rank": 1, **hit.to_dict()}
    assert hit.to_dict()["date"] is None
    assert hit.to_dict()["snippets"][0]["highlights"] == [[16, 20]]  # "Выпуск никеля и меди."


def test_render_names_the_styles_it_knows():
    with pytest.raises(PoiskError, match="unknown style 'markdown': use one of html, ansi, plain"):
        render((), "markdown")


def test_delete_counts_each_id_once_and_waits(tmp_path):
    path = tmp_path / "ix"
    index_articles(ARTICLES, path, workers=0)
    assert delete_documents(["old", "nope", "old"], path, wait=1) == 1
    out = CliRunner().invoke(cli, ["delete", "new", "nope", "new", "--wait", "1",
                                   "--index", str(path)])
    assert (out.exit_code, out.output) == (0, "1 deleted, 1 not found\n")


def test_the_poisk_package_exports_the_public_api():
    assert poisk.open_index is open_index and poisk.build_index.__module__ == "indexer.build"
    assert all(hasattr(poisk, name) for name in poisk.__all__)


@pytest.mark.parametrize("package", ["poisk", "search"])
def test_python_dash_m(package):
    out = subprocess.run([sys.executable, "-m", package, "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: poisk [OPTIONS] COMMAND")


def _unmerged_segments(path):
    """Rewrite the index at ``path`` as one segment of separate files (not one compound
    file): a searcher then opens its stored-fields file only when it first reads it."""
    from whoosh.reading import SegmentReader
    from whoosh.writing import SegmentWriter

    from indexer.storage import open_whoosh_index

    def merge_all(writer, segments):
        for segment in segments:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(reader)
            reader.close()
        return []

    ix = open_whoosh_index(path, write=True)
    SegmentWriter(ix, compound=False).commit(mergetype=merge_all)
    ix.close()


def test_a_search_whose_snapshot_a_merge_removed_answers_from_the_index_as_it_is(tmp_path):
    # The searcher is open and has read no stored article yet; another writer's
    # merge then removes its segment's files. Searching read the page from that
    # snapshot and failed on its articles with a raw TypeError (whoosh found no
    # stored-fields file); it now searches once more on a fresh searcher.
    path = tmp_path / "ix"
    assert index_articles(ARTICLES[:2], path, workers=0).added == 2
    _unmerged_segments(path)
    with open_index(path) as index:
        assert index.doc_count == 2  # the searcher of this snapshot
        assert index_articles(ARTICLES[2:], path, workers=0).added == 1
        assert optimize_index(path) == (2, 1)  # the snapshot's files are gone
        result = index.search("никель")
    assert sorted(hit.id for hit in result.hits) == ["new", "old", "undated"]
