"""Reading articles: the header format, plain text, JSON Lines, CSV, and three encodings."""

import codecs
import datetime
import gzip
import json

import pytest

from indexer.sources import Article, Rejected, decode, read_sources
from tests.conftest import DATA

HEADED = " date 2026-03-14 Норильский комбинат нарастил выпуск никеля\n\nКРАСНОЯРСК, 14 марта. Рост.\n"


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-8"),
    lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    lambda text: text.encode("cp1251"),
], ids=["utf-8", "utf-8-bom", "cp1251"])
def test_text_articles_in_every_encoding(tmp_path, encode):
    folder = tmp_path / "sibir"
    folder.mkdir()
    (folder / "nikel.txt").write_bytes(encode(HEADED))
    (article,) = read_sources([folder])
    assert article == Article(
        id="sibir/nikel", headline="Норильский комбинат нарастил выпуск никеля",
        body="КРАСНОЯРСК, 14 марта. Рост.", date=datetime.date(2026, 3, 14), source="sibir")


def test_header_without_leading_space_and_plain_text(tmp_path):
    (tmp_path / "a.txt").write_text("date 2026-01-05 Заголовок\n\nТекст статьи.")
    (tmp_path / "b.txt").write_text("Первая строка — заголовок\nВторая строка — текст.")
    a, b = read_sources([tmp_path / "a.txt", tmp_path / "b.txt"], source="лента")
    assert (a.headline, a.date, a.source) == ("Заголовок", datetime.date(2026, 1, 5), "лента")
    assert (b.headline, b.body, b.date) == ("Первая строка — заголовок", "Вторая строка — текст.",
                                            None)


def test_the_sample_has_all_three_encodings():
    encodings = set()
    for path in DATA.rglob("*.txt"):
        raw = path.read_bytes()
        if raw.startswith(codecs.BOM_UTF8):
            encodings.add("utf-8-bom")
        else:
            try:
                raw.decode("utf-8")
                encodings.add("utf-8")
            except UnicodeDecodeError:
                encodings.add("cp1251")
    assert encodings == {"utf-8", "utf-8-bom", "cp1251"}
    articles = list(read_sources([DATA]))
    assert len(articles) == 30 and all(isinstance(a, Article) and a.date for a in articles)
    assert len({a.id for a in articles}) == 30


