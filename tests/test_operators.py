"""Operators and filters that hold: each bug seen on the mixed index, pinned on a small one.

A small news index is built once (articles named by their id); every table
row is a query and what must hold of its hits, compared with plain searches.
"""

import datetime
import json

import pytest
from click.testing import CliRunner

from indexer.build import index_articles
from indexer.sources import Article
from search import PoiskError, QuerySyntaxError, open_index
from search.cli import cli

# id, source, tags, date, headline, body. The order matters: Whoosh's own
# AndNot let a segment's first positive document through when the negative
# word's postings started before it ("t1" is first for Трамп, "pt1" for both).
ARTICLES = [
    ("t1", "mash", "сша", "2026-01-05", "Трамп выступил", "Трамп выступил в Огайо."),
    ("pt1", "mash", "сша,политика", "2026-01-06", "Переговоры", "Путин и Трамп говорили час."),
    ("p1", "rbc", "россия", "2026-01-07", "Путин в Сочи", "Путин провёл совещание в Сочи."),
    ("p2", "mash", "россия", "2026-02-01", "ДТП в Москве", "Путину доложили о ДТП на МКАД."),
    ("d1", "mash", "дтп", "2026-02-02", "ДТП на трассе", "Авария: ДТП с тремя машинами."),
    ("d2", "rbc", "дтп", "2026-02-03", "Снова ДТП", "ДТП в центре Москвы, пострадавших нет."),
    ("d3", "Москва Live", "дтп", "2026-02-04", "ДТП у Кремля", "ДТП произошло у Кремля."),
    ("n1", "rbc", "нефть,экономика", "2026-03-01", "Нефть дорожает",
     "Нефть марки Brent подорожала, газ подешевел."),
    ("n2", "interfax", "нефть", "2026-03-02", "Добыча нефти", "Добыча нефти выросла на 2%."),
    ("g1", "interfax", "газ", "2026-03-03", "Газопровод", "Газа по газопроводу прошло больше."),
    ("s1", "interfax", "металлургия", "2026-03-04", "Выплавка стали",
     "Выплавка стали на комбинате выросла."),
    ("s2", "rbc", "общество", "2026-03-05", "Россияне стали", "Россияне стали чаще ездить в отпуск."),
]


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    path = tmp_path_factory.mktemp("operators") / "ix"
    articles = [Article(id=i, headline=h, body=b, source=s, tags=tuple(t.split(",")),
                        date=datetime.date.fromisoformat(d))
                for i, s, t, d, h, b in ARTICLES]
    index_articles(articles, path, workers=0)
    with open_index(path) as index:
        yield index


def ids(index, query, **filters):
    return {hit.id for hit in index.search(query, limit=100, snippets=False, **filters).hits}


def ranked(index, query, **filters):
    return [hit.id for hit in index.search(query, limit=100, snippets=False, **filters).hits]


# query with an exclusion | the positive query | the excluded query: hits = positive - excluded
EXCLUSIONS = """
Путин -Трамп               | Путин              | Трамп
Путин НЕ Трамп             | Путин              | Трамп
Путин NOT Трамп            | Путин              | Трамп
Путин AND -Трамп           | Путин              | Трамп
Путин AND NOT Трамп        | Путин              | Трамп
нефть -газ                 | нефть              | газ
(нефть OR Путин) -газ      | нефть OR Путин     | газ
ДТП -(Путин OR Москва)     | ДТП                | Путин OR Москва
ДТП -"в центре"            | ДТП                | "в центре"
-Трамп Путин               | Путин              | Трамп
сталь -стали               | сталь              | стали
ДТП -source:rbc            | ДТП                | source:rbc
(Путин -Трамп) OR нефть    | Путин OR нефть     | Трамп
Путин -title:Путин         | Путин              | title:Путин
"""


def _rows(text):
    for line in text.strip().splitlines():
        yield tuple(cell.strip() for cell in line.split("|"))


@pytest.mark.parametrize("query, positive, excluded", list(_rows(EXCLUSIONS)))
def test_an_exclusion_removes_every_article_the_excluded_query_finds(news, query, positive,
                                                                     excluded):
    if query.startswith("(Путин -Трамп)"):  # the exclusion holds inside its group only
        expected = (ids(news, "Путин") - ids(news, "Трамп")) | ids(news, "нефть")
    else:
        expected = ids(news, positive) - ids(news, excluded)
    assert ids(news, excluded) & ids(news, positive)  # the row tests a real exclusion
    assert ids(news, query) == expected


