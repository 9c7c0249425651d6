"""The ranking rules of the README, each as a table: a small index, a query, the order it must give."""

import ast

import pytest

from indexer.build import index_articles
from indexer.sources import Article
from search import Ranking, open_index

LONG = " ".join(["Сибирские предприятия отчитались о работе за квартал."] * 12)

# id, headline, body. "all*" hold every word of their query once in a long
# body; "one*" repeat one word in a short post, which BM25 alone ranks higher.
ARTICLES = [
    ("all2", "Итоги квартала", LONG + " Завод начал глубокую переработку. " + LONG),
    ("one2a", "Переработка", "Переработка, переработка и ещё раз переработка."),
    ("one2b", "Глубокая яма", "Глубокая, очень глубокая яма."),
    ("all3", "Итоги года", LONG + " Комбинат выпустил никель и палладий для экспорта. " + LONG),
    ("two3", "Никель и палладий", "Никель и палладий подорожали. Никель, палладий."),
    ("all4", "Итоги месяца", LONG + " Норильский комбинат: медь, никель, палладий. " + LONG),
    ("three4", "Медь никель палладий", "Медь, никель и палладий снова в цене: медь, никель."),
]

# query | the articles that must come first, in any order among themselves
FIRST = """
глубокая переработка          | all2
никель палладий экспорт       | all3
медь никель палладий норильский | all4
"""


def _indexed(tmp_path_factory, name, rows):
    """A new index of (id, headline, body) rows, written in this process."""
    path = tmp_path_factory.mktemp(name) / "ix"
    index_articles([Article(id=i, headline=h, body=b) for i, h, b in rows], path, workers=0)
    return path


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    path = _indexed(tmp_path_factory, "ranking", ARTICLES)
    with open_index(path) as opened:
        yield opened


def _rows(text):
    for line in text.strip().splitlines():
        query, _, first = line.partition("|")
        yield query.strip(), first.split()


@pytest.mark.parametrize("query, first", list(_rows(FIRST)))
def test_articles_with_every_word_come_first(index, query, first):
    hits = index.search(query, limit=20, snippets=False).hits
    assert sorted(hit.id for hit in hits[:len(first)]) == sorted(first)
    assert len(hits) > len(first)  # articles with fewer of the words still match


@pytest.mark.parametrize("query, first", list(_rows(FIRST)))
def test_without_the_tier_bm25_alone_would_rank_them_lower(index, query, first):
    # The table is a real test of the rule: the same index with the tier off
    # ranks a short post with fewer words above the article with all of them.
    with open_index(index.path, ranking=Ranking(all_words_max=1)) as plain:
        hits = plain.search(query, limit=20, snippets=False).hits
    assert hits[0].id not in first


def test_then_by_how_many_words_match(index):
    ranked = [hit.id for hit in index.search("медь никель палладий норильский", limit=20,
                                             snippets=False).hits]
    assert ranked[:2] == ["all4", "three4"]  # 4 words, then 3 (and 3 > 2 for "two3")
    assert ranked.index("three4") < ranked.index("two3")


# words in the query | the bonus for a matched word (idf 2.0): a tier, then the soft form
BONUS = [(1, 0.0), (2, 1000.0), (4, 1000.0), (5, 0.12), (12, 0.12)]


@pytest.mark.parametrize("words, bonus", BONUS)
def test_matched_word_bonus_rule(words, bonus):
    assert Ranking().matched_word_bonus(words, idf=2.0) == bonus


def test_a_word_found_nowhere_leaves_the_common_words_searched(index):
    # In a query of three words or more, words in over 10% of the articles only
    # score what the others find; when the others are in no article at all,
    # the common words are searched as usual instead of finding nothing.
    assert index.search("медь никель палладий Зимбабве", snippets=False).total == 4


