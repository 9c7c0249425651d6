"""Bad input to search: every query gets results, a lenient reading or one clear error.

Hypothesis builds queries from the query language's own pieces (quotes,
parentheses, operators, fields, dates, wildcards) and from arbitrary text,
control characters and mixed scripts, then runs them through the parser, the
library and the command line. Never a traceback.
"""

import re

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer import PoiskError, QuerySyntaxError
from search import open_index
from search.cli import cli
from search.query import (
    AllOf, AnyOf, DateRange, Everything, FieldValue, Loose, Not, Phrase, Word, parse_query)

NODES = (AllOf, AnyOf, DateRange, Everything, FieldValue, Loose, Not, Phrase, Word)

PIECES = [
    '"', "«", "»", "„", "“", "”", "(", ")", "((", "))", "AND", "OR", "NOT", "И", "ИЛИ", "НЕ",
    "and", "-", "+", "*", "=", "~", "~3", "~999", ":", "::", "title:", "заголовок:", "body:",
    "source:", "tag:", "id:", "date:", "дата:", "date:2026", "date:2026-03", "date:2026-03-14..",
    "date:..2025-12-31", "date:2026-13", "date:2026..2025", "foo:", "*:*", "никель", "металлов",
    "редкозем*", "=металлов", "-уголь", "+медь", "и", "в", "на", "не", "что", "Ангаро-Енисейский",
    "ИИ", "РФ", "nickel", "Ni", "3,5", "2026", "ёлка", "\x00", "\x07", "\x1b[31m", "\t", "\n",
    "\u200b", "\u202e", "\u2028", "\ufeff", "\ud800", "🙂", "镍", "ニッケル", "ñ", "Ⅻ", "١٢",
]

pieces = st.lists(st.sampled_from(PIECES), max_size=14)
queries = st.one_of(
    pieces.map(" ".join),
    pieces.map("".join),
    st.text(max_size=80),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FFF), max_size=40),
    st.builds(lambda a, b: a + b, pieces.map(" ".join), st.text(max_size=20)),
)

FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

ERROR_LINE = re.compile(r"Error: [^\n]+\n")
FOUND_LINE = re.compile(r"(Nothing found for .*\.|\d+ found for .* \(showing [\d-]+\):)")


@FUZZ
@given(queries)
def test_the_parser_returns_a_tree_or_a_query_syntax_error(text):
    try:
        tree = parse_query(text)
    except QuerySyntaxError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert isinstance(tree, NODES)


@FUZZ
@given(queries)
def test_the_library_returns_results_or_a_poisk_error(sample_index, text):
    try:
        result = sample_index.search(text, limit=5)
    except PoiskError as error:
        assert str(error) and "\n" not in str(error)
    else:
        assert 0 <= len(result.hits) <= min(5, result.total)
        assert all(hit.id for hit in result.hits)


# Each example runs the whole command (a minute for 200): the default run tries 40,
# the slow run (-m slow) 400.
CLI_OPTIONS = st.sampled_from([[], ["--json"], ["--sort", "date"], ["--since", "2026-01"]])


@settings(FUZZ, max_examples=40)
@given(queries, CLI_OPTIONS)
def test_the_command_line_never_shows_a_traceback(sample_index_dir, text, options):
    check_command_line(sample_index_dir, text, options)


@pytest.mark.slow
@settings(FUZZ, max_examples=400)
@given(queries, CLI_OPTIONS)
def test_the_command_line_never_shows_a_traceback_at_length(sample_index_dir, text, options):
    check_command_line(sample_index_dir, text, options)


def check_command_line(sample_index_dir, text, options):
    result = CliRunner().invoke(
        cli, ["search", "--index", str(sample_index_dir), "--no-color", *options, "--", text])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    if result.exit_code == 1:
        assert ERROR_LINE.fullmatch(result.output)  # one line, no traceback
    elif "--json" not in options:
        assert FOUND_LINE.fullmatch(result.output.split("\n", 1)[0])


