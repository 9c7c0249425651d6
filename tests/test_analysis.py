"""The analyzer's expectations as a table: surface form -> lemmas | compound parts."""

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis import WORD_RE, MorphFilter, analyze, normal_word, russian_analyzer

# surface -> lemmas (kind "lemma") | lemmas of the compound's parts (kind "part")
# An empty right side means a stop word: no terms at all.
TABLE = """
# inflection: every form meets its lemma
металлов                  -> металл
металлами                 -> металл
металлу                   -> металл
редкоземельных            -> редкоземельный
редкоземельными           -> редкоземельный
редкоземельные            -> редкоземельный
переработки               -> переработка
глубокой                  -> глубокий
выплавку                  -> выплавка
месторождений             -> месторождение
добычу                    -> добыча
шельфе                    -> шельф
нарастил                  -> нарастить
построят                  -> построить
алюминия                  -> алюминий
# ё is folded to е, in the text and in pymorphy3's normal forms
ещё                       -> еще
отчёт                     -> отчет
сырьё                     -> сырье
редкоземов                -> редкозем
электролизёры             -> электролизер
# homonyms keep every plausible lemma at the same position
стали                     -> стать сталь
Стали                     -> стать сталь
сталь                     -> сталь
сталью                    -> сталь
мыла                      -> мыло мыть
# surnames and names meet their own forms (pymorphy3's top parse of Верховец is верховца)
Верховец                  -> верховец верховца
Верховца                  -> верховец верховца
Верховцу                  -> верховец верховца
Верховцом                 -> верховец
Шойгу                     -> шойгу
Сидоренко                 -> сидоренко
Кнорре                    -> кнорра
Ласточкина                -> ласточкин
Ласточкину                -> ласточкин
Красноярске               -> красноярск
Кузбассе                  -> кузбасс
Якутии                    -> якутия
# hyphenated compounds: the whole word and each part
научно-технологического   -> научно-технологический | научно научный технологический
Ангаро-Енисейском         -> ангаро-енисейский ангаро-енисейск | ангаро енисейский енисейск
Горно-металлургическая    -> горно-металлургический | горный металлургический
Улан-Удэ                  -> улан-удэ | улан удэ
Комсомольск-на-Амуре      -> комсомольск-на-амуре | комсомольск амур
ТЭЦ-3                     -> тэц-3 | тэц 3
# acronyms stay themselves; shouted long words are still lemmatized
РФ                        -> рф
СФУ                       -> сфу
ИНТЦ                      -> интц
ГМК                       -> гмк
ИИ                        -> ии
ГЭС                       -> гэс
ДФО                       -> дфо
МВт                       -> мвт
КРАСНОЯРСК                -> красноярск
# Latin words and numbers as written
Nornickel                 -> nornickel
Rusal                     -> rusal
2027                      -> 2027
1,5                       -> 1.5
3.2                       -> 3.2
# stop words: no terms (their positions stay, see below)
на                        ->
в                         ->
и                         ->
И                         ->
которые                   ->
Это                       ->
"""


def _rows():
    for line in TABLE.strip().splitlines():
        if line.startswith("#"):
            continue
        surface, _, right = (part.strip() for part in line.partition("->"))
        lemmas, _, parts = right.partition("|")
        yield surface, set(lemmas.split()), set(parts.split())


ROWS = list(_rows())


def test_table_is_large_enough():
    assert len(ROWS) >= 60


@pytest.mark.parametrize("surface, lemmas, parts", ROWS, ids=[r[0] for r in ROWS])
def test_word_terms(analyzer, surface, lemmas, parts):
    terms = analyze(surface, analyzer)
    assert {text for _, kind, text in terms if kind == "lemma"} == lemmas
    assert {text for _, kind, text in terms if kind == "part"} == parts
    exact = {text for _, kind, text in terms if kind == "exact"}
    if lemmas:
        assert "=" + normal_word(surface) in exact
    else:
        assert terms == []


def test_all_terms_of_a_word_share_its_position(analyzer):
    terms = analyze("ангаро-енисейском кластере", analyzer)
    assert {pos for pos, _, text in terms if text != "кластер" and "кластере" not in text} == {0}
    assert (1, "lemma", "кластер") in terms


