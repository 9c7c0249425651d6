"""Every query form on the data/ sample, with the expected hits written as tables.

Articles are named by the start of their file name (date and first word).
"""

import datetime
import threading

import pytest

from indexer.build import index_articles
from indexer.sources import Article
from search import PoiskError, QuerySyntaxError, open_index
from search.api import Hit, SearchResult

# query -> every matching article (the whole set, in any order)
MATCHES = """
металл                        | 2025-09-01-sfu 2025-09-18-magadan 2025-11-20-nornickel 2026-01-22-bratsk 2026-01-29-vanino 2026-02-10-tyva 2026-03-14-nornikel 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
=металлов                     | 2025-09-01-sfu 2025-11-20-nornickel 2026-01-29-vanino 2026-03-14-tomtor 2026-04-08-zavod
=металлу                      | 2025-09-18-magadan
"=редкоземельных металлов"    | 2026-03-14-tomtor 2026-04-21-ulan
title:=никеля                 | 2026-03-14-nornikel
"редкоземельные металлы"      | 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
"глубокая переработка"        | 2026-02-10-tyva 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
"глубокой переработке"        | 2026-02-10-tyva 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
"переработка сырья"~3         | 2026-04-08-zavod
"добыча на шельфе"            | 2026-03-14-sakhalin
"стали известны"              | 2026-03-14-kuzbass 2026-04-08-zavod
"марки стали"                 | 2025-10-15-novokuznetsk 2026-02-26-komsomolsk
"выплавка стали"~2            | 2025-10-15-novokuznetsk 2026-02-18-angaro 2026-02-26-komsomolsk
Верховец                      | 2025-09-01-sfu 2025-10-15-sayano 2025-12-03-norilsk 2026-02-18-angaro 2026-04-08-zavod 2026-06-30-verhovets
Верховца                      | 2025-09-01-sfu 2025-10-15-sayano 2025-12-03-norilsk 2026-02-18-angaro 2026-04-08-zavod 2026-06-30-verhovets
Верховцу                      | 2025-09-01-sfu 2025-10-15-sayano 2025-12-03-norilsk 2026-02-18-angaro 2026-04-08-zavod 2026-06-30-verhovets
Кнорре                        | 2025-09-01-sfu 2025-11-20-nornickel
Шойгу                         | 2026-02-10-tyva
Ласточкину                    | 2025-10-15-novokuznetsk 2026-04-08-ii
ИИ                            | 2026-04-08-ii
ИНТЦ                          | 2025-09-01-sfu
ГМК                           | 2025-11-20-nornickel 2026-03-14-nornikel
Nornickel                     | 2025-09-01-sfu 2025-11-20-nornickel 2025-12-03-norilsk 2026-03-14-nornikel
Енисейский                    | 2025-11-20-boguchanskiy 2026-02-18-angaro
Ангаро-Енисейский             | 2025-11-20-boguchanskiy 2026-02-18-angaro
научно-технологический        | 2025-09-01-sfu
Амур                          | 2026-02-26-komsomolsk
редкоземов                    | 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
редкозем*                     | 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
никель AND палладий           | 2026-03-14-nornikel
никель И палладий             | 2026-03-14-nornikel
никель OR золото              | 2025-09-18-magadan 2025-10-02-chukotka 2025-12-03-norilsk 2026-01-29-vanino 2026-03-14-nornikel 2026-06-30-verhovets
никель ИЛИ золото             | 2025-09-18-magadan 2025-10-02-chukotka 2025-12-03-norilsk 2026-01-29-vanino 2026-03-14-nornikel 2026-06-30-verhovets
никель NOT Норильск           | 2026-01-29-vanino 2026-03-14-nornikel 2026-06-30-verhovets
никель НЕ Норильск            | 2026-01-29-vanino 2026-03-14-nornikel 2026-06-30-verhovets
никель -Норильск              | 2026-01-29-vanino 2026-03-14-nornikel 2026-06-30-verhovets
(никель OR золото) AND Чукотка | 2025-10-02-chukotka
title:никель                  | 2026-03-14-nornikel
date:2025-11-01..2025-11-30   | 2025-11-05-amurskiy 2025-11-20-boguchanskiy 2025-11-20-nornickel
date:2026-03 Кузбасс          | 2026-03-14-kuzbass
"""

# query -> the articles that must come first, in this order
RANKED = """
редкоземельные металлы        | 2026-03-14-tomtor 2026-04-08-zavod 2026-04-21-ulan
сталь                         | 2025-10-15-novokuznetsk 2026-02-26-komsomolsk
выплавка стали                | 2025-10-15-novokuznetsk 2026-02-26-komsomolsk
"""


def _table(text):
    for line in text.strip().splitlines():
        query, _, names = line.rpartition("|")
        yield query.strip(), names.split()


def _names(hits):
    return [next(n for n in _ARTICLES if hit.id.split("/")[-1].startswith(n)) for hit in hits]


_ARTICLES = sorted({n for _, names in _table(MATCHES + RANKED) for n in names},
                   key=len, reverse=True)


@pytest.mark.parametrize("query, expected", list(_table(MATCHES)), ids=lambda v: str(v))
def test_query_matches(sample_index, query, expected):
    result = sample_index.search(query, limit=50, snippets=False)
    assert sorted(_names(result.hits)) == sorted(expected)
    assert result.total == len(expected)


