"""Bad input to the indexer and bad index folders: reported with file and line, skipped, counted.

Every case writes real files in a temporary folder and indexes them with the real
analyzer; the command-line cases check the exact messages and exit codes.
"""

import gzip
import json
import os
import pathlib
import pickle
import re
import shutil

import pytest
from click.testing import CliRunner
from whoosh import index as whoosh_index
from whoosh.analysis import Filter
from whoosh.fields import ID, Schema
from whoosh.query import Term

from indexer import Article, IndexCorrupted, IndexNotFound, Rejected, SourceError, build_index
from indexer import index_articles, read_sources
from indexer.sources import BINARY, MAX_ARTICLE_CHARS, NOT_UTF8, NUL_BYTE, TOO_LARGE, UTF16
from indexer.storage import FORMAT_VERSION, MARKER_FILE, make_schema, open_whoosh_index
from search import open_index
from search.cli import cli
from tests.conftest import DATA

GOOD = " date 2026-03-14 Норильский комбинат нарастил выпуск никеля\n\nКомбинат выпустил никель.\n"
HUGE = 20 * 1024 * 1024  # a 20 MB article
SUMMARY_RE = r"(\d+) added, 0 updated, 0 skipped, (\d+) failed in [\d.]+ s \([\d.]+ documents/s\)"


def jsonl(*records):
    """JSON Lines bytes; a record given as bytes is written as that raw line."""
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()
                      for r in records) + b"\n"


def problems(records, base):
    """(origin relative to base, reason) of each Rejected; ids of each Article."""
    rejected = [(r.origin.replace(f"{base}{os.sep}", ""), r.reason)
                for r in records if isinstance(r, Rejected)]
    ids = [r.id.removeprefix(f"{pathlib.Path(base).name}/")
           for r in records if isinstance(r, Article)]
    return rejected, ids


# -- one file, one table row ---------------------------------------------------

