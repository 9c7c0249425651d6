"""The command line: exact output, JSON Lines, exit codes, help on every command."""

import json
import re
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner

from search import open_index
from search.cli import cli
from tests.test_readme import README

SHOIGU = """\
1 found for 'Шойгу' (showing 1-1):

  1. 2026-02-10  sibir-business  [data/sibir-business/2026-02-10-tyva-litiy-sp]
     В Туве выбрали подрядчика для литиевого проекта
     в Новосибирской области. Руководитель СП Айдын [Шойгу] отметил, что стройка
     даст республике около 800 рабочих мест. «Литий сегодня нужен всем — от
     производителей аккумуляторов до … поставщиков этого металла в РФ», — заявил
     [Шойгу]. По словам [Шойгу], в смету уже заложены расходы на дорогу до
     Кызыла и подстанцию мощностью 120 МВт.

"""


@pytest.fixture
def run(sample_index_dir):
    def invoke(*args):
        return CliRunner().invoke(cli, [*args, "--index", str(sample_index_dir)])
    return invoke


def test_search_output_is_exact(run):
    result = run("search", "Шойгу", "--no-color")
    assert result.exit_code == 0
    assert result.output == SHOIGU


def test_search_lines_fit_80_columns(run):
    result = run("search", "редкоземельные", "металлы", "--no-color", "--limit", "5")
    assert result.exit_code == 0
    long_lines = [line for line in result.output.splitlines()
                  if len(line) > 80 and not line.lstrip()[0].isdigit()]
    assert long_lines == []


def test_search_colours_matches_when_asked(run):
    result = run("search", "Шойгу", "--color")
    assert "\x1b[1;33mШойгу\x1b[0m" in result.output


def test_json_lines(run, sample_index_dir):
    result = run("search", "ИНТЦ OR Nornickel", "--json", "--no-synonyms")
    assert result.exit_code == 0
    *hits, summary = [json.loads(line) for line in result.output.splitlines()]
    assert summary == {"summary": {
        "query": "ИНТЦ OR Nornickel", "since": None, "until": None, "source": [], "tags": [],
        "regions": [], "districts": [], "industries": [],
        "sort": "relevance", "limit": 10, "offset": 0, "total": 2, "returned": 2,
        "partial": False, "searched_for": "ИНТЦ OR Nornickel", "rewrites": [],
        "did_you_mean": []}}
    assert [h["rank"] for h in hits] == [1, 2]
    assert {h["id"].split("/")[-1] for h in hits} == {
        "2025-09-01-sfu-intc-metallurgiya", "2025-11-20-nornickel-palladiy-otchet"}
    for hit in hits:
        assert set(hit) == {"rank", "id", "score", "headline", "date", "source", "url", "tags",
                            "regions", "districts", "industries", "headline_highlights",
                            "snippets", "similar"}
        for snippet in hit["snippets"]:
            for start, end in snippet["highlights"]:
                word = snippet["text"][start - snippet["start"]:end - snippet["start"]]
                assert word in ("ИНТЦ", "Nornickel")


def test_nothing_found_says_so_and_exits_0(run):
    result = run("search", "кобальтит")
    assert (result.exit_code, result.output) == (0, "Nothing found for 'кобальтит'.\n")
    json_result = run("search", "кобальтит", "--json", "--limit", "5")
    assert json_result.exit_code == 0
    assert json.loads(json_result.output) == {"summary": {
        "query": "кобальтит", "since": None, "until": None, "source": [], "tags": [],
        "regions": [], "districts": [], "industries": [],
        "sort": "relevance", "limit": 5, "offset": 0, "total": 0, "returned": 0,
        "partial": False, "searched_for": "кобальтит", "rewrites": [], "did_you_mean": []}}


@pytest.mark.parametrize("args, message", [
    (["search", ""], "Error: empty query: type some words to search for (or * for everything)\n"),
    (["search", "на и в"], "Error: nothing to search for: the query holds only stop words "
                           "or punctuation\n"),
    (["search", "уголь", "--since", "2026-1x-01"],
     "Error: cannot read the date '2026-1x-01': use YYYY-MM-DD, YYYY-MM or YYYY, "
     "and A..B for a range\n"),
    (["search", "уголь", "--since", "2026-13-01"],
     "Error: no such date '2026-13-01': a month is 01 to 12\n"),
    (["search", "уголь", "--since", "2024-11-31"],
     "Error: no such date '2024-11-31': November 2024 has 30 days\n"),
    (["search", "уголь", "--until", "2025-02-29"],
     "Error: no such date '2025-02-29': February 2025 has 28 days\n"),
    (["show", "nope"], "Error: no article with id 'nope'\n"),
])
def test_errors_are_one_line_with_exit_1(run, args, message):
    result = run(*args)
    assert (result.exit_code, result.output) == (1, message)