# text -> its indexed terms: a reading of another part of speech that pymorphy3
# rates under 0.3 of the likeliest is weak ("~"), unless the words around allow
# the noun under a verb ("выплавка стали выросла" keeps "сталь"; see WEAK_SHARE).
WEAK = """
Россияне стали несчастнее     | россиянин стать ~сталь несчастный
В России стали пить           | россия стать ~сталь пить
Стали известны подробности    | стать ~сталь известный подробность
Выплавка стали выросла        | выплавка выплавок стать сталь вырасти
марки стали                   | марка ~маркий стать сталь
Мошенники стали через боты    | мошенник стать ~сталь через бот
Жертвами аварии стали люди    | жертва авария стать ~сталь человек
Игроки стали 12              | игрок стать ~сталь 12
тонн стали в год              | тонна стать сталь год
корпус из стали               | корпус стать сталь
рынок стали и алюминия        | рынок стать сталь алюминий
нержавеющей стали             | нержавеющий стать сталь
крепче стали                  | крепкий стать сталь
разбитые стекла               | разбитый разбить стекло ~стечь
мыла                          | мыло мыть
"""


@pytest.mark.parametrize("text, terms", list(_rows(WEAK)))
def test_unlikely_readings_are_indexed_as_weak_terms(analyzer, text, terms):
    assert [t.text for t in analyzer(text, mode="index")] == terms


@pytest.fixture(scope="module")
def steel(tmp_path_factory):
    path = tmp_path_factory.mktemp("steel") / "ix"
    articles = [
        Article(id="verb1", headline="Россияне стали несчастнее", body="Россияне стали несчастнее."),
        Article(id="verb2", headline="В России стали пить", body="В России стали пить больше."),
        Article(id="steel", headline="Выплавка стали выросла",
                body="Комбинат нарастил выплавку стали на 5%."),
    ]
    index_articles(articles, path, workers=0)
    with open_index(path) as opened:
        yield opened


# query | the article that must come first
STEEL = """
сталь              | steel
стали              | verb1 verb2
"стали несчастнее" | verb1
"""


@pytest.mark.parametrize("query, first", list(_rows(STEEL)))
def test_a_weak_reading_still_matches_but_ranks_below_the_meant_one(steel, query, first):
    hits = steel.search(query, snippets=False).hits
    assert sorted(h.id for h in hits[:len(first)]) == sorted(first)


def test_a_weak_reading_is_found_and_highlighted(steel):
    hits = steel.search("сталь", snippets=True).hits
    assert {h.id for h in hits} == {"verb1", "verb2", "steel"}
    verb = next(h for h in hits if h.id == "verb1")
    assert [verb.headline[s.start:s.end] for s in verb.headline_highlights] == ["стали"]
    assert steel.search("сталь -стали", snippets=False).total == 0


# A query names things: in a query of several words a word whose likeliest
# reading is a verb ("стали" -> стать) is read as its noun (сталь), unless the
# next word makes it the verb; and a word matched only through a weak reading
# (the verb for a meant noun, or a "~сталь" the indexer weighed down) does not
# count as a matched word for the all-words tier.
READINGS = [
    ("steel", "Новости", "Выплавка выросла: сталь дорожает, заводы сталь продают."),
    ("verb", "Новости", "Выплавка упала, заводы стали простаивать."),
    ("prices", "Цены", "Цены стали расти, и покупатели стали экономить."),
    ("skaters", "Российские фигуристы стали призёрами", "Российские фигуристы стали призёрами."),
    ("metal", "Сталь подешевела", "Сталь подешевела: сталь, прокат и снова сталь."),
    ("both", "Итоги квартала", LONG + " Российская сталь подешевела. " + LONG),
    ("other1", "Погода", "Российские синоптики: в Сибири похолодало."),
    ("other2", "Нефть", "Российская нефть подорожала на бирже."),
]

# query | Ranking fields | the article that must come first
READ_FIRST = """
выплавка стали      |                          | steel
стали простаивать   |                          | verb
российская сталь    | weak_matches_count=False | both
"""