# (file name, contents, [(origin, reason)], ids of the good records)
FILES = [
    ("good.txt", GOOD.encode(), [], ["good"]),
    ("cp1251.txt", GOOD.encode("cp1251"), [], ["cp1251"]),
    ("undecodable.txt", "Заголовок\nПервая строка.\n".encode() + b"\xff\xfe\n" + "Ещё.".encode(),
     [("undecodable.txt:3", NOT_UTF8)], []),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
     [("binary.txt", BINARY)], []),
    ("utf16.txt", GOOD.encode("utf-16"),
     [("utf16.txt", UTF16)], []),
    ("empty.txt", b"", [("empty.txt:1", "empty article (no headline, no body)")], []),
    ("blank.txt", b" \n\n \n", [("blank.txt:1", "empty article (no headline, no body)")], []),
    ("headline-only.txt", "Только заголовок\n".encode(),
     [("headline-only.txt:1", "article has a headline but no body")], []),
    ("no-headline.txt", " date 2026-03-14 \n\nТекст без заголовка.\nВторая строка.".encode(),
     [], ["no-headline"]),
    ("bad-date.txt", " date 14.03.2026 Заголовок\n\nТекст.".encode(),
     [("bad-date.txt:1", "bad date '14.03.2026' (expected YYYY-MM-DD)")], []),
    ("impossible-date.txt", " date 2026-02-30 Заголовок\n\nТекст.".encode(),
     [("impossible-date.txt:1", "bad date '2026-02-30' (expected YYYY-MM-DD)")], []),
    ("huge.txt", b" date 2026-01-01 Big\n\n" + b"x" * HUGE,
     [("huge.txt", f"file too large for one article ({HUGE + 22:,} bytes; an article may have "
                   f"at most {MAX_ARTICLE_CHARS:,} characters)")], []),
    ("news.jsonl", jsonl(
        {"id": "j1", "title": "Никель", "text": "Комбинат выпустил никель."},
        b'{"id": "j2", "title": "broken',
        {"id": "j3", "title": "Медь", "text": "Рудник добыл медь.", "date": "2026-03-14T10:00"},
        {"id": "j1", "title": "Дубль", "text": "Тот же id."},  # duplicates are judged at indexing
        {"id": "j5", "title": "Дата", "text": "Текст.", "date": "14/03/2026"},
        [1, 2],
        b"[" * 100_000 + b"]" * 100_000,
        {"id": "j8", "title": {"ru": "Заголовок"}, "text": "Текст."},
        b'{"id": "j9", "title": "T", "text": "a \\ud800 b"}',
        b'{"id": "j10", "title": "\xff", "text": "x"}',
        {"id": "j11", "text": "Первая строка стоит за заголовок.\nВторая строка."},
        {"id": "j12", "title": "Заголовок без текста"},
        {"id": "j13", "title": "Абзацы", "text": "Первый абзац\u2028второй абзац."},
        b"",
        {},
        {"id": "j16", "title": "Теги", "text": "Текст.", "tags": 5},
        {"id": "j17", "title": "Дата", "text": "Текст.", "date": "2026-03-14garbage"},
    ), [
        ("news.jsonl:2", "broken JSON (Unterminated string starting at)"),
        ("news.jsonl:5", "bad date '14/03/2026' (expected YYYY-MM-DD)"),
        ("news.jsonl:6", "a line must hold a JSON object"),
        ("news.jsonl:7", "broken JSON (nested too deeply)"),
        ("news.jsonl:8", "'title' must be text, not a JSON object"),
        ("news.jsonl:9", "invalid Unicode: an unpaired surrogate (\\ud800-\\udfff)"),
        ("news.jsonl:10", NOT_UTF8),
        ("news.jsonl:12", "article has a headline but no body"),
        ("news.jsonl:15", "empty article (no headline, no body)"),
        ("news.jsonl:16", "tags must be a list or a comma-separated string"),
        ("news.jsonl:17", "bad date '2026-03-14garbage' (expected YYYY-MM-DD)"),
    ], ["j1", "j3", "j1", "j11", "j13"]),
    ("huge.jsonl", jsonl({"id": "big", "title": "Огромная", "text": "сталь " * 3_500_000},
                         {"id": "after", "title": "После", "text": "Следующая строка."}),
     [("huge.jsonl:1", TOO_LARGE)], ["after"]),  # a 38 MB line, over the record bound
    ("long.jsonl", jsonl({"id": "long", "title": "Длинная", "text": "сталь " * 400_000}),
     [("long.jsonl:1", f"article too long (2,399,999 characters; the limit is "
                       f"{MAX_ARTICLE_CHARS:,})")], []),
    ("empty.jsonl", b"", [("empty.jsonl", "empty file: no records")], []),
    ("feed.csv", (
        "id,title,text,date\n"
        "c1,Уголь,\"Отгрузка угля, выросла.\",2026-02-01\n"
        "c2,Нет текста\n"
        "c3,Лишнее,Текст.,2026-02-01,лишнее\n"
        "\n"
        "c4,Многострочная,\"Первая строка\nвторая строка\",2026-02-02\n"
        "c5,Дата,Текст.,вчера\n").encode("cp1251"), [
        ("feed.csv:3", "2 fields where the header names 4"),
        ("feed.csv:4", "5 fields where the header names 4"),
        ("feed.csv:8", "bad date 'вчера' (expected YYYY-MM-DD)"),
    ], ["c1", "c4"]),
    ("no-text-column.csv", "id,title\n1,Никель\n".encode(),
     [("no-text-column.csv:1", "CSV header has no 'text' (or 'body') column")], []),
    ("damaged.csv", "id,title,text\nd1,Никель,Текст про никель.\n".encode()
     + b"d2,\xff\xfe,x\n" + "d3,Медь,\"Текст\nпро медь.\"\n".encode(),
     [("damaged.csv:3", NOT_UTF8)], ["d1", "d3"]),
    ("long-field.csv", ("id,title,text\nl1,Длинная," + "x" * (MAX_ARTICLE_CHARS + 10)
                        + "\nl2,Короткая,Текст.\n").encode(),
     [("long-field.csv:2", f"broken CSV row (field larger than field limit "
                           f"({MAX_ARTICLE_CHARS + 1}))")], ["l2"]),
    ("nul-later.csv", ("id,title,text\n" + "n0,Т,Текст.\n" * 1000).encode()
     + b"n1,a,b\x00c\n" + "n2,Медь,Текст.\n".encode(),
     [("nul-later.csv:1002", NUL_BYTE)], ["n0"] * 1000 + ["n2"]),
    ("nul-first.csv", "id,title,text\nn1,Никель,Текст.\n".encode() + b"n2,a,b\x00c\n"
     + "n3,Медь,Текст.\n".encode(), [("nul-first.csv:3", NUL_BYTE)], ["n1", "n3"]),
    ("nul-first.jsonl", jsonl({"id": "n1", "title": "Никель", "text": "Текст."},
                              b'{"id": "n2", "title": "a\x00\x00", "text": "b"}',
                              {"id": "n3", "title": "Медь", "text": "Текст."}),
     [("nul-first.jsonl:2", NUL_BYTE)], ["n1", "n3"]),  # one NUL costs only its record
    ("zeroed-block.jsonl", jsonl({"id": "z1", "title": "Никель", "text": "Текст."},
                                 b"\x00" * 4096, {"id": "z3", "title": "Медь", "text": "Текст."}),
     [("zeroed-block.jsonl:2", NUL_BYTE)], ["z1", "z3"]),  # a block zeroed by a crash
    ("binary.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
     [("binary.jsonl", BINARY)], []),
    ("truncated.jsonl.gz", None, [("truncated.jsonl.gz:1", "broken gzip file (Compressed file "
                                   "ended before the end-of-stream marker was reached)")], []),
    ("notes.md", b"# not an article", [("notes.md", "unsupported file type (expected .txt, "
                                        ".jsonl, .jsonl.gz, .ndjson, .ndjson.gz, .json, "
                                        ".csv)")], []),
]


