"""Queries as people type them (issue 11): wrong layout, typos, fuzzy words, synonyms, did you mean.

All against the data/ sample index; what was searched is asserted, then what it found.
"""

import json

import pytest
from click.testing import CliRunner

from search import PoiskError, open_index
from search.cli import cli
from search.layout import to_cyrillic, to_latin
from search.spelling import edit_distance

# query | what was searched (the query with its words corrected) | kinds of rewrites
# (ГЭС is in over 10% of the sample's articles: a word that common gets no synonyms;
# a " before Latin-typed words is Shift+' typed for Э: on the Russian layout a quote is Shift+2)
REWRITES = """
ybrtkm                | никель              | layout
yjhbkmcrbq ybrtkm     | норильский никель   | layout layout synonym
Тщктшслуд             | Nornickel           | layout synonym
нарильский никель     | норильский никель   | typo synonym
палладя               | палладия            | typo
плладий               | палладий            | typo
Красноярк             | Красноярск          | typo
Верховц               | Верховец            | typo
металов               | металлов            | typo
LME                   | LME                 | synonym
Rusal                 | Rusal               | synonym
lj,sxf                | добыча              | layout
"rcgjhn ybrtkz        | Экспорт никеля      | layout layout
ybrtkm "rcgjhn ytanb  | никель Экспорт нефти | layout layout layout
"ybrtkm gfkkflbq"     | Никель палладий"    | layout typo layout
"LME Rusal"           | "LME Rusal"         |
Норникель             | Норникель           | synonym
никель                | никель              |
Nornickel             | Nornickel           | synonym
ESG                   | ESG                 | synonym
ИНТЦ                  | ИНТЦ                | synonym
ГЭС                   | ГЭС                 |
ёлка                  | ёлка                |
=никкеля              | =никкеля            |
никкел*               | никкел*             |
"""


def rows(table):
    return [tuple(cell.strip() for cell in line.split("|"))
            for line in table.strip().splitlines()]


@pytest.mark.parametrize("query, searched, kinds", rows(REWRITES))
def test_what_is_searched(sample_index, query, searched, kinds):
    result = sample_index.search(query, snippets=False)
    assert result.searched == searched
    assert [r.kind for r in result.rewrites] == kinds.split()


# query | finds the same articles as
SAME_AS = """
ybrtkm                | никель
yjhbkmcrbq ybrtkm     | (норильский никель) OR Норникель OR Nornickel
нарильский никель     | (норильский никель) OR Норникель OR Nornickel
Норникель             | "норильский никель" OR Норникель OR Nornickel
палладя               | палладий
"rcgjhn ybrtkz        | экспорт никеля
Тщктшслуд             | Nornickel
"""


@pytest.mark.parametrize("query, intended", rows(SAME_AS))
def test_corrected_queries_find_what_the_intended_query_finds(sample_index, query, intended):
    found = {h.id for h in sample_index.search(query, limit=100, snippets=False).hits}
    wanted = {h.id for h in sample_index.search(intended, limit=100, snippets=False).hits}
    assert found == wanted and found


def test_switched_off_the_words_are_searched_as_typed(sample_index):
    plain = sample_index.search("ybrtkm", corrections=False)
    assert (plain.total, plain.searched, plain.rewrites) == (0, "ybrtkm", ())
    with_synonyms = sample_index.search("Норникель", snippets=False)
    without = sample_index.search("Норникель", synonyms=False, snippets=False)
    assert without.total < with_synonyms.total and not without.rewrites


def test_unclear_corrections_are_offered(sample_index):
    result = sample_index.search("сталл", snippets=False)
    typo = result.rewrites[0]
    assert typo.kind == "typo" and typo.others
    assert result.did_you_mean == tuple(result.query.replace("сталл", o) for o in typo.others)


def test_fuzzy_words_add_the_index_words_an_edit_away(sample_index):
    result = sample_index.search("уголь~", limit=100, snippets=False)
    assert [(r.kind, r.original, r.searched) for r in result.rewrites] == [
        ("fuzzy", "уголь~1", "угол")]
    union = sample_index.search("уголь OR угол", limit=100, snippets=False)
    assert {h.id for h in result.hits} == {h.id for h in union.hits}