@pytest.fixture(scope="module")
def readings(tmp_path_factory):
    return _indexed(tmp_path_factory, "readings", READINGS)


# the same queries with a rule off | the article that would come first
WITHOUT = """
выплавка стали      | nouns_in_queries=False   | verb
российская сталь    | weak_matches_count=True  | skaters
"""


def _table(text):
    return [[part.strip() for part in line.split("|")] for line in text.strip().splitlines()]


def _first(path, query, options):
    fields = {k: ast.literal_eval(v) for k, v in (o.split("=") for o in options.split())}
    with open_index(path, ranking=Ranking(**fields)) as index:
        return index.search(query, snippets=False).hits[0].id


@pytest.mark.parametrize("query, options, first", _table(READ_FIRST))
def test_a_query_word_is_read_by_its_neighbours(readings, query, options, first):
    assert _first(readings, query, options) == first


@pytest.mark.parametrize("query, options, first", _table(WITHOUT))
def test_without_the_reading_rules_another_sense_comes_first(readings, query, options, first):
    assert _first(readings, query, options) == first


# A question (its first word that is not a stop word is a question word: "какой", "кто",
# "сколько" in any form; or it ends with "?") is searched without its question words:
# the answer does not hold them, and the all-words tier would count them.
# "asked" repeats the question's words, "answer" answers it.
QUESTIONS = [
    ("answer", "Указ", "Король подписал указ в 1685 году."),
    ("asked", "Какой указ?", "Какой указ и каким королём?"),
    ("who", "Спорт", "Кто победил? Кем гордятся болельщики? Матч выиграл Зенит, "
                     "а в другом городе прошёл фестиваль уличной музыки."),
    ("winner", "Спорт", "Матч выиграл Зенит."),
]

# query | Ranking fields | the article that must come first
QUESTION_FIRST = """
Какой король подписал указ       |                  | answer
В каком году король подписал указ |                 | answer
Кто выиграл матч                 |                  | winner
какой                            |                  | asked
Какой король подписал указ       | question_b=None  | asked
Кто выиграл матч                 | question_b=None  | who
выиграл матч кто                 |                  | who
"""


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    return _indexed(tmp_path_factory, "questions", QUESTIONS)


@pytest.mark.parametrize("query, options, first", _table(QUESTION_FIRST))
def test_question_words_are_not_searched_for(questions, query, options, first):
    assert _first(questions, query, options) == first


# With Ranking(question_b=...), a question (a query with a question word and other words)
# is also scored with that b for the body: a long article that repeats the asked words
# ("long") is pushed down less for its length than with b 0.75, where the short
# "brief" wins. A query without a question word keeps b 0.75.
FILLER = " ".join(["Сибирские предприятия отчитались о работе за квартал."] * 8)
ASKED = [
    ("brief", "Новости дня", "Король подписал указ о налогах."),
    ("long", "Новости года", FILLER + " Король подписал указ. Указ короля обсуждали, король "
     "снова подписал указ, и ещё один указ короля. " + FILLER),
    ("other", "Спорт", "Матч выиграл Зенит. " + FILLER),
]

# query | Ranking fields | the article that must come first
QUESTION_B_FIRST = """
Какой король подписал указ | question_b=0.5                      | long
Кто подписал указ          | question_b=0.5                      | long
Какой король подписал указ | question_b=0.5 term_at_a_time=False | long
король подписал указ       | question_b=0.5                      | brief
король подписал указ?      | question_b=0.5                      | long
Какой король подписал указ |                                     | long
Какой король подписал указ | question_b=None                     | brief
Кто подписал указ          | question_b=None                     | brief
"""


@pytest.fixture(scope="module")
def asked(tmp_path_factory):
    return _indexed(tmp_path_factory, "asked", ASKED)


@pytest.mark.parametrize("query, options, first", _table(QUESTION_B_FIRST))
def test_a_question_is_scored_with_its_own_body_b(asked, query, options, first):
    assert _first(asked, query, options) == first


