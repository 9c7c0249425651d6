"""Snippets: which words are highlighted (exact spans), where fragments are cut, how they render."""

import pytest

from search.compile import QueryCompiler
from search.query import parse_query
from indexer.analysis import word_spans, word_starts
from search.snippets import (
    Snippet, Span, body_snippets, find_matches, indexed_matches, make_snippets, render)

TEXT = ("Экспорт металлов вырос. Терминал примет поток металлами и концентратами. "
        "Сталь и стали: марки стали. Губернатор Андрей Верховец и Верховцу.")


def _words(text, spans):
    return [text[s.start:s.end] for s in spans]


@pytest.mark.parametrize("terms, words", [
    ({"металл"}, ["металлов", "металлами"]),
    ({"=металлов"}, ["металлов"]),
    ({"сталь"}, ["Сталь", "стали", "стали"]),
    ({"верховец"}, ["Верховец", "Верховцу"]),
    ({"концентрат", "терминал"}, ["Терминал", "концентратами"]),
])
def test_every_matched_form_is_highlighted(analyzer, terms, words):
    assert _words(TEXT, find_matches(TEXT, analyzer, terms)) == words


@pytest.mark.parametrize("query", ["металл", "редкоземельные металлы", "Ангаро-Енисейский",
                                   "енисейский", "Верховца", "стали", "ИИ", "Улан-Удэ", "1,5"])
def test_words_read_back_from_the_index_are_the_words_the_analyzer_finds(
        sample_index, analyzer, query):
    terms = QueryCompiler(analyzer).compile(parse_query(query)).terms
    reader = sample_index._searcher().reader()
    found = 0
    for docnum in reader.all_doc_ids():
        stored = reader.stored_fields(docnum)
        for field in ("headline", "body"):
            spans = indexed_matches(reader, docnum, field, stored[field], terms)
            assert spans == find_matches(stored[field], analyzer, terms), (query, stored["id"])
            found += len(spans)
    assert found > 0


def test_highlight_offsets_are_exact(analyzer):
    spans = find_matches(TEXT, analyzer, {"металл"})
    assert spans == [Span(8, 16), Span(46, 55)]
    assert [TEXT[8:16], TEXT[46:55]] == ["металлов", "металлами"]


def test_prefixes_highlight_lemmas_not_exact_forms(analyzer):
    text = "Редкоземельные металлы и редкоземы"
    assert _words(text, find_matches(text, analyzer, set(), {"редкозем"})) == [
        "Редкоземельные", "редкоземы"]


def test_compound_parts_highlight_the_whole_word(analyzer):
    text = "в Ангаро-Енисейском кластере"
    assert _words(text, find_matches(text, analyzer, {"енисейский"})) == ["Ангаро-Енисейском"]


def test_search_hits_carry_snippets_with_spans_into_the_body(sample_index):
    hit = sample_index.search("=металлу", limit=1).hits[0]
    body = sample_index.get(hit.id).body
    (snippet,) = hit.snippets
    assert snippet.text == body[snippet.start:snippet.end]
    assert [body[h.start:h.end] for h in snippet.highlights] == ["металлу"]


def test_headline_highlights(sample_index):
    hit = sample_index.search("никель", limit=1).hits[0]
    assert hit.headline == "Норильский комбинат нарастил выпуск никеля"
    assert [hit.headline[s.start:s.end] for s in hit.headline_highlights] == ["никеля"]


def test_fragments_are_cut_at_word_boundaries_and_limited_to_three():
    words = [f"слово{i}" for i in range(400)]
    text = " ".join(words)
    matches = [Span(text.index(w), text.index(w) + len(w)) for w in words[::40]]
    snippets = make_snippets(text, matches)
    assert len(snippets) == 3  # matches all over: the limit of three applies
    for snippet in snippets:
        assert snippet.start == 0 or text[snippet.start - 1] == " "
        assert snippet.end == len(text) or text[snippet.end] == " "
        assert all(snippet.start <= h.start < h.end <= snippet.end for h in snippet.highlights)