def test_and_not_is_the_same_query_as_minus(news):
    assert ranked(news, "Путин AND -Трамп") == ranked(news, "Путин -Трамп") == ["p1", "p2"]
    assert news.search("Путин AND -Трамп").total == news.search("Путин -Трамп").total == 2


# query | the hits (every one of them)
FILTERS = """
source:mash ДТП              | p2 d1
ДТП source:Mash              | p2 d1
ДТП источник:mash            | p2 d1
source:mash source:rbc ДТП   | p2 d1 d2
(source:mash OR source:rbc) ДТП | p2 d1 d2
Путин tag:сша                | pt1
Путин тег:политика           | pt1
tag:нефть tag:экономика      | n1
tag:(нефть OR газ)           | n1 n2 g1
Путин date:2026-01           | pt1 p1
ДТП date:2026-02-02..        | d1 d2 d3
ДТП source:"москва live"     | d3
source:"Москва Live"         | d3
source:mash                  | t1 pt1 p2 d1
title:(нефть OR газ)         | n1 n2
title:нефть OR title:газ     | n1 n2
title:(Путин -Сочи)          |
title:"выплавка стали"       | s1
ДТП AND source:rbc           | d2
"""


@pytest.mark.parametrize("query, expected", list(_rows(FILTERS)))
def test_fields_filter(news, query, expected):
    assert ids(news, query) == set(expected.split())


def test_a_filter_does_not_score(news):
    plain = news.search("ДТП", limit=100, snippets=False)
    filtered = news.search("ДТП source:mash", limit=100, snippets=False)
    scores = {hit.id: hit.score for hit in plain.hits}
    assert [(h.id, h.score) for h in filtered.hits] == [
        (h.id, scores[h.id]) for h in plain.hits if h.source == "mash"]


# API arguments | the same filter written in the query
API_FILTERS = [
    ({"source": "Mash"}, "source:mash"),
    ({"source": "Москва LIVE"}, 'source:"москва live"'),
    ({"source": ["mash", "rbc"]}, "source:mash source:rbc"),
    ({"tags": "дтп"}, "tag:дтп"),  # a string is one tag, not letters
    ({"tags": ["нефть", "экономика"]}, "tag:нефть tag:экономика"),
    ({"since": "2026-02-02"}, "date:2026-02-02.."),
    ({"since": datetime.date(2026, 1, 1), "until": "2026-01"}, "date:2026-01"),
    ({"source": "rbc", "tags": ("дтп",), "until": "2026-12-31"},
     "source:rbc tag:дтп date:..2026-12-31"),
]


@pytest.mark.parametrize("options, in_query", API_FILTERS)
@pytest.mark.parametrize("words", ["ДТП", "Путин OR нефть", "*"])
def test_api_filters_are_the_query_filters(news, options, in_query, words):
    through_api = news.search(words, limit=100, snippets=False, **options)
    in_words = news.search(f"({words}) {in_query}", limit=100, snippets=False)
    assert [(h.id, h.score) for h in through_api.hits] == [(h.id, h.score) for h in in_words.hits]
    assert through_api.total == in_words.total


def test_repeated_cli_options_mean_any_source_and_all_tags(news):
    def cli_ids(*options):
        result = CliRunner().invoke(cli, ["search", "--index", news.path, "--json", "*",
                                          "--limit", "100", *options])
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.output.splitlines()]
        return {record["id"] for record in records if "rank" in record}

    assert cli_ids("--source", "mash", "--source", "interfax") == ids(news, "source:mash") | ids(
        news, "source:interfax") == {"t1", "pt1", "p2", "d1", "n2", "g1", "s1"}
    assert cli_ids("--tag", "нефть", "--tag", "экономика") == {"n1"}
    assert cli_ids("--tag", "нефть") == {"n1", "n2"}


@pytest.mark.parametrize("query", ["sourse:mash", "ДТП тэг:сша", "title:нефть автор:иванов"])
def test_an_unknown_field_is_an_error_listing_the_known_ones(news, query):
    with pytest.raises(QuerySyntaxError, match=r"unknown field '[^']+:': the fields are "
                                               r"title:, .*source:, .*tag:, .*date:"):
        news.search(query)


@pytest.mark.parametrize("query", ["10:30 ДТП", "ДТП:", "https://mash.ru ДТП"])
def test_colons_that_are_not_fields_stay_words(news, query):
    assert "d1" in ids(news, query)


def test_a_bad_filter_argument_is_one_clear_error(news):
    with pytest.raises(PoiskError, match="YYYY-MM-DD"):
        news.search("ДТП", since="вчера")