@pytest.mark.parametrize("query, expected", list(_table(RANKED)), ids=lambda v: str(v))
def test_query_ranks_first(sample_index, query, expected):
    result = sample_index.search(query, limit=len(expected), snippets=False)
    assert sorted(_names(result.hits)) == sorted(expected)


def test_exact_forms_are_checked_in_the_text_not_stored_in_the_index(sample_index_dir):
    from indexer.storage import open_whoosh_index

    with open_whoosh_index(sample_index_dir).reader() as reader:
        terms = [text for field in ("headline", "lead", "body")
                 for text in reader.field_terms(field)]
    assert "металл" in terms and not [t for t in terms if t.startswith("=")]


@pytest.mark.parametrize("query", ["анна погорилая", '"анна погорилая"'])
def test_phrases_and_proximity_with_a_word_of_three_lemmas(tmp_path, query):
    articles = [Article(id="a", headline="Фигуристка", body="Анна Погорилая выступила в Москве."),
                Article(id="b", headline="Анна", body="Другая новость.")]
    index_articles(articles, tmp_path / "ix")
    with open_index(tmp_path / "ix") as index:
        assert [hit.id for hit in index.search(query).hits][:1] == ["a"]


def test_multi_word_queries_rank_articles_with_all_words_first(sample_index):
    hits = sample_index.search("редкоземельные металлы", limit=50, snippets=False).hits
    with_both = {"2026-03-14-tomtor", "2026-04-08-zavod", "2026-04-21-ulan"}
    assert set(_names(hits[:3])) == with_both
    assert len(hits) > 3  # articles with only one of the words still come after


def test_source_field_and_everything(sample_index):
    assert sample_index.search("source:dv-vedomosti", limit=50).total == 10
    assert sample_index.search("*", limit=50).total == 30


def test_filters_and_date_sort(sample_index):
    result = sample_index.search("уголь", since="2025-12-01", until=datetime.date(2026, 6, 30),
                                 sort="date", limit=50, snippets=False)
    dates = [hit.date for hit in result.hits]
    assert dates == sorted(dates, reverse=True)
    assert all(datetime.date(2025, 12, 1) <= d <= datetime.date(2026, 6, 30) for d in dates)
    assert result.total == len(dates) > 0
    only_dv = sample_index.search("уголь", source="dv-vedomosti", limit=50, snippets=False)
    assert {hit.source for hit in only_dv.hits} == {"dv-vedomosti"}


def test_paging_returns_consecutive_slices(sample_index):
    everything = sample_index.search("*", limit=30, snippets=False, sort="date").hits
    page = sample_index.search("*", limit=7, offset=7, snippets=False, sort="date")
    assert [h.id for h in page.hits] == [h.id for h in everything[7:14]]
    assert page.total == 30 and page.offset == 7


def test_hits_are_typed_and_frozen(sample_index):
    result = sample_index.search("никель", limit=1)
    assert isinstance(result, SearchResult)
    hit = result.hits[0]
    assert isinstance(hit, Hit) and isinstance(hit.date, datetime.date)
    with pytest.raises(AttributeError):
        hit.score = 0  # frozen dataclass


@pytest.mark.parametrize("query", ["", "   ", "на и в", "(((", '"', "!!! ???", "NOT", "="])
def test_queries_with_nothing_to_search_get_one_clear_error(sample_index, query):
    with pytest.raises(QuerySyntaxError) as caught:
        sample_index.search(query)
    assert "\n" not in str(caught.value) and str(caught.value)


@pytest.mark.parametrize("query", ['"глубокая переработка', "(никель OR золото", "никель )",
                                   "AND никель", "никель OR", "10:30 никель",
                                   "никель" * 2000, "никель\x00\x07", "nickel никель",
                                   "*никель", "- никель", "никель ~3"])
def test_malformed_queries_are_read_leniently(sample_index, query):
    result = sample_index.search(query, limit=5)
    assert result.total >= 0


def test_bad_dates_are_reported(sample_index):
    with pytest.raises(QuerySyntaxError, match="YYYY-MM-DD"):
        sample_index.search("date:вчера")
    with pytest.raises(PoiskError, match="YYYY-MM-DD"):
        sample_index.search("уголь", since="13.03.2026")


def test_searches_from_many_threads_agree(sample_index):
    expected = [h.id for h in sample_index.search("металл", limit=10, snippets=False).hits]
    outcomes, errors = [], []

    def worker():
        try:
            for _ in range(20):
                outcomes.append([h.id for h in sample_index.search("металл", limit=10).hits])
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(outcomes) == 80 and all(ids == expected for ids in outcomes)


def test_refresh_sees_new_documents(tmp_path):
    from indexer import build_index
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text(" date 2026-01-01 Никель\n\nКомбинат выпустил никель.")
    build_index([folder], tmp_path / "ix")
    with open_index(tmp_path / "ix") as index:
        assert index.search("кобальт").total == 0
        (folder / "b.txt").write_text(" date 2026-01-02 Кобальт\n\nЗавод выпустил кобальт.")
        build_index([folder], tmp_path / "ix")
        index.refresh()
        assert index.search("кобальт").total == 1
        assert index.doc_count == 2