def test_a_users_synonyms_file_adds_groups(sample_index_dir, tmp_path):
    mine = tmp_path / "mine.tsv"
    mine.write_text("# our names\nЧукотка\tЗолотая кладовая\n", encoding="utf-8")
    with open_index(sample_index_dir, synonym_files=[mine]) as index:
        result = index.search("золотая кладовая", snippets=False)
    chukotka = {h.id for h in open_index(sample_index_dir).search("Чукотка").hits}
    assert chukotka <= {h.id for h in result.hits}
    assert ("synonym", "золотая кладовая") == (result.rewrites[0].kind, result.rewrites[0].original)


def test_an_unreadable_synonyms_file_is_a_clear_error(sample_index_dir, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"\xff\xfe\x00binary")
    with open_index(sample_index_dir, synonym_files=[bad]) as index:
        with pytest.raises(PoiskError, match="cannot read the synonyms file .*bad.tsv"):
            index.search("никель")


@pytest.mark.parametrize("args, stdout_start, stderr", [
    (["ybrtkm"], "4 found for 'ybrtkm' (showing 1-4):\n\n", "searched for: никель\n"),
    (["ybrtkm", "--no-corrections"], "Nothing found for 'ybrtkm'.\n", ""),
    (["Норникель", "--no-synonyms"], "2 found for 'Норникель'", ""),
    (["Норникель", "--limit", "1"], "4 found for 'Норникель' (showing 1-1):\n\n",
     "also searched for Норникель: Норильский никель, ГМК «Норильский никель»,\n"
     "  Nornickel, Norilsk Nickel\n"),
])
def test_the_command_line_says_what_was_searched(sample_index_dir, args, stdout_start, stderr):
    result = CliRunner().invoke(cli, ["search", *args, "--index", str(sample_index_dir)])
    assert result.exit_code == 0
    assert result.stdout.startswith(stdout_start)
    assert result.stderr == stderr


def test_json_summary_says_what_was_searched(sample_index_dir):
    result = CliRunner().invoke(cli, ["search", "ybrtkm", "--json", "--index",
                                      str(sample_index_dir)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["rank"] for line in lines[:-1]] == [1, 2, 3, 4]
    summary = lines[-1]["summary"]
    assert (summary["query"], summary["searched_for"], summary["total"]) == (
        "ybrtkm", "никель", 4)
    assert summary["rewrites"] == [{"kind": "layout", "original": "ybrtkm",
                                    "searched": "никель", "others": []}]
    assert summary["did_you_mean"] == [] and result.stderr == ""


def test_users_synonyms_file_on_the_command_line(sample_index_dir, tmp_path):
    mine = tmp_path / "mine.tsv"
    mine.write_text("Чукотка\tЗолотая кладовая\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["search", "золотая", "кладовая", "--synonyms", str(mine),
                                      "--index", str(sample_index_dir)])
    assert result.exit_code == 0
    assert "also searched for золотая кладовая: Чукотка" in result.stderr
    missing = CliRunner().invoke(cli, ["search", "никель", "--synonyms", str(tmp_path / "no"),
                                       "--index", str(sample_index_dir)])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


# Latin layout <-> Cyrillic, both ways, capitals and the punctuation keys of б ю х ж э ъ
LAYOUT = """
ybrtkm                  | никель
Yjhybrtkm               | Норникель
,fnfhtb                 | батареи
;tktpf                  | железа
'rcgjhn                 | экспорт
gj[jlbn                 | походит
"""


@pytest.mark.parametrize("latin, cyrillic", rows(LAYOUT))
def test_layout_maps_both_ways(latin, cyrillic):
    assert to_cyrillic(latin) == cyrillic
    assert to_latin(cyrillic) == latin


# a | b | weighted distance: a swap 0.8, a neighbouring key 0.7, any other edit 1;
# lengths further apart than the limit (2) give limit + 1 at once
DISTANCES = """
сакнция  | санкция  | 0.8
никкль   | никель   | 0.7
никль    | никель   | 1.0
никель   | никель   | 0.0
нарильск | норильск | 1.0
ьфыл     | никель   | 5.0
ни       | никель   | 3.0
"""


@pytest.mark.parametrize("a, b, distance", rows(DISTANCES))
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == float(distance)


def _deletions(word, times):
    found = {word}
    for _ in range(times):
        found |= {w[:i] + w[i + 1:] for w in found for i in range(len(w))}
    return found


@pytest.mark.parametrize("word", ["никкль", "норникелььь", "палладия", "плладий", "металов",
                                  "красноярк", "уголь", "литйи", "якуття", "rusall", "nornikel",
                                  "ангаро", "zzz", "кобальтт"])
