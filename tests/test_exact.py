"""The exact-form check (search/exact.py): a regular expression confirmed by the analyzer."""

import json
import random

import pytest
from click.testing import CliRunner

from indexer import build_index
from indexer.analysis import find_words
from search import open_index
from search.cli import cli
from search.compile import QueryCompiler
from search.exact import FormCheck
from search.query import parse_query


@pytest.mark.parametrize("required, text, expected", [
    ([{"=санкций"}], "Новых САНКЦИЙ не будет", True),
    ([{"=санкций"}], "санкции введены", False),
    ([{"=санкций"}], "антисанкций", False),             # inside a longer word
    ([{"=санкций"}], "анти-санкций", True),             # a part of a compound has its own form
    ([{"=санкций"}], "санкций2", False),                # digits make one word with letters
    ([{"=елка"}], "Ёлка в Кремле", True),               # ё is е
    ([{"=5"}], "рост на 1,5 процента", False),          # a decimal number is one word
    ([{"=5"}], "рост на 5 процентов", True),
    ([{"=новых"}, {"=санкций"}], "новых санкций", True),
    ([{"=новых"}, {"=санкций"}], "новых мер", False),
    ([{"=металлов", "=металлы"}], "цены металлы", True),  # one form of the set is enough
    ([{"=санкций"}], "", False),
])
def test_form_check(analyzer, required, text, expected):
    assert FormCheck(required, analyzer)(text) is expected


def test_forms_in_several_texts_add_up(analyzer):
    check = FormCheck([{"=новых"}, {"=санкций"}], analyzer)
    assert check("Новых мер", "против санкций") and not check("Новых мер", "против мер")


@pytest.mark.parametrize("form", ["=металлов", "=никеля", "=стали", "=рф", "=2026", "=улан",
                                  "=енисейском", "=верховца"])
def test_the_check_decides_as_the_analyzer_over_every_sample_article(
        sample_index, analyzer, form):
    check, decided = FormCheck([{form}], analyzer), 0
    reader = sample_index._searcher().reader()
    for docnum in reader.all_doc_ids():
        stored = reader.stored_fields(docnum)
        for text in (stored["headline"], stored["body"]):
            by_analyzer = bool(find_words(
                analyzer, text, lambda terms: any(t == form for t, *_ in terms)))
            assert check(text) is by_analyzer, (form, stored["id"])
            decided += by_analyzer
    assert decided > 0


# -- =form queries on an index: only the candidates that can reach the page are checked --

FORMS = ["санкций", "санкции", "санкциям", "санкциями"]
ARTICLES = 300


def _article(n, rng):
    """An article of made-up text naming санкция in one form, 1-4 times; some name нефть."""
    form, times = rng.choice(FORMS), rng.randint(1, 4)
    words = [f"{form} номер{n}"] * times + ["рынок", "цены"] * rng.randint(1, 3)
    if n % 5 == 0:
        words.append("нефть")
    headline = f"Сводка {n}" + (" новых санкций" if n % 7 == 0 else "")
    return {"id": f"a{n}", "title": headline, "text": " ".join(words) + ".",
            "date": f"2025-{n % 12 + 1:02d}-{n % 28 + 1:02d}", "source": "test"}


@pytest.fixture(scope="module")
def forms_index(tmp_path_factory):
    """300 articles, a third or so with the form "санкций": more candidates than a page."""
    folder = tmp_path_factory.mktemp("forms")
    rng = random.Random(14)
    articles = [_article(n, rng) for n in range(ARTICLES)]
    (folder / "a.jsonl").write_text("".join(json.dumps(a, ensure_ascii=False) + "\n"
                                            for a in articles), encoding="utf-8")
    assert build_index([folder / "a.jsonl"], folder / "ix", workers=0).added == ARTICLES
    with open_index(folder / "ix") as index:
        yield index, {a["id"]: a for a in articles}


