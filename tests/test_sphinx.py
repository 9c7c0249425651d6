"""The distributed engine against real searchd servers: two shards on free loopback ports.

Every test here starts real ``searchd`` processes (Sphinx 2.2 from Debian's
``sphinxsearch``, or Manticore); they are skipped, with the reason, only where
no ``searchd`` is installed.
"""

import gzip
import itertools
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from indexer import build_index, delete_documents
from indexer.manticore import ShardDown, doc_key
from indexer.sources import Article
from search import PoiskError, Ranking, open_index
from search.cli import cli
from search.cluster import (
    free_port_range, init_cluster, load_cluster, start_cluster, stop_cluster)

from conftest import DATA, ROOT

SEARCHD = os.environ.get("POISK_SEARCHD") or shutil.which("searchd")
pytestmark = pytest.mark.skipif(
    SEARCHD is None, reason="searchd is not installed (apt-get install sphinxsearch)")
CORPUS = pathlib.Path(os.environ.get("POISK_CORPUS") or ROOT.parent / "shared" / "corpus")


@pytest.fixture
def make_cluster(tmp_path):
    """Start clusters of real searchd servers; stop them after the test."""
    started = []

    def make(shards=2):
        cluster = init_cluster(tmp_path / f"cluster{len(started)}", shards=shards,
                               port=free_port_range(2 * shards))
        started.append(cluster)
        start_cluster(cluster)
        return cluster

    yield make
    for cluster in started:
        stop_cluster(cluster)


@pytest.fixture(scope="module")
def sample_cluster(tmp_path_factory):
    """Two shards holding the data/ sample, shared by the read-only tests."""
    cluster = init_cluster(tmp_path_factory.mktemp("sphinx") / "cluster", shards=2,
                           port=free_port_range(4))
    start_cluster(cluster)
    report = build_index([DATA], cluster.url)
    assert (report.added, report.failed) == (30, 0)
    with open_index(cluster.url) as index:
        yield index
    stop_cluster(cluster)


# Query -> what the distributed index must give, as the folder index does.
SAME_AS_WHOOSH = [
    "никель", "редкоземельные металлы", '"глубокая переработка"', '"переработка сырья"~3',
    "=металлов", "редкозем*", "никель AND палладий", "никель OR кобальт", "никель -уголь",
    "(никель OR медь) AND Норильск", "title:никель", "source:dv-vedomosti", "date:2026-03",
    "металл date:2026", "Улан-Удэ", "стали", "енисейский", "литий НЕ Тува",
    "никель OR NOT металл", "-уголь", "*", "металл компания Норильск",
]


@pytest.fixture(scope="module")
def folder_without_tail(sample_index):
    """The sample's folder index without the common-word tail (Ranking.tail_after), which
    the Sphinx engine does not have: "металл компания Норильск" would list, after its
    first 10 hits, articles that hold only металл and компания."""
    with open_index(sample_index.path, ranking=Ranking(tail_after=None)) as index:
        yield index


@pytest.mark.parametrize("query", SAME_AS_WHOOSH)
def test_same_articles_and_snippets_as_the_folder_index(sample_cluster, folder_without_tail,
                                                        query):
    expected = folder_without_tail.search(query, limit=50)
    got = sample_cluster.search(query, limit=50)
    assert got.total == expected.total
    assert {h.id for h in got.hits} == {h.id for h in expected.hits}
    by_id = {h.id: h for h in expected.hits}
    for hit in got.hits:
        want = by_id[hit.id]
        assert (hit.headline, hit.date, hit.source, hit.url, hit.tags) == \
            (want.headline, want.date, want.source, want.url, want.tags)
        assert (hit.snippets, hit.headline_highlights) == \
            (want.snippets, want.headline_highlights)
    assert not got.partial


def test_a_very_common_word_of_a_long_query_only_ranks(sample_cluster):
    """As on a folder index (Ranking.common_share): металл and компания are each in a third
    of the 30 articles, so in a three-word query they rank Норильск's articles and find none
    of their own."""
    got = sample_cluster.search("металл компания Норильск", limit=50)
    assert {h.id for h in got.hits} == {h.id for h in sample_cluster.search("Норильск").hits}
    assert sample_cluster.search("металл компания", limit=50).total > 10


@pytest.mark.parametrize("query", ["никель Норильск", "уголь Кузбасс", "литий Тува",
                                   "медь палладий никель", "завод металл"])
def test_articles_with_all_the_words_come_first(sample_cluster, sample_index, query):
    hits = [h.id for h in sample_cluster.search(query, limit=50).hits]
    every_word = {h.id for h in sample_index.search(" AND ".join(query.split()), limit=50).hits}
    assert every_word and set(hits[:len(every_word)]) == every_word


# Queries as people type them: the same rewriting as on the folder index (layout, typos,
# synonyms, word~, did-you-mean), its vocabulary asked of the engine.
REWRITTEN = ["ybrtkm", "никкель", "паладия", "шойгк", "литиий", "Норникель",
             "нарильский никель", "РФ", "Тыва", "htlrjptvtkmyst", "литий~2", "никель~"]


