"""Trends: periods, the series, exact counts on real indexes, the chart, the command."""

import datetime
import json
import re
import shlex
import sys

import pytest
from click.testing import CliRunner

from indexer import PoiskError, build_index
from search import open_index
from search.cli import cli
from search.trend import bar_chart, make_trend, period_start
from tests.conftest import DATA, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")

D = datetime.date


@pytest.mark.parametrize("day, by, start", [
    (D(2024, 10, 25), "month", D(2024, 10, 1)),
    (D(2024, 10, 25), "week", D(2024, 10, 21)),   # a Friday: its Monday
    (D(2024, 10, 21), "week", D(2024, 10, 21)),   # a Monday is its own week
    (D(2025, 1, 1), "week", D(2024, 12, 30)),     # a week across the new year
    (D(2024, 2, 29), "day", D(2024, 2, 29)),
])
def test_period_start(day, by, start):
    assert period_start(day, by) == start


@pytest.mark.parametrize("dates, by, since, until, series", [
    # gaps are zeros; labels name the period
    ([D(2024, 1, 31), D(2024, 3, 1), D(2024, 3, 9)], "month", None, None,
     [("2024-01", 1), ("2024-02", 0), ("2024-03", 2)]),
    # ISO weeks: 2024-12-30 is in week 1 of 2025
    ([D(2024, 12, 23), D(2025, 1, 2)], "week", None, None, [("2024-W52", 1), ("2025-W01", 1)]),
    # since/until widen the series to the periods they fall in
    ([D(2024, 5, 20)], "day", D(2024, 5, 19), D(2024, 5, 21),
     [("2024-05-19", 0), ("2024-05-20", 1), ("2024-05-21", 0)]),
    ([D(2024, 11, 30)], "month", D(2024, 10, 15), D(2025, 1, 1),
     [("2024-10", 0), ("2024-11", 1), ("2024-12", 0), ("2025-01", 0)]),
    ([], "month", None, None, []),
])
def test_make_trend(dates, by, since, until, series):
    trend = make_trend("q", dates, by=by, since=since, until=until)
    assert [(p.label, p.count) for p in trend.points] == series
    assert trend.total == len(dates)


def test_too_long_a_series_is_refused():
    with pytest.raises(PoiskError, match="more than 2000 days in the series"):
        make_trend("q", [D(2000, 1, 1), D(2024, 1, 1)], by="day")


@pytest.mark.parametrize("counts, chart", [
    ([4, 0, 2, 1], ["2024-01  ████████ 4", "2024-02   0", "2024-03  ████ 2", "2024-04  ██ 1"]),
    # 1 of 100 is under an eighth of the bar: it still shows a sliver
    ([100, 1], ["2024-01  ████████ 100", "2024-02  ▏ 1"]),
    # a third of 8 characters: 2 and 5/8 blocks
    ([3, 1], ["2024-01  ████████ 3", "2024-02  ██▋ 1"]),
])
def test_bar_chart(counts, chart):
    dates = [D(2024, month, 1) for month, count in enumerate(counts, 1) for _ in range(count)]
    trend = make_trend("q", dates, by="month", until=D(2024, len(counts), 1))
    assert bar_chart(trend, width=7 + 3 + len(str(max(counts))) + 8).split("\n") == chart


# counts per period from 2024-01-01 (a Monday), the period -> the terminal chart, exactly:
# three or more empty periods in a row are one line, fewer still show as zeros.
@pytest.mark.parametrize("counts, by, chart", [
    ([2, 0, 0, 0, 1], "month",
     ["2024-01  ████████ 2", "…        3 months with none (2024-02 to 2024-04)", "2024-05  ████ 1"]),
    ([2, 0, 0, 1], "month", ["2024-01  ████████ 2", "2024-02   0", "2024-03   0",
                             "2024-04  ████ 1"]),
    # leading and trailing stretches (a series widened by --since and --until)
    ([0, 0, 0, 0, 1, 0, 0, 0], "week",
     ["…         4 weeks with none (2024-W01 to 2024-W04)", "2024-W05  ████████ 1",
      "…         3 weeks with none (2024-W06 to 2024-W08)"]),
    ([1] + [0] * 40 + [1, 0, 1], "day",
     ["2024-01-01  ████████ 1", "…           40 days with none (2024-01-02 to 2024-02-10)",
      "2024-02-11  ████████ 1", "2024-02-12   0", "2024-02-13  ████████ 1"]),
    ([0, 0, 0], "month", ["…        3 months with none (2024-01 to 2024-03)"]),
])
def test_bar_chart_collapses_empty_stretches(counts, by, chart):
    step = {"month": None, "week": 7, "day": 1}[by]

    def start(n):
        return D(2024, n + 1, 1) if step is None else D(2024, 1, 1) + datetime.timedelta(n * step)

    dates = [start(n) for n, count in enumerate(counts) for _ in range(count)]
    trend = make_trend("q", dates, by=by, since=start(0), until=start(len(counts) - 1))
    assert len(trend.points) == len(counts)  # the series keeps every period
    label = len(trend.points[0].label)
    assert bar_chart(trend, width=label + 3 + len(str(max(counts))) + 8).split("\n") == chart