def truncated_gzip():
    whole = gzip.compress(jsonl({"id": "g", "title": "Газ", "text": "Текст."}) * 50)
    return whole[: len(whole) // 2]


@pytest.mark.parametrize("name, contents, rejected, ids", FILES, ids=[f[0] for f in FILES])
def test_each_bad_record_is_reported_with_file_and_line(tmp_path, name, contents, rejected, ids):
    path = tmp_path / name
    path.write_bytes(truncated_gzip() if contents is None else contents)
    assert problems(list(read_sources([path])), tmp_path) == (rejected, ids)


def test_a_truncated_gzip_keeps_the_records_before_the_damage(tmp_path):
    lines = b"".join(jsonl({"id": f"r{i}", "title": "Газ", "text": f"Текст {i} " + "слово " * i})
                     for i in range(3000))
    whole = gzip.compress(lines)
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 3 // 4])
    records = list(read_sources([path]))
    good = [r.id for r in records if not isinstance(r, Rejected)]
    (broken,) = [r for r in records if isinstance(r, Rejected)]
    assert good == [f"r{i}" for i in range(len(good))] and 1000 < len(good) < 3000
    assert broken.origin == f"{path}:{len(good) + 1}" and "broken gzip file" in broken.reason


# -- folders -------------------------------------------------------------------

def test_symlink_loops_and_links_are_walked_once(tmp_path):
    feed = tmp_path / "feed"
    (feed / "2026").mkdir(parents=True)
    (feed / "2026" / "a.txt").write_text(GOOD)
    (feed / "2026" / "up").symlink_to("..")            # a loop back to feed/
    (feed / "latest").symlink_to("2026")               # the same folder by another name
    (feed / "self.txt").symlink_to("self.txt")         # a file link to itself
    (feed / "dangling.txt").symlink_to("nowhere.txt")
    (feed / "ring-a").symlink_to("ring-b")             # two links pointing at each other
    (feed / "ring-b").symlink_to("ring-a")
    (feed / ".hidden").mkdir()
    (feed / ".hidden" / "b.txt").write_text(GOOD)
    records = list(read_sources([feed]))
    assert problems(records, tmp_path) == ([
        ("feed/dangling.txt", "cannot read: No such file or directory"),
        ("feed/self.txt", "cannot read: Too many levels of symbolic links"),
        ("feed/2026/up", "symlink loop: leads back to a folder above it; not followed"),
    ], ["feed/2026/a"])


def test_pipes_and_devices_are_never_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would block for ever
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")  # reading it would never end
    assert problems(list(read_sources([tmp_path])), tmp_path) == ([
        ("pipe.txt", "not a regular file (a device, pipe or socket)"),
        ("zero.jsonl", "not a regular file (a device, pipe or socket)"),
    ], [])


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_a_file_that_fails_to_read(tmp_path):
    # /proc/self/mem opens as a regular file and fails with EIO on read, for root too.
    (tmp_path / "a.txt").write_text(GOOD)
    (tmp_path / "b.txt").symlink_to("/proc/self/mem")
    assert problems(list(read_sources([tmp_path])), tmp_path) == (
        [("b.txt", "cannot read: Input/output error")], ["a"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file and folder")
def test_unreadable_files_and_folders(tmp_path):
    (tmp_path / "a.txt").write_text(GOOD)
    (tmp_path / "secret.txt").write_text(GOOD)
    (tmp_path / "secret.txt").chmod(0)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "c.txt").write_text(GOOD)
    (tmp_path / "locked").chmod(0)
    try:
        assert problems(list(read_sources([tmp_path])), tmp_path) == ([
            ("secret.txt", "cannot read: Permission denied"),
            ("locked", "cannot read the folder: Permission denied"),
        ], ["a"])
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_a_folder_that_cannot_be_listed(tmp_path):
    # A real listing failure that happens for root too: a path longer than PATH_MAX.
    deep = os.open(tmp_path, os.O_RDONLY)
    name = "п" * 120  # 240 bytes
    try:
        for _ in range(20):
            os.mkdir(name, dir_fd=deep)
            inner = os.open(name, os.O_RDONLY, dir_fd=deep)
            os.close(deep)
            deep = inner
    finally:
        os.close(deep)
    (tmp_path / "a.txt").write_text(GOOD)
    rejected, ids = problems(list(read_sources([tmp_path])), tmp_path)
    assert ids == ["a"]
    [(origin, reason)] = rejected
    assert reason == "cannot read the folder: File name too long"
    assert origin.startswith(name + "/") and len(os.fsencode(origin)) > 4000


def test_paths_that_do_not_exist(tmp_path):
    missing = tmp_path / "missing"
    assert list(read_sources([missing])) == [Rejected(str(missing), "no such file or folder")]


# -- the command line ----------------------------------------------------------

def write_mixed_feed(folder):
    """Three good articles and one of each common problem."""
    folder.mkdir()
    (folder / "a-good.txt").write_text(GOOD)
    (folder / "b-binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (folder / "c-empty.txt").write_bytes(b"")
    (folder / "d-huge.txt").write_bytes(b"x" * HUGE)
    (folder / "news.jsonl").write_bytes(jsonl(
        {"id": "j1", "title": "Медь", "text": "Рудник добыл медь."},
        b"{broken",
        {"id": "j1", "title": "Дубль", "text": "Другой текст."},
        {"id": "j4", "title": "Палладий", "text": "Завод выпустил палладий.", "date": "2026-3-1"},
        {"id": "j5", "title": "Палладий", "text": "Завод выпустил палладий."},
    ))
    (folder / "feed.csv").write_text("id,title\n1,Никель\n")


MIXED_PROBLEMS = """\
skipped feed/b-binary.txt: not text in UTF-8, cp1251 or KOI8-R (binary file?)
skipped feed/c-empty.txt:1: empty article (no headline, no body)
skipped feed/d-huge.txt: file too large for one article (20,971,520 bytes; an article may have \
at most 2,000,000 characters)
skipped feed/feed.csv:1: CSV header has no 'text' (or 'body') column
skipped feed/news.jsonl:2: broken JSON (Expecting property name enclosed in double quotes)
skipped feed/news.jsonl:3: duplicate id 'j1' (first at feed/news.jsonl:1)
skipped feed/news.jsonl:4: bad date '2026-3-1' (expected YYYY-MM-DD)
"""


def test_cli_reports_skips_counts_and_exits_1(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_mixed_feed(tmp_path / "feed")
    result = CliRunner().invoke(cli, ["index", "feed", "--index", "ix"])
    assert result.exit_code == 1
    assert result.stderr == MIXED_PROBLEMS
    assert re.fullmatch(SUMMARY_RE + "\n", result.stdout).groups() == ("3", "7")
    with open_index("ix") as index:
        assert sorted(h.id for h in index.search("*", limit=10).hits) == ["feed/a-good", "j1", "j5"]
        assert index.get("j1").headline == "Медь"  # the first of the duplicates wins
    # Nothing changed: the good records are skipped, the bad ones fail again.
    again = CliRunner().invoke(cli, ["index", "feed", "--index", "ix"])
    assert again.exit_code == 1
    assert again.stdout.startswith("0 added, 0 updated, 3 skipped, 7 failed in ")


def test_cli_shows_twenty_problems_then_counts_the_rest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "news.jsonl").write_bytes(
        jsonl({"id": "ok", "title": "Медь", "text": "Текст."}) + b"{broken\n" * 25)
    result = CliRunner().invoke(cli, ["index", "news.jsonl", "--index", "ix"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[:2] == ["skipped news.jsonl:2: broken JSON (Expecting property name enclosed in "
                         "double quotes)", "skipped news.jsonl:3: broken JSON (Expecting "
                         "property name enclosed in double quotes)"]
    assert len(lines) == 21 and lines[-1] == "... and 5 more"
    assert re.fullmatch(SUMMARY_RE + "\n", result.stdout).groups() == ("1", "25")


def five_news_then(*records):
    """A JSON Lines file of five good news records (n0..n4) and then ``records``."""
    return jsonl(*({"id": f"n{i}", "title": "Никель", "text": f"Выпуск никеля, отчёт {i}."}
                   for i in range(5)), *records)


def test_strict_stops_at_the_first_bad_record_and_keeps_what_came_before(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "news.jsonl").write_bytes(
        five_news_then(b"{broken", {"id": "after", "title": "Медь", "text": "Не будет прочитан."}))
    result = CliRunner().invoke(cli, ["index", "news.jsonl", "--index", "ix", "--strict",
                                      "--batch-size", "2"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: news.jsonl:6: broken JSON (Expecting property name enclosed in double quotes) "
        "(--strict: stopped at the first bad record; the 5 documents written before it are "
        "committed)\n")
    with open_index("ix") as index:
        assert sorted(h.id for h in index.search("*", group=False).hits) == [f"n{i}" for i in range(5)]
    lenient = CliRunner().invoke(cli, ["index", "news.jsonl", "--index", "ix"])
    assert lenient.exit_code == 1
    assert lenient.stdout.startswith("1 added, 0 updated, 5 skipped, 1 failed in ")


def test_strict_rebuild_stopped_at_a_bad_record_keeps_the_old_index_and_says_so(tmp_path,
                                                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.jsonl").write_bytes(jsonl({"id": "old", "title": "Медь", "text": "Старое."}))
    (tmp_path / "news.jsonl").write_bytes(five_news_then(b"{broken"))
    assert CliRunner().invoke(cli, ["index", "old.jsonl", "--index", "ix"]).exit_code == 0
    result = CliRunner().invoke(cli, ["index", "news.jsonl", "--index", "ix", "--strict",
                                      "--rebuild", "--batch-size", "2"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: news.jsonl:6: broken JSON (Expecting property name enclosed in double quotes) "
        "(--strict: stopped at the first bad record; the rebuild is abandoned and the index "
        "is as it was)\n")
    with open_index("ix") as index:
        assert [h.id for h in index.search("*", group=False).hits] == ["old"]
    assert not [name for name in os.listdir("ix") if name.endswith(".tmp")]  # no rebuild folder


def test_every_good_record_is_indexed_and_searchable(tmp_path):
    write_mixed_feed(tmp_path / "feed")
    report = build_index([tmp_path / "feed"], tmp_path / "ix")
    assert (report.added, report.failed) == (3, 7)
    with open_index(tmp_path / "ix") as index:
        assert [h.id for h in index.search("палладия").hits] == ["j5"]
        assert [h.id for h in index.search("никелем").hits] == ["feed/a-good"]


def test_duplicate_ids_across_files_in_one_run(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(jsonl({"id": "x", "title": "Первый", "text": "Один."}))
    (tmp_path / "b.jsonl").write_bytes(jsonl({"id": "x", "title": "Второй", "text": "Два."}))
    report = build_index([tmp_path], tmp_path / "ix")
    assert (report.added, report.failed) == (1, 1)
    [problem] = report.problems
    assert problem == Rejected(f"{tmp_path / 'b.jsonl'}:1",
                               f"duplicate id 'x' (first at {tmp_path / 'a.jsonl'}:1)")
    # A later run may change the article: an update, not a duplicate.
    (tmp_path / "a.jsonl").write_bytes(jsonl({"id": "x", "title": "Новый", "text": "Три."}))
    report = build_index([tmp_path / "a.jsonl"], tmp_path / "ix")
    assert (report.updated, report.failed) == (1, 0)
    with open_index(tmp_path / "ix") as index:
        assert index.doc_count == 1 and index.get("x").headline == "Новый"


# -- a record Whoosh itself fails on -------------------------------------------

class ExplodingFilter(Filter):
    """A real analyzer stage that fails on one word, as a bug or a bad input might."""

    def __call__(self, tokens):
        for token in tokens:
            if token.text == "взрыв":
                raise ValueError("cannot analyse 'взрыв'")
            yield token


def exploding_schema():
    schema = make_schema()
    analyzer = schema["body"].analyzer | ExplodingFilter()
    schema["headline"].analyzer = schema["body"].analyzer = analyzer
    return schema


BATCH = [
    Article(id="a", headline="Никель", body="Первый документ про никель.", origin="feed:1"),
    # Whoosh indexes "body" before "headline": the body's terms reach the writer
    # before the headline fails. They must not end up in the index.
    Article(id="b", headline="Взрыв на заводе", body="Сверхредкоеслово в теле.", origin="feed:2"),
    Article(id="c", headline="Медь", body="Третий документ про медь.", origin="feed:3"),
]


# One batch in this process, or a batch per document in worker processes.
IN_PROCESS_OR_WORKERS = pytest.mark.parametrize("options", [
    {"workers": 0}, {"workers": 2, "batch_size": 1}], ids=["in-process", "workers"])


@IN_PROCESS_OR_WORKERS
def test_a_record_whoosh_fails_on_is_skipped_without_leaving_half_a_document(tmp_path, options):
    report = index_articles(BATCH, tmp_path / "ix", schema=exploding_schema(), **options)
    assert (report.added, report.failed) == (2, 1)
    assert report.problems == [
        Rejected("feed:2", "cannot index it (ValueError: cannot analyse 'взрыв')")]
    ix = open_whoosh_index(tmp_path / "ix")
    with ix.searcher() as searcher:
        assert searcher.doc_count() == 2
        for word, ids in [("сверхредкоеслово", []), ("медь", ["c"]), ("никель", ["a"])]:
            hits = searcher.search(Term("body", word), limit=None)
            assert [hit["id"] for hit in hits] == ids, word


@IN_PROCESS_OR_WORKERS
def test_strict_stops_at_a_record_whoosh_fails_on(tmp_path, options):
    with pytest.raises(SourceError, match=r"^feed:2: cannot index it .*the 1 documents "):
        index_articles(BATCH, tmp_path / "ix", schema=exploding_schema(), strict=True, **options)
    ix = open_whoosh_index(tmp_path / "ix")
    with ix.searcher() as searcher:
        assert [fields["id"] for fields in searcher.all_stored_fields()] == ["a"]


@IN_PROCESS_OR_WORKERS
def test_a_strict_rebuild_stopped_by_whoosh_leaves_the_index_as_it_was(tmp_path, options):
    index_articles([Article(id="old", headline="Медь", body="Старое.")], tmp_path / "ix")
    with pytest.raises(SourceError, match=r"^feed:2: cannot index it .*; the rebuild is "
                                          r"abandoned and the index is as it was\)$"):
        index_articles(BATCH, tmp_path / "ix", schema=exploding_schema(), strict=True,
                       rebuild=True, **options)
    ix = open_whoosh_index(tmp_path / "ix")
    with ix.searcher() as searcher:
        assert [fields["id"] for fields in searcher.all_stored_fields()] == ["old"]


# -- index folders: missing, empty, foreign, old, damaged ----------------------

@pytest.fixture(scope="module")
def built_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("built") / "ix"
    assert build_index([DATA], path).added == 30
    return path


def damaged_copy(built_index, tmp_path, damage):
    path = tmp_path / "ix"
    shutil.copytree(built_index, path)
    damage(path)
    return path


def only(path, pattern):
    [found] = path.glob(pattern)
    return found


REBUILD = "rebuild it with `poisk index --rebuild PATH...`"

FOLDERS = [
    ("missing", lambda p: shutil.rmtree(p), IndexNotFound,
     "no index at {ix}: run `poisk index PATH...` first"),
    ("empty", lambda p: [f.unlink() for f in p.iterdir()], IndexNotFound,
     "no index at {ix}: run `poisk index PATH...` first"),
    ("a file", lambda p: (shutil.rmtree(p), p.write_text("x")), IndexNotFound,
     "no index at {ix}: run `poisk index PATH...` first"),
    ("foreign", lambda p: (p / MARKER_FILE).unlink(), IndexNotFound,
     "{ix} is not a poisk index (no poisk-index.json); poisk opens only indexes it made, "
     "because an index holds pickled code"),
    ("other version", lambda p: (p / MARKER_FILE).write_text('{"format": 99}'), IndexCorrupted,
     f"{{ix}} was made by another poisk version (index format 99, this version reads "
     f"{FORMAT_VERSION}); " + REBUILD),
    ("damaged marker", lambda p: (p / MARKER_FILE).write_text('{"form'), IndexCorrupted,
     "the marker file poisk-index.json in {ix} is damaged; rebuild the index with "
     "`poisk index --rebuild PATH...`"),
    ("no commit", lambda p: only(p, "_MAIN_*.toc").unlink(), IndexNotFound,
     "{ix} holds no documents yet: run `poisk index PATH...`"),
    ("garbage table of contents", lambda p: only(p, "_MAIN_*.toc").write_bytes(b"\x05" * 64),
     IndexCorrupted, "cannot read the index at {ix} (IndexError: Index was created on different "
     "architecture: saved int = 5, this computer = 4); " + REBUILD),
    ("truncated segment", lambda p: os.truncate(only(p, "*.seg"), 1000), IndexCorrupted,
     "cannot read the index at {ix} (EOFError: Ran out of input); " + REBUILD),
    ("missing segment", lambda p: only(p, "*.seg").unlink(), IndexCorrupted,
     "cannot read the index at {ix} (missing file {seg}); " + REBUILD),
]


@pytest.mark.parametrize("name, damage, error, message", FOLDERS, ids=[f[0] for f in FOLDERS])
def test_bad_index_folders_get_a_clear_error_that_says_what_to_do(
        built_index, tmp_path, name, damage, error, message):
    segment = only(built_index, "*.seg").name
    path = damaged_copy(built_index, tmp_path, damage)
    expected = message.format(ix=path, seg=segment)
    with pytest.raises(error) as raised:
        open_index(path)
    assert str(raised.value) == expected
    for command in (["search", "никель"], ["stats"], ["show", "x"], ["delete", "x"]):
        result = CliRunner().invoke(cli, [*command, "--index", str(path)])
        assert (result.exit_code, result.output) == (1, f"Error: {expected}\n"), command


@pytest.mark.parametrize("name, damage, error, message",
                         [f for f in FOLDERS if f[2] is IndexCorrupted],
                         ids=[f[0] for f in FOLDERS if f[2] is IndexCorrupted])
def test_a_damaged_or_old_index_is_rebuilt_when_asked(
        built_index, tmp_path, name, damage, error, message):
    path = damaged_copy(built_index, tmp_path, damage)
    update = CliRunner().invoke(cli, ["index", str(DATA), "--index", str(path)])
    assert update.exit_code == 1 and "--rebuild" in update.output
    rebuild = CliRunner().invoke(cli, ["index", str(DATA), "--index", str(path), "--rebuild"])
    assert rebuild.exit_code == 0, rebuild.output
    with open_index(path) as index:
        assert index.doc_count == 30 and index.search("никель").total == 4


def test_index_refuses_a_folder_that_is_not_its_own(tmp_path):
    (tmp_path / "notes.txt").write_text("my notes")
    for extra in ([], ["--rebuild"]):
        result = CliRunner().invoke(cli, ["index", str(DATA), "--index", str(tmp_path), *extra])
        assert (result.exit_code, result.output) == (
            1, f"Error: {tmp_path} is not empty and is not a poisk index; choose an empty or "
               "new folder for the index\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(cli, ["index", str(DATA), "--index", str(tmp_path / "file")])
    assert (result.exit_code, result.output) == (
        1, f"Error: cannot use {tmp_path / 'file'} as the index folder (File exists); choose an "
           "empty or new folder for the index\n")


# -- safety --------------------------------------------------------------------

class Payload:
    """Unpickling this creates a file: the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_no_pickle_is_read_from_a_folder_without_the_marker(tmp_path):
    proof = tmp_path / "code-ran"
    schema = Schema(id=ID(stored=True))
    schema["id"].payload = Payload(str(proof))
    (tmp_path / "evil").mkdir()
    whoosh_index.create_in(tmp_path / "evil", schema)
    for attempt in (lambda: open_index(tmp_path / "evil"),
                    lambda: build_index([DATA], tmp_path / "evil")):
        with pytest.raises(IndexNotFound):
            attempt()
    result = CliRunner().invoke(cli, ["search", "x", "--index", str(tmp_path / "evil")])
    assert result.exit_code == 1
    assert not proof.exists()
    pickle.loads(pickle.dumps(schema))  # what Whoosh's plain unpickling would do
    assert proof.exists()


def test_nothing_is_written_outside_the_index_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(DATA, tmp_path / "data")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for args in (["index", "data", "--index", "ix"], ["search", "никель", "--index", "ix"],
                 ["index", "data", "--index", "ix", "--rebuild"], ["stats", "--index", "ix"],
                 ["delete", "data/dv-vedomosti/2025-09-18-magadan-zoloto", "--index", "ix"]):
        assert CliRunner().invoke(cli, args).exit_code == 0, args
    after = sorted(str(p) for p in tmp_path.rglob("*") if "ix" not in p.relative_to(tmp_path).parts)
    assert after == before


def test_paths_are_only_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    names = ["$(touch pwned).txt", "*.txt", "--rebuild.txt", "a;b|c.txt", "~user.txt",
             "file:%2Fetc%2Fpasswd.txt", "новости\nстрока.txt"]
    for name in names:
        (tmp_path / name).write_text(GOOD)
    result = CliRunner().invoke(cli, ["index", "--index", "ix", "--", *names])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{len(names)} added, 0 updated, 0 skipped, 0 failed in ")
    missing = CliRunner().invoke(cli, ["index", "--index", "ix", "--", "*.jsonl", "~/x.txt"])
    assert missing.exit_code == 1
    assert missing.stderr == ("skipped *.jsonl: no such file or folder\n"
                              "skipped ~/x.txt: no such file or folder\n")
    assert not (tmp_path / "pwned").exists()
    with open_index("ix") as index:
        assert index.doc_count == len(names)
        assert index.get("--rebuild").headline.startswith("Норильский")