def test_term_scores_of_two_bs_are_cached_apart(asked):
    # One Index answers questions (b 0.5) and other queries (b 0.75) from one
    # cache of term scores: neither may be served the other's.
    def scores(index, query):
        return [(h.id, h.score) for h in index.search(query, snippets=False).hits]
    with open_index(asked, ranking=Ranking(question_b=0.5)) as index:
        plain, question = scores(index, "король подписал указ"), scores(index, "Кто подписал указ")
        again = scores(index, "король подписал указ")
    with open_index(asked, ranking=Ranking(question_b=0.5)) as fresh:
        assert scores(fresh, "Кто подписал указ") == question
    assert again == plain


def test_a_field_can_have_its_own_length_normalisation(tmp_path):
    # Ranking(lead_b=...) reaches Whoosh's BM25F as lead_B, headline_b as headline_B:
    # with b 0 a field's length no longer matters, so the scores change.
    articles = [Article(id="short", headline="Никель", body="Никель подорожал.\nИтоги дня."),
                Article(id="long", headline="Никель и медь на бирже в Лондоне",
                        body="Никель подорожал на бирже в Лондоне за неделю.\nИтоги дня.")]
    index_articles(articles, tmp_path / "ix", workers=0)

    def scores(**fields):
        with open_index(tmp_path / "ix", ranking=Ranking(**fields)) as opened:
            return [h.score for h in opened.search("никель", snippets=False).hits]
    assert scores(lead_b=0.0) != scores() != scores(headline_b=0.0) != scores(lead_b=0.0)


# Ranking(tail_after=N): in a query of three words or more, a word found in over 10% of the
# articles only scores the articles the other words find; an article that holds only such
# words ("common": россия, сша, here in 13 and 14 of 66 articles) is not a match, yet it may
# be the one meant. With the rule it may enter after the first N hits, by its score among
# the rest; the first N are untouched. "bob*" hold the rare word (бобслей) once in a long body.
TAIL = [("common", "Россия и США", "Россия и США: переговоры России и США продолжатся.",
         "rt")]
TAIL += [(f"bob{i}", "Спорт", f"{LONG} Сборная выиграла бобслей. {LONG}", "tass")
         for i in range(6)]
TAIL += [(f"usa{i:02}", "Новости", "В России и США прошли выборы.", "tass") for i in range(12)]
TAIL += [("russia", "Новости", "Россия.", "tass")]
TAIL += [(f"plain{i:02}", "Погода", "В Сибири похолодало.", "tass") for i in range(46)]

# query | Ranking fields | where "common" is among the first 8 hits (- : not there)
TAIL_PLACE = """
россия сша бобслей             | tail_after=3                       | 3
россия сша бобслей             | tail_after=5                       | 5
россия сша бобслей             | tail_after=3 term_at_a_time=False  | 3
россия сша бобслей             | tail_after=None                    | -
россия сша бобслей source:tass | tail_after=3                       | -
россия сша бобслей -переговоры | tail_after=3                       | -
россия сша бобслей -выборы     | tail_after=3                       | 3
"""


@pytest.fixture(scope="module")
def tail(tmp_path_factory):
    path = tmp_path_factory.mktemp("tail") / "ix"
    index_articles([Article(id=i, headline=h, body=b, source=s) for i, h, b, s in TAIL], path,
                   workers=0)
    return path


@pytest.mark.parametrize("query, options, place", _table(TAIL_PLACE))
def test_articles_with_only_common_words_follow_the_first_hits(tail, query, options, place):
    fields = {k: ast.literal_eval(v) for k, v in (o.split("=") for o in options.split())}
    with open_index(tail, ranking=Ranking(**fields)) as index:
        ids = [hit.id for hit in index.search(query, limit=8, snippets=False,
                                              group=False).hits]
    with open_index(tail, ranking=Ranking(**{**fields, "tail_after": None})) as index:
        before = [hit.id for hit in index.search(query, limit=8, snippets=False,
                                                 group=False).hits]
    assert str(ids.index("common") if "common" in ids else "-") == place, ids
    cut = fields.get("tail_after") or 8
    assert ids[:cut] == before[:cut]  # the first hits are untouched