@pytest.mark.parametrize("query", REWRITTEN)
def test_queries_are_rewritten_as_on_the_folder_index(sample_cluster, sample_index, query):
    expected, got = sample_index.search(query, limit=50), sample_cluster.search(query, limit=50)
    assert (got.searched, got.rewrites, got.did_you_mean) == \
        (expected.searched, expected.rewrites, expected.did_you_mean)
    assert got.total == expected.total > 0
    assert {h.id for h in got.hits} == {h.id for h in expected.hits}
    as_typed = sample_cluster.search(query, synonyms=False, corrections=False)
    assert as_typed.rewrites == () or "~" in query


def _asked_words(index, monkeypatch):
    """The words whose document counts ``index`` asks of its shards (CALL KEYWORDS)."""
    asked = []
    keyword_docs = type(index).keyword_docs

    def counted(self, tokens):
        tokens = list(tokens)
        asked.extend(tokens)
        return keyword_docs(self, tokens)

    monkeypatch.setattr(type(index), "keyword_docs", counted)
    return asked


# Words pymorphy3 knows no form of one edit away (so the index's own words are looked
# for): the engine was asked 544, 1244, 480 and 728 spellings of them without lexicons.
@pytest.mark.parametrize("query", ["норникль", "Норникелб", "Верховц", "Кнорр"])
def test_a_typo_asks_the_shards_only_spellings_their_lexicons_hold(sample_cluster, sample_index,
                                                                   monkeypatch, query):
    """A word no shard holds: its spellings one edit away are looked for in the shards'
    lexicons, read once by the client, and only those found are counted by the engine
    (without lexicons, every one: about 600 for a 6-letter word). The rewriting is the
    folder index's all the same."""
    asked = _asked_words(sample_cluster, monkeypatch)
    got = sample_cluster.search(query)
    expected = sample_index.search(query)
    assert (got.searched, got.rewrites, got.did_you_mean) == \
        (expected.searched, expected.rewrites, expected.did_you_mean)
    assert len(asked) < 30


def test_the_lexicons_hold_every_word_poisk_gives_the_shards(sample_cluster):
    from indexer.manticore import SphinxText, read_lexicon
    from indexer.shards import document_row
    from indexer.sources import read_sources

    text, wanted = SphinxText(), set()
    for article in read_sources([DATA]):
        row = document_row(article, text)
        for field in ("headline", "lead", "body", "headline_alt", "body_alt",
                      "headline_forms", "body_forms", "meta"):
            wanted.update(row[field].split())
    words = sample_cluster.lexicon.words()
    wanted = sorted(wanted)
    assert words.holding(wanted) == wanted and len(words) < 2 * len(wanted)
    for shard, host, port in sample_cluster.layout():  # written a batch at a time
        rows = read_lexicon(sample_cluster._connection(host, port), shard)
        assert rows and all(len(words.split()) == len(set(words.split())) for _, words in rows)


def test_a_lexicon_made_again_from_the_shards_holds_the_same_words(make_cluster, monkeypatch):
    """``poisk cluster lexicon``: for a cluster indexed before lexicons were written."""
    import search.sphinx

    monkeypatch.setattr(search.sphinx, "COUNT_SECONDS", 0)  # the lexicon is looked at each time
    cluster = make_cluster()
    build_index([DATA], cluster.url)
    with open_index(cluster.url) as index:
        written = index.lexicon.words()
        for shard, host, port in index.layout():
            index._shard_rows(host, port, f"TRUNCATE RTINDEX {shard}_lexicon")
        assert index.lexicon.words() is None  # no lexicon: spellings are asked as they are
        assert index.search("шойгк").rewrites
        done = CliRunner().invoke(cli, ["cluster", "lexicon", "--index", cluster.url])
        assert done.exit_code == 0, done.output
        assert done.output.startswith("2 shards, ")
        assert index.lexicon.words() == written


def test_a_client_sees_words_indexed_after_it_read_the_lexicons(make_cluster, monkeypatch):
    import search.sphinx

    monkeypatch.setattr(search.sphinx, "COUNT_SECONDS", 0)
    cluster = make_cluster()
    build_index_records([Article(id="a", headline="Уголь", body="Добыча угля.")], cluster.url)
    with open_index(cluster.url) as index:
        assert index.search("палладйи").rewrites == ()
        build_index_records([Article(id="b", headline="Палладий", body="Цены палладия.")],
                            cluster.url)
        assert index.search("палладйи").searched == "палладий"


def test_a_cluster_without_lexicons_still_corrects_typos(tmp_path, monkeypatch):
    """A cluster made before lexicons: its spellings are asked of the engine, as before,
    and `poisk cluster lexicon` says what to add."""
    import search.cluster

    monkeypatch.setattr(search.cluster, "LEXICON_INDEX", "")
    cluster = init_cluster(tmp_path / "old", shards=2, port=free_port_range(4))
    start_cluster(cluster)
    try:
        build_index([DATA], cluster.url)
        with open_index(cluster.url) as index:
            assert index.lexicon.words() is None
            assert index.search("Верховц").searched == "Верховец"
        done = CliRunner().invoke(cli, ["cluster", "lexicon", "--index", cluster.url])
        assert done.exit_code == 1 and "has no lexicon table poisk_0_lexicon" in done.output
    finally:
        stop_cluster(cluster)
    monkeypatch.undo()
    # --dir adds the tables to a local cluster's configurations, restarted to read them.
    done = CliRunner().invoke(cli, ["cluster", "lexicon", "--dir", str(cluster.folder)])
    assert done.exit_code == 0, done.output
    assert [cluster.pid(n) for n in range(2)] == [None, None]  # stopped, as it was found
    start_cluster(cluster)
    try:
        with open_index(cluster.url) as index:
            assert index.lexicon.words() and index.search("Верховц").searched == "Верховец"
    finally:
        stop_cluster(cluster)