@pytest.mark.parametrize("query, options", [
    ("металл", {}),
    ("*", {}),
    ("уголь OR газ", {}),
    ('"глубокая переработка"', {"since": "2026-01-01"}),
    ("металл", {"source": "sibir-business"}),
    ("никель", {"until": "2025-12-31"}),
])
def test_trend_counts_every_match(sample_index, query, options):
    """The series holds exactly the articles the search finds, each in its month."""
    trend = sample_index.trend(query, **options)
    hits = sample_index.search(query, limit=1000, snippets=False, **options).hits
    months = {}
    for hit in hits:
        months[hit.date.strftime("%Y-%m")] = months.get(hit.date.strftime("%Y-%m"), 0) + 1
    assert {p.label: p.count for p in trend.points if p.count} == months
    assert trend.total == len(hits) > 0


def test_trend_reads_every_segment_and_counts_undated_apart(tmp_path):
    """Many small segments (batch size 4) and articles without a date."""
    undated = tmp_path / "undated"
    undated.mkdir()
    for n in range(3):
        (undated / f"{n}.txt").write_text(f"Металлы {n}\nВыпуск металлов вырос.")
    build_index([DATA, undated], tmp_path / "ix", batch_size=4, workers=0)
    with open_index(tmp_path / "ix") as index:
        assert len(index._searcher().reader().leaf_readers()) > 5
        trend = index.trend("металл", by="week")
        assert (trend.total, trend.undated) == (10, 3)
        assert index.search("металл").total == 13
        assert sum(p.count for p in trend.points) == 10


@pytest.mark.parametrize("options, message", [
    ({"by": "year"}, "unknown period 'year': use one of month, week, day"),
    ({"since": "2026-13-01"}, "no such date '2026-13-01': a month is 01 to 12"),
])
def test_bad_trend_options(sample_index, options, message):
    with pytest.raises(PoiskError, match=message):
        sample_index.trend("металл", **options)


@pytest.fixture
def run(sample_index_dir):
    def invoke(*args):
        return CliRunner().invoke(cli, ["trend", *args, "--index", str(sample_index_dir)])
    return invoke


COAL = """\
2 articles for 'уголь' by month:

2026-04   0
2026-05  █████████████████████████████████████████████████████████████████████ 1
2026-06  █████████████████████████████████████████████████████████████████████ 1
"""


COAL_SINCE_OCTOBER = """\
4 articles for 'уголь' by month:

2025-10  █████████████████████████████████████████████████████████████████████ 1
2025-11   0
2025-12  █████████████████████████████████████████████████████████████████████ 1
…        4 months with none (2026-01 to 2026-04)
2026-05  █████████████████████████████████████████████████████████████████████ 1
2026-06  █████████████████████████████████████████████████████████████████████ 1
"""


@pytest.mark.parametrize("since, output", [("2026-04-01", COAL),
                                           ("2025-10-01", COAL_SINCE_OCTOBER)])
def test_trend_command_output_is_exact(run, since, output):
    result = run("уголь", "--since", since)
    assert (result.exit_code, result.output) == (0, output)


def test_trend_json_and_csv(run):
    rows = [json.loads(line) for line in run("уголь", "--since", "2026-05-01", "--by", "week",
                                             "--until", "2026-05-17", "--json").output.split("\n")
            if line]
    assert rows == [{"period": "2026-W18", "start": "2026-04-27", "count": 0},
                    {"period": "2026-W19", "start": "2026-05-04", "count": 0},
                    {"period": "2026-W20", "start": "2026-05-11", "count": 0}]
    csv_result = run("металл", "--since", "2026-03-01", "--until", "2026-04-30", "--csv")
    assert csv_result.output == ("period,start,count\n2026-03,2026-03-01,2\n"
                                 "2026-04,2026-04-01,2\n")


@pytest.mark.parametrize("args, code, message", [
    (["уголь", "--json", "--csv"], 2, "choose one of --json and --csv"),
    (["уголь", "--by", "year"], 2, "'year' is not one of 'month', 'week', 'day'"),
    (["уголь", "--since", "2026-13-01"], 1, "Error: no such date '2026-13-01': a month is 01 to 12"),
    (["кобальтит"], 0, "Nothing found for 'кобальтит'."),
])
def test_trend_command_errors(run, args, code, message):
    result = run(*args)
    assert result.exit_code == code
    assert message in result.output


def test_png_is_a_real_image(run, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "trend.png"
    result = run("металл", "--png", str(path))
    assert result.exit_code == 0
    assert result.output.endswith(f"\nChart written to {path}.\n")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_png_without_matplotlib_is_a_clear_error(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails
    result = run("металл", "--png", str(tmp_path / "trend.png"))
    assert (result.exit_code, result.output) == (
        1, "Error: a PNG chart needs matplotlib: pip install 'poisk[chart]'\n")
    assert not (tmp_path / "trend.png").exists()


def test_png_into_a_missing_folder(run, tmp_path):
    pytest.importorskip("matplotlib")
    result = run("металл", "--png", str(tmp_path / "no" / "trend.png"))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot write the chart to {tmp_path / 'no'}")


def test_readme_trend_example_runs(sample_index_dir, tmp_path, monkeypatch):
    """The README's command, on the sample (which has no 2024 articles: an empty chart)."""
    pytest.importorskip("matplotlib")
    section = README.split("## Trends over time\n", 1)[1].split("\n## ", 1)[0]
    command = re.findall(r"```bash\n(.+?)\n```", section, re.S)[1]
    assert command.startswith("poisk trend ")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*shlex.split(command)[1:], "--index", str(sample_index_dir)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "trend.png").read_bytes()[:4] == b"\x89PNG"