def test_the_lexicon_finds_what_the_symmetric_delete_rule_finds(sample_index, word):
    """Every term of the index checked the slow way: the term or its one-letter deletions meet
    the word's deletions (up to ``limit``), within ``limit`` edits."""
    from search.spelling import Lexicon

    reader = sample_index._searcher().reader()
    lexicon = Lexicon.of(reader)
    for limit in (1, 2):
        wanted = _deletions(word, limit)
        expected = sorted((term, edit_distance(word, term, limit)) for term in lexicon.terms
                          if _deletions(term, 1) & wanted
                          and edit_distance(word, term, limit) <= limit)
        assert lexicon.near(word, limit) == expected, limit
    assert bool(lexicon.near(word, 2)) == (word not in ("zzz", "кобальтт"))


def test_the_lexicon_is_read_within_the_time_budget(sample_index):
    """A search that runs out of time while reading the index's words leaves them for the next."""
    from search.budget import SearchTimeout, time_limit
    from search.spelling import LexiconCache, LexiconReading

    cache, reader = LexiconCache(), sample_index._searcher().reader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LexiconReading, "CHUNK", 50)
        with time_limit(0), pytest.raises(SearchTimeout):
            cache.get("generation 1", reader)
        assert 0 < len(cache._reading.words)
        assert cache.get("generation 1", reader).terms == LexiconReading().read(reader).terms


def test_a_swapped_letter_finds_the_word(tmp_path):
    from indexer.build import index_articles
    from indexer.sources import Article

    articles = [Article(id=f"s{n}", headline="Новые санкции", body=f"Санкции против {name}.")
                for n, name in enumerate(("банков", "металлургов", "угольщиков"))]
    articles.append(Article(id="t", headline="Станция", body="Подстанция построена."))
    index_articles(articles, tmp_path / "ix")
    with open_index(tmp_path / "ix") as index:
        typed = index.search("сакнции", snippets=False)
        intended = index.search("санкции", snippets=False)
    assert (typed.searched, typed.total) == ("санкции", 3)
    assert {h.id for h in typed.hits} == {h.id for h in intended.hits}


def test_a_group_typed_by_the_user_stays_a_group(sample_index):
    """Only the loose words made of a " typed for Э are spliced into the words around them."""
    from search.query import parse_query

    tree = parse_query("палладий (медь кобальт)")
    assert sample_index.rewriter(synonyms=False).rewrite(tree) == (tree, ())
    retyped, _ = sample_index.rewriter(synonyms=False).rewrite(parse_query('gfkkflbq "rcgjhn'))
    assert [w.text for w in retyped.items] == ["палладий", "экспорт"]
    retyped, _ = sample_index.rewriter(synonyms=False).rewrite(
        parse_query('gfkkflbq "rcgjhn ybrtkz'))
    assert [w.text for w in retyped.items] == ["палладий", "Экспорт", "никеля"]


@pytest.fixture(scope="module")
def latin_pieces_index(tmp_path_factory):
    """An index that knows the Latin letters j, t, b and the number 2017 as words."""
    from indexer.build import index_articles
    from indexer.sources import Article

    path = tmp_path_factory.mktemp("latin") / "ix"
    bodies = ["Обострил спор о помехах в Париже.", "Учения Запад-2017 прошли с помехами.",
              "Пункты j, t и b списка от 2017 года.", "Экспорт никеля из Норильска."]
    index_articles([Article(id=f"a{n}", headline="Новости", body=body)
                    for n, body in enumerate(bodies)], path)
    with open_index(path) as index:
        yield index


# Latin-typed query | searched: a key of , . ; ' [ ] ` typed for б ю ж э х ъ ё splits the
# word for the tokenizer ("j,jcnhbk" holds the letter j), but only whole words count as
# known as typed; a compound is known by its whole, not by its number
LATIN_PIECES = """
j,jcnhbk gjvt[b       | обострил помехи
Gfhb;t                | Париже
Pfgfl-2017            | Запад-2017
"rcgjhn ybrtkz        | Экспорт никеля
"nj gjvt[b            | Это помехи
"""


@pytest.mark.parametrize("query, searched", rows(LATIN_PIECES))
def test_keys_of_russian_letters_split_no_word(latin_pieces_index, query, searched):
    result = latin_pieces_index.search(query, snippets=False)
    assert (result.searched, result.total > 0) == (searched, True)