def test_one_round_trip_per_page(sample_cluster, monkeypatch):
    """A page and its SHOW META are one statement; the words' frequencies, one per shard."""
    import pymysql.cursors

    statements, sent = [], []
    original = pymysql.cursors.Cursor.execute
    monkeypatch.setattr(pymysql.cursors.Cursor, "execute",
                        lambda self, sql, args=None: statements.append(sql.split()[0])
                        or sent.append(sql) or original(self, sql, args))
    sample_cluster.search("никель", synonyms=False, corrections=False, limit=5, offset=10)
    assert statements == ["SELECT"]
    assert "LIMIT 10, 5 " in sent[0] and "max_matches=15" in sent[0]  # shards send the page only
    sample_cluster.search("редкоземельные металлы")  # the document count is kept for a while
    statements.clear()
    # A short query of known words: the frequencies its rewriting asks come with its page.
    sample_cluster.search("редкоземельные металлы")
    assert statements == ["SELECT"]
    statements.clear()
    sample_cluster.search("никкель")  # a typo no lexicon holds: no page until it is corrected
    assert statements[0] == "CALL" and statements[-1] == "SELECT"
    statements.clear()
    sample_cluster.search("редкоземельные металлы Норильск")  # 3 words: the common-word rule
    assert statements == ["CALL", "CALL", "SELECT"]


def test_a_new_thread_connects_to_loopback_shards_without_a_tls_context(sample_cluster,
                                                                         monkeypatch):
    """PyMySQL 1.2 builds a TLS context (the system's certificates loaded) for each connection
    it may offer TLS on, 20 ms of CPU, which a loopback searchd never uses: 8 new client
    threads paid it once per thread and searchd (client CPU 5.5 ms a query against 2.4)."""
    import ssl
    import threading

    made, found = [], []
    original = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context",
                        lambda *args, **kwargs: made.append(args) or original(*args, **kwargs))
    # A new thread opens its own connections (the node's and, for a typo, each shard's).
    thread = threading.Thread(target=lambda: found.append(sample_cluster.search("никкель")))
    thread.start()
    thread.join()
    assert found and found[0].total > 0
    assert made == []


def _prosecutors(both):
    """60 articles: 3 about the prosecutor general's office in Russia (naming it both ways
    when ``both``), 3 naming it both ways without Russia, 54 about Russia."""
    office = "Генпрокуратура России"
    body = "Генеральная прокуратура России начала проверку." if both else \
        "Ведомство России начало проверку."
    return ([Article(id=f"g{n}", headline=office, body=body) for n in range(3)]
            + [Article(id=f"o{n}", headline="Генпрокуратура", body="Генеральная прокуратура "
                       "начала проверку.") for n in range(3)]
            + [Article(id=f"r{n}", headline=f"Новости России {n}", body="В России прошли выборы.")
               for n in range(54)])


@pytest.mark.parametrize("both", [True, False])
def test_a_word_with_synonyms_takes_the_page_of_every_word_when_no_other_can_outrank_it(
        make_cluster, monkeypatch, both):
    """генпрокуратура россии: генпрокуратура gets its synonym, россия (in 57 of 60 articles)
    none. When the articles holding both words outscore any article lacking one
    (``absent_word_bound``) the page is theirs; otherwise it is asked over any word."""
    from search.sphinx import SphinxIndex

    cluster = make_cluster()
    build_index_records(_prosecutors(both), cluster.url)
    calls = []
    query = SphinxIndex._query
    monkeypatch.setattr(SphinxIndex, "_query", lambda self, sql, keywords=False, count=None,
                        raw=False: calls.append(count) or query(self, sql, keywords, count, raw))
    with open_index(cluster.url) as index:
        got = index.search("генпрокуратура россии", limit=3)
        took = calls[-1] is not None  # the last page asked was the one of every word
        monkeypatch.setattr(SphinxIndex, "_every_word_first",
                            lambda self, compiled, sql, needed, keywords:
                            self._query(sql, keywords, raw=True))
        full = index.search("генпрокуратура россии", limit=3)
    assert got.rewrites and [r.kind for r in got.rewrites] == ["synonym"]
    assert got.total == full.total == 60
    assert [(h.id, h.score, h.snippets) for h in got.hits] == \
        [(h.id, h.score, h.snippets) for h in full.hits]
    assert took == both
    assert {h.id[0] for h in got.hits} == ({"g"} if both else {"o"})


def test_words_found_very_common_get_no_synonyms_in_the_next_guess(make_cluster, monkeypatch):
    """A short query's page is sent as guessed, every word rare; россия (in 57 of 60
    articles) gets no synonyms in a guess once a search has found it that common, so
    the guessed page stands (one page asked, not two), is the page of every word and is
    the same."""
    from search.sphinx import SphinxIndex

    cluster = make_cluster()
    build_index_records(_prosecutors(True), cluster.url)
    pages = []
    query = SphinxIndex._query
    monkeypatch.setattr(SphinxIndex, "_query", lambda self, sql, *args, **kwargs:
                        ("MATCH(" in sql and pages.append(f"{sql}; {kwargs.get('count')}")) or
                        query(self, sql, *args, **kwargs))
    with open_index(cluster.url) as index:
        first = index.search("россия генпрокуратура", limit=3)
        asked_first, pages[:] = len(pages), []
        second = index.search("генпрокуратура россии", limit=3)
    assert asked_first == 2 and len(pages) == 1
    # ... and, as a compiled query's, is the page of every word (the 3 articles with both
    # words, their total counted beside it), not a ranking of every article with россия.
    assert "ranker=none" in pages[0]
    assert [(h.id, h.score) for h in first.hits] == [(h.id, h.score) for h in second.hits]


