"""Facets: query -> counts of every matching article by region, industry, source and month."""

import json

import pytest
from click.testing import CliRunner

from indexer.errors import PoiskError
from search.cli import cli

# query, filters -> (total, facet field, its counts). Checked by hand against the regions and
# industries `poisk show` prints for each matching article of data/.
FACET_CASES = [
    ("уголь", {}, 5, "regions", [("Кемеровская область — Кузбасс", 3),
                                 ("Республика Саха (Якутия)", 2), ("Хабаровский край", 2),
                                 ("Амурская область", 1), ("Приморский край", 1)]),
    ("уголь", {}, 5, "source", [("sibir-business", 3), ("dv-vedomosti", 2)]),
    ("уголь", {"regions": "Кузбасс"}, 3, "industries", [
        ("уголь", 2), ("транспорт и логистика", 1), ("черная металлургия", 1)]),
    ("ГЭС", {}, 5, "districts", [("Сибирский", 3), ("Дальневосточный", 2)]),
    # (the Chukotka power line names a floating nuclear plant in its fourth paragraph only:
    # no nuclear article since industries need a name in the headline or lead)
    ("*", {"industries": "золото и драгметаллы"}, 3, "regions", [
        ("Красноярский край", 1), ("Магаданская область", 1), ("Чукотский автономный округ", 1)]),
    ("никель", {"since": "2026-01-01"}, 3, "months", [("2026-01", 1), ("2026-03", 1),
                                                      ("2026-06", 1)]),
]


@pytest.mark.parametrize("query, filters, total, field, counts", FACET_CASES)
def test_facet_counts(sample_index, query, filters, total, field, counts):
    facets = sample_index.facets(query, **filters)
    assert facets.total == total
    got = facets.months if field == "months" else facets.counts[field]
    assert list(got) == counts


def test_every_match_is_counted_not_one_page(sample_index):
    result = sample_index.search("металл", limit=1, facets=True)
    assert len(result.hits) == 1
    assert result.facets.total == result.total == 10
    assert sum(count for _, count in result.facets.months) + result.facets.undated == 10


def test_a_search_without_facets_has_none(sample_index):
    assert sample_index.search("металл", limit=1).facets is None


def test_an_unknown_filter_field_is_an_error(sample_index):
    with pytest.raises(PoiskError, match="'cities' is not a filter field"):
        sample_index.facets("уголь", cities="Норильск")


def test_facets_command(sample_index_dir):
    # (цветная металлургия 2 before industries counted each repeat of a name 1: the Bratsk
    # smelter's article names "алюминиевый" twice and weighs 4 now, Rusal written in Latin)
    result = CliRunner().invoke(cli, ["facets", "ГЭС", "--index", str(sample_index_dir),
                                      "--limit", "2", "--no-color"])
    assert result.exit_code == 0
    assert result.output == """5 articles for 'ГЭС'

source:
        2  dv-vedomosti  (40%)
        2  krasnoyarsk-segodnya  (40%)

regions:
        2  Иркутская область  (40%)
        2  Красноярский край  (40%)

districts:
        3  Сибирский  (60%)
        2  Дальневосточный  (40%)

industries:
        2  электроэнергетика  (40%)
        1  золото и драгметаллы  (20%)

months:
        1  2025-09  ██████████████████████████████
        1  2025-10  ██████████████████████████████
        1  2025-11  ██████████████████████████████
        1  2026-01  ██████████████████████████████
        1  2026-06  ██████████████████████████████
"""


def test_facets_json_and_filters_on_the_command_line(sample_index_dir):
    result = CliRunner().invoke(cli, ["facets", "уголь", "--region", "Кузбасс", "--json",
                                      "--index", str(sample_index_dir)])
    assert result.exit_code == 0
    facets = json.loads(result.output)
    assert (facets["total"], facets["regions"]["Кемеровская область — Кузбасс"]) == (3, 3)


@pytest.mark.parametrize("command", ["search", "trend", "facets"])
def test_region_district_industry_options(sample_index_dir, command):
    result = CliRunner().invoke(cli, [command, "*", "--region", "Норильск", "--district",
                                      "СФО", "--industry", "никель", "--json",
                                      "--index", str(sample_index_dir)])
    assert result.exit_code == 0, result.output
    assert result.output


def test_an_unknown_region_option_is_a_one_line_error(sample_index_dir):
    result = CliRunner().invoke(cli, ["search", "уголь", "--region", "Атлантида",
                                      "--index", str(sample_index_dir)])
    assert (result.exit_code, result.output) == (
        1, "Error: unknown region 'Атлантида': give a federal subject, its capital or a town "
           "in it (Кузбасс, Красноярский край, Норильск)\n")
