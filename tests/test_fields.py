"""The field table: every reader of a field (schema, writer, hash, Hit, Document, JSON) follows it."""

import dataclasses
import datetime
import json

import pytest
from click.testing import CliRunner

from indexer.fields import FIELDS, by_name, content_hash, document_fields, stored_document
from indexer.sources import Article
from indexer.storage import make_schema
from search import Document, Hit
from search.cli import cli
from search.query import VALUE_FIELDS

ARTICLE = Article(id="a1", headline="Никель", body="Первый абзац.\nВторой.",
                  date=datetime.date(2026, 3, 14), source="sibir", url=None,
                  tags=("никель", "медь"), origin="a.txt:1")

# field -> (value of ARTICLE as written to the index, value read back as Python)
ROUND_TRIPS = [
    ("id", "a1", "a1"),
    ("headline", "Никель", "Никель"),
    ("date", datetime.datetime(2026, 3, 14), datetime.date(2026, 3, 14)),
    ("source", "sibir", "sibir"),
    ("tags", "никель,медь", ("никель", "медь")),
]


@pytest.mark.parametrize("name, written, read", ROUND_TRIPS)
def test_a_value_goes_to_the_index_and_back(name, written, read):
    fields = document_fields(ARTICLE, "digest")
    assert fields[name] == written
    assert stored_document(fields)[name] == read


def test_an_empty_optional_field_is_not_written():
    fields = document_fields(ARTICLE, "digest")
    assert "url" not in fields and stored_document(fields)["url"] is None
    assert fields["lead"] == "Первый абзац." and fields["content_hash"] == "digest"


def test_the_schema_has_exactly_the_fields_of_the_table():
    assert sorted(make_schema().names()) == sorted(spec.name for spec in FIELDS)


def test_hit_and_document_carry_the_public_fields_in_table_order():
    public = [spec.name for spec in FIELDS if spec.public]
    assert [f.name for f in dataclasses.fields(Document)] == public
    assert [f.name for f in dataclasses.fields(Hit)] == (
        [name for name in public if by_name(name).in_hit]
        + ["score", "snippets", "headline_highlights", "similar"])


# field changed -> does the content hash change (hashed fields only)
HASH_CASES = [
    ("headline", "Медь", True),
    ("tags", ("никель",), True),
    ("date", None, True),
    ("origin", "b.txt:1", False),  # where an article was read is not its content
]


@pytest.mark.parametrize("name, value, changes", HASH_CASES)
def test_the_content_hash_covers_the_hashed_fields(name, value, changes):
    changed = dataclasses.replace(ARTICLE, **{name: value})
    assert (content_hash(changed) != content_hash(ARTICLE)) is changes
    assert by_name(name).hashed is changes


def test_filter_fields_are_query_fields():
    assert VALUE_FIELDS == {"source": "source", "источник": "source", "tag": "tags",
                            "tags": "tags", "тег": "tags", "region": "regions",
                            "regions": "regions", "регион": "regions", "district": "districts",
                            "округ": "districts", "industry": "industries",
                            "industries": "industries", "отрасль": "industries", "id": "id"}


def test_show_json_has_the_documents_public_fields(sample_index_dir):
    doc_id = "data/sibir-business/2026-02-10-tyva-litiy-sp"
    out = CliRunner().invoke(cli, ["show", doc_id, "--index", str(sample_index_dir), "--json"])
    assert out.exit_code == 0
    shown = json.loads(out.output)
    assert list(shown) == [spec.json_key for spec in FIELDS if spec.public]
    assert shown["id"] == doc_id and shown["date"] == "2026-02-10"


# headline, body -> the story sketch add_extracted makes from the words it splits for the
# extracted fields is the one StoryField makes from the body alone
SKETCH_CASES = [
    ("ЦБ повысил ключевую ставку", "Банк России повысил ключевую ставку до 21% годовых."),
    ("", "Угольщики Кузбасса нарастили добычу угля; угольщики довольны."),
    ("Заголовок без тела", ""),
    ("Улан-Удэ", "В Улан-Удэ и Норильске, 1,5 млн тонн: =металлов и никеля никеля никеля."),
]


@pytest.mark.parametrize("headline, body", SKETCH_CASES)
def test_the_story_sketch_made_with_the_extracted_fields_is_the_fields_own(headline, body):
    from indexer.extract import word_terms
    from indexer.fields import add_extracted

    analyzer = make_schema()["body"].analyzer
    document = add_extracted({"headline": headline, "body": body, "story": body},
                             word_terms(analyzer))
    assert isinstance(document["story"], bytes)
    assert document["story"] == make_schema()["story"].to_column_value(body)