def test_a_pages_offset_tables_are_searched_as_bytes(sample_cluster, monkeypatch):
    """A page's offset tables, more than half its bytes, are read undecoded (the snippets
    and the re-ranking search them as bytes), its text fields decoded."""
    import search.rerank
    import search.sphinx

    tables = []
    for module, name in ((search.sphinx, "read_offsets"), (search.rerank, "table_offsets")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda table, terms, original=original:
                            tables.append(type(table)) or original(table, terms))
    for query in ("никель Норильск", "Норильский никель увеличил выпуск палладия и меди"):
        result = sample_cluster.search(query)
        assert result.hits and all(isinstance(h.headline, str) and h.snippets
                                   for h in result.hits)
    assert tables and set(tables) == {bytes}


def test_a_page_whose_words_are_counted_asks_only_its_match_count(sample_cluster, monkeypatch):
    """Once the words' document counts are known (CALL KEYWORDS), the page's SHOW META is
    its match count and warnings: not a row per word for the client to decode."""
    import pymysql.cursors

    sent = []
    original = pymysql.cursors.Cursor.execute
    monkeypatch.setattr(pymysql.cursors.Cursor, "execute",
                        lambda self, sql, args=None: sent.append(sql) or original(self, sql, args))
    for query in ("редкоземельные металлы Норильск", "Норильский никель увеличил выпуск "
                  "палладия и меди"):
        result = sample_cluster.search(query)
        page, meta = sent[-1].split("; SHOW META")[0], sent[-1].partition("; ")[2]
        assert meta == "SHOW META LIKE 'total_found'; SHOW META LIKE 'warning'"
        _, full = sample_cluster._query(page, keywords=True)
        assert result.total == int(dict(full)["total_found"]) > 0
        assert any(key.startswith("keyword[") for key, _ in full)


def test_snippets_of_plain_words_analyse_no_word_of_the_page(sample_cluster, monkeypatch):
    """Word offsets are read from the hits' stored tables, as a folder index reads positions
    from its postings: the analyzer sees the query's words only."""
    from indexer.analysis import MorphFilter

    analysed = set()
    terms = MorphFilter.terms
    monkeypatch.setattr(MorphFilter, "terms",
                        lambda self, surface: analysed.add(surface) or terms(self, surface))
    result = sample_cluster.search("никель Норильск", synonyms=False, corrections=False)
    assert result.hits and all(h.snippets for h in result.hits)
    assert analysed <= {"никель", "Норильск"}


def test_a_post_that_repeats_its_headline_gets_the_folder_index_snippets(make_cluster, tmp_path):
    from indexer import index_articles

    post = Article(id="tg/1", headline="Норникель поднял выпуск никеля.",
                   body="Норникель поднял выпуск никеля.\nКомпания сообщила о выпуске никеля.")
    cluster = make_cluster()
    index_articles([post], cluster.url)
    index_articles([post], tmp_path / "folder")
    with open_index(cluster.url) as engine, open_index(tmp_path / "folder") as folder:
        for query in ("никель", "=никеля", "выпуск*"):
            got, want = engine.search(query).hits[0], folder.search(query).hits[0]
            assert got.snippets[0].text == "Компания сообщила о выпуске никеля."
            assert (got.snippets, got.headline_highlights) == \
                (want.snippets, want.headline_highlights)


def test_the_spelling_filter_skips_no_word_the_analyzer_would_highlight(sample_index):
    """Every lemma of every word of the sample articles: the highlighter finds the same words
    with the filter as without it."""
    from indexer.analysis import WORD_RE
    from search.snippets import find_matches
    from search.sphinx import SpellingFilter

    analyzer = sample_index.analyzer
    morph = analyzer.items[1]
    for hit in sample_index.search("*", limit=50, snippets=False).hits:
        text = f"{hit.headline} {sample_index.get(hit.id).body}"
        for term in {t for w in set(WORD_RE.findall(text)) for t, *_ in morph.terms(w)}:
            assert find_matches(text, analyzer, {term}, (), SpellingFilter({term})) == \
                find_matches(text, analyzer, {term}), (hit.id, term)


FILTERS = [
    dict(since="2026-01-01"),
    dict(until="2025-12-31"),
    dict(since="2026-02-01", until="2026-03-31"),
    dict(source="sibir-business"),
    dict(source="SIBIR-BUSINESS"),
    dict(sort="date"),
]


@pytest.mark.parametrize("options", FILTERS, ids=str)
def test_filters_hold(sample_cluster, sample_index, options):
    got = sample_cluster.search("металл OR компания", limit=50, **options)
    expected = sample_index.search("металл OR компания", limit=50, **options)
    assert got.total == expected.total > 0
    assert {h.id for h in got.hits} == {h.id for h in expected.hits}
    for hit in got.hits:
        assert not options.get("since") or hit.date.isoformat() >= options["since"]
        assert not options.get("until") or hit.date.isoformat() <= options["until"]
        assert not options.get("source") or hit.source == options["source"].lower()
    if options.get("sort") == "date":
        dates = [h.date for h in got.hits]
        assert dates == sorted(dates, reverse=True)