def test_fragments_prefer_more_distinct_words():
    text = ("никель " + "вода " * 80 + "никель и кобальт вместе " + "вода " * 80)
    start = text.index("никель и кобальт")
    matches = [Span(0, 6), Span(start, start + 6),
               Span(start + 9, start + 16)]
    best = make_snippets(text, matches, max_fragments=1)[0]
    assert "никель и кобальт" in best.text


def test_no_match_gives_the_start_of_the_text():
    (snippet,) = make_snippets("Первое предложение. " * 30, [])
    assert snippet.start == 0 and snippet.text.startswith("Первое") and not snippet.highlights


def test_long_articles_are_handled(analyzer):
    text = ("Руда поступает на фабрику. " * 2500) + "Выпуск никеля вырос."
    assert len(text) > 50_000
    spans = find_matches(text, analyzer, {"никель"})
    snippets = make_snippets(text, spans)
    assert [s.marked() for s in snippets][0].endswith("Выпуск [никеля] вырос.")


@pytest.mark.parametrize("style, expected", [
    ("plain", "Выпуск [никеля] & <меди>"),
    ("ansi", "Выпуск \x1b[1;33mникеля\x1b[0m & <меди>"),
    ("html", "Выпуск <mark>никеля</mark> &amp; &lt;меди&gt;"),
])
def test_render_styles(style, expected):
    snippet = Snippet(10, 34, "Выпуск никеля & <меди>", (Span(17, 23),))
    assert render((snippet,), style) == expected


def test_render_joins_fragments():
    first = Snippet(0, 6, "Никель", (Span(0, 6),))
    second = Snippet(100, 106, "кобальт"[:6], ())
    assert render((first, second), "plain") == "[Никель] … кобаль"


@pytest.mark.parametrize("headline, body, first_snippet", [
    # Telegram posts: the headline is the body's first line, so the snippet starts after it.
    ("Посол скончался.", "Посол скончался.\nВрачи не успели помочь.", "Врачи не успели помочь."),
    ("Посол скончался.", "Посол скончался. Врачи не успели.", "Врачи не успели."),
    # Not a repeat: a longer first word, another headline, a body that is only the headline.
    ("Посол", "Посольство закрыто.", "Посольство закрыто."),
    ("Рост добычи", "Посол скончался.", "Посол скончался."),
    ("Посол скончался.", "Посол скончался.", "Посол скончался."),
])
def test_a_body_that_repeats_its_headline_is_shown_from_after_it(headline, body, first_snippet):
    assert body_snippets(headline, body, [])[0].text == first_snippet


def test_matches_in_a_repeated_headline_line_are_left_to_the_headline(analyzer):
    headline = "Никель подорожал."
    body = headline + "\nЦены на никель выросли."
    (snippet,) = body_snippets(headline, body, find_matches(body, analyzer, {"никель"}))
    assert snippet.marked() == "Цены на [никель] выросли."


def test_stored_word_starts_give_the_spans_tokenizing_gives(sample_index):
    reader = sample_index._searcher().reader()
    checked = 0
    for docnum in reader.all_doc_ids():
        stored = reader.stored_fields(docnum)
        body = stored["body"]
        positions = set(range(0, len(body), 7))  # past the last word as well
        assert word_spans(body, positions, stored["word_starts"]) == word_spans(body, positions)
        checked += 1
    assert checked == 30


def test_word_starts_of_a_text_with_a_huge_gap_are_not_stored():
    assert word_starts("а" + " " * 70_000 + "б") is None
    assert word_spans("а" + " " * 70_000 + "б", {1}) == [(70_001, 70_002)]


def test_an_index_made_before_word_starts_takes_new_articles_and_highlights_them(tmp_path):
    from indexer import build_index
    from indexer.storage import create_index, make_schema
    from search import open_index

    schema = make_schema()
    schema.remove("word_starts")
    create_index(tmp_path / "ix", schema)
    (tmp_path / "a.txt").write_text(" date 2026-03-14 Рост\n\nКомбинат нарастил выпуск металлов.",
                                    encoding="utf-8")
    assert build_index([tmp_path / "a.txt"], tmp_path / "ix").added == 1
    with open_index(tmp_path / "ix") as index:
        (hit,) = index.search("металл").hits
        assert [s.marked() for s in hit.snippets] == ["Комбинат нарастил выпуск [металлов]."]