def _having(articles, word, *fields):
    return {i for i, a in articles.items() if any(word in a[f] for f in fields)}


def _ids(index, query, **options):
    result = index.search(query, group=False, snippets=False, synonyms=False,
                          corrections=False, **options)
    return result, [hit.id for hit in result.hits]


def _every_candidate_checked_first(index, query, sort="relevance", offset=0, limit=10):
    """(total, ids) as before: every candidate's text checked before ranking."""
    searcher = index._searcher()
    tree, _, _ = index._rewrite(parse_query(query), (), synonyms=False, corrections=False)
    compiled = QueryCompiler(index.analyzer, index.ranking, searcher.reader()).compile(tree)
    total, page = index._page(searcher, compiled.query, sort, offset, limit, False, [])
    return total, [searcher.stored_fields(story.docnum)["id"] for story in page]


@pytest.mark.parametrize("query, lemma_query, fields", [
    ("=санкций", "санкции", ("title", "text")), ("body:=санкций", "body:санкции", ("text",)),
    ("title:=санкций", "title:санкции", ("title",)),
])
@pytest.mark.parametrize("offset", [0, 30])
def test_a_form_finds_the_lemmas_hits_that_have_it_in_their_order(forms_index, query, lemma_query,
                                                                  fields, offset):
    index, articles = forms_index
    _, lemma_ids = _ids(index, lemma_query, limit=ARTICLES)
    expected = [i for i in lemma_ids if i in _having(articles, "санкций", *fields)]
    result, ids = _ids(index, query, offset=offset)
    assert ids == expected[offset:offset + 10] and ids


@pytest.mark.parametrize("query", ["=санкций", "=санкций OR нефть", "=санкций нефть",
                                   '"=новых =санкций"', "title:=санкций", "=санкций -нефть"])
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_the_page_is_the_one_of_checking_every_candidate_first(forms_index, query, sort):
    index, _ = forms_index
    for offset in (0, 25):
        total, expected = _every_candidate_checked_first(index, query, sort, offset)
        result, ids = _ids(index, query, sort=sort, offset=offset)
        assert ids == expected
        assert result.total == total or result.total_estimated


def test_the_total_is_exact_when_every_candidate_was_checked(forms_index):
    index, articles = forms_index
    result, ids = _ids(index, "=санкций", limit=ARTICLES)
    with_form = _having(articles, "санкций", "title", "text")
    assert not result.total_estimated
    assert result.total == len(with_form) and set(ids) == with_form


def test_the_total_of_many_candidates_is_an_estimate_and_says_so(forms_index):
    index, articles = forms_index
    result, _ = _ids(index, "=санкций")
    with_form = _having(articles, "санкций", "title", "text")
    assert result.total_estimated
    # From a sample of search.exact.SAMPLE of the ~280 unchecked candidates (a third
    # of them with the form): one standard deviation is about 20 articles.
    assert 0.5 * len(with_form) <= result.total <= 1.5 * len(with_form)
    few, _ = _ids(index, "=санкций AND нефть")  # 60 candidates: all checked
    assert not few.total_estimated


def test_an_excluded_form_excludes_exactly_the_articles_with_it(forms_index):
    index, articles = forms_index
    result, ids = _ids(index, "нефть -=санкций", limit=ARTICLES)
    expected = _having(articles, "нефть", "text") - _having(articles, "санкций", "title", "text")
    assert set(ids) == expected and result.total == len(ids)
    assert not result.total_estimated


def test_an_estimated_total_says_about_on_the_command_line(forms_index):
    index, _ = forms_index
    result = CliRunner().invoke(cli, ["search", "=санкций", "--index", index.path, "--format",
                                      "compact", "--no-pager"])
    assert result.exit_code == 0 and result.stdout.startswith("about ")
    summary = json.loads(CliRunner().invoke(cli, ["search", "=санкций", "--index", index.path,
                                                  "--json"]).stdout.splitlines()[-1])
    assert summary["summary"]["total_estimated"] is True