def test_not_excludes_every_form(sample_cluster):
    with_word = {h.id for h in sample_cluster.search("металл", limit=50).hits}
    without = sample_cluster.search("металл -никель", limit=50)
    nickel = {h.id for h in sample_cluster.search("никель", limit=50).hits}
    assert {h.id for h in without.hits} == with_word - nickel
    assert nickel & with_word  # the exclusion removed something


def test_get_and_stats_match_the_folder_index(sample_cluster, sample_index):
    doc_id = "data/sibir-business/2026-02-10-tyva-litiy-sp"
    assert sample_cluster.get(doc_id) == sample_index.get(doc_id)
    assert sample_cluster.get("no-such-id") is None
    stats, expected = sample_cluster.stats(), sample_index.stats()
    assert (stats.documents, stats.first_date, stats.last_date, stats.sources) == \
        (expected.documents, expected.first_date, expected.last_date, expected.sources)
    assert stats.size_bytes > 0


def test_each_article_is_on_its_shard_once(sample_cluster):
    cluster_index = sample_cluster
    ids = [h.id for h in cluster_index.search("*", limit=100, snippets=False).hits]
    assert len(ids) == len(set(ids)) == 30
    per_shard = _ids_per_shard(cluster_index)
    assert sorted(itertools.chain(*per_shard)) == sorted(ids)
    for number, shard_ids in enumerate(per_shard):
        assert shard_ids and all(doc_key(i) % 2 == number for i in shard_ids)


def _ids_per_shard(index):
    from indexer.manticore import connect, read_layout

    layout = read_layout(index._connection(), index.url)
    result = []
    for shard, host, port in layout:
        connection = connect(host, port, shard)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT doc_id FROM {shard} LIMIT 1000")
            result.append([row[0] for row in cursor.fetchall()])
        connection.close()
    return result


BAD_QUERIES = [
    ("", "empty query"),
    ("и в на", "nothing to search for"),
    ("р*", "too short"),
    ("никель OR date:2026", "date: range"),
]


@pytest.mark.parametrize("query, message", BAD_QUERIES)
def test_bad_queries_are_one_line_errors(sample_cluster, query, message):
    with pytest.raises(PoiskError, match=message):
        sample_cluster.search(query)


@pytest.mark.parametrize("args, message", [
    (["show", "data/sibir-business/2026-02-10-tyva-litiy-sp", "--similar"],
     "Error: a Manticore index keeps no story sketches: `show --similar` needs a local poisk "
     "index\n"),
    (["trend", "никель"], "Error: `poisk trend` needs a local poisk index (a Manticore index "
                          "has no date column to count from here)\n"),
])
def test_what_a_cluster_cannot_do_is_a_one_line_error(sample_cluster, args, message):
    done = CliRunner().invoke(cli, [*args, "--index", sample_cluster.path])
    assert (done.exit_code, done.output) == (1, message)


def test_cli_index_search_show_stats_delete(make_cluster):
    cluster = make_cluster()
    runner = CliRunner()
    done = runner.invoke(cli, ["index", str(DATA), "--index", cluster.url])
    assert done.exit_code == 0 and done.output.startswith("30 added, 0 updated, 0 skipped")
    done = runner.invoke(cli, ["search", "никель", "--index", cluster.url, "--no-color"])
    assert done.exit_code == 0 and done.output.startswith("4 found for 'никель'")
    done = runner.invoke(cli, ["index", str(DATA)], env={"POISK_INDEX": cluster.url})
    assert done.output.startswith("0 added, 0 updated, 30 skipped")
    doc_id = "data/sibir-business/2026-02-10-tyva-litiy-sp"
    done = runner.invoke(cli, ["show", doc_id, "--index", cluster.url])
    assert done.output.startswith("В Туве выбрали подрядчика для литиевого проекта\n")
    done = runner.invoke(cli, ["delete", doc_id, "missing", "--index", cluster.url])
    assert done.output == "1 deleted, 1 not found\n"
    done = runner.invoke(cli, ["stats", "--index", cluster.url, "--json"])
    assert json.loads(done.output)["documents"] == 29


def test_killed_shard_gives_partial_results_and_restart_gives_all(make_cluster):
    cluster = make_cluster()
    build_index([DATA], cluster.url)
    with open_index(cluster.url) as index:
        full = index.search("металл", limit=50)
        os.kill(cluster.pid(1), signal.SIGKILL)
        partial = index.search("металл", limit=50)
        assert partial.partial and "agent" in partial.warnings[0]
        on_shard_0 = {h.id for h in full.hits if doc_key(h.id) % 2 == 0}
        assert {h.id for h in partial.hits} == on_shard_0
        assert 0 < partial.total < full.total
        # A page of the articles holding every word (search.sphinx._every_word_first) and
        # its uncounted total: partial, and said once.
        both = index.search("металл компания", limit=1)
        assert both.partial and len(both.warnings) == 1 and "agent" in both.warnings[0]
        done = CliRunner().invoke(cli, ["search", "металл", "--index", cluster.url])
        assert done.exit_code == 0
        assert "Warning: partial results, part of the index did not answer" in done.output
        with pytest.raises(ShardDown, match="need every shard"):
            index.stats()
        start_cluster(cluster)
        again = index.search("металл", limit=50)
        assert not again.partial and again.total == full.total
        assert [h.id for h in again.hits] == [h.id for h in full.hits]


