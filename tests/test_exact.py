"""The exact-form check (search/exact.py): a regular expression confirmed by the analyzer."""

import pytest

from indexer.analysis import find_words
from search.exact import FormCheck


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