# Ranking(floor_after=N, floor_depth=D): in a query of more than four words, past the first N
# hits the query's own ranking alternates with plain BM25F's best D (no word bonus, no
# common-word rule), each article once. On the TAIL articles "common" (only россия and сша,
# the common words) is no match of the query, yet plain BM25F ranks it first; бобслей's six
# articles are the query's matches (биатлон and керлинг are in no article).
FLOOR = "россия сша бобслей биатлон керлинг"
# query | Ranking fields | where "common" is among the first 8 hits (- : not there) | total
FLOOR_PLACE = f"""
{FLOOR}             | floor_after=2 floor_depth=3                       | 3 | 9
{FLOOR}             | floor_after=2 floor_depth=3 term_at_a_time=False  | 3 | 9
{FLOOR}             | floor_after=4 floor_depth=1                       | 5 | 7
{FLOOR}             | floor_after=None                                  | - | 6
россия сша бобслей  | floor_after=2 floor_depth=3                       | - | 6
{FLOOR} source:tass | floor_after=2 floor_depth=3                       | - | 9
{FLOOR} -переговоры | floor_after=2 floor_depth=3                       | - | 9
"""


@pytest.mark.parametrize("query, options, place, total", _table(FLOOR_PLACE))
def test_plain_bm25f_best_follow_the_first_hits_of_long_queries(tail, query, options, place,
                                                                total):
    fields = {k: ast.literal_eval(v) for k, v in (o.split("=") for o in options.split())}
    with open_index(tail, ranking=Ranking(**fields)) as index:
        result = index.search(query, limit=8, snippets=False, group=False)
    with open_index(tail, ranking=Ranking(**{**fields, "floor_after": None})) as index:
        before = [hit.id for hit in index.search(query, limit=8, snippets=False,
                                                 group=False).hits]
    ids = [hit.id for hit in result.hits]
    assert str(ids.index("common") if "common" in ids else "-") == place, ids
    assert result.total == int(total)
    cut = fields.get("floor_after") or 8
    assert ids[:cut] == before[:cut]  # the first hits are untouched
    assert len(set(ids)) == len(ids)


# Ranking(floor_lead_boost=B, floor_share=S): the floor's plain BM25F scores the lead (first
# paragraph) at B, and past floor_after each hit of the query's own ranking is followed by up to
# S of the floor's. "lead*" hold шахматы and турнир in their lead, so those words count twice;
# "deep" and "deep2" hold them once, in their second paragraph, in shorter bodies: first by the
# body alone, last with the lead. The query's five words are more than four: the floor applies.
DEEP = [(f"lead{i}", "Новости", f"Шахматы, турнир.\n{LONG}") for i in range(5)]
DEEP += [("deep", "Новости", "Погода в Сибири.\nШахматы, турнир."),
         ("deep2", "Новости", "Погода в Сибири и на Урале.\nШахматы, турнир.")]
DEEP_QUERY = "шахматы турнир гроссмейстер дебют эндшпиль"
# Ranking fields | where "deep" and "deep2" are among the 7 hits
DEEP_PLACE = """
floor_after=2 floor_depth=2 floor_lead_boost=None              | 5 6
floor_after=2 floor_depth=2 floor_lead_boost=1.0               | 5 6
floor_after=2 floor_depth=2 floor_lead_boost=0.0 floor_share=1 | 3 5
floor_after=2 floor_depth=2 floor_lead_boost=0.0 floor_share=2 | 3 4
floor_after=2 floor_depth=1 floor_lead_boost=0.0 floor_share=2 | 3 6
floor_after=2 floor_depth=2                                    | 3 5
floor_after=None                                               | 5 6
"""


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    return _indexed(tmp_path_factory, "deep", DEEP)


