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


def test_highlights_of_decomposed_letters_are_in_the_articles_own_characters(unicode_forms_index):
    (hit,) = unicode_forms_index.search("ёмкость Йошкар-Ола title:закупит", limit=1,
                                        group=False).hits
    words = [hit.headline[span.start:span.end] for span in hit.headline_highlights]
    assert hit.id == "nfd" and words == ["И\u0306ошкар-Ола", "закупит", "е\u0308мкости"]