# What each kind of bad query does: (query, exit code, first line of the output).
CASES = [
    ('"никель', 0, "4 found for '\"никель' (showing 1-4):"),           # unbalanced quote
    ("никель»", 0, "4 found for 'никель»' (showing 1-4):"),
    ("(никель OR медь", 0, "5 found for '(никель OR медь' (showing 1-5):"),  # unbalanced (
    ("никель OR медь))", 0, "5 found for 'никель OR медь))' (showing 1-5):"),
    ("никель AND", 0, "4 found for 'никель AND' (showing 1-4):"),      # dangling operator
    ("OR никель", 0, "4 found for 'OR никель' (showing 1-4):"),
    ("AND", 1, "Error: empty query: type some words to search for (or * for everything)"),
    ("NOT НЕ ИЛИ", 1, "Error: empty query: type some words to search for (or * for everything)"),
    ("-", 1, "Error: empty query: type some words to search for (or * for everything)"),
    ("foo:bar", 1, "Error: unknown field 'foo:': the fields are title:, headline:, заголовок:, "
                   "body:, text:, текст:, source:, источник:, tag:, tags:, тег:, region:, "
                   "regions:, регион:, district:, округ:, industry:, industries:, отрасль:, id:, "
                   "date:, дата:"),
    ("никель:", 0, "4 found for 'никель:' (showing 1-4):"),  # a word before a colon
    ("*", 0, "30 found for '*' (showing 1-10):"),                        # wildcard alone: all
    ("title:*", 0, "30 found for 'title:*' (showing 1-10):"),
    ("=*", 1, "Error: empty query: type some words to search for (or * for everything)"),
    ("н*", 1, "Error: the prefix 'н*' is too short: give at least 2 letters before *"),
    ("никель\x00\x07\x1b[31m", 0, "4 found for 'никель\\x00\\x07\\x1b[31m' (showing 1-4):"),
    ("\u202eникель", 0, "4 found for '\\u202eникель' (showing 1-4):"),
    ("nickel никель 镍", 0, "4 found for 'nickel никель 镍' (showing 1-4):"),  # mixed scripts
    ("и в на", 1, "Error: nothing to search for: the query holds only stop words or punctuation"),
    ("...!?", 1, "Error: nothing to search for: the query holds only stop words or punctuation"),
    ("", 1, "Error: empty query: type some words to search for (or * for everything)"),
    ("date:вчера", 1, "Error: cannot read the date 'вчера': use YYYY-MM-DD, YYYY-MM or YYYY, and "
                      "A..B for a range"),
    ("date:2026..2025", 1, "Error: date range '2026..2025' ends before it starts"),
]


@pytest.mark.parametrize("query, exit_code, first_line", CASES, ids=[c[0][:20] for c in CASES])
def test_each_kind_of_bad_query(sample_index_dir, query, exit_code, first_line):
    result = CliRunner().invoke(
        cli, ["search", "--index", str(sample_index_dir), "--no-color", "--", query])
    assert (result.exit_code, result.output.split("\n", 1)[0]) == (exit_code, first_line)
    if exit_code == 1:
        assert result.output == first_line + "\n"


@pytest.mark.parametrize("query", [
    "никель " * 2000,                      # 14,000 characters: read up to the first 2,000
    "(" * 5000 + "никель" + ")" * 5000,    # nesting deeper than the parser follows
    "НЕ " * 600 + "никель",                # a chain of negations
    '"' + "никель медь " * 500,            # one endless phrase
    "никель~" * 1000,
    "редкозем* " * 500,
])
def test_very_long_queries_answer_quickly(sample_index_dir, query):
    result = CliRunner().invoke(
        cli, ["search", "--index", str(sample_index_dir), "--no-color", "--", query])
    assert result.exit_code in (0, 1)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    first = result.output.split("\n", 1)[0]
    assert FOUND_LINE.fullmatch(first) or ERROR_LINE.fullmatch(result.output)


def test_a_query_that_is_not_text():
    with pytest.raises(QuerySyntaxError, match="the query must be text"):
        parse_query(b"\xd0\xbd")


def test_missing_and_foreign_indexes_in_search(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for folder, message in [
        (tmp_path / "nowhere", f"no index at {tmp_path / 'nowhere'}: run `poisk index PATH...` "
                               "first"),
        (tmp_path, f"{tmp_path} is not a poisk index (no poisk-index.json); poisk opens only "
                   "indexes it made, because an index holds pickled code"),
    ]:
        result = CliRunner().invoke(cli, ["search", "никель", "--index", str(folder)])
        assert (result.exit_code, result.output) == (1, f"Error: {message}\n")
        with pytest.raises(PoiskError):
            open_index(folder)