def test_stop_words_keep_their_positions(analyzer):
    positions = {text: pos for pos, kind, text in analyze("добыча на шельфе Сахалина", analyzer)
                 if kind == "lemma"}
    assert positions == {"добыча": 0, "шельф": 2, "сахалин": 3}


def test_offsets_point_at_the_original_words(analyzer):
    text = "Выпуск  редкоземельных металлов, ещё 1,5 млн"
    words = {t.text: text[t.startchar:t.endchar] for t in analyzer(text, chars=True)
             if t.kind == "lemma"}
    assert words == {"выпуск": "Выпуск", "редкоземельный": "редкоземельных",
                     "металл": "металлов", "еще": "ещё", "1.5": "1,5", "млн": "млн"}


def test_dashes_separate_words_hyphens_join_them(analyzer):
    lemmas = [text for _, kind, text in analyze("уголь — газ – нефть-газ", analyzer)
              if kind == "lemma"]
    assert lemmas == ["уголь", "газ", "нефть-газ"]


# The word pattern as first written (one character at a time); WORD_RE is its faster
# spelling and must find the same words.
_LETTERS_AS_WRITTEN = r"[^\W_](?:[^\W_]|[\u0300-\u036f])*"
WORD_AS_WRITTEN = re.compile(
    rf"\d+(?:[.,]\d+)+|{_LETTERS_AS_WRITTEN}(?:[-\u2010\u2011]{_LETTERS_AS_WRITTEN})*")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="аЯё1,.-\u2010\u2011\u0301\u0306_ «»\nx5", max_size=40))
def test_word_pattern_finds_the_words_of_the_pattern_as_written(text):
    assert [m.span() for m in WORD_RE.finditer(text)] == \
        [m.span() for m in WORD_AS_WRITTEN.finditer(text)]


def test_least_likely_lemmas_carry_lower_weight(analyzer):
    weights = {t.text: t.weight for t in analyzer("стали") if t.kind == "lemma"}
    assert weights["стать"] == 1.0
    assert 0 < weights["сталь"] < 0.1


def test_filter_pickles_without_its_cache_or_the_morph_analyzer():
    morph_filter = MorphFilter()
    morph_filter.terms("металлов")
    restored = pickle.loads(pickle.dumps(morph_filter))
    assert restored._cache == {}
    assert restored == morph_filter
    assert restored.terms("металлов")[0] == ("металл", "lemma", 1.0, 0)
    assert len(pickle.dumps(morph_filter)) < 500


def test_the_same_analyzer_object_serves_every_field(sample_index):
    schema = sample_index.schema
    assert schema["headline"].analyzer is schema["body"].analyzer
    assert sample_index.analyzer is schema["body"].analyzer


def test_analyzer_is_picklable_inside_a_schema():
    analyzer = russian_analyzer()
    restored = pickle.loads(pickle.dumps(analyzer))
    assert [t.text for t in restored("металлов")] == ["металл", "=металлов"]


def test_the_analyzer_uses_the_dictionary_pymorphy3_would_find():
    """morph_analyzer names the dictionary's folder rather than letting pymorphy3 search the
    installed packages' entry points; the folder must be the one that search finds."""
    from pymorphy3.analyzer import lang_dict_path

    from indexer.analysis import morph_analyzer

    assert morph_analyzer().dictionary.path == lang_dict_path("ru")
    assert morph_analyzer().lang == "ru"


def test_a_word_in_use_survives_a_full_cache():
    """The filter's caches keep recently used spellings when they fill up (``Recent``):
    "сталь", used all along, is analysed once; it was analysed again after each clearing."""
    morph = MorphFilter(cache_size=4)
    analysed = []
    original = morph._analyze
    morph._analyze = lambda surface: analysed.append(surface) or original(surface)
    for word in ("сталь медь никель уголь сталь нефть газ сталь руда лес сталь "
                 "песок глина сталь").split():
        assert morph.terms(word)[0][0] == word
    assert analysed.count("сталь") == 1
    assert len(morph._cache) + len(morph._cache.older) <= 2 * 4