def test_indexing_into_a_down_shard_fails_loudly_and_a_rerun_completes(make_cluster, tmp_path):
    cluster = make_cluster()
    os.kill(cluster.pid(1), signal.SIGKILL)
    done = CliRunner().invoke(cli, ["index", str(DATA), "--index", cluster.url,
                                    "--batch-size", "5"])
    assert done.exit_code == 1
    assert "Error: shard poisk_1 at 127.0.0.1:" in done.output
    assert "run the same command again to finish" in done.output
    assert "Traceback" not in done.output
    start_cluster(cluster)
    report = build_index([DATA], cluster.url, batch_size=5)
    assert report.failed == 0 and report.added + report.skipped == 30 and report.added > 0
    with open_index(cluster.url) as index:
        ids = [h.id for h in index.search("*", limit=100, snippets=False).hits]
    assert len(ids) == len(set(ids)) == 30


def test_a_change_replaces_the_article_on_its_shard(make_cluster):
    cluster = make_cluster()
    article = Article(id="x/1", headline="Никель", body="Выпуск никеля вырос.")
    assert build_index_records([article], cluster.url).added == 1
    changed = Article(id="x/1", headline="Медь", body="Выпуск меди вырос.")
    report = build_index_records([changed], cluster.url)
    assert (report.added, report.updated) == (0, 1)
    with open_index(cluster.url) as index:
        assert index.search("никель").total == 0
        assert [h.id for h in index.search("медь").hits] == ["x/1"]
    assert delete_documents(["x/1"], cluster.url) == 1


def build_index_records(records, url):
    from indexer import index_articles

    return index_articles(records, url)


CLUSTER_ERRORS = [
    (["search", "никель", "--index", "manticore://localhost/poisk"], "write it as manticore://"),
    (["search", "никель", "--index", "manticore://127.0.0.1:1/poisk"], "does not answer"),
    (["cluster", "start", "--dir", "/nonexistent"], "no cluster in /nonexistent"),
]


@pytest.mark.parametrize("args, message", CLUSTER_ERRORS)
def test_cluster_mistakes_are_one_line_errors(args, message):
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 1 and message in done.output
    assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1


def test_a_cluster_made_by_an_older_poisk_says_to_make_it_again(tmp_path, monkeypatch):
    import search.cluster

    old = search.cluster.SHARD_INDEX.replace("    rt_attr_string = headline_offsets\n", "")
    monkeypatch.setattr(search.cluster, "SHARD_INDEX", old)
    cluster = init_cluster(tmp_path / "old", shards=1, port=free_port_range(2))
    start_cluster(cluster)
    try:
        with open_index(cluster.url) as index, pytest.raises(PoiskError, match=(
                "unknown column: headline_offsets.*make the cluster again")):
            index.search("никель")
    finally:
        stop_cluster(cluster)


def test_cluster_init_refuses_a_folder_in_use(tmp_path):
    runner = CliRunner()
    args = ["cluster", "init", "--dir", str(tmp_path / "c"), "--port", "19000"]
    assert runner.invoke(cli, args).exit_code == 0
    assert (tmp_path / "c" / "node1" / "searchd.conf").read_text().count("agent_persistent = ") == 1
    done = runner.invoke(cli, args)
    assert done.exit_code == 1 and "already holds a cluster" in done.output
    assert load_cluster(tmp_path / "c").url == "manticore://127.0.0.1:19000/poisk"


def test_cluster_init_sets_each_shards_ram_chunk(tmp_path):
    """In gigabytes too (Sphinx 2.2 reads no G: the config says megabytes)."""
    runner = CliRunner()
    port = free_port_range(4)
    done = runner.invoke(cli, ["cluster", "init", "--dir", str(tmp_path / "c"), "--port",
                               str(port), "--memory", "1G"])
    assert done.exit_code == 0, done.output
    cluster = start_cluster(load_cluster(tmp_path / "c")) and load_cluster(tmp_path / "c")
    try:
        with open_index(cluster.url) as index:
            status = dict(index._shard_rows("127.0.0.1", port + 1, "SHOW INDEX poisk_1 STATUS"))
        assert status["mem_limit"] == str(2**30)
    finally:
        stop_cluster(cluster)
    done = runner.invoke(cli, ["cluster", "init", "--dir", str(tmp_path / "d"), "--memory", "lots"])
    assert done.exit_code == 1 and "--memory 'lots': write a size" in done.output


def _corpus_slice(count):
    with gzip.open(CORPUS / "ru-kw-news.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, count)]


@pytest.mark.skipif(not (CORPUS / "ru-kw-news.jsonl.gz").exists(),
                    reason="the shared corpus is not here")
def test_corpus_slice_top10_overlap(make_cluster, tmp_path):
    """A slice of real news: the ranking formulas differ, the articles found mostly do not."""
    records = _corpus_slice(150)
    path = tmp_path / "slice.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records),
                    encoding="utf-8")
    cluster = make_cluster()
    build_index([path], cluster.url)
    build_index([path], tmp_path / "ix")
    queries = [r["title"] for r in records[::8]] + ["нефть", "санкции", "выборы президента"]
    overlaps = []
    with open_index(cluster.url) as engine, open_index(tmp_path / "ix") as folder:
        for query in queries:
            got, expected = engine.search(query), folder.search(query)
            # Both let a very common word of a long query only rank the others'
            # matches, but count "very common" apart: a folder index counts a lemma
            # where the indexer found it a full reading, Sphinx any reading (день,
            # деть), so the totals differ either way.
            assert (got.total > 0) == (expected.total > 0)
            top = {h.id for h in expected.hits}
            overlaps.append(len(top & {h.id for h in got.hits}) / max(1, len(top)))
    mean = sum(overlaps) / len(overlaps)
    print(f"top-10 overlap with the folder index: {mean:.2f} over {len(queries)} queries")
    assert mean >= 0.6