def test_jsonl_and_gzip(tmp_path):
    records = [
        {"id": "rt-1", "title": "Газ", "text": "Добыча газа выросла.", "date": "2018-01-02",
         "source": "russian.rt.com", "url": "https://example.org/1", "tags": ["газ", "Экономика"],
         "summary": "Коротко о газе."},
        {"title": "Без id", "text": "Текст без идентификатора."},
    ]
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    (tmp_path / "news.jsonl").write_text(lines)
    with gzip.open(tmp_path / "news.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(lines)
    plain = list(read_sources([tmp_path / "news.jsonl"]))
    zipped = list(read_sources([tmp_path / "news.jsonl.gz"]))
    assert plain == zipped
    first, second = plain
    assert first == Article(id="rt-1", headline="Газ", body="Коротко о газе.\nДобыча газа выросла.",
                            date=datetime.date(2018, 1, 2), source="russian.rt.com",
                            url="https://example.org/1", tags=("газ", "экономика"))
    assert second.id.startswith("sha1-") and second.source == "news"
    assert list(read_sources([tmp_path / "news.jsonl"]))[1].id == second.id  # stable


def test_csv_with_header(tmp_path):
    (tmp_path / "feed.csv").write_text(
        "id,title,text,date,tags\n"
        'c1,Уголь,"Отгрузка угля, выросла.",2026-02-01,уголь;экспорт\n', encoding="cp1251")
    (article,) = read_sources([tmp_path / "feed.csv"])
    assert (article.id, article.body, article.tags) == ("c1", "Отгрузка угля, выросла.",
                                                        ("уголь", "экспорт"))
    assert article.origin.endswith("feed.csv:2")


def test_decode_rejects_binary():
    assert decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00") is None
    assert decode(bytes(range(1, 256)) * 10) is None  # control bytes: not prose


def test_rejected_records_name_file_and_line(tmp_path):
    (tmp_path / "news.jsonl").write_text('{"id": "a", "text": "Текст."}\n{broken\n')
    good, bad = read_sources([tmp_path / "news.jsonl"])
    assert isinstance(good, Article)
    assert bad == Rejected(f"{tmp_path / 'news.jsonl'}:2", bad.reason) and "JSON" in bad.reason


# -- JSON Lines from standard input, .ndjson and .json arrays -------------------

def test_records_from_standard_input_and_ndjson_and_json_arrays(tmp_path):
    import subprocess
    import sys
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in (
        {"id": "s1", "title": "Никель", "text": "Комбинат выпустил никель."},
        {"id": "s2", "title": "Медь", "text": "Рудник добыл медь.", "date": "2026-03-14"}))
    (tmp_path / "feed.ndjson").write_text(lines.replace("s1", "n1").replace("s2", "n2"))
    (tmp_path / "feed.json").write_text(json.dumps(
        [{"id": "j1", "title": "Уголь", "text": "Разрез добыл уголь."}, [1]], ensure_ascii=False))
    result = subprocess.run(
        [sys.executable, "-m", "search", "index", "-", str(tmp_path / "feed.ndjson"),
         str(tmp_path / "feed.json"), "--index", str(tmp_path / "ix")],
        input=lines, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1  # the array's second item is not an object
    assert f"{tmp_path / 'feed.json'}[1]: a JSON array item must be a JSON object" \
        in result.stderr
    from search import open_index
    with open_index(tmp_path / "ix") as index:
        assert sorted(h.id for h in index.search("*", limit=10, group=False).hits) == [
            "j1", "n1", "n2", "s1", "s2"]
        assert index.get("s1").source == "stdin"
        assert index.get("n2").source == "feed"


# -- Unicode forms: decomposed letters and full-width ones match their ordinary spelling ----------

NFD_HEADLINE = "И\u0306ошкар-Ола закупит е\u0308мкости"  # й and ё written as two characters
ORDINARY_HEADLINE = "Йошкар-Ола закупит ёмкости"


@pytest.fixture(scope="module")
def unicode_forms_index(tmp_path_factory):
    from indexer import index_articles
    path = tmp_path_factory.mktemp("unicode") / "ix"
    index_articles([
        Article(id="nfd", headline=NFD_HEADLINE, body="Город объявил торги."),
        Article(id="composed", headline="Вологда закупит станки",
                body="Станки для Йошкар-Олы и ёмкости, никель ｎｉｃｋｅｌ."),
    ], path)
    from search import open_index
    with open_index(path) as index:
        yield index


@pytest.mark.parametrize("query, ids", [
    ("Йошкар-Ола", {"nfd", "composed"}),            # composed query, decomposed article
    ("И\u0306ошкар-Олы", {"nfd", "composed"}),      # decomposed query, composed article
    ("ёмкость", {"nfd", "composed"}),
    ("е\u0308мкостей", {"nfd", "composed"}),
    ("nickel", {"composed"}),                       # full-width letters are the ordinary ones
    ("ｎｉｃｋｅｌ", {"composed"}),
], ids=["composed-query", "decomposed-query", "composed-yo", "decomposed-yo", "ascii-query",
        "full-width-query"])
def test_unicode_forms_are_found_by_their_ordinary_spelling(unicode_forms_index, query, ids):
    result = unicode_forms_index.search(query, limit=10, group=False)
    assert {hit.id for hit in result.hits} == ids


@pytest.mark.parametrize("query, ids", [
    ("=Йошкар-Ола", {"nfd"}),                       # the stored headline is decomposed
    ("=И\u0306ошкар-Олы", {"composed"}),
    ("=ёмкости", {"nfd", "composed"}),
    ("=nickel", {"composed"}),                      # stored full-width
    ("=ｎｉｃｋｅｌ", {"composed"}),
], ids=["decomposed-text", "decomposed-query", "decomposed-yo", "full-width-text",
        "full-width-query"])
def test_exact_forms_match_decomposed_and_full_width_stored_text(unicode_forms_index, query, ids):
    result = unicode_forms_index.search(query, limit=10, group=False)
    assert {hit.id for hit in result.hits} == ids


def test_highlights_of_decomposed_letters_are_in_the_articles_own_characters(unicode_forms_index):
    (hit,) = unicode_forms_index.search("ёмкость Йошкар-Ола title:закупит", limit=1,
                                        group=False).hits
    words = [hit.headline[span.start:span.end] for span in hit.headline_highlights]
    assert hit.id == "nfd" and words == ["И\u0306ошкар-Ола", "закупит", "е\u0308мкости"]


# -- encodings decided line by line ----------------------------------------------------------

def jsonl_line(doc_id, title, text):
    return json.dumps({"id": doc_id, "title": title, "text": text}, ensure_ascii=False) + "\n"


def test_a_utf8_file_whose_first_mebibyte_ends_inside_a_letter_reads_as_utf8(tmp_path):
    # One long record across the first MiB, its byte 1,048,576 the second byte of
    # a two-byte letter; a short record after it.
    start = '{"id": "long", "title": "Палладий", "text": "'.encode()
    text = "x" * ((2**20 - len(start)) % 2 == 0) + "Палладий" * 70_000
    head = start + text.encode()
    assert head[2**20 - 1:2**20 + 1].decode() in "Палдий"
    path = tmp_path / "big.jsonl"
    path.write_bytes(head + b'"}\n' + jsonl_line("b", "Никель", "Выпуск никеля").encode())
    records = list(read_sources([path]))
    assert [(r.id, r.headline, r.body) for r in records] == [
        ("long", "Палладий", text), ("b", "Никель", "Выпуск никеля")]


def test_a_file_that_turns_from_cp1251_to_utf8_stores_both_parts_as_written(tmp_path):
    first = jsonl_line("c", "Уголь", "Отгрузка угля выросла. " * 40)
    head = first.encode("cp1251") * (2**20 // len(first) + 1)  # over 1 MiB of cp1251
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(head + jsonl_line("u", "Никель", "Выпуск никеля вырос.").encode()
                     + jsonl_line("k", "Медь", "Рудник добыл медь.").encode("koi8_r"))
    *cp1251, utf8, koi8 = read_sources([path])
    assert {(a.headline, a.body) for a in cp1251} == {("Уголь", ("Отгрузка угля выросла. " * 40)
                                                       .strip())}
    assert (utf8.headline, utf8.body) == ("Никель", "Выпуск никеля вырос.")
    assert (koi8.headline, koi8.body) == ("Медь", "Рудник добыл медь.")


def test_koi8r_text_is_told_from_cp1251(tmp_path):
    (tmp_path / "koi8.txt").write_bytes(HEADED.encode("koi8_r"))
    (tmp_path / "cp1251.txt").write_bytes(HEADED.encode("cp1251"))
    (tmp_path / "feed.csv").write_bytes(
        'id,title,text\nk1,Медь,"Рудник добыл медь, выпуск вырос."\n'.encode("koi8_r"))
    koi8, cp1251, row = read_sources([tmp_path / "koi8.txt", tmp_path / "cp1251.txt",
                                      tmp_path / "feed.csv"])
    assert koi8.headline == cp1251.headline == "Норильский комбинат нарастил выпуск никеля"
    assert koi8.body == cp1251.body == "КРАСНОЯРСК, 14 марта. Рост."
    assert row.body == "Рудник добыл медь, выпуск вырос."


def test_a_line_garbled_in_no_known_way_is_rejected_not_stored(tmp_path):
    garbled = "Палладий и никель".encode()[1:]  # UTF-8 that lost its first byte
    path = tmp_path / "news.jsonl"
    path.write_bytes(jsonl_line("a", "Никель", "Текст.").encode()
                     + b'{"id": "b", "title": "' + garbled + b'", "text": "x"}\n')
    good, bad = read_sources([path])
    assert good.id == "a" and bad.origin == f"{path}:2" and "neither UTF-8 nor" in bad.reason


# -- records bounded in size, CSV streamed ----------------------------------------------------

def test_an_over_long_line_is_skipped_to_its_end(tmp_path, monkeypatch):
    from indexer import sources
    monkeypatch.setattr(sources, "MAX_RECORD_BYTES", 5000)
    (tmp_path / "a.jsonl").write_text(jsonl_line("a", "Никель", "Текст.")
                                      + jsonl_line("big", "Длинная", "сталь " * 3000)
                                      + jsonl_line("c", "Медь", "Текст."))
    (tmp_path / "b.csv").write_text("id,title,text\na,Никель,Текст.\n"
                                    f"big,Длинная,{'сталь ' * 3000}\nc,Медь,Текст.\n")
    records = list(read_sources([tmp_path / "a.jsonl", tmp_path / "b.csv"]))
    assert [r.id if isinstance(r, Article) else str(r) for r in records] == [
        "a", f"{tmp_path / 'a.jsonl'}:2: {sources.TOO_LARGE}", "c",
        "a", f"{tmp_path / 'b.csv'}:3: {sources.TOO_LARGE}", "c"]


# The peak is the process's own VmHWM: ru_maxrss survives fork and exec, so a child
# of a 300 MB pytest reported 300 MB whatever it did (measured: 311 against VmHWM 10 MB).
PEAK_MEMORY = """
import re, sys
from indexer.sources import read_sources, Article
records = list(read_sources([sys.argv[1]]))
with open("/proc/self/status") as status:
    peak_kib = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
print(sum(isinstance(r, Article) for r in records), len(records), peak_kib // 1024)
"""


@pytest.mark.slow
def test_a_gigantic_line_and_a_large_csv_are_read_in_bounded_memory(tmp_path):
    import subprocess
    import sys
    import zlib
    line = tmp_path / "one-line.jsonl.gz"  # a 700 MB line, then one good record
    packer = zlib.compressobj(wbits=31)
    with open(line, "wb") as out:
        out.write(packer.compress(b'{"id": "big", "text": "'))
        chunk = b"x" * 2**20
        for _ in range(700):
            out.write(packer.compress(chunk))
        out.write(packer.compress(b'"}\n' + jsonl_line("ok", "Никель", "Текст.").encode()))
        out.write(packer.flush())
    table = tmp_path / "large.csv"  # 160 MB in 40,000 rows
    with open(table, "w", encoding="utf-8") as out:
        out.write("id,title,text\n")
        body = "Выпуск никеля вырос. " * 100
        for n in range(40_000):
            out.write(f"r{n},Никель,{body}\n")
    peaks = {}
    for path, expected in ((line, "1 2"), (table, "40000 40000")):
        result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, str(path)],
                                capture_output=True, text=True, check=True)
        articles, records, peak_mib = result.stdout.split()
        assert f"{articles} {records}" == expected
        peaks[path.name] = int(peak_mib)
    # The whole line would take 700 MiB and the whole CSV 160 MiB of bytes (and twice
    # that decoded); the records of the CSV are kept by list() here, about 80 MiB.
    assert peaks["one-line.jsonl.gz"] < 120 and peaks["large.csv"] < 250, peaks
