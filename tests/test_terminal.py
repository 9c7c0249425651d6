"""The command line in a real pseudo-terminal (pexpect): progress bar, width, colours, pager."""

import json
import os
import re
import shlex
import sys

import click
import pytest

from search.terminal import colour_wanted, truncate, wrap

pexpect = pytest.importorskip("pexpect")

POISK = [sys.executable, "-m", "poisk"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HEADLINE = "В Туве выбрали подрядчика для литиевого проекта"


def run_in_terminal(args, columns=120, rows=40, env=None, shell_tail=""):
    """Run poisk in a pseudo-terminal of ``columns`` x ``rows``; (exit code, everything shown)."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("COLUMNS", "LINES", "NO_COLOR", "PAGER", "LESS")}
    environment.update(TERM="xterm-256color", **(env or {}))
    command = " ".join(shlex.quote(a) for a in POISK + list(args)) + shell_tail
    child = pexpect.spawn("/bin/sh", ["-c", command], dimensions=(rows, columns), env=environment,
                          encoding="utf-8", timeout=300)
    shown = child.read()
    child.close()
    return child.exitstatus, shown


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """200 short synthetic articles: a run of a second or two in one process."""
    path = tmp_path_factory.mktemp("tty") / "news.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for n in range(200):
            f.write(json.dumps({"id": f"n{n}", "title": f"Комбинат {n} нарастил выпуск никеля",
                                "text": "Выпуск никеля и меди вырос. " * 20}, ensure_ascii=False)
                    + "\n")
    return path


def test_progress_bar_on_a_terminal_then_only_the_summary(corpus, tmp_path):
    code, shown = run_in_terminal(["index", str(corpus), "--index", str(tmp_path / "ix"),
                                   "--workers", "0", "--batch-size", "50"])
    assert code == 0
    bars = [line for line in ANSI.sub("", shown).split("\r") if line.startswith("indexing")]
    assert bars, shown
    assert any(re.search(r" \d+% +\d+/200 .*ETA", bar) for bar in bars)
    # The bar is erased before the summary, and nothing follows the summary.
    assert re.search(r"\x1b\[2K200 added, 0 updated, 0 skipped, 0 failed in [\d.]+ s "
                     r"\([\d.]+ documents/s\)\r\n$", shown), shown[-300:]


def test_search_uses_the_width_and_colours_of_the_terminal(sample_index_dir):
    code, shown = run_in_terminal(["search", "Шойгу", "--index", str(sample_index_dir)])
    assert code == 0
    assert f"\x1b[1m{HEADLINE}\x1b[0m" in shown                    # bold headline
    assert "\x1b[1;33mШойгу\x1b[0m" in shown                        # coloured match
    widths = [len(ANSI.sub("", line)) for line in shown.split("\r\n")]
    assert max(widths) <= 120 and max(widths) > 100                # wrapped at 120, not 80


@pytest.mark.parametrize("env, args", [({"NO_COLOR": "1"}, []), ({}, ["--no-color"])])
def test_no_color_marks_matches_instead(sample_index_dir, env, args):
    code, shown = run_in_terminal(["search", "Шойгу", "--index", str(sample_index_dir), *args],
                                  env=env)
    assert code == 0 and "\x1b[" not in shown
    assert "[Шойгу]" in shown and HEADLINE in shown


@pytest.mark.parametrize("args, paged", [([], True), (["--no-pager"], False)])
def test_long_output_goes_through_the_pager(sample_index_dir, args, paged):
    code, shown = run_in_terminal(["search", "металл", "--index", str(sample_index_dir), *args],
                                  rows=10, env={"PAGER": "sed s/^/PAGED:/"})
    assert code == 0
    lines = ANSI.sub("", shown).split("\r\n")
    assert lines[0].startswith("PAGED:10 found" if paged else "10 found")


def test_compact_format_is_one_line_per_hit(sample_index_dir):
    code, shown = run_in_terminal(["search", "металл", "--index", str(sample_index_dir),
                                   "--format", "compact", "--limit", "5"], columns=100)
    lines = ANSI.sub("", shown).split("\r\n")
    assert code == 0 and lines[1] == "" and len([line for line in lines if line]) == 6
    assert all(len(line) <= 100 for line in lines)
    assert [line[:5] for line in lines[2:7]] == ["  1. ", "  2. ", "  3. ", "  4. ", "  5. "]


# (runs, width, colour) -> lines: visible characters count, colour codes do not.
WRAPS = [
    ([("Выпуск никеля вырос", None)], 13, False, ["Выпуск никеля", "вырос"]),
    ([("Выпуск ", None), ("никеля", "match"), (" вырос", None)], 14, False,
     ["Выпуск", "[никеля] вырос"]),
    ([("Выпуск ", None), ("никеля", "match"), (" вырос", None)], 13, True,
     ["Выпуск \x1b[1;33mникеля\x1b[0m", "вырос"]),
    ([("Рост  выпуска", "headline")], 40, True, ["\x1b[1mРост выпуска\x1b[0m"]),
    ([("Одно-очень-длинное-слово", None)], 10, False, ["Одно-очень-длинное-слово"]),
    ([("стоп\x1b[31mкран", None)], 40, False, ["стоп[31mкран"]),  # no escape reaches the terminal
]


@pytest.mark.parametrize("runs, width, colour, lines", WRAPS)
def test_wrap(runs, width, colour, lines):
    assert wrap(runs, width, colour) == lines
    assert all(len(click.unstyle(line)) <= width or " " not in line for line in lines)


TRUNCATES = [
    ([("Выпуск никеля", None)], 13, "Выпуск никеля"),
    ([("Выпуск никеля вырос", None)], 13, "Выпуск…"),
    ([("Выпуск ", None), ("никеля", "match")], 10, "Выпуск…"),
]


@pytest.mark.parametrize("runs, width, line", TRUNCATES)
def test_truncate(runs, width, line):
    assert truncate(runs, width, False) == line


@pytest.mark.parametrize("flag, no_color, tty, expected", [
    (None, "", True, True), (None, "1", True, False), (None, "", False, False),
    (True, "1", False, True), (False, "", True, False),
])
def test_colour_wanted(monkeypatch, flag, no_color, tty, expected):
    monkeypatch.setenv("NO_COLOR", no_color)
    monkeypatch.setenv("TERM", "xterm")

    class Stream:
        def isatty(self):
            return tty
    assert colour_wanted(flag, Stream()) is expected