@pytest.mark.parametrize("options, places", _table(DEEP_PLACE))
def test_the_floor_can_leave_the_lead_out_and_take_more_places(deep, options, places):
    fields = {k: ast.literal_eval(v) for k, v in (o.split("=") for o in options.split())}
    with open_index(deep, ranking=Ranking(**fields)) as index:
        result = index.search(DEEP_QUERY, limit=7, snippets=False, group=False)
    ids = [hit.id for hit in result.hits]
    assert f"{ids.index('deep')} {ids.index('deep2')}" == places, ids
    assert result.total == 7 and len(set(ids)) == 7


# Ranking(compound_any_part=...): a hyphenated word matches whole or by all of its parts; in a
# query of more than four words (the soft all-words rule) also by any one part, as Snowball's
# split into two words does. "whole" holds the compound, "part" one of its parts only, the 30
# others neither (so the parts are no common words); the query's other words are in no article.
# NOT excludes what a search for its word alone finds: the compound whole or all its parts.
COMPOUNDS = [("whole", "Берег", "Гугеноты-поселенцы высадились на берег."),
             ("part", "Франция", "Гугеноты бежали из Франции."),
             *[(f"other{i}", "Погода", f"В Сибири похолодало на {i} градусов.") for i in range(30)]]
LONG_COMPOUND = "гугеноты-поселенцы основали колонию возле мыса"
# query | Ranking fields | hits, best first
COMPOUND_HITS = f"""
гугеноты-поселенцы  | compound_any_part=True  | whole
гугеноты-поселенцы  | compound_any_part=False | whole
{LONG_COMPOUND}     | compound_any_part=True  | whole part
{LONG_COMPOUND}     | compound_any_part=False | whole
{LONG_COMPOUND}     | compound_any_part=True term_at_a_time=False | whole part
франция основали колонию возле мыса -гугеноты-поселенцы | compound_any_part=True | part
"""


@pytest.fixture(scope="module")
def compounds(tmp_path_factory):
    return _indexed(tmp_path_factory, "compounds", COMPOUNDS)


@pytest.mark.parametrize("query, options, hits", _table(COMPOUND_HITS))
def test_a_long_query_matches_a_compound_by_any_of_its_parts(compounds, query, options, hits):
    fields = {k: ast.literal_eval(v) for k, v in (o.split("=") for o in options.split())}
    with open_index(compounds, ranking=Ranking(**fields)) as index:
        result = index.search(query, snippets=False, group=False)
    assert " ".join(hit.id for hit in result.hits) == hits


# The same rule in a Manticore/Sphinx index's MATCH(): the parts joined by | instead of a space.
# query | Ranking fields | the compound's parts needed in the MATCH(): all or any
COMPOUND_MATCH = f"""
гугеноты-поселенцы                                      | compound_any_part=True  | all
{LONG_COMPOUND}                                         | compound_any_part=True  | any
{LONG_COMPOUND}                                         | compound_any_part=False | all
франция основали колонию возле мыса -гугеноты-поселенцы | compound_any_part=True  | all
"""
JOINED = {"all": "(гугенот поселенец)", "any": "гугенот | поселенец"}


@pytest.mark.parametrize("query, options, needed", _table(COMPOUND_MATCH))
def test_a_long_query_matches_a_compound_by_any_part_on_an_engine_too(query, options, needed):
    from indexer.analysis import russian_analyzer
    from search.query import parse_query
    from search.sphinxql import SphinxCompiler

    fields = {k: ast.literal_eval(v) for k, v in (o.split("=") for o in options.split())}
    compiler = SphinxCompiler(russian_analyzer(), Ranking(**fields))
    match = compiler.compile(parse_query(query)).match
    assert f"(гугенот_поселенец | {JOINED[needed]})" in match, match