def test_readme_cluster_commands_run(tmp_path):
    """The README's local-cluster line, on free ports instead of 9306-9309."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split(
        "## A distributed index", 1)[1]
    command = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    port = free_port_range(4)
    command = command.replace(":9306/", f":{port}/").replace(
        "cluster init --shards 2", f"cluster init --shards 2 --port {port}")
    shutil.copytree(DATA, tmp_path / "data")
    bin_dir = os.path.dirname(sys.executable)
    try:
        done = subprocess.run(re.sub(r"(^|&& )poisk ", rf"\g<1>{bin_dir}/poisk ", command),
                              shell=True,
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        stop_cluster(load_cluster(tmp_path / ".poisk-cluster"))
    assert done.returncode == 0, done.stderr
    assert "30 added, 0 updated, 0 skipped, 0 failed" in done.stdout
    assert "4 found for 'никель'" in done.stdout


def test_a_large_batch_is_analysed_in_worker_processes(make_cluster, tmp_path, monkeypatch):
    """250 articles (the data/ sample, repeated under new ids): the worker pool's rows are
    the ones this process makes."""
    import indexer.shards as shards
    from indexer import index_articles, read_sources

    sample = [r for r in read_sources([DATA]) if isinstance(r, Article)]
    articles = [Article(id=f"copy{n}/{a.id}", headline=a.headline, body=a.body, date=a.date,
                        source=a.source, tags=a.tags) for n in range(9) for a in sample][:250]
    pools = []
    monkeypatch.setattr(shards, "default_workers", lambda: 2)  # also on a one-core machine
    original = shards._ShardWriter._rows

    def spy(self, batch):
        rows = original(self, batch)
        pools.append(self.pool is not None)
        return rows
    monkeypatch.setattr(shards._ShardWriter, "_rows", spy)
    cluster = make_cluster()
    assert index_articles(articles, cluster.url).added == 250
    assert pools == [True]
    folder = tmp_path / "ix"
    index_articles(articles, folder, workers=0)
    with open_index(cluster.url) as engine, open_index(folder) as expected:
        for query in ("никель", '"глубокая переработка"', "=металлов", "литий -Тува"):
            assert engine.search(query, limit=5).total == expected.search(query, limit=5).total


def test_a_headline_length_query_ranks_its_words_by_idf(sample_cluster, monkeypatch):
    """Over Ranking.all_words_max words, the ranker weighs each matched word by its IDF
    (LONG_RANKER; bench.sphinx relevance measures what it gains), and searchd accepts it."""
    import pymysql.cursors

    from search.sphinx import LONG_RANKER

    sent = []
    original = pymysql.cursors.Cursor.execute
    monkeypatch.setattr(pymysql.cursors.Cursor, "execute",
                        lambda self, sql, args=None: sent.append(sql) or original(self, sql, args))
    hits = sample_cluster.search("Норильский никель увеличил выпуск палладия и меди").hits
    assert hits and f"ranker={LONG_RANKER}," in sent[-1]
    sample_cluster.search("Норильский никель")
    assert LONG_RANKER not in sent[-1]


def test_a_headline_length_query_orders_its_best_matches_as_a_folder_index(make_cluster,
                                                                             tmp_path):
    """Over Ranking.all_words_max words, the engine's best matches are ordered again by the
    folder index's BM25F (search.rerank): a short article holding the five words once
    comes before a long one holding each twice, whose length a folder index weighs."""
    from indexer import index_articles

    filler = " ".join(["Аналитики обсуждают прогнозы рынка на следующий год."] * 30)
    articles = [
        Article(id="a/short", headline="Отчёт", body="Никель, палладий, кобальт, медь и платина "
                "подорожали."),
        Article(id="a/long", headline="Обзор", body=f"{filler} Никель, палладий, кобальт, медь "
                f"и платина подорожали. {filler} Никель, палладий, кобальт, медь и платина."),
        Article(id="a/other", headline="Уголь", body="Добыча угля выросла."),
    ]
    cluster = make_cluster()
    index_articles(articles, cluster.url)
    index_articles(articles, tmp_path / "folder")
    query = "никель палладий кобальт медь платина"
    with open_index(cluster.url) as engine, open_index(tmp_path / "folder") as folder:
        want = [h.id for h in folder.search(query).hits]
        assert want == ["a/short", "a/long"]
        assert [h.id for h in engine.search(query).hits] == want
        assert [h.id for h in engine.search(query, offset=1, limit=1).hits] == ["a/long"]


def _statements(monkeypatch):
    """The SQL the client sends from now on."""
    import pymysql.cursors

    sent = []
    original = pymysql.cursors.Cursor.execute
    monkeypatch.setattr(pymysql.cursors.Cursor, "execute",
                        lambda self, sql, args=None: sent.append(sql) or original(self, sql, args))
    return sent


def _page_as_ranked(index, sql):
    """(id, score) of a page's rows and its total, as ``sql`` asks them."""
    rows, meta = index._query(sql)
    return [(row[1], float(row[-1])) for row in rows], int(dict(meta)["total_found"])