def test_missing_index_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["search", "уголь", "--index", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert result.output == (f"Error: no index at {tmp_path / 'none'}: "
                             "run `poisk index PATH...` first\n")


def test_usage_errors_exit_2(run):
    assert run("search", "уголь", "--limit", "0").exit_code == 2
    assert run("search", "уголь", "--sort", "random").exit_code == 2
    assert CliRunner().invoke(cli, ["search"]).exit_code == 2


def test_show_prints_the_article(run):
    result = run("show", "data/sibir-business/2026-02-10-tyva-litiy-sp")
    assert result.exit_code == 0
    assert result.output.startswith(
        "В Туве выбрали подрядчика для литиевого проекта\n"
        "2026-02-10 · sibir-business\n"
        "regions: Республика Тыва, Новосибирская область\n"
        "districts: Сибирский\n"
        "industries: редкие и редкоземельные металлы, строительство\n"
        "\nКЫЗЫЛ, 10 февраля.")


def test_stats(run):
    result = run("stats", "--json")
    stats = json.loads(result.output)
    assert stats["documents"] == 30
    assert (stats["first_date"], stats["last_date"]) == ("2025-09-01", "2026-06-30")
    assert stats["sources"] == {"dv-vedomosti": 10, "krasnoyarsk-segodnya": 10,
                                "sibir-business": 10}
    assert stats["size_bytes"] > 0


def test_index_summary_and_incremental_runs(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "a.txt").write_text(" date 2026-01-01 Никель\n\nКомбинат выпустил никель.")
    (folder / "b.txt").write_text(" date 2026-01-02 Медь\n\nЗавод выпустил медь.")
    index = ["--index", str(tmp_path / "ix")]
    first = CliRunner().invoke(cli, ["index", str(folder), *index])
    assert first.exit_code == 0
    assert first.stderr == ""  # no progress bar: stderr is not a terminal
    assert first.output.startswith("2 added, 0 updated, 0 skipped, 0 failed in ")
    (folder / "b.txt").write_text(" date 2026-01-02 Медь\n\nЗавод выпустил больше меди.")
    (folder / "c.txt").write_text(" date 2026-01-03 Кобальт\n\nЗавод выпустил кобальт.")
    second = CliRunner().invoke(cli, ["index", str(folder), *index])
    assert second.output.startswith("1 added, 1 updated, 1 skipped, 0 failed in ")
    deleted = CliRunner().invoke(cli, ["delete", "news/a", "news/zzz", *index])
    assert (deleted.exit_code, deleted.output) == (0, "1 deleted, 1 not found\n")
    rebuilt = CliRunner().invoke(cli, ["index", str(folder), "--rebuild", *index])
    assert rebuilt.output.startswith("3 added, 0 updated, 0 skipped, 0 failed in ")


def test_index_with_failures_exits_1(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "good.txt").write_text(" date 2026-01-01 Никель\n\nКомбинат выпустил никель.")
    (folder / "bad.txt").write_text(" date 2026-02-31 Медь\n\nЗавод выпустил медь.")
    result = CliRunner().invoke(cli, ["index", str(folder), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 1
    assert f"skipped {folder / 'bad.txt'}:1: bad date '2026-02-31' (expected YYYY-MM-DD)" \
        in result.output
    assert "1 added, 0 updated, 0 skipped, 1 failed in " in result.output


@pytest.mark.parametrize("command", ["index", "search", "show", "stats", "delete", "trend"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert len(result.output.split("\n\n")[1].strip()) > 10


def test_python_dash_m_search_works(sample_index_dir):
    result = subprocess.run([sys.executable, "-m", "search", "search", "ГМК", "--json",
                             "--index", str(sample_index_dir)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3  # two hits and the summary


def test_a_run_that_writes_nothing_leaves_no_index_folder(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "bad.txt").write_text(" date 2026-02-31 Медь\n\nЗавод выпустил медь.")
    (folder / "empty.jsonl").write_text("")
    index = tmp_path / "ix"
    result = CliRunner().invoke(cli, ["index", str(folder), "--index", str(index)])
    assert result.exit_code == 1
    assert "0 added, 0 updated, 0 skipped, 2 failed in " in result.output
    assert not index.exists()
    search = CliRunner().invoke(cli, ["search", "медь", "--index", str(index)])
    assert search.output == f"Error: no index at {index}: run `poisk index PATH...` first\n"


def test_json_summary_of_a_query_with_a_lone_surrogate(run):
    result = run("search", "никель \ud800", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.output.splitlines()[-1])["summary"]
    assert summary["query"] == "никель \ud800" and summary["total"] == 4


def _ids(index):
    with open_index(index) as opened:
        return sorted(hit.id for hit in opened.search("*", limit=100).hits)


def test_prune_removes_articles_whose_file_or_record_is_gone(tmp_path):
    news, other = tmp_path / "news", tmp_path / "other"
    news.mkdir()
    other.mkdir()
    (news / "a.txt").write_text(" date 2026-01-01 Никель\n\nКомбинат выпустил никель.")
    (news / "b.txt").write_text(" date 2026-01-02 Медь\n\nЗавод выпустил медь.")
    (news / "feed.jsonl").write_text('{"id": "f1", "title": "Уголь", "text": "Добыча угля."}\n'
                                     '{"id": "f2", "title": "Газ", "text": "Добыча газа."}\n')
    (other / "c.txt").write_text("Кобальт\nЗавод выпустил кобальт.")
    index = ["--index", str(tmp_path / "ix")]
    assert CliRunner().invoke(cli, ["index", str(news), str(other), *index]).exit_code == 0
    (news / "b.txt").rename(news / "b2.txt")  # renamed: without --prune it would be there twice
    (news / "feed.jsonl").write_text('{"id": "f1", "title": "Уголь", "text": "Добыча угля."}\n')
    pruned = CliRunner().invoke(cli, ["index", str(news), "--prune", *index])
    assert pruned.exit_code == 0
    assert pruned.output.startswith("1 added, 0 updated, 2 skipped, 0 failed, 2 removed in ")
    # other/ was not given: its article stays.
    assert _ids(tmp_path / "ix") == ["f1", "news/a", "news/b2", "other/c"]


def test_prune_keeps_the_articles_of_a_file_it_could_not_read(tmp_path):
    news = tmp_path / "news"
    news.mkdir()
    feed = news / "feed.jsonl"
    feed.write_text('{"id": "f1", "title": "Уголь", "text": "Добыча угля."}\n'
                    '{"id": "f2", "title": "Газ", "text": "Добыча газа."}\n')
    index = ["--index", str(tmp_path / "ix")]
    assert CliRunner().invoke(cli, ["index", str(news), *index]).exit_code == 0
    feed.write_text('{"id": "f1", "title": "Уголь", "text": "Добыча угля."}\n{"id": "f2", broken\n')
    pruned = CliRunner().invoke(cli, ["index", str(news), "--prune", *index])
    assert pruned.exit_code == 1
    assert "0 added, 0 updated, 1 skipped, 1 failed, 0 removed in " in pruned.output
    assert _ids(tmp_path / "ix") == ["f1", "f2"]


def test_readme_compact_block_is_what_poisk_prints(sample_index_dir):
    section = README.split("## At a terminal\n", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```text\n\$ (poisk .+?)\n(.+?)```", section, re.S)[0]
    command, shown = block
    args = shlex.split(command)[1:] + ["--index", str(sample_index_dir)]
    result = CliRunner(env={"COLUMNS": "120"}).invoke(cli, args)
    assert (result.exit_code, result.output) == (0, shown)


# What `poisk search` never runs: Whoosh imports them at module level (indexer/startup.py),
# the indexing run and its progress bar, the index's own clustering.
NOT_IMPORTED_BY_SEARCH = ("urllib.request", "http.client", "ssl", "email", "asyncio",
                          "cached_property", "whoosh.lang.morph_en", "rich", "indexer.build",
                          "search.cluster", "importlib.metadata")


def test_a_search_imports_nothing_it_does_not_run(sample_index_dir):
    script = (
        "import sys\n"
        "from search.cli import cli\n"
        f"sys.argv = ['poisk', 'search', 'никель', '--index', {str(sample_index_dir)!r}]\n"
        "try:\n    cli()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        f"print(sorted(set({NOT_IMPORTED_BY_SEARCH!r}) & set(sys.modules)))\n"
        "import urllib.request, whoosh.compat\n"  # the real module, once asked for
        "print(urllib.request.Request.__name__, whoosh.compat.urlretrieve.__name__)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["[]", "Request urlretrieve"]