@pytest.mark.parametrize("query", ["никель", "Норильск", "body:никель", "=никель", "уголь", "компания"])
def test_a_one_keyword_query_reads_no_positions_and_ranks_as_the_expression(
        sample_cluster, monkeypatch, query):
    """One keyword: Sphinx's bm25 ranker, whose weight the page turns into PLAIN_RANKER's,
    instead of the expression ranker, which reads every match's word positions: the same
    articles in the same order with the same scores."""
    from search.sphinx import ONE_KEYWORD_RANKER, ONE_KEYWORD_SCORE, PLAIN_RANKER

    sent = _statements(monkeypatch)
    result = sample_cluster.search(query, limit=30, synonyms=False, corrections=False)
    page = sent[-1].split("; SHOW META")[0]
    assert f"ranker={ONE_KEYWORD_RANKER}," in page and result.total >= 2
    expression = page.replace(f"ranker={ONE_KEYWORD_RANKER},", f"ranker={PLAIN_RANKER},") \
        .replace(f"{ONE_KEYWORD_SCORE} AS score", "WEIGHT() AS score") \
        .replace("ORDER BY score DESC", "ORDER BY WEIGHT() DESC")
    assert ([(h.id, h.score) for h in result.hits], result.total) == \
        _page_as_ranked(sample_cluster, expression)


@pytest.mark.parametrize("query", ["никель Норильск", "металл компания", "уголь Кузбасс запасы", "ГЭС выработка",
                                   "уголь Кузбасс"])
def test_articles_holding_every_word_are_ranked_alone_when_they_fill_the_page(
        sample_cluster, monkeypatch, query):
    """2-3 words of one keyword each: the articles holding every word come first
    (TIER_RANKER), so when they fill the page the engine ranks only them, and counts the
    query's matches without ranking; when they do not, the page is asked again. Either
    way the page is the query's own: the same articles, order, scores and total."""
    every = sample_cluster.search(" AND ".join(query.split()), limit=50).total
    assert every >= 1
    sent = _statements(monkeypatch)
    for limit in (every, every + 1):
        sent.clear()
        result = sample_cluster.search(query, limit=limit, synonyms=False, corrections=False)
        pages = [s.split("; SHOW META")[0] for s in sent if s.startswith("SELECT id, doc_id")]
        compiled, _ = sample_cluster._compile(query, [], sample_cluster.rewriter(False, False))
        assert compiled.every_word and f"MATCH('{compiled.every_word}')" in pages[0]
        assert len(pages) == (1 if limit == every else 2)
        own = sample_cluster._page_sql(compiled, "relevance", True, 0, limit)
        assert ([(h.id, h.score) for h in result.hits], result.total) == \
            _page_as_ranked(sample_cluster, own)
        assert result.total > every


def test_a_reranked_long_query_leaves_its_very_common_words_to_the_client(sample_cluster,
                                                                          monkeypatch):
    """металл and компания (and никель) are in a third of the 30 articles or more: in a
    headline-length query
    the engine ranks by the other words alone (they only rank what those match, and its
    ranking of them cost searchd 30 -> 13 ms a page on 100,000 articles), and the
    client's re-ranking counts them; with every match re-ranked the page is the same."""
    query = "металл компания Норильск никель палладий медь"
    monkeypatch.setattr(sample_cluster, "common_on_client", True)  # off by default
    sent = _statements(monkeypatch)
    got = sample_cluster.search(query, limit=20)
    match = re.search(r"MATCH\('(.*?)'\)", [s for s in sent if "MATCH" in s][-1]).group(1)
    assert got.total > 0 and "MAYBE" not in match and "норильск" in match
    assert "металл" not in match and "компания" not in match
    monkeypatch.setattr(sample_cluster, "common_on_client", False)
    sent.clear()
    before = sample_cluster.search(query, limit=20)
    assert "MAYBE" in [s for s in sent if "MATCH" in s][-1]
    assert before.total == got.total <= 20  # every match re-ranked both ways
    assert [(h.id, h.score) for h in got.hits] == [(h.id, h.score) for h in before.hits]


@pytest.mark.parametrize("query", ["палладйи", "норникль", "Норильск gfkkflbq"])
def test_a_word_no_lexicon_holds_is_neither_guessed_nor_counted(sample_cluster, sample_index,
                                                                monkeypatch, query):
    """A word whose lemmas no shard's lexicon holds (a typo, the wrong layout) is in no
    article: no guessed page is sent for it, and neither it nor a spelling of it the
    lexicons lack is counted by the engine; the rewriting is the folder index's."""
    sample_cluster.search("никель")  # the lexicons and the document count, read once
    sent = _statements(monkeypatch)
    got = sample_cluster.search(query)
    expected = sample_index.search(query)
    assert (got.searched, got.rewrites, got.total) == \
        (expected.searched, expected.rewrites, expected.total)
    kinds = [sql.split()[0] for sql in sent]
    page = next(n for n, sql in enumerate(sent) if "headline_text" in sql)
    # Before the page, only counts (on each shard) of words and spellings the lexicons hold.
    assert set(kinds[:page]) == {"CALL"} and page <= 4
